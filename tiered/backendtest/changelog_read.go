package backendtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// TestChangeLogReader runs the conformance suite for driver.ChangeLogReader. open must return
// a fresh, empty, isolated log that implements it. Each subtest checks one "must" of the
// contract, named after it.
func TestChangeLogReader(t *testing.T, open func(t *testing.T) driver.ChangeLog) {
	openR := func(t *testing.T) (cl, driver.ChangeLogReader) {
		c := openCL(t, open)
		r, ok := c.b.(driver.ChangeLogReader)
		if !ok {
			t.Fatalf("%T does not implement driver.ChangeLogReader", c.b)
		}
		return c, r
	}
	t.Run("Scan/Empty_NoCalls", func(t *testing.T) {
		_, r := openR(t)
		if got := scanAll(t, r); len(got) != 0 {
			t.Fatalf("Scan of an empty log reported %d entries", len(got))
		}
	})
	t.Run("Scan/EveryEntry_InIDOrder_WithAllFields", func(t *testing.T) {
		c, r := openR(t)
		var want []driver.LogEntry
		for _, p := range allPhases() {
			e := c.full(fmt.Sprintf("scan-%d", p), p)
			c.recordEntry(e)
			want = append(want, e)
		}
		released := c.record("released", "", c.now.Add(-time.Hour))
		want = append(want, released)
		sortEntries(want)
		got := scanAll(t, r)
		if len(got) != len(want) {
			t.Fatalf("Scan reported %d entries, want %d", len(got), len(want))
		}
		for i := range want {
			if d := entryDiff(got[i], want[i]); d != "" {
				t.Errorf("entry %d (%s): %s", i, want[i].ID, d)
			}
			if d := entryDiff(got[i], c.get(want[i].ID)); d != "" {
				t.Errorf("entry %d (%s) differs from Get: %s", i, want[i].ID, d)
			}
		}
	})
	t.Run("Scan/ManyEntries_EachOnce_InIDOrder", func(t *testing.T) {
		// More than one page of every backend (local and mem: 256, Bigtable: 500).
		c, r := openR(t)
		const n = 601
		ids := map[driver.ChangeID]bool{}
		for i := range n {
			ids[c.record(fmt.Sprintf("many-%d", i), "writer", c.now).ID] = true
		}
		got := scanAll(t, r)
		if len(got) != n {
			t.Fatalf("Scan reported %d entries, want %d", len(got), n)
		}
		seen := map[driver.ChangeID]bool{}
		for i, e := range got {
			if !ids[e.ID] || seen[e.ID] {
				t.Fatalf("entry %d: %s unknown or reported twice", i, e.ID)
			}
			seen[e.ID] = true
			if i > 0 && got[i-1].ID >= e.ID {
				t.Fatalf("entry %d: %s after %s: not in ascending id order", i, e.ID, got[i-1].ID)
			}
		}
	})
	t.Run("Scan/ChangesNothing", func(t *testing.T) {
		c, r := openR(t)
		stale := c.stale("stale")
		fresh := c.record("fresh", "writer", c.now)
		scanAll(t, r)
		for _, e := range []driver.LogEntry{stale, fresh} {
			if d := entryDiff(c.get(e.ID), e); d != "" {
				t.Errorf("after Scan, %s: %s", e.ID, d)
			}
		}
		if got := c.claim("recovery", 0, 10); len(got) != 1 || got[0].ID != stale.ID {
			t.Fatalf("ClaimStale after Scan returned %v, want only the stale entry %s", idSet(got), stale.ID)
		}
	})
	t.Run("Scan/FnError_StopsAndIsReturned", func(t *testing.T) {
		c, r := openR(t)
		for i := range 3 {
			c.record(fmt.Sprintf("fn-err-%d", i), "writer", c.now)
		}
		sentinel := errors.New("stop here")
		calls := 0
		err := r.Scan(t.Context(), func(driver.LogEntry) error {
			calls++
			if calls == 2 {
				return sentinel
			}
			return nil
		})
		if !errors.Is(err, sentinel) {
			t.Fatalf("Scan = %v, want the callback's error", err)
		}
		if calls != 2 {
			t.Fatalf("callback called %d times, want 2 (no call after its error)", calls)
		}
	})
	t.Run("Scan/ContextDone_StopsWithItsError", func(t *testing.T) {
		c, r := openR(t)
		for i := range 3 {
			c.record(fmt.Sprintf("ctx-%d", i), "writer", c.now)
		}
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		err := r.Scan(ctx, func(driver.LogEntry) error {
			calls++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Scan with ctx cancelled in the callback = %v, want context.Canceled", err)
		}
		if calls != 1 {
			t.Fatalf("callback called %d times, want 1 (none after ctx was done)", calls)
		}
		calls = 0
		err = r.Scan(ctx, func(driver.LogEntry) error { calls++; return nil })
		if !errors.Is(err, context.Canceled) || calls != 0 {
			t.Fatalf("Scan with a done ctx = %v after %d calls, want context.Canceled and no call", err, calls)
		}
	})
}

// scanAll returns every entry Scan reports, failing the test on an error.
func scanAll(t *testing.T, r driver.ChangeLogReader) []driver.LogEntry {
	t.Helper()
	var out []driver.LogEntry
	if err := r.Scan(t.Context(), func(e driver.LogEntry) error { out = append(out, e); return nil }); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return out
}

func sortEntries(es []driver.LogEntry) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].ID < es[j-1].ID; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// TestRunLog runs the conformance suite for driver.RunLog. open must return a fresh, empty,
// isolated change log that implements it; when it also implements ChangeLogReader, the suite
// checks that Scan never reports the run record.
func TestRunLog(t *testing.T, open func(t *testing.T) driver.ChangeLog) {
	openRL := func(t *testing.T) (cl, driver.RunLog) {
		c := openCL(t, open)
		rl, ok := c.b.(driver.RunLog)
		if !ok {
			t.Fatalf("%T does not implement driver.RunLog", c.b)
		}
		return c, rl
	}
	run := func(c cl, n int, errText string) driver.RecoveryRun {
		return driver.RecoveryRun{Started: c.now.Add(-time.Duration(n) * time.Minute), Duration: time.Duration(n)*time.Second + 250*time.Millisecond,
			Error: errText, Claimed: n, Settled: n + 1, Dispatched: n + 2, Failed: n + 3, Instance: fmt.Sprintf("host-%d/pid/owner", n)}
	}
	record := func(t *testing.T, rl driver.RunLog, r driver.RecoveryRun) {
		t.Helper()
		if err := rl.RecordRun(t.Context(), r); err != nil {
			t.Fatalf("RecordRun: %v", err)
		}
	}
	last := func(t *testing.T, rl driver.RunLog) driver.RecoveryRun {
		t.Helper()
		r, err := rl.LastRun(t.Context())
		if err != nil {
			t.Fatalf("LastRun: %v", err)
		}
		return r
	}
	t.Run("LastRun/NoneRecorded_NotFound", func(t *testing.T) {
		_, rl := openRL(t)
		if _, err := rl.LastRun(t.Context()); !errors.Is(err, object.ErrNotFound) {
			t.Fatalf("LastRun on a fresh log = %v, want ErrNotFound", err)
		}
	})
	t.Run("RecordRun/LastRunReturnsEveryField", func(t *testing.T) {
		c, rl := openRL(t)
		want := run(c, 3, "claim stale entries: unavailable")
		record(t, rl, want)
		if d := runDiff(last(t, rl), want); d != "" {
			t.Fatal(d)
		}
	})
	t.Run("RecordRun/ReplacesWhole", func(t *testing.T) {
		c, rl := openRL(t)
		record(t, rl, run(c, 3, "failed"))
		want := run(c, 1, "")
		want.Instance = ""
		record(t, rl, want)
		if d := runDiff(last(t, rl), want); d != "" {
			t.Fatal(d)
		}
	})
	t.Run("RecordRun/Concurrent_OneWholeRecord", func(t *testing.T) {
		c, rl := openRL(t)
		const n = 8
		runs := make([]driver.RecoveryRun, n)
		var wg sync.WaitGroup
		for i := range n {
			runs[i] = run(c, i+1, fmt.Sprintf("error %d", i))
			wg.Go(func() {
				if err := rl.RecordRun(t.Context(), runs[i]); err != nil {
					t.Errorf("RecordRun %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		got := last(t, rl)
		for _, r := range runs {
			if runDiff(got, r) == "" {
				return
			}
		}
		t.Fatalf("LastRun after concurrent RecordRun = %+v, which is none of the records written", got)
	})
	t.Run("RecordRun/NeverAChangeLogEntry", func(t *testing.T) {
		c, rl := openRL(t)
		record(t, rl, run(c, 2, ""))
		if got := c.claim("recovery", 0, 100); len(got) != 0 {
			t.Fatalf("ClaimStale with only a run record returned %d entries", len(got))
		}
		stale := c.stale("stale")
		record(t, rl, run(c, 4, "")) // written after an entry too
		if got := c.claim("recovery", 0, 100); len(got) != 1 || got[0].ID != stale.ID {
			t.Fatalf("ClaimStale returned %v, want only the entry %s", idSet(got), stale.ID)
		}
		if r, ok := c.b.(driver.ChangeLogReader); ok {
			if got := scanAll(t, r); len(got) != 1 || got[0].ID != stale.ID {
				t.Fatalf("Scan reported %v, want only the entry %s", idSet(got), stale.ID)
			}
		}
		if err := c.b.Remove(t.Context(), stale.ID); err != nil {
			t.Fatalf("Remove: %v", err)
		}
		if d := runDiff(last(t, rl), run(c, 4, "")); d != "" {
			t.Fatalf("after Remove of every entry: %s", d)
		}
	})
}

// runDiff describes how got differs from want, times at millisecond precision.
func runDiff(got, want driver.RecoveryRun) string {
	g, w := got, want
	g.Started, w.Started = Millis(g.Started), Millis(w.Started)
	g.Duration, w.Duration = g.Duration.Truncate(time.Millisecond), w.Duration.Truncate(time.Millisecond)
	if !g.Started.Equal(w.Started) {
		return fmt.Sprintf("Started = %s, want %s", fmtTime(got.Started), fmtTime(want.Started))
	}
	g.Started = w.Started
	if g != w {
		return fmt.Sprintf("run = %+v, want %+v", got, want)
	}
	return ""
}
