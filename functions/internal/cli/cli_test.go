package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/functions/internal/testserver"
)

// harness runs command lines against an in-process server.
type harness struct {
	t   *testing.T
	srv *testserver.Server
	env map[string]string
	dir string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	srv, err := testserver.Start(testserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	h := &harness{t: t, srv: srv, dir: t.TempDir()}
	keyFile := h.writeKey("signing.pem", srv.Key)
	h.env = map[string]string{
		"STRATA_URL":      srv.URL,
		"STRATA_USECASE":  "attachments",
		"STRATA_KEY_FILE": keyFile,
		"STRATA_KID":      testserver.KeyID,
	}
	return h
}

// writeKey stores priv as a PEM file in the harness directory.
func (h *harness) writeKey(name string, priv ed25519.PrivateKey) string {
	h.t.Helper()
	privPEM, _, err := client.MarshalKeyPairPEM(priv)
	if err != nil {
		h.t.Fatal(err)
	}
	path := filepath.Join(h.dir, name)
	if err := os.WriteFile(path, privPEM, 0o600); err != nil {
		h.t.Fatal(err)
	}
	return path
}

// result is one finished command line.
type result struct {
	code           int
	stdout, stderr string
}

// run executes args with stdin.
func (h *harness) run(stdin string, args ...string) result {
	h.t.Helper()
	var out, errOut bytes.Buffer
	a := &app{ctx: h.t.Context(), getenv: func(k string) string { return h.env[k] }, stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut}
	code := a.run(args)
	return result{code, out.String(), errOut.String()}
}

// must runs args and fails the test unless it exits 0.
func (h *harness) must(stdin string, args ...string) result {
	h.t.Helper()
	r := h.run(stdin, args...)
	if r.code != 0 {
		h.t.Fatalf("strata %q: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not one JSON document: %q: %v", s, err)
	}
	return v
}

func TestPutGet_FileStdinStdout(t *testing.T) {
	h := newHarness(t)
	file := filepath.Join(h.dir, "report.txt")
	data := strings.Repeat("strata ", 1000)
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	// Flags after the arguments work too.
	r := h.must("", "put", "docs/report.txt", file, "--scope", "org=17", "--ttl", "7d", "--meta", "color=blue")
	if r.stdout != "docs/report.txt\n" {
		t.Fatalf("put printed %q", r.stdout)
	}
	r = h.must("", "get", "--scope", "org=17", "docs/report.txt")
	if r.stdout != data {
		t.Fatalf("get to stdout returned %d bytes, want %d", len(r.stdout), len(data))
	}
	// Standard input in, a file out.
	r = h.must("piped bytes", "put", "--scope=org=17", "--no-compress", "piped", "-")
	out := filepath.Join(h.dir, "out.bin")
	h.must("", "get", "--scope", "org=17", "piped", out)
	if b, err := os.ReadFile(out); err != nil || string(b) != "piped bytes" {
		t.Fatalf("get to a file: %q, %v", b, err)
	}
	// The metadata of the first upload.
	r = h.must("", "head", "--scope", "org=17", "docs/report.txt")
	for _, want := range []string{"content_type: text/plain; charset=utf-8", "compression: zstd", "expiration: ttl:7days", "meta.color: blue"} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("head output lacks %q:\n%s", want, r.stdout)
		}
	}
	// An empty key lets the server choose.
	r = h.must("x", "put", "", "-")
	key := strings.TrimSpace(r.stdout)
	if len(key) != 36 {
		t.Fatalf("generated key %q", key)
	}
	h.must("", "rm", key, "--scope", "org=17", "docs/report.txt")
	if r := h.run("", "head", "--scope", "org=17", "docs/report.txt"); r.code != ExitNotFound {
		t.Fatalf("head after rm: exit %d", r.code)
	}
}

