// Package lambdaevent holds what fits in one synchronous Lambda invocation
// behind the REST API: 6 MB of request and of response for the whole event
// JSON, where a binary body travels base64-encoded (4/3 of its size) next to
// the event's headers, path and request context. A handler's own body limit
// must sit below that, or API Gateway answers 413/502 before the handler can
// say why; larger files go by signed URL.
package lambdaevent

import "encoding/base64"

const (
	// MaxEvent is Lambda's synchronous request and response payload limit.
	MaxEvent = 6 << 20
	// Overhead is what an API Gateway proxy event or response carries beside
	// the body (headers up to 10 KB, multi-value copies, path, request context).
	Overhead = 64 << 10
	// MaxBody is the largest body that fits an event after base64.
	MaxBody = (MaxEvent - Overhead) / 4 * 3
)

// BinaryMediaTypes are the REST API's binary media types: every type, since
// FOQUS uploads files with empty or arbitrary content types. API Gateway then
// hands every request body base64-encoded (httpx.Body decodes it) and turns a
// base64 response (httpx.Binary) back into bytes.
var BinaryMediaTypes = []string{"*/*"}

// Encoded is the size of a body of n bytes inside the event (base64).
func Encoded(n int) int { return base64.StdEncoding.EncodedLen(n) }

// Fits reports whether a body of n bytes, base64-encoded, fits one event
// together with the event's other fields.
func Fits(n int) bool { return Encoded(n)+Overhead <= MaxEvent }
