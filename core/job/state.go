// Package job holds the job model and its state machine: which state may follow
// which. Stores turn Check into conditional writes, so the rule lives only here.
package job

import (
	"errors"
	"fmt"
)

// State is a job's lifecycle state as the FOQUS client sees it.
type State string

// The states. Submit, setup and running move a job forward; stop pauses a
// queued job; the last five are terminal.
const (
	Create    State = "create"
	Submit    State = "submit"
	Stop      State = "stop"
	Setup     State = "setup"
	Running   State = "running"
	Success   State = "success"
	Error     State = "error"
	Terminate State = "terminate"
	Expired   State = "expired"
	Invalid   State = "invalid"
)

// States lists every state, in lifecycle order.
var States = []State{Create, Submit, Stop, Setup, Running, Success, Error, Terminate, Expired, Invalid}

// rank orders the non-terminal states; a move to a lower rank is out of order.
var rank = map[State]int{Create: 0, Submit: 1, Stop: 1, Setup: 2, Running: 3}

// Valid reports whether s is one of the states.
func (s State) Valid() bool {
	for _, v := range States {
		if v == s {
			return true
		}
	}
	return false
}

// Terminal reports whether s is final: nothing may follow it.
func (s State) Terminal() bool {
	switch s {
	case Success, Error, Terminate, Expired, Invalid:
		return true
	}
	return false
}

// Refusal says why a transition is not applied.
type Refusal int

// The reasons a transition is refused. Duplicate and OutOfOrder are benign:
// redelivered or reordered events are expected and become no-ops.
const (
	Duplicate    Refusal = iota + 1 // to equals from
	AlreadyFinal                    // from is terminal
	OutOfOrder                      // to lies behind from
	NotAllowed                      // the lifecycle has no such edge
	Unknown                         // from or to is not a state
)

func (r Refusal) String() string {
	switch r {
	case Duplicate:
		return "duplicate"
	case AlreadyFinal:
		return "already final"
	case OutOfOrder:
		return "out of order"
	case NotAllowed:
		return "not allowed"
	default:
		return "unknown state"
	}
}

// TransitionError is returned for every refused transition.
type TransitionError struct {
	From, To State
	Reason   Refusal
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("job state %s -> %s: %s", e.From, e.To, e.Reason)
}

// Is lets errors.Is(err, ErrAlreadyFinal) and friends match any TransitionError
// with the same reason.
func (e *TransitionError) Is(target error) bool {
	var t *TransitionError
	return errors.As(target, &t) && t.From == "" && t.To == "" && t.Reason == e.Reason
}

// Sentinels to match with errors.Is.
var (
	ErrDuplicate    = &TransitionError{Reason: Duplicate}
	ErrAlreadyFinal = &TransitionError{Reason: AlreadyFinal}
	ErrOutOfOrder   = &TransitionError{Reason: OutOfOrder}
	ErrNotAllowed   = &TransitionError{Reason: NotAllowed}
)

// Check decides whether a job in state from may move to state to. It returns nil
// when the move is allowed and a *TransitionError otherwise.
func Check(from, to State) error {
	refuse := func(r Refusal) error { return &TransitionError{From: from, To: to, Reason: r} }
	switch {
	case !from.Valid() || !to.Valid():
		return refuse(Unknown)
	case from.Terminal():
		if from == to {
			return refuse(Duplicate)
		}
		return refuse(AlreadyFinal)
	case from == to:
		return refuse(Duplicate)
	}
	switch to {
	case Create:
		return refuse(OutOfOrder)
	case Submit: // start, or resume of a stopped job
		if from == Create || from == Stop {
			return nil
		}
		return refuse(OutOfOrder)
	case Stop: // only a job that no worker holds can pause
		if from == Create || from == Submit {
			return nil
		}
		return refuse(OutOfOrder)
	case Setup, Running:
		switch {
		case from == Create || from == Stop:
			return refuse(NotAllowed) // never started, or paused: no worker may run it
		case rank[to] < rank[from]:
			return refuse(OutOfOrder)
		}
		return nil
	case Success:
		if from == Submit || from == Setup || from == Running {
			return nil
		}
		return refuse(NotAllowed)
	}
	// Error, Terminate, Expired, Invalid end any job that is not final.
	return nil
}

// AllowedFrom lists the states from which to may be reached: the set a
// conditional write puts in its condition.
func AllowedFrom(to State) []State {
	var from []State
	for _, s := range States {
		if Check(s, to) == nil {
			from = append(from, s)
		}
	}
	return from
}
