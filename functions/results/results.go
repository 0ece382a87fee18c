// Package results serves result pages (spec R10-R12). Pages are kept per
// generator id and never consumed: two readers, or a client that reconnects,
// each page through every finished job once.
package results

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/smithy-go"

	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/httpx"
	"github.com/foqus-cloud/stack/functions/jobview"
)

// Service holds what the result routes use.
type Service struct {
	Store    *sessionstore.Store
	Outputs  *jobview.Loader
	PageSize int           // finished jobs per page; sessionstore.DefaultPageSize when 0
	Budget   time.Duration // a generator call's bound on the store; ResultBudget when 0
}

func ids(req events.APIGatewayProxyRequest) (sid, gen string, err error) {
	if sid, err = httpx.SessionID(req); err != nil {
		return "", "", err
	}
	gen = req.PathParameters["generator"]
	if err := objectkey.ID(gen); err != nil {
		return "", "", err
	}
	return sid, gen, nil
}

// Generator serves /session/{id}/result/{generator}: POST puts the jobs
// finished since the generator's last page on a new page and answers its
// number as a bare integer (R10), the last page's when nothing finished
// since, 0 before the first; DELETE is accepted and changes nothing (R12).
//
// Any answer but 200 ends FOQUS's results loop for good (turb_client
// raises, graph.py stops polling), so POST answers 200 where the original
// did: 0 for a session unknown to the user (never appended, expired,
// another user's), and 0 with Retry-After and X-Foqus-Result: retry when
// the store was throttled or did not answer within ResultBudget. FOQUS
// then sees "nothing new yet" and polls again; nothing is lost, since pages
// are never consumed (the jobs finished meanwhile go on the next page).
// Other clients tell the two cases apart by the header.
func (s *Service) Generator(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	sid, gen, err := ids(req)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	if req.HTTPMethod == http.MethodDelete {
		if _, err := s.Store.GetSession(ctx, user, sid); err != nil {
			return events.APIGatewayProxyResponse{}, err
		}
		return httpx.Raw(http.StatusOK, "application/json", ""), nil
	}
	size := s.PageSize
	if size <= 0 {
		size = sessionstore.DefaultPageSize
	}
	budget := s.Budget
	if budget <= 0 {
		budget = ResultBudget
	}
	pctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	n, err := s.Store.CreatePage(pctx, user, sid, gen, size)
	switch {
	case errors.Is(err, sessionstore.ErrNotFound):
		return httpx.Raw(http.StatusOK, "application/json", "0"), nil
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil, throttled(err):
		slog.WarnContext(ctx, "result generator: store busy, answered 0 to poll again", "session", sid, "err", err)
		resp := httpx.Raw(http.StatusOK, "application/json", "0")
		resp.Headers["Retry-After"], resp.Headers[RetryHeader] = "1", "retry"
		return resp, nil
	case err != nil:
		return events.APIGatewayProxyResponse{}, err
	}
	return httpx.Raw(http.StatusOK, "application/json", strconv.Itoa(n)), nil
}

// ResultBudget bounds a result-generator call well inside API Gateway's 29 s,
// so a slow store is answered "poll again" rather than 504.
const ResultBudget = 10 * time.Second

// RetryHeader marks a generator answer of 0 that means "the store was busy".
const RetryHeader = "X-Foqus-Result"

// throttled reports an AWS throttling refusal that outlived the SDK's retries.
func throttled(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded", "TooManyRequestsException":
		return true
	}
	return false
}

// Page answers page {page} of a generator (R11): the finished-job records,
// each with State and, unless it succeeded, Message.
func (s *Service) Page(ctx context.Context, req events.APIGatewayProxyRequest, user string) (events.APIGatewayProxyResponse, error) {
	sid, gen, err := ids(req)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	raw := req.PathParameters["page"]
	num, err := strconv.Atoi(raw)
	if err != nil || num < 1 {
		return events.APIGatewayProxyResponse{}, httpx.Errorf(http.StatusBadRequest, "page number %q is not a positive integer", raw)
	}
	jobs, err := s.Store.Page(ctx, user, sid, gen, num)
	if errors.Is(err, sessionstore.ErrNotFound) {
		return events.APIGatewayProxyResponse{}, httpx.Errorf(http.StatusNotFound, "no result page number %d", num)
	}
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	outs, err := s.outputs(ctx, user, sid, jobs)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	recs := make([]jobview.Record, len(jobs))
	for i, j := range jobs {
		recs[i] = jobview.NewRecord(j, outs[i])
	}
	return httpx.JSON(http.StatusOK, recs)
}
