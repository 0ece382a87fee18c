package consumer

import (
	"context"
	"errors"
	"log/slog"
	"time"

	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// extend keeps a running job ours: every ExtendEvery it extends the job's
// lease in the store, which is also the kill poll (a job ended meanwhile
// refuses the extension as already final), and, when the message would
// become visible within half a lease, the message's visibility. A refusal
// stops the run through stop. The returned func ends the extension and
// waits for it.
func (c *Consumer) extend(ctx context.Context, stop context.CancelCauseFunc, k job.Key, m sqstypes.Message, visibleUntil time.Time, log *slog.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(c.s.ExtendEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			_, err := c.store.ExtendLease(ctx, k, c.ID, time.Now().Add(c.s.Lease))
			var he *sessionstore.HeldError
			var te *job.TransitionError
			switch {
			case err == nil:
			case errors.Is(err, job.ErrAlreadyFinal):
				stop(errKilled)
				return
			case errors.As(err, &he), errors.As(err, &te):
				stop(errLost)
				return
			case ctx.Err() != nil:
				return
			default:
				log.Warn("lease extension failed; retrying at the next tick", "err", err)
			}
			if time.Until(visibleUntil) < c.s.Lease/2 {
				c.setVisibility(ctx, m, c.s.Lease, log)
				visibleUntil = time.Now().Add(c.s.Lease)
			}
		}
	}()
	return func() { cancel(); <-done }
}
