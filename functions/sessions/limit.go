package sessions

import (
	"context"
	"errors"
	"net/http"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/core/user"
	"github.com/foqus-cloud/stack/functions/httpx"
)

// Tiers limits free users' sessions to FreeJobLimit jobs.
type Tiers struct {
	Users        *user.Store
	FreeJobLimit int64
}

// appendJobs appends under the user's tier limit: a free user's append that
// would pass it is refused whole with 403 and the limit.
func (s *Service) appendJobs(ctx context.Context, name, sid string, reqs []sessionstore.NewJob) ([]job.Job, error) {
	if s.Tiers == nil {
		jobs, err := s.Store.Append(ctx, name, sid, reqs)
		return jobs, refuseArchived(appendFailed, err)
	}
	u, err := s.Tiers.Users.Get(ctx, name)
	if err != nil && !errors.Is(err, user.ErrUnknownUser) { // a principal without a record is on the default tier
		return nil, err
	}
	var limit int64
	if u.Tier != user.Premium {
		limit = s.Tiers.FreeJobLimit
	}
	jobs, err := s.Store.AppendUpTo(ctx, name, sid, reqs, limit)
	var le *sessionstore.JobLimitError
	if errors.As(err, &le) {
		return nil, httpx.Errorf(http.StatusForbidden, "Failed to append jobs: a session holds at most %d jobs on the free plan; upgrade to premium for more", le.Limit)
	}
	return jobs, refuseArchived(appendFailed, err)
}

const appendFailed = "Failed to append jobs"
