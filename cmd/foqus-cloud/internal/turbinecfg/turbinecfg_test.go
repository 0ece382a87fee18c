package turbinecfg

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, cfg string
		want      Config
		err       string
	}{
		{
			name: "as make dev writes it",
			cfg: "[Consumer]\nurl = https://127.0.0.1:8443/dev/consumer/\n\n[Simulation]\nurl = https://127.0.0.1:8443/dev/simulation/\nSignedUrl = True\n\n" +
				"[Session]\nurl = https://127.0.0.1:8443/dev/session/\n\n[Authentication]\nusername = alice\npassword = pa%ss word;#1\n",
			want: Config{Base: "https://127.0.0.1:8443/dev", User: "alice", Password: "pa%ss word;#1", SignedURL: true},
		},
		{
			name: "FOQUS's own spelling: colons, key case, Application only, no slash",
			cfg:  "[Application]\nURL: https://abc.execute-api.us-east-1.amazonaws.com/prod/application\n[Authentication]\nUserName: bob\nPassword: x\n",
			want: Config{Base: "https://abc.execute-api.us-east-1.amazonaws.com/prod", User: "bob", Password: "x"},
		},
		{name: "a url that is not the section's", cfg: "[Session]\nurl = https://h/dev/job/\n", err: `[Session] url "https://h/dev/job/" does not end in /session/`},
		{name: "no url at all", cfg: "[Authentication]\nusername = a\n", err: "no section (Session, Simulation, Application, Job, Consumer) has a url"},
		{name: "not an ini file", cfg: "[Session\nurl = x", err: "turbine.cfg:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("turbine.cfg", []byte(tc.cfg))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
