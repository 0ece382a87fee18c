package simulations

import (
	"errors"
	"net/http"
	"testing"

	"github.com/foqus-cloud/stack/functions/httpx"
)

func status(err error) int {
	var he *httpx.Error
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

func TestClassify(t *testing.T) {
	for _, c := range []struct{ body, marker string }{
		{`{"Type":"FOQUS_Session","flowsheet":{}}`, MarkerFOQUS},
		{`{"filetype":"FOQUS_Session"}`, MarkerFOQUS},
		{`{"filetype":"sinterconfig","aspenfile":"BFB.acmf"}`, MarkerACM},
		{`{"filetype":"sinterconfig","aspenfile":"Flash.BKP"}`, MarkerAspenPlus},
		{`{"config-version":"0.2","model":{"file":"m.acmf"}}`, MarkerACM},
		{`{"filetype":"sinterconfig","filetype-version":0.2,"model":{"file":"m.bkp"}}`, MarkerAspenPlus},
		{`{"filetype-version":0.3,"application":{"name":"Aspen Custom Modeler"},"model":{"file":"m.acmf"}}`, MarkerACM},
		{`{"filetype-version":"0.3","application":{"name":"Aspen Plus"},"model":{"file":"m.bkp"}}`, MarkerAspenPlus},
		{`{"filetype-version":0.3,"application":{"name":"foqus-user-plugin"},"model":{"file":"plug.py"}}`, MarkerPlugin},
		// Real shapes: turb_client's sinter configs put a string "Application"
		// next to (or instead of) the "application" object; keys match exactly.
		{`{"title":null,"aspenfile":"Hybrid.acmf","Application":"ACM","Simulation":"BFB","filetype":"sinterconfig","version":0.2,"settings":{},"inputs":{},"outputs":{}}`, MarkerACM},
		{`{"Application":"ACM","filetype":"sinterconfig","filetype-version":0.3,"application":{"name":"FOQUS-User-Plugin"},"model":{"file":"cost.py"}}`, MarkerPlugin},
		{`{"application":"oops","Filetype":"x","filetype":"sinterconfig","aspenfile":"a.bkp"}`, MarkerAspenPlus},
		// FOQUS sessions written by Python's json hold NaN and Infinity.
		{`{"Type":"FOQUS_Session","flowsheet":{"nodes":{"a":{"x":NaN,"y":Infinity,"z":-Infinity}}},"ver":NaN}`, MarkerFOQUS},
	} {
		got, err := Classify([]byte(c.body))
		if err != nil || got != c.marker {
			t.Errorf("Classify(%s) = %q, %v; want %q", c.body, got, err, c.marker)
		}
	}
	for _, body := range []string{
		``, `[]`, `"x"`, `{}`, `{"filetype":"sinterconfig","aspenfile":"m.exe"}`, `{"config-version":"0.2","model":{}}`,
		`{"filetype-version":0.3,"application":{"name":"foqus-user-plugin"},"model":{"file":"p.acmf"}}`, `{"Type":"Other"}`,
		`{"type":"FOQUS_Session"}`, `{"FileType":"sinterconfig","aspenfile":"a.acmf"}`, `{"filetype":"sinterconfig","Aspenfile":"a.acmf"}`,
	} {
		if _, err := Classify([]byte(body)); status(err) != http.StatusBadRequest {
			t.Errorf("Classify(%s): %v, want 400", body, err)
		}
	}
}

func TestParseSimulation(t *testing.T) {
	for app, marker := range map[string]string{"foqus": MarkerFOQUS, "ACM": MarkerACM, "AspenPlus": MarkerAspenPlus, "fake-job": MarkerFakeJob, "FOQUS-USER-PLUGIN": MarkerPlugin} {
		got, err := ParseSimulation([]byte(`{"Application":"` + app + `","StagedInputs":[],"Name":"x"}`))
		if err != nil || got != marker {
			t.Errorf("%s: %q, %v", app, got, err)
		}
	}
	for _, body := range []string{`{"Application":"excel"}`, `{"Application":1}`, `{}`, `[]`, `nope`} {
		if _, err := ParseSimulation([]byte(body)); status(err) != http.StatusBadRequest {
			t.Errorf("%s: %v, want 400", body, err)
		}
	}
}

// FuzzClassify: a configuration is stored under a marker or refused with 400.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		`{"Type":"FOQUS_Session"}`, `{"filetype":"sinterconfig","aspenfile":"a.acmf"}`,
		`{"config-version":"0.2","model":{"file":"m.bkp"}}`,
		`{"filetype-version":0.3,"application":{"name":"foqus-user-plugin"},"model":{"file":"p.py"}}`,
		`{"filetype-version":[],"model":"x"}`, `{"model":{"file":7}}`, `null`, `{`,
		`{"Application":"ACM","filetype":"sinterconfig","aspenfile":"a.acmf"}`, `{"Type":"FOQUS_Session","x":NaN,"y":-Infinity}`,
	} {
		f.Add([]byte(s))
	}
	valid := map[string]bool{MarkerFOQUS: true, MarkerACM: true, MarkerAspenPlus: true, MarkerPlugin: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Classify(body)
		if err != nil {
			if status(err) != http.StatusBadRequest {
				t.Fatalf("refusal %v is not 400", err)
			}
			return
		}
		if !valid[m] {
			t.Fatalf("marker %q", m)
		}
	})
}

// FuzzParseSimulation: a PUT /simulation body names a marker or is refused with 400/413.
func FuzzParseSimulation(f *testing.F) {
	for _, s := range []string{`{"Application":"foqus","StagedInputs":[],"Name":"n"}`, `{"Application":"ACM"}`, `{"Application":null}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseSimulation(body)
		if err != nil {
			if s := status(err); s != http.StatusBadRequest && s != http.StatusRequestEntityTooLarge {
				t.Fatalf("refusal %v", err)
			}
			return
		}
		if applicationOf(m) == "" {
			t.Fatalf("marker %q", m)
		}
	})
}
