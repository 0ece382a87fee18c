package service

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/foqus-cloud/stack/core/resource"
)

// Verb is a foqus-worker subcommand.
type Verb string

// Subcommands.
const (
	VerbInstall Verb = "install"
	VerbRemove  Verb = "remove"
	VerbStart   Verb = "start"
	VerbStop    Verb = "stop"
	VerbDebug   Verb = "debug"
	VerbRun     Verb = "run"
)

// Verbs lists the subcommands in help order.
var Verbs = []Verb{VerbInstall, VerbRemove, VerbStart, VerbStop, VerbDebug, VerbRun}

var verbHelp = map[Verb]string{
	VerbInstall: "install (or reconfigure) the Windows service " + Name + " to start this executable with `run`",
	VerbRemove:  "stop and delete the Windows service and its event-log source",
	VerbStart:   "start the Windows service",
	VerbStop:    "stop the Windows service (the worker finishes or hands back its job)",
	VerbDebug:   "run the service handler in this console (Ctrl+C sends Stop); elsewhere same as run",
	VerbRun:     "run the worker: as the service when the SCM started it, otherwise in the console",
}

// RunOptions configure the worker loop; `run` and `debug` take them, and
// install bakes them into the service's command line.
type RunOptions struct {
	// Config says where the worker reads its settings: ConfigEnv,
	// ConfigIMDS, ConfigSSMPrefix+name or ConfigFilePrefix+path.
	Config string
	// StopGrace bounds the wait for the worker loop after a stop.
	StopGrace time.Duration
	// WorkerArgs are the arguments after `--`, for the worker's own flags.
	WorkerArgs []string
}

// InstallOptions are the flags of `install`.
type InstallOptions struct {
	User        string // account (domain\user or .\user); empty: LocalSystem
	Password    string // the account's password; never baked into the image
	Startup     Startup
	Interactive bool
	Run         RunOptions
}

// Command is a parsed foqus-worker command line.
type Command struct {
	Verb    Verb
	Install InstallOptions // VerbInstall
	Run     RunOptions     // VerbRun, VerbDebug
	// Wait is how long start/stop wait for the service to reach Running or
	// Stopped; zero returns once the SCM has accepted the request.
	Wait time.Duration
}

// ErrHelp is returned by ParseCommand when help was asked for; print Usage.
var ErrHelp = flag.ErrHelp

// UsageError is a command line ParseCommand rejects.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return "foqus-worker: " + e.Msg }

func usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

func (o RunOptions) withDefaults() RunOptions {
	if o.Config == "" {
		o.Config = DefaultConfig
	}
	if o.StopGrace == 0 {
		o.StopGrace = DefaultStopGrace
	}
	return o
}

func (o InstallOptions) withDefaults() InstallOptions {
	if o.Startup == "" {
		o.Startup = DefaultStartup
	}
	o.Run = o.Run.withDefaults()
	return o
}

// localSystem reports whether user names the LocalSystem account, the only
// one Windows lets run an interactive service.
func localSystem(user string) bool {
	switch strings.ToLower(user) {
	case "", "localsystem", `.\localsystem`, `nt authority\system`:
		return true
	}
	return false
}

// durationFlag accepts a Go duration ("90s", "5m") or, like the original
// pywin32 `--wait seconds`, a bare number of seconds.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	var d time.Duration
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(s); err != nil {
		return fmt.Errorf("not a duration or a number of seconds: %q", s)
	}
	if d < 0 {
		return fmt.Errorf("negative duration %q", s)
	}
	*f.d = d
	return nil
}

type startupFlag struct{ s *Startup }

func (f startupFlag) String() string {
	if f.s == nil {
		return ""
	}
	return string(*f.s)
}

func (f startupFlag) Set(s string) error {
	st, err := ParseStartup(s)
	if err == nil {
		*f.s = st
	}
	return err
}

func bindRun(fs *flag.FlagSet, o *RunOptions) {
	o.Config, o.StopGrace = DefaultConfig, DefaultStopGrace
	fs.StringVar(&o.Config, "config", DefaultConfig, "where the worker reads its settings: "+
		ConfigEnv+" (flags and FOQUS_* environment variables), "+
		ConfigIMDS+" (on EC2: stage from the instance tag "+StageTag+" via IMDSv2, then the SSM parameter "+fmt.Sprintf(resource.WorkerConfigSSM, "<stage>")+"), "+
		ConfigSSMPrefix+"<parameter name>, or "+ConfigFilePrefix+"<path to a JSON file>")
	fs.Var(durationFlag{&o.StopGrace}, "stop-grace", "how long a stop waits for the running job to finish or be handed back (duration or seconds)")
}

