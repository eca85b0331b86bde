package bigtablebackend

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

func testID(key string) object.ID {
	return object.NewID("testing", []object.Scope{{Name: "org", Value: "1"}}, key)
}

func rev(id object.ID, n int) object.ID {
	r := id
	r.Key = fmt.Sprintf("%s/0190a6b2-0000-7000-8000-%012d", id.Key, n)
	return r
}

func manualMD(marker string) object.Metadata {
	return object.Metadata{ContentType: "application/x-" + marker, Custom: map[string]string{"marker": marker}}
}

// view renders the live state of a row for comparisons: "absent", "object:<marker>" or
// "tomb:<target key>".
func view(t *testing.T, b *Backend, id object.ID) string {
	t.Helper()
	e, err := b.GetTieredMetadata(context.Background(), id)
	if err != nil {
		t.Fatalf("GetTieredMetadata: %v", err)
	}
	switch e.Kind {
	case driver.EntryObject:
		return "object:" + e.Metadata.Custom["marker"]
	case driver.EntryTombstone:
		return "tomb:" + e.Tombstone.Target.Key
	}
	return "absent"
}

// Initial row states of the CAS matrix, written with the raw client where the backend cannot
// produce them (legacy formats, an expired tombstone).
type rowSetup func(t *testing.T, e *env, id object.ID)

func setupAbsent(*testing.T, *env, object.ID) {}

func setupObject(t *testing.T, e *env, id object.ID) {
	if ts, err := e.b.PutNonTombstone(context.Background(), id, manualMD("old"), []byte("old")); err != nil || ts != nil {
		t.Fatalf("PutNonTombstone = %v, %v", ts, err)
	}
}

func setupTomb(target object.ID, p object.ExpirationPolicy) rowSetup {
	return func(t *testing.T, e *env, id object.ID) {
		ok, err := e.b.CompareAndWrite(context.Background(), id, nil, driver.Write{Kind: driver.WriteTombstone,
			Tombstone: driver.Tombstone{Target: target, ExpirationPolicy: p}})
		if err != nil || !ok {
			t.Fatalf("CompareAndWrite(tombstone) = %v, %v", ok, err)
		}
	}
}

func setupExpiredTomb(target object.ID) rowSetup {
	return func(t *testing.T, e *env, id object.ID) {
		ts := floorTS(time.Now().Add(-time.Minute))
		m := bigtable.NewMutation()
		m.Set(familyTimed, colRedirect, ts, []byte(target.StoragePath()))
		m.Set(familyTimed, colTombMeta, ts, []byte(`{"expiration_policy":{"TimeToLive":{"secs":60,"nanos":0}}}`))
		e.rawApply(t, id.StoragePath(), m)
	}
}

func setupLegacyM(t *testing.T, e *env, id object.ID) {
	m := bigtable.NewMutation()
	m.Set(familyManual, colPayload, floorTS(time.Now()), []byte{})
	m.Set(familyManual, colMeta, floorTS(time.Now()), []byte(`{"is_redirect_tombstone":true}`))
	e.rawApply(t, id.StoragePath(), m)
}

func setupLegacyEmptyR(t *testing.T, e *env, id object.ID) {
	m := bigtable.NewMutation()
	m.Set(familyManual, colRedirect, floorTS(time.Now()), []byte{})
	m.Set(familyManual, colTombMeta, floorTS(time.Now()), []byte(`{}`))
	e.rawApply(t, id.StoragePath(), m)
}

// stateSetup returns the setup of a named initial row state for id: "absent", "object",
// "tombA" / "tombB" (manual tombstone to revision 1 / 2), "tombA ttl", "expired tombA",
// "legacy m", "legacy empty r".
func stateSetup(state string, id object.ID) rowSetup {
	switch state {
	case "absent":
		return setupAbsent
	case "object":
		return setupObject
	case "tombA":
		return setupTomb(rev(id, 1), object.ExpirationPolicy{})
	case "tombB":
		return setupTomb(rev(id, 2), object.ExpirationPolicy{})
	case "tombA ttl":
		return setupTomb(rev(id, 1), object.TTL(time.Hour))
	case "expired tombA":
		return setupExpiredTomb(rev(id, 1))
	case "legacy m":
		return setupLegacyM
	case "legacy empty r":
		return setupLegacyEmptyR
	}
	panic("unknown state " + state)
}

