//go:build windows

package service

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/debug"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

// Event IDs the service writes to the Application log.
const (
	EventStarted uint32 = 1
	EventStopped uint32 = 2
	EventError   uint32 = 3
)

// errUnexpectedExit: the loop returned although nobody asked it to stop. A
// service treats that as a failure so the SCM's recovery actions restart it.
var errUnexpectedExit = errors.New("worker loop returned without a stop request")

// exitFailure is the service-specific exit code of a failed worker loop;
// non-zero so the recovery actions (also on non-crash failures) restart it.
const exitFailure = 1

func execute(cmd Command, w Worker, log *slog.Logger) error {
	switch cmd.Verb {
	case VerbInstall:
		return install(cmd.Install, log)
	case VerbRemove:
		return remove(log)
	case VerbStart:
		return start(cmd.Wait, log)
	case VerbStop:
		return stop(cmd.Wait, log)
	case VerbRun:
		isService, err := svc.IsWindowsService()
		if err != nil {
			return fmt.Errorf("detect service mode: %w", err)
		}
		if !isService {
			return runConsole(w, cmd.Run, log)
		}
		elog, err := eventlog.Open(EventSource)
		if err != nil {
			return fmt.Errorf("open event log source %s (run install first): %w", EventSource, err)
		}
		defer func() { _ = elog.Close() }()
		return svc.Run(Name, &handler{w: w, grace: cmd.Run.withDefaults().StopGrace, log: elog})
	case VerbDebug:
		return debug.Run(Name, &handler{w: w, grace: cmd.Run.withDefaults().StopGrace, log: debug.New(Name)})
	}
	return usagef("unknown subcommand %q", cmd.Verb)
}

// handler is the svc.Handler: it runs the worker loop and turns Stop,
// Shutdown and PreShutdown into a cancelled context with a bounded wait.
type handler struct {
	w     Worker
	grace time.Duration
	log   debug.Log
}

func (h *handler) Execute(_ []string, r <-chan svc.ChangeRequest, s chan<- svc.Status) (bool, uint32) {
	// PreShutdown: the SCM waits up to the configured preshutdown timeout
	// for us, where plain Shutdown allows only seconds.
	const accepts = svc.AcceptStop | svc.AcceptShutdown | svc.AcceptPreShutdown
	st := &statusReporter{out: s}
	st.report(svc.Status{State: svc.StartPending})

	stopReq := make(chan string, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case c := <-r:
				switch c.Cmd {
				case svc.Interrogate:
					st.repeat()
				case svc.Stop, svc.Shutdown, svc.PreShutdown:
					select {
					case stopReq <- cmdName(c.Cmd):
					default: // a stop is already under way
					}
				}
			}
		}
	}()

	st.report(svc.Status{State: svc.Running, Accepts: accepts})
	_ = h.log.Info(EventStarted, Name+" started")
	waitHint := uint32(3 * stopWaitTick / time.Millisecond)
	var checkpoint uint32
	stopped, err := supervise(h.w, stopReq, h.grace, supervision{
		stopping: func(reason string) {
			_ = h.log.Info(EventStopped, fmt.Sprintf("%s: %s requested; waiting up to %v for the worker", Name, reason, h.grace))
			st.report(svc.Status{State: svc.StopPending, WaitHint: waitHint})
		},
		waiting: func() {
			checkpoint++
			st.report(svc.Status{State: svc.StopPending, CheckPoint: checkpoint, WaitHint: waitHint})
		},
		tick: stopWaitTick,
	})
	if stopped {
		// A requested stop always ends as a clean stop: a non-zero exit
		// code would make the SCM restart a service someone stopped.
		if err != nil {
			_ = h.log.Warning(EventError, fmt.Sprintf("%s stopped: %v", Name, err))
		} else {
			_ = h.log.Info(EventStopped, Name+" stopped")
		}
		return false, 0
	}
	if err == nil {
		err = errUnexpectedExit
	}
	_ = h.log.Error(EventError, fmt.Sprintf("%s failed: %v", Name, err))
	return true, exitFailure
}

