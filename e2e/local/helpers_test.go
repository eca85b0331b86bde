package local

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stratastore/strata/e2e/internal/harness"
	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/tiered/localbackend"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/tieredtest"
)

// The namespace every test writes to: the README's usecase and a scope.
const (
	usecase    = "attachments"
	scopeName  = "org"
	scopeValue = "17"
	// scopePath is the {scopes} segment of an object path.
	scopePath = scopeName + "=" + scopeValue
)

// staleAfter is tiered.DefaultStaleAfter, which the local server uses: recovery claims a
// change-log entry only once its lease has gone unrenewed this long.
const staleAfter = 30 * time.Second

// soak reports whether the longer variants run (STRATA_SOAK=1).
func soak() bool { return os.Getenv("STRATA_SOAK") == "1" }

// keySet is the two keys the server trusts: kid "e2e" with every permission, and kid "ro"
// whose max_permissions are object.read only.
type keySet struct {
	// Full signs with every permission; its KeysEnv trusts both keys, so it is the one the
	// server is started with.
	Full harness.KeyPair
	// ReadOnly is the read-only key; its KeysEnv is unused.
	ReadOnly harness.KeyPair
}

// newKeys generates both keys and a STRATA_AUTH_KEYS value that trusts them.
func newKeys(t testing.TB) keySet {
	t.Helper()
	full := harness.NewKeyPair(t)
	_, roPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, roPEM, err := client.MarshalKeyPairPEM(roPriv)
	if err != nil {
		t.Fatal(err)
	}
	roPath := filepath.Join(t.TempDir(), "ro.pub.pem")
	if err := os.WriteFile(roPath, roPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	// Start from the harness's own JSON for the full key, so that the test follows it.
	var dir map[string]json.RawMessage
	if err := json.Unmarshal([]byte(full.KeysEnv), &dir); err != nil {
		t.Fatalf("harness key JSON: %v", err)
	}
	ro, _ := json.Marshal(map[string]any{"key_files": []string{roPath}, "max_permissions": []string{"object.read"}})
	dir["ro"] = ro
	env, err := json.Marshal(dir)
	if err != nil {
		t.Fatal(err)
	}
	full.KeysEnv = string(env)
	return keySet{Full: full, ReadOnly: harness.KeyPair{KID: "ro", Priv: roPriv}}
}

// server is one running `strata serve` process, as the harness starts it.
type server = harness.Server

// start starts `strata serve` over dataDir with make run's defaults, auth on for both of
// k's keys, and no grace period, so that superseded revisions are deleted at once and a
// stop can drain every cleanup.
func start(t testing.TB, dataDir string, k keySet, extra ...string) *server {
	t.Helper()
	return harness.StartServer(t, dataDir, k.Full, append([]string{"STRATA_GRACE_PERIOD=0s", "STRATA_LONG_TERM_SETTLE=1s"}, extra...)...)
}

// startMakeRun starts `strata serve` over dataDir with exactly the environment `make run`
// gives it (STRATA_AUTH_ENFORCE=false, no keys) on a free port, and waits until it is
// ready. It returns the base URL and a stop function that sends SIGTERM and returns the
// output and the exit error.
func startMakeRun(t testing.TB, dataDir string) (string, func() (string, error)) {
	t.Helper()
	addr := harness.FreeAddr(t)
	logs := &harness.LogBuffer{}
	cmd := exec.Command(harness.StrataBinary(t), "serve")
	cmd.Env = harness.ServerEnv(addr, dataDir, "STRATA_AUTH_ENFORCE=false")
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(done) }()
	stop := func(sig syscall.Signal) error {
		select {
		case <-done:
			return exitErr
		default:
		}
		_ = cmd.Process.Signal(sig)
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("strata did not exit within 60s of %v", sig)
		}
		return exitErr
	}
	t.Cleanup(func() { _ = stop(syscall.SIGKILL) })
	url := "http://" + addr
	if err := harness.WaitReady(url, done, 30*time.Second); err != nil {
		t.Fatalf("strata did not become ready: %v\n%s", err, logs)
	}
	return url, func() (string, error) {
		err := stop(syscall.SIGTERM)
		return logs.String(), err
	}
}

// stopTerm stops s with SIGTERM and requires exit status 0.
func stopTerm(t testing.TB, s *server) {
	t.Helper()
	if err := s.Stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("strata exited with %v after SIGTERM, want 0\n%s", err, tail(s.Logs.String(), 4000))
	}
}

