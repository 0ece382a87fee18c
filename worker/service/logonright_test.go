package service

import "testing"

func TestLogonAccount(t *testing.T) {
	t.Parallel()
	for user, want := range map[string]string{
		"":                            "",
		"LocalSystem":                 "",
		`NT AUTHORITY\NetworkService`: "",
		`.\foqus`:                     `WORKER-1\foqus`,
		`CORP\svc-foqus`:              `CORP\svc-foqus`,
		`svc-foqus@corp.example`:      `svc-foqus@corp.example`,
		" .\\foqus ":                  `WORKER-1\foqus`,
	} {
		if got := logonAccount(user, "WORKER-1"); got != want {
			t.Errorf("logonAccount(%q) = %q, want %q", user, got, want)
		}
	}
}
