// Package devstack runs the whole FOQUS cloud on this machine: a moto server
// plays AWS, the synthesized CDK templates are deployed into it, a local
// gateway serves the API through the functions' own handlers, the update
// processor consumes its queue as its event source mapping would, and worker
// processes run jobs with the fake-job runner. make dev and the end-to-end
// tests both start it here.
package devstack

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/backoff"
	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/parentdeath"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/user"
	"github.com/foqus-cloud/stack/functions/httpx"
	"github.com/foqus-cloud/stack/functions/monitor"
	"github.com/foqus-cloud/stack/functions/registry"
	"github.com/foqus-cloud/stack/local/deploy"
	"github.com/foqus-cloud/stack/local/devtls"
	"github.com/foqus-cloud/stack/local/eventsource"
	"github.com/foqus-cloud/stack/local/gateway"
)

// Options say what to start.
type Options struct {
	Stage      string // the synthesized stage (make synth STAGE=...)
	CDKOut     string // the cloud assembly directory
	Addr       string // gateway listen address; port 0 picks a free one
	Workers    int    // worker processes
	WorkerBin  string // the foqus-worker binary (make build)
	WorkerArgs []string
	User       string // demo user created at start
	Password   string // its password; empty: a random one
	Log        *slog.Logger
	WorkerLog  io.Writer // worker processes' output; nil discards it
	Mail       io.Writer // where the e-mails the functions send are printed; nil prints none
	// TLSDir holds the local CA (devtls): when set the gateway serves
	// https (and, later, wss) with a certificate it signs; empty serves
	// plain http.
	TLSDir string
	// Env overrides variables of the deployed functions' environments, for
	// the functions that have them: a test's seconds-long free result window
	// (resource.EnvFreeWindow) in place of the stage's minutes, cdk.json
	// unchanged.
	Env map[string]string
}

// Stack is the running local cloud.
type Stack struct {
	BaseURL  string // the API's base URL, stage included
	CAFile   string // the CA certificate clients trust (TLS only)
	User     string
	Password string
	Endpoint string // the emulator's endpoint
	Config   aws.Config
	Env      map[string]string // resource names, as the deployed functions got them
	Deployed *deploy.Deployment

	moto    *mototest.Server
	server  *http.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	workers []*worker
	opts    Options

	requests    map[string]*awsconf.Counter // AWS requests by function
	invocations map[string]*atomic.Int64    // invocations by function

	stopping   chan struct{} // closed when the workers are being stopped
	stopCtx    context.Context
	stopCancel context.CancelFunc
	stopOnce   sync.Once
	restarts   atomic.Int64
}

// Usage is what the stack's functions cost so far: AWS requests and
// invocations per function, as Lambda would bill them.
type Usage struct {
	Requests    map[string]int
	Invocations map[string]int
}

// Usage reports the functions' AWS requests and invocations so far.
func (s *Stack) Usage() Usage {
	u := Usage{Requests: map[string]int{}, Invocations: map[string]int{}}
	for name, c := range s.requests {
		if n := c.Total(); n > 0 {
			u.Requests[name] = n
		}
	}
	for name, n := range s.invocations {
		if v := n.Load(); v > 0 {
			u.Invocations[name] = int(v)
		}
	}
	return u
}

// Calls reports the AWS requests each function sent so far, by
// "Service.Operation" (awsconf.Counter).
func (s *Stack) Calls() map[string][]awsconf.OpCount {
	out := map[string][]awsconf.OpCount{}
	for name, c := range s.requests {
		if ops := c.Snapshot(); len(ops) > 0 {
			out[name] = ops
		}
	}
	return out
}

// worker is one supervised worker slot: its current process, restarted
// with backoff when it exits while the stack runs.
type worker struct {
	mu   sync.Mutex
	cmd  *exec.Cmd     // the current process
	live chan struct{} // closed when the current process exits
	done chan struct{} // closed when the slot stops for good
}

// Restart backoff of a crashed worker: the SDK's jittered exponential delay
// up to RestartMaxDelay; a worker that ran RestartResetAfter counts as healthy
// again, so its next crash restarts it quickly.
const (
	RestartBaseDelay  = 250 * time.Millisecond
	RestartMaxDelay   = 5 * time.Second
	RestartResetAfter = 30 * time.Second
)

