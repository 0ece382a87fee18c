package service

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrNoSink: every log sink failed the write.
var ErrNoSink = errors.New("every log sink failed")

// Fanout writes each log line to every sink. Unlike io.MultiWriter it does
// not stop at a failing sink: a service has no usable stderr, and its log
// file must still get every line. A sink that fails is tried again on the
// next line (the failure may pass); its first failure is noted in the others.
type Fanout struct {
	mu    sync.Mutex
	sinks []*sink
}

type sink struct {
	name   string
	w      io.Writer
	failed bool // the last write failed
}

// NewFanout returns a Fanout with no sinks.
func NewFanout() *Fanout { return &Fanout{} }

// Add adds a sink; name says which in the note of its failure.
func (f *Fanout) Add(name string, w io.Writer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sinks = append(f.sinks, &sink{name: name, w: w})
}

// Write implements io.Writer: it succeeds when one sink took the line.
func (f *Fanout) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var notes []string
	ok := 0
	for _, s := range f.sinks {
		n, err := s.w.Write(p)
		if err == nil && n < len(p) {
			err = io.ErrShortWrite
		}
		if err != nil {
			if !s.failed {
				notes = append(notes, fmt.Sprintf("log sink %s failed (its lines go to the other sinks): %v\n", s.name, err))
			}
			s.failed = true
			continue
		}
		s.failed = false
		ok++
	}
	if ok == 0 {
		return 0, ErrNoSink
	}
	for _, note := range notes {
		for _, s := range f.sinks {
			if !s.failed {
				_, _ = io.WriteString(s.w, note) // best effort: the line itself is written
			}
		}
	}
	return len(p), nil
}
