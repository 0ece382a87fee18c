package user_test

import (
	"context"
	"errors"
	"testing"

	"github.com/foqus-cloud/stack/core/user"
)

func TestTierEmailAndOptOutAreStored(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, "bob", password, user.Free); err != nil {
		t.Fatal(err)
	}
	old, err := s.SetTier(ctx, "bob", user.Premium)
	if err != nil || old != user.Free {
		t.Fatalf("upgrade: old tier %q, %v; want free", old, err)
	}
	if err := s.SetEmail(ctx, "bob", "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOptOut(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	u, err := s.Get(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if u.Tier != user.Premium || u.Email != "bob@example.org" || !u.OptOut {
		t.Fatalf("stored %+v", u)
	}
	if err := s.SetEmail(ctx, "bob", ""); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Get(ctx, "bob"); u.Email != "" {
		t.Fatalf("email not removed: %q", u.Email)
	}
}

func TestTierChangesRefuseBadInput(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	if _, err := s.SetTier(ctx, "nobody", user.Premium); !errors.Is(err, user.ErrUnknownUser) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := s.SetTier(ctx, "nobody", "gold"); err == nil || err.Error() != `unknown tier "gold": want "free" or "premium"` {
		t.Fatalf("bad tier: %v", err)
	}
	if _, err := s.Create(ctx, "carol", password, user.Free); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"carol", "Carol <carol@example.org>", "a@b@c"} {
		if err := s.SetEmail(ctx, "carol", bad); err == nil {
			t.Errorf("SetEmail(%q) accepted", bad)
		}
	}
}
