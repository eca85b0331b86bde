package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/localbackend"
	"github.com/stratastore/strata/tiered/object"
)

// statusDataDir writes a data directory with three change-log entries and a recovery run.
func statusDataDir(t *testing.T, now time.Time, runAgo time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	b, err := localbackend.Open(ctx, dir, &localbackend.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	oid := func(k string) object.ID {
		return object.NewID("attachments", []object.Scope{{Name: "org", Value: "1"}}, k)
	}
	for _, e := range []driver.LogEntry{
		{ID: backendtest.ChangeIDAt(now.Add(-2 * time.Hour)), Change: driver.Change{ID: oid("old")}, Phase: driver.PhaseUnknown, Owner: "crashed", Heartbeat: now.Add(-2 * time.Hour)},
		{ID: backendtest.ChangeIDAt(now.Add(-5 * time.Minute)), Change: driver.Change{ID: oid("mid")}, Phase: driver.PhaseUpdated, Owner: "w", Heartbeat: now},
		{ID: backendtest.ChangeIDAt(now.Add(-10 * time.Second)), Change: driver.Change{ID: oid("new")}, Phase: driver.PhaseRecorded, Owner: "w", Heartbeat: now},
	} {
		if err := b.ChangeLog().Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	run := driver.RecoveryRun{Started: now.Add(-runAgo), Duration: 42 * time.Millisecond, Claimed: 2, Settled: 1, Dispatched: 2, Instance: "host/7/lease"}
	if err := b.ChangeLog().RecordRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runStatus(t *testing.T, dir string, now time.Time, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := map[string]string{"STRATA_DATA_DIR": dir}
	a := &app{ctx: context.Background(), getenv: func(k string) string { return env[k] }, stdout: &out, stderr: &errOut,
		now: func() time.Time { return now }}
	code := a.run(append([]string{"status"}, args...))
	return code, out.String(), errOut.String()
}

func TestStatus_LocalDataDir_Text(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	dir := statusDataDir(t, now, 20*time.Second)
	code, out, errOut := runStatus(t, dir, now)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	abs, _ := filepath.Abs(dir)
	out = strings.ReplaceAll(out, abs, "DIR")
	// The oldest id is random below its millisecond; mask it.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "  oldest:") {
			lines[i] = "  oldest:   ID" + l[strings.Index(l, ","):]
		}
	}
	got := strings.Join(lines, "\n")
	want := `strata status (local storage, read from local data in DIR)

change-log backlog: 3 entries, 1 with a stale lease (recovery claims them)
  by phase: recorded 1, updated 1, unknown 1
  by age:   < 1m: 1; ≥ 1m, < 10m: 1; ≥ 10m, < 1h: 0; ≥ 1h, < 1d: 1; ≥ 1d: 0
  oldest:   ID, unknown, 2h0m0s old, object attachments/org.1/objects/old, lease "crashed"

last recovery run: 2025-06-01T11:59:40Z (20s ago), took 42ms, ok
  claimed 2, settled 1, dispatched 2, failed 0; by host/7/lease

dead-letter queue: no dead-letter queue (local server)
`
	if got != want {
		t.Fatalf("status output:\n%s\nwant:\n%s", got, want)
	}
}

func TestStatus_LocalDataDir_JSON_OldRunOverdue(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	dir := statusDataDir(t, now, 2*time.Minute) // > 3 × 30s
	code, out, errOut := runStatus(t, dir, now, "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Backlog struct {
			Total   int            `json:"total"`
			ByPhase map[string]int `json:"by_phase"`
		} `json:"backlog"`
		LastRun      *driver.RecoveryRun `json:"last_run"`
		LastRunAgoMS int64               `json:"last_run_ago_ms"`
		Overdue      bool                `json:"overdue"`
		DeadLetter   struct {
			Note string `json:"note"`
		} `json:"dead_letter"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if doc.Backlog.Total != 3 || doc.Backlog.ByPhase["unknown"] != 1 || doc.LastRun == nil || !doc.LastRun.OK() ||
		doc.LastRun.Settled != 1 || doc.LastRunAgoMS != 120000 || !doc.Overdue || doc.DeadLetter.Note == "" {
		t.Fatalf("status document: %s", out)
	}
	// Within 3 intervals it is not overdue.
	if code, out, _ := runStatus(t, dir, now, "--json", "--recover-interval", "1m"); code != 0 || !strings.Contains(out, `"overdue":false`) {
		t.Fatalf("with a 1m interval: %d %s", code, out)
	}
}

func TestStatus_NoDataDir_Fails(t *testing.T) {
	code, _, errOut := runStatus(t, filepath.Join(t.TempDir(), "missing"), time.Now())
	if code != ExitError || !strings.Contains(errOut, "no local data") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
