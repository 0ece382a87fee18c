package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/foqus-cloud/stack/core/scaling"
	"github.com/foqus-cloud/stack/core/scaling/sim"
)

// make scaling-sim prints a table per trace and writes a PNG per trace (a
// row of panels per policy) and results.md, which shows them.
func TestRunWritesPlotsAndTables(t *testing.T) {
	out := t.TempDir()
	var stdout bytes.Buffer
	if err := run(&stdout, "../../cdk.json", "prod", out); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	policies := sim.Compared(scaling.Defaults(0, 10))
	for _, tr := range sim.Traces() {
		if !strings.Contains(string(md), "!["+tr.Name+"]("+tr.Name+".png)") {
			t.Errorf("results.md does not show %s.png", tr.Name)
		}
		if !strings.Contains(stdout.String(), tr.Name+" (") {
			t.Errorf("no table for %s:\n%s", tr.Name, stdout.String())
		}
		f, err := os.Open(filepath.Join(out, tr.Name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		_ = f.Close()
		if err != nil {
			t.Fatalf("%s.png: %v", tr.Name, err)
		}
		// Readable without zooming: at least 1,200 px wide, 250 px per policy.
		if b := img.Bounds(); b.Dx() < 1200 || b.Dy() < 250*len(policies) {
			t.Errorf("%s.png is %dx%d", tr.Name, b.Dx(), b.Dy())
		}
	}
	for _, p := range policies {
		if strings.Count(string(md), "| "+p.Name+" |") != len(sim.Traces()) {
			t.Errorf("results.md lacks a row for %q per trace", p.Name)
		}
	}
}

func TestRunRefusesAnUnknownStage(t *testing.T) {
	if err := run(&bytes.Buffer{}, "../../cdk.json", "staging", t.TempDir()); err == nil || !strings.Contains(err.Error(), `stage "staging"`) {
		t.Errorf("got %v", err)
	}
}
