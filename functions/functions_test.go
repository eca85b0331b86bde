package functions

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/functions/internal/config"
	"github.com/stratastore/strata/functions/internal/httpapi"
	"github.com/stratastore/strata/functions/internal/logging"
	"github.com/stratastore/strata/functions/internal/runtime"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
)

// Environment of the child process that serves one function through the Functions
// Framework, exactly as a deployed instance does. The names avoid the STRATA_ prefix, which
// the configuration would reject as unknown.
const (
	childEnv = "FFTEST_CHILD"
	seedEnv  = "FFTEST_SEED" // JSON list of keys to store (body = key) before serving
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(serveChild())
	}
	os.Exit(m.Run())
}

// serveChild replaces the runtime with an in-memory one, seeds it, and serves the
// registered functions with funcframework, which honours FUNCTION_TARGET and PORT.
func serveChild() int {
	// The private functions' caller checks are the runtime's, from the environment that
	// init validated.
	cfg, err := config.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	invokers, err := runtime.Invokers(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	in, err := memoryInstance(os.Getenv(seedEnv), invokers)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	build = func() (*instance, error) { return in, nil }
	if err := funcframework.StartHostPort("127.0.0.1", os.Getenv("PORT")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	return 0
}

// seedContext is where seeded objects live: /v1/objects/test/org=1/{key}.
var seedContext = object.Context{Usecase: "test", Scopes: []object.Scope{{Name: "org", Value: "1"}}}

// memoryInstance builds an instance over in-memory backends, without auth, with the given
// checks of the private functions' callers.
func memoryInstance(seedJSON string, invokers map[string]httpapi.InvokerAuth) (*instance, error) {
	mem := membackend.Open(nil)
	store, err := tiered.New(mem.HighVolume(), mem.LongTerm(), mem.ChangeLog(), &tiered.Options{GracePeriod: -1})
	if err != nil {
		return nil, err
	}
	var keys []string
	if seedJSON != "" {
		if err := json.Unmarshal([]byte(seedJSON), &keys); err != nil {
			return nil, err
		}
	}
	for _, k := range keys {
		if _, err := store.Put(context.Background(), object.ID{Context: seedContext, Key: k}, object.Metadata{Size: -1}, strings.NewReader(k)); err != nil {
			return nil, fmt.Errorf("seed %q: %w", k, err)
		}
	}
	verifier, err := auth.NewVerifier(nil, auth.Options{})
	if err != nil {
		return nil, err
	}
	srv, err := httpapi.New(store, httpapi.Options{Verifier: verifier, Logger: logging.New(io.Discard, nil), Invokers: invokers})
	if err != nil {
		return nil, err
	}
	return newInstance(srv)
}

// child is a running function process.
type child struct {
	url    string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// startChild runs this test binary as a deployed function process with FUNCTION_TARGET set
// and waits until it answers. extraEnv may add or override variables.
func startChild(t *testing.T, target string, seed []string, extraEnv ...string) *child {
	t.Helper()
	port := freePort(t)
	seedJSON, _ := json.Marshal(seed)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRATA_") && !strings.HasPrefix(kv, "FUNCTION_TARGET=") && !strings.HasPrefix(kv, "PORT=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, childEnv+"=1", seedEnv+"="+string(seedJSON), "FUNCTION_TARGET="+target, "PORT="+port, "STRATA_AUTH_ENFORCE=false")
	cmd.Env = append(cmd.Env, extraEnv...)
	c := &child{url: "http://127.0.0.1:" + port, cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("function %s did not start: %s", target, c.stderr.String())
	return nil
}

// send writes one raw HTTP/1.1 request, the path exactly as given, and returns status,
// Location and body. Redirects are not followed.
func (c *child) send(t *testing.T, method, path, body string) (int, string, string) {
	t.Helper()
	return c.sendWith(t, method, path, body, "")
}

// sendWith is send with an Authorization header, when auth is not empty.
func (c *child) sendWith(t *testing.T, method, path, body, auth string) (int, string, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(c.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if auth != "" {
		auth = "Authorization: " + auth + "\r\n"
	}
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: strata\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n%s", method, path, auth, len(body), body)
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(b)
}

// keyCases are keys that must survive the deployed path byte for byte: wire form, key.
var keyCases = []struct{ wire, key string }{
	{"with%20space", "with space"},
	{"caf%C3%A9/%E2%9C%93", "café/✓"},
	{"looks%2520encoded", "looks%20encoded"},
	{"100%25", "100%"},
	{"plus+sign", "plus+sign"},
	{"semi;colon", "semi;colon"},
	{"equals=sign", "equals=sign"},
	{"colon:separated", "colon:separated"},
	{"at@sign", "at@sign"},
	{"and&more", "and&more"},
	{"nested/dir/file.json", "nested/dir/file.json"},
	{"encoded%2Fslash", "encoded/slash"},
	{"question%3Fhash%23", "question?hash#"},
}

// TestDeployed_Put sends PUTs through the Functions Framework with FUNCTION_TARGET set: the
// framework's ServeMux sees the raw path, and the key must come out exactly once decoded.
func TestDeployed_Put(t *testing.T) {
	c := startChild(t, httpapi.FnObjectPut, nil)
	for _, kc := range keyCases {
		status, _, body := c.send(t, "PUT", "/v1/objects/test/org=1/"+kc.wire, "payload")
		want, _ := json.Marshal(map[string]string{"key": kc.key})
		if status != 200 || body != strings.ReplaceAll(string(want), `\u0026`, "&") {
			t.Errorf("PUT %s: %d %s, want key %q", kc.wire, status, body, kc.key)
		}
	}
	// Encoded empty and dot segments reach the function and get the clear 400.
	for _, tc := range []struct{ wire, msg string }{
		{"a%2F%2Fb", "Invalid URL: key has an empty path segment"},
		{"a/%2E/b", `Invalid URL: key has a "." path segment`},
		{"a/%2E%2E/b", `Invalid URL: key has a ".." path segment`},
		{"a%2F..%2Fb", `Invalid URL: key has a ".." path segment`},
		{"trailing%2F", "Invalid URL: key has an empty path segment"},
	} {
		status, loc, body := c.send(t, "PUT", "/v1/objects/test/org=1/"+tc.wire, "x")
		if status != 400 || body != tc.msg || loc != "" {
			t.Errorf("PUT %s: %d %q (Location %q), want 400 %q", tc.wire, status, body, loc, tc.msg)
		}
	}
	// Raw "//", "/./" and "/../" never reach the function: the framework's ServeMux answers
	// them with a redirect to the cleaned path. This pins that platform behaviour (see the
	// package documentation of httpapi); a change in it should be noticed.
	for _, raw := range []string{"a//b", "a/./b", "a/../b"} {
		status, loc, _ := c.send(t, "PUT", "/v1/objects/test/org=1/"+raw, "x")
		if status != http.StatusTemporaryRedirect || loc == "" {
			t.Errorf("PUT raw %s: %d (Location %q); the framework no longer redirects, so the function's 400 applies", raw, status, loc)
		}
	}
}

// TestDeployed_OnlyOwnOperation checks that a deployed function serves its own routes and
// answers everything else with objectstore's 404 or 405.
func TestDeployed_OnlyOwnOperation(t *testing.T) {
	var seed []string
	for _, kc := range keyCases {
		seed = append(seed, kc.key)
	}
	c := startChild(t, httpapi.FnObjectGet, seed)
	for _, kc := range keyCases {
		if status, _, body := c.send(t, "GET", "/v1/objects/test/org=1/"+kc.wire, ""); status != 200 || body != kc.key {
			t.Errorf("GET %s: %d %q, want %q", kc.wire, status, body, kc.key)
		}
	}
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"PUT", "/v1/objects/test/org=1/k", 405},
		{"HEAD", "/v1/objects/test/org=1/k", 405},
		{"DELETE", "/v1/objects/test/org=1/k", 405},
		{"POST", "/v1/objects:batch/test/org=1/", 405},
		{"GET", "/v1/objects/test", 404},
		{"GET", "/", 404},
		{"GET", "/health", 404},
		{"GET", "/somewhere/else", 404},
		{"GET", "/v1/objects/test/org=1/missing", 404},
	} {
		if status, _, _ := c.send(t, tc.method, tc.path, ""); status != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, status, tc.status)
		}
	}
}

