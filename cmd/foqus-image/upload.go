package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/foqus-cloud/stack/ami"
)

// PartSize of the multipart uploads: the Aspen media is gigabytes; 16 MiB
// parts keep memory near PartSize x Concurrency, and the transfer manager
// grows them past 160 GB (S3's 10,000 parts).
const (
	PartSize    = 16 << 20
	Concurrency = 4
)

// upload puts every file into bucket, hashing each while it streams, then
// writes the manifest of their SHA-256s and the settings: last, so a bake
// never finds a manifest naming files that are not there yet.
func upload(ctx context.Context, client *s3.Client, bucket string, files []localFile, settings map[string]string, p *progress) (ami.Manifest, error) {
	up := transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes, o.MultipartUploadThreshold, o.Concurrency = PartSize, PartSize, Concurrency
	})
	m := ami.Manifest{Files: map[string]string{}, Settings: settings}
	for _, f := range files {
		sum, err := uploadFile(ctx, up, bucket, f, p)
		if err != nil {
			return m, err
		}
		m.Files[f.Key] = sum
	}
	if err := m.Check(); err != nil {
		return m, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(manifestKey), Body: bytes.NewReader(b), ContentType: aws.String("application/json"),
	}); err != nil {
		return m, fmt.Errorf("write s3://%s/%s: %w", bucket, manifestKey, err)
	}
	return m, nil
}

// uploadFile streams f through a SHA-256 and the progress display. The body
// is a plain io.Reader (no Seek, no ReadAt): the transfer manager then reads
// it once, in order, part by part, so the hash is of exactly the bytes uploaded.
func uploadFile(ctx context.Context, up *transfermanager.Client, bucket string, f localFile, p *progress) (string, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return "", err
	}
	defer func() { _ = fh.Close() }()
	h := sha256.New()
	counted := &countingReader{r: io.TeeReader(fh, h)}
	body := io.TeeReader(counted, p.file(f.Key, f.Size))
	if _, err := up.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(f.Key), Body: body, ContentLength: aws.Int64(f.Size), ContentType: aws.String("application/octet-stream"),
	}); err != nil {
		p.fileFailed()
		return "", fmt.Errorf("upload %s to s3://%s/%s: %w", f.Path, bucket, f.Key, err)
	}
	if counted.n != f.Size {
		p.fileFailed()
		return "", fmt.Errorf("%s changed while uploading (%d bytes read, %d expected): upload again", f.Path, counted.n, f.Size)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	p.fileDone(f.Key, f.Size, sum)
	return sum, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
