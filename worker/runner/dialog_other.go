//go:build !windows

package runner

import "time"

// listWindows: no simulator dialogs outside Windows.
var listWindows func(since time.Time) ([]Window, map[int]string, error)
