// Package objectkey validates the names that reach S3 keys and DynamoDB keys
// from URLs and messages, and lays out the keys of both buckets. Every key a
// user's data lives under starts with "<user>/", so a prefix never matches
// another user whose name begins the same way.
package objectkey

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"
)

// InvalidError reports a name that may not be used in a key.
type InvalidError struct {
	Kind, Value string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid %s %q", e.Kind, e.Value)
}

var (
	userRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$`)
	nameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// User checks a user name.
func User(s string) error {
	if !userRe.MatchString(s) {
		return &InvalidError{"user name", s}
	}
	return nil
}

// ID checks a session, job or generator id: a UUID in canonical lower-case
// form, the one spelling each id has in keys.
func ID(s string) error {
	u, err := uuid.Parse(s)
	if err != nil || u.String() != s {
		return &InvalidError{"id", s}
	}
	return nil
}

// Simulation checks a simulation name (the client allows [A-Za-z0-9_]; dots and
// dashes are accepted, a leading dot is not).
func Simulation(s string) error {
	if !nameRe.MatchString(s) {
		return &InvalidError{"simulation name", s}
	}
	return nil
}

// InputPath checks the path of a staged input: relative, segments that are
// names, no "." or ".." segments, at most 8 deep.
func InputPath(p string) error {
	segs := strings.Split(p, "/")
	if p == "" || len(segs) > 8 {
		return &InvalidError{"input path", p}
	}
	for _, s := range segs {
		if !nameRe.MatchString(s) || strings.Trim(s, ".") == "" {
			return &InvalidError{"input path", p}
		}
	}
	return nil
}

// UserPrefix is the prefix of everything of user in either bucket.
func UserPrefix(user string) string { return user + "/" }

// SimulationPrefix is the folder of one simulation in the simulation bucket.
func SimulationPrefix(user, sim string) string { return user + "/" + sim + "/" }

// SimulationFile is a file of a simulation (marker, meta.json or staged input).
func SimulationFile(user, sim, path string) string { return SimulationPrefix(user, sim) + path }

// SessionPrefix is the folder of one session in the session bucket.
func SessionPrefix(user, session string) string { return user + "/session/" + session + "/" }

// JobOutput is where a worker writes a job's output before it reports the end.
func JobOutput(user, session, jobID string) string {
	return SessionPrefix(user, session) + "job/" + jobID + "/output.json"
}
