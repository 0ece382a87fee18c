//go:build !windows

package runner

import "time"

// endAspen: Aspen runs on Windows only.
func endAspen(time.Time) ([]Process, error) { return nil, nil }
