package service

import "strings"

// ServiceLogonRight is the privilege an account needs to run a service; the
// SCM refuses to start the service without it (error 1069).
const ServiceLogonRight = "SeServiceLogonRight"

// builtinServiceAccounts have the right already (and LookupAccountName
// names them differently per locale): no grant.
var builtinServiceAccounts = []string{
	"localsystem", `.\localsystem`, `nt authority\system`,
	`nt authority\localservice`, `nt authority\local service`,
	`nt authority\networkservice`, `nt authority\network service`,
}

// logonAccount is the account name to look up for the grant, or "" when
// user needs none. ".\name" (this machine, as sc.exe and the SCM take it)
// becomes "<computer>\name": LookupAccountName does not know ".".
func logonAccount(user, computer string) string {
	u := strings.TrimSpace(user)
	if u == "" {
		return ""
	}
	for _, b := range builtinServiceAccounts {
		if strings.EqualFold(u, b) {
			return ""
		}
	}
	if rest, ok := strings.CutPrefix(u, `.\`); ok {
		return computer + `\` + rest
	}
	return u
}
