package runner

import (
	"reflect"
	"testing"
	"time"
)

func TestAspenStraysSelection(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	const svc, other = "S-1-5-18", "S-1-5-21-1-2-3-1001"
	procs := []Process{
		{PID: 1, Name: "AspenPlus.exe", Owner: svc, Started: since.Add(time.Second)},        // the job's: ended
		{PID: 2, Name: "apmain.EXE", Owner: svc, Started: since.Add(time.Minute)},           // any case: ended
		{PID: 3, Name: "AspenModeler.exe", Owner: svc, Started: since},                      // at the start: ended
		{PID: 4, Name: "AspenPlus.exe", Owner: svc, Started: since.Add(-time.Second)},       // before the job: kept
		{PID: 5, Name: "AspenPlus.exe", Owner: other, Started: since.Add(time.Second)},      // another account: kept
		{PID: 6, Name: "python.exe", Owner: svc, Started: since.Add(time.Second)},           // not Aspen: kept
		{PID: 7, Name: "lmgrd.exe", Owner: svc, Started: since.Add(time.Second)},            // licence manager: kept
		{PID: 8, Name: "AMSimulation.exe", Owner: svc, Started: since.Add(2 * time.Second)}, // ACM: ended
	}
	var pids []int
	for _, p := range AspenStrays(procs, svc, since) {
		pids = append(pids, p.PID)
	}
	if want := []int{1, 2, 3, 8}; !reflect.DeepEqual(pids, want) {
		t.Fatalf("selected %v, want %v", pids, want)
	}
	if got := AspenStrays(procs, "", since); got != nil {
		t.Fatalf("no owner selected %v", got)
	}
}
