// Package event defines the messages that flow between the API, the workers
// and the update processor: their JSON bodies (versioned), the SNS/SQS message
// attributes subscriptions filter on, and a validating decoder.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/foqus-cloud/stack/core/batch"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/objectkey"
	"github.com/foqus-cloud/stack/core/resource"
)

// Version is the message format this code writes and reads.
const Version = 1

// MaxBody is the largest message body SNS and SQS carry.
const MaxBody = 256 << 10

// Event names: the "event" attribute, and "type" in the body.
const (
	TypeSubmit    = "job.submit"         // API -> job topic -> job queue -> worker
	TypeStatus    = "job.status"         // worker -> update topic -> update processor
	TypeControl   = "session.control"    // API -> update topic -> update processor
	TypeHeartbeat = "consumer.heartbeat" // worker -> update topic -> update processor
)

// Message is one of Submit, Status, Control, Heartbeat.
type Message interface {
	// Event is the value of the "event" attribute.
	Event() string
	validate() error
	attrs() map[string]string
}

// Submit asks a worker to run a job.
type Submit struct {
	User        string          `json:"user"`
	Session     string          `json:"session"`
	Job         string          `json:"job"`
	Application string          `json:"application"`
	Simulation  string          `json:"simulation"`
	Input       json.RawMessage `json:"input"`
	Reset       bool            `json:"reset,omitempty"`
	Initialize  bool            `json:"initialize,omitempty"`
}

// Status reports a job's progress or end from a worker.
type Status struct {
	User      string          `json:"user"`
	Session   string          `json:"session"`
	Job       string          `json:"job"`
	State     job.State       `json:"state"`
	Consumer  string          `json:"consumer,omitempty"`
	Instance  string          `json:"instance,omitempty"`
	Message   string          `json:"message,omitempty"`
	OutputKey string          `json:"outputKey,omitempty"` // the full output in the session bucket
	Output    json.RawMessage `json:"output,omitempty"`    // inline copy when it fits a message
	At        time.Time       `json:"at"`
}

// Session control actions.
const (
	ActionKill   = "kill"
	ActionStop   = "stop"
	ActionResume = "resume"
)

// Control acts on every job of a session.
type Control struct {
	User    string `json:"user"`
	Session string `json:"session"`
	Action  string `json:"action"`
}

// Heartbeat says a worker process is alive and what it runs.
type Heartbeat struct {
	Consumer string    `json:"consumer"`
	Instance string    `json:"instance,omitempty"`
	User     string    `json:"user,omitempty"`
	Session  string    `json:"session,omitempty"`
	Job      string    `json:"job,omitempty"`
	At       time.Time `json:"at"`
}

// Event implements Message.
func (Submit) Event() string { return TypeSubmit }

// Event is "job.<state>", as the original's filters expect.
func (m Status) Event() string { return "job." + string(m.State) }

// Event is "session.<action>".
func (m Control) Event() string { return "session." + m.Action }

// Event implements Message.
func (Heartbeat) Event() string { return TypeHeartbeat }

func (m Submit) attrs() map[string]string {
	return map[string]string{resource.AttrUser: m.User, resource.AttrSession: m.Session, resource.AttrJob: m.Job, resource.AttrApplication: m.Application}
}
func (m Status) attrs() map[string]string {
	return map[string]string{resource.AttrUser: m.User, resource.AttrSession: m.Session, resource.AttrJob: m.Job}
}
func (m Control) attrs() map[string]string {
	return map[string]string{resource.AttrUser: m.User, resource.AttrSession: m.Session}
}
func (m Heartbeat) attrs() map[string]string { return map[string]string{} }

func (m Submit) validate() error {
	if err := ids(m.User, m.Session, m.Job); err != nil {
		return err
	}
	if m.Application == "" {
		return invalid("application", "missing")
	}
	if err := objectkey.Simulation(m.Simulation); err != nil {
		return invalid("simulation", err.Error())
	}
	if t := jsonKind(m.Input); t != '{' {
		return invalid("input", "not a JSON object")
	}
	return nil
}

func (m Status) validate() error {
	if err := ids(m.User, m.Session, m.Job); err != nil {
		return err
	}
	if !m.State.Valid() || m.State == job.Create {
		return invalid("state", fmt.Sprintf("%q is not a state a worker reports", m.State))
	}
	if m.OutputKey != "" && !strings.HasPrefix(m.OutputKey, objectkey.SessionPrefix(m.User, m.Session)) {
		return invalid("outputKey", "outside the job's session")
	}
	if len(m.Output) > 0 && !json.Valid(m.Output) {
		return invalid("output", "not JSON")
	}
	return nil
}

func (m Control) validate() error {
	if err := objectkey.User(m.User); err != nil {
		return invalid("user", err.Error())
	}
	if err := objectkey.ID(m.Session); err != nil {
		return invalid("session", err.Error())
	}
	switch m.Action {
	case ActionKill, ActionStop, ActionResume:
		return nil
	}
	return invalid("action", fmt.Sprintf("unknown action %q", m.Action))
}

