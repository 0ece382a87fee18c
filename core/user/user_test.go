package user_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/crypto/bcrypt"

	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/user"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

func newStore(t testing.TB) (*user.Store, *dynamodb.Client, string) {
	st := srv.Stack(t)
	db := dynamodb.NewFromConfig(st.Config)
	s := user.NewStore(db, st.UsersTable)
	s.Cost = bcrypt.MinCost // the hash is the same algorithm; tests need not pay for cost 11
	return s, db, st.UsersTable
}

const password = "correct horse battery"

func TestPasswordIsStoredOnlyAsAHash(t *testing.T) {
	t.Parallel()
	s, db, table := newStore(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "alice", password, user.Premium); err != nil {
		t.Fatal(err)
	}
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("scan: %v, %d items", err, len(out.Items))
	}
	for name, v := range out.Items[0] {
		if strings.Contains(strings.ToLower(name), "password") && name != "PasswordHash" {
			t.Errorf("attribute %s stored", name)
		}
		if sv, ok := v.(interface{ String() string }); ok && strings.Contains(sv.String(), password) {
			t.Errorf("attribute %s holds the plaintext", name)
		}
	}
	u, err := s.Authenticate(ctx, "alice", password)
	if err != nil || u.Tier != user.Premium || !strings.HasPrefix(u.PasswordHash, "$2a$") || strings.Contains(u.PasswordHash, password) {
		t.Fatalf("authenticate: %+v, %v", u, err)
	}
}

func TestAuthenticateRefusals(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "alice", password, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice", password+"x"); !errors.Is(err, user.ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := s.Authenticate(ctx, "mallory", password); !errors.Is(err, user.ErrUnknownUser) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := s.Authenticate(ctx, "../alice", password); !errors.Is(err, user.ErrUnknownUser) {
		t.Fatalf("invalid name: %v", err)
	}
	if err := s.SetDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice", password); !errors.Is(err, user.ErrDisabled) {
		t.Fatalf("disabled user: %v", err)
	}
	if _, err := s.Create(ctx, "alice", password, ""); !errors.Is(err, user.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := s.Create(ctx, "bob", "short", ""); !errors.Is(err, user.ErrWeakPassword) {
		t.Fatalf("weak password: %v", err)
	}
	if err := s.Delete(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "alice"); !errors.Is(err, user.ErrUnknownUser) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestListPaginates(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	ctx := context.Background()
	for _, n := range []string{"a1", "b2", "c3"} {
		if _, err := s.Create(ctx, n, password, ""); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for u, err := range s.List(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		seen[u.Name] = true
	}
	if len(seen) != 3 {
		t.Fatalf("listed %v", seen)
	}
}

// lostAnswer is a proxy to moto that forwards the first PutItem and then
// drops the connection instead of answering, as a network can after
// DynamoDB wrote: the SDK sends the request again.
type lostAnswer struct {
	to   *httputil.ReverseProxy
	lost atomic.Bool
}

func (p *lostAnswer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "DynamoDB_20120810.PutItem" || p.lost.Swap(true) {
		p.to.ServeHTTP(w, r)
		return
	}
	p.to.ServeHTTP(httptest.NewRecorder(), r) // written, answer dropped
	panic(http.ErrAbortHandler)
}

// A create whose answer was lost, retried by the SDK, finds its own item:
// that is the user created, not "user exists". Another call's item still is.
func TestCreateRetriedAfterItsAnswerWasLost(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	target, err := url.Parse(srv.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	proxy := &lostAnswer{to: httputil.NewSingleHostReverseProxy(target)}
	proxy.to.ErrorLog = log.New(io.Discard, "", 0)
	hs := httptest.NewServer(proxy)
	defer hs.Close()
	s := user.NewStore(dynamodb.NewFromConfig(st.Config, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(hs.URL) }), st.UsersTable)
	s.Cost = bcrypt.MinCost
	ctx := context.Background()
	u, err := s.Create(ctx, "alice", password, user.Free)
	if err != nil {
		t.Fatalf("create, its answer lost once: %v", err)
	}
	if !proxy.lost.Load() {
		t.Fatal("no answer was lost: the test proved nothing")
	}
	if got, err := s.Authenticate(ctx, "alice", password); err != nil || got.PasswordHash != u.PasswordHash {
		t.Fatalf("authenticate: %+v, %v", got, err)
	}
	if _, err := s.Create(ctx, "alice", password, user.Free); !errors.Is(err, user.ErrExists) {
		t.Fatalf("a second create: %v, want ErrExists", err)
	}
}
