package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/foqus-cloud/stack/cmd/foqus-cloud/internal/apiclient"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/functions/jobview"
)

// pagePoll is the wait between result page creations while finished jobs
// are not on a page yet.
const pagePoll = 500 * time.Millisecond

// result is one job of an export, in the session's append order.
type result struct {
	ID      string          `json:"Id"`
	State   job.State       `json:"State"`
	Message string          `json:"Message,omitempty"`
	Input   json.RawMessage `json:"Input"`
	Output  json.RawMessage `json:"Output,omitempty"`
}

func (c *cli) resultsCommand() *cobra.Command {
	var format, output string
	var timeout time.Duration
	var allow bool
	cmd := &cobra.Command{
		Use:   "results SESSION",
		Short: "Export every job of a session with its outputs, as CSV or JSON",
		Long: `Export every job of the session in append order: its state, message, inputs
and, for finished jobs, outputs (CSV: one column per input and output variable,
named Input.<path> and Output.<path>; JSON: the objects as they are). Pages
through the session's results with a generator of its own, so FOQUS or another
reader of the same session is not disturbed. Exits 3 when a job did not
succeed (or has not finished), unless --allow-failures.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format == "" {
				format = strings.TrimPrefix(strings.ToLower(filepath.Ext(output)), ".")
				if format == "" {
					format = "csv"
				}
			}
			if format != "csv" && format != "json" {
				return &usageError{fmt.Errorf("--format %q: want csv or json", format)}
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			rows, t, err := collect(cmd.Context(), api, args[0], timeout)
			if err != nil {
				return err
			}
			w, closeOut := c.stdout, func() error { return nil }
			if output != "" && output != "-" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				w, closeOut = f, f.Close
			}
			bw := bufio.NewWriter(w)
			if format == "json" {
				err = writeJSON(bw, rows)
			} else {
				err = writeCSV(bw, rows)
			}
			if err == nil {
				err = bw.Flush()
			}
			if cerr := closeOut(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			_, _ = fmt.Fprintf(c.stderr, "session %s: %d jobs exported: %s\n", args[0], len(rows), t)
			return t.verdict(allow)
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "", "csv or json (default: the --output extension, else csv)")
	f.StringVarP(&output, "output", "o", "", "file to write (default: standard output)")
	f.DurationVar(&timeout, "timeout", DefaultResults, "how long to wait for finished jobs to reach a result page")
	f.BoolVar(&allow, "allow-failures", false, "exit 0 even when jobs did not succeed")
	return cmd
}

// collect reads the session's jobs and pages through a fresh generator until
// every job that had finished is on a page.
func collect(ctx context.Context, api *apiclient.Client, sid string, timeout time.Duration) ([]result, tally, error) {
	jobs, err := api.Jobs(ctx, sid)
	if err != nil {
		return nil, tally{}, err
	}
	if len(jobs) == 0 {
		return nil, tally{}, fmt.Errorf("session %s has no jobs", sid)
	}
	want := 0
	for _, j := range jobs {
		if j.State.Terminal() {
			want++
		}
	}
	gen, err := api.NewGenerator(ctx, sid)
	if err != nil {
		return nil, tally{}, err
	}
	recs := map[string]jobview.Record{}
	deadline := time.Now().Add(timeout)
	for read := 0; ; {
		n, err := api.CreatePage(ctx, sid, gen)
		if err != nil {
			return nil, tally{}, err
		}
		for ; read < n; read++ {
			page, err := api.Page(ctx, sid, gen, read+1)
			if err != nil {
				return nil, tally{}, err
			}
			for _, r := range page {
				recs[r.ID] = r
			}
		}
		if covered(jobs, recs) {
			break
		}
		if time.Now().After(deadline) {
			return nil, tally{}, fmt.Errorf("session %s: after %s, result pages hold %d of its %d finished jobs", sid, timeout, len(recs), want)
		}
		select {
		case <-ctx.Done():
			return nil, tally{}, ctx.Err()
		case <-time.After(pagePoll):
		}
	}
	rows := make([]result, len(jobs))
	for i, j := range jobs {
		rows[i] = result{ID: j.ID, State: j.State, Message: j.Message, Input: j.Input}
		if r, ok := recs[j.ID]; ok { // finished, perhaps since the jobs were read
			rows[i].State, rows[i].Message, rows[i].Output = r.State, r.Message, r.Output
			jobs[i].State = r.State
		}
	}
	return rows, newTally(jobs), nil
}

// covered: every job that had finished when the jobs were read has a record.
func covered(jobs []jobview.Metadata, recs map[string]jobview.Record) bool {
	for _, j := range jobs {
		if _, ok := recs[j.ID]; j.State.Terminal() && !ok {
			return false
		}
	}
	return true
}

// writeCSV writes one row per job: Id, State, Message, then every input and
// output variable as a column, in name order.
func writeCSV(w io.Writer, rows []result) error {
	flat := make([]map[string]string, len(rows))
	cols := map[string]bool{}
	for i, r := range rows {
		flat[i] = map[string]string{}
		flatten("Input", r.Input, flat[i])
		flatten("Output", r.Output, flat[i])
		for k := range flat[i] {
			cols[k] = true
		}
	}
	names := sortedKeys(cols)
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"Id", "State", "Message"}, names...)); err != nil {
		return err
	}
	for i, r := range rows {
		rec := append(make([]string, 0, 3+len(names)), r.ID, string(r.State), r.Message)
		for _, n := range names {
			rec = append(rec, flat[i][n])
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