// DefaultWorkerArgs make a crashed worker's job come back within seconds
// (the stage's own lease is minutes) and poll briefly so Ctrl-C is quick.
var DefaultWorkerArgs = []string{"--", "--lease", "6s", "--extend-every", "2s", "--wait", "2s"}

// AMI is the image id the local stack publishes where the image pipeline would.
const AMI = "ami-0000000000000dev0"

// Start brings the whole stack up; Close takes it down.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	asm, err := deploy.ReadAssembly(o.CDKOut)
	if err != nil {
		return nil, err
	}
	moto, err := mototest.Start(ctx)
	if err != nil {
		return nil, err
	}
	s := &Stack{moto: moto, Endpoint: moto.Endpoint(), opts: o, User: o.User, Password: o.Password, stopping: make(chan struct{})}
	s.stopCtx, s.stopCancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Config, err = moto.Config(ctx); err != nil {
		return nil, err
	}
	s.Deployed, err = deploy.Deploy(ctx, s.Config, asm, map[string]string{fmt.Sprintf(resource.WorkerAMISSM, o.Stage): AMI})
	if err != nil {
		return nil, err
	}
	fns, err := s.Deployed.Functions(ctx)
	if err != nil {
		return nil, err
	}
	gw := &gateway.Gateway{Stage: o.Stage, APIID: "local", Region: s.Config.Region, Account: deploy.Account, Handlers: map[string]httpx.Handler{}, Timeouts: map[string]time.Duration{}, Log: o.Log}
	ws := &gateway.WebSocket{Stage: o.Stage, APIID: "local-monitor", Region: s.Config.Region, Account: deploy.Account, Routes: map[string]monitor.RouteFunc{}, Timeouts: gw.Timeouts, Log: o.Log}
	// The listener first: the monitor's pushes go to its Management API.
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	defer func() {
		if s.server == nil {
			_ = ln.Close()
		}
	}()
	s.server = &http.Server{Handler: gateway.WithWebSocket(gw, ws), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(o.Log.Handler(), slog.LevelInfo)}
	scheme, mgmt := "http", s.Config.HTTPClient
	if o.TLSDir != "" {
		ca, err := devtls.Ensure(o.TLSDir, time.Now())
		if err != nil {
			return nil, err
		}
		s.server.TLSConfig, s.CAFile, scheme = ca.TLSConfig(), ca.CAPath(), "https"
		ln = tls.NewListener(ln, s.server.TLSConfig)
		// The monitor's pushes reach the gateway's Management API over the
		// same TLS listener: their client trusts the local CA.
		mgmt = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
		})
	}
	s.BaseURL = fmt.Sprintf("%s://%s/%s", scheme, ln.Addr(), o.Stage)
	s.Env = map[string]string{}
	s.requests, s.invocations = map[string]*awsconf.Counter{}, map[string]*atomic.Int64{}
	queueFns := map[string]registry.UpdatesFunc{} // the functions SQS event source mappings invoke
	mails := &mailPrinter{w: o.Mail}
	for _, name := range api.Functions() {
		f, ok := fns[resource.Name(name, o.Stage)]
		if !ok {
			return nil, fmt.Errorf("function %s is not in the deployed stack", resource.Name(name, o.Stage))
		}
		for k, v := range o.Env {
			if _, ok := f.Env[k]; ok {
				f.Env[k] = v
			}
		}
		for k, v := range f.Env {
			s.Env[k] = v
		}
		gw.Timeouts[name] = f.Timeout
		// Each handler sees only its own function's environment, and its
		// requests are counted apart.
		cfg, calls := s.Config.Copy(), &atomic.Int64{}
		s.requests[name], s.invocations[name] = &awsconf.Counter{}, calls
		s.requests[name].Attach(&cfg)
		if o.Mail != nil {
			mails.attach(&cfg)
		}
		if _, ok := f.Env[resource.EnvMonitorEndpoint]; ok {
			f.Env[resource.EnvMonitorEndpoint] = s.BaseURL // the local gateway's Management API
			cfg.HTTPClient = mgmt
		}
		f.Env[resource.EnvFleetSource] = resource.FleetFromHeartbeats
		set, err := registry.New(cfg, f.Env, name)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", name, err)
		}
		switch name {
		case api.FnAuthorizer:
			gw.Authorizer = counted(calls, set.Authorizer)
		case api.FnUpdateProcessor:
			queueFns[resource.Name(name, o.Stage)] = counted(calls, set.Updates)
		case api.FnArchiver:
			queueFns[resource.Name(name, o.Stage)] = counted(calls, set.Archiver)
		case api.FnThaw:
			queueFns[resource.Name(name, o.Stage)] = counted(calls, set.Thaw)
		case api.FnMonitorAuthorizer:
			ws.Authorizer = counted(calls, set.MonitorAuthorizer)
		case api.FnMonitorConnect, api.FnMonitorDisconnect, api.FnMonitorStatus, api.FnMonitorDefault:
			for _, r := range api.MonitorRoutes {
				if r.Function == name {
					ws.Routes[r.Key] = counted(calls, set.Monitor[name])
				}
			}
		default:
			gw.Handlers[name] = counted(calls, set.HTTP[name])
		}
	}
	if err := s.createUser(ctx); err != nil {
		return nil, err
	}
	if err := s.applyLifecycle(ctx); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.startProcessors(runCtx, queueFns, fns); err != nil {
		return nil, err
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); _ = s.server.Serve(ln) }()
	for i := 0; i < o.Workers; i++ {
		if _, err := s.StartWorker(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// counted wraps a handler so that its invocations are counted.
func counted[E, R any](n *atomic.Int64, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	return func(ctx context.Context, e E) (R, error) {
		n.Add(1)
		return h(ctx, e)
	}
}

func (s *Stack) createUser(ctx context.Context) error {
	if s.User == "" {
		return nil
	}
	if s.Password == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		s.Password = base64.RawURLEncoding.EncodeToString(b)
	}
	if err := s.AddUser(ctx, s.User, s.Password); err != nil {
		return fmt.Errorf("demo user: %w", err)
	}
	return nil
}

// startProcessors runs each of the template's SQS event source mappings,
// each batch under its function's deployed Timeout.
func (s *Stack) startProcessors(ctx context.Context, fns map[string]registry.UpdatesFunc, deployed map[string]deploy.Function) error {
	maps, err := s.Deployed.QueueMappings(ctx)
	if err != nil {
		return err
	}
	q := sqs.NewFromConfig(s.Config)
	for _, m := range maps {
		handler, ok := fns[m.Function]
		if !ok {
			return fmt.Errorf("event source mapping to %s: the local stack runs only the update processor, archiver and thaw", m.Function)
		}
		arn, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(m.QueueURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return err
		}
		p := &eventsource.Poller{
			SQS: q, QueueURL: m.QueueURL, QueueARN: arn.Attributes[string(sqstypes.QueueAttributeNameQueueArn)],
			BatchSize: m.BatchSize, ReportFailures: m.ReportFailures, Handler: handler, Timeout: deployed[m.Function].Timeout,
			Log: s.opts.Log, WaitSeconds: 1, Concurrency: eventsource.LambdaPollers,
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); _ = p.Run(ctx) }()
	}
	if len(maps) == 0 {
		return errors.New("the deployed stack has no event source mapping for the update processor")
	}
	return nil
}