// TestBackend_CompareAndWrite_Matrix checks every predicate against every row state,
// including legacy formats and an expired tombstone that GC has not collected. Targets: A and
// B are revisions 1 and 2 of the row's id, own is the id itself.
func TestBackend_CompareAndWrite_Matrix(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{})
		cases := []struct {
			state   string
			current string // "", "A", "B" or "own"
			write   string // "object", "tomb:A", "tomb:B", "tomb:own" or "delete"
			ok      bool
			after   string // view of the row afterwards
		}{
			{"absent", "", "object", true, "object:new"},
			{"absent", "", "tomb:A", true, "tomb:A"},
			{"absent", "", "delete", true, "absent"},
			{"absent", "A", "tomb:B", false, "absent"},
			{"absent", "A", "object", true, "object:new"},
			{"absent", "A", "delete", true, "absent"},
			{"object", "", "tomb:A", true, "tomb:A"},
			{"object", "", "object", true, "object:new"},
			{"object", "A", "tomb:B", false, "object:old"},
			{"object", "A", "delete", true, "absent"},
			{"tombA", "", "object", false, "tomb:A"},
			{"tombA", "", "tomb:A", true, "tomb:A"}, // idempotent create
			{"tombA", "", "tomb:B", false, "tomb:A"},
			{"tombA", "", "delete", false, "tomb:A"},
			{"tombA", "A", "tomb:B", true, "tomb:B"},
			{"tombA", "A", "tomb:A", true, "tomb:A"},
			{"tombB", "A", "tomb:B", true, "tomb:B"}, // idempotent swap (retry after A→B)
			{"tombA", "B", "tomb:B", false, "tomb:A"},
			{"tombA", "B", "object", false, "tomb:A"},
			{"tombA", "A", "object", true, "object:new"},
			{"tombA", "A", "delete", true, "absent"},
			{"tombA ttl", "", "object", false, "tomb:A"},
			{"tombA ttl", "A", "tomb:B", true, "tomb:B"},
			{"expired tombA", "", "tomb:B", true, "tomb:B"},
			{"expired tombA", "A", "tomb:B", false, "absent"},
			{"expired tombA", "", "object", true, "object:new"},
			{"expired tombA", "", "delete", true, "absent"},
			{"legacy m", "", "object", false, "tomb:own"},
			{"legacy m", "", "tomb:own", true, "tomb:own"}, // idempotent: it already points to own
			{"legacy m", "own", "delete", true, "absent"},
			{"legacy m", "own", "tomb:B", true, "tomb:B"},
			{"legacy m", "A", "delete", false, "tomb:own"},
			{"legacy empty r", "own", "object", true, "object:new"},
			{"legacy empty r", "", "tomb:own", true, "tomb:own"},
			{"legacy empty r", "A", "tomb:B", false, "tomb:own"},
			{"legacy empty r", "", "delete", false, "tomb:own"},
		}
		for i, tc := range cases {
			name := fmt.Sprintf("%s/current=%s/%s", tc.state, cmp.Or(tc.current, "nil"), tc.write)
			t.Run(name, func(t *testing.T) {
				id := testID(fmt.Sprintf("matrix/%d", i))
				targets := map[string]object.ID{"A": rev(id, 1), "B": rev(id, 2), "own": id}
				stateSetup(tc.state, id)(t, e, id)
				var current *object.ID
				if tc.current != "" {
					current = ptrTo(targets[tc.current])
				}
				var w driver.Write
				switch {
				case tc.write == "object":
					w = driver.Write{Kind: driver.WriteObject, Metadata: manualMD("new"), Payload: []byte("new")}
				case tc.write == "delete":
					w = driver.Write{Kind: driver.WriteDelete}
				default:
					w = driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: targets[strings.TrimPrefix(tc.write, "tomb:")]}}
				}
				ok, err := e.b.CompareAndWrite(context.Background(), id, current, w)
				if err != nil {
					t.Fatal(err)
				}
				if ok != tc.ok {
					t.Errorf("CompareAndWrite = %v, want %v", ok, tc.ok)
				}
				want := tc.after
				if name, ok := strings.CutPrefix(want, "tomb:"); ok {
					want = "tomb:" + targets[name].Key
				}
				if got := view(t, e.b, id); got != want {
					t.Errorf("row after CompareAndWrite: %s, want %s", got, want)
				}
			})
		}
	})
}

func ptrTo[T any](v T) *T { return &v }

