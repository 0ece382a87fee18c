package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows uploads and the build: bars and a spinner on a terminal,
// one plain line per event otherwise (CI logs, pipes).
type progress struct {
	w     io.Writer
	tty   bool
	bar   *progressbar.ProgressBar
	began time.Time // of the build
	last  string    // the build state last shown
}

func newProgress(w io.Writer, tty bool) *progress { return &progress{w: w, tty: tty} }

// file starts an upload of size bytes; the returned writer counts them.
func (p *progress) file(key string, size int64) io.Writer {
	if !p.tty {
		_, _ = fmt.Fprintf(p.w, "uploading %s (%d bytes)\n", key, size)
		return io.Discard
	}
	p.bar = progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(key),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { _, _ = fmt.Fprintln(p.w) }),
	)
	return p.bar
}

func (p *progress) fileDone(key string, size int64, sum string) {
	if p.bar != nil {
		_ = p.bar.Finish() // a terminal write; nothing to do if it fails
		p.bar = nil
	}
	_, _ = fmt.Fprintf(p.w, "uploaded %s (%d bytes, sha256 %s)\n", key, size, sum)
}

func (p *progress) fileFailed() {
	if p.bar != nil {
		_ = p.bar.Exit()
		p.bar = nil
	}
}

// state shows the image's state, once per change.
func (p *progress) state(status, reason string) {
	if p.began.IsZero() {
		p.began = time.Now()
	}
	elapsed := time.Since(p.began).Round(time.Second)
	if p.tty {
		if p.bar == nil {
			p.bar = progressbar.NewOptions(-1,
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSpinnerType(14),
				progressbar.OptionShowElapsedTimeOnFinish(),
				progressbar.OptionThrottle(100*time.Millisecond),
			)
		}
		p.bar.Describe("image " + status)
		_ = p.bar.Add(1)
		return
	}
	line := status
	if reason != "" {
		line += ": " + reason
	}
	if line == p.last {
		return
	}
	p.last = line
	_, _ = fmt.Fprintf(p.w, "%s image %s (%s)\n", time.Now().UTC().Format("15:04:05"), line, elapsed)
}

func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
		_, _ = fmt.Fprintln(p.w)
		p.bar = nil
	}
}
