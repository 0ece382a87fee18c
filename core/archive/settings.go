// Package archive is the result lifecycle of free users (the GAS half): a
// session's results written as one object in a Glacier storage class after
// the stage's window, restored and re-homed as live data when its user
// upgrades. Every step is a conditional write on the session (see
// sessionstore's archive states) and safe to repeat: a crash at any point
// leaves the live results or one archive object, never none and never two.
package archive

import (
	"fmt"
	"strconv"
	"time"

	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/foqus-cloud/stack/core/resource"
)

// Defaults of a stage's tier settings (cdk.json can change each).
const (
	DefaultWindow       = 10 * time.Minute
	DefaultStorageClass = s3types.StorageClassGlacier
	DefaultRestoreTier  = s3types.TierExpedited
	DefaultFreeJobLimit = 1000
)

// StorageClasses an archive may be written in.
var StorageClasses = []s3types.StorageClass{s3types.StorageClassGlacier, s3types.StorageClassGlacierIr, s3types.StorageClassDeepArchive}

// RestoreTiers a restore may ask for; Expedited falls back to Standard when
// S3 has no expedited capacity (and on DEEP_ARCHIVE, which has none).
var RestoreTiers = []s3types.Tier{s3types.TierExpedited, s3types.TierStandard, s3types.TierBulk}

// Settings are a stage's tier settings.
type Settings struct {
	Window       time.Duration        // a free user's results stay live this long after the session's last job
	StorageClass s3types.StorageClass // of archive objects
	RestoreTier  s3types.Tier         // asked for first on restore
	FreeJobLimit int64                // jobs per session of a free user
	Sender       string               // SES identity of notifications; none sent without it
}

// DefaultSettings are the settings of a stage that sets none.
func DefaultSettings() Settings {
	return Settings{Window: DefaultWindow, StorageClass: DefaultStorageClass, RestoreTier: DefaultRestoreTier, FreeJobLimit: DefaultFreeJobLimit}
}

// Validate refuses settings the lifecycle cannot run with.
func (s Settings) Validate() error {
	if s.Window < time.Second {
		return fmt.Errorf("free result window %s: at least one second", s.Window)
	}
	if !oneOf(s.StorageClass, StorageClasses) {
		return fmt.Errorf("archive storage class %q: want one of %v", s.StorageClass, StorageClasses)
	}
	if !oneOf(s.RestoreTier, RestoreTiers) {
		return fmt.Errorf("restore tier %q: want one of %v", s.RestoreTier, RestoreTiers)
	}
	if s.FreeJobLimit < 1 {
		return fmt.Errorf("free job limit %d: at least 1", s.FreeJobLimit)
	}
	return nil
}

func oneOf[T comparable](v T, set []T) bool {
	for _, x := range set {
		if x == v {
			return true
		}
	}
	return false
}

// Env renders s as the environment variables functions read (resource.Env*).
func (s Settings) Env() map[string]string {
	return map[string]string{
		resource.EnvFreeWindow:   strconv.FormatInt(int64(s.Window/time.Second), 10),
		resource.EnvArchiveClass: string(s.StorageClass),
		resource.EnvRestoreTier:  string(s.RestoreTier),
		resource.EnvFreeJobLimit: strconv.FormatInt(s.FreeJobLimit, 10),
		resource.EnvSender:       senderOrOff(s.Sender),
	}
}

// SenderOff is the sender variable's value when no notices are sent (the
// variable is always set, so a forgotten one is an error, not silence).
const SenderOff = "off"

func senderOrOff(s string) string {
	if s == "" {
		return SenderOff
	}
	return s
}

// SettingsFromEnv reads settings from env; unset ones keep their defaults.
func SettingsFromEnv(env map[string]string) (Settings, error) {
	s := DefaultSettings()
	if v := env[resource.EnvFreeWindow]; v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Settings{}, fmt.Errorf("%s=%q: not a number of seconds", resource.EnvFreeWindow, v)
		}
		s.Window = time.Duration(secs) * time.Second
	}
	if v := env[resource.EnvArchiveClass]; v != "" {
		s.StorageClass = s3types.StorageClass(v)
	}
	if v := env[resource.EnvRestoreTier]; v != "" {
		s.RestoreTier = s3types.Tier(v)
	}
	if v := env[resource.EnvFreeJobLimit]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Settings{}, fmt.Errorf("%s=%q: not a number", resource.EnvFreeJobLimit, v)
		}
		s.FreeJobLimit = n
	}
	if s.Sender = env[resource.EnvSender]; s.Sender == SenderOff {
		s.Sender = ""
	}
	return s, s.Validate()
}

// RestoreSLA is how long a restore from class at tier takes at most (AWS's
// documented figures): the "restore stuck" alarm and the e-mail use it.
func RestoreSLA(class s3types.StorageClass, tier s3types.Tier) time.Duration {
	switch {
	case class == s3types.StorageClassGlacierIr:
		return 0
	case class == s3types.StorageClassDeepArchive && tier == s3types.TierBulk:
		return 48 * time.Hour
	case class == s3types.StorageClassDeepArchive:
		return 12 * time.Hour
	case tier == s3types.TierExpedited:
		return 5 * time.Minute
	case tier == s3types.TierBulk:
		return 12 * time.Hour
	}
	return 5 * time.Hour
}
