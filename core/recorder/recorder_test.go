package recorder_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/recorder"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

// Redelivered and reordered events are no-ops; the first final event wins.
func TestApplyIsIdempotent(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	store := sessionstore.New(dynamodb.NewFromConfig(st.Config), st.ResourcesTable)
	r := &recorder.Recorder{Store: store}
	ctx := context.Background()
	sid := uuid.NewString()
	jobs, err := store.Append(ctx, "alice", sid, []sessionstore.NewJob{{Simulation: "s", Input: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	k := jobs[0].Key()
	if _, err := store.TransitionMany(ctx, []job.Key{k}, job.Submit); err != nil {
		t.Fatal(err)
	}
	ev := func(s job.State, msg string) event.Status {
		return event.Status{User: "alice", Session: sid, Job: k.ID, State: s, Message: msg, Output: json.RawMessage(`{"graphError":0}`), At: time.Now()}
	}
	for _, m := range []event.Status{ev(job.Running, ""), ev(job.Setup, ""), ev(job.Success, ""), ev(job.Success, ""), ev(job.Error, "late"), ev(job.Running, "")} {
		if err := r.Apply(ctx, m); err != nil {
			t.Fatalf("apply %s: %v", m.State, err)
		}
	}
	got, err := store.GetJob(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != job.Success || got.Message != "" || string(got.Output) != `{"graphError":0}` || got.FinishSeq != 1 {
		t.Fatalf("job ended as %+v", got)
	}
	other := ev(job.Success, "")
	other.Job = uuid.NewString()
	if err := r.Apply(ctx, other); err != nil {
		t.Fatalf("an event for a job that does not exist must be dropped, got %v", err)
	}
	if err := r.Apply(ctx, event.Control{User: "alice", Session: sid, Action: event.ActionKill}); err == nil {
		t.Fatal("a control event was silently accepted")
	}
}