// flagSet declares the flags of verb, bound to c.
func flagSet(verb Verb, c *Command) *flag.FlagSet {
	fs := flag.NewFlagSet(string(verb), flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	switch verb {
	case VerbInstall:
		o := &c.Install
		o.Startup = DefaultStartup
		fs.StringVar(&o.User, "user", "", `account the service runs as (domain\user or .\user); empty: LocalSystem`)
		fs.StringVar(&o.Password, "password", "", "password of --user (avoid on shared shells; never in the image)")
		fs.Var(startupFlag{&o.Startup}, "startup", "start type: auto, delayed (automatic, delayed start), manual or disabled")
		fs.BoolVar(&o.Interactive, "interactive", false, "let the service interact with the desktop (LocalSystem only; needs NoInteractiveServices=0)")
		bindRun(fs, &o.Run)
	case VerbStart, VerbStop:
		fs.Var(durationFlag{&c.Wait}, "wait", "wait up to this long for the service to reach Running/Stopped (duration or seconds; 0: do not wait)")
	case VerbRun, VerbDebug:
		bindRun(fs, &c.Run)
	}
	return fs
}

// ParseCommand parses the arguments after the program name. Flags follow
// the subcommand; arguments after `--` are kept for the worker (install puts
// them on the service's command line). It returns ErrHelp for -h/--help/help.
func ParseCommand(args []string) (Command, error) {
	if len(args) == 0 {
		return Command{}, usagef("missing subcommand (one of %s)", verbList())
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		return Command{}, ErrHelp
	}
	verb := Verb(args[0])
	if _, ok := verbHelp[verb]; !ok {
		return Command{}, usagef("unknown subcommand %q (one of %s)", args[0], verbList())
	}
	c := Command{Verb: verb}
	fs := flagSet(verb, &c)
	rest := args[1:]
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Command{}, ErrHelp
		}
		return Command{}, usagef("%s: %v", verb, err)
	}
	if extra := fs.Args(); len(extra) > 0 {
		consumed := len(rest) - len(extra)
		if consumed == 0 || rest[consumed-1] != "--" {
			return Command{}, usagef("%s: unexpected argument %q (put worker arguments after --)", verb, extra[0])
		}
		switch verb {
		case VerbInstall:
			c.Install.Run.WorkerArgs = extra
		case VerbRun, VerbDebug:
			c.Run.WorkerArgs = extra
		default:
			return Command{}, usagef("%s takes no worker arguments", verb)
		}
	}
	return c, c.validate()
}

func (c Command) validate() error {
	switch c.Verb {
	case VerbInstall:
		o := c.Install
		if o.Password != "" && o.User == "" {
			return usagef("install: --password needs --user")
		}
		if o.Interactive && !localSystem(o.User) {
			return usagef("install: --interactive needs the LocalSystem account, not %q", o.User)
		}
		return validateRun(c.Verb, o.Run)
	case VerbRun, VerbDebug:
		return validateRun(c.Verb, c.Run)
	}
	return nil
}

func validateRun(verb Verb, o RunOptions) error {
	if err := ValidateConfig(o.Config); err != nil {
		return usagef("%s: %v", verb, err)
	}
	if o.StopGrace <= 0 {
		return usagef("%s: --stop-grace must be positive", verb)
	}
	return nil
}

// ValidateConfig checks the syntax of a --config value.
func ValidateConfig(s string) error {
	switch {
	case s == ConfigEnv, s == ConfigIMDS:
		return nil
	case strings.HasPrefix(s, ConfigSSMPrefix) && len(s) > len(ConfigSSMPrefix):
		return nil
	case strings.HasPrefix(s, ConfigFilePrefix) && len(s) > len(ConfigFilePrefix):
		return nil
	}
	return fmt.Errorf("--config %q: want %s, %s, %s<name> or %s<path>", s, ConfigEnv, ConfigIMDS, ConfigSSMPrefix, ConfigFilePrefix)
}

func verbList() string {
	s := make([]string, len(Verbs))
	for i, v := range Verbs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// runFlags renders o as flags, always naming --config so the service's
// command line says where its settings come from.
func runFlags(o RunOptions) []string {
	o = o.withDefaults()
	args := []string{"--config", o.Config}
	if o.StopGrace != DefaultStopGrace {
		args = append(args, "--stop-grace", o.StopGrace.String())
	}
	if len(o.WorkerArgs) > 0 {
		args = append(append(args, "--"), o.WorkerArgs...)
	}
	return args
}

// ServiceArgs is the command line (after the executable) the SCM starts the
// service with.
func ServiceArgs(opts InstallOptions) []string {
	return append([]string{string(VerbRun)}, runFlags(opts.Run)...)
}

// InstallArgs renders the `foqus-worker` arguments that install the service
// with opts; ParseCommand(InstallArgs(o)) gives back o with defaults filled.
// The image's install step is checked against this.
func InstallArgs(opts InstallOptions) []string {
	opts = opts.withDefaults()
	args := []string{string(VerbInstall), "--startup", string(opts.Startup)}
	if opts.Interactive {
		args = append(args, "--interactive")
	}
	if opts.User != "" {
		args = append(args, "--user", opts.User)
	}
	if opts.Password != "" {
		args = append(args, "--password", opts.Password)
	}
	return append(args, runFlags(opts.Run)...)
}

// ImageInstallOptions is how the worker image installs the service: LocalSystem,
// delayed automatic start, interactive like the original, settings from
// instance metadata.
func ImageInstallOptions() InstallOptions {
	return InstallOptions{
		Startup:     DefaultStartup,
		Interactive: true,
		Run:         RunOptions{Config: ImageConfig},
	}
}

// Usage writes the help text: every subcommand and every flag.
func Usage(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: foqus-worker <subcommand> [flags] [-- worker arguments]\n\n")
	fmt.Fprintf(&b, "Runs FOQUS cloud jobs. On Windows it is the service %q (%s);\nelsewhere run and debug run the worker in the console (SIGINT/SIGTERM stop it).\n", Name, DisplayName)
	for _, v := range Verbs {
		fmt.Fprintf(&b, "\n  %s\n      %s\n", v, verbHelp[v])
		var c Command
		flagSet(v, &c).VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0s" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(&b, "    --%s\n        %s%s\n", f.Name, f.Usage, def)
		})
	}
	fmt.Fprintf(&b, "\nThe service restarts after failures (after %v, %v, then %v; count reset after %v).\n",
		RecoveryDelays[0], RecoveryDelays[1], RecoveryDelays[2], RecoveryResetPeriod)
	_, _ = io.WriteString(w, b.String()) // help on a closed stdout has nowhere to report
}
