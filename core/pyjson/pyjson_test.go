package pyjson

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestStandard(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{`{"B":{"r":Infinity}}`, `{"B":{"r":"Infinity"}}`},
		{`[NaN, -Infinity,Infinity]`, `["NaN", "-Infinity","Infinity"]`},
		{`{"s":"NaN Infinity \"NaN\"","v":NaN}`, `{"s":"NaN Infinity \"NaN\"","v":"NaN"}`},
		{"{\"min\":-Infinity,\n\"max\":1e308}", "{\"min\":\"-Infinity\",\n\"max\":1e308}"},
	}
	for _, c := range cases {
		got, changed, err := Standard([]byte(c.in))
		if err != nil || !changed || string(got) != c.want || !json.Valid(got) {
			t.Errorf("Standard(%s) = %s, %v, %v; want %s", c.in, got, changed, err, c.want)
		}
	}
	std := `{"a":[1,2.5e-300,"Infinity"]}`
	if got, changed, err := Standard([]byte(std)); err != nil || changed || string(got) != std {
		t.Errorf("standard JSON changed: %s, %v, %v", got, changed, err)
	}
	for _, bad := range []string{`{"a":NaNx}`, `{"a":nan}`, `{"a":Infinity`, `NaN NaN`, `{"a":1e}`, ``, `{'a':1}`} {
		if _, _, err := Standard([]byte(bad)); !errors.Is(err, ErrSyntax) {
			t.Errorf("Standard(%q) = %v, want ErrSyntax", bad, err)
		}
		if Valid([]byte(bad)) {
			t.Errorf("Valid(%q)", bad)
		}
	}
}

// The converted form decodes as strings that name the value Python wrote.
func TestStandardDecodes(t *testing.T) {
	t.Parallel()
	got, _, err := Standard([]byte(`{"output":{"B":{"r":Infinity,"q":-Infinity,"n":NaN,"x":4.0}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		Output map[string]map[string]any `json:"output"`
	}
	if err := json.Unmarshal(got, &o); err != nil {
		t.Fatal(err)
	}
	b := o.Output["B"]
	if b["r"] != "Infinity" || b["q"] != "-Infinity" || b["n"] != "NaN" || b["x"] != 4.0 {
		t.Fatalf("decoded %v", b)
	}
}

func FuzzStandard(f *testing.F) {
	for _, s := range []string{`{"a":NaN}`, `[Infinity,-Infinity]`, `"NaN"`, `{"a":"\"",b:1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, _, err := Standard(raw)
		if err == nil && !json.Valid(out) {
			t.Fatalf("Standard(%q) = %q, not JSON", raw, out)
		}
		if json.Valid(raw) && (err != nil || string(out) != string(raw)) {
			t.Fatalf("standard JSON %q changed to %q, %v", raw, out, err)
		}
	})
}
