// Command scaling-sim (make scaling-sim) replays the shipped job traces
// against GAS's simple scaling and our policy (cold, Fast Launch, warm pool)
// with a stage's scaling numbers from cdk.json, the numbers the CDK app
// deploys. It prints a table per trace, writes them as Markdown and draws one
// PNG per trace: a row per policy, instances on the left, jobs on the right.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/foqus-cloud/stack/core/scaling"
	"github.com/foqus-cloud/stack/core/scaling/sim"
)

func main() {
	cdkJSON := flag.String("cdk-json", "cdk.json", "the CDK app's cdk.json (stage settings)")
	stage := flag.String("stage", "prod", "the stage whose scaling numbers to replay")
	out := flag.String("out", "docs/scaling", "directory for the plots and results.md")
	flag.Parse()
	if err := run(os.Stdout, *cdkJSON, *stage, *out); err != nil {
		fmt.Fprintln(os.Stderr, "scaling-sim:", err)
		os.Exit(1)
	}
}

func run(stdout io.Writer, cdkJSON, stage, out string) error {
	p, err := scaling.StageFile(cdkJSON, stage)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var md bytes.Buffer
	fmt.Fprintf(&md, "# Scaling simulation, stage %s\n\nWritten by `make scaling-sim` (cmd/scaling-sim) from cdk.json's %s numbers: "+
		"%d..%d workers, target %.1f jobs per worker, boot cold %s / Fast Launch %s / warm pool %s, $%.3f per instance-hour.\n\n",
		stage, stage, p.MinWorkers, p.MaxWorkers, p.TargetJobsPerWorker, secs(p.Boot.ColdSeconds), secs(p.Boot.FastLaunchSeconds), secs(p.Boot.WarmSeconds), p.InstancePrice)
	for _, tr := range sim.Traces() {
		var rs []sim.Result
		for _, pol := range sim.Compared(p) {
			rs = append(rs, sim.Run(tr, pol))
		}
		if err := sim.WriteTable(stdout, tr, rs); err != nil {
			return err
		}
		png := filepath.Join(out, tr.Name+".png")
		if err := plotTrace(png, tr, rs); err != nil {
			return fmt.Errorf("plot %s: %w", tr.Name, err)
		}
		if _, err := fmt.Fprintf(stdout, "plot: %s\n\n", png); err != nil {
			return err
		}
		fmt.Fprintf(&md, "## %s\n\n%s.\n\n![%s](%s.png)\n\n", tr.Name, tr.About, tr.Name, tr.Name)
		writeMarkdown(&md, rs)
	}
	return os.WriteFile(filepath.Join(out, "results.md"), md.Bytes(), 0o644)
}

func secs(s int) string { return fmt.Sprintf("%d min %02d s", s/60, s%60) }

// writeMarkdown appends a trace's table (a bytes.Buffer does not fail).
func writeMarkdown(w *bytes.Buffer, rs []sim.Result) {
	fmt.Fprintln(w, "| policy | wait p50 | wait p95 | wait max | time to full capacity | instance-h | warm-pool-h | cost $ | scale events | jobs cut | unfinished |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		full := "never"
		if r.FullCapacityAt >= 0 {
			full = minutes(float64(r.FullCapacityAt))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.1f | %.1f | %.2f | %d | %d | %d |\n", r.Policy,
			minutes(r.WaitP50()), minutes(r.WaitP95()), minutes(r.WaitMax()), full,
			r.InstanceHours, r.StoppedHours, r.Cost, r.ScaleEvents, r.JobsCut, r.Unfinished)
	}
	fmt.Fprintln(w)
}

func minutes(s float64) string {
	if s != s { // NaN: no job started
		return "-"
	}
	return fmt.Sprintf("%.1f min", s/60)
}
