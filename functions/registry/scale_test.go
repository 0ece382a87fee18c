package registry_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/event"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/jobview"
)

// A 2,000-job session, appended in chunks of 20 as the FOQUS client does and
// started twice at once: every job reaches the job queue exactly once, and
// two generators each page through every result exactly once.
func TestLargeSessionStartedTwiceConcurrently(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("2,000 jobs through moto")
	}
	const total, chunk = 2000, 20
	e := newEnv(t)
	ctx := context.Background()
	var sid string
	e.ok("POST", "/session", "alice", "", &sid)
	var ids []string
	for i := 0; i < total; i += chunk {
		var got []string
		e.ok("POST", "/session/"+sid, "alice", jobsBody(i, chunk, "fake-job"), &got)
		ids = append(ids, got...)
	}

	// Drain the job queue while the starts publish (moto's SQS slows with depth).
	started := make(chan struct{})
	received := make(chan []sqstypes.Message)
	go func() { received <- e.drainWhile(e.st.JobQueueURL, started) }()

	began := time.Now()
	var wg sync.WaitGroup
	answers := make([][]string, 2)
	for i := range answers {
		wg.Go(func() { e.ok("POST", "/session/"+sid+"/start", "alice", "", &answers[i]) })
	}
	wg.Wait()
	t.Logf("two concurrent starts of %d jobs answered in %v (%d + %d ids)", total, time.Since(began), len(answers[0]), len(answers[1]))
	close(started)
	// A job's count is its distinct SQS messages: moto's concurrent receives
	// sometimes hand one message to two receivers (same MessageId).
	seen, messages := map[string]int{}, map[string]bool{}
	for _, m := range <-received {
		dec, err := event.Decode(*m.Body, event.SQSAttributes(m.MessageAttributes))
		if err != nil {
			t.Fatal(err)
		}
		if !messages[*m.MessageId] {
			messages[*m.MessageId] = true
			seen[dec.(event.Submit).Job]++
		}
	}

	answered := map[string]bool{}
	for _, a := range answers {
		for _, id := range a {
			if answered[id] {
				t.Fatalf("job %s answered by both starts", id)
			}
			answered[id] = true
		}
	}
	for _, id := range ids {
		if seen[id] != 1 || !answered[id] {
			t.Fatalf("job %s enqueued %d times, answered %v", id, seen[id], answered[id])
		}
	}
	if len(seen) != total {
		t.Fatalf("%d distinct jobs enqueued, want %d", len(seen), total)
	}

	// Workers finish the jobs in two waves; generator A pages between them.
	finishAll := func(part []string) {
		fs := make([]sessionstore.Finish, len(part))
		for i, id := range part {
			fs[i] = sessionstore.Finish{ID: id, State: job.Success, Output: []byte(`{"graphError":0,"n":` + strconv.Itoa(i) + `}`)}
			if i%97 == 0 {
				fs[i] = sessionstore.Finish{ID: id, State: job.Error, Message: "node error"}
			}
		}
		finish(t, e, sid, fs)
	}
	pages := map[string][]int{}
	records := map[string]map[string]int{genA: {}, genB: {}}
	page := func(gen string) {
		for {
			n, _ := strconv.Atoi(e.newPage("alice", sid, gen))
			if len(pages[gen]) > 0 && n == pages[gen][len(pages[gen])-1] || n == 0 {
				return
			}
			pages[gen] = append(pages[gen], n)
			var recs []jobview.Record
			e.ok("GET", "/session/"+sid+"/result/"+gen+"/"+strconv.Itoa(n), "alice", "", &recs)
			for _, r := range recs {
				if r.State == "" || (r.State == job.Success && !json.Valid(r.Output)) || (r.State == job.Error && r.Message == "") {
					t.Fatalf("record %+v", r)
				}
				records[gen][r.ID]++
			}
		}
	}
	finishAll(ids[:1300])
	page(genA)
	finishAll(ids[1300:])
	page(genA)
	page(genB)
	for _, gen := range []string{genA, genB} {
		if len(records[gen]) != total {
			t.Fatalf("generator %s paged %d distinct jobs, want %d", gen, len(records[gen]), total)
		}
		for id, n := range records[gen] {
			if n != 1 {
				t.Fatalf("generator %s saw job %s %d times", gen, id, n)
			}
		}
	}
	t.Logf("generator A pages %v, generator B pages %v", pages[genA], pages[genB])
	if out, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &e.st.JobQueueURL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	}); err != nil || out.Attributes["ApproximateNumberOfMessages"] != "0" {
		t.Fatalf("job queue not empty: %v %v", out.Attributes, err)
	}
}
