package runner

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDialogWatchDecision(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	sims := map[int]string{10: "AspenPlus.exe"}
	licence := Window{PID: 10, Class: dialogClass, Title: "License Error", Visible: true}
	w := newDialogWatch(time.Minute)
	steps := []struct {
		at   time.Duration
		wins []Window
		fail bool
	}{
		{0, []Window{licence}, false},                // first seen
		{30 * time.Second, []Window{licence}, false}, // not up long enough
		{45 * time.Second, nil, false},               // closed: forgotten
		{50 * time.Second, []Window{licence}, false}, // seen again: a new minute
		{110 * time.Second, []Window{licence}, true}, // up a full minute: fail
	}
	for i, s := range steps {
		err := w.check(t0.Add(s.at), s.wins, sims)
		var de *DialogError
		if got := errors.As(err, &de); got != s.fail {
			t.Fatalf("step %d: %v, want fail %v", i, err, s.fail)
		}
		if s.fail && (de.Program != "AspenPlus.exe" || de.Title != "License Error") {
			t.Fatalf("step %d: %+v", i, de)
		}
	}
	// Never a failure: another process's dialog, a hidden one, a main window.
	w = newDialogWatch(0)
	for _, win := range []Window{
		{PID: 11, Class: dialogClass, Title: "Explorer", Visible: true},
		{PID: 10, Class: dialogClass, Title: "hidden", Visible: false},
		{PID: 10, Class: "AfxFrameOrView140u", Title: "Aspen Plus", Visible: true},
	} {
		if err := w.check(t0, []Window{win}, sims); err != nil {
			t.Fatalf("%+v: %v", win, err)
		}
	}
}

// The watchdog cancels the run with the dialog as the cause.
func TestWatchDialogsCancelsTheRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancelCause(context.Background())
	list := func(time.Time) ([]Window, map[int]string, error) {
		return []Window{{PID: 1, Class: dialogClass, Title: "Save changes?", Visible: true}}, map[int]string{1: "AspenModeler.exe"}, nil
	}
	done := make(chan struct{})
	go func() {
		watchDialogs(ctx, cancel, time.Now(), 5*time.Millisecond, 20*time.Millisecond, list)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("watchdog did not end the run")
	}
	var de *DialogError
	if !errors.As(context.Cause(ctx), &de) || de.Title != "Save changes?" {
		t.Fatalf("cause %v", context.Cause(ctx))
	}
	watchDialogs(context.Background(), cancel, time.Now(), time.Millisecond, 0, nil) // nil list: returns at once
}
