//go:build windows

package runner

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// endAspen ends the Aspen processes of the service account started since
// the job began (AspenStrays) and returns them.
func endAspen(since time.Time) ([]Process, error) {
	owner, err := processOwner(windows.CurrentProcess())
	if err != nil {
		return nil, err
	}
	procs, err := listProcesses()
	if err != nil {
		return nil, err
	}
	strays := AspenStrays(procs, owner, since)
	var errs []error
	for _, p := range strays {
		h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, uint32(p.PID))
		if err != nil {
			errs = append(errs, fmt.Errorf("open %s (%d): %w", p.Name, p.PID, err))
			continue
		}
		if err := windows.TerminateProcess(h, 1); err != nil {
			errs = append(errs, fmt.Errorf("end %s (%d): %w", p.Name, p.PID, err))
		}
		_ = windows.CloseHandle(h)
	}
	return strays, errors.Join(errs...)
}

// listProcesses lists the processes with an Aspen name, with owner and
// start time (others are not opened at all).
func listProcesses() ([]Process, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil, fmt.Errorf("snapshot processes: %w", err)
	}
	defer func() { _ = windows.CloseHandle(snap) }()
	var out []Process
	e := windows.ProcessEntry32{Size: uint32(unsafe.Sizeof(windows.ProcessEntry32{}))}
	for err = windows.Process32First(snap, &e); err == nil; err = windows.Process32Next(snap, &e) {
		p := Process{PID: int(e.ProcessID), Name: windows.UTF16ToString(e.ExeFile[:])}
		if !isAspen(p.Name) {
			continue
		}
		h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, e.ProcessID)
		if err != nil {
			continue // gone, or not ours to open
		}
		var created, exited, kernel, user windows.Filetime
		if windows.GetProcessTimes(h, &created, &exited, &kernel, &user) == nil {
			p.Started = time.Unix(0, created.Nanoseconds())
		}
		p.Owner, _ = processOwner(h)
		_ = windows.CloseHandle(h)
		out = append(out, p)
	}
	if !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	return out, nil
}

// processOwner is the SID of the account a process runs as.
func processOwner(h windows.Handle) (string, error) {
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		return "", fmt.Errorf("open process token: %w", err)
	}
	defer func() { _ = tok.Close() }()
	u, err := tok.GetTokenUser()
	if err != nil {
		return "", fmt.Errorf("token user: %w", err)
	}
	return u.User.Sid.String(), nil
}
