// Package s3prefix deletes many objects of a bucket: every object under a
// key prefix (listed page by page) or a list of keys, in DeleteObjects
// requests of at most S3's 1,000 keys.
package s3prefix

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// MaxDeleteKeys is S3's limit of keys per DeleteObjects request (and the
// most a ListObjectsV2 page holds).
const MaxDeleteKeys = 1000

// DeleteError says S3 refused to delete some objects of a request.
type DeleteError struct {
	Refused       int    // objects refused in the request
	Key, Code     string // the first one refused, and why
	Message, What string // S3's message; what was being deleted
}

func (e *DeleteError) Error() string {
	return fmt.Sprintf("delete %s: %d objects refused, first %s: %s %s", e.What, e.Refused, e.Key, e.Code, e.Message)
}

// Delete removes every object whose key starts with prefix and returns how
// many it asked S3 to delete. An empty prefix is refused: it is the whole bucket.
func Delete(ctx context.Context, c *s3.Client, bucket, prefix string) (int, error) {
	return DeleteExcept(ctx, c, bucket, prefix, "")
}

// DeleteExcept is Delete sparing the object under key keep (none when empty).
func DeleteExcept(ctx context.Context, c *s3.Client, bucket, prefix, keep string) (int, error) {
	if prefix == "" {
		return 0, fmt.Errorf("delete objects of bucket %s: an empty prefix is the whole bucket", bucket)
	}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix, MaxKeys: aws.Int32(MaxDeleteKeys)})
	n := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("list %s: %w", prefix, err)
		}
		objs := make([]s3types.ObjectIdentifier, 0, len(page.Contents))
		for _, o := range page.Contents {
			if aws.ToString(o.Key) != keep { // keys are never empty: "" spares none
				objs = append(objs, s3types.ObjectIdentifier{Key: o.Key})
			}
		}
		if err := deleteObjects(ctx, c, bucket, prefix, objs); err != nil {
			return n, err
		}
		n += len(objs)
	}
	return n, nil
}

// DeleteKeys removes the objects under keys (a key with no object is no
// error: S3 deletes are idempotent).
func DeleteKeys(ctx context.Context, c *s3.Client, bucket, what string, keys []string) error {
	for start := 0; start < len(keys); start += MaxDeleteKeys {
		chunk := keys[start:min(start+MaxDeleteKeys, len(keys))]
		objs := make([]s3types.ObjectIdentifier, len(chunk))
		for i, k := range chunk {
			objs[i] = s3types.ObjectIdentifier{Key: aws.String(k)}
		}
		if err := deleteObjects(ctx, c, bucket, what, objs); err != nil {
			return err
		}
	}
	return nil
}

func deleteObjects(ctx context.Context, c *s3.Client, bucket, what string, objs []s3types.ObjectIdentifier) error {
	if len(objs) == 0 {
		return nil
	}
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket, Delete: &s3types.Delete{Objects: objs, Quiet: aws.Bool(true)}})
	if err != nil {
		return fmt.Errorf("delete %s: %w", what, err)
	}
	if len(out.Errors) > 0 {
		e := out.Errors[0]
		return &DeleteError{Refused: len(out.Errors), Key: aws.ToString(e.Key), Code: aws.ToString(e.Code), Message: aws.ToString(e.Message), What: what}
	}
	return nil
}
