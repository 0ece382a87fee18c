package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/functions/jobview"
)

// states in the order counts are shown: finished ones first.
var states = []job.State{job.Success, job.Error, job.Terminate, job.Expired, job.Invalid, job.Running, job.Setup, job.Submit, job.Create, job.Stop}

// tally is how many of a session's jobs are in each state.
type tally struct {
	count    map[job.State]int
	total    int
	finished int
}

func newTally(jobs []jobview.Metadata) tally {
	t := tally{count: map[job.State]int{}, total: len(jobs)}
	for _, j := range jobs {
		t.count[j.State]++
		if j.State.Terminal() {
			t.finished++
		}
	}
	return t
}

// String lists the non-zero counts, finished states first.
func (t tally) String() string {
	var parts []string
	for _, s := range states {
		if n := t.count[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	for s, n := range t.count { // a state this client does not know yet
		if !known(s) {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	return strings.Join(parts, ", ")
}

func known(s job.State) bool {
	for _, k := range states {
		if k == s {
			return true
		}
	}
	return false
}

func (t tally) equal(o tally) bool {
	if t.total != o.total || len(t.count) != len(o.count) {
		return false
	}
	for s, n := range t.count {
		if o.count[s] != n {
			return false
		}
	}
	return true
}

// verdict is nil when every job succeeded (or failures are allowed).
func (t tally) verdict(allowFailures bool) error {
	if failed := t.total - t.count[job.Success]; failed > 0 && !allowFailures {
		return &jobsFailedError{Failed: failed, Total: t.total, Counts: t.String()}
	}
	return nil
}

// progress shows a session's tallies: a bar with rate and ETA on a
// terminal, else one plain line per change (logs, pipelines).
type progress interface {
	update(t tally)
	done(t tally, elapsed time.Duration)
}

func newProgress(w io.Writer, terminal bool, sid string) progress {
	if terminal {
		return &barProgress{w: w}
	}
	return &lineProgress{w: w, sid: sid, began: time.Now(), first: -1}
}

type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (p *barProgress) update(t tally) {
	if p.bar == nil {
		p.bar = progressbar.NewOptions(t.total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("jobs"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { _, _ = fmt.Fprintln(p.w) }),
		)
	}
	if p.bar.GetMax() != t.total {
		p.bar.ChangeMax(t.total)
	}
	p.bar.Describe(t.String())
	_ = p.bar.Set(t.finished) // a terminal write; nothing to do if it fails
}

func (p *barProgress) done(t tally, elapsed time.Duration) {
	p.update(t)
	_ = p.bar.Finish()
	_, _ = fmt.Fprintf(p.w, "%d jobs finished in %s: %s\n", t.total, elapsed.Round(100*time.Millisecond), t)
}

type lineProgress struct {
	w     io.Writer
	sid   string
	began time.Time
	first int // jobs finished when watching began; -1 before the first tally
	last  tally
	shown bool
}

func (p *lineProgress) update(t tally) {
	if p.first < 0 {
		p.first = t.finished
	}
	if p.shown && t.equal(p.last) {
		return
	}
	p.last, p.shown = t, true
	line := fmt.Sprintf("%s session %s: %d/%d finished: %s", time.Now().UTC().Format("15:04:05"), p.sid, t.finished, t.total, t)
	if el := time.Since(p.began).Seconds(); el > 0 && t.finished > p.first {
		rate := float64(t.finished-p.first) / el
		line += fmt.Sprintf("; %.1f jobs/s", rate)
		if left := t.total - t.finished; left > 0 {
			line += fmt.Sprintf(", ETA %s", (time.Duration(float64(left)/rate) * time.Second).Round(time.Second))
		}
	}
	_, _ = fmt.Fprintln(p.w, line)
}

func (p *lineProgress) done(t tally, elapsed time.Duration) {
	p.update(t)
	_, _ = fmt.Fprintf(p.w, "session %s: %d jobs finished in %s: %s\n", p.sid, t.total, elapsed.Round(100*time.Millisecond), t)
}

func (c *cli) watchCommand() *cobra.Command {
	var interval, timeout time.Duration
	var allow bool
	cmd := &cobra.Command{
		Use:   "watch SESSION",
		Short: "Show the session's jobs per state until every job finished",
		Long: `Poll the session until every job has finished, showing its counts per state,
rate and ETA: a progress bar on a terminal, a line per change otherwise.
Exits 3 when a job did not succeed, unless --allow-failures.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			ctx, sid := cmd.Context(), args[0]
			p := newProgress(c.stdout, isTerminal(c.stdout), sid)
			began := time.Now()
			for {
				jobs, err := api.Jobs(ctx, sid)
				if err != nil {
					return err
				}
				t := newTally(jobs)
				if t.total == 0 {
					return fmt.Errorf("session %s has no jobs", sid)
				}
				if t.finished == t.total {
					p.done(t, time.Since(began))
					return t.verdict(allow)
				}
				p.update(t)
				if timeout > 0 && time.Since(began) > timeout {
					return fmt.Errorf("session %s: after %s, %d of %d jobs finished", sid, timeout, t.finished, t.total)
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(interval):
				}
			}
		},
	}
	f := cmd.Flags()
	f.DurationVar(&interval, "interval", DefaultPoll, "time between polls")
	f.DurationVar(&timeout, "timeout", 0, "give up after this long (0: never)")
	f.BoolVar(&allow, "allow-failures", false, "exit 0 even when jobs did not succeed")
	return cmd
}
