package sessionstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/resource"
)

// Item layout of FOQUS_Resources. Each user's sessions share the user's
// partition; each session's jobs, result cursors and pages share the session's
// partition, so every read of the API is a Query on one small partition.
//
//	PK                      SK                       what
//	USER#<user>             SESSION#<sid>            session: state, job and finish counters, start lease
//	SESSION#<user>#<sid>    JOB#<jid>                job (Pending while not yet on the queue, FSeq once final)
//	SESSION#<user>#<sid>    GEN#<gen>                result cursor of one generator
//	SESSION#<user>#<sid>    GEN#<gen>#PAGE#<n>       result page n of a generator: an FSeq range
//	SESSION#<user>#<sid>    HOLE#<fseq>              a finish number no job took (FSeq, for paging)
//	CONSUMER                CONSUMER#<id>            worker heartbeat
const (
	typeSession  = "Session"
	typeJob      = "Job"
	typeCursor   = "Generator"
	typePage     = "Page"
	typeConsumer = "Consumer"
	typeHole     = "Hole"
)

func userPK(user string) string         { return "USER#" + user }
func sessionSK(sid string) string       { return "SESSION#" + sid }
func sessionPK(user, sid string) string { return "SESSION#" + user + "#" + sid }
func jobSK(jid string) string           { return "JOB#" + jid }
func cursorSK(gen string) string        { return "GEN#" + gen }
func pageSK(gen string, n int) string   { return fmt.Sprintf("GEN#%s#PAGE#%010d", gen, n) }
func holeSK(seq int64) string           { return fmt.Sprintf("HOLE#%010d", seq) }

func keyOf(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{resource.PK: s(pk), resource.SK: s(sk)}
}

func jobKey(k job.Key) map[string]types.AttributeValue {
	return keyOf(sessionPK(k.User, k.Session), jobSK(k.ID))
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// jobItem is a job as stored. Input and Output are JSON text: DynamoDB numbers
// cannot hold every float FOQUS produces (the original's underflow fixtures).
type jobItem struct {
	PK          string `dynamodbav:"PK"`
	SK          string `dynamodbav:"SK"`
	Type        string `dynamodbav:"Type"`
	ID          string `dynamodbav:"Id"`
	User        string `dynamodbav:"User"`
	Session     string `dynamodbav:"Session"`
	Seq         int64  `dynamodbav:"Seq"`
	State       string `dynamodbav:"State"`
	Application string `dynamodbav:"Application"`
	Simulation  string `dynamodbav:"Simulation"`
	Input       string `dynamodbav:"Input"`
	Reset       bool   `dynamodbav:"Reset"`
	Initialize  bool   `dynamodbav:"Initialize"`
	Created     string `dynamodbav:"Created"`
	Submitted   string `dynamodbav:"Submitted,omitempty"`
	SetupAt     string `dynamodbav:"SetupAt,omitempty"`
	RunningAt   string `dynamodbav:"RunningAt,omitempty"`
	Finished    string `dynamodbav:"Finished,omitempty"`
	Consumer    string `dynamodbav:"Consumer,omitempty"`
	Attempts    int    `dynamodbav:"Attempts,omitempty"`
	LeaseUntil  int64  `dynamodbav:"LeaseUntil,omitempty"` // unix ms
	Message     string `dynamodbav:"Message,omitempty"`
	Output      string `dynamodbav:"Output,omitempty"`
	OutputKey   string `dynamodbav:"OutputKey,omitempty"`
	Pending     int64  `dynamodbav:"Pending,omitempty"` // sparse: present while not confirmed on the queue
	FSeq        int64  `dynamodbav:"FSeq,omitempty"`    // sparse: present once final
	TTL         int64  `dynamodbav:"TTL"`
}

const timeFormat = time.RFC3339Nano

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

func parseTime(v string) time.Time {
	t, _ := time.Parse(timeFormat, v)
	return t
}

func (it *jobItem) job() job.Job {
	j := job.Job{
		ID: it.ID, User: it.User, Session: it.Session, Seq: it.Seq, State: job.State(it.State),
		Application: it.Application, Simulation: it.Simulation, Reset: it.Reset, Initialize: it.Initialize,
		Created: parseTime(it.Created), Submitted: parseTime(it.Submitted), SetupAt: parseTime(it.SetupAt),
		RunningAt: parseTime(it.RunningAt), Finished: parseTime(it.Finished), Consumer: it.Consumer,
		Attempts: it.Attempts, Message: it.Message, OutputKey: it.OutputKey, FinishSeq: it.FSeq,
	}
	if it.Input != "" {
		j.Input = json.RawMessage(it.Input)
	}
	if it.Output != "" {
		j.Output = json.RawMessage(it.Output)
	}
	if it.LeaseUntil > 0 {
		j.LeaseUntil = time.UnixMilli(it.LeaseUntil).UTC()
	}
	return j
}

func decodeJob(av map[string]types.AttributeValue) (job.Job, error) {
	var it jobItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return job.Job{}, err
	}
	return it.job(), nil
}

// sessionItem is a session as stored in its user's partition.
type sessionItem struct {
	PK         string `dynamodbav:"PK"`
	SK         string `dynamodbav:"SK"`
	Type       string `dynamodbav:"Type"`
	ID         string `dynamodbav:"Id"`
	User       string `dynamodbav:"User"`
	State      string `dynamodbav:"State"`
	Created    string `dynamodbav:"Created"`
	Jobs       int64  `dynamodbav:"Jobs"`     // appended so far; the next job's Seq
	Finished   int64  `dynamodbav:"Finished"` // finished so far; the last FSeq given out
	StartLease int64  `dynamodbav:"StartLease,omitempty"`
	TTL        int64  `dynamodbav:"TTL"`
	lifecycleAttrs
}
