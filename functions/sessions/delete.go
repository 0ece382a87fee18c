package sessions

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/httpx"
)

// Deleter serves DELETE /session/{id} (turb_client's turbine_session_delete).
type Deleter struct {
	Store  *sessionstore.Store
	S3     *s3.Client
	Bucket string // the session bucket: job outputs
}

// Delete removes the session, its jobs, result pages and outputs, and
// answers its id; 409 while jobs are not final (kill it first).
func (d *Deleter) Delete(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	sid, err := httpx.SessionID(req)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	err = d.Store.DeleteSession(ctx, user, sid, func(ctx context.Context) error {
		return d.deleteOutputs(ctx, objectkey.SessionPrefix(user, sid))
	})
	if errors.Is(err, sessionstore.ErrSessionBusy) {
		return events.APIGatewayProxyResponse{}, httpx.Errorf(http.StatusConflict, "session %s has jobs not yet finished; kill it first", sid)
	}
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return httpx.JSON(http.StatusOK, sid)
}

func (d *Deleter) deleteOutputs(ctx context.Context, prefix string) error {
	p := s3.NewListObjectsV2Paginator(d.S3, &s3.ListObjectsV2Input{Bucket: &d.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		objs := make([]s3types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			objs[i] = s3types.ObjectIdentifier{Key: o.Key}
		}
		quiet := true
		out, err := d.S3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &d.Bucket, Delete: &s3types.Delete{Objects: objs, Quiet: &quiet}})
		if err != nil {
			return fmt.Errorf("delete %s: %w", prefix, err)
		}
		if len(out.Errors) > 0 {
			return fmt.Errorf("delete %s: %d objects refused", prefix, len(out.Errors))
		}
	}
	return nil
}
