// Command foqus-loadtest (make loadtest) load-tests the FOQUS API, the local
// stack's (started here) by default or a deployed stage's (-url, -user; the
// password from $FOQUS_PASSWORD or -password-stdin). Two scenarios:
//
//   - web (GAS's web-tier test): users start at -spawn-rate up to -users,
//     each looping over a FOQUS session (create, append 20, start, poll the
//     results); bounded by -duration and -sessions; prints p50/p95/p99 per
//     route over the run and at the peak, and writes an HTML report with the
//     latency per route over time.
//   - poll: the FOQUS client's polling mix at a fixed -rate for -duration
//     with vegeta, with an HTML latency plot.
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"

	"github.com/foqus-cloud/stack/local/devstack"
	"github.com/foqus-cloud/stack/local/loadtest"
)

func main() {
	o := devstack.Options{Addr: "127.0.0.1:0", Stage: "dev", Workers: 2, User: "loadtest", Password: "loadtest-password-1"}
	flag.StringVar(&o.CDKOut, "cdk-out", "cdk.out", "the synthesized cloud assembly (make synth)")
	flag.StringVar(&o.WorkerBin, "worker", "build/worker/foqus-worker", "the foqus-worker binary (make build)")
	scenario := flag.String("scenario", "web", "web (GAS's web tier: users looping over FOQUS sessions) or poll (a fixed request rate)")
	url := flag.String("url", "", "a deployed stage's base URL (https://<api>.execute-api.<region>.amazonaws.com/<stage>); empty: start the local stack")
	user := flag.String("user", "", "the user for -url (password from $FOQUS_PASSWORD or -password-stdin)")
	pwStdin := flag.Bool("password-stdin", false, "read the -user password from stdin")
	rate := flag.Int("rate", 50, "poll: requests per second")
	dur := flag.Duration("duration", 20*time.Second, "how long to send")
	sc := loadtest.GAS(0)
	flag.IntVar(&sc.Users, "users", sc.Users, "web: concurrent users at the peak")
	flag.Float64Var(&sc.SpawnRate, "spawn-rate", sc.SpawnRate, "web: users started per second")
	flag.IntVar(&sc.MaxSessions, "sessions", sc.MaxSessions, "web: sessions over the whole run, all users together")
	flag.DurationVar(&sc.PollInterval, "poll-interval", sc.PollInterval, "web: a user's pause between result polls")
	flag.DurationVar(&sc.SessionTimeout, "session-timeout", sc.SessionTimeout, "web: how long a user polls one session before starting the next")
	out := flag.String("report", ".cache/loadtest/report.html", "where to write the HTML report")
	flag.Parse()
	sc.Duration = *dur

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := main1(ctx, o, *scenario, *url, *user, *pwStdin, *rate, sc, *out); err != nil {
		fmt.Fprintln(os.Stderr, "foqus-loadtest:", err)
		os.Exit(1)
	}
}

