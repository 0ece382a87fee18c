package registry

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

// Serve is the body of every Lambda main: JSON logs, the function's handler
// built once by build (a Builder method: the bootstrap links only the clients
// that function uses), then every invocation served with it. A function that
// cannot start exits non-zero, so Lambda reports an init error.
func Serve[H any](build func(*Builder) (H, error)) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	cfg, err := LambdaConfig()
	if err == nil {
		var h H
		if h, err = build(NewBuilder(cfg, OSEnv())); err == nil {
			lambda.Start(h)
			return
		}
	}
	slog.Error("start", "err", err)
	os.Exit(1)
}
