package job

import (
	"errors"
	"testing"
)

// allowed is the lifecycle written out edge by edge, independently of Check's
// switch, so that every (from, to) pair is pinned.
var allowed = map[State][]State{
	Create:  {Submit, Stop, Error, Terminate, Expired, Invalid},
	Submit:  {Stop, Setup, Running, Success, Error, Terminate, Expired, Invalid},
	Stop:    {Submit, Error, Terminate, Expired, Invalid},
	Setup:   {Running, Success, Error, Terminate, Expired, Invalid},
	Running: {Success, Error, Terminate, Expired, Invalid},
}

func TestCheckEveryPair(t *testing.T) {
	n := 0
	for _, from := range States {
		for _, to := range States {
			n++
			want := false
			for _, s := range allowed[from] {
				want = want || s == to
			}
			err := Check(from, to)
			if want != (err == nil) {
				t.Errorf("Check(%s, %s) = %v, want allowed=%v", from, to, err, want)
			}
			if err == nil {
				continue
			}
			var te *TransitionError
			if !errors.As(err, &te) || te.From != from || te.To != to {
				t.Errorf("Check(%s, %s) error %v is not a TransitionError naming the pair", from, to, err)
				continue
			}
			switch {
			case from == to && te.Reason != Duplicate:
				t.Errorf("%s -> %s: reason %s, want duplicate", from, to, te.Reason)
			case from != to && from.Terminal() && !errors.Is(err, ErrAlreadyFinal):
				t.Errorf("%s -> %s: reason %s, want already final", from, to, te.Reason)
			}
		}
	}
	if n != 100 {
		t.Fatalf("checked %d pairs, want 100", n)
	}
}

func TestOutOfOrderIsRefusedAsSuch(t *testing.T) {
	for _, c := range []struct{ from, to State }{{Running, Setup}, {Setup, Submit}, {Running, Submit}, {Submit, Create}, {Setup, Stop}} {
		if err := Check(c.from, c.to); !errors.Is(err, ErrOutOfOrder) {
			t.Errorf("Check(%s, %s) = %v, want out of order", c.from, c.to, err)
		}
	}
	if err := Check(Stop, Running); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("a paused job must not run: got %v", err)
	}
}

func TestUnknownState(t *testing.T) {
	var te *TransitionError
	if err := Check("warning", Success); !errors.As(err, &te) || te.Reason != Unknown {
		t.Fatalf("unknown from state: got %v", err)
	}
	if err := Check(Create, "paused"); !errors.As(err, &te) || te.Reason != Unknown {
		t.Fatalf("unknown to state: got %v", err)
	}
}

func TestAllowedFromMatchesCheck(t *testing.T) {
	got := AllowedFrom(Success)
	want := []State{Submit, Setup, Running}
	if len(got) != len(want) {
		t.Fatalf("AllowedFrom(success) = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("AllowedFrom(success) = %v, want %v", got, want)
		}
	}
	if f := AllowedFrom(Create); len(f) != 0 {
		t.Fatalf("nothing may go back to create, got %v", f)
	}
}
