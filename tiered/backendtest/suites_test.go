package backendtest

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
)

// The suites pass on the memory backends (tiered/membackend runs them). These tests check
// the other half: that a suite fails when a backend breaks a "must". Each broken backend
// wraps a memory backend and breaks one rule; the suite runs in a child test process
// (a failing subtest cannot be contained in the parent) and must fail in the named subtest.

// brokenEnv selects the broken backend the child process runs the suites against.
const brokenEnv = "BACKENDTEST_BROKEN_BACKEND"

var brokenBackends = map[string]struct {
	run       func(t *testing.T)
	subtest   string // -test.run pattern below TestBrokenBackendChild
	wantFails string // a subtest that must fail
}{
	"NonIdempotentCAS": {
		run: func(t *testing.T) {
			TestHighVolume(t, func(t *testing.T) driver.HighVolume {
				mem := membackend.Open(nil).HighVolume()
				return WithBumpInterceptor(nonIdempotentCAS{mem}, mem)
			})
		},
		subtest:   "CompareAndWrite/SwapTombstone",
		wantFails: "CompareAndWrite/SwapTombstone",
	},
	"BumpSeamIgnored": {
		run: func(t *testing.T) {
			TestHighVolume(t, func(t *testing.T) driver.HighVolume {
				return WithBumpInterceptor(membackend.Open(nil).HighVolume(), ignoreBumpSeam{})
			})
		},
		subtest:   "TTIBump/LosesToConcurrentWrite/Object/GetTiered/Overwrite",
		wantFails: "TTIBump/LosesToConcurrentWrite/Object/GetTiered/Overwrite",
	},
	"PartialPutVisible": {
		run: func(t *testing.T) {
			TestLongTerm(t, func(t *testing.T) driver.LongTerm { return partialPut{membackend.Open(nil).LongTerm()} })
		},
		subtest:   "Put/BodyFails/NothingVisible",
		wantFails: "Put/BodyFails/NothingVisible",
	},
	"DoubleClaim": {
		run: func(t *testing.T) {
			TestChangeLog(t, func(t *testing.T) driver.ChangeLog { return &doubleClaim{ChangeLog: membackend.Open(nil).ChangeLog()} })
		},
		subtest:   "ClaimStale/ConcurrentClaimersNeverShare",
		wantFails: "ClaimStale/ConcurrentClaimersNeverShare",
	},
}

// TestBrokenBackendChild is the child process of TestSuites_BrokenBackend_Fails. Run
// directly (without the environment variable) it has nothing to check and returns.
func TestBrokenBackendChild(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		return
	}
	b, ok := brokenBackends[name]
	if !ok {
		t.Fatalf("unknown broken backend %q", name)
	}
	b.run(t)
}

func TestSuites_BrokenBackend_Fails(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range brokenBackends {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, exe, "-test.run=^TestBrokenBackendChild$/^"+strings.ReplaceAll(b.subtest, "/", "$/^")+"$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a backend that breaks the contract:\n%s", out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestBrokenBackendChild/"+b.wantFails) {
				t.Fatalf("subtest %s did not fail:\n%s", b.wantFails, out)
			}
		})
	}
}

// nonIdempotentCAS reports false for a compare-and-write whose row is already in the target
// state, as objectstore's in-memory backend once did for some cases.
type nonIdempotentCAS struct{ *membackend.HighVolume }

func (n nonIdempotentCAS) CompareAndWrite(ctx context.Context, id object.ID, current *object.ID, w driver.Write) (bool, error) {
	e, err := n.HighVolume.GetTieredMetadata(ctx, id)
	if err != nil {
		return false, err
	}
	if w.Kind == driver.WriteTombstone && e.Kind == driver.EntryTombstone && e.Tombstone.Target.Equal(w.Tombstone.Target) {
		return false, nil
	}
	return n.HighVolume.CompareAndWrite(ctx, id, current, w)
}

// ignoreBumpSeam claims the seam but never calls the hook.
type ignoreBumpSeam struct{}

func (ignoreBumpSeam) SetBeforeBump(func(object.ID)) {}

// partialPut stores whatever part of the body arrived before a read error.
type partialPut struct{ *membackend.LongTerm }

func (p partialPut) Put(ctx context.Context, id object.ID, md object.Metadata, body io.Reader) error {
	var buf bytes.Buffer
	_, err := io.Copy(&buf, body)
	if perr := p.LongTerm.Put(ctx, id, md, &buf); perr != nil {
		return perr
	}
	return err
}

// doubleClaim returns, with every non-empty claim after the first, the first entry it ever
// handed out, relabelled with the new owner.
type doubleClaim struct {
	driver.ChangeLog
	mu    sync.Mutex
	first *driver.LogEntry
}

func (d *doubleClaim) ClaimStale(ctx context.Context, c driver.Claim) ([]driver.LogEntry, error) {
	es, err := d.ChangeLog.ClaimStale(ctx, c)
	if err != nil || len(es) == 0 {
		return es, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.first == nil {
		d.first = &es[0]
		return es, nil
	}
	dup := *d.first
	dup.Owner = c.Owner
	return append(es, dup), nil
}
