//go:build windows

package runner

import (
	"fmt"
	"os"
	"os/exec"
	"unsafe"

	"golang.org/x/sys/windows"
)

// prepareTree: nothing before the start on Windows; attachTree puts the
// process into a job object right after it.
func prepareTree(*exec.Cmd) {}

// processTree is a job object holding the child and, by inheritance, every
// process it starts. KILL_ON_JOB_CLOSE also ends them if the worker dies.
// The child is assigned just after CreateProcess: Python and FOQUS take far
// longer than that to start a process of their own.
type processTree struct{ job windows.Handle }

func attachTree(p *os.Process) (*processTree, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("create job object: %w", err)
	}
	info := windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION{
		BasicLimitInformation: windows.JOBOBJECT_BASIC_LIMIT_INFORMATION{LimitFlags: windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE},
	}
	if _, err := windows.SetInformationJobObject(job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
		_ = windows.CloseHandle(job)
		return nil, fmt.Errorf("configure job object: %w", err)
	}
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(p.Pid))
	if err != nil {
		_ = windows.CloseHandle(job)
		return nil, fmt.Errorf("open process %d: %w", p.Pid, err)
	}
	defer func() { _ = windows.CloseHandle(h) }()
	if err := windows.AssignProcessToJobObject(job, h); err != nil {
		_ = windows.CloseHandle(job)
		return nil, fmt.Errorf("assign process %d to job object: %w", p.Pid, err)
	}
	return &processTree{job: job}, nil
}

func (t *processTree) kill() error { return windows.TerminateJobObject(t.job, 1) }

func (t *processTree) close() { _ = windows.CloseHandle(t.job) }