// TestDeployed_PrivateFunction checks that cleanup answers on any path of its own URL and
// only to its method (here with STRATA_INVOKER_AUTH=none, as in the emulator topology).
func TestDeployed_PrivateFunction(t *testing.T) {
	c := startChild(t, httpapi.FnCleanup, nil, "STRATA_INVOKER_AUTH=none")
	task := base64.StdEncoding.EncodeToString([]byte(`{"change_id":"c1","id":"test/org.1/objects/k","phase":"recorded"}`))
	if status, _, body := c.send(t, "POST", "/", `{"message":{"data":"`+task+`"}}`); status != 204 {
		t.Errorf("POST / with a task: %d %s", status, body)
	}
	if status, _, body := c.send(t, "POST", "/any/path", "{}"); status != 400 || !strings.Contains(body, "not a cleanup task") {
		t.Errorf("POST /any/path without a task: %d %s", status, body)
	}
	if status, _, _ := c.send(t, "GET", "/", ""); status != 405 {
		t.Errorf("GET /: %d", status)
	}
}

// TestDeployed_PrivateFunctionRequiresInvokerToken: deployed with its caller's identity
// configured (the default STRATA_INVOKER_AUTH=oidc), cleanup refuses a push without a valid
// Google token before reading it. (Tokens signed by a test key are checked in
// functions/internal/httpapi and functions/internal/invoker; here no request gets as far as
// fetching Google's certificates.)
func TestDeployed_PrivateFunctionRequiresInvokerToken(t *testing.T) {
	c := startChild(t, httpapi.FnCleanup, nil, "STRATA_PUSH_AUDIENCE=https://cleanup.example.run.app",
		"STRATA_PUSH_SERVICE_ACCOUNT=push@p.iam.gserviceaccount.com")
	task := base64.StdEncoding.EncodeToString([]byte(`{"change_id":"c1"}`))
	for _, auth := range []string{"", "Bearer not-a-jwt", "Bearer x.y.z", "Basic cDpw"} {
		status, _, body := c.sendWith(t, "POST", "/", `{"message":{"data":"`+task+`"}}`, auth)
		if status != 401 {
			t.Errorf("push with authorization %q: %d %s, want 401", auth, status, body)
		}
	}
}

