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
	eventually.True(t, api.AuthorizerCacheTTL+10*time.Second, "refused after being disabled", func() bool {
		status, _, _ := alice.do("GET", "/session", nil)
		return status == 403
	})
	if d := time.Since(cachedAt); d > api.AuthorizerCacheTTL+5*time.Second {
		t.Fatalf("a disabled user kept access for %v, over the %v cache", d, api.AuthorizerCacheTTL)
	}
	t.Logf("disabled user refused %.1fs after the verdict was cached (TTL %v)", time.Since(cachedAt).Seconds(), api.AuthorizerCacheTTL)
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
