package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/foqus-cloud/stack/cmd/foqus-cloud/internal/apiclient"
	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/eventually"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/functions/jobview"
	"github.com/foqus-cloud/stack/functions/openapi"
	"github.com/foqus-cloud/stack/local/devstack"
	"github.com/foqus-cloud/stack/local/devstack/devstacktest"
)

// The end-to-end tests run the CLI (in process, output captured: not a
// terminal) against the whole local stack with the fake-job runner. They
// need the synthesized app and the built worker (make test does both;
// FOQUS_E2E=1 makes their absence a failure).

func startStack(t testing.TB, workers int) *devstack.Stack {
	t.Helper()
	return devstacktest.Start(t, func(o *devstack.Options) { o.Workers, o.User, o.Password = workers, "carol", "carol-password-1" })
}

// foqusCloud runs one command line as the binary would, with turbine.cfg
// given by --config and no other environment.
type foqusCloud struct {
	t      testing.TB
	config string
}

type outcome struct {
	code           int
	stdout, stderr string
}

func (f foqusCloud) run(args ...string) outcome {
	f.t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"--config", f.config}, args...), func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	return outcome{code, out.String(), errOut.String()}
}

// ok runs args and fails the test unless the exit code is want.
func (f foqusCloud) ok(want int, args ...string) outcome {
	f.t.Helper()
	o := f.run(args...)
	if o.code != want {
		f.t.Fatalf("foqus-cloud %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), o.code, want, o.stdout, o.stderr)
	}
	return o
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func hasRoute(method, path string) bool {
	return slices.ContainsFunc(api.Routes, func(r api.Route) bool { return r.Method == method && r.Path == path })
}

func TestCLIEndToEnd(t *testing.T) {
	st := startStack(t, 2)
	dir := t.TempDir()
	cli := foqusCloud{t: t, config: writeFile(t, dir, "turbine.cfg", st.TurbineConfig())}
	const sim = "zzcli_fake"
	reader, err := apiclient.New(st.BaseURL, st.User, st.Password, st.CAFile) // what the test reads beside the CLI
	if err != nil {
		t.Fatal(err)
	}

	t.Run("upload a simulation: small files through the API, large ones by signed URL", func(t *testing.T) {
		cli.t = t
		small := writeFile(t, dir, "model.bin", "tiny")
		large := writeFile(t, dir, "extra_data.txt", strings.Repeat("x", 4096))
		o := cli.ok(0, "simulation", "upload", sim, "--application", "fake-job", "--signed-url=false", "--inline-max", "1024", small, large)
		if !strings.Contains(o.stderr, "model.bin (4 bytes) uploaded through the API") || !strings.Contains(o.stderr, "extra_data.txt (4096 bytes) uploaded by signed URL") {
			t.Fatalf("upload said: %s", o.stderr)
		}
		var got struct {
			Name, Application string
			StagedInputs      []struct{ Name string }
		}
		if err := json.Unmarshal([]byte(cli.ok(0, "simulation", "get", sim, "--json").stdout), &got); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, in := range got.StagedInputs {
			names = append(names, filepath.Base(in.Name))
		}
		if got.Application != "fake-job" || !slices.Contains(names, "model.bin") || !slices.Contains(names, "extra_data.txt") {
			t.Fatalf("simulation get: %+v", got)
		}

		// A SimSinter configuration names its application: ACM for an .acmf model.
		sinter := writeFile(t, dir, "bfb_sinter.json", `{"filetype":"sinterconfig","version":0.1,"title":"BFB","aspenfile":"BFB.acmf","settings":{},"inputs":{},"outputs":{}}`)
		model := writeFile(t, dir, "BFB.acmf", "acm model")
		cli.ok(0, "simulation", "upload", "zzcli_acm", sinter, model)
		table := cli.ok(0, "simulation", "list").stdout
		if !regexp.MustCompile(`(?m)^zzcli_acm +ACM$`).MatchString(table) || !regexp.MustCompile(`(?m)^`+sim+` +fake-job$`).MatchString(table) {
			t.Fatalf("simulation list:\n%s", table)
		}
	})

	t.Run("100 jobs from a CSV: submit, watch, export as CSV and JSON", func(t *testing.T) {
		cli.t = t
		var in strings.Builder
		in.WriteString("x.a,x.b\n")
		for i := range 100 {
			fmt.Fprintf(&in, "%d,%g\n", i, float64(i)/4+0.5)
		}
		sid := strings.TrimSpace(cli.ok(0, "session", "submit", sim, writeFile(t, dir, "inputs.csv", in.String()), "--chunk", "30").stdout)
		if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(sid) {
			t.Fatalf("submit printed %q, want the session id alone", sid)
		}
		w := cli.ok(0, "session", "watch", sid, "--interval", "200ms", "--timeout", "3m")
		lines := strings.Split(strings.TrimSpace(w.stdout), "\n")
		progress := regexp.MustCompile(`^\d\d:\d\d:\d\d session ` + sid + `: \d+/100 finished: [a-z]+ \d+`)
		for _, l := range lines[:len(lines)-1] {
			if !progress.MatchString(l) {
				t.Fatalf("watch line %q is not a plain progress line", l)
			}
		}
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, "session "+sid+": 100 jobs finished in ") || !strings.HasSuffix(last, ": success 100") {
			t.Fatalf("watch ended with %q", last)
		}
		if strings.ContainsAny(w.stdout, "\r\x1b") {
			t.Fatalf("watch wrote terminal control characters to a non-terminal: %q", w.stdout)
		}

		check := func(i int, a, b, sum, product, count string) {
			t.Helper()
			wa, wb := float64(i), float64(i)/4+0.5
			num := func(s string) float64 {
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					t.Fatalf("job %d: %q is not a number", i, s)
				}
				return f
			}
			if num(a) != wa || num(b) != wb || num(sum) != wa+wb || num(product) != wa*wb || count != "2" {
				t.Fatalf("job %d: inputs %s %s, outputs sum %s product %s count %s; want sum %g product %g", i, a, b, sum, product, count, wa+wb, wa*wb)
			}
		}
		csvPath := filepath.Join(dir, "results.csv")
		cli.ok(0, "session", "results", sid, "-o", csvPath)
		f, err := os.Open(csvPath)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		_ = f.Close()
		if err != nil || len(recs) != 101 {
			t.Fatalf("results CSV: %d rows, %v", len(recs), err)
		}
		col := map[string]int{}
		for i, h := range recs[0] {
			col[h] = i
		}
		for _, h := range []string{"Id", "State", "Input.x.a", "Input.x.b", "Output.output.x.sum", "Output.output.x.product", "Output.output.x.count", "Output.graphError"} {
			if _, ok := col[h]; !ok {
				t.Fatalf("results CSV has no column %s: %v", h, recs[0])
			}
		}
		for i, r := range recs[1:] {
			if r[col["State"]] != "success" || r[col["Output.graphError"]] != "0" {
				t.Fatalf("job %d: %v", i, r)
			}
			check(i, r[col["Input.x.a"]], r[col["Input.x.b"]], r[col["Output.output.x.sum"]], r[col["Output.output.x.product"]], r[col["Output.output.x.count"]])
		}

		js := cli.ok(0, "session", "results", sid, "--format", "json")
		var rows []struct {
			ID     string `json:"Id"`
			State  string
			Input  map[string]map[string]json.Number
			Output struct {
				Output map[string]map[string]json.Number `json:"output"`
			}
		}
		if err := json.Unmarshal([]byte(js.stdout), &rows); err != nil || len(rows) != 100 {
			t.Fatalf("results JSON: %d rows, %v", len(rows), err)
		}
		for i, r := range rows {
			if r.ID != recs[i+1][col["Id"]] || r.State != "success" {
				t.Fatalf("JSON row %d: %+v, CSV row %v", i, r, recs[i+1])
			}
			x := r.Output.Output["x"]
			check(i, r.Input["x"]["a"].String(), r.Input["x"]["b"].String(), x["sum"].String(), x["product"].String(), x["count"].String())
		}
	})

	t.Run("session kill mid-run: watch shows terminate and exits 3", func(t *testing.T) {
		cli.t = t
		var in []string
		for i := range 20 {
			in = append(in, fmt.Sprintf(`{"x":{"a":%d},"control":{"delay":1}}`, i))
		}
		sid := strings.TrimSpace(cli.ok(0, "session", "submit", sim, writeFile(t, dir, "slow.json", "["+strings.Join(in, ",")+"]")).stdout)
		eventually.True(t, time.Minute, "a job of the session running", func() bool {
			jobs, err := reader.Jobs(context.Background(), sid)
			return err == nil && slices.ContainsFunc(jobs, func(j jobview.Metadata) bool { return j.State == job.Running })
		})
		if o := cli.ok(0, "session", "kill", sid); strings.TrimSpace(o.stdout) != sid {
			t.Fatalf("kill printed %q", o.stdout)
		}
		w := cli.ok(ExitJobsFailed, "session", "watch", sid, "--interval", "200ms", "--timeout", "1m")
		if !strings.Contains(w.stdout, "terminate ") || !strings.Contains(w.stderr, "jobs did not succeed") {
			t.Fatalf("watch after kill:\n%s\n%s", w.stdout, w.stderr)
		}
		cli.ok(0, "session", "watch", sid, "--allow-failures")
	})

	t.Run("a failing job: watch and results exit 3, --allow-failures 0", func(t *testing.T) {
		cli.t = t
		in := `[{"x":{"a":1}},{"x":{"a":2},"control":{"fail":"the column flooded"}},{"x":{"a":3}}]`
		sid := strings.TrimSpace(cli.ok(0, "session", "submit", sim, writeFile(t, dir, "fail.json", in)).stdout)
		w := cli.ok(ExitJobsFailed, "session", "watch", sid, "--interval", "200ms", "--timeout", "1m")
		if !strings.Contains(w.stderr, "1 of 3 jobs did not succeed (success 2, error 1)") {
			t.Fatalf("watch: %s", w.stderr)
		}
		r := cli.ok(ExitJobsFailed, "session", "results", sid, "--format", "csv")
		rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
		if err != nil || len(rows) != 4 || rows[2][1] != "error" || !strings.Contains(rows[2][2], "the column flooded") || rows[1][1] != "success" {
			t.Fatalf("results of a failed job: %v %v", rows, err)
		}
		cli.ok(0, "session", "results", sid, "--allow-failures", "-o", filepath.Join(dir, "fail.json.out"), "--format", "json")
	})

	t.Run("errors in the request's own terms", func(t *testing.T) {
		cli.t = t
		o := cli.ok(ExitError, "session", "watch", "6c9f3f5e-0000-4000-8000-000000000000")
		if !strings.Contains(o.stderr, "GET /session/6c9f3f5e-0000-4000-8000-000000000000: 404") {
			t.Fatalf("unknown session: %s", o.stderr)
		}
		o = cli.ok(ExitError, "session", "submit", "zzcli_missing", writeFile(t, dir, "one.json", `[{"x":{"a":1}}]`))
		if !strings.Contains(o.stderr, "GET /simulation/zzcli_missing: 404 no simulation zzcli_missing") {
			t.Fatalf("unknown simulation: %s", o.stderr)
		}
		cli.ok(ExitUsage, "session", "watch")
		cli.ok(ExitUsage, "session", "results", "x", "--format", "xml")
	})

	t.Run("the stack serves its OpenAPI document", func(t *testing.T) {
		req, _ := http.NewRequest("GET", st.BaseURL+openapi.Path, nil)
		req.SetBasicAuth(st.User, st.Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(b, openapi.JSON) {
			t.Fatalf("GET %s: %d, %d bytes (want the %d of functions/openapi)", openapi.Path, resp.StatusCode, len(b), len(openapi.JSON))
		}
	})

	t.Run("delete a session and a simulation", func(t *testing.T) {
		cli.t = t
		if !hasRoute("DELETE", "/session/{id}") || !hasRoute("DELETE", "/simulation/{name}") {
			t.Skip("DELETE /session/{id} and DELETE /simulation/{name} are not routes of core/api yet")
		}
		sid := strings.TrimSpace(cli.ok(0, "session", "submit", sim, writeFile(t, dir, "del.json", `[{"x":{"a":1}}]`)).stdout)
		cli.ok(0, "session", "watch", sid, "--interval", "200ms", "--timeout", "1m")
		cli.ok(0, "session", "delete", sid)
		if ids := cli.ok(0, "session", "list").stdout; strings.Contains(ids, sid) {
			t.Fatalf("session %s still listed after delete", sid)
		}
		cli.ok(ExitError, "session", "results", sid)
		cli.ok(0, "simulation", "delete", "zzcli_acm")
		cli.ok(ExitError, "simulation", "get", "zzcli_acm")
	})
}
