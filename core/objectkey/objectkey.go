// Package objectkey validates the names that reach S3 keys and DynamoDB keys
// from URLs and messages, and lays out the keys of both buckets. Every key a
// user's data lives under starts with "<user>/", so a prefix never matches
// another user whose name begins the same way.
package objectkey

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

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

// Limits of a staged input's path: NTFS allows 255 UTF-16 units a name, and
// the whole key (user and simulation prefix included) must stay under S3's
// 1,024 bytes.
const (
	MaxInputDepth     = 8
	MaxInputNameUnits = 255
	MaxInputPathBytes = 768
)

// InputPath checks the path of a staged input. FOQUS sends a file's basename
// as it is on the desktop's disk, so any name Windows (where the worker stages
// it) allows is accepted: spaces, parentheses, "+", non-ASCII letters, a
// leading dot. Refused: empty, "." or ".." segments (traversal), invalid
// UTF-8 and control characters, what NTFS forbids (<>:"\|?*, a trailing dot
// or space, the device names CON, PRN, AUX, NUL, COM1-9, LPT1-9 with any
// extension) and over-long names or paths. Names that differ only by case
// are a simulation's concern (they are one file on Windows).
func InputPath(p string) error {
	segs := strings.Split(p, "/")
	if p == "" || len(segs) > MaxInputDepth || len(p) > MaxInputPathBytes || !utf8.ValidString(p) {
		return &InvalidError{"input path", p}
	}
	for _, s := range segs {
		if err := inputName(s); err != nil {
			return &InvalidError{"input path", p}
		}
	}
	return nil
}

var errName = errors.New("not a file name")

func inputName(s string) error {
	if s == "" || s == "." || s == ".." || len(utf16.Encode([]rune(s))) > MaxInputNameUnits {
		return errName
	}
	for _, r := range s {
		if unicode.IsControl(r) || strings.ContainsRune(`<>:"\|?*`, r) || r == utf8.RuneError {
			return errName
		}
	}
	if strings.HasSuffix(s, ".") || strings.HasSuffix(s, " ") {
		return errName
	}
	if Reserved(s) {
		return errName
	}
	return nil
}

// Reserved reports a Windows device name, which no file can have whatever
// its extension ("con.txt", "COM1.tar.gz" and "nul " all open the device).
func Reserved(name string) bool {
	base, _, _ := strings.Cut(name, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	if len(base) > 3 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) {
		switch base[3:] {
		case "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
			return true
		}
	}
	return false
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
