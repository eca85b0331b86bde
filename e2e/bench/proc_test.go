package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stratastore/strata/e2e/internal/harness"
)

// repoRoot is the module root, two directories above this file's.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

var (
	binMu    sync.Mutex
	binPaths = map[string]string{}
	binDir   string
)

// binary builds the main package pkg (relative to the module root) once per test process.
// harness.StrataBinary is not used: its RepoRoot stops one directory short of the module
// root (e2e/ instead of the root), so its go build cannot find ./functions/cmd/strata.
func binary(tb testing.TB, pkg string) string {
	tb.Helper()
	binMu.Lock()
	defer binMu.Unlock()
	if p, ok := binPaths[pkg]; ok {
		return p
	}
	if binDir == "" {
		d, err := os.MkdirTemp("", "strata-bench-bin-")
		if err != nil {
			tb.Fatal(err)
		}
		binDir = d
	}
	out := filepath.Join(binDir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = repoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	binPaths[pkg] = out
	return out
}

// TestMain removes the binaries it built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// proc is one started server process.
type proc struct {
	URL  string
	Cmd  *exec.Cmd
	Logs *harness.LogBuffer
	done chan struct{}
}

// start starts `bin serve` with env and returns as soon as the process is started; the
// process is killed when tb ends if it is still running.
func start(tb testing.TB, bin string, env []string) *proc {
	tb.Helper()
	p := &proc{Logs: &harness.LogBuffer{}, done: make(chan struct{})}
	p.Cmd = exec.Command(bin, "serve")
	p.Cmd.Env = env
	p.Cmd.Stdout, p.Cmd.Stderr = p.Logs, p.Logs
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.Cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { _ = p.Cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() { p.stop(tb, syscall.SIGKILL) })
	return p
}

// startStrata starts `strata serve` as harness.StartServer does (make run's defaults, auth
// enforced for key, data in dataDir) and waits until it answers /ready.
func startStrata(tb testing.TB, dataDir string, key harness.KeyPair) *proc {
	tb.Helper()
	addr := harness.FreeAddr(tb)
	p := start(tb, binary(tb, "./functions/cmd/strata"),
		harness.ServerEnv(addr, dataDir, "STRATA_AUTH_ENFORCE=true", "STRATA_AUTH_KEYS="+key.KeysEnv))
	p.URL = "http://" + addr
	if err := harness.WaitReady(p.URL, p.done, 30*time.Second); err != nil {
		tb.Fatalf("strata did not become ready: %v\n%s", err, p.Logs)
	}
	return p
}

// stop sends sig and waits for the process to exit.
func (p *proc) stop(tb testing.TB, sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
		tb.Errorf("%s did not exit within 30s of %v", p.Cmd.Path, sig)
	}
}

// String names the process for failure messages.
func (p *proc) String() string { return fmt.Sprintf("%s (pid %d)", p.Cmd.Path, p.Cmd.Process.Pid) }
