package devstack_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/eventually"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/user"
	"github.com/foqus-cloud/stack/local/devstack"
)

// A user disabled while their verdict is cached keeps access for at most the
// authorizer cache's TTL, then is refused (403), as API Gateway does.
func TestDisabledUserRefusedWithinTheCacheTTL(t *testing.T) {
	t.Parallel()
	st := startStackWith(t, func(o *devstack.Options) { o.Workers = 0 })
	alice := &client{t: t, base: st.BaseURL, user: st.User, pass: st.Password}
	alice.json("GET", "/session", nil, 200, nil) // the verdict is cached from now
	cachedAt := time.Now()
	users := user.NewStore(dynamodb.NewFromConfig(st.Config), st.Env[resource.EnvUsersTable])
	if err := users.SetDisabled(context.Background(), st.User, true); err != nil {
		t.Fatal(err)
	}
	// The verdict was cached before cachedAt, so it has expired for every
	// request sent after cachedAt+TTL: each of those must be refused, however
	// long the authorizer's bcrypt takes to answer on a loaded machine.
	expired := cachedAt.Add(api.AuthorizerCacheTTL + time.Second)
	eventually.True(t, api.AuthorizerCacheTTL+time.Minute, "refused after being disabled", func() bool {
		sent := time.Now()
		status, _, _ := alice.do("GET", "/session", nil)
		if status != 403 && sent.After(expired) {
			t.Fatalf("a request sent %v after the verdict was cached got %d, over the %v cache", sent.Sub(cachedAt), status, api.AuthorizerCacheTTL)
		}
		return status == 403
	})
	t.Logf("disabled user refused %.1fs after the verdict was cached (TTL %v)", time.Since(cachedAt).Seconds(), api.AuthorizerCacheTTL)
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
