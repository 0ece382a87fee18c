package registry_test

import (
	"testing"

	"github.com/foqus-cloud/stack/core/lambdaevent"
	"github.com/foqus-cloud/stack/functions/httpx"
	"github.com/foqus-cloud/stack/functions/sessions"
	"github.com/foqus-cloud/stack/functions/simulations"
)

// Every handler's own size limit fits one 6 MB Lambda event after base64
// (BinaryMediaTypes */* encodes every request body) plus the event's other
// fields; a limit above that would let API Gateway answer 413/502 first.
func TestHandlerLimitsFitALambdaEvent(t *testing.T) {
	t.Parallel()
	for _, l := range []struct {
		name  string
		bytes int
		text  bool // answered as text, not base64
	}{
		{"simulations.MaxInputBody (PUT of a file)", simulations.MaxInputBody, false},
		{"simulations.MaxInlineFile (GET of a file)", simulations.MaxInlineFile, false},
		{"sessions.MaxAppendBody (POST of jobs)", sessions.MaxAppendBody, false},
		{"httpx.MaxResponseBody (a JSON answer)", httpx.MaxResponseBody, true},
	} {
		size := lambdaevent.Encoded(l.bytes)
		if l.text {
			size = l.bytes
		}
		if size+lambdaevent.Overhead > lambdaevent.MaxEvent {
			t.Errorf("%s = %d bytes: %d in the event + %d of other fields exceed Lambda's %d", l.name, l.bytes, size, lambdaevent.Overhead, lambdaevent.MaxEvent)
		}
	}
}
