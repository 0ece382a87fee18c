// Command foqus-cloud is the FOQUS cloud API's command-line client for
// scripted studies: upload a simulation, submit a session's jobs from CSV or
// JSON, watch it run, export its results, and kill, stop or delete it. It
// reads FOQUS's turbine.cfg, flags or environment variables, and exits
// non-zero when a job did not succeed, so a pipeline can rely on it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/foqus-cloud/stack/cmd/foqus-cloud/internal/apiclient"
	"github.com/foqus-cloud/stack/cmd/foqus-cloud/internal/turbinecfg"
)

// Exit codes.
const (
	ExitOK         = 0
	ExitError      = 1 // a request failed or the API refused it
	ExitUsage      = 2 // wrong arguments or flags
	ExitJobsFailed = 3 // a job ended in a state other than success (see --allow-failures)
)

// Environment variables read when the flag is not given.
const (
	EnvConfig   = "FOQUS_CLOUD_CONFIG" // path of a turbine.cfg
	EnvURL      = "FOQUS_CLOUD_URL"
	EnvUser     = "FOQUS_CLOUD_USER"
	EnvPassword = "FOQUS_CLOUD_PASSWORD"
	EnvCACert   = "FOQUS_CLOUD_CA_CERT"
	EnvCABundle = "REQUESTS_CA_BUNDLE" // what turb_client (requests) honours
)

// DefaultConfig is the turbine.cfg read when it exists and nothing else names the API.
const DefaultConfig = "turbine.cfg"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// usageError is a command line that cannot be run.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// jobsFailedError: the session's jobs did not all succeed.
type jobsFailedError struct {
	Failed, Total int
	Counts        string
}

func (e *jobsFailedError) Error() string {
	return fmt.Sprintf("%d of %d jobs did not succeed (%s); --allow-failures exits 0 anyway", e.Failed, e.Total, e.Counts)
}

// cli is one invocation: its streams, environment and connection settings.
type cli struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer

	configPath, url, user, password, caCert string

	client    *apiclient.Client
	signedURL bool
}

// run executes one command line and returns its exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := c.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	_, _ = fmt.Fprintln(stderr, "foqus-cloud:", err)
	var ue *usageError
	var jf *jobsFailedError
	switch {
	case errors.As(err, &jf):
		return ExitJobsFailed
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "unknown command"):
		return ExitUsage
	}
	return ExitError
}

func (c *cli) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "foqus-cloud",
		Short: "Run FOQUS simulation studies on a FOQUS cloud stage",
		Long: `foqus-cloud runs FOQUS simulation studies on a FOQUS cloud stage.

The API's URL and user come from flags, else the environment (` + EnvURL + `,
` + EnvUser + `, ` + EnvPassword + `), else a FOQUS turbine.cfg (--config, ` + EnvConfig + `,
else ./` + DefaultConfig + `). --ca-cert (` + EnvCACert + `, ` + EnvCABundle + `) adds a CA
to trust, e.g. the local stack's.

Exit codes: 0 done; 1 a request failed; 2 usage; 3 a job did not succeed
(session watch and results; --allow-failures exits 0).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	f := root.PersistentFlags()
	f.StringVar(&c.configPath, "config", "", "FOQUS turbine.cfg to read the URL and user from")
	f.StringVar(&c.url, "url", "", "the API's base URL, stage included (https://<id>.execute-api.<region>.amazonaws.com/<stage>)")
	f.StringVar(&c.user, "user", "", "user name")
	f.StringVar(&c.password, "password", "", "password (prefer "+EnvPassword+" or turbine.cfg: flags show in ps)")
	f.StringVar(&c.caCert, "ca-cert", "", "PEM bundle of CAs to trust besides the system's")
	root.AddCommand(c.simulationCommand(), c.sessionCommand())
	return root
}

// exactArgs is cobra.ExactArgs as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}

// group is a command of subcommands: without a known one it is a usage error.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use: use, Short: short,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(cmd.ErrOrStderr())
			_ = cmd.Help() // best effort: the error below says it all
			return &usageError{fmt.Errorf("%s needs a command", cmd.CommandPath())}
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MinimumNArgs(n)(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}

// api returns the client, built on first use from flags, environment and turbine.cfg.
func (c *cli) api() (*apiclient.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	pick := func(flag, env string) string {
		if flag != "" {
			return flag
		}
		return c.getenv(env)
	}
	url, user, password := pick(c.url, EnvURL), pick(c.user, EnvUser), pick(c.password, EnvPassword)
	ca := pick(c.caCert, EnvCACert)
	if ca == "" {
		ca = c.getenv(EnvCABundle)
	}
	path := pick(c.configPath, EnvConfig)
	if path == "" && url == "" {
		if _, err := os.Stat(DefaultConfig); err == nil {
			path = DefaultConfig
		}
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("turbine.cfg: %w", err)
		}
		cfg, err := turbinecfg.Parse(path, data)
		if err != nil {
			return nil, err
		}
		url = firstOf(url, cfg.Base)
		user, password = firstOf(user, cfg.User), firstOf(password, cfg.Password)
		c.signedURL = cfg.SignedURL
	}
	if url == "" {
		return nil, &usageError{fmt.Errorf("no API URL: give --url, %s, or a turbine.cfg (--config)", EnvURL)}
	}
	if user == "" {
		return nil, &usageError{fmt.Errorf("no user: give --user, %s, or [Authentication] username in turbine.cfg", EnvUser)}
	}
	cl, err := apiclient.New(url, user, password, ca)
	if err != nil {
		return nil, err
	}
	c.client = cl
	return cl, nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// isTerminal reports whether w is a terminal (progress bars) or not (plain lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
