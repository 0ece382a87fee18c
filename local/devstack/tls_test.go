package devstack_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foqus-cloud/stack/local/devstack"
)

// make dev's turbine.cfg is one FOQUS keeps its credentials for (https),
// and a client that trusts only the generated CA completes a request with it.
func TestTLSTurbineConfig(t *testing.T) {
	root, _ := filepath.Abs("../..")
	cdkOut := filepath.Join(root, "cdk.out")
	if _, err := os.Stat(filepath.Join(cdkOut, "manifest.json")); err != nil {
		if os.Getenv("FOQUS_E2E") != "" {
			t.Fatal("cdk.out is missing: run make synth")
		}
		t.Skip("cdk.out is missing: run make synth (or make test)")
	}
	dir := t.TempDir()
	st, err := devstack.Start(context.Background(), devstack.Options{
		Stage: "dev", CDKOut: cdkOut, Addr: "127.0.0.1:0", User: "alice", Password: "alice-password-1",
		TLSDir: dir, Log: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)

	cfg := parseINI(st.TurbineConfig())
	if cfg["Authentication"]["username"] != "alice" || cfg["Authentication"]["password"] != "alice-password-1" {
		t.Fatalf("credentials: %v", cfg["Authentication"])
	}
	for _, sec := range []string{"Consumer", "Job", "Simulation", "Session", "Application"} {
		u := cfg[sec]["url"]
		if !strings.HasPrefix(u, "https://") || !strings.HasSuffix(u, "/"+strings.ToLower(sec)+"/") {
			t.Errorf("[%s] url = %q, want https://.../%s/", sec, u, strings.ToLower(sec))
		}
	}
	if st.CAFile != filepath.Join(dir, "ca.pem") {
		t.Fatalf("CA file %s", st.CAFile)
	}
	pemBytes, err := os.ReadFile(st.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in the CA file")
	}
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	appURL := cfg["Application"]["url"]
	for _, host := range []string{"127.0.0.1", "localhost"} {
		u, _ := url.Parse(appURL)
		u.Host = host + ":" + u.Port()
		req, _ := http.NewRequest("GET", u.String(), nil)
		req.SetBasicAuth(cfg["Authentication"]["username"], cfg["Authentication"]["password"])
		resp, err := trusting.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		var apps []struct{ Name string }
		err = json.NewDecoder(resp.Body).Decode(&apps)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || len(apps) == 0 {
			t.Fatalf("GET %s: %d %v %v", u, resp.StatusCode, apps, err)
		}
	}
	if _, err := http.Get(appURL); err == nil {
		t.Fatal("a client without the local CA completed a TLS request")
	}
}

// parseINI reads the sections and keys of a turbine.cfg as Python's
// configparser does for these files.
func parseINI(s string) map[string]map[string]string {
	out, sec := map[string]map[string]string{}, ""
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			sec = line[1 : len(line)-1]
			out[sec] = map[string]string{}
		case strings.Contains(line, "="):
			k, v, _ := strings.Cut(line, "=")
			out[sec][strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}
