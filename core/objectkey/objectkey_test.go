package objectkey

import (
	"errors"
	"path"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
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
		"extra data.txt":                       InputPath,
		"run (2)+final.csv":                    InputPath,
		"Messdaten_Größe_é.txt":                InputPath,
		".hidden":                              InputPath,
		"console.log":                          InputPath,
		"COM10.txt":                            InputPath,
		"a/conf ig/NULL.py":                    InputPath,
		strings.Repeat("é", MaxInputNameUnits): InputPath,
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
		"../secret": InputPath, "a//b": InputPath, "/abs": InputPath, "a/./b": InputPath, "a/..": InputPath,
		"tab\there": InputPath, "nl\n": InputPath, "del\x7f": InputPath, "bad\xffutf8": InputPath,
		"a<b": InputPath, "a:b": InputPath, `a\b`: InputPath, "a|b": InputPath, "a?b": InputPath, "a*b": InputPath, `a"b`: InputPath,
		"trailing.": InputPath, "trailing ": InputPath, "...": InputPath, "dir./x": InputPath,
		"CON": InputPath, "con.txt": InputPath, "Nul.tar.gz": InputPath, "aux": InputPath, "prn.": InputPath,
		"COM1": InputPath, "com9.log": InputPath, "LPT3.dat": InputPath, "lpt¹": InputPath, "sub/NUL": InputPath, "nul .txt": InputPath,
		strings.Repeat("é", MaxInputNameUnits+1):              InputPath,
		strings.Repeat("a/", MaxInputDepth) + "a":             InputPath,
		strings.Repeat(strings.Repeat("b", 200)+"/", 4) + "c": InputPath,
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

// FuzzInputPath: an accepted path is valid UTF-8 without control characters,
// has no empty, "." or ".." segment and no Windows device name, so joined to
// a simulation prefix it stays inside it, on S3 and on the worker's disk.
func FuzzInputPath(f *testing.F) {
	for _, s := range []string{"configuration", "models/flash.bkp", "extra data.txt", "../x", "a//b", "con.txt", "Größe", "a\x00b", "x."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if InputPath(p) != nil {
			return
		}
		if !utf8.ValidString(p) || len(p) > MaxInputPathBytes {
			t.Fatalf("accepted %q", p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "" || seg == "." || seg == ".." || Reserved(seg) || strings.HasSuffix(seg, ".") || strings.HasSuffix(seg, " ") {
				t.Fatalf("accepted %q with segment %q", p, seg)
			}
			for _, r := range seg {
				if unicode.IsControl(r) || strings.ContainsRune(`<>:"\\|?*`, r) {
					t.Fatalf("accepted %q with %q", p, r)
				}
			}
		}
		if k := SimulationFile("alice", "sim", p); !strings.HasPrefix(path.Clean(k), "alice/sim/") {
			t.Fatalf("%q escapes the simulation: %s", p, k)
		}
	})
}
