// Package service makes foqus-worker a Windows service (install, remove,
// start, stop, debug, run) and runs the same worker loop in the console on
// other systems. The service definition below is data: the CLI, the Windows
// implementation and the image's install step (ami/) all derive from it, so a
// rename here breaks the image's tests instead of a fleet at boot.
//
// The worker hands its main loop to Execute as a func(ctx) error; a service
// Stop/Shutdown (or SIGINT/SIGTERM in the console) cancels ctx and the wrapper
// waits up to the stop grace period for the loop to return.
package service

import (
	"fmt"
	"time"

	"github.com/foqus-cloud/stack/core/resource"
)

// The installed service. The name is the original's (spec §8), so runbooks
// and event-log queries written for it keep working.
const (
	Name        = "FOQUS-Cloud-Service"
	DisplayName = "FOQUS Cloud Service"
	Description = "Runs FOQUS cloud simulation jobs from the FOQUS job queue (foqus-worker)."
	// EventSource is the Application event-log source the service writes to.
	EventSource = Name
	// Executable is the file name `make build` produces for windows/amd64.
	Executable = "foqus-worker.exe"
)

// Named defaults.
const (
	// DefaultStartup is delayed automatic: the worker needs the network and
	// the SSM agent, which come up with the other automatic services.
	DefaultStartup = StartupDelayed
	// DefaultStopGrace bounds how long a stop waits for the worker loop to
	// let its running job finish or hand it back before reporting stopped.
	DefaultStopGrace = 5 * time.Minute
	// DefaultConfig is where `run` and `debug` read the worker settings.
	DefaultConfig = ConfigEnv
	// ImageConfig is the configuration the image installs the service with:
	// the worker finds its stage through instance metadata.
	ImageConfig = ConfigIMDS
	// RecoveryResetPeriod resets the failure count after a day without failures.
	RecoveryResetPeriod = 24 * time.Hour
)

// RecoveryDelays are the delays of the SCM's restart actions after the
// first, second and subsequent failures.
var RecoveryDelays = []time.Duration{5 * time.Second, 15 * time.Second, 60 * time.Second}

// Startup is a service start type as the CLI spells it.
type Startup string

// Start types.
const (
	StartupAuto     Startup = "auto"
	StartupDelayed  Startup = "delayed"
	StartupManual   Startup = "manual"
	StartupDisabled Startup = "disabled"
)

// Startups lists the valid start types in help order.
var Startups = []Startup{StartupAuto, StartupDelayed, StartupManual, StartupDisabled}

// ParseStartup checks s against Startups.
func ParseStartup(s string) (Startup, error) {
	for _, st := range Startups {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown startup type %q (want auto, delayed, manual or disabled)", s)
}

// Config sources: where the worker reads its settings. The worker resolves
// them; this package only carries the choice from the CLI to the service's
// command line.
const (
	// ConfigEnv: flags and FOQUS_* environment variables (local development).
	ConfigEnv = "env"
	// ConfigIMDS: on EC2, the stage from the instance tag StageTag (read with
	// IMDSv2; the launch template enables tags in metadata), then the JSON
	// (resource.WorkerConfig) of the SSM parameter resource.WorkerConfigSSM
	// for that stage.
	ConfigIMDS = "imds"
	// ConfigSSMPrefix + name: the JSON of that SSM parameter.
	ConfigSSMPrefix = "ssm:"
	// ConfigFilePrefix + path: a JSON file with resource.WorkerConfig.
	ConfigFilePrefix = "file:"
)

// StageTag is the EC2 instance tag that names the stage for ConfigIMDS
// (the workers' Auto Scaling group sets it on every instance).
const StageTag = resource.TagStage

// Definition is everything the SCM is told about the service.
type Definition struct {
	Name        string
	DisplayName string
	Description string
	Startup     Startup
	// Interactive marks the service SERVICE_INTERACTIVE_PROCESS, as the
	// original was installed (`--interactive`), so that a modal dialog from
	// Aspen does not hang unseen; needs LocalSystem and NoInteractiveServices=0.
	Interactive bool
	// User is the account; empty means LocalSystem.
	User           string
	RecoveryDelays []time.Duration
	ResetPeriod    time.Duration
	// StopGrace is also the preshutdown timeout the SCM grants at shutdown.
	StopGrace time.Duration
	// Args are the arguments the SCM starts Executable with.
	Args []string
}

// DefinitionFor returns the service definition an install with opts creates.
func DefinitionFor(opts InstallOptions) Definition {
	opts = opts.withDefaults()
	return Definition{
		Name:           Name,
		DisplayName:    DisplayName,
		Description:    Description,
		Startup:        opts.Startup,
		Interactive:    opts.Interactive,
		User:           opts.User,
		RecoveryDelays: append([]time.Duration(nil), RecoveryDelays...),
		ResetPeriod:    RecoveryResetPeriod,
		StopGrace:      opts.Run.StopGrace,
		Args:           ServiceArgs(opts),
	}
}
