package mototest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/foqus-cloud/stack/core/resource"
)

// Lifecycle is the result lifecycle's queues, each with its DLQ.
type Lifecycle struct {
	ArchiveQueueURL, ArchiveDLQURL string
	ThawQueueURL, ThawDLQURL       string
}

// The tier settings of a test stack: a free user's results are archived ten
// seconds after the session's last job (time for a test to see them live first, under -race); notices come from Sender, a
// verified SES identity.
const (
	LifecycleWindow = "10"
	FreeJobLimit    = "10000"
	Sender          = "foqus-test@example.org"
)

// LifecycleVisibility is the lifecycle queues' visibility timeout in tests:
// a failed message comes back (and reaches its DLQ) within seconds.
const LifecycleVisibility = 1

// createLifecycle creates the archive and thaw queues (and DLQs) and the
// verified sender identity.
func (st *Stack) createLifecycle(ctx context.Context, suffix string) (Lifecycle, error) {
	q := sqs.NewFromConfig(st.Config)
	var l Lifecycle
	var err error
	if l.ArchiveQueueURL, l.ArchiveDLQURL, err = queueWithDLQ(ctx, q, suffix, resource.ArchiveQueue, resource.ArchiveDLQ, LifecycleVisibility); err != nil {
		return Lifecycle{}, err
	}
	if l.ThawQueueURL, l.ThawDLQURL, err = queueWithDLQ(ctx, q, suffix, resource.ThawQueue, resource.ThawDLQ, LifecycleVisibility); err != nil {
		return Lifecycle{}, err
	}
	if _, err := sesv2.NewFromConfig(st.Config).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(Sender)}); err != nil {
		return Lifecycle{}, fmt.Errorf("verify sender %s: %w", Sender, err)
	}
	return l, nil
}

// Mail is one e-mail moto's SES recorded.
type Mail struct {
	Source       string         `json:"source"`
	Subject      string         `json:"subject"`
	Body         string         `json:"body"`
	Destinations map[string]any `json:"destinations"`
}

// SentMails reads the e-mails SES sent so far from moto's data API.
func SentMails(ctx context.Context, endpoint string) ([]Mail, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/moto-api/data.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("moto data: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("moto data: %s", resp.Status)
	}
	var data map[string]map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		return nil, fmt.Errorf("moto data: %w", err)
	}
	var out []Mail
	for _, v := range data["ses"] {
		var list []Mail
		if json.Unmarshal(v, &list) != nil {
			continue // other SES models
		}
		for _, m := range list {
			if m.Subject != "" || m.Body != "" {
				out = append(out, m)
			}
		}
	}
	return out, nil
}
