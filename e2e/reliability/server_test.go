package reliability

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratastore/strata/e2e/internal/harness"
)

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// readAllLimit reads r to its end, failing beyond limit bytes.
func readAllLimit(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("body longer than %d bytes", limit)
	}
	return b, nil
}

// checkNoPanic fails the test if the server's output mentions a panic (a recovered handler
// panic is logged by net/http as "http: panic serving ...", a crash prints "panic:").
func checkNoPanic(t *testing.T, srv *harness.Server) {
	t.Helper()
	for _, l := range srv.Logs.Lines() {
		if strings.Contains(strings.ToLower(l), "panic") {
			t.Errorf("server log mentions a panic: %.500s", l)
		}
	}
}

// startServer starts the strata binary as make run does, with auth on for key.
func startServer(t testing.TB, dataDir string, key harness.KeyPair, extra ...string) *harness.Server {
	t.Helper()
	return harness.StartServer(t, dataDir, key, extra...)
}

// TestHarness_RepoRootIsModuleRoot: the harness builds the binary from the module root.
func TestHarness_RepoRootIsModuleRoot(t *testing.T) {
	root := harness.RepoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("harness.RepoRoot = %s, which holds no go.mod: %v", root, err)
	}
	if _, err := os.Stat(filepath.Join(root, "functions", "cmd", "strata")); err != nil {
		t.Fatalf("harness.RepoRoot = %s lacks functions/cmd/strata: %v", root, err)
	}
}
