package simulations

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/s3prefix"
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

// Delete removes every object of the simulation, meta.json and marker
// included, and answers the name.
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
	if _, err := s3prefix.Delete(ctx, d.S3, d.Bucket, objectkey.SimulationPrefix(user, name)); err != nil {
		return events.APIGatewayProxyResponse{}, err
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
