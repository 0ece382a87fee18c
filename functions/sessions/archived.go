package sessions

import (
	"errors"
	"net/http"

	"github.com/foqus-cloud/stack/core/sessionstore"
	"github.com/foqus-cloud/stack/functions/httpx"
)

// archivedConflict is the 409 that refuses what (an append or a start) on a
// session whose results are archived, being archived or being restored:
// its jobs are settled, their results kept as one archive.
func archivedConflict(what, sid, state string) error {
	var why string
	switch state {
	case sessionstore.Restoring:
		why = "is being restored after an upgrade; try again once its results are back"
	case sessionstore.Archiving:
		why = "is being archived (results of the free plan are archived after their window); use a new session"
	default:
		why = "is archived (results of the free plan are archived after their window); use a new session, or upgrade to premium to restore it"
	}
	return httpx.Errorf(http.StatusConflict, "%s: session %s %s", what, sid, why)
}

// refuseArchived turns the store's refusal of an archived session into its 409.
func refuseArchived(what string, err error) error {
	var ae *sessionstore.ArchivedError
	if errors.As(err, &ae) {
		return archivedConflict(what, ae.Session, ae.State)
	}
	return err
}
