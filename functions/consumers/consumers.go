// Package consumers serves GET /consumer (turb_client's
// turbine_consumer_list): the workers alive, from their heartbeat records.
package consumers

import (
	"context"
	"net/http"
	"sort"

	"github.com/aws/aws-lambda-go/events"

	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/httpx"
)

// Service holds what the route uses.
type Service struct {
	Store *sessionstore.Store
}

// Consumer is one element of the answer. Job and Session are the caller's
// own only: the workers are shared, another user's job ids are not.
type Consumer struct {
	ID        string `json:"Id"`
	Instance  string `json:"Instance"`
	Heartbeat string `json:"Heartbeat"`
	Status    string `json:"Status"` // "busy" or "idle", for every caller
	Job       string `json:"Job,omitempty"`
	Session   string `json:"Session,omitempty"`
}

// List answers the workers whose last heartbeat is recent, by id.
func (s *Service) List(ctx context.Context, _ events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	out := []Consumer{}
	for c, err := range s.Store.Consumers(ctx) {
		if err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		v := Consumer{ID: c.ID, Instance: c.Instance, Heartbeat: c.Beat, Status: "idle"}
		if c.Job != "" {
			v.Status = "busy"
		}
		if c.User == user {
			v.Job, v.Session = c.Job, c.Session
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].ID < out[k].ID })
	return httpx.JSON(http.StatusOK, out)
}