func TestBackend_PutAndDeleteNonTombstone_RowStates(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{})
		for i, tc := range []struct {
			name      string
			setup     func(id object.ID) rowSetup
			putTomb   string // target key PutNonTombstone returns, "" for none
			putAfter  string
			delTomb   string
			delAfter  string
			ownTarget bool
		}{
			{"absent", func(object.ID) rowSetup { return setupAbsent }, "", "object:new", "", "absent", false},
			{"object", func(object.ID) rowSetup { return setupObject }, "", "object:new", "", "absent", false},
			{"tombstone", func(id object.ID) rowSetup { return setupTomb(rev(id, 1), object.TTI(time.Hour)) }, "rev1", "tomb:rev1", "rev1", "tomb:rev1", false},
			{"expired tombstone", func(id object.ID) rowSetup { return setupExpiredTomb(rev(id, 1)) }, "", "object:new", "", "absent", false},
			{"legacy m tombstone", func(object.ID) rowSetup { return setupLegacyM }, "own", "tomb:own", "own", "tomb:own", true},
			{"legacy empty r", func(object.ID) rowSetup { return setupLegacyEmptyR }, "own", "tomb:own", "own", "tomb:own", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, op := range []string{"put", "delete"} {
					id := testID(fmt.Sprintf("states/%d/%s", i, op))
					subst := strings.NewReplacer("rev1", rev(id, 1).Key, "own", id.Key)
					tc.setup(id)(t, e, id)
					var ts *driver.Tombstone
					var err error
					wantTomb, wantAfter := tc.putTomb, tc.putAfter
					if op == "put" {
						ts, err = e.b.PutNonTombstone(context.Background(), id, manualMD("new"), []byte("new"))
					} else {
						ts, err = e.b.DeleteNonTombstone(context.Background(), id)
						wantTomb, wantAfter = tc.delTomb, tc.delAfter
					}
					if err != nil {
						t.Fatalf("%s: %v", op, err)
					}
					switch {
					case wantTomb == "" && ts != nil:
						t.Errorf("%s returned tombstone %s, want none", op, ts.Target)
					case wantTomb != "" && ts == nil:
						t.Errorf("%s returned no tombstone, want one to %s", op, subst.Replace(wantTomb))
					case wantTomb != "" && ts.Target.Key != subst.Replace(wantTomb):
						t.Errorf("%s returned tombstone %s, want %s", op, ts.Target.Key, subst.Replace(wantTomb))
					}
					if got, want := view(t, e.b, id), subst.Replace(wantAfter); got != want {
						t.Errorf("row after %s: %s, want %s", op, got, want)
					}
				}
			})
		}
	})
}

func TestBackend_LegacyTombstone_TTIBump_RewritesInNewFormat(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{clock: true})
		id := testID("legacy-tti")
		key := id.StoragePath()
		deadline := e.clock.Now().Add(10 * time.Minute)
		m := bigtable.NewMutation()
		m.Set(familyTimed, colPayload, floorTS(deadline), []byte{})
		m.Set(familyTimed, colMeta, floorTS(deadline), []byte(`{"is_redirect_tombstone":true,"expiration_policy":{"TimeToIdle":{"secs":3600,"nanos":0}}}`))
		e.rawApply(t, key, m)

		got, err := e.b.GetTiered(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != driver.EntryTombstone || !got.Tombstone.Target.Equal(id) || got.Tombstone.ExpirationPolicy != object.TTI(time.Hour) {
			t.Fatalf("GetTiered = %+v, want a TTI tombstone to its own id", got)
		}
		if !got.Tombstone.Expires.Equal(floorTS(deadline).Time()) {
			t.Errorf("Expires %s, want the pre-bump %s", got.Tombstone.Expires, floorTS(deadline).Time())
		}
		raw := e.rawRow(t, key)
		cells := map[string]bigtable.ReadItem{}
		for _, it := range raw[familyTimed] {
			cells[it.Column] = it
		}
		if len(raw[familyManual]) != 0 || len(cells) != 2 {
			t.Fatalf("row after the bump has cells %v, want exactly fg:r and fg:t", raw)
		}
		r, ok := cells["fg:r"]
		if !ok || string(r.Value) != key {
			t.Errorf("fg:r = %q, want the row's own path %q", r.Value, key)
		}
		if want := floorTS(e.clock.Now().Add(time.Hour)); r.Timestamp != want {
			t.Errorf("bumped deadline %d, want %d", r.Timestamp, want)
		}
		if tt := cells["fg:t"]; string(tt.Value) != `{"expiration_policy":{"TimeToIdle":{"secs":3600,"nanos":0}}}` {
			t.Errorf("fg:t = %s", tt.Value)
		}
	})
}

// putTTI writes an inline TTI object due for a bump after the clock moves by half its TTI.
func putTTI(t *testing.T, e *env, id object.ID, marker string, payload []byte) object.Metadata {
	t.Helper()
	md := manualMD(marker)
	md.ExpirationPolicy = object.TTI(time.Hour)
	md.TimeCreated = e.clock.Now()
	md.TimeExpires = e.clock.Now().Add(time.Hour)
	if ts, err := e.b.PutNonTombstone(context.Background(), id, md, payload); err != nil || ts != nil {
		t.Fatalf("PutNonTombstone = %v, %v", ts, err)
	}
	return md
}

// rawObject returns the raw payload, metadata and cell timestamp of an object row.
func rawObject(t *testing.T, e *env, id object.ID) ([]byte, object.Metadata, bigtable.Timestamp) {
	t.Helper()
	row := e.rawRow(t, id.StoragePath())
	var p, m *bigtable.ReadItem
	for i, it := range row[familyTimed] {
		switch it.Column {
		case "fg:p":
			p = &row[familyTimed][i]
		case "fg:m":
			m = &row[familyTimed][i]
		}
	}
	if p == nil || m == nil || len(row[familyTimed]) != 2 {
		t.Fatalf("raw row %v is not exactly one fg object version", row)
	}
	if p.Timestamp != m.Timestamp {
		t.Fatalf("p and m timestamps differ: %d vs %d", p.Timestamp, m.Timestamp)
	}
	var md object.Metadata
	if err := md.UnmarshalJSON(m.Value); err != nil {
		t.Fatal(err)
	}
	return p.Value, md, m.Timestamp
}

