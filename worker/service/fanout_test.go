package service

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// failing fails every write until healed.
type failing struct{ healed bool }

func (f *failing) Write(p []byte) (int, error) {
	if f.healed {
		return len(p), nil
	}
	return 0, errors.New("the handle is invalid")
}

// A failing first sink (a service's stderr) loses no line on the file
// after it; its failure is noted once; it is used again once it works.
func TestFanoutLosesNoLineWhenASinkFails(t *testing.T) {
	t.Parallel()
	var file bytes.Buffer
	stderr := &failing{}
	f := NewFanout()
	f.Add("stderr", stderr)
	f.Add("file", &file)
	log := slog.New(slog.NewTextHandler(f, nil))
	for i := range 100 {
		log.Info("line", "n", i)
	}
	got := file.String()
	for i := range 100 {
		if !strings.Contains(got, fmt.Sprintf("n=%d\n", i)) {
			t.Fatalf("line %d lost; file has:\n%s", i, got)
		}
	}
	if c := strings.Count(got, "log sink stderr failed"); c != 1 {
		t.Fatalf("failure noted %d times, want once:\n%s", c, got)
	}
	stderr.healed = true
	if _, err := f.Write([]byte("after\n")); err != nil {
		t.Fatal(err)
	}

	var only bytes.Buffer
	g := NewFanout()
	g.Add("file", &failing{})
	g.Add("stderr", &only)
	if n, err := g.Write([]byte("x\n")); err != nil || n != 2 || only.String() == "" {
		t.Fatalf("failing first of two: %d, %v, %q", n, err, only.String())
	}
	h := NewFanout()
	h.Add("a", &failing{})
	if _, err := h.Write([]byte("x\n")); !errors.Is(err, ErrNoSink) {
		t.Fatalf("all sinks failing: %v, want ErrNoSink", err)
	}
}
