package config

import (
	"fmt"
	"time"

	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/foqus-cloud/stack/core/archive"
)

// Lifecycle is a stage's tier settings (cdk.json context.stages.<stage>.lifecycle):
// the result lifecycle of free users. Unset fields take core/archive's defaults.
type Lifecycle struct {
	FreeWindowMinutes   int    `json:"freeWindowMinutes,omitempty"`   // default 10
	ArchiveStorageClass string `json:"archiveStorageClass,omitempty"` // GLACIER (default), GLACIER_IR or DEEP_ARCHIVE
	RestoreTier         string `json:"restoreTier,omitempty"`         // Expedited (default, falls back to Standard), Standard or Bulk
	FreeJobLimit        int64  `json:"freeJobLimit,omitempty"`        // jobs per session of a free user
	Sender              string `json:"sender,omitempty"`              // SES e-mail identity notices come from; none without it
}

// Settings are the stage's tier settings as the functions read them.
func (s Stage) Settings() (archive.Settings, error) {
	set := archive.DefaultSettings()
	l := s.Lifecycle
	if l == nil {
		return set, nil // the defaults, without notices
	}
	if l.FreeWindowMinutes != 0 {
		set.Window = time.Duration(l.FreeWindowMinutes) * time.Minute
	}
	if l.ArchiveStorageClass != "" {
		set.StorageClass = s3types.StorageClass(l.ArchiveStorageClass)
	}
	if l.RestoreTier != "" {
		set.RestoreTier = s3types.Tier(l.RestoreTier)
	}
	if l.FreeJobLimit != 0 {
		set.FreeJobLimit = l.FreeJobLimit
	}
	set.Sender = l.Sender
	if err := set.Validate(); err != nil {
		return set, fmt.Errorf("stage %q lifecycle: %w", s.Name, err)
	}
	return set, nil
}