func TestBackend_TTIBump_ConditionalRewrite(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		for _, reader := range []string{"GetTiered", "GetTieredMetadata"} {
			t.Run(reader, func(t *testing.T) {
				e := newEnv(t, kind, envConfig{clock: true})
				id := testID("tti")
				payload := bytes.Repeat([]byte("p"), 5000)
				md := putTTI(t, e, id, "v1", payload)
				read := e.b.GetTiered
				wantRPCs := map[string]int{"ReadRows": 1, "CheckAndMutateRow": 1}
				if reader == "GetTieredMetadata" {
					read = e.b.GetTieredMetadata
					wantRPCs["ReadRows"] = 2 // m/r/t, then the full row for the rewrite
				}

				// Fresh: one RPC, nothing rewritten.
				e.rec.reset()
				if _, err := read(context.Background(), id); err != nil {
					t.Fatal(err)
				}
				if got := e.rec.snapshot(); !maps.Equal(got, map[string]int{"ReadRows": 1}) {
					t.Errorf("RPCs of a fresh read: %v, want 1 ReadRows", got)
				}
				_, _, ts0 := rawObject(t, e, id)

				e.clock.Advance(30 * time.Minute)
				e.rec.reset()
				got, err := read(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if rpcs := e.rec.snapshot(); !maps.Equal(rpcs, wantRPCs) {
					t.Errorf("RPCs of a bumping read: %v, want %v", rpcs, wantRPCs)
				}
				// The deadline reads back from the cell, in whole milliseconds (as objectstore).
				if !got.Metadata.TimeExpires.Equal(floorTS(md.TimeExpires).Time()) {
					t.Errorf("read returned TimeExpires %s, want the pre-bump %s", got.Metadata.TimeExpires, md.TimeExpires)
				}
				p, rawMD, ts := rawObject(t, e, id)
				wantDeadline := e.clock.Now().Add(time.Hour)
				if ts != floorTS(wantDeadline) || ts == ts0 {
					t.Errorf("cell timestamp after the bump %d, want %d (was %d)", ts, floorTS(wantDeadline), ts0)
				}
				if !rawMD.TimeExpires.Equal(wantDeadline) {
					t.Errorf("stored time_expires %s, want %s", rawMD.TimeExpires, wantDeadline)
				}
				if !bytes.Equal(p, payload) || rawMD.Custom["marker"] != "v1" || rawMD.Size != int64(len(payload)) {
					t.Errorf("bump changed the object: payload %d bytes, metadata %+v", len(p), rawMD)
				}
			})
		}
	})
}

// TestBackend_TTIBump_HeadNeverMixesVersions overwrites the object between HEAD's metadata
// read and its full re-read. objectstore's unconditional bump would write the first version's
// metadata with the second version's payload; here the bump applies to the re-read version
// as a whole.
func TestBackend_TTIBump_HeadNeverMixesVersions(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{clock: true})
		id := testID("mix")
		putTTI(t, e, id, "v1", []byte("payload one"))
		e.clock.Advance(30 * time.Minute)
		v2 := manualMD("v2")
		v2.ExpirationPolicy = object.TTI(time.Hour)
		v2.TimeExpires = e.clock.Now().Add(10 * time.Minute) // also due for a bump
		w2, err := objectWrite(v2, []byte("payload two, longer"), e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.rec.setFault(func(ctx context.Context, method string, n int) error {
			if method == "ReadRows" && n == 2 {
				return e.raw.Apply(ctx, id.StoragePath(), w2.mutation())
			}
			return nil
		})
		got, err := e.b.GetTieredMetadata(context.Background(), id)
		e.rec.setFault(nil)
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != driver.EntryObject || got.Metadata.Custom["marker"] != "v2" || got.Metadata.Size != int64(len("payload two, longer")) {
			t.Errorf("HEAD returned %+v, want the re-read version v2", got.Metadata)
		}
		p, md, ts := rawObject(t, e, id)
		if string(p) != "payload two, longer" || md.Custom["marker"] != "v2" || md.Size != int64(len(p)) {
			t.Fatalf("row mixes versions: payload %q with metadata %+v", p, md)
		}
		if ts != floorTS(e.clock.Now().Add(time.Hour)) {
			t.Errorf("v2 was not bumped: cell timestamp %d, want %d", ts, floorTS(e.clock.Now().Add(time.Hour)))
		}
	})
}

