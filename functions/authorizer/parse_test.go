package authorizer

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestParseBasic(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, c := range []struct{ header, name, password string }{
		{"Basic " + enc("alice:s3cret:with:colons"), "alice", "s3cret:with:colons"},
		{"basic  " + enc("bob:"), "bob", ""},
		{" BASIC " + enc("carol:pw") + " ", "carol", "pw"},
	} {
		n, p, err := ParseBasic(c.header)
		if err != nil || n != c.name || p != c.password {
			t.Errorf("ParseBasic(%q) = %q, %q, %v", c.header, n, p, err)
		}
	}
	for _, h := range []string{"", "Basic", "Basic ", "Bearer " + enc("a:b"), "Basic !!!", "Basic " + enc("nocolon"), "Basic " + enc(":pw"), "Basic" + enc("a:b")} {
		if _, _, err := ParseBasic(h); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("ParseBasic(%q): %v, want Unauthorized", h, err)
		}
	}
}

// FuzzParseBasic: any header yields a name and password that round-trip, or "Unauthorized".
func FuzzParseBasic(f *testing.F) {
	for _, s := range []string{"Basic YWxpY2U6cHc=", "Basic", "basic Og==", "Basic YTpiOmM=", "Negotiate abc", "Basic ====", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		n, p, err := ParseBasic(h)
		if err != nil {
			if err != ErrUnauthorized {
				t.Fatalf("error %v is not Unauthorized", err)
			}
			return
		}
		if n == "" || strings.Contains(n, ":") {
			t.Fatalf("name %q", n)
		}
		if n2, p2, err := ParseBasic("Basic " + base64.StdEncoding.EncodeToString([]byte(n+":"+p))); err != nil || n2 != n || p2 != p {
			t.Fatalf("round trip of %q:%q = %q:%q, %v", n, p, n2, p2, err)
		}
	})
}
