package main

import (
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkUpload: a 64 MiB installer to moto, hashed while it streams
// against the same upload without the hash (the SHA-256 needs no second
// read of the file; the figures say what it costs).
func BenchmarkUpload(b *testing.B) {
	ctx := context.Background()
	cfg, err := srv.Config(ctx)
	if err != nil {
		b.Fatal(err)
	}
	client := newClients(cfg).S3
	bucket := "foqus-artifacts-bench"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		b.Fatal(err)
	}
	const size = 64 << 20
	data := make([]byte, size)
	_, _ = rand.Read(data)
	file := filepath.Join(b.TempDir(), "media.zip")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		b.Fatal(err)
	}
	up := transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes, o.MultipartUploadThreshold, o.Concurrency = PartSize, PartSize, Concurrency
	})
	p := newProgress(io.Discard, false)
	b.Run("hashed", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := uploadFile(ctx, up, bucket, localFile{Key: "installers/media.zip", Path: file, Size: size}, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			fh, err := os.Open(file)
			if err != nil {
				b.Fatal(err)
			}
			_, err = up.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String(bucket), Key: aws.String("installers/plain.zip"), Body: struct{ io.Reader }{fh}, ContentLength: aws.Int64(size)})
			_ = fh.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