func TestBackend_TTIBump_ConcurrentOverwrite_NotReverted(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		for _, reader := range []string{"GetTiered", "GetTieredMetadata"} {
			t.Run(reader, func(t *testing.T) {
				e := newEnv(t, kind, envConfig{clock: true})
				id := testID("race")
				putTTI(t, e, id, "read", []byte("read version"))
				e.clock.Advance(30 * time.Minute)
				calls := 0
				e.b.SetBeforeBump(func(got object.ID) {
					calls++
					// Same metadata bytes and deadline are impossible to reproduce exactly;
					// a manual overwrite is the simplest version change.
					if ts, err := e.b.PutNonTombstone(context.Background(), id, manualMD("concurrent"), []byte("concurrent")); err != nil || ts != nil {
						t.Errorf("PutNonTombstone in hook = %v, %v", ts, err)
					}
				})
				read := e.b.GetTiered
				if reader == "GetTieredMetadata" {
					read = e.b.GetTieredMetadata
				}
				got, err := read(context.Background(), id)
				e.b.SetBeforeBump(nil)
				if err != nil {
					t.Fatal(err)
				}
				if calls != 1 {
					t.Fatalf("before-bump hook ran %d times, want 1", calls)
				}
				if got.Metadata.Custom["marker"] != "read" {
					t.Errorf("read returned %q, want the version it read", got.Metadata.Custom["marker"])
				}
				if v := view(t, e.b, id); v != "object:concurrent" {
					t.Errorf("row after the race: %s, want the concurrent overwrite", v)
				}
				row := e.rawRow(t, id.StoragePath())
				if len(row[familyTimed]) != 0 || len(row[familyManual]) != 2 {
					t.Errorf("raw row %v, want only the manual overwrite's fm:p and fm:m", row)
				}
			})
		}
	})
}

func TestBackend_TTIBump_FailureIgnored_SingleAttempt(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{clock: true, opts: Options{RetryBackoff: time.Millisecond}})
	id := testID("bump-fails")
	md := putTTI(t, e, id, "v1", []byte("abc"))
	e.clock.Advance(30 * time.Minute)
	e.rec.setFault(func(ctx context.Context, method string, n int) error {
		if method == "CheckAndMutateRow" {
			return statusErr("UNAVAILABLE")
		}
		return nil
	})
	got, err := e.b.GetTiered(context.Background(), id)
	counts := e.rec.snapshot()
	e.rec.setFault(nil)
	if err != nil {
		t.Fatalf("GetTiered failed because its bump failed: %v", err)
	}
	if string(got.Payload) != "abc" || !got.Metadata.TimeExpires.Equal(floorTS(md.TimeExpires).Time()) {
		t.Errorf("GetTiered = %q %s", got.Payload, got.Metadata.TimeExpires)
	}
	if counts["CheckAndMutateRow"] != 1 {
		t.Errorf("bump attempts: %d, want 1 (bumps are not retried)", counts["CheckAndMutateRow"])
	}
	if _, _, ts := rawObject(t, e, id); ts != floorTS(md.TimeExpires) {
		t.Errorf("deadline moved to %d although the bump failed", ts)
	}
}

func TestBackend_TTIBump_ExpiredRowNotResurrected(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{clock: true})
	id := testID("no-resurrect")
	putTTI(t, e, id, "v1", []byte("abc"))
	st, err := e.b.readRow(context.Background(), "test", id, id.StoragePath(), fullRowFilter(), true)
	if err != nil {
		t.Fatal(err)
	}
	// The row was read live; by the time the bump runs, its deadline has passed.
	e.clock.Advance(2 * time.Hour)
	e.b.bump(context.Background(), id, id.StoragePath(), st, e.clock.Now().Add(time.Hour))
	if _, _, ts := rawObject(t, e, id); ts != st.Version.TS {
		t.Errorf("an expired row was bumped to %d", ts)
	}
}

func TestBackend_TTL_ExpiredRowIsAbsentBeforeGC(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{clock: true})
		id := testID("ttl")
		md := manualMD("ttl")
		md.ExpirationPolicy = object.TTL(time.Hour)
		md.TimeExpires = e.clock.Now().Add(time.Hour)
		if _, err := e.b.PutNonTombstone(context.Background(), id, md, []byte("x")); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour + time.Millisecond)
		for _, read := range []func(context.Context, object.ID) (driver.Entry, error){e.b.GetTiered, e.b.GetTieredMetadata} {
			got, err := read(context.Background(), id)
			if err != nil || got.Kind != driver.EntryNotFound {
				t.Errorf("read of an expired row = %+v, %v; want not found", got.Kind, err)
			}
		}
		if len(e.rawRow(t, id.StoragePath())) == 0 {
			t.Fatal("the row is gone physically; the test wants it still there (deadline is in the server's future)")
		}
		// Predicates agree: an expired tombstone-free row accepts a tombstone with current nil.
		ok, err := e.b.CompareAndWrite(context.Background(), id, nil, driver.Write{Kind: driver.WriteTombstone,
			Tombstone: driver.Tombstone{Target: rev(id, 1)}})
		if err != nil || !ok {
			t.Errorf("CompareAndWrite over an expired row = %v, %v", ok, err)
		}
	})
}