// TestDeployed_BadConfigFailsFast checks that a deployed function with a bad variable exits
// at start-up, naming the variable, instead of serving 500s.
func TestDeployed_BadConfigFailsFast(t *testing.T) {
	failsFast(t, httpapi.FnObjectGet, "STRATA_MAX_REQUESTS", "STRATA_MAX_REQUESTS=lots")
}

// TestDeployed_PrivateFunctionWithoutInvokerIdentityFailsFast: deployed, cleanup and recover
// do not start without the OIDC identity of their caller, unless STRATA_INVOKER_AUTH=none
// says so explicitly.
func TestDeployed_PrivateFunctionWithoutInvokerIdentityFailsFast(t *testing.T) {
	failsFast(t, httpapi.FnCleanup, "STRATA_PUSH_AUDIENCE")
	failsFast(t, httpapi.FnRecover, "STRATA_SCHEDULER_AUDIENCE")
}

// failsFast runs target as a deployed function with env and checks that it exits 1 at
// start-up with one JSON log line whose error names want.
func failsFast(t *testing.T, target, want string, env ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRATA_") {
			base = append(base, kv)
		}
	}
	cmd.Env = append(append(base, childEnv+"=1", "FUNCTION_TARGET="+target, "PORT="+freePort(t),
		"STRATA_AUTH_ENFORCE=false"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the function kept running with a bad configuration")
	}
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(stderr.Bytes()), &line); err != nil {
		t.Fatalf("stderr is not one JSON log line: %q", stderr.String())
	}
	if line["severity"] != "ERROR" || !strings.Contains(fmt.Sprint(line["error"]), want) {
		t.Errorf("log line = %v", line)
	}
}

// TestHandler_BuildFailureIsRetried checks the lazy build: a failure answers 500 and is
// not cached; the next request builds again.
func TestHandler_BuildFailureIsRetried(t *testing.T) {
	saved := build
	t.Cleanup(func() { build = saved; current.Store(nil) })
	current.Store(nil)
	calls := 0
	build = func() (*instance, error) {
		calls++
		if calls == 1 {
			return nil, errors.New("backend unreachable")
		}
		return memoryInstance(`["k"]`, nil)
	}
	h := handler(httpapi.FnObjectGet)
	w := httptest.NewRecorder()
	h(w, httptest.NewRequest("GET", "/v1/objects/test/org=1/k", nil))
	if w.Code != 500 || strings.Contains(w.Body.String(), "unreachable") {
		t.Errorf("first request: %d %q", w.Code, w.Body.String())
	}
	for i := 0; i < 2; i++ {
		w = httptest.NewRecorder()
		h(w, httptest.NewRequest("GET", "/v1/objects/test/org=1/k", nil))
		if w.Code != 200 || w.Body.String() != "k" {
			t.Errorf("request %d: %d %q", i+2, w.Code, w.Body.String())
		}
	}
	if calls != 2 {
		t.Errorf("build ran %d times, want 2 (once failed, once for good)", calls)
	}
}

func TestNewInstance_EveryFunction(t *testing.T) {
	in, err := memoryInstance("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range httpapi.Functions() {
		if in.handlers[f.Name] == nil {
			t.Errorf("no handler for %s", f.Name)
		}
	}
	if len(in.handlers) != len(httpapi.Functions()) {
		t.Errorf("%d handlers for %d functions", len(in.handlers), len(httpapi.Functions()))
	}
}
