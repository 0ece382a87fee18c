package devtls

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEnsureMakesOnceAndClientsTrustOnlyTheCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Now()
	a, err := Ensure(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"127.0.0.1", "localhost", "::1"} {
		if err := a.Server.Leaf.VerifyHostname(h); err != nil {
			t.Errorf("server certificate does not cover %s: %v", h, err)
		}
	}
	if _, err := a.Server.Leaf.Verify(x509.VerifyOptions{Roots: a.Pool(), DNSName: "localhost"}); err != nil {
		t.Fatalf("server certificate not signed by the CA: %v", err)
	}
	for _, f := range []string{caKeyFile, serverKeyFile} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, fi.Mode(), err)
		}
	}

	// A second start reuses both (the CA a user trusted stays trusted).
	b, err := Ensure(dir, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !b.CA.Equal(a.CA) || !b.Server.Leaf.Equal(a.Server.Leaf) {
		t.Fatal("a warm start made new certificates")
	}
	// Near its expiry the server certificate is re-issued by the same CA.
	c, err := Ensure(dir, now.Add(ServerValidity-Renew+time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !c.CA.Equal(a.CA) || c.Server.Leaf.Equal(a.Server.Leaf) {
		t.Fatal("an expiring server certificate was not re-issued under the same CA")
	}

	// A TLS client trusting only ca.pem completes a request over 127.0.0.1.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	srv.TLS = a.TLSConfig()
	srv.StartTLS()
	defer srv.Close()
	pemBytes, err := os.ReadFile(a.CAPath())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("ca.pem holds no certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("body %q", body)
	}
	// A client with the system roots only refuses it.
	if _, err := (&http.Client{Transport: &http.Transport{}}).Get(srv.URL); err == nil {
		t.Fatal("a client that does not trust the local CA completed a request")
	}
}

func TestEnsureReplacesGarbage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{CAFile, caKeyFile, CertFile, serverKeyFile} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("not pem"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, err := Ensure(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Server.Leaf.Verify(x509.VerifyOptions{Roots: a.Pool(), DNSName: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
}
