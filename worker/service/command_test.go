package service

import (
	"bytes"
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCommand(t *testing.T) {
	defRun := RunOptions{Config: DefaultConfig, StopGrace: DefaultStopGrace}
	defInstall := InstallOptions{Startup: StartupDelayed, Run: defRun}
	tests := []struct {
		name string
		args []string
		want Command
	}{
		{"install defaults", []string{"install"}, Command{Verb: VerbInstall, Install: defInstall}},
		{"install every flag", []string{"install", "--user", `CORP\svc-foqus`, "--password", "pw", "--startup", "manual",
			"--config", "ssm:/foqus/dev/worker/config", "--stop-grace", "90s", "--", "--concurrency", "2"},
			Command{Verb: VerbInstall, Install: InstallOptions{User: `CORP\svc-foqus`, Password: "pw", Startup: StartupManual,
				Run: RunOptions{Config: "ssm:/foqus/dev/worker/config", StopGrace: 90 * time.Second, WorkerArgs: []string{"--concurrency", "2"}}}}},
		{"install interactive image", []string{"install", "--startup=delayed", "--interactive", "--config", "imds"},
			Command{Verb: VerbInstall, Install: InstallOptions{Startup: StartupDelayed, Interactive: true, Run: RunOptions{Config: ConfigIMDS, StopGrace: DefaultStopGrace}}}},
		{"install interactive LocalSystem named", []string{"install", "--interactive", "--user", "LocalSystem"},
			Command{Verb: VerbInstall, Install: InstallOptions{User: "LocalSystem", Startup: StartupDelayed, Interactive: true, Run: defRun}}},
		{"install startup auto", []string{"install", "--startup", "auto"}, Command{Verb: VerbInstall, Install: InstallOptions{Startup: StartupAuto, Run: defRun}}},
		{"install startup disabled", []string{"install", "-startup", "disabled"}, Command{Verb: VerbInstall, Install: InstallOptions{Startup: StartupDisabled, Run: defRun}}},
		{"remove", []string{"remove"}, Command{Verb: VerbRemove}},
		{"start", []string{"start"}, Command{Verb: VerbStart}},
		{"start wait seconds", []string{"start", "--wait", "30"}, Command{Verb: VerbStart, Wait: 30 * time.Second}},
		{"stop wait duration", []string{"stop", "--wait=2m"}, Command{Verb: VerbStop, Wait: 2 * time.Minute}},
		{"run defaults", []string{"run"}, Command{Verb: VerbRun, Run: defRun}},
		{"run file config and worker args", []string{"run", "--config", `file:C:\foqus\worker.json`, "--", "-v"},
			Command{Verb: VerbRun, Run: RunOptions{Config: `file:C:\foqus\worker.json`, StopGrace: DefaultStopGrace, WorkerArgs: []string{"-v"}}}},
		{"debug stop grace", []string{"debug", "--stop-grace", "10"}, Command{Verb: VerbDebug, Run: RunOptions{Config: DefaultConfig, StopGrace: 10 * time.Second}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCommand(tt.args)
			if err != nil {
				t.Fatalf("ParseCommand(%q): %v", tt.args, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseCommand(%q)\n got %+v\nwant %+v", tt.args, got, tt.want)
			}
		})
	}
}

func TestParseCommandErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // substring of the message
	}{
		{nil, "missing subcommand"},
		{[]string{"restart"}, `unknown subcommand "restart"`},
		{[]string{"--startup", "delayed", "install"}, "unknown subcommand"}, // flags follow the verb
		{[]string{"install", "--startup", "boot"}, "unknown startup type"},
		{[]string{"install", "--password", "pw"}, "--password needs --user"},
		{[]string{"install", "--interactive", "--user", `.\foqus`}, "--interactive needs the LocalSystem"},
		{[]string{"install", "--config", "s3://bucket/x"}, "--config"},
		{[]string{"install", "--config", "ssm:"}, "--config"},
		{[]string{"run", "--config", "file:"}, "--config"},
		{[]string{"install", "--stop-grace", "0"}, "--stop-grace must be positive"},
		{[]string{"run", "--stop-grace", "-5s"}, "negative duration"},
		{[]string{"start", "--wait", "soon"}, "not a duration"},
		{[]string{"install", "extra"}, `unexpected argument "extra"`},
		{[]string{"run", "--config", "env", "x"}, "put worker arguments after --"},
		{[]string{"start", "--", "x"}, "takes no worker arguments"},
		{[]string{"remove", "--wait", "5"}, "flag provided but not defined"},
		{[]string{"run", "--wait", "5"}, "flag provided but not defined"},
		{[]string{"start", "--user", "x"}, "flag provided but not defined"},
		{[]string{"install", "--user"}, "flag needs an argument"},
	}
	for _, tt := range tests {
		_, err := ParseCommand(tt.args)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("ParseCommand(%q) = %v, want a *UsageError", tt.args, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseCommand(%q) = %q, want it to mention %q", tt.args, err, tt.want)
		}
	}
}

func TestParseCommandHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"install", "--help"}, {"stop", "-h"}, {"run", "--config", "env", "--help"}} {
		if _, err := ParseCommand(args); !errors.Is(err, ErrHelp) || !errors.Is(err, flag.ErrHelp) {
			t.Errorf("ParseCommand(%q) = %v, want ErrHelp", args, err)
		}
	}
}

func TestUsageDocumentsEveryFlag(t *testing.T) {
	var buf bytes.Buffer
	Usage(&buf)
	help := buf.String()
	for _, v := range Verbs {
		if !strings.Contains(help, "\n  "+string(v)+"\n") {
			t.Errorf("help does not document subcommand %s", v)
		}
		var c Command
		n := 0
		flagSet(v, &c).VisitAll(func(f *flag.Flag) {
			n++
			if !strings.Contains(help, "--"+f.Name+"\n") {
				t.Errorf("help does not document %s --%s", v, f.Name)
			}
		})
		if want := map[Verb]int{VerbInstall: 6, VerbStart: 1, VerbStop: 1, VerbRun: 2, VerbDebug: 2}[v]; n != want {
			t.Errorf("%s has %d flags, want %d", v, n, want)
		}
	}
	for _, s := range []string{Name, "(default delayed)", "(default 5m0s)", "(default env)", "5s, 15s, then 1m0s"} {
		if !strings.Contains(help, s) {
			t.Errorf("help lacks %q:\n%s", s, help)
		}
	}
}

func TestInstallArgsRoundTrip(t *testing.T) {
	cases := []InstallOptions{
		{},
		ImageInstallOptions(),
		{User: `CORP\svc-foqus`, Password: "pw with space", Startup: StartupAuto},
		{Startup: StartupManual, Run: RunOptions{Config: "ssm:/foqus/prod/worker/config", StopGrace: 42 * time.Second}},
		{Startup: StartupDisabled, Interactive: true, Run: RunOptions{Config: `file:C:\x.json`, WorkerArgs: []string{"--jobs", "1", "--"}}},
	}
	for _, o := range cases {
		args := InstallArgs(o)
		got, err := ParseCommand(args)
		if err != nil {
			t.Fatalf("ParseCommand(InstallArgs(%+v) = %q): %v", o, args, err)
		}
		if want := (Command{Verb: VerbInstall, Install: o.withDefaults()}); !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of %q\n got %+v\nwant %+v", args, got, want)
		}
		// The service's own command line parses as `run` with the same options.
		run, err := ParseCommand(ServiceArgs(o))
		if err != nil {
			t.Fatalf("ParseCommand(ServiceArgs) %q: %v", ServiceArgs(o), err)
		}
		if run.Verb != VerbRun || !reflect.DeepEqual(run.Run, o.withDefaults().Run) {
			t.Errorf("ServiceArgs %q parse to %+v, want run %+v", ServiceArgs(o), run, o.withDefaults().Run)
		}
	}
}

func TestImageInstallArgs(t *testing.T) {
	got := strings.Join(InstallArgs(ImageInstallOptions()), " ")
	if want := "install --startup delayed --interactive --config imds"; got != want {
		t.Fatalf("image install line = %q, want %q", got, want)
	}
	if got := strings.Join(ServiceArgs(ImageInstallOptions()), " "); got != "run --config imds" {
		t.Fatalf("image service line = %q", got)
	}
}

func TestDefinition(t *testing.T) {
	d := DefinitionFor(InstallOptions{})
	if d.Name != "FOQUS-Cloud-Service" || d.Startup != StartupDelayed || d.Interactive || d.User != "" {
		t.Errorf("default definition = %+v", d)
	}
	if want := []time.Duration{5 * time.Second, 15 * time.Second, time.Minute}; !reflect.DeepEqual(d.RecoveryDelays, want) {
		t.Errorf("recovery = %v, want %v", d.RecoveryDelays, want)
	}
	if d.ResetPeriod != 24*time.Hour || d.StopGrace != DefaultStopGrace {
		t.Errorf("reset %v grace %v", d.ResetPeriod, d.StopGrace)
	}
	if !reflect.DeepEqual(d.Args, []string{"run", "--config", "env"}) {
		t.Errorf("args = %q", d.Args)
	}
	d.RecoveryDelays[0] = time.Hour // a copy: the package default stays put
	if RecoveryDelays[0] != 5*time.Second {
		t.Error("DefinitionFor shares RecoveryDelays")
	}
}
