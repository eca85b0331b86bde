// Package harness starts and stops the processes the end-to-end suites drive: the strata
// binary as `make run` starts it, with auth on, on a free loopback port.
package harness

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/client"
)

// RepoRoot returns the module root: the nearest directory above this file that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	for dir := filepath.Dir(file); ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above %s", file)
		}
		dir = parent
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// StrataBinary builds the strata binary once per test process, the way `make build` does.
func StrataBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "strata-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "strata")
		cmd := exec.Command("go", "build", "-o", binPath, "./functions/cmd/strata")
		cmd.Dir = RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// FreeAddr returns a free 127.0.0.1 address.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// KeyPair is an Ed25519 key the server trusts as kid, with every permission.
type KeyPair struct {
	KID  string
	Priv ed25519.PrivateKey
	// KeysEnv is the STRATA_AUTH_KEYS value that trusts it.
	KeysEnv string
}

// NewKeyPair generates a key and writes its public half where STRATA_AUTH_KEYS can name it.
func NewKeyPair(t testing.TB) KeyPair {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, pem, err := client.MarshalKeyPairPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "e2e.pub.pem")
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return KeyPair{
		KID:     "e2e",
		Priv:    priv,
		KeysEnv: fmt.Sprintf(`{"e2e":{"key_files":[%q],"max_permissions":["object.read","object.write","object.delete"]}}`, path),
	}
}

// Server is one running strata process.
type Server struct {
	URL string
	// AdminURL is the admin listener (STRATA_ADMIN_ADDR): /internal/cleanup and
	// /internal/recover.
	AdminURL string
	DataDir  string
	Cmd      *exec.Cmd
	Logs     *LogBuffer
	done     chan struct{}
	exitErr  error
}

// ServerEnv is the environment `make run` gives the binary, plus extra. The admin listener
// gets a port of its own (STRATA_ADMIN_ADDR=127.0.0.1:0) unless extra sets one, so that
// servers running side by side do not compete for the default 127.0.0.1:8889.
func ServerEnv(addr, dataDir string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRATA_") {
			env = append(env, kv)
		}
	}
	env = append(env, "STRATA_HTTP_ADDR="+addr, "STRATA_ADMIN_ADDR=127.0.0.1:0", "STRATA_DATA_DIR="+dataDir)
	return append(env, extra...)
}

// StartServer starts `strata serve` with make run's defaults on a free port over dataDir,
// with auth enforced for key, and waits until it answers /ready. It is killed when the test
// ends if it is still running.
func StartServer(t testing.TB, dataDir string, key KeyPair, extra ...string) *Server {
	t.Helper()
	return StartServerBinary(t, StrataBinary(t), dataDir, key, extra...)
}

// StartServerBinary is StartServer with an explicit binary.
func StartServerBinary(t testing.TB, bin, dataDir string, key KeyPair, extra ...string) *Server {
	t.Helper()
	addr, adminAddr := FreeAddr(t), FreeAddr(t)
	env := append([]string{"STRATA_AUTH_ENFORCE=true", "STRATA_AUTH_KEYS=" + key.KeysEnv, "STRATA_ADMIN_ADDR=" + adminAddr}, extra...)
	s := &Server{URL: "http://" + addr, AdminURL: "http://" + adminAddr, DataDir: dataDir, Logs: &LogBuffer{}, done: make(chan struct{})}
	s.Cmd = exec.Command(bin, "serve")
	s.Cmd.Env = ServerEnv(addr, dataDir, env...)
	s.Cmd.Stdout = s.Logs
	s.Cmd.Stderr = s.Logs
	s.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exitErr = s.Cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.Stop(t, syscall.SIGKILL) })
	if err := WaitReady(s.URL, s.done, 30*time.Second); err != nil {
		t.Fatalf("strata did not become ready: %v\n%s", err, s.Logs)
	}
	return s
}

// Exited reports whether the process has exited.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Stop sends sig and waits for the process to exit.
func (s *Server) Stop(t testing.TB, sig syscall.Signal) error {
	select {
	case <-s.done:
		return s.exitErr
	default:
	}
	_ = s.Cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		_ = s.Cmd.Process.Kill()
		<-s.done
		t.Errorf("strata did not exit within 60s of %v", sig)
	}
	return s.exitErr
}

// WaitReady polls base/ready until it answers 200, the process exits, or limit passes.
func WaitReady(base string, done <-chan struct{}, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("the process exited")
		default:
		}
		res, err := http.Get(base + "/ready")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %v", limit)
}

// SDK returns a Go SDK client for base that signs its tokens with key.
func SDK(t testing.TB, base string, key KeyPair, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(base, append([]client.Option{client.WithSigningKey(key.Priv, key.KID)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// LogBuffer collects a process's output for failure messages, bounded.
type LogBuffer struct {
	mu sync.Mutex
	b  []byte
}

// Write appends p, keeping the last half MiB when the buffer grows past 1 MiB.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if len(l.b) > 1<<20 {
		l.b = l.b[len(l.b)-(1<<19):]
	}
	return len(p), nil
}

// String returns the collected output.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// Lines returns the output's lines.
func (l *LogBuffer) Lines() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