// statusReporter sends status changes to the SCM and answers Interrogate
// with the last one sent. The lock orders the two senders, so an
// Interrogate reply cannot overtake a newer state (say Running after
// StopPending); holding it while sending cannot deadlock because the
// dispatcher always accepts status changes.
type statusReporter struct {
	mu   sync.Mutex
	last svc.Status
	out  chan<- svc.Status
}

func (r *statusReporter) report(s svc.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = s
	r.out <- s
}

func (r *statusReporter) repeat() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out <- r.last
}

func cmdName(c svc.Cmd) string {
	switch c {
	case svc.Stop:
		return "stop"
	case svc.Shutdown:
		return "shutdown"
	case svc.PreShutdown:
		return "preshutdown"
	}
	return fmt.Sprintf("control %d", c)
}

// mgrConfig maps a Definition onto the SCM's configuration.
func mgrConfig(def Definition, exe, password string) mgr.Config {
	c := mgr.Config{
		ServiceType:      windows.SERVICE_WIN32_OWN_PROCESS,
		ErrorControl:     mgr.ErrorNormal,
		BinaryPathName:   commandLine(exe, def.Args),
		DisplayName:      def.DisplayName,
		Description:      def.Description,
		ServiceStartName: def.User,
		Password:         password,
	}
	if def.Interactive {
		c.ServiceType |= windows.SERVICE_INTERACTIVE_PROCESS
	}
	switch def.Startup {
	case StartupAuto:
		c.StartType = mgr.StartAutomatic
	case StartupDelayed:
		c.StartType, c.DelayedAutoStart = mgr.StartAutomatic, true
	case StartupManual:
		c.StartType = mgr.StartManual
	case StartupDisabled:
		c.StartType = mgr.StartDisabled
	}
	return c
}

// commandLine quotes like mgr.CreateService does.
func commandLine(exe string, args []string) string {
	parts := []string{windows.EscapeArg(exe)}
	for _, a := range args {
		parts = append(parts, windows.EscapeArg(a))
	}
	return strings.Join(parts, " ")
}

// install creates the service, or reconfigures it in place when it exists,
// so that running it again (an image step re-run after a reboot) converges.
func install(o InstallOptions, log *slog.Logger) error {
	o = o.withDefaults()
	def := DefinitionFor(o)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return err
	}
	// Without "Log on as a service" the SCM cannot start it (error 1069).
	if err := grantServiceLogon(o.User); err != nil {
		return err
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service control manager: %w", err)
	}
	defer disconnect(m)

	cfg := mgrConfig(def, exe, o.Password)
	s, err := m.OpenService(Name)
	if err == nil {
		if cfg.ServiceStartName == "" {
			cfg.ServiceStartName = "LocalSystem" // empty would mean "unchanged"
		}
		if err := s.UpdateConfig(cfg); err != nil {
			closeService(s)
			return fmt.Errorf("update service %s: %w", Name, err)
		}
		log.Info("service updated", "name", Name, "command", cfg.BinaryPathName)
	} else {
		s, err = m.CreateService(Name, exe, cfg, def.Args...)
		if err != nil {
			return fmt.Errorf("create service %s: %w", Name, err)
		}
		log.Info("service installed", "name", Name, "command", cfg.BinaryPathName)
	}
	defer closeService(s)

	actions := make([]mgr.RecoveryAction, len(def.RecoveryDelays))
	for i, d := range def.RecoveryDelays {
		actions[i] = mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: d}
	}
	if err := s.SetRecoveryActions(actions, uint32(def.ResetPeriod/time.Second)); err != nil {
		return fmt.Errorf("set recovery actions: %w", err)
	}
	// A worker loop that returns an error exits the service with a non-zero
	// code instead of crashing; restart in that case too.
	if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		return fmt.Errorf("set recovery on non-crash failures: %w", err)
	}
	if err := setPreshutdownTimeout(s.Handle, def.StopGrace+30*time.Second); err != nil {
		return fmt.Errorf("set preshutdown timeout: %w", err)
	}
	err = eventlog.InstallAsEventCreate(EventSource, eventlog.Error|eventlog.Warning|eventlog.Info)
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("install event source %s: %w", EventSource, err)
	}
	return nil
}

