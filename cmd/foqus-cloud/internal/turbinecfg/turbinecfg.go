// Package turbinecfg reads FOQUS's turbine.cfg: the API's base URL from the
// section URLs (`[Session] url = <base>/session/`) and the credentials from
// [Authentication], as FOQUS desktop and turb_client read them.
package turbinecfg

import (
	"fmt"
	"strings"

	"gopkg.in/ini.v1"
)

// Config is what a turbine.cfg says about reaching the API.
type Config struct {
	Base      string // the API's base URL, stage included, without a trailing slash
	User      string
	Password  string
	SignedURL bool // [Simulation] SignedUrl: model files go through signed URLs
}

// sections whose url names the base, in the order they are looked at.
var sections = []string{"Session", "Simulation", "Application", "Job", "Consumer"}

// Parse reads a turbine.cfg's content; name is how errors call it.
func Parse(name string, data []byte) (Config, error) {
	// Python's configparser: "key = value" or "key: value", keys in any case,
	// ";" and "#" comments.
	f, err := ini.LoadSources(ini.LoadOptions{Insensitive: false, InsensitiveKeys: true, IgnoreInlineComment: true}, data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	var c Config
	for _, sec := range sections {
		s, err := f.GetSection(sec)
		if err != nil || !s.HasKey("url") {
			continue
		}
		raw := strings.TrimSpace(s.Key("url").String())
		base := strings.TrimRight(raw, "/")
		suffix := "/" + strings.ToLower(sec)
		if !strings.HasSuffix(strings.ToLower(base), suffix) {
			return Config{}, fmt.Errorf("%s: [%s] url %q does not end in %s/", name, sec, raw, suffix)
		}
		c.Base = base[:len(base)-len(suffix)]
		break
	}
	if c.Base == "" {
		return Config{}, fmt.Errorf("%s: no section (%s) has a url", name, strings.Join(sections, ", "))
	}
	if s, err := f.GetSection("Authentication"); err == nil {
		c.User = s.Key("username").Value() // raw, as turb_client reads them: no interpolation
		c.Password = s.Key("password").Value()
	}
	if s, err := f.GetSection("Simulation"); err == nil && s.HasKey("signedurl") {
		c.SignedURL, _ = s.Key("signedurl").Bool()
	}
	return c, nil
}
