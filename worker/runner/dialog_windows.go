//go:build windows

package runner

import (
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	user32         = windows.NewLazySystemDLL("user32.dll")
	procGetWindowW = user32.NewProc("GetWindowTextW")
)

// listWindows returns the top-level windows of this desktop and the job's
// simulators: the Aspen processes of the service account started since the
// job began (COM starts them outside the job's tree).
var listWindows = func(since time.Time) ([]Window, map[int]string, error) {
	owner, err := processOwner(windows.CurrentProcess())
	if err != nil {
		return nil, nil, err
	}
	procs, err := listProcesses()
	if err != nil {
		return nil, nil, err
	}
	sims := map[int]string{}
	for _, p := range AspenStrays(procs, owner, since) {
		sims[p.PID] = p.Name
	}
	if len(sims) == 0 {
		return nil, sims, nil
	}
	var wins []Window
	cb := syscall.NewCallback(func(h windows.HWND, _ uintptr) uintptr {
		var pid uint32
		if _, err := windows.GetWindowThreadProcessId(h, &pid); err != nil {
			return 1
		}
		class := make([]uint16, 256)
		n, _ := windows.GetClassName(h, &class[0], int32(len(class)))
		title := make([]uint16, 512)
		t, _, _ := procGetWindowW.Call(uintptr(h), uintptr(unsafe.Pointer(&title[0])), uintptr(len(title)))
		wins = append(wins, Window{PID: int(pid), Class: windows.UTF16ToString(class[:n]),
			Title: windows.UTF16ToString(title[:t]), Visible: windows.IsWindowVisible(h)})
		return 1 // go on
	})
	if err := windows.EnumWindows(cb, nil); err != nil {
		return nil, nil, fmt.Errorf("enumerate windows: %w", err)
	}
	return wins, sims, nil
}
