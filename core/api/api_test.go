package api

import (
	"strings"
	"testing"
)

func TestEveryFunctionDeclaresItsEnvironment(t *testing.T) {
	fns := Functions()
	if len(fns) != len(env) {
		t.Fatalf("%d functions, %d environment declarations", len(fns), len(env))
	}
	for _, fn := range fns {
		vars, err := Env(fn)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vars {
			if !strings.HasPrefix(v, "FOQUS_") {
				t.Errorf("%s reads %q, not a resource variable", fn, v)
			}
		}
	}
	if _, err := Env("no-such-function"); err == nil {
		t.Fatal("an unknown function has an environment")
	}
}

func TestRoutesAreUniqueAndNamed(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Routes {
		k := r.Method + " " + r.Path
		if seen[k] {
			t.Errorf("route %s declared twice", k)
		}
		seen[k] = true
		if _, ok := env[r.Function]; !ok {
			t.Errorf("route %s names unknown function %q", k, r.Function)
		}
	}
}
