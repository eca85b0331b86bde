package bigtablebackend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/bigtable/bttest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/stratastore/strata/tiered/backendtest"
)

// servers shared by the package's tests: one in-process bttest server, and the real emulator
// binary, started on first use and killed by PID when the tests end.
var (
	bttestOnce sync.Once
	bttestSrv  *bttest.Server
	bttestErr  error

	emuOnce sync.Once
	emuCmd  *exec.Cmd
	emuAddr string
	emuErr  error

	tableSeq atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if bttestSrv != nil {
		bttestSrv.Close()
	}
	if emuCmd != nil && emuCmd.Process != nil {
		_ = emuCmd.Process.Kill()
		_ = emuCmd.Wait()
	}
	os.Exit(code)
}

// serverKind names a Bigtable implementation the tests run against.
type serverKind string

const (
	kindBttest   serverKind = "bttest"
	kindEmulator serverKind = "emulator"
)

var allKinds = []serverKind{kindBttest, kindEmulator}

// serverAddr returns the address of a running server of the kind, starting it on first use.
// The emulator binary comes from $CBT_EMULATOR_BIN or PATH (backendtest.Emulator): under
// -short its tests skip; otherwise a missing binary fails them, as CI machines have it.
func serverAddr(t testing.TB, kind serverKind) string {
	t.Helper()
	switch kind {
	case kindBttest:
		bttestOnce.Do(func() {
			bttestSrv, bttestErr = bttest.NewServer("127.0.0.1:0", grpc.MaxRecvMsgSize(MaxMessageSize), grpc.MaxSendMsgSize(MaxMessageSize))
		})
		if bttestErr != nil {
			t.Fatalf("bttest: %v", bttestErr)
		}
		return bttestSrv.Addr
	case kindEmulator:
		bin := backendtest.Emulator(t, backendtest.EnvCBTEmulator, backendtest.CBTEmulatorName)
		emuOnce.Do(func() { startEmulator(bin) })
		if emuErr != nil {
			t.Fatalf("Bigtable emulator (%s): %v", bin, emuErr)
		}
		return emuAddr
	}
	t.Fatalf("unknown server kind %q", kind)
	return ""
}

func startEmulator(bin string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		emuErr = err
		return
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	emuAddr = fmt.Sprintf("127.0.0.1:%d", port)
	emuCmd = exec.Command(bin, "-host", "127.0.0.1", "-port", fmt.Sprint(port))
	emuCmd.Stdout, emuCmd.Stderr = io.Discard, io.Discard
	dieWithParent(emuCmd)
	if err := emuCmd.Start(); err != nil {
		emuErr = err
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", emuAddr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	emuErr = fmt.Errorf("emulator did not listen on %s within 10s", emuAddr)
}

// recorder counts RPCs per method on a connection and can inject faults.
type recorder struct {
	mu     sync.Mutex
	counts map[string]int
	// fault, when set, runs before each RPC; a non-nil error fails the RPC without sending it.
	fault func(ctx context.Context, method string, n int) error
}

func shortMethod(full string) string { return full[strings.LastIndexByte(full, '/')+1:] }

func (r *recorder) begin(ctx context.Context, method string) error {
	m := shortMethod(method)
	r.mu.Lock()
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[m]++
	n := r.counts[m]
	fault := r.fault
	r.mu.Unlock()
	if fault != nil {
		return fault(ctx, m, n)
	}
	return nil
}

// errLoseResponse, returned by a fault for a unary RPC, sends the RPC and then reports
// Unavailable to the client, as if the response had been lost after the server committed.
var errLoseResponse = errors.New("lose the response")

func (r *recorder) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if err := r.begin(ctx, method); err != nil {
		if errors.Is(err, errLoseResponse) {
			if ierr := invoker(ctx, method, req, reply, cc, opts...); ierr != nil {
				return ierr
			}
			return status.Error(codes.Unavailable, "injected: response lost")
		}
		return err
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (r *recorder) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if err := r.begin(ctx, method); err != nil {
		return nil, err
	}
	return streamer(ctx, desc, cc, method, opts...)
}

// setFault installs (or, with nil, removes) the fault function and zeroes the counts.
func (r *recorder) setFault(f func(ctx context.Context, method string, n int) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fault = f
	r.counts = nil
}

// reset zeroes the counts.
func (r *recorder) reset() { r.setFault(nil) }

// snapshot returns the counts since the last reset.
func (r *recorder) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]int, len(r.counts))
	for k, v := range r.counts {
		m[k] = v
	}
	return m
}

