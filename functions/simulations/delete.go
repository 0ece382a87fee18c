package simulations

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/httpx"
)

// Deleter serves DELETE /simulation/{name} (turb_client's
// turbine_simulation_delete). Workers read a simulation's files when a job
// starts, so a simulation with jobs not yet final in any of the user's
// sessions is refused (409) rather than pulled from under them: kill those
// sessions first.
type Deleter struct {
	*Service
	Store *sessionstore.Store
}

// deleteBatch is S3 DeleteObjects' limit.
const deleteBatch = 1000

// Delete removes every object of the simulation, meta.json and marker
// included, page by page, and answers the name.
func (d *Deleter) Delete(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	name := req.PathParameters["name"]
	if _, err := d.simulation(ctx, user, name); err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	if busy, err := d.inUse(ctx, user, name); err != nil {
		return events.APIGatewayProxyResponse{}, err
	} else if busy != "" {
		return events.APIGatewayProxyResponse{}, httpx.Errorf(http.StatusConflict, "simulation %s has jobs not yet finished in session %s; kill it first", name, busy)
	}
	prefix := objectkey.SimulationPrefix(user, name)
	p := s3.NewListObjectsV2Paginator(d.S3, &s3.ListObjectsV2Input{Bucket: &d.Bucket, Prefix: &prefix, MaxKeys: ptr(int32(deleteBatch))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return events.APIGatewayProxyResponse{}, fmt.Errorf("list %s: %w", prefix, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		objs := make([]s3types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			objs[i] = s3types.ObjectIdentifier{Key: o.Key}
		}
		out, err := d.S3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &d.Bucket, Delete: &s3types.Delete{Objects: objs, Quiet: ptr(true)}})
		if err != nil {
			return events.APIGatewayProxyResponse{}, fmt.Errorf("delete %s: %w", prefix, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return events.APIGatewayProxyResponse{}, fmt.Errorf("delete %s: %d objects refused, first %s: %s", prefix, len(out.Errors), deref(e.Key), deref(e.Message))
		}
	}
	return httpx.JSON(http.StatusOK, name)
}

// inUse names a session of user with a job of simulation name that is not
// final, or "".
func (d *Deleter) inUse(ctx context.Context, user, name string) (string, error) {
	for sess, err := range d.Store.Sessions(ctx, user) {
		if err != nil {
			return "", err
		}
		jobs, err := d.Store.Jobs(ctx, user, sess.ID)
		if err != nil {
			return "", err
		}
		for _, j := range jobs {
			if j.Simulation == name && !j.State.Terminal() {
				return sess.ID, nil
			}
		}
	}
	return "", nil
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