func (m Heartbeat) validate() error {
	if err := objectkey.ID(m.Consumer); err != nil {
		return invalid("consumer", err.Error())
	}
	return nil
}

func ids(user, session, jobID string) error {
	if err := objectkey.User(user); err != nil {
		return invalid("user", err.Error())
	}
	if err := objectkey.ID(session); err != nil {
		return invalid("session", err.Error())
	}
	if err := objectkey.ID(jobID); err != nil {
		return invalid("job", err.Error())
	}
	return nil
}

func jsonKind(raw json.RawMessage) byte {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || !json.Valid(b) {
		return 0
	}
	return b[0]
}

// DecodeError says why a message was refused. Such a message will never
// decode: it belongs in a dead-letter queue, not in a retry.
type DecodeError struct {
	Kind   DecodeKind
	Field  string
	Reason string
}

// DecodeKind classifies a DecodeError.
type DecodeKind int

// The kinds of refused messages.
const (
	Malformed    DecodeKind = iota + 1 // not JSON, or not an envelope
	WrongVersion                       // a version this code does not read
	UnknownType                        // a type this code does not know
	Invalid                            // a field is missing or wrong
)

func (e *DecodeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("decode message: %s: %s", e.Field, e.Reason)
	}
	return "decode message: " + e.Reason
}

func invalid(field, reason string) error {
	return &DecodeError{Kind: Invalid, Field: field, Reason: reason}
}

// envelope wraps every body: the version and type first, the message in "msg".
type envelope struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	Msg  json.RawMessage `json:"msg"`
}

// Encode renders m as a message body and its attributes. It refuses a
// message that would not decode.
func Encode(m Message) (body string, attrs map[string]string, err error) {
	if err := m.validate(); err != nil {
		return "", nil, err
	}
	inner, err := json.Marshal(m)
	if err != nil {
		return "", nil, err
	}
	out, err := json.Marshal(envelope{V: Version, Type: typeOf(m), Msg: inner})
	if err != nil {
		return "", nil, err
	}
	if len(out) > MaxBody {
		return "", nil, invalid("body", fmt.Sprintf("%d bytes, over the %d a message carries", len(out), MaxBody))
	}
	attrs = m.attrs()
	attrs[resource.AttrEvent] = m.Event()
	attrs[resource.AttrVersion] = fmt.Sprint(Version)
	for k, v := range attrs {
		if v == "" {
			delete(attrs, k) // SNS refuses empty attribute values
		}
	}
	if n := batch.MessageSize(string(out), attrs); n > MaxBody {
		return "", nil, invalid("body", fmt.Sprintf("%d bytes with its attributes, over the %d a message carries", n, MaxBody))
	}
	return string(out), attrs, nil
}

func typeOf(m Message) string {
	switch m.(type) {
	case Submit, *Submit:
		return TypeSubmit
	case Status, *Status:
		return TypeStatus
	case Control, *Control:
		return TypeControl
	default:
		return TypeHeartbeat
	}
}

// Decode parses and validates a message body. When attrs is not nil, its
// "event" attribute must agree with the body. Every refusal is a *DecodeError.
func Decode(body string, attrs map[string]string) (Message, error) {
	var env envelope
	dec := json.NewDecoder(strings.NewReader(body))
	if err := dec.Decode(&env); err != nil {
		return nil, &DecodeError{Kind: Malformed, Reason: "not a JSON envelope: " + err.Error()}
	}
	if dec.More() {
		return nil, &DecodeError{Kind: Malformed, Reason: "trailing data after the envelope"}
	}
	if env.V != Version {
		return nil, &DecodeError{Kind: WrongVersion, Field: "v", Reason: fmt.Sprintf("version %d, this code reads %d", env.V, Version)}
	}
	var m Message
	var err error
	switch env.Type {
	case TypeSubmit:
		m, err = decodeAs[Submit](env.Msg)
	case TypeStatus:
		m, err = decodeAs[Status](env.Msg)
	case TypeControl:
		m, err = decodeAs[Control](env.Msg)
	case TypeHeartbeat:
		m, err = decodeAs[Heartbeat](env.Msg)
	default:
		return nil, &DecodeError{Kind: UnknownType, Field: "type", Reason: fmt.Sprintf("unknown type %q", env.Type)}
	}
	if err != nil {
		return nil, err
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	if ev, ok := attrs[resource.AttrEvent]; attrs != nil && (!ok || ev != m.Event()) {
		return nil, invalid("event attribute", fmt.Sprintf("%q does not match the body's %q", ev, m.Event()))
	}
	return m, nil
}

func decodeAs[T Message](raw json.RawMessage) (Message, error) {
	var m T
	if jsonKind(raw) != '{' {
		return nil, &DecodeError{Kind: Malformed, Field: "msg", Reason: "not a JSON object"}
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, &DecodeError{Kind: Invalid, Field: "msg", Reason: err.Error()}
	}
	return m, nil
}

// IsDecodeError reports whether err is a refused message (never worth a retry).
func IsDecodeError(err error) bool {
	var de *DecodeError
	return errors.As(err, &de)
}
