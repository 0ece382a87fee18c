package jobview

import (
	"encoding/json"

	"github.com/foqus-cloud/stack/core/sessionstore"
)

// ArchivedKey is the key of the marker a result record's Output carries
// while its session's results are archived. The Output stays a JSON object
// with the job's own graphError (kept when the output was archived): FOQUS's
// results loop reads Output as a dict and counts jobs by graphError, so it
// neither breaks nor resubmits jobs that succeeded.
//
//	"Output": {"graphError": 0, "archived": {"state": "archived", "message": "..."}}
const ArchivedKey = "archived"

// Marker messages, by archive state.
const (
	ArchivedMessage  = "results of this session are archived (free plan); upgrade to premium to restore them"
	RestoringMessage = "results of this session are being restored; they are back when the restore completes"
)

// Archived is the marker itself.
type Archived struct {
	State   string `json:"state"` // sessionstore.Archived or sessionstore.Restoring
	Message string `json:"message"`
}

// ShowsArchived reports whether a session in archive state state answers
// markers instead of outputs (an archive still being written is not the
// truth yet: outputs are live).
func ShowsArchived(state string) bool {
	return state == sessionstore.Archived || state == sessionstore.Restoring
}

// ArchivedOutput is the Output of a job of a session in archive state
// state: the stub its item keeps, with the marker added.
func ArchivedOutput(stub json.RawMessage, state string) json.RawMessage {
	out := map[string]json.RawMessage{}
	_ = json.Unmarshal(stub, &out) // a stub that is no object leaves only the marker
	msg := ArchivedMessage
	if state == sessionstore.Restoring {
		msg = RestoringMessage
	}
	m, _ := json.Marshal(Archived{State: state, Message: msg})
	out[ArchivedKey] = m
	b, _ := json.Marshal(out)
	return b
}
