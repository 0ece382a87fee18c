// Command foqus-loadtest (make loadtest) starts the local stack, then sends
// the FOQUS client's polling mix to its gateway at a fixed rate for a fixed
// duration with vegeta, prints latency percentiles and errors, and writes an
// HTML latency plot. Every request goes to 127.0.0.1 and the run is bounded.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"github.com/tsenart/vegeta/v12/lib/plot"

	"github.com/foqus-cloud/stack/local/devstack"
)

func main() {
	o := devstack.Options{Addr: "127.0.0.1:0", Stage: "dev", Workers: 2, User: "loadtest", Password: "loadtest-password-1"}
	flag.StringVar(&o.CDKOut, "cdk-out", "cdk.out", "the synthesized cloud assembly (make synth)")
	flag.StringVar(&o.WorkerBin, "worker", "build/worker/foqus-worker", "the foqus-worker binary (make build)")
	rate := flag.Int("rate", 50, "requests per second")
	dur := flag.Duration("duration", 20*time.Second, "how long to send")
	out := flag.String("plot", ".cache/loadtest/latency.html", "where to write the HTML latency plot")
	flag.Parse()
	if *rate <= 0 || *rate > 500 || *dur <= 0 || *dur > 5*time.Minute {
		fmt.Fprintln(os.Stderr, "foqus-loadtest: keep -rate in 1..500 and -duration in (0, 5m]")
		os.Exit(2)
	}
	if err := run(o, *rate, *dur, *out); err != nil {
		fmt.Fprintln(os.Stderr, "foqus-loadtest:", err)
		os.Exit(1)
	}
}

func run(o devstack.Options, rate int, dur time.Duration, plotPath string) error {
	ctx := context.Background()
	st, err := devstack.Start(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	auth := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(st.User+":"+st.Password))}}
	sid, err := seed(st.BaseURL, auth)
	if err != nil {
		return err
	}
	gen := "00000000-0000-0000-0000-000000000000"
	targets := []vegeta.Target{ // what a polling FOQUS client sends
		{Method: "POST", URL: st.BaseURL + "/session/" + sid + "/result/" + gen, Header: auth},
		{Method: "GET", URL: st.BaseURL + "/session/" + sid + "/result/" + gen + "/1", Header: auth},
		{Method: "GET", URL: st.BaseURL + "/session", Header: auth},
		{Method: "GET", URL: st.BaseURL + "/session/" + sid, Header: auth},
		{Method: "GET", URL: st.BaseURL + "/simulation", Header: auth},
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
