// Command foqus-local runs the whole FOQUS cloud on this machine (make dev):
// moto as AWS, the synthesized CDK app deployed into it, the API on a local
// gateway, the update processor and fake-job workers. Ctrl-C stops it all.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/foqus-cloud/stack/local/devstack"
)

func main() {
	o := devstack.Options{}
	flag.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "address the API gateway listens on")
	flag.StringVar(&o.Stage, "stage", "dev", "stage the CDK app was synthesized for")
	flag.StringVar(&o.CDKOut, "cdk-out", "cdk.out", "the synthesized cloud assembly (make synth)")
	flag.IntVar(&o.Workers, "workers", 2, "worker processes to run")
	flag.StringVar(&o.WorkerBin, "worker", "build/worker/foqus-worker", "the foqus-worker binary (make build)")
	flag.StringVar(&o.User, "user", "demo", "demo user to create")
	flag.StringVar(&o.Password, "password", os.Getenv("DEV_PASSWORD"), "its password, kept across restarts so a FOQUS config stays valid (default $DEV_PASSWORD, else a random one, printed)")
	cfgPath := flag.String("turbine-cfg", ".cache/dev/turbine.cfg", "where to write the FOQUS turbine.cfg for this stack")
	flag.StringVar(&o.TLSDir, "tls-dir", ".cache/dev", "where the local CA and the gateway's certificate are kept (made once)")
	plain := flag.Bool("http", false, "serve plain http instead of https (FOQUS then drops its credentials)")
	verbose := flag.Bool("v", false, "log requests, processor and worker output")
	flag.Parse()

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
		o.WorkerLog = os.Stderr
	}
	if *plain {
		o.TLSDir = ""
	}
	o.Mail = os.Stdout // the lifecycle's notices: moto records them, nothing delivers them
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(o, *cfgPath); err != nil {
		fmt.Fprintln(os.Stderr, "foqus-local:", err)
		os.Exit(1)
	}
}

func run(o devstack.Options, cfgPath string) error {
	began := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := devstack.Start(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := os.MkdirAll(filepath.Dir(cfgPath), 0o700); err != nil {
		return err
	}
	if err := writeAtomic(cfgPath, []byte(st.TurbineConfig())); err != nil {
		return err
	}
	fmt.Printf(`FOQUS cloud is up on this machine (started in %.1fs)

  API base URL   %s
  user           %s
  password       %s
  AWS emulator   %s  (AWS_ENDPOINT_URL for the aws CLI and tools)
  workers        %d x fake-job runner
  turbine.cfg    %s  (point FOQUS desktop at it)

%s
Try:  curl %s-u %s:%s %s/session/

Ctrl-C stops everything.
`, time.Since(began).Seconds(), st.BaseURL, st.User, st.Password, st.Endpoint, o.Workers, cfgPath, trust(st), curlCA(st), st.User, st.Password, st.BaseURL)
	<-ctx.Done()
	fmt.Println("\nstopping...")
	return nil
}

// trust is the line that makes FOQUS, turb_client (both use requests) and
// curl trust the local CA.
func trust(st *devstack.Stack) string {
	if st.CAFile == "" {
		return "  plain http: FOQUS blanks the credentials of an http:// turbine.cfg (run without -http for https)\n"
	}
	return fmt.Sprintf("Trust the local CA:  export REQUESTS_CA_BUNDLE=%s  (FOQUS, turb_client; curl --cacert %s)\n", st.CAFile, st.CAFile)
}

func curlCA(st *devstack.Stack) string {
	if st.CAFile == "" {
		return ""
	}
	return "--cacert " + st.CAFile + " "
}

// writeAtomic replaces path with b through a temporary file and a rename, so
// a run killed while writing leaves the old file or the new one, never half
// of one, and a stale file from a killed run is simply replaced.
func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // gone after the rename; cleans up after a failure
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