func TestGet_Range(t *testing.T) {
	h := newHarness(t)
	h.must("Hello, Range Requests!", "put", "--no-compress", "r", "-")
	for rng, want := range map[string]string{"0-4": "Hello", "-9": "Requests!", "7-": "Range Requests!"} {
		if r := h.must("", "get", "--range", rng, "r"); r.stdout != want {
			t.Errorf("--range %s: %q, want %q", rng, r.stdout, want)
		}
	}
	if r := h.run("", "get", "--range", "100-200", "r"); r.code != ExitRejected {
		t.Errorf("unsatisfiable range: exit %d, want %d", r.code, ExitRejected)
	}
	if r := h.run("", "get", "--range", "5-1", "r"); r.code != ExitUsage {
		t.Errorf("malformed range: exit %d, want %d", r.code, ExitUsage)
	}
}

func TestJSONShapes(t *testing.T) {
	h := newHarness(t)
	put := decodeJSON(t, h.must("data", "put", "--json", "--content-type", "text/csv", "--tti", "1h", "k", "-").stdout)
	if len(put) != 1 || put["key"] != "k" {
		t.Errorf("put --json: %v", put)
	}
	head := decodeJSON(t, h.must("", "head", "--json", "k").stdout)
	if head["key"] != "k" || head["content_type"] != "text/csv" || head["compression"] != "zstd" || head["expiration"] != "tti:1h" ||
		head["time_created"] == nil || head["time_expires"] == nil {
		t.Errorf("head --json: %v", head)
	}
	out := filepath.Join(h.dir, "k.out")
	get := decodeJSON(t, h.must("", "get", "--json", "k", out).stdout)
	if get["bytes"] != float64(4) || get["file"] != out || get["content_type"] != "text/csv" {
		t.Errorf("get --json: %v", get)
	}
	rm := decodeJSON(t, h.must("", "rm", "--json", "k").stdout)
	if d, ok := rm["deleted"].([]any); !ok || len(d) != 1 || d[0] != "k" {
		t.Errorf("rm --json: %v", rm)
	}
	r := h.run("", "get", "--json", "k", out)
	if r.code != ExitNotFound {
		t.Fatalf("get missing: exit %d", r.code)
	}
	e, _ := decodeJSON(t, r.stdout)["error"].(map[string]any)
	if e == nil || e["status"] != float64(404) || e["exit_code"] != float64(ExitNotFound) || e["message"] == "" {
		t.Errorf("error --json: %s", r.stdout)
	}
	if r := h.run("", "get", "--json", "k"); r.code != ExitUsage {
		t.Errorf("get --json to stdout: exit %d, want usage", r.code)
	}
}

func TestExitCodes(t *testing.T) {
	h := newHarness(t)
	roKey := h.writeKey("ro.pem", h.srv.ReadOnlyKey)
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want int
	}{
		{"no command", nil, nil, ExitUsage},
		{"unknown command", nil, []string{"frobnicate"}, ExitUsage},
		{"unknown flag", nil, []string{"get", "--nope", "k"}, ExitUsage},
		{"missing argument", nil, []string{"get"}, ExitUsage},
		{"too many arguments", nil, []string{"head", "a", "b"}, ExitUsage},
		{"invalid key", nil, []string{"get", "a//b"}, ExitUsage},
		{"invalid scope", nil, []string{"get", "--scope", "org=1.5", "k"}, ExitUsage},
		{"scope without value", nil, []string{"get", "--scope", "org", "k"}, ExitUsage},
		{"ttl and tti", nil, []string{"put", "--ttl", "1h", "--tti", "1h", "k", "-"}, ExitUsage},
		{"bad duration", nil, []string{"put", "--ttl", "soon", "k", "-"}, ExitUsage},
		{"no usecase", map[string]string{"STRATA_USECASE": ""}, []string{"get", "k"}, ExitUsage},
		{"key file without kid", map[string]string{"STRATA_KID": ""}, []string{"get", "k"}, ExitUsage},
		{"bad url", map[string]string{"STRATA_URL": "ftp://x"}, []string{"get", "k"}, ExitUsage},
		{"presign without key", map[string]string{"STRATA_KEY_FILE": ""}, []string{"presign", "k"}, ExitUsage},
		{"not found", nil, []string{"get", "missing"}, ExitNotFound},
		{"forbidden", map[string]string{"STRATA_KEY_FILE": roKey, "STRATA_KID": "read-only"}, []string{"put", "k", "-"}, ExitAuth},
		{"unknown kid", map[string]string{"STRATA_KID": "nobody"}, []string{"get", "k"}, ExitAuth},
		{"no token", map[string]string{"STRATA_KEY_FILE": ""}, []string{"get", "k"}, ExitAuth},
		{"missing file", nil, []string{"put", "k", filepath.Join(h.dir, "nope")}, ExitError},
		{"server unreachable", map[string]string{"STRATA_URL": "http://127.0.0.1:1"}, []string{"rm", "k"}, ExitError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saved := h.env
			h.env = map[string]string{}
			for k, v := range saved {
				h.env[k] = v
			}
			for k, v := range tc.env {
				h.env[k] = v
			}
			defer func() { h.env = saved }()
			r := h.run("x", tc.args...)
			if r.code != tc.want {
				t.Fatalf("exit %d, want %d\nstderr: %s", r.code, tc.want, r.stderr)
			}
			if r.code != 0 && r.stderr == "" {
				t.Error("no message on standard error")
			}
		})
	}
}

