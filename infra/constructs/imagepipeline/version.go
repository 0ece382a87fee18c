package imagepipeline

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/foqus-cloud/stack/infra/config"
)

// RootDevice is the Windows AMIs' root device name.
const RootDevice = "/dev/sda1"

const rootVolumeType = "gp3"

// RecipeInput is everything an image recipe is made of. Image Builder
// recipes are immutable and CloudFormation cannot change one in place, so
// its version is derived from all of it: any change gives a new version
// (a replacement), an identical input the same one.
type RecipeInput struct {
	Parent        string // parent image name/version, e.g. windows-server-2022-english-full-base-x86/x.x.x
	RootVolumeGiB int
	VolumeType    string
	Components    []RecipeComponent // in recipe order
}

// RecipeComponent is one component as the recipe uses it.
type RecipeComponent struct {
	Name, Version, Content string
	Parameters             map[string]string // the values the recipe sets (not the bucket: the stage names it)
}

// Version is 1.0.<n>, n taken from the SHA-256 of the input (Image Builder
// takes major.minor.patch; a patch below a million keeps it readable).
func (in RecipeInput) Version() string {
	b, err := json.Marshal(in) // maps marshal with sorted keys: deterministic
	if err != nil {
		panic(err) // strings, ints and maps of strings always marshal
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("1.0.%d", binary.BigEndian.Uint64(sum[:8])%1000000)
}

func parentVersion(st config.Stage) string {
	if st.Image != nil && st.Image.ParentVersion != "" {
		return st.Image.ParentVersion
	}
	return "x.x.x"
}
