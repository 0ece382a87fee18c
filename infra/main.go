// Command infra is the CDK app of the FOQUS cloud: `cdk synth -c stage=dev`
// (or make synth STAGE=dev) declares the stage's stacks. Like `cdk synth`, it
// exits non-zero when synthesis reports errors (cdk-nag findings included).
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/infra/config"
	"github.com/foqus-cloud/stack/infra/stacks"
)

func main() {
	err := run()
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "foqus cdk app:", err)
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	// The CDK CLI passes cdk.json's context; a direct run (make synth) reads
	// the file here, without overriding what CDK_CONTEXT_JSON already set.
	if app.Node().TryGetContext(jsii.String("stages")) == nil {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		path, err := config.FindCDKJSON(wd)
		if err != nil {
			return err
		}
		ctx, err := config.FileContext(path)
		if err != nil {
			return err
		}
		for k, v := range ctx {
			if app.Node().TryGetContext(jsii.String(k)) == nil {
				app.Node().SetContext(jsii.String(k), v)
			}
		}
	}
	name, _ := app.Node().TryGetContext(jsii.String("stage")).(string)
	base, _ := app.Node().TryGetContext(jsii.String("base")).(string)
	overrides := map[string]string{}
	for _, k := range config.Keys() {
		if v := app.Node().TryGetContext(jsii.String("stage." + k)); v != nil {
			overrides[k] = fmt.Sprint(v)
		}
	}
	st, err := config.ParseDerived(app.Node().TryGetContext(jsii.String("stages")), name, base, overrides)
	if err != nil {
		return err
	}
	buildDir, err := stacks.BuildDir()
	if err != nil {
		return err
	}
	if _, err := stacks.Build(app, st, buildDir); err != nil {
		return err
	}
	if _, err := stacks.BuildCI(app, st); err != nil {
		return err
	}
	asm := app.Synth(nil)
	var errs int
	for _, stack := range *asm.Stacks() {
		for _, m := range *stack.Messages() {
			// SynthesisMessage is marked deprecated only because its TypeScript
			// definition moved package; it is what Go's assembly API returns.
			if m.Level == "error" { //nolint:staticcheck // see above
				errs++
				fmt.Fprintf(os.Stderr, "%s: %v\n", *m.Id, m.Entry.Data) //nolint:staticcheck // see above
			}
		}
	}
	if errs > 0 {
		return fmt.Errorf("%d synthesis errors (see above)", errs)
	}
	fmt.Fprintf(os.Stderr, "synthesized stage %s into %s\n", st.Name, *asm.Directory())
	return nil
}