// StartWorker starts one more supervised worker, configured from the worker
// config parameter the CDK app wrote, and returns its first process. A worker
// that exits while the stack runs is restarted with backoff, and the restart
// is logged (a crashed worker must not leave jobs waiting silently).
func (s *Stack) StartWorker() (*exec.Cmd, error) {
	w := &worker{done: make(chan struct{})}
	n := len(s.workerSlots())
	if err := s.spawn(w); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.workers = append(s.workers, w)
	s.mu.Unlock()
	go s.supervise(w, n)
	return w.current(), nil
}

func (s *Stack) spawn(w *worker) error {
	extra := s.opts.WorkerArgs
	if extra == nil {
		extra = DefaultWorkerArgs
	}
	args := append([]string{"run", "--config", "ssm:" + fmt.Sprintf(resource.WorkerConfigSSM, s.opts.Stage), "--stop-grace", "10s"}, extra...)
	cmd := exec.Command(s.opts.WorkerBin, args...)
	cmd.Env = append(os.Environ(),
		"AWS_ENDPOINT_URL="+s.Endpoint, "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION="+s.Config.Region, "AWS_EC2_METADATA_DISABLED=true")
	cmd.Stdout, cmd.Stderr = s.opts.WorkerLog, s.opts.WorkerLog
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	parentdeath.Set(cmd.SysProcAttr) // no worker outlives its stack, however the stack dies
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start worker %s: %w", s.opts.WorkerBin, err)
	}
	live := make(chan struct{})
	go func() { _ = cmd.Wait(); close(live) }()
	w.mu.Lock()
	w.cmd, w.live = cmd, live
	w.mu.Unlock()
	return nil
}

