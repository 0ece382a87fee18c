package sessions

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/functions/httpx"
)

func status(err error) int {
	var he *httpx.Error
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

func TestParseAppend(t *testing.T) {
	big := `[{"Simulation":"s","Input":{"x":"` + strings.Repeat("a", MaxJobInput) + `"}}]`
	many := "[" + strings.Repeat(`{"Simulation":"s","Input":{}},`, MaxAppendJobs) + `{"Simulation":"s","Input":{}}]`
	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"FOQUS client element", `[{"Simulation":"zzfoqus_flow","Input":{"n":{"x":1.5},"graph":{}},"Reset":false,"Visible":false,"Id":"ignored"}]`, 0},
		{"fake-job, any case", `[{"Simulation":"s","Input":{},"Application":"FAKE-JOB","Initialize":true}]`, 0},
		{"empty array", `[]`, 0},
		{"not JSON", `[{`, http.StatusBadRequest},
		{"object, not array", `{"Simulation":"s","Input":{}}`, http.StatusBadRequest},
		{"null", `null`, http.StatusBadRequest},
		{"no Simulation", `[{"Input":{}}]`, http.StatusBadRequest},
		{"path in Simulation", `[{"Simulation":"../other","Input":{}}]`, http.StatusBadRequest},
		{"Input not an object", `[{"Simulation":"s","Input":[1]}]`, http.StatusBadRequest},
		{"Input null", `[{"Simulation":"s","Input":null}]`, http.StatusBadRequest},
		{"no Input", `[{"Simulation":"s"}]`, http.StatusBadRequest},
		{"unknown Application", `[{"Simulation":"s","Input":{},"Application":"excel"}]`, http.StatusBadRequest},
		{"Reset not a bool", `[{"Simulation":"s","Input":{},"Reset":"yes"}]`, http.StatusBadRequest},
		{"number out of range", `[{"Simulation":"s","Input":{"x":{"a":1e400}}}]`, http.StatusBadRequest},
		{"negative number out of range", `[{"Simulation":"s","Input":{"x":[-2e308]}}]`, http.StatusBadRequest},
		{"tiny number rounds to zero", `[{"Simulation":"s","Input":{"x":1e-400}}]`, 0},
		{"invalid UTF-8 in Input", "[{\"Simulation\":\"s\",\"Input\":{\"x\":\"\xff\xfe\"}}]", http.StatusBadRequest},
		{"invalid UTF-8 in an ignored field", "[{\"Simulation\":\"s\",\"Input\":{},\"Id\":\"\xc3\"}]", http.StatusBadRequest},
		{"input too large", big, http.StatusRequestEntityTooLarge},
		{"too many jobs", many, http.StatusRequestEntityTooLarge},
		{"body too large", "[" + strings.Repeat(" ", MaxAppendBody) + "]", http.StatusRequestEntityTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			jobs, err := ParseAppend([]byte(c.body))
			if got := status(err); got != c.status {
				t.Fatalf("status %d (%v), want %d", got, err, c.status)
			}
			if err == nil && jobs == nil {
				t.Fatal("nil jobs without error")
			}
		})
	}
	jobs, err := ParseAppend([]byte(`[{"Simulation":"a","Input":{ "x" : 1 }},{"Simulation":"b","Input":{},"Application":"acm","Reset":true}]`))
	if err != nil {
		t.Fatal(err)
	}
	if jobs[0].Simulation != "a" || string(jobs[0].Input) != `{"x":1}` || jobs[0].Application != job.AppFOQUS ||
		jobs[1].Simulation != "b" || jobs[1].Application != job.AppACM || !jobs[1].Reset {
		t.Fatalf("parsed %+v", jobs)
	}
}

// Refusals say what is wrong in the request's terms: JSON kinds and the
// client's field names, never Go's types, struct names or package paths.
func TestParseAppendMessages(t *testing.T) {
	for _, c := range []struct{ body, msg string }{
		{`[{"Simulation":5,"Input":{}}]`, "Failed to append jobs: job 0: Simulation is a number, not a string"},
		{`[{"Simulation":"s","Input":{}},{"Simulation":"s","Input":{},"Reset":"yes"}]`, "Failed to append jobs: job 1: Reset is a string, not true or false"},
		{`[{"Simulation":"s","Input":{},"Application":["acm"]}]`, "Failed to append jobs: job 0: Application is an array, not a string"},
		{`[7]`, "Failed to append jobs: job 0: is a number, not an object"},
		{`[{"Simulation":"s","Input":{"x":1e400}}]`, "Failed to append jobs: job 0: Input holds the number 1e400, outside the range of a double"},
		{"[{\"Simulation\":\"s\",\"Input\":{\"x\":\"\xff\"}}]", "Failed to append jobs: body is not valid UTF-8 text"},
		{`[{"Simulation":"../x","Input":{}}]`, `Failed to append jobs: job 0: invalid simulation name "../x"`},
		{`{"Simulation":"s"}`, "Failed to append jobs: body is not a JSON array of jobs"},
	} {
		_, err := ParseAppend([]byte(c.body))
		var he *httpx.Error
		if !errors.As(err, &he) || he.Status != http.StatusBadRequest || he.Message != c.msg {
			t.Errorf("%s: got %v, want 400 %q", c.body, err, c.msg)
			continue
		}
		for _, leak := range []string{"Go ", "jobRequest", "struct", "json:", "*", "sessions."} {
			if strings.Contains(he.Message, leak) {
				t.Errorf("%s: message %q shows %q", c.body, he.Message, leak)
			}
		}
	}
}

// FuzzParseAppend: every body is either refused with 400/413 or yields jobs
// that are safe to store and to submit.
func FuzzParseAppend(f *testing.F) {
	for _, s := range []string{
		`[{"Simulation":"zzfoqus_x","Input":{"a":{"b":1}},"Reset":false}]`,
		`[{"Simulation":"s","Input":{},"Application":"fake-job"}]`,
		`[]`, `[{}]`, `{}`, `null`, `[{"Simulation":"..","Input":{}}]`, `[{"Simulation":"s","Input":"{}"}]`,
		`[{"Simulation":"s","Input":{"x":1e400}}]`, "[{\"Simulation\":\"s\\u0000\",\"Input\":{}}]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		jobs, err := ParseAppend(body)
		if err != nil {
			if s := status(err); s != http.StatusBadRequest && s != http.StatusRequestEntityTooLarge {
				t.Fatalf("refusal %v is not 400/413", err)
			}
			return
		}
		for _, j := range jobs {
			if objectkey.Simulation(j.Simulation) != nil {
				t.Fatalf("accepted simulation %q", j.Simulation)
			}
			var in map[string]json.RawMessage
			if json.Unmarshal(j.Input, &in) != nil || !bytes.HasPrefix(j.Input, []byte("{")) {
				t.Fatalf("accepted input %q", j.Input)
			}
			if _, ok := applications[strings.ToLower(j.Application)]; !ok {
				t.Fatalf("accepted application %q", j.Application)
			}
			if httpx.CheckJSONText("Input", j.Input) != nil {
				t.Fatalf("accepted input %q that is not UTF-8 or holds a number out of range", j.Input)
			}
			if len(j.Input) > MaxJobInput {
				t.Fatalf("input of %d bytes", len(j.Input))
			}
		}
	})
}