func main1(ctx context.Context, o devstack.Options, scenario, url, user string, pwStdin bool, rate int, sc loadtest.Scenario, out string) error {
	switch scenario {
	case "web":
		if err := sc.Validate(); err != nil {
			return err
		}
	case "poll":
		if rate <= 0 || rate > 500 || sc.Duration <= 0 || sc.Duration > 5*time.Minute {
			return errors.New("keep -rate in 1..500 and -duration in (0, 5m]")
		}
	default:
		return fmt.Errorf("-scenario %q: want web or poll", scenario)
	}
	t := loadtest.Target{BaseURL: strings.TrimRight(url, "/"), User: user}
	if url == "" {
		st, err := devstack.Start(ctx, o)
		if err != nil {
			return err
		}
		defer st.Close()
		t.BaseURL, t.User, t.Password = st.BaseURL, st.User, st.Password
	} else {
		if user == "" {
			return errors.New("-url needs -user")
		}
		t.Password = os.Getenv("FOQUS_PASSWORD")
		if pwStdin {
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("reading the password: %w", err)
			}
			t.Password = strings.TrimRight(line, "\r\n")
		}
		if t.Password == "" {
			return errors.New("-url needs the password in $FOQUS_PASSWORD or on stdin with -password-stdin")
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if scenario == "poll" {
		return runPoll(t, rate, sc.Duration, out)
	}
	return runWeb(ctx, t, sc, out)
}

func runWeb(ctx context.Context, t loadtest.Target, sc loadtest.Scenario, out string) error {
	rep, err := loadtest.Run(ctx, t, sc)
	if err != nil {
		return err
	}
	if err := rep.WriteText(os.Stdout); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := rep.WriteHTML(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Println("report:", out)
	return nil
}

// runPoll sends the polling mix of a FOQUS client at a fixed rate.
func runPoll(t loadtest.Target, rate int, dur time.Duration, plotPath string) error {
	auth := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(t.User+":"+t.Password))}}
	base := t.BaseURL
	sid, err := seed(base, auth)
	if err != nil {
		return err
	}
	gen := "00000000-0000-0000-0000-000000000000"
	targets := []vegeta.Target{ // what a polling FOQUS client sends
		{Method: "POST", URL: base + "/session/" + sid + "/result/" + gen, Header: auth},
		{Method: "GET", URL: base + "/session/" + sid + "/result/" + gen + "/1", Header: auth},
		{Method: "GET", URL: base + "/session", Header: auth},
		{Method: "GET", URL: base + "/session/" + sid, Header: auth},
		{Method: "GET", URL: base + "/simulation", Header: auth},
	}
	attacker := vegeta.NewAttacker(vegeta.Timeout(30*time.Second), vegeta.MaxWorkers(64))
	var metrics vegeta.Metrics
	p := plot.New(plot.Title(fmt.Sprintf("FOQUS local gateway, %d req/s for %s", rate, dur)))
	for res := range attacker.Attack(vegeta.NewStaticTargeter(targets...), vegeta.Rate{Freq: rate, Per: time.Second}, dur, "foqus") {
		metrics.Add(res)
		if err := p.Add(res); err != nil {
			return err
		}
	}
	metrics.Close()
	p.Close()
	if err := os.MkdirAll(filepath.Dir(plotPath), 0o755); err != nil {
		return err
	}
	f, err := os.Create(plotPath)
	if err != nil {
		return err
	}
	if _, err := p.WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("requests %d at %.1f/s over %s, success %.2f%%\n", metrics.Requests, metrics.Rate, metrics.Duration.Round(time.Millisecond), 100*metrics.Success)
	fmt.Printf("latency p50 %s  p95 %s  p99 %s  max %s\n", metrics.Latencies.P50, metrics.Latencies.P95, metrics.Latencies.P99, metrics.Latencies.Max)
	fmt.Printf("status codes %v\n", metrics.StatusCodes)
	for _, e := range metrics.Errors {
		fmt.Println("error:", e)
	}
	fmt.Println("plot:", plotPath)
	if metrics.Success < 1 {
		return fmt.Errorf("%.2f%% of requests failed", 100*(1-metrics.Success))
	}
	return nil
}

// seed makes a session with finished results to page through.
func seed(base string, auth http.Header) (string, error) {
	call := func(method, path, body string, out any) error {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header = auth.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	}
	var sid string
	if err := call("POST", "/session", "", &sid); err != nil {
		return "", err
	}
	jobs := make([]map[string]any, 20)
	for i := range jobs {
		jobs[i] = map[string]any{"Simulation": "zzfoqus_load", "Application": "fake-job", "Input": map[string]any{"x": map[string]any{"a": i}}}
	}
	body, _ := json.Marshal(jobs)
	if err := call("POST", "/session/"+sid, string(body), nil); err != nil {
		return "", err
	}
	if err := call("POST", "/session/"+sid+"/start", "", nil); err != nil {
		return "", err
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var jobs []struct{ State string }
		if err := call("GET", "/session/"+sid, "", &jobs); err != nil {
			return "", err
		}
		done := 0
		for _, j := range jobs {
			if j.State == "success" {
				done++
			}
		}
		if done == len(jobs) {
			return sid, call("POST", "/session/"+sid+"/result/00000000-0000-0000-0000-000000000000", "", nil)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "", fmt.Errorf("the seed session did not finish within a minute")
}