// fakeClock is a settable clock that starts at the real time, so that deadlines written in
// tests are in the future for the server's GC too.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one backend on fresh tables of one server, plus raw access for assertions.
type env struct {
	kind    serverKind
	addr    string
	table   string // the objects table
	opts    Options
	b       *Backend
	rec     *recorder
	raw     *bigtable.Table // the objects table through an uninstrumented client
	rawLog  *bigtable.Table // the change-log table
	rawConn *grpc.ClientConn
	clock   *fakeClock
}

type envConfig struct {
	clock bool // use a fake clock
	opts  Options
	// noGC drops fg's GC rule, for tests that store cells whose deadlines lie in the past of
	// the server's clock (the golden fixtures) and must read them back uncollected.
	noGC bool
}

// newEnv creates fresh tables on the server and a Backend whose connection is instrumented
// by a recorder.
func newEnv(t testing.TB, kind serverKind, cfg envConfig) *env {
	t.Helper()
	ctx := context.Background()
	addr := serverAddr(t, kind)
	n := tableSeq.Add(1)
	o := cfg.opts
	table := fmt.Sprintf("objects_%d_%d", os.Getpid(), n)
	o.ChangeLogTable = fmt.Sprintf("changes_%d_%d", os.Getpid(), n)
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &env{kind: kind, addr: addr, table: table, rec: &recorder{}}
	if cfg.clock {
		e.clock = newFakeClock()
		o.Now = e.clock.Now
	}
	e.opts = o

	rawConn, err := DialEmulator(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rawConn.Close() })
	e.rawConn = rawConn
	admin, err := bigtable.NewAdminClient(ctx, emulatorProject, emulatorInstance, option.WithGRPCConn(rawConn))
	if err != nil {
		t.Fatal(err)
	}
	if err := CreateTables(ctx, admin, table, &o); err != nil {
		t.Fatal(err)
	}
	if cfg.noGC {
		if err := admin.SetGCPolicy(ctx, table, familyTimed, bigtable.NoGcPolicy()); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = admin.DeleteTable(context.Background(), table)
		_ = admin.DeleteTable(context.Background(), o.ChangeLogTable)
	})
	rawClient, err := bigtable.NewClientWithConfig(ctx, emulatorProject, emulatorInstance,
		bigtable.ClientConfig{MetricsProvider: bigtable.NoopMetricsProvider{}}, option.WithGRPCConn(rawConn))
	if err != nil {
		t.Fatal(err)
	}
	e.raw = rawClient.Open(table)
	e.rawLog = rawClient.Open(o.ChangeLogTable)

	conn, err := DialEmulator(addr, grpc.WithChainUnaryInterceptor(e.rec.unary), grpc.WithChainStreamInterceptor(e.rec.stream))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	b, err := openOn(ctx, conn, table, &o)
	if err != nil {
		t.Fatal(err)
	}
	e.b = b
	return e
}

// rawRow reads a row of the objects table without any filter (all versions, expired cells
// included).
func (e *env) rawRow(t testing.TB, key string) bigtable.Row {
	t.Helper()
	r, err := e.raw.ReadRow(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rawApply writes a mutation to the objects table directly.
func (e *env) rawApply(t testing.TB, key string, m *bigtable.Mutation) {
	t.Helper()
	if err := e.raw.Apply(context.Background(), key, m); err != nil {
		t.Fatal(err)
	}
}

// forKinds runs fn as a subtest against every server kind.
func forKinds(t *testing.T, fn func(t *testing.T, kind serverKind)) {
	for _, k := range allKinds {
		t.Run(string(k), func(t *testing.T) {
			if k == kindEmulator {
				serverAddr(t, k) // skips once here under -short, not in every subtest
			}
			fn(t, k)
		})
	}
}

// second returns another Backend on e's tables over its own uninstrumented connection: a
// concurrent writer whose RPCs the recorder neither counts nor faults.
func (e *env) second(t testing.TB) *Backend {
	t.Helper()
	conn, err := DialEmulator(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	b, err := openOn(context.Background(), conn, e.table, &e.opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