// servicePreshutdownInfo is SERVICE_PRESHUTDOWN_INFO (x/sys lacks it).
type servicePreshutdownInfo struct{ timeoutMillis uint32 }

func setPreshutdownTimeout(h windows.Handle, d time.Duration) error {
	info := servicePreshutdownInfo{timeoutMillis: uint32(d / time.Millisecond)}
	return windows.ChangeServiceConfig2(h, windows.SERVICE_CONFIG_PRESHUTDOWN_INFO, (*byte)(unsafe.Pointer(&info)))
}

// remove stops and deletes the service; removing an absent one succeeds.
func remove(log *slog.Logger) error {
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service control manager: %w", err)
	}
	defer disconnect(m)
	s, err := m.OpenService(Name)
	if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
		log.Info("service not installed", "name", Name)
		return removeEventSource()
	}
	if err != nil {
		return fmt.Errorf("open service %s: %w", Name, err)
	}
	defer closeService(s)
	if st, err := s.Query(); err == nil && st.State != svc.Stopped {
		if _, err := s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
			return fmt.Errorf("stop service %s: %w", Name, err)
		}
		if err := waitFor(s, svc.Stopped, DefaultStopGrace+30*time.Second); err != nil {
			return err
		}
	}
	if err := s.Delete(); err != nil && !errors.Is(err, windows.ERROR_SERVICE_MARKED_FOR_DELETE) {
		return fmt.Errorf("delete service %s: %w", Name, err)
	}
	log.Info("service removed", "name", Name)
	return removeEventSource()
}

func removeEventSource() error {
	err := eventlog.Remove(EventSource)
	if err != nil && !errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return fmt.Errorf("remove event source %s: %w", EventSource, err)
	}
	return nil
}

func openService() (*mgr.Mgr, *mgr.Service, error) {
	m, err := mgr.Connect()
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the service control manager: %w", err)
	}
	s, err := m.OpenService(Name)
	if err != nil {
		disconnect(m)
		return nil, nil, fmt.Errorf("open service %s: %w", Name, err)
	}
	return m, s, nil
}

func start(wait time.Duration, log *slog.Logger) error {
	m, s, err := openService()
	if err != nil {
		return err
	}
	defer disconnect(m)
	defer closeService(s)
	if err := s.Start(); err != nil && !errors.Is(err, windows.ERROR_SERVICE_ALREADY_RUNNING) {
		return fmt.Errorf("start service %s: %w", Name, err)
	}
	log.Info("start requested", "name", Name)
	if wait > 0 {
		return waitFor(s, svc.Running, wait)
	}
	return nil
}

func stop(wait time.Duration, log *slog.Logger) error {
	m, s, err := openService()
	if err != nil {
		return err
	}
	defer disconnect(m)
	defer closeService(s)
	if _, err := s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
		return fmt.Errorf("stop service %s: %w", Name, err)
	}
	log.Info("stop requested", "name", Name)
	if wait > 0 {
		return waitFor(s, svc.Stopped, wait)
	}
	return nil
}

func waitFor(s *mgr.Service, want svc.State, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := s.Query()
		if err != nil {
			return fmt.Errorf("query service %s: %w", Name, err)
		}
		if st.State == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("service %s: state %d after %v, want %d", Name, st.State, timeout, want)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// The SCM handles are released on a best-effort basis: the operation's own
// error is the one worth reporting, and the process is about to exit.
func disconnect(m *mgr.Mgr)       { _ = m.Disconnect() }
func closeService(s *mgr.Service) { _ = s.Close() }
