package job

import (
	"encoding/json"
	"time"
)

// Job is one flowsheet run of a session, as stored.
type Job struct {
	ID          string
	User        string
	Session     string
	Seq         int64 // position in the session, in append order
	State       State
	Application string
	Simulation  string
	Input       json.RawMessage // the client's input object, kept verbatim
	Reset       bool
	Initialize  bool
	Created     time.Time
	Submitted   time.Time
	SetupAt     time.Time
	RunningAt   time.Time
	Finished    time.Time
	Consumer    string    // worker consumer id that holds or held the job
	Attempts    int       // claims so far; a redelivery after a crash adds one
	LeaseUntil  time.Time // a claim is the holder's until then
	Message     string    // reason of an error, terminate, expired or invalid end
	Output      json.RawMessage
	OutputKey   string // S3 key of the output in the session bucket
	FinishSeq   int64  // order of finishing within the session; 0 until final
}

// Applications a job may name; foqus is the default.
const (
	AppFOQUS     = "foqus"
	AppFakeJob   = "fake-job"
	AppACM       = "ACM"
	AppAspenPlus = "AspenPlus"
)

// Key addresses one job.
type Key struct {
	User, Session, ID string
}

// Key returns the job's address.
func (j *Job) Key() Key { return Key{User: j.User, Session: j.Session, ID: j.ID} }
