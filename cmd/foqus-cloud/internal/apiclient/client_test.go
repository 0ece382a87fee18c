package apiclient

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The local stack serves https with a CA of its own: the client trusts it
// only when given the bundle, and speaks plain http as well.
func TestCABundle(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`["6c9f3f5e-0000-4000-8000-000000000000"]`))
	}))
	defer srv.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	untrusting, err := New(srv.URL+"/dev", "alice", "pw", "")
	if err != nil {
		t.Fatal(err)
	}
	untrusting.Retries = 0
	if _, err := untrusting.Sessions(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: %v, want a certificate error", err)
	}

	trusting, err := New(srv.URL+"/dev", "alice", "pw", bundle)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := trusting.Sessions(ctx)
	if err != nil || len(ids) != 1 {
		t.Fatalf("with the CA: %v %v", ids, err)
	}

	if _, err := New(srv.URL, "a", "b", filepath.Join(t.TempDir(), "none.pem")); err == nil || !strings.Contains(err.Error(), "CA bundle") {
		t.Fatalf("missing bundle: %v", err)
	}
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	_ = os.WriteFile(notPEM, []byte("hello"), 0o600)
	if _, err := New(srv.URL, "a", "b", notPEM); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Fatalf("bundle without certificates: %v", err)
	}
	if _, err := New("ftp://host/dev", "a", "b", ""); err == nil {
		t.Fatal("ftp URL accepted")
	}
}

// A throttled call is tried again; an append that reached a failing
// handler is not (its jobs may be stored), and the error says what the API said.
func TestRetries(t *testing.T) {
	t.Parallel()
	var starts, appends atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/start"):
			if starts.Add(1) < 3 {
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"message":"Too Many Requests"}`))
				return
			}
			_, _ = w.Write([]byte(`["j1"]`))
		default:
			appends.Add(1)
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"Message":"internal error"}`))
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL+"/dev", "alice", "pw", "")
	if err != nil {
		t.Fatal(err)
	}
	c.Backoff = time.Millisecond
	ctx := context.Background()
	if ids, err := c.Start(ctx, "s1"); err != nil || len(ids) != 1 || starts.Load() != 3 {
		t.Fatalf("start after two 429s: %v %v, %d calls", ids, err, starts.Load())
	}
	_, err = c.Append(ctx, "s1", []Job{{Simulation: "sim", Input: []byte(`{}`)}})
	if err == nil || err.Error() != "POST /session/s1: 500 internal error" || appends.Load() != 1 {
		t.Fatalf("append on 500: %v after %d calls, want one call and the API's message", err, appends.Load())
	}
}