func TestBackend_RPCsPerOperation(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{clock: true})
		ctx := context.Background()
		tomb := testID("rpc/tomb")
		setupTomb(rev(tomb, 1), object.ExpirationPolicy{})(t, e, tomb)
		ttiTomb := testID("rpc/tti-tomb")
		setupTomb(rev(ttiTomb, 1), object.TTI(time.Hour))(t, e, ttiTomb)
		ttiObj := testID("rpc/tti-obj")
		putTTI(t, e, ttiObj, "tti", []byte("tti"))
		ttiObj2 := testID("rpc/tti-obj-2")
		putTTI(t, e, ttiObj2, "tti", []byte("tti"))
		ttiTomb2 := testID("rpc/tti-tomb-2")
		setupTomb(rev(ttiTomb2, 1), object.TTI(time.Hour))(t, e, ttiTomb2)
		obj := testID("rpc/obj")
		stale := false

		for _, tc := range []struct {
			name string
			op   func() error
			want map[string]int
		}{
			{"small put", func() error { _, err := e.b.PutNonTombstone(ctx, obj, manualMD("o"), []byte("o")); return err },
				map[string]int{"CheckAndMutateRow": 1}},
			{"small get", func() error { _, err := e.b.GetTiered(ctx, obj); return err }, map[string]int{"ReadRows": 1}},
			{"small head", func() error { _, err := e.b.GetTieredMetadata(ctx, obj); return err }, map[string]int{"ReadRows": 1}},
			{"small delete", func() error { _, err := e.b.DeleteNonTombstone(ctx, obj); return err }, map[string]int{"CheckAndMutateRow": 1}},
			{"get missing", func() error { _, err := e.b.GetTiered(ctx, obj); return err }, map[string]int{"ReadRows": 1}},
			{"compare-and-write", func() error {
				_, err := e.b.CompareAndWrite(ctx, obj, nil, driver.Write{Kind: driver.WriteDelete})
				return err
			}, map[string]int{"CheckAndMutateRow": 1}},
			{"get tombstone", func() error { _, err := e.b.GetTiered(ctx, tomb); return err }, map[string]int{"ReadRows": 1}},
			{"put over a tombstone", func() error { _, err := e.b.PutNonTombstone(ctx, tomb, manualMD("o"), []byte("o")); return err },
				map[string]int{"CheckAndMutateRow": 1, "ReadRows": 1}},
			{"delete over a tombstone", func() error { _, err := e.b.DeleteNonTombstone(ctx, tomb); return err },
				map[string]int{"CheckAndMutateRow": 1, "ReadRows": 1}},
			{"fresh TTI get", func() error { _, err := e.b.GetTiered(ctx, ttiObj); return err }, map[string]int{"ReadRows": 1}},
			{"fresh TTI tombstone head", func() error { _, err := e.b.GetTieredMetadata(ctx, ttiTomb); return err }, map[string]int{"ReadRows": 1}},
			{"stale TTI get (bump)", func() error {
				if !stale {
					e.clock.Advance(30 * time.Minute)
					stale = true
				}
				_, err := e.b.GetTiered(ctx, ttiObj)
				return err
			}, map[string]int{"ReadRows": 1, "CheckAndMutateRow": 1}},
			{"stale TTI head (bump)", func() error { _, err := e.b.GetTieredMetadata(ctx, ttiObj2); return err },
				map[string]int{"ReadRows": 2, "CheckAndMutateRow": 1}},
			{"stale TTI tombstone get (bump)", func() error { _, err := e.b.GetTiered(ctx, ttiTomb); return err },
				map[string]int{"ReadRows": 1, "CheckAndMutateRow": 1}},
			{"stale TTI tombstone head (bump)", func() error { _, err := e.b.GetTieredMetadata(ctx, ttiTomb2); return err },
				map[string]int{"ReadRows": 1, "CheckAndMutateRow": 1}},
			{"record", func() error {
				return e.b.Record(ctx, driver.LogEntry{ID: "rpc-1", Owner: "a", Heartbeat: e.clock.Now(), Change: driver.Change{ID: obj}})
			}, map[string]int{"CheckAndMutateRow": 1}},
			{"record conflict", func() error {
				err := e.b.Record(ctx, driver.LogEntry{ID: "rpc-1", Owner: "b", Heartbeat: e.clock.Now(), Change: driver.Change{ID: obj}})
				if !errors.Is(err, object.ErrConflict) {
					return fmt.Errorf("Record over another owner's entry = %v, want ErrConflict", err)
				}
				return nil
			}, map[string]int{"CheckAndMutateRow": 1}},
			{"get entry", func() error { _, err := e.b.Get(ctx, "rpc-1"); return err }, map[string]int{"ReadRows": 1}},
			{"update", func() error {
				return e.b.Update(ctx, driver.LogEntry{ID: "rpc-1", Owner: "a", Heartbeat: e.clock.Now(), Phase: driver.PhaseLost,
					Change: driver.Change{ID: obj}}, driver.Lease{Owner: "a", Heartbeat: e.clock.Now()})
			}, map[string]int{"CheckAndMutateRow": 1}},
			{"update conflict", func() error {
				err := e.b.Update(ctx, driver.LogEntry{ID: "rpc-1", Owner: "b", Heartbeat: e.clock.Now(), Change: driver.Change{ID: obj}},
					driver.Lease{Owner: "b"})
				if !errors.Is(err, object.ErrConflict) {
					return fmt.Errorf("Update by a non-owner = %v, want ErrConflict", err)
				}
				return nil
			}, map[string]int{"CheckAndMutateRow": 1, "ReadRows": 1}},
			{"refresh", func() error { return e.b.Refresh(ctx, "rpc-1", "a", e.clock.Now()) }, map[string]int{"CheckAndMutateRow": 1}},
			{"refresh conflict", func() error {
				if err := e.b.Refresh(ctx, "rpc-1", "b", e.clock.Now()); !errors.Is(err, object.ErrConflict) {
					return fmt.Errorf("Refresh by a non-owner = %v, want ErrConflict", err)
				}
				return nil
			}, map[string]int{"CheckAndMutateRow": 1, "ReadRows": 1}},
			{"claim one", func() error {
				es, err := e.b.ClaimStale(ctx, driver.Claim{Owner: "c", Now: e.clock.Now().Add(time.Hour), StaleBefore: e.clock.Now().Add(time.Minute), Limit: 5})
				if err == nil && len(es) != 1 {
					err = fmt.Errorf("claimed %d entries, want 1", len(es))
				}
				return err
			}, map[string]int{"ReadRows": 1, "CheckAndMutateRow": 1}},
			{"remove", func() error { return e.b.Remove(ctx, "rpc-1") }, map[string]int{"MutateRow": 1}},
		} {
			e.rec.reset()
			if err := tc.op(); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := e.rec.snapshot(); !maps.Equal(got, tc.want) {
				t.Errorf("%s: RPCs %v, want %v", tc.name, got, tc.want)
			}
		}
	})
}

