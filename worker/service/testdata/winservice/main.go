// Command winservice is the smallest foqus-worker wiring of package service.
// The package's tests cross-compile it for windows/amd64, so the Windows
// code (svc, mgr, eventlog, debug) is compiled and linked in `go test`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/foqus-cloud/stack/worker/service"
)

func main() {
	cmd, err := service.ParseCommand(os.Args[1:])
	if errors.Is(err, service.ErrHelp) {
		service.Usage(os.Stdout)
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	err = service.Execute(cmd, func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
