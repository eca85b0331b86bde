package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stratastore/strata/tiered/observe"
)

// mainEnv makes the test binary run main instead of the tests (for the signal test).
const mainEnv = "STRATA_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Unsetenv(mainEnv) // not a configuration variable
		os.Args = os.Args[:1]
		main()
		return
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serverURL waits for the "strata is serving" log line and returns its url.
func serverURL(t *testing.T, out interface{ String() string }) string {
	t.Helper()
	return servingField(t, out, "url")
}

// servingField waits for the "strata is serving" log line and returns one of its fields.
func servingField(t *testing.T, out interface{ String() string }, field string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["message"] == "strata is serving" {
				return line[field].(string)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("server did not start:\n%s", out.String())
	return ""
}

func env(dir string) []string {
	return []string{"STRATA_AUTH_ENFORCE=false", "STRATA_DATA_DIR=" + dir, "STRATA_HTTP_ADDR=127.0.0.1:0", "STRATA_ADMIN_ADDR=127.0.0.1:0"}
}

// startServe runs serve until the returned stop is called; stop returns serve's error.
func startServe(t *testing.T, environ []string) (url string, out *syncBuffer, stop func() error) {
	t.Helper()
	out = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, environ, out, serveOptions{recoverEvery: 20 * time.Millisecond}) }()
	url = serverURL(t, out)
	return url, out, func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(40 * time.Second):
			t.Fatal("serve did not stop")
			return nil
		}
	}
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestServe_LocalRoundTripSurvivesRestart stores objects, stops the server, starts it again
// on the same data directory and reads them back.
func TestServe_LocalRoundTripSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	url, out, stop := startServe(t, env(dir))
	if !strings.Contains(out.String(), `"storage":"local data in `+dir) {
		t.Errorf("start-up line does not say where data lives:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "AUTH IS NOT ENFORCED") {
		t.Errorf("no warning about disabled auth:\n%s", out.String())
	}
	big := strings.Repeat("L", 2<<20)
	for key, body := range map[string]string{"small": "s", "big": big} {
		if status, b := do(t, "PUT", url+"/v1/objects/test/_/"+key, body); status != 200 {
			t.Fatalf("PUT %s: %d %s", key, status, b)
		}
	}
	if status, b := do(t, "GET", url+"/ready", ""); status != 200 || b != "OK" {
		t.Errorf("/ready: %d %q", status, b)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if !strings.Contains(out.String(), "strata stopped") {
		t.Errorf("no clean stop:\n%s", out.String())
	}

	url, _, stop = startServe(t, env(dir))
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	for key, body := range map[string]string{"small": "s", "big": big} {
		if status, b := do(t, "GET", url+"/v1/objects/test/_/"+key, ""); status != 200 || b != body {
			t.Errorf("GET %s after restart: %d, %d bytes", key, status, len(b))
		}
	}
}

// TestServe_InternalEndpointsOnlyOnAdminListener: /internal/cleanup and /internal/recover
// are unknown paths (404) on the public listener, auth off or not, and work on the admin
// listener, which is on loopback.
func TestServe_InternalEndpointsOnlyOnAdminListener(t *testing.T) {
	url, out, stop := startServe(t, env(t.TempDir()))
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	adminURL := servingField(t, out, "admin_url")
	if !strings.HasPrefix(adminURL, "http://127.0.0.1:") || adminURL == url {
		t.Fatalf("admin listener at %q (public %q)", adminURL, url)
	}
	for _, path := range []string{"/internal/cleanup", "/internal/recover"} {
		for _, m := range []string{"POST", "GET"} {
			if status, body := do(t, m, url+path, `{"message":{"data":"e30="}}`); status != 404 || body != "" {
				t.Errorf("public %s %s: %d %q, want 404", m, path, status, body)
			}
		}
	}
	if status, body := do(t, "POST", adminURL+"/internal/recover", ""); status != 200 || !strings.Contains(body, `"claimed":0`) {
		t.Errorf("admin recover: %d %s", status, body)
	}
	if status, body := do(t, "POST", adminURL+"/internal/cleanup", `{"message":{"data":"eyJjaGFuZ2VfaWQiOiJub3BlIn0="}}`); status != 204 {
		t.Errorf("admin cleanup of an unknown change: %d %s", status, body)
	}
	if status, _ := do(t, "PUT", adminURL+"/v1/objects/test/_/k", "v"); status != 404 {
		t.Errorf("admin PUT of an object: %d, want 404", status)
	}
	if status, _ := do(t, "GET", adminURL+"/ready", ""); status != 200 {
		t.Errorf("admin /ready: %d", status)
	}
}

func TestRun_Commands(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"help"}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "serve") {
		t.Errorf("help: %d %q", code, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"frobnicate"}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %d %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"serve", "extra"}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("serve with arguments: %d", code)
	}
	stderr.Reset()
	if code := run(nil, []string{"STRATA_AUTH_ENFORCE=false", "STRATA_MAX_CONCURRENCY=none"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "STRATA_MAX_CONCURRENCY") {
		t.Errorf("bad configuration: %d %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run(nil, nil, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "STRATA_AUTH_KEYS") {
		t.Errorf("enforced auth without keys: %d %q", code, stderr.String())
	}
}

// TestMain_SIGTERM runs the real binary entry point and stops it with SIGTERM: it must
// drain and exit 0.
func TestMain_SIGTERM(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRATA_") {
			environ = append(environ, kv)
		}
	}
	cmd.Env = append(append(environ, mainEnv+"=1"), env(dir)...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	url := serverURL(t, out)
	if status, _ := do(t, "PUT", url+"/v1/objects/test/_/k", "v"); status != 200 {
		t.Fatalf("PUT: %d", status)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && errors.As(err, &ee) {
			t.Errorf("exit code %d:\n%s", ee.ExitCode(), out.String())
		} else if err != nil {
			t.Error(err)
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("no exit after SIGTERM:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "strata stopped") {
		t.Errorf("no clean stop:\n%s", out.String())
	}
}

// TestRun_ClientCommands checks that the client subcommands reach the CLI.
func TestRun_ClientCommands(t *testing.T) {
	var stdout, stderr bytes.Buffer
	key := filepath.Join(t.TempDir(), "strata.key")
	if code := run([]string{"keygen", key}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("keygen: %d %s", code, stderr.String())
	}
	for _, f := range []string{key, key + ".pub"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("keygen did not write %s: %v", f, err)
		}
	}
	stderr.Reset()
	if code := run([]string{"get"}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("get without a key: exit %d, want the usage code 2 (%s)", code, stderr.String())
	}
}

// TestStatus_WhileServing_AsksTheAdminListener runs `strata status` against a data directory
// a running server holds: bbolt lets one process open it, so status asks the server's admin
// listener, which the public one does not expose.
func TestStatus_WhileServing_AsksTheAdminListener(t *testing.T) {
	dir := t.TempDir()
	url, out, stop := startServe(t, env(dir))
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	adminURL := servingField(t, out, "admin_url")
	if status, _ := do(t, "GET", url+"/internal/status", ""); status != 404 {
		t.Errorf("public /internal/status: %d, want 404", status)
	}
	// recoverEvery is 20ms: wait for a recorded run.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := do(t, "GET", adminURL+"/internal/status", "")
		if strings.Contains(body, `"last_run":{`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery run recorded: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Setenv("STRATA_DATA_DIR", dir)
	var stdout, stderr bytes.Buffer
	code := run([]string{"status", "--admin-url", adminURL}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"read from the running server at " + adminURL, "change-log backlog: 0 entries", "last recovery run: ", ", ok", "no dead-letter queue (local server)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestServe_MetricsListsTheCatalog: on a freshly started server, /metrics lists every metric
// of the catalog (observe.Catalog) under its Prometheus name, with exactly the catalog's
// labels, before any request; a request then shows up under its operation and status class.
func TestServe_MetricsListsTheCatalog(t *testing.T) {
	url, _, stop := startServe(t, env(t.TempDir()))
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	scrape := func() map[string]*dto.MetricFamily {
		t.Helper()
		status, body := do(t, "GET", url+"/metrics", "")
		if status != http.StatusOK {
			t.Fatalf("/metrics: %d %s", status, body)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("/metrics is not the Prometheus text format: %v\n%s", err, body)
		}
		return fams
	}
	fams := scrape()
	for _, c := range observe.Catalog {
		mf := fams[c.Prometheus]
		if mf == nil || len(mf.Metric) == 0 {
			t.Errorf("%s (%s) is not listed", c.Prometheus, c.Name)
			continue
		}
		want := slices.Sorted(slices.Values(c.Labels))
		for _, m := range mf.Metric {
			var got []string
			for _, l := range m.Label {
				got = append(got, l.GetName())
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: labels %v, want %v", c.Prometheus, got, want)
				break
			}
		}
	}
	count := func(fams map[string]*dto.MetricFamily, op, class string) float64 {
		for _, m := range fams["strata_requests_total"].GetMetric() {
			var o, c string
			for _, l := range m.Label {
				switch l.GetName() {
				case "op":
					o = l.GetValue()
				case "status_class":
					c = l.GetValue()
				}
			}
			if o == op && c == class {
				return m.GetCounter().GetValue()
			}
		}
		t.Fatalf("no strata_requests_total{op=%q,status_class=%q}", op, class)
		return 0
	}
	if n := count(fams, "object-put", "2xx"); n != 0 {
		t.Fatalf("object-put 2xx = %v before any request", n)
	}
	if status, body := do(t, "PUT", url+"/v1/objects/u/org=1/k", "hello"); status != http.StatusOK {
		t.Fatalf("PUT: %d %s", status, body)
	}
	if n := count(scrape(), "object-put", "2xx"); n != 1 {
		t.Errorf("object-put 2xx = %v after one PUT, want 1", n)
	}
}
