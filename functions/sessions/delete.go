package sessions

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/s3prefix"
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
		_, err := s3prefix.Delete(ctx, d.S3, d.Bucket, objectkey.SessionPrefix(user, sid))
		return err
	})
	if errors.Is(err, sessionstore.ErrSessionBusy) {
		return events.APIGatewayProxyResponse{}, httpx.Errorf(http.StatusConflict, "session %s has jobs not yet finished; kill it first", sid)
	}
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return httpx.JSON(http.StatusOK, sid)
}
