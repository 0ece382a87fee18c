package objectkey

import (
	"errors"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	ok := map[string]func(string) error{
		"alice":                                User,
		"first.last@example.org":               User,
		"6f1c2a8e-3b4d-4c5e-8f90-112233445566": ID,
		"zzfoqus_demo":                         Simulation,
		"model-v2.1":                           Simulation,
		"configuration":                        InputPath,
		"models/flash.bkp":                     InputPath,
	}
	for v, f := range ok {
		if err := f(v); err != nil {
			t.Errorf("%q refused: %v", v, err)
		}
	}
	bad := map[string]func(string) error{
		"": User, "a/b": User, "../x": User, strings.Repeat("a", 65): User,
		"6F1C2A8E-3B4D-4C5E-8F90-112233445566": ID, "{6f1c2a8e-3b4d-4c5e-8f90-112233445566}": ID, "x": ID,
		"..": Simulation, ".hidden": Simulation, "s/t": Simulation,
		"../secret": InputPath, "a//b": InputPath, "/abs": InputPath, "a/./b": InputPath, "...": InputPath,
	}
	for v, f := range bad {
		var ie *InvalidError
		if err := f(v); !errors.As(err, &ie) {
			t.Errorf("%q accepted (%v)", v, err)
		}
	}
}

// A prefix names one user only: "bob/" is not a prefix of "bobby/...".
func TestPrefixesEndInSlash(t *testing.T) {
	if strings.HasPrefix(SimulationFile("bobby", "s", "x"), UserPrefix("bob")) {
		t.Fatal("bob's prefix matches bobby's files")
	}
	if got := JobOutput("alice", "s1", "j1"); got != "alice/session/s1/job/j1/output.json" {
		t.Fatalf("JobOutput = %s", got)
	}
}
