package runner

import (
	"context"
	"fmt"
	"time"
)

// Dialog watchdog: Windows Server 2022 has no Interactive Services
// Detection, so a modal dialog a simulator shows in the service's session
// is seen by no one and the job would wait for its timeout (4 hours).
const (
	DialogEvery = 15 * time.Second // how often the windows are looked at
	DialogAfter = time.Minute      // how long a dialog stays up before the job fails
	dialogClass = "#32770"         // the window class of Windows' dialog boxes (MessageBox, DialogBox)
)

// Window is what the watchdog knows of a top-level window.
type Window struct {
	PID     int
	Class   string
	Title   string
	Visible bool
}

// DialogError: a simulator of the job shows a dialog no one can answer.
type DialogError struct {
	Program string // the simulator's executable
	Title   string
}

func (e *DialogError) Error() string {
	return fmt.Sprintf("%s shows a dialog %q and waits for an answer no one can give on a worker; the job was ended", e.Program, e.Title)
}

// dialogWatch remembers since when each dialog has been up.
type dialogWatch struct {
	after time.Duration
	seen  map[dialogKey]time.Time
}

type dialogKey struct {
	pid   int
	title string
}

func newDialogWatch(after time.Duration) *dialogWatch {
	return &dialogWatch{after: after, seen: map[dialogKey]time.Time{}}
}

// check decides, from the windows up at now and the job's simulator
// processes (pid -> executable), whether a dialog has been up for at least
// after: a visible window of the dialog class owned by a simulator. A dialog
// that closes is forgotten, so a passing progress box never fails a job.
func (w *dialogWatch) check(now time.Time, wins []Window, simulators map[int]string) error {
	up := map[dialogKey]bool{}
	var fail error
	for _, win := range wins {
		prog, ok := simulators[win.PID]
		if !ok || !win.Visible || win.Class != dialogClass {
			continue
		}
		k := dialogKey{win.PID, win.Title}
		up[k] = true
		first, ok := w.seen[k]
		if !ok {
			w.seen[k] = now
			first = now
		}
		if fail == nil && now.Sub(first) >= w.after {
			fail = &DialogError{Program: prog, Title: win.Title}
		}
	}
	for k := range w.seen {
		if !up[k] {
			delete(w.seen, k)
		}
	}
	return fail
}

// watchDialogs looks at the windows every DialogEvery until ctx ends, and
// cancels the run with a *DialogError when check says so. list returns the
// top-level windows and the job's simulators; nil (not Windows) watches
// nothing.
func watchDialogs(ctx context.Context, cancel context.CancelCauseFunc, since time.Time, every, after time.Duration,
	list func(since time.Time) ([]Window, map[int]string, error)) {
	if list == nil {
		return
	}
	w := newDialogWatch(after)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			wins, sims, err := list(since)
			if err != nil {
				continue // the next look may work; the job's timeout still bounds it
			}
			if err := w.check(now, wins, sims); err != nil {
				cancel(err)
				return
			}
		}
	}
}