// TestBackend_LargeRows_NoFourMiBTrap reads and writes rows above gRPC's default 4 MiB
// message limit through the connection DialEmulator makes, and exactly 1 MiB (the tiering
// threshold) too.
func TestBackend_LargeRows_NoFourMiBTrap(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{})
		for _, size := range []int{1 << 20, 5 << 20} {
			id := testID(fmt.Sprintf("large/%d", size))
			payload := bytes.Repeat([]byte{0xa5, 0x00, 0xff}, size/3+1)[:size]
			if _, err := e.b.PutNonTombstone(context.Background(), id, manualMD("big"), payload); err != nil {
				t.Fatalf("PutNonTombstone(%d bytes): %v", size, err)
			}
			got, err := e.b.GetTiered(context.Background(), id)
			if err != nil {
				t.Fatalf("GetTiered(%d bytes): %v", size, err)
			}
			if !bytes.Equal(got.Payload, payload) || got.Metadata.Size != int64(size) {
				t.Errorf("GetTiered(%d bytes) returned %d bytes, size %d", size, len(got.Payload), got.Metadata.Size)
			}
			head, err := e.b.GetTieredMetadata(context.Background(), id)
			if err != nil || head.Metadata.Size != int64(size) || head.Payload != nil {
				t.Errorf("GetTieredMetadata(%d bytes) = size %d, %d payload bytes, %v", size, head.Metadata.Size, len(head.Payload), err)
			}
		}
	})
}

func TestBackend_InputLimits_NoRPC(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{})
	ctx := context.Background()
	long := testID(strings.Repeat("k", maxRowKeySize))
	huge := make([]byte, MaxPayloadSize+1)
	e.rec.reset()
	if _, err := e.b.PutNonTombstone(ctx, testID("huge"), manualMD("h"), huge); !errors.Is(err, object.ErrTooLarge) {
		t.Errorf("PutNonTombstone of %d bytes: %v, want ErrTooLarge", len(huge), err)
	}
	if _, err := e.b.CompareAndWrite(ctx, testID("huge"), nil, driver.Write{Kind: driver.WriteObject, Payload: huge}); !errors.Is(err, object.ErrTooLarge) {
		t.Errorf("CompareAndWrite of %d bytes: %v, want ErrTooLarge", len(huge), err)
	}
	if _, err := e.b.GetTiered(ctx, long); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("GetTiered with a %d-byte row key: %v, want ErrInvalidArgument", len(long.StoragePath()), err)
	}
	if _, err := e.b.CompareAndWrite(ctx, testID("x"), nil, driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: long}}); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("CompareAndWrite with an overlong target: %v, want ErrInvalidArgument", err)
	}
	ttl := manualMD("ttl")
	ttl.ExpirationPolicy = object.TTL(time.Hour)
	if _, err := e.b.PutNonTombstone(ctx, testID("ttl"), ttl, []byte("x")); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("PutNonTombstone of a TTL object without TimeExpires: %v, want ErrInvalidArgument", err)
	}
	if got := e.rec.snapshot(); len(got) != 0 {
		t.Errorf("rejected inputs sent RPCs: %v", got)
	}
}

