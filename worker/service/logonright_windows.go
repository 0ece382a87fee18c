//go:build windows

package service

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// LSA calls x/sys/windows does not wrap (advapi32, documented in ntsecapi.h).
var (
	advapi32                  = windows.NewLazySystemDLL("advapi32.dll")
	procLsaOpenPolicy         = advapi32.NewProc("LsaOpenPolicy")
	procLsaAddAccountRights   = advapi32.NewProc("LsaAddAccountRights")
	procLsaClose              = advapi32.NewProc("LsaClose")
	procLsaNtStatusToWinError = advapi32.NewProc("LsaNtStatusToWinError")
)

const (
	policyCreateAccount = 0x00000010 // POLICY_CREATE_ACCOUNT
	policyLookupNames   = 0x00000800 // POLICY_LOOKUP_NAMES
)

// lsaObjectAttributes is LSA_OBJECT_ATTRIBUTES (all zero, as LsaOpenPolicy asks).
type lsaObjectAttributes struct {
	Length                   uint32
	RootDirectory            windows.Handle
	ObjectName               *windows.NTUnicodeString
	Attributes               uint32
	SecurityDescriptor       uintptr
	SecurityQualityOfService uintptr
}

func lsaError(status uintptr) error {
	if status == 0 {
		return nil
	}
	code, _, _ := procLsaNtStatusToWinError.Call(status)
	return windows.Errno(code)
}

// grantServiceLogon gives user "Log on as a service" (idempotent: an
// account that has it keeps it).
func grantServiceLogon(user string) error {
	host, _ := os.Hostname()
	account := logonAccount(user, host)
	if account == "" {
		return nil
	}
	sid, _, _, err := windows.LookupSID("", account)
	if err != nil {
		return fmt.Errorf("look up account %s: %w", account, err)
	}
	attrs := lsaObjectAttributes{Length: uint32(unsafe.Sizeof(lsaObjectAttributes{}))}
	var policy windows.Handle
	st, _, _ := procLsaOpenPolicy.Call(0, uintptr(unsafe.Pointer(&attrs)), policyCreateAccount|policyLookupNames, uintptr(unsafe.Pointer(&policy)))
	if err := lsaError(st); err != nil {
		return fmt.Errorf("open the local security policy: %w", err)
	}
	defer func() { _, _, _ = procLsaClose.Call(uintptr(policy)) }()
	right, err := windows.NewNTUnicodeString(ServiceLogonRight)
	if err != nil {
		return err
	}
	st, _, _ = procLsaAddAccountRights.Call(uintptr(policy), uintptr(unsafe.Pointer(sid)), uintptr(unsafe.Pointer(right)), 1)
	if err := lsaError(st); err != nil {
		return fmt.Errorf("grant %s to %s: %w", ServiceLogonRight, account, err)
	}
	return nil
}
