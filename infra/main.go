// Command infra is the CDK app of the FOQUS cloud: `cdk synth -c stage=dev`
// (or make synth STAGE=dev) declares the stage's stacks.
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
	defer jsii.Close()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "foqus cdk app:", err)
		jsii.Close()
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	// The CDK CLI passes cdk.json's context; a direct run (make synth) reads it here.
	stages := app.Node().TryGetContext(jsii.String("stages"))
	if stages == nil {
		wd, _ := os.Getwd()
		path, err := config.FindCDKJSON(wd)
		if err != nil {
			return err
		}
		ctx, err := config.FileContext(path)
		if err != nil {
			return err
		}
		stages = ctx["stages"]
	}
	name, _ := app.Node().TryGetContext(jsii.String("stage")).(string)
	st, err := config.Parse(stages, name)
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
	app.Synth(nil)
	return nil
}
