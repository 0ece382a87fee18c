package registry_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/consumers"
)

// DELETE /simulation/{name}: the owner's, refused while a session's jobs of
// it are not final, leaves no object of it behind.
func TestDeleteSimulation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.ok("PUT", "/simulation/zzfoqus_flow", "alice", `{"Application":"foqus","StagedInputs":[],"Name":"zzfoqus_flow"}`, nil)
	e.ok("PUT", "/simulation/zzfoqus_flow/input/configuration", "alice", `{"Type":"FOQUS_Session","v":NaN}`, nil)
	e.ok("PUT", "/simulation/zzfoqus_flow/input/data/extra data.csv", "alice", "a,b", nil)
	e.ok("PUT", "/simulation/zzfoqus_flow_2", "alice", `{"Application":"foqus"}`, nil) // a name that begins the same
	keys := func(prefix string) []string {
		var out []string
		p := s3.NewListObjectsV2Paginator(awsconf.NewS3(e.st.Config), &s3.ListObjectsV2Input{Bucket: &e.st.SimulationBucket, Prefix: &prefix})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Contents {
				out = append(out, *o.Key)
			}
		}
		return out
	}

	failed(t, e.call("DELETE", "/simulation/zzfoqus_flow", "bob", nil, ""), http.StatusNotFound)
	failed(t, e.call("DELETE", "/simulation/..", "alice", nil, ""), http.StatusBadRequest)
	failed(t, e.call("DELETE", "/simulation/nosuch", "alice", nil, ""), http.StatusNotFound)

	sid, _ := e.newSession("alice", 2) // jobs of zzfoqus_flow, not final
	if msg := failed(t, e.call("DELETE", "/simulation/zzfoqus_flow", "alice", nil, ""), http.StatusConflict); !strings.Contains(msg, sid) {
		t.Fatalf("409 says %q, not which session", msg)
	}
	e.ok("POST", "/session/"+sid+"/kill", "alice", "", nil)
	if r := e.ok("DELETE", "/simulation/zzfoqus_flow/", "alice", "", nil); r.Body != `"zzfoqus_flow"` {
		t.Fatalf("delete answered %q", r.Body)
	}
	if left := keys("alice/zzfoqus_flow/"); len(left) != 0 {
		t.Fatalf("objects left behind: %v", left)
	}
	if left := keys("alice/zzfoqus_flow_2/"); len(left) != 2 {
		t.Fatalf("the other simulation lost objects: %v", left)
	}
	failed(t, e.call("GET", "/simulation/zzfoqus_flow", "alice", nil, ""), http.StatusNotFound)
}

// GET /consumer: live workers with their last heartbeat; the caller's own
// job ids only; records older than ConsumerTTL are not listed.
func TestConsumerList(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sid := "0d4c0b8e-3f51-4a36-9c1b-1f1e7a2f0a55"
	job := "7f1f9a8e-2a53-4c0e-8f0a-0f6c1d2b3a4c"
	for _, c := range []sessionstore.Consumer{
		{ID: "c1", Instance: "i-1", User: "alice", Session: sid, Job: job},
		{ID: "c2", Instance: "i-2"},
	} {
		if err := e.store.Heartbeat(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	stale := sessionstore.New(dynamodb.NewFromConfig(e.st.Config), e.st.ResourcesTable)
	stale.Now = func() time.Time { return time.Now().Add(-2 * sessionstore.ConsumerTTL) }
	if err := stale.Heartbeat(ctx, sessionstore.Consumer{ID: "c0-gone", Instance: "i-0"}); err != nil {
		t.Fatal(err)
	}
	var got []consumers.Consumer
	e.ok("GET", "/consumer/", "alice", "", &got)
	if len(got) != 2 || got[0].ID != "c1" || got[0].Job != job || got[0].Session != sid || got[0].Status != "busy" || got[1].Status != "idle" || got[0].Heartbeat == "" {
		t.Fatalf("alice's list %+v", got)
	}
	r := e.ok("GET", "/consumer", "bob", "", &got)
	if len(got) != 2 || strings.Contains(r.Body, job) || strings.Contains(r.Body, sid) {
		t.Fatalf("bob's list %s", r.Body)
	}
}

// DELETE /session/{id}: the owner's, refused while jobs run, leaves no
// item or object of the session behind.
func TestDeleteSession(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sid, ids := e.newSession("alice", 2)
	keep, _ := e.newSession("alice", 1) // another session of alice's stays whole
	e.ok("POST", "/session/"+sid+"/start", "alice", "", nil)

	failed(t, e.call("DELETE", "/session/"+sid, "bob", nil, ""), http.StatusNotFound)
	failed(t, e.call("DELETE", "/session/not-an-id", "alice", nil, ""), http.StatusBadRequest)
	failed(t, e.call("DELETE", "/session/0d4c0b8e-3f51-4a36-9c1b-1f1e7a2f0a55", "alice", nil, ""), http.StatusNotFound)
	failed(t, e.call("DELETE", "/session/"+sid, "alice", nil, ""), http.StatusConflict)

	s3c := awsconf.NewS3(e.st.Config)
	for _, id := range ids {
		key := objectkey.JobOutput("alice", sid, id)
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.st.SessionBucket, Key: &key, Body: strings.NewReader(`{"graphError":0}`)}); err != nil {
			t.Fatal(err)
		}
	}
	finish(t, e, sid, []sessionstore.Finish{{ID: ids[0], State: job.Success, Output: []byte(`{}`)}})
	e.newPage("alice", sid, genA) // a cursor and a page
	failed(t, e.call("DELETE", "/session/"+sid, "alice", nil, ""), http.StatusConflict)
	finish(t, e, sid, []sessionstore.Finish{{ID: ids[1], State: job.Error, Message: "failed"}})

	if r := e.ok("DELETE", "/session/"+sid+"/", "alice", "", nil); r.Body != `"`+sid+`"` {
		t.Fatalf("delete answered %q", r.Body)
	}
	db := dynamodb.NewFromConfig(e.st.Config)
	for _, pk := range []string{"SESSION#alice#" + sid, "USER#alice"} {
		out, err := db.Query(ctx, &dynamodb.QueryInput{
			TableName: &e.st.ResourcesTable, KeyConditionExpression: aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": &ddbtypes.AttributeValueMemberS{Value: pk}},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			if sk := it["SK"].(*ddbtypes.AttributeValueMemberS).Value; strings.Contains(pk+sk, sid) {
				t.Errorf("item left behind: %s %s", pk, sk)
			}
		}
	}
	out, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &e.st.SessionBucket, Prefix: aws.String(objectkey.SessionPrefix("alice", sid))})
	if err != nil || len(out.Contents) != 0 {
		t.Fatalf("objects left behind: %v %v", out.Contents, err)
	}
	failed(t, e.call("GET", "/session/"+sid, "alice", nil, ""), http.StatusNotFound)
	var left []string
	e.ok("GET", "/session", "alice", "", &left)
	if len(left) != 1 || left[0] != keep {
		t.Fatalf("sessions after delete: %v, want only %s", left, keep)
	}
}
