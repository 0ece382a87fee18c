package runner

import (
	"slices"
	"strings"
	"time"
)

// AspenProcesses are the executables of Aspen Plus and Aspen Custom Modeler
// that SimSinter starts through COM. COM's launcher starts them, so they are
// outside the job's process tree and hold a licence seat until ended. The
// licence manager's own processes are not in the list: they serve the
// machine, not the job.
var AspenProcesses = []string{
	"AspenPlus.exe", "apmain.exe", "Apwn.exe", // Aspen Plus: COM server, engine, user interface
	"AspenModeler.exe", "AMSimulation.exe", // Aspen Custom Modeler
}

// Process is what the clean-up knows of a running process.
type Process struct {
	PID     int
	Name    string    // the executable's file name
	Owner   string    // the account's SID
	Started time.Time // its creation time
}

// AspenStrays selects the processes to end after a job that began at
// since: an Aspen executable (by name, any case), owned by owner (the
// service account, so another account's session is never touched) and
// started after the job began. With one job per machine, such a process
// belongs to this job.
func AspenStrays(procs []Process, owner string, since time.Time) []Process {
	var out []Process
	for _, p := range procs {
		if p.Owner != owner || p.Started.Before(since) {
			continue
		}
		if isAspen(p.Name) {
			out = append(out, p)
		}
	}
	return out
}

func isAspen(name string) bool {
	return slices.ContainsFunc(AspenProcesses, func(n string) bool { return strings.EqualFold(n, name) })
}
