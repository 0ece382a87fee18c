package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/foqus-cloud/stack/cmd/foqus-cloud/internal/apiclient"
	"github.com/foqus-cloud/stack/functions/sessions"
)

// Submit appends at most this many jobs, and about this many bytes, per
// request (turb_client's chunk; the API takes up to sessions.MaxAppendJobs
// and sessions.MaxAppendBody), and starts after each chunk so workers run
// the first jobs while the rest are appended.
const (
	DefaultChunk   = 500
	maxChunkBytes  = sessions.MaxAppendBody - 256<<10
	DefaultPoll    = 2 * time.Second
	DefaultResults = 2 * time.Minute
)

func (c *cli) sessionCommand() *cobra.Command {
	cmd := group("session", "Submit, watch, export and end sessions of jobs", c.submitCommand(), c.watchCommand(), c.resultsCommand())
	list := &cobra.Command{
		Use: "list", Short: "List your session ids", Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			ids, err := api.Sessions(cmd.Context())
			if err != nil {
				return err
			}
			for _, id := range ids {
				_, _ = fmt.Fprintln(c.stdout, id)
			}
			return nil
		},
	}
	cmd.AddCommand(list)
	for _, a := range []struct {
		use, short string
		do         func(*apiclient.Client) func(cmd *cobra.Command, sid string) error
	}{
		{"kill", "End every unfinished job of a session (terminate)", func(a *apiclient.Client) func(*cobra.Command, string) error {
			return func(cmd *cobra.Command, sid string) error { return a.Kill(cmd.Context(), sid) }
		}},
		{"stop", "Pause the jobs no worker holds yet (session submit or start resumes)", func(a *apiclient.Client) func(*cobra.Command, string) error {
			return func(cmd *cobra.Command, sid string) error { return a.Stop(cmd.Context(), sid) }
		}},
		{"delete", "Delete a session, its jobs and its results", func(a *apiclient.Client) func(*cobra.Command, string) error {
			return func(cmd *cobra.Command, sid string) error { return a.DeleteSession(cmd.Context(), sid) }
		}},
	} {
		cmd.AddCommand(&cobra.Command{
			Use: a.use + " SESSION", Short: a.short, Args: exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				api, err := c.api()
				if err != nil {
					return err
				}
				if err := a.do(api)(cmd, args[0]); err != nil {
					return err
				}
				_, _ = fmt.Fprintln(c.stdout, args[0])
				return nil
			},
		})
	}
	return cmd
}

func (c *cli) submitCommand() *cobra.Command {
	var app, format string
	var chunk int
	var reset bool
	cmd := &cobra.Command{
		Use:   "submit SIMULATION INPUTS",
		Short: "Create a session of one job per input, start it and print its id",
		Long: `Create a session with one job of SIMULATION per input, append them in chunks
and start each chunk, then print the session id (alone, on stdout).
INPUTS is a CSV file (a header row of node.variable names, one job a row) or a
JSON file (an array of input objects); "-" reads standard input (--format).`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sim, path := args[0], args[1]
			r := io.Reader(c.stdin)
			if path != "-" {
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				defer func() { _ = f.Close() }() // read only
				r = f
				if format == "" {
					format = strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
				}
			}
			inputs, err := readInputs(r, format)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if chunk < 1 || chunk > sessions.MaxAppendJobs {
				return &usageError{fmt.Errorf("--chunk %d: want 1 to %d", chunk, sessions.MaxAppendJobs)}
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if app == "" {
				s, err := api.Simulation(ctx, sim)
				if err != nil {
					return err
				}
				app = s.Application
			}
			sid, err := api.CreateSession(ctx)
			if err != nil {
				return err
			}
			began, submitted := time.Now(), 0
			for _, part := range chunks(inputs, chunk, maxChunkBytes) {
				jobs := make([]apiclient.Job, len(part))
				for i, in := range part {
					jobs[i] = apiclient.Job{Simulation: sim, Application: app, Input: in, Reset: reset}
				}
				if _, err := api.Append(ctx, sid, jobs); err != nil {
					return fmt.Errorf("session %s: %w (%d of %d jobs appended)", sid, err, submitted, len(inputs))
				}
				if _, err := api.Start(ctx, sid); err != nil {
					return fmt.Errorf("session %s: %w", sid, err)
				}
				submitted += len(part)
				_, _ = fmt.Fprintf(c.stderr, "session %s: %d of %d jobs submitted\n", sid, submitted, len(inputs))
			}
			_, _ = fmt.Fprintf(c.stderr, "session %s: %d jobs submitted in %.1fs\n", sid, submitted, time.Since(began).Seconds())
			_, _ = fmt.Fprintln(c.stdout, sid)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&app, "application", "", "the jobs' application (default: the simulation's)")
	f.StringVar(&format, "format", "", "csv or json (default: the file's extension)")
	f.IntVar(&chunk, "chunk", DefaultChunk, "jobs per append request")
	f.BoolVar(&reset, "reset", false, "reset the simulation before each job")
	return cmd
}

// chunks splits inputs into parts of at most n inputs and about maxBytes of JSON.
func chunks(inputs []json.RawMessage, n, maxBytes int) [][]json.RawMessage {
	var out [][]json.RawMessage
	start, size := 0, 0
	for i, in := range inputs {
		job := len(in) + 128 // the job's envelope
		if i > start && (i-start == n || size+job > maxBytes) {
			out, start, size = append(out, inputs[start:i]), i, 0
		}
		size += job
	}
	return append(out, inputs[start:])
}