// sdk returns a client for s signing with k's full key, without compression (the payloads
// are random) and with retries as configured by opts.
func sdk(t testing.TB, s *server, key harness.KeyPair, opts ...client.Option) *client.Session {
	t.Helper()
	c := harness.SDK(t, s.URL, key, append([]client.Option{client.WithCompression(false)}, opts...)...)
	return c.Usecase(usecase).Scope(scopeName, scopeValue)
}

// objectID is the storage id of key in the test namespace.
func objectID(key string) object.ID {
	return object.NewID(usecase, []object.Scope{{Name: scopeName, Value: scopeValue}}, key)
}

// objectURL is the raw URL of key (keys in these tests need no escaping).
func objectURL(s *server, key string) string {
	return s.URL + "/v1/objects/" + usecase + "/" + scopePath + "/" + key
}

// token signs a token for the test namespace with priv as kid.
func token(t testing.TB, priv ed25519.PrivateKey, kid string, perms ...client.Permission) string {
	t.Helper()
	if len(perms) == 0 {
		perms = client.AllPermissions
	}
	tok, err := client.SignToken(priv, kid, client.Claims{
		Usecase:     usecase,
		Scopes:      map[string]string{scopeName: scopeValue},
		Permissions: perms,
		Expires:     time.Now().Add(time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// bearer returns the x-os-auth header of a fresh full-permission token of k.
func bearer(t testing.TB, k harness.KeyPair) http.Header {
	return http.Header{"X-Os-Auth": {"Bearer " + token(t, k.Priv, k.KID)}}
}

// rawDo sends one request and returns the response with its whole body read.
func rawDo(t testing.TB, method, url string, h http.Header, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return res, b
}

// wantStatus fails the test when res has another status.
func wantStatus(t testing.TB, what string, res *http.Response, body []byte, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s: status %d, want %d; body %q", what, res.StatusCode, want, clip(body))
	}
}

// clip shortens a body for a failure message.
func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// gen is a deterministic, incompressible byte stream of a fixed length: ChaCha8 seeded
// from seed. Two gens with the same seed produce the same bytes.
type gen struct {
	r    *mrand.ChaCha8
	left int64
}

func newGen(seed uint64, n int64) *gen {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	copy(s[8:], "strata-e2e-local")
	return &gen{r: mrand.NewChaCha8(s), left: n}
}

func (g *gen) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, _ := g.r.Read(p)
	g.left -= int64(n)
	return n, nil
}

// payload returns the n bytes of seed's stream.
func payload(seed uint64, n int) []byte {
	b := make([]byte, n)
	_, _ = io.ReadFull(newGen(seed, int64(n)), b)
	return b
}

// digest is the hex SHA-256 of b.
func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readDigest returns the hex SHA-256 and length of everything r yields.
func readDigest(r io.Reader) (string, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// getDigest reads key through the SDK: its digest, or "" when it does not exist.
func getDigest(ctx context.Context, t testing.TB, s *client.Session, key string) string {
	t.Helper()
	obj, err := s.Get(ctx, key)
	if client.IsNotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer obj.Body.Close()
	d, _, err := readDigest(obj.Body)
	if err != nil {
		t.Fatalf("get %s: reading the body: %v", key, err)
	}
	return d
}

// keda returns the value of one gauge or counter of s's /keda.
func keda(t testing.TB, s *server, name string) int64 {
	t.Helper()
	res, err := http.Get(s.URL + "/keda")
	if err != nil {
		t.Fatalf("GET /keda: %v", err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("/keda %s: %v", name, err)
			}
			return n
		}
	}
	t.Fatalf("/keda has no %s", name)
	return 0
}

// waitFor polls cond every 10 ms until it holds; after limit (a generous bound, not a
// timing expectation) the test fails naming what it waited for.
func waitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// openDir opens a stopped server's data directory with the local backend; it is closed
// when the test ends or by the returned func, whichever comes first.
func openDir(t testing.TB, dir string) (*localbackend.Backend, func()) {
	t.Helper()
	b, err := localbackend.Open(context.Background(), dir, &localbackend.Options{LockTimeout: 5 * time.Second, SweepInterval: -1})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	closed := false
	closeFn := func() {
		if !closed {
			closed = true
			if err := b.Close(); err != nil {
				t.Errorf("close %s: %v", dir, err)
			}
		}
	}
	t.Cleanup(closeFn)
	return b, closeFn
}

// backends adapts a local backend to tieredtest's checks.
func backends(b *localbackend.Backend) tieredtest.Backends {
	return tieredtest.Backends{
		HV: b.HighVolume(), LT: b.LongTerm(), Log: b.ChangeLog(),
		Objects: func(context.Context) ([]string, error) { return b.LongTerm().Keys() },
	}
}

// dirState is what a stopped server left on disk.
type dirState struct {
	// Entries is the number of change-log entries; LastHeartbeat the newest lease renewal.
	Entries       int
	LastHeartbeat time.Time
	// Blobs is the number of long-term blobs; Uploads of open multipart uploads; Temp of
	// files in tmp/ (counted before Open, which empties it).
	Blobs, Uploads, Temp int
}

// inspect reads a stopped server's data directory without changing the change log.
func inspect(t testing.TB, dir string) dirState {
	t.Helper()
	var st dirState
	if ents, err := os.ReadDir(filepath.Join(dir, "tmp")); err == nil {
		st.Temp = len(ents)
	}
	b, closeFn := openDir(t, dir)
	defer closeFn()
	es, err := b.ChangeLog().Entries()
	if err != nil {
		t.Fatalf("change log entries: %v", err)
	}
	st.Entries = len(es)
	for _, e := range es {
		if e.Heartbeat.After(st.LastHeartbeat) {
			st.LastHeartbeat = e.Heartbeat
		}
	}
	keys, err := b.LongTerm().Keys()
	if err != nil {
		t.Fatalf("long-term keys: %v", err)
	}
	st.Blobs = len(keys)
	if ups, err := os.ReadDir(filepath.Join(dir, "uploads")); err == nil {
		st.Uploads = len(ups)
	}
	return st
}

// checkClean asserts, on a stopped server's directory, that every long-term blob is the
// tombstone target of one of ids, that the change log is empty, and that no multipart
// upload is left open.
func checkClean(t testing.TB, dir string, ids []object.ID) {
	t.Helper()
	b, closeFn := openDir(t, dir)
	defer closeFn()
	tt, ok := t.(*testing.T)
	if !ok {
		t.Fatal("checkClean needs a *testing.T")
	}
	tieredtest.CheckNoOrphans(tt, backends(b), ids)
	es, err := b.ChangeLog().Entries()
	if err != nil {
		t.Fatalf("change log entries: %v", err)
	}
	for _, e := range es {
		t.Errorf("change-log entry left: %s %+v (heartbeat %v)", e.ID, e.Change, e.Heartbeat)
	}
	if len(es) == 0 {
		tieredtest.CheckEmptyLog(tt, b.ChangeLog(), time.Now())
	}
	if ups, err := os.ReadDir(filepath.Join(dir, "uploads")); err == nil && len(ups) > 0 {
		t.Errorf("%d multipart uploads left open under uploads/", len(ups))
	}
}

// settle brings a stopped server's directory to rest the way an operator would: if the
// change log still holds entries (a crash, or cleanup that outlived the stop's drain), it
// restarts the server, waits until those leases are stale, has it run a recovery pass
// (POST /internal/recover on its admin listener, what its own timer does every 30 s), and stops it again. It
// returns the state found before that.
func settle(t testing.TB, dir string, k keySet) dirState {
	t.Helper()
	st := inspect(t, dir)
	if st.Entries == 0 {
		return st
	}
	t.Logf("%d change-log entries left (newest heartbeat %v ago); restarting for recovery",
		st.Entries, time.Since(st.LastHeartbeat).Round(time.Millisecond))
	s := start(t, dir, k)
	recoverNow(t, s, st)
	stopTerm(t, s)
	return st
}

// recoverNow waits until the leases of the entries st found are stale, then has s run
// recovery passes (POST /internal/recover on its admin listener, what its own timer does every 30 s) until one
// claims nothing. It returns the number of entries claimed.
func recoverNow(t testing.TB, s *server, st dirState) int {
	t.Helper()
	if st.Entries == 0 {
		return 0
	}
	if d := time.Until(st.LastHeartbeat.Add(staleAfter + time.Second)); d > 0 {
		time.Sleep(d)
	}
	claimed := 0
	for range 10 {
		res, body := rawDo(t, http.MethodPost, s.AdminURL+"/internal/recover", nil, nil)
		wantStatus(t, "POST /internal/recover", res, body, http.StatusOK)
		var rep struct {
			Claimed, Dispatched, Failed int
		}
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatalf("recover report %q: %v", body, err)
		}
		if rep.Failed > 0 {
			t.Errorf("recovery failed to dispatch %d entries: %s", rep.Failed, body)
		}
		claimed += rep.Claimed
		if rep.Claimed == 0 {
			break
		}
	}
	t.Logf("recovery claimed %d of the %d entries left (the server's own timer may have taken the rest)", claimed, st.Entries)
	return claimed
}

// mib formats a byte count.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
