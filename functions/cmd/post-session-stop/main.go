// Command post-session-stop is the Lambda bootstrap serving its API routes: it builds its
// clients once, then serves every invocation with them.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/foqus-cloud/stack/functions/registry"
)

func main() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	cfg, err := registry.LambdaConfig()
	if err != nil {
		slog.Error("start", "err", err)
		os.Exit(1)
	}
	h, err := registry.NewBuilder(cfg, registry.OSEnv()).SessionStop()
	if err != nil {
		slog.Error("start", "err", err)
		os.Exit(1)
	}
	lambda.Start(h)
}
