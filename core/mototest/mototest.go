// Package mototest runs a moto server (an AWS emulator, from the Python
// package moto[server]) on a free loopback port for a test binary, and creates
// the stack's tables, buckets, topics and queues in it. Tests talk to it with
// the real AWS SDK, exactly as the functions and the worker do in AWS.
//
//	var srv *mototest.Server
//	func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }
//	func TestX(t *testing.T) { st := srv.Stack(t); ... }
package mototest

import (
	"bufio"
	"context"
	_ "embed" // the server script
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/foqus-cloud/stack/core/backoff"
)

// serveScript starts moto's server with DynamoDB requests serialized (see the script).
//
//go:embed serve.py
var serveScript string

// EnvPython names the interpreter that has moto; the Makefile sets it.
const EnvPython = "MOTO_PYTHON"

// Region is the region every test client uses.
const Region = "us-east-1"

// ErrNoMoto is returned when no interpreter with moto[server] is found.
var ErrNoMoto = errors.New("no python3 with moto[server] found: install it with `pip install 'moto[server]' cfn-lint`, or set " + EnvPython + " to an interpreter that has it (the Makefile finds one)")

// Python returns the interpreter that imports moto: $MOTO_PYTHON, python3 on
// PATH, then pyenv's versions.
func Python() (string, error) {
	var cands []string
	if p := os.Getenv(EnvPython); p != "" {
		cands = append(cands, p)
	}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		home, _ := os.UserHomeDir()
		root = filepath.Join(home, ".pyenv")
	}
	found, _ := filepath.Glob(filepath.Join(root, "versions", "*", "bin", "python3"))
	cands = append(cands, found...)
	for _, p := range cands {
		if exec.Command(p, "-c", "import moto.server, flask").Run() == nil {
			return p, nil
		}
	}
	return "", ErrNoMoto
}

// Server is a running moto server.
type Server struct {
	cmd      *exec.Cmd
	endpoint string
	exited   chan struct{}
	stacks   atomic.Int64 // Stacks created so far: each one's name suffix
}

// Start launches moto on a free loopback port and waits until it answers.
func Start(ctx context.Context) (*Server, error) {
	py, err := Python()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(py, "-c", serveScript, "127.0.0.1")
	ownGroup(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start moto: %w", err)
	}
	if os.Getenv("MOTO_VERBOSE") != "" {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start moto: %w", err)
	}
	s := &Server{cmd: cmd, exited: make(chan struct{})}
	ports := make(chan int, 1)
	go func() {
		// The first line is the port moto bound; the rest is drained so the
		// server never blocks on a full pipe.
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			if p, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil {
				ports <- p
			}
		}
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		close(s.exited)
	}()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case p := <-ports:
		s.endpoint = fmt.Sprintf("http://127.0.0.1:%d", p)
	case <-s.exited:
		return nil, fmt.Errorf("moto server exited at start (%s -c serve.py); set MOTO_VERBOSE=1 to see why", py)
	case <-ctx.Done():
		s.Close()
		return nil, fmt.Errorf("moto server did not say its port: %w", ctx.Err())
	}
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("moto server exited at start (%s -c serve.py); set MOTO_VERBOSE=1 to see why", py)
		default:
		}
		if resp, err := http.Get(s.endpoint + "/moto-api/"); err == nil {
			_ = resp.Body.Close()
			return s, nil
		}
		if err := backoff.Sleep(ctx, 50*time.Millisecond); err != nil {
			s.Close()
			return nil, fmt.Errorf("moto server did not answer on %s: %w", s.endpoint, err)
		}
	}
}

// Endpoint is the server's base URL, e.g. http://127.0.0.1:40123.
func (s *Server) Endpoint() string { return s.endpoint }

// Config returns an SDK configuration whose clients all talk to this server.
func (s *Server) Config(ctx context.Context) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx,
		config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
		config.WithBaseEndpoint(s.endpoint),
	)
}

// Reset clears every resource and item in the server.
func (s *Server) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset moto: status %d", resp.StatusCode)
	}
	return nil
}

// Close stops the server and every process it started.
func (s *Server) Close() {
	if s.cmd.Process != nil {
		killGroup(s.cmd.Process)
	}
	<-s.exited
}

// Run is the body of a TestMain: it starts moto, stores it in *srv, runs the
// tests and stops moto. Without moto it fails the package with how to get it.
func Run(m *testing.M, srv **Server) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	s, err := Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mototest:", err)
		return 1
	}
	*srv = s
	defer s.Close()
	return m.Run()
}
