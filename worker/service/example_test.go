package service_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/foqus-cloud/stack/worker/service"
)

// How worker/cmd/foqus-worker/main.go wires the package: parse, print help
// on ErrHelp (exit 0), hand the worker loop to Execute, exit non-zero on
// error (the image's install step and the SCM both look at the exit code).
func Example() {
	run := func(args []string) int {
		cmd, err := service.ParseCommand(args)
		if errors.Is(err, service.ErrHelp) {
			service.Usage(os.Stdout)
			return 0
		}
		if err != nil {
			fmt.Println(err)
			return 2
		}
		err = service.Execute(cmd, func(ctx context.Context) error {
			// The worker: build its config from cmd.Run.Config and
			// cmd.Run.WorkerArgs, then consume jobs until ctx is done.
			<-ctx.Done()
			return nil
		}, nil)
		if err != nil {
			return 1
		}
		return 0
	}
	fmt.Println(run([]string{"install", "--startup", "sometimes"}))
	// Output:
	// foqus-worker: install: invalid value "sometimes" for flag -startup: unknown startup type "sometimes" (want auto, delayed, manual or disabled)
	// 2
}

// The command line the worker image installs the service with, and the one
// the service then runs.
func ExampleInstallArgs() {
	opts := service.ImageInstallOptions()
	fmt.Println(strings.Join(service.InstallArgs(opts), " "))
	fmt.Println(strings.Join(service.ServiceArgs(opts), " "))
	// Output:
	// install --startup delayed --interactive --config imds
	// run --config imds
}
