// Package awsconf loads the AWS SDK configuration once per process and builds
// the service clients the stack uses, with the settings an emulator needs.
package awsconf

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Load reads the default configuration chain (environment, shared files, IMDS).
// AWS_ENDPOINT_URL, honoured by the SDK itself, points every client at an emulator.
func Load(ctx context.Context, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

// NewS3 builds an S3 client; against a custom endpoint it uses path-style
// addressing, which emulators need. It does not log each GetObject response
// that carries no checksum (emulators send none; objects are read whole).
func NewS3(cfg aws.Config) *s3.Client {
	custom := cfg.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = custom
		o.DisableLogOutputChecksumValidationSkipped = true
	})
}