func (w *worker) current() *exec.Cmd {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cmd
}

func (w *worker) exited() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.live
}

// supervise restarts slot n's worker whenever it exits, until the stack stops.
func (s *Stack) supervise(w *worker, n int) {
	defer close(w.done)
	attempt := 0
	for {
		began := time.Now()
		select {
		case <-w.exited():
		case <-s.stopping:
			return
		}
		select {
		case <-s.stopping:
			return
		default:
		}
		if time.Since(began) > RestartResetAfter {
			attempt = 0
		}
		attempt++
		delay := backoff.Delay(attempt, RestartBaseDelay, RestartMaxDelay)
		cmd := w.current()
		s.opts.Log.Warn("worker exited; restarting", "worker", n, "pid", cmd.Process.Pid, "status", cmd.ProcessState.String(), "restart", attempt, "in", delay.Round(time.Millisecond))
		for {
			if backoff.Sleep(s.stopCtx, delay) != nil {
				return
			}
			err := s.spawn(w)
			if err == nil {
				s.restarts.Add(1)
				break
			}
			attempt++
			delay = backoff.Delay(attempt, RestartBaseDelay, RestartMaxDelay)
			s.opts.Log.Error("worker restart failed", "worker", n, "err", err, "retry in", delay.Round(time.Millisecond))
		}
	}
}

func (s *Stack) workerSlots() []*worker {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*worker(nil), s.workers...)
}

// Workers lists the worker processes running now.
func (s *Stack) Workers() []*exec.Cmd {
	var out []*exec.Cmd
	for _, w := range s.workerSlots() {
		select {
		case <-w.exited():
		default:
			out = append(out, w.current())
		}
	}
	return out
}

// Restarts is how many times crashed workers were restarted.
func (s *Stack) Restarts() int { return int(s.restarts.Load()) }

// AddUser creates another user of the stack.
func (s *Stack) AddUser(ctx context.Context, name, password string) error {
	_, err := user.NewStore(dynamodb.NewFromConfig(s.Config), s.Env[resource.EnvUsersTable]).Create(ctx, name, password, user.Free)
	return err
}

// TurbineConfig is a FOQUS turbine.cfg for this stack (spec §9). FOQUS
// blanks the credentials of an http:// base (turbineConfiguration.py
// readConfig), so only a TLS stack's file is one FOQUS can log in with.
func (s *Stack) TurbineConfig() string {
	var b strings.Builder
	for _, sec := range []string{"Consumer", "Job", "Simulation", "Session", "Application"} {
		fmt.Fprintf(&b, "[%s]\nurl = %s/%s/\n", sec, s.BaseURL, strings.ToLower(sec))
		if sec == "Simulation" {
			b.WriteString("SignedUrl = True\n")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "[Authentication]\nusername = %s\npassword = %s\n", s.User, s.Password)
	fmt.Fprintf(&b, "\n[Notification]\nurl = %s\n", s.NotificationURL())
	return b.String()
}

// NotificationURL is the Cloud monitor's WebSocket URL on the gateway's
// listener (wss:// when the gateway serves TLS; FOQUS accepts only wss).
func (s *Stack) NotificationURL() string {
	if u, ok := strings.CutPrefix(s.BaseURL, "https://"); ok {
		return "wss://" + u
	}
	return "ws://" + strings.TrimPrefix(s.BaseURL, "http://")
}

// StopGrace is how long Close waits for workers to hand back their jobs.
const StopGrace = 15 * time.Second

// StopWorkers stops the worker processes (SIGTERM: they finish or hand back
// their jobs), killing those still running after StopGrace; they are not
// restarted.
func (s *Stack) StopWorkers() {
	s.stopOnce.Do(func() { close(s.stopping); s.stopCancel() })
	workers := s.workerSlots()
	for _, w := range workers {
		<-w.done // the supervisor starts no more processes
		_ = w.current().Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(StopGrace)
	for _, w := range workers {
		select {
		case <-w.exited():
		case <-deadline:
			_ = w.current().Process.Kill()
		}
	}
}

// Close stops the workers, the gateway, the processors and moto.
func (s *Stack) Close() {
	s.StopWorkers()
	if s.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.server.Shutdown(ctx)
		cancel()
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	if s.moto != nil {
		s.moto.Close()
	}
}
