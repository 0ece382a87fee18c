package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestReadInputs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, format, in string
		want             []string
		err              string
	}{
		{
			name: "CSV: node.variable nests, flat names stay flat, empty cells are left out", format: "csv",
			in:   "\ufeffBFB.GasIn_P, BFB.Lb ,flag,note\n1.5,2e3,true,left\n, -3,,\"a, b\"\n",
			want: []string{`{"BFB":{"GasIn_P":1.5,"Lb":2000},"flag":true,"note":"left"}`, `{"BFB":{"Lb":-3},"note":"a, b"}`},
		},
		{name: "CSV: hex is text", format: "csv", in: "x.a\n0x10\n", want: []string{`{"x":{"a":"0x10"}}`}},
		{name: "CSV: no rows", format: "csv", in: "x.a\n", err: "no rows under the header"},
		{name: "CSV: duplicate column", format: "csv", in: "x.a,x.a\n1,2\n", err: `column "x.a" appears twice`},
		{name: "CSV: a name is a node and a variable", format: "csv", in: "x,x.a\n1,2\n", err: `"x" is both a variable and a node`},
		{name: "CSV: ragged row", format: "csv", in: "x.a,x.b\n1\n", err: "wrong number of fields"},
		{name: "JSON: array of objects", format: "json", in: `[{"x":{"a":1}}, {"x":{"a":2},"control":{"delay":1}}]`, want: []string{`{"x":{"a":1}}`, `{"x":{"a":2},"control":{"delay":1}}`}},
		{name: "JSON: not an array", format: "json", in: `{"x":1}`, err: "want an array of input objects"},
		{name: "JSON: element not an object", format: "json", in: `[{"x":1}, 3]`, err: "element 1 is not an object"},
		{name: "unknown format", format: "xlsx", in: "", err: `input format "xlsx": want csv or json`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readInputs(strings.NewReader(tc.in), tc.format)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("got %d inputs, %v; want %d", len(got), err, len(tc.want))
			}
			for i := range got {
				var a, b bytes.Buffer
				_ = json.Compact(&a, got[i])
				_ = json.Compact(&b, []byte(tc.want[i]))
				if !jsonEqual(t, a.Bytes(), b.Bytes()) {
					t.Fatalf("input %d: %s, want %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		t.Fatalf("not JSON: %s / %s", a, b)
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return bytes.Equal(ja, jb)
}

func TestFlatten(t *testing.T) {
	t.Parallel()
	out := map[string]string{}
	flatten("Output", json.RawMessage(`{"output":{"x":{"sum":1e-7,"count":2}},"graphError":0,"list":[true,null,"s"],"empty":{}}`), out)
	want := map[string]string{
		"Output.output.x.sum": "1e-7", "Output.output.x.count": "2", "Output.graphError": "0",
		"Output.list.0": "true", "Output.list.1": "", "Output.list.2": "s",
	}
	if len(out) != len(want) {
		t.Fatalf("got %v, want %v", out, want)
	}
	for k, v := range want {
		if out[k] != v {
			t.Fatalf("%s = %q, want %q (all: %v)", k, out[k], v, out)
		}
	}
}

func TestChunks(t *testing.T) {
	t.Parallel()
	in := make([]json.RawMessage, 7)
	for i := range in {
		in[i] = json.RawMessage(strings.Repeat("x", 72)) // 200 bytes with the envelope
	}
	sizes := func(cs [][]json.RawMessage) []int {
		var n []int
		for _, c := range cs {
			n = append(n, len(c))
		}
		return n
	}
	for _, tc := range []struct {
		n, bytes int
		want     []int
	}{
		{3, 1 << 20, []int{3, 3, 1}},
		{10, 1 << 20, []int{7}},
		{10, 450, []int{2, 2, 2, 1}}, // bytes bind first
		{10, 100, []int{1, 1, 1, 1, 1, 1, 1}},
	} {
		if got := sizes(chunks(in, tc.n, tc.bytes)); !equalInts(got, tc.want) {
			t.Errorf("chunks(7, %d, %d) = %v, want %v", tc.n, tc.bytes, got, tc.want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Wrong command lines exit 2 and say why, before any request.
func TestUsage(t *testing.T) {
	t.Parallel()
	env := map[string]string{}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"session", "watch"}, "accepts 1 arg(s), received 0"},
		{[]string{"session", "submit", "sim", "in.csv", "--chunk", "x"}, `invalid argument "x" for "--chunk"`},
		{[]string{"session", "frobnicate", "x"}, `unknown command "frobnicate" for "foqus-cloud session"`},
		{[]string{"session"}, "foqus-cloud session needs a command"},
		{[]string{"simulation", "list"}, "no API URL: give --url, FOQUS_CLOUD_URL, or a turbine.cfg (--config)"},
		{[]string{"--url", "http://127.0.0.1:1/dev", "simulation", "list"}, "no user: give --user"},
	} {
		var out, errOut bytes.Buffer
		code := run(t.Context(), tc.args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
		if code != ExitUsage || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d saying %q", tc.args, code, errOut.String(), ExitUsage, tc.want)
		}
	}
}

// A configuration is classified as the API would, before anything is sent.
func TestUploadRefusesUnknownConfiguration(t *testing.T) {
	t.Parallel()
	cfg := t.TempDir() + "/flowsheet.json"
	if err := os.WriteFile(cfg, []byte(`{"hello":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"--url", "http://127.0.0.1:1/dev", "--user", "u", "simulation", "upload", "s", cfg}, func(string) string { return "" }, strings.NewReader(""), &out, &errOut)
	want := cfg + ": configuration is neither a SimSinter configuration (0.1, 0.2, 0.3) nor a FOQUS session"
	if code != ExitError || !strings.Contains(errOut.String(), want) {
		t.Fatalf("exit %d, %q; want %d saying %q", code, errOut.String(), ExitError, want)
	}
}
