package results

import (
	"context"
	"encoding/json"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/functions/jobview"
)

// outputs are the jobs' outputs, or, while the session's results are
// archived or being restored, the archived marker (jobview.ArchivedOutput).
func (s *Service) outputs(ctx context.Context, user, sid string, jobs []job.Job) ([]json.RawMessage, error) {
	sess, err := s.Store.GetSession(ctx, user, sid)
	if err != nil {
		return nil, err
	}
	if !jobview.ShowsArchived(sess.Archive) {
		return s.Outputs.Outputs(ctx, jobs)
	}
	out := make([]json.RawMessage, len(jobs))
	for i, j := range jobs {
		out[i] = jobview.ArchivedOutput(j.Output, sess.Archive)
	}
	return out, nil
}
