package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/functions/httpx"
	"github.com/foqus-cloud/stack/functions/simulations"
)

// applicationOf names the application of each configuration marker the
// API's classifier answers (the Application a PUT /simulation takes).
var applicationOf = map[string]string{
	simulations.MarkerFOQUS:     "foqus",
	simulations.MarkerACM:       "ACM",
	simulations.MarkerAspenPlus: "AspenPlus",
	simulations.MarkerFakeJob:   "fake-job",
	simulations.MarkerPlugin:    "foqus-user-plugin",
}

func (c *cli) simulationCommand() *cobra.Command {
	var asJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List your simulations", Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			sims, err := api.Simulations(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c.stdout, sims)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			_, _ = fmt.Fprintln(tw, "NAME\tAPPLICATION")
			for _, s := range sims {
				_, _ = fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Application)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")

	get := &cobra.Command{
		Use: "get NAME", Short: "Show a simulation and its staged files", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			sim, err := api.Simulation(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c.stdout, sim)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			_, _ = fmt.Fprintf(tw, "NAME\t%s\nAPPLICATION\t%s\n", sim.Name, sim.Application)
			for _, in := range sim.StagedInputs {
				_, _ = fmt.Fprintf(tw, "FILE\t%s\n", in.Name)
			}
			return tw.Flush()
		},
	}
	get.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")

	var app string
	var inlineMax int64
	var signedFlag bool
	upload := &cobra.Command{
		Use:   "upload NAME [CONFIGURATION [FILE...]]",
		Short: "Create or update a simulation: its configuration and model files",
		Long: `Create or update simulation NAME. CONFIGURATION is a SimSinter configuration
(ACM, Aspen Plus, a FOQUS user plugin) or a FOQUS session; its application is
read from it unless --application names one (fake-job takes no configuration:
every FILE is an input).
Each FILE (the model, extra inputs) is uploaded under its base name: through the
API up to --inline-max bytes, by a signed URL above that (or always, when
turbine.cfg says [Simulation] SignedUrl = True).`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, files := args[0], args[1:]
			var config []byte
			if len(files) > 0 && !strings.EqualFold(app, job.AppFakeJob) { // fake-job has no configuration
				var err error
				if config, err = os.ReadFile(files[0]); err != nil {
					return err
				}
				files = files[1:]
				if app == "" {
					marker, err := simulations.Classify(config)
					var he *httpx.Error
					if errors.As(err, &he) {
						return fmt.Errorf("%s: %s", args[1], he.Message) // the API's words, without its status
					}
					if err != nil {
						return fmt.Errorf("%s: %w", args[1], err)
					}
					app = applicationOf[marker]
				}
			}
			if app == "" {
				return &usageError{fmt.Errorf("no configuration to read the application from: give --application")}
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			signed := c.signedURL
			if cmd.Flags().Changed("signed-url") {
				signed = signedFlag
			}
			if err := api.PutSimulation(ctx, name, app); err != nil {
				return err
			}
			if config != nil {
				if err := api.PutInput(ctx, name, simulations.Configuration, config); err != nil {
					return err
				}
				_, _ = fmt.Fprintf(c.stderr, "configuration %s uploaded\n", args[1])
			}
			for _, f := range files {
				body, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				base, how := filepath.Base(f), "through the API"
				if signed || int64(len(body)) > inlineMax {
					err, how = api.PutSigned(ctx, name, base, body), "by signed URL"
				} else {
					err = api.PutInput(ctx, name, base, body)
				}
				if err != nil {
					return err
				}
				_, _ = fmt.Fprintf(c.stderr, "%s (%d bytes) uploaded %s\n", base, len(body), how)
			}
			_, _ = fmt.Fprintln(c.stdout, name)
			return nil
		},
	}
	upload.Flags().StringVar(&app, "application", "", "the simulation's application (foqus, ACM, AspenPlus, fake-job, foqus-user-plugin)")
	upload.Flags().BoolVar(&signedFlag, "signed-url", false, "upload every file by signed URL (default: turbine.cfg's [Simulation] SignedUrl)")
	upload.Flags().Int64Var(&inlineMax, "inline-max", simulations.MaxInlineFile, "largest file uploaded through the API; larger ones go by signed URL")

	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a simulation and its files", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			if err := api.DeleteSimulation(cmd.Context(), args[0]); err != nil {
				return err
			}
			_, _ = fmt.Fprintln(c.stdout, args[0])
			return nil
		},
	}
	return group("simulation", "Upload, list, show and delete simulations", list, get, upload, del)
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