func TestHelp(t *testing.T) {
	h := newHarness(t)
	r := h.must("", "help")
	for _, want := range []string{"put KEY FILE|-", "keygen FILE", "exit codes:", "3  not found", "4  authentication"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if r := h.run("", "put", "-h"); r.code != 0 || !strings.Contains(r.stderr, "-content-type") {
		t.Errorf("put -h: exit %d, %q", r.code, r.stderr)
	}
}

func TestPresign(t *testing.T) {
	h := newHarness(t)
	h.must("shared", "put", "--no-compress", "--scope", "org=1", "shared file", "-")
	url := strings.TrimSpace(h.must("", "presign", "--scope", "org=1", "--expires", "10m", "shared file").stdout)
	if !strings.Contains(url, "/v1/objects/attachments/org=1/shared%20file?os_kid=test-kid&") || !strings.Contains(url, "&os_duration=600&") {
		t.Fatalf("url %q", url)
	}
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "shared" {
		t.Fatalf("GET presigned: %d %q", res.StatusCode, body)
	}
	doc := decodeJSON(t, h.must("", "presign", "--json", "--scope", "org=1", "shared file").stdout)
	if !strings.HasPrefix(doc["url"].(string), h.srv.URL) || doc["expires"] == nil {
		t.Errorf("presign --json: %v", doc)
	}
}

func TestToken(t *testing.T) {
	h := newHarness(t)
	tok := strings.TrimSpace(h.must("", "token", "--scope", "org=*", "--perm", "read").stdout)
	// The printed token works as a static token: it reads, and it may not write.
	h.must("x", "put", "--scope", "org=5", "k", "-")
	h.env["STRATA_KEY_FILE"] = ""
	h.env["STRATA_TOKEN"] = tok
	if r := h.must("", "get", "--scope", "org=5", "k"); r.stdout != "x" {
		t.Fatalf("get with the token: %q", r.stdout)
	}
	if r := h.run("y", "put", "--scope", "org=5", "k", "-"); r.code != ExitAuth {
		t.Fatalf("put with a read token: exit %d", r.code)
	}
	// Its claims, as the server's verifier sees them.
	pub := h.srv.Key.Public().(ed25519.PublicKey)
	v, err := auth.NewVerifier(auth.KeyDirectory{testserver.KeyID: {Versions: []ed25519.PublicKey{pub}, MaxPermissions: auth.AllPermissions}}, auth.Options{Enforce: true})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://x/v1/objects/attachments/org=9/k", nil)
	req.Header.Set("X-Os-Auth", "Bearer "+tok)
	if _, err := v.Authenticate(req); err != nil {
		t.Fatalf("verifier refuses the token: %v", err)
	}
	h.env["STRATA_KEY_FILE"] = filepath.Join(h.dir, "signing.pem")
	doc := decodeJSON(t, h.must("", "token", "--json", "--expires", "2h").stdout)
	exp, err := time.Parse(time.RFC3339, doc["expires"].(string))
	if err != nil || exp.Before(time.Now().Add(119*time.Minute)) || doc["token"] == "" {
		t.Errorf("token --json: %v", doc)
	}
	if r := h.run("", "token", "--perm", "admin"); r.code != ExitUsage {
		t.Errorf("unknown permission: exit %d", r.code)
	}
}

func TestKeygen(t *testing.T) {
	h := newHarness(t)
	priv := filepath.Join(h.dir, "new.pem")
	r := h.must("", "keygen", priv)
	if !strings.Contains(r.stdout, "STRATA_AUTH_KEYS=") {
		t.Errorf("keygen output lacks the server hint:\n%s", r.stdout)
	}
	st, err := os.Stat(priv)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v, %v", st, err)
	}
	pubPEM, err := os.ReadFile(priv + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := auth.ParsePublicKeyPEM(pubPEM)
	if err != nil {
		t.Fatalf("the server cannot read the public key: %v", err)
	}
	privPEM, _ := os.ReadFile(priv)
	key, err := client.ParsePrivateKeyPEM(privPEM)
	if err != nil || !pub.Equal(key.Public()) {
		t.Fatalf("the key pair does not match: %v", err)
	}
	if r := h.run("", "keygen", priv); r.code != ExitUsage || !strings.Contains(r.stderr, "--force") {
		t.Errorf("overwrite without --force: exit %d, %q", r.code, r.stderr)
	}
	if r := h.must("", "keygen", "--force", "--json", priv); decodeJSON(t, r.stdout)["public_key"] != priv+".pub" {
		t.Errorf("keygen --json: %s", r.stdout)
	}
	if again, _ := os.ReadFile(priv); bytes.Equal(again, privPEM) {
		t.Error("--force did not write a new key")
	}
}

func TestParseInterleaved(t *testing.T) {
	for _, tc := range []struct {
		args []string
		pos  string
		json bool
	}{
		{[]string{"a", "--json", "b"}, "a|b", true},
		{[]string{"--json", "a", "b"}, "a|b", true},
		{[]string{"a", "b", "--json"}, "a|b", true},
		{[]string{"a", "--", "--json", "-"}, "a|--json|-", false},
		{[]string{"", "-"}, "|-", false},
	} {
		fs := newTestFlagSet()
		var js bool
		fs.BoolVar(&js, "json", false, "")
		pos, err := parseInterleaved(fs, tc.args)
		if err != nil || strings.Join(pos, "|") != tc.pos || js != tc.json {
			t.Errorf("parseInterleaved(%q) = %q, json %v, %v; want %q, %v", tc.args, pos, js, err, tc.pos, tc.json)
		}
	}
}

func TestRenderProgress(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		want        string
	}{
		{0, 40 << 20, "put k [>                             ]   0%  0 B / 40.0 MiB"},
		{20 << 20, 40 << 20, "put k [===============>              ]  50%  20.0 MiB / 40.0 MiB"},
		{40 << 20, 40 << 20, "put k [==============================] 100%  40.0 MiB / 40.0 MiB"},
		{3 << 30, -1, "put k 3.0 GiB"},
	} {
		if got := renderProgress("put k", tc.done, tc.total); got != tc.want {
			t.Errorf("renderProgress(%d, %d) = %q, want %q", tc.done, tc.total, got, tc.want)
		}
	}
	// Not a terminal: no bar.
	if p := newProgress(&bytes.Buffer{}, "x", 100<<20); p != nil {
		t.Error("a bar for a buffer")
	}
}

func TestRun_UsesEnvironment(t *testing.T) {
	srv, err := testserver.Start(testserver.Options{NoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("STRATA_URL", srv.URL)
	t.Setenv("STRATA_USECASE", "env")
	t.Setenv("STRATA_KEY_FILE", "")
	t.Setenv("STRATA_TOKEN", "")
	var out, errOut bytes.Buffer
	if code := Run(context.Background(), []string{"put", "k", "-"}, strings.NewReader("v"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if out.String() != "k\n" {
		t.Fatalf("stdout %q", out.String())
	}
}

func newTestFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}