// TestBackend_RaceLoop covers the rounds of PutNonTombstone and DeleteNonTombstone: a CAS that
// saw a tombstone, then a read that no longer finds it.
func TestBackend_RaceLoop(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{})
	ctx := context.Background()
	tombstoneAt := func(ctx context.Context, id object.ID) error {
		return e.raw.Apply(ctx, id.StoragePath(), tombstoneWrite(driver.Tombstone{Target: rev(id, 1)}, time.Now()).mutation())
	}
	t.Run("put writes after the tombstone vanished", func(t *testing.T) {
		id := testID("loop/put")
		if err := tombstoneAt(ctx, id); err != nil {
			t.Fatal(err)
		}
		e.rec.setFault(func(ctx context.Context, method string, n int) error {
			if method == "ReadRows" && n == 1 {
				return e.raw.Apply(ctx, id.StoragePath(), deleteWrite().mutation())
			}
			return nil
		})
		ts, err := e.b.PutNonTombstone(ctx, id, manualMD("new"), []byte("new"))
		counts := e.rec.snapshot()
		e.rec.setFault(nil)
		if err != nil || ts != nil {
			t.Fatalf("PutNonTombstone = %v, %v", ts, err)
		}
		if want := map[string]int{"CheckAndMutateRow": 2, "ReadRows": 1}; !maps.Equal(counts, want) {
			t.Errorf("RPCs %v, want %v", counts, want)
		}
		if v := view(t, e.b, id); v != "object:new" {
			t.Errorf("row %s, want object:new", v)
		}
	})
	t.Run("delete deletes an object that replaced the tombstone", func(t *testing.T) {
		id := testID("loop/delete")
		if err := tombstoneAt(ctx, id); err != nil {
			t.Fatal(err)
		}
		ow, _ := objectWrite(manualMD("between"), []byte("b"), time.Now())
		e.rec.setFault(func(ctx context.Context, method string, n int) error {
			if method == "ReadRows" && n == 1 {
				return e.raw.Apply(ctx, id.StoragePath(), ow.mutation())
			}
			return nil
		})
		ts, err := e.b.DeleteNonTombstone(ctx, id)
		counts := e.rec.snapshot()
		e.rec.setFault(nil)
		if err != nil || ts != nil {
			t.Fatalf("DeleteNonTombstone = %v, %v", ts, err)
		}
		if want := map[string]int{"CheckAndMutateRow": 2, "ReadRows": 1}; !maps.Equal(counts, want) {
			t.Errorf("RPCs %v, want %v", counts, want)
		}
		if v := view(t, e.b, id); v != "absent" {
			t.Errorf("row %s, want absent", v)
		}
	})
	t.Run("superseded by a tombstone written during the call", func(t *testing.T) {
		// Every CAS finds a fresh tombstone and every read finds none: the second tombstone
		// was written within the call, so the put is linearized just before it.
		for _, op := range []string{"put", "delete"} {
			id := testID("loop/superseded/" + op)
			e.rec.setFault(func(ctx context.Context, method string, n int) error {
				if method == "CheckAndMutateRow" {
					return e.raw.Apply(ctx, id.StoragePath(), tombstoneWrite(driver.Tombstone{Target: rev(id, n)}, time.Now()).mutation())
				}
				return e.raw.Apply(ctx, id.StoragePath(), deleteWrite().mutation())
			})
			var ts *driver.Tombstone
			var err error
			if op == "put" {
				ts, err = e.b.PutNonTombstone(ctx, id, manualMD("new"), []byte("new"))
			} else {
				ts, err = e.b.DeleteNonTombstone(ctx, id)
			}
			counts := e.rec.snapshot()
			e.rec.setFault(nil)
			if err != nil || ts != nil {
				t.Fatalf("%s = %v, %v; want nil, nil (superseded)", op, ts, err)
			}
			if want := map[string]int{"CheckAndMutateRow": 2, "ReadRows": 1}; !maps.Equal(counts, want) {
				t.Errorf("%s: RPCs %v, want %v", op, counts, want)
			}
			if v, want := view(t, e.b, id), "tomb:"+rev(id, 2).Key; v != want {
				t.Errorf("%s: row %s, want the concurrent %s untouched", op, v, want)
			}
		}
	})
}

// TestBackend_LegacyPredicate_AgreesWithParser writes each m value of legacyCases and checks
// that the server-side predicate (PutNonTombstone's) and the reader classify it the same way.
func TestBackend_LegacyPredicate_AgreesWithParser(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{})
		for i, tc := range legacyCases {
			id := testID(fmt.Sprintf("legacy-agree/%d", i))
			m := bigtable.NewMutation()
			m.Set(familyManual, colMeta, floorTS(time.Now()), []byte(tc.m))
			e.rawApply(t, id.StoragePath(), m)
			ts, err := e.b.PutNonTombstone(context.Background(), id, manualMD("new"), []byte("new"))
			if err != nil {
				t.Fatalf("%q: %v", tc.m, err)
			}
			if (ts != nil) != tc.want {
				t.Errorf("%q: predicate saw a tombstone = %v, want %v", tc.m, ts != nil, tc.want)
			}
		}
	})
}
