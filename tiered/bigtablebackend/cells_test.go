package bigtablebackend

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// Fixed inputs of the golden files.
var (
	goldenNow     = time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)
	goldenCreated = time.Date(2026, 11, 25, 11, 59, 59, 987654321, time.UTC)
	goldenID      = object.NewID("attachments", []object.Scope{{Name: "org", Value: "17"}, {Name: "project", Value: "42"}}, "abc/def")
	goldenRev     = object.NewID("attachments", []object.Scope{{Name: "org", Value: "17"}, {Name: "project", Value: "42"}}, "abc/def/0190a6b2-0000-7000-8000-000000000001")
)

func TestGolden_ObjectCells(t *testing.T) {
	cases := []struct {
		name    string
		md      object.Metadata
		payload []byte
	}{
		{"manual default", object.Metadata{}, []byte("hello")},
		{"manual all fields", object.Metadata{
			TimeCreated: goldenCreated, ContentType: "text/plain", Compression: object.CompressionZstd,
			Origin: "203.0.113.7", Filename: "a b.txt", Size: 999, Custom: map[string]string{"k": "v", "a": "b"},
		}, []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00}},
		{"ttl", object.Metadata{
			ExpirationPolicy: object.TTL(time.Hour), TimeCreated: goldenCreated,
			TimeExpires: goldenNow.Add(time.Hour),
		}, []byte("ttl")},
		{"tti", object.Metadata{
			ExpirationPolicy: object.TTI(30 * 24 * time.Hour), TimeCreated: goldenCreated,
			TimeExpires: goldenNow.Add(30 * 24 * time.Hour),
		}, []byte{}},
	}
	var out strings.Builder
	for _, tc := range cases {
		w, err := objectWrite(tc.md, tc.payload, goldenNow)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		fmt.Fprintf(&out, "# %s\n%s\n", tc.name, w)
	}
	checkGolden(t, "object_cells.golden", []byte(out.String()))
}

func TestGolden_TombstoneCells(t *testing.T) {
	var out strings.Builder
	for _, p := range []object.ExpirationPolicy{{}, object.TTL(90 * time.Minute), object.TTI(1500 * time.Millisecond)} {
		w := tombstoneWrite(driver.Tombstone{Target: goldenRev, ExpirationPolicy: p}, goldenNow)
		fmt.Fprintf(&out, "# %s\n%s\n", p, w)
	}
	fmt.Fprintf(&out, "# delete\n%s\n", deleteWrite())
	checkGolden(t, "tombstone_cells.golden", []byte(out.String()))
}

func TestGolden_ChangeLogCells(t *testing.T) {
	newRev, oldRev := goldenRev, goldenRev
	oldRev.Key = "abc/def/0190a6b2-0000-7000-8000-000000000000"
	cases := []struct {
		name string
		e    driver.LogEntry
	}{
		{"delete of a large object", driver.LogEntry{ID: "0190a6b2-1111-7000-8000-000000000001", Owner: "instance-a",
			Heartbeat: goldenNow, Change: driver.Change{ID: goldenID, Old: &oldRev}}},
		{"large put", driver.LogEntry{ID: "0190a6b2-1111-7000-8000-000000000002", Owner: "instance-a",
			Heartbeat: goldenNow, Change: driver.Change{ID: goldenID, New: &newRev, Old: &oldRev}}},
		{"multipart complete", driver.LogEntry{ID: "0190a6b2-1111-7000-8000-000000000003", Owner: "instance-b",
			Heartbeat: goldenNow, Change: driver.Change{ID: goldenID, New: &newRev, UploadID: "upload-1",
				CleanupAfter: goldenNow.Add(24 * time.Hour)}}},
	}
	var out strings.Builder
	for _, tc := range cases {
		fmt.Fprintf(&out, "# Record: %s (row key %s)\n%s\n", tc.name, tc.e.ID, recordWrite(tc.e))
	}
	upd := driver.LogEntry{ID: "0190a6b2-1111-7000-8000-000000000002", Owner: "instance-a", Heartbeat: goldenNow.Add(time.Second),
		Change: driver.Change{ID: goldenID, New: &newRev, Old: &oldRev, CleanupAfter: goldenNow.Add(time.Hour)},
		Phase:  driver.PhaseUnknown, NotBefore: goldenNow.Add(30 * time.Second)}
	fmt.Fprintf(&out, "# Update: large put settled as unknown (row key %s)\n%s\n", upd.ID, recordWrite(upd))
	fmt.Fprintf(&out, "# Refresh / claim lease\n%s\n", leaseWrite("instance-c", goldenNow.Add(time.Minute)))
	checkGolden(t, "changelog_cells.golden", []byte(out.String()))
}

func TestGolden_Predicates(t *testing.T) {
	lf := liveFrom(goldenNow)
	other := goldenRev
	other.Key += "x"
	var out strings.Builder
	for _, p := range []struct {
		name string
		p    predicate
	}{
		{"PutNonTombstone, DeleteNonTombstone, CAS(nil, object|delete)", noTombstonePredicate(lf)},
		{"CAS(nil, tombstone(new))", optionalTargetPredicate(goldenRev, goldenID, lf)},
		{"CAS(old, object|delete)", optionalTargetPredicate(other, goldenID, lf)},
		{"CAS(old = own id, object|delete) (legacy tombstones match)", optionalTargetPredicate(goldenID, goldenID, lf)},
		{"CAS(old, tombstone(new))", updatePredicate(other, goldenRev, goldenID, lf)},
		{"TTI bump of an object", versionPredicate(versionCell{Family: familyTimed, Column: colMeta, TS: floorTS(goldenNow), Value: []byte(`{"content_type":"x"}`)})},
		{"Refresh; Update with a zero prev heartbeat", ownerPredicate("instance-a")},
		{"Update", leasePredicate(driver.Lease{Owner: "instance-a", Heartbeat: goldenNow})},
		{"Update of a released entry", leasePredicate(driver.Lease{Heartbeat: goldenNow})},
		{"Record", recordPredicate("instance-a")},
		{"ClaimStale claim", claimPredicate(driver.Claim{Owner: "instance-b", Now: goldenNow, StaleBefore: goldenNow.Add(-time.Minute)}, []byte("instance-a"))},
	} {
		fmt.Fprintf(&out, "# %s\n%s\n\n", p.name, p.p)
	}
	fmt.Fprintf(&out, "# ClaimStale scan\n%s\n", scanFilter(goldenNow.Add(-time.Minute), goldenNow))
	// The library prints value ranges raw; their exclusive end ends in a NUL byte.
	checkGolden(t, "predicates.golden", []byte(strings.ReplaceAll(out.String(), "\x00", `\x00`)))
}

func TestTimestamps_FloorCeilLive(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := base.UnixMilli() * 1000
	far := time.Date(2400, 1, 1, 0, 0, 0, 500, time.UTC) // beyond UnixNano's range
	for _, tc := range []struct {
		name        string
		t           time.Time
		floor, ceil int64
	}{
		{"aligned", base, ms, ms},
		{"one ns over", base.Add(1), ms, ms + 1000},
		{"one µs under the next ms", base.Add(999 * time.Microsecond), ms, ms + 1000},
		{"half ms", base.Add(500 * time.Microsecond), ms, ms + 1000},
		{"far future", far, far.UnixMilli() * 1000, far.UnixMilli()*1000 + 1000},
	} {
		if got := int64(floorTS(tc.t)); got != tc.floor {
			t.Errorf("%s: floorTS = %d, want %d", tc.name, got, tc.floor)
		}
		if got := int64(ceilTS(tc.t)); got != tc.ceil {
			t.Errorf("%s: ceilTS = %d, want %d", tc.name, got, tc.ceil)
		}
		if got := int64(liveFrom(tc.t)); got != tc.ceil {
			t.Errorf("%s: liveFrom = %d, want %d", tc.name, got, tc.ceil)
		}
	}
}

// legacyCases are m values with whether they are legacy tombstones; the Go parser and the
// server-side predicate must agree on every one.
var legacyCases = []struct {
	m    string
	want bool
}{
	{`{"is_redirect_tombstone":true}`, true},
	{`{"is_redirect_tombstone":true,"expiration_policy":"Manual"}`, true},
	{`{"is_redirect_tombstone":true,"x":"line\nbreak ü"}`, true},
	{`{"is_redirect_tombstone":truex}`, false},
	{`{"is_redirect_tombstone":true-}`, false},
	{`{"is_redirect_tombstone":true|}`, false},
	{`{"is_redirect_tombstone":true~`, false},
	{`{"is_redirect_tombstone":false}`, false},
	{`{"content_type":"x","is_redirect_tombstone":true}`, false}, // objectstore: must be the first key
	{`{"is_redirect_tombstone":true`, false},
	{`{"content_type":"application/octet-stream"}`, false},
}

func TestIsLegacyTombstone(t *testing.T) {
	for _, tc := range legacyCases {
		if got := isLegacyTombstone([]byte(tc.m)); got != tc.want {
			t.Errorf("isLegacyTombstone(%q) = %v, want %v", tc.m, got, tc.want)
		}
	}
	if isLegacyTombstone(nil) {
		t.Error("isLegacyTombstone(nil) = true")
	}
}

// item builds one cell of a read row.
func item(key, fam, col string, ts bigtable.Timestamp, v string) (string, bigtable.ReadItem) {
	return fam, bigtable.ReadItem{Row: key, Column: fam + ":" + col, Timestamp: ts, Value: []byte(v)}
}

func rowOf(items ...func() (string, bigtable.ReadItem)) bigtable.Row {
	r := bigtable.Row{}
	for _, f := range items {
		fam, it := f()
		r[fam] = append(r[fam], it)
	}
	return r
}

func cell(key, fam, col string, ts bigtable.Timestamp, v string) func() (string, bigtable.ReadItem) {
	return func() (string, bigtable.ReadItem) { return item(key, fam, col, ts, v) }
}

func TestParseRow(t *testing.T) {
	id := goldenID
	key := id.StoragePath()
	now := goldenNow
	future := floorTS(now.Add(time.Hour))
	past := floorTS(now.Add(-time.Millisecond))
	nowFloor := floorTS(now) // before now (now has sub-ms digits): expired
	exactExpires := now.Add(time.Hour).Add(123456 * time.Nanosecond)
	ttlJSON := fmt.Sprintf(`{"expiration_policy":{"TimeToLive":{"secs":3600,"nanos":0}},"time_expires":{"secs_since_epoch":%d,"nanos_since_epoch":%d},"content_type":"text/plain","size":3}`,
		exactExpires.Unix(), exactExpires.Nanosecond())
	legacyTTL := `{"is_redirect_tombstone":true,"expiration_policy":{"TimeToLive":{"secs":60,"nanos":0}},"content_type":"application/octet-stream"}`

	type want struct {
		kind    driver.EntryKind
		target  object.ID
		policy  object.ExpirationPolicy
		expires time.Time
		size    int64
		payload string
		legacy  bool
		version string // column of the version cell
	}
	for _, tc := range []struct {
		name        string
		row         bigtable.Row
		withPayload bool
		want        want
		wantErr     bool
	}{
		{name: "empty row", row: bigtable.Row{}, want: want{kind: driver.EntryNotFound}},
		{name: "manual object", withPayload: true,
			row:  rowOf(cell(key, "fm", "p", 1000, "abc"), cell(key, "fm", "m", 1000, `{"content_type":"text/plain","size":3}`)),
			want: want{kind: driver.EntryObject, size: 3, payload: "abc", version: "m"}},
		{name: "object without size gets it from the payload", withPayload: true,
			row:  rowOf(cell(key, "fm", "p", 1000, "abcd"), cell(key, "fm", "m", 1000, `{"content_type":"text/plain"}`)),
			want: want{kind: driver.EntryObject, size: 4, payload: "abcd", version: "m"}},
		{name: "object without size, metadata only",
			row:  rowOf(cell(key, "fm", "m", 1000, `{"content_type":"text/plain"}`)),
			want: want{kind: driver.EntryObject, size: -1, version: "m"}},
		{name: "ttl object takes the deadline from the cell, in whole milliseconds", withPayload: true,
			row:  rowOf(cell(key, "fg", "p", floorTS(exactExpires), "abc"), cell(key, "fg", "m", floorTS(exactExpires), ttlJSON)),
			want: want{kind: driver.EntryObject, policy: object.TTL(time.Hour), expires: floorTS(exactExpires).Time().UTC(), size: 3, payload: "abc", version: "m"}},
		{name: "ttl object takes the cell deadline when it moved (bumped by another writer)",
			row:  rowOf(cell(key, "fg", "m", future+5000, ttlJSON)),
			want: want{kind: driver.EntryObject, policy: object.TTL(time.Hour), expires: (future + 5000).Time().UTC(), size: 3, version: "m"}},
		{name: "expired object", row: rowOf(cell(key, "fg", "p", past, "abc"), cell(key, "fg", "m", past, ttlJSON)),
			want: want{kind: driver.EntryNotFound}},
		{name: "deadline in the same millisecond as now, before now", row: rowOf(cell(key, "fg", "m", nowFloor, ttlJSON)),
			want: want{kind: driver.EntryNotFound}},
		{name: "tombstone manual", row: rowOf(cell(key, "fm", "r", 1000, goldenRev.StoragePath()), cell(key, "fm", "t", 1000, `{}`)),
			want: want{kind: driver.EntryTombstone, target: goldenRev, version: "r"}},
		{name: "tombstone tti", row: rowOf(cell(key, "fg", "r", future, goldenRev.StoragePath()), cell(key, "fg", "t", future, `{"expiration_policy":{"TimeToIdle":{"secs":7200,"nanos":0}}}`)),
			want: want{kind: driver.EntryTombstone, target: goldenRev, policy: object.TTI(2 * time.Hour), expires: future.Time().UTC(), version: "r"}},
		{name: "tombstone with unknown t fields", row: rowOf(cell(key, "fm", "r", 1000, goldenRev.StoragePath()), cell(key, "fm", "t", 1000, `{"future":1}`)),
			want: want{kind: driver.EntryTombstone, target: goldenRev, version: "r"}},
		{name: "expired tombstone", row: rowOf(cell(key, "fg", "r", past, goldenRev.StoragePath()), cell(key, "fg", "t", past, `{}`)),
			want: want{kind: driver.EntryNotFound}},
		{name: "legacy empty r resolves to the own id", row: rowOf(cell(key, "fm", "r", 1000, ""), cell(key, "fm", "t", 1000, `{}`)),
			want: want{kind: driver.EntryTombstone, target: id, legacy: true, version: "r"}},
		{name: "legacy m tombstone, manual", row: rowOf(cell(key, "fm", "p", 1000, ""), cell(key, "fm", "m", 1000, `{"is_redirect_tombstone":true}`)),
			want: want{kind: driver.EntryTombstone, target: id, legacy: true, version: "m"}},
		{name: "legacy m tombstone, ttl", row: rowOf(cell(key, "fg", "p", future, ""), cell(key, "fg", "m", future, legacyTTL)),
			want: want{kind: driver.EntryTombstone, target: id, policy: object.TTL(time.Minute), expires: future.Time().UTC(), legacy: true, version: "m"}},
		{name: "only the newest version counts", withPayload: true,
			row: rowOf(cell(key, "fm", "p", 2000, "new"), cell(key, "fm", "p", 1000, "old"),
				cell(key, "fm", "m", 2000, `{"content_type":"a","size":3}`), cell(key, "fm", "m", 1000, `{"content_type":"b","size":3}`)),
			want: want{kind: driver.EntryObject, size: 3, payload: "new", version: "m"}},
		{name: "payload only, no m", row: rowOf(cell(key, "fm", "p", 1000, "x")), want: want{kind: driver.EntryNotFound}},
		{name: "bad metadata JSON", row: rowOf(cell(key, "fm", "m", 1000, `{`)), wantErr: true},
		{name: "bad redirect", row: rowOf(cell(key, "fm", "r", 1000, "no-objects-segment")), wantErr: true},
		{name: "bad tombstone JSON", row: rowOf(cell(key, "fm", "r", 1000, goldenRev.StoragePath()), cell(key, "fm", "t", 1000, `[`)), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := parseRow(id, tc.row, now, tc.withPayload)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseRow succeeded with %+v, want an error", st.Entry)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e := st.Entry
			if e.Kind != tc.want.kind {
				t.Fatalf("kind %d, want %d", e.Kind, tc.want.kind)
			}
			if st.Legacy != tc.want.legacy {
				t.Errorf("legacy %v, want %v", st.Legacy, tc.want.legacy)
			}
			if tc.want.kind != driver.EntryNotFound && st.Version.Column != tc.want.version {
				t.Errorf("version column %q, want %q", st.Version.Column, tc.want.version)
			}
			switch e.Kind {
			case driver.EntryObject:
				if e.Metadata.ExpirationPolicy != tc.want.policy {
					t.Errorf("policy %s, want %s", e.Metadata.ExpirationPolicy, tc.want.policy)
				}
				if !e.Metadata.TimeExpires.Equal(tc.want.expires) {
					t.Errorf("TimeExpires %s, want %s", e.Metadata.TimeExpires, tc.want.expires)
				}
				if e.Metadata.Size != tc.want.size {
					t.Errorf("size %d, want %d", e.Metadata.Size, tc.want.size)
				}
				if string(e.Payload) != tc.want.payload {
					t.Errorf("payload %q, want %q", e.Payload, tc.want.payload)
				}
				if tc.withPayload != (e.Payload != nil) {
					t.Errorf("payload nil = %v with withPayload = %v", e.Payload == nil, tc.withPayload)
				}
			case driver.EntryTombstone:
				ts := e.Tombstone
				if !ts.Target.Equal(tc.want.target) {
					t.Errorf("target %s, want %s", ts.Target, tc.want.target)
				}
				if ts.ExpirationPolicy != tc.want.policy {
					t.Errorf("policy %s, want %s", ts.ExpirationPolicy, tc.want.policy)
				}
				if !ts.Expires.Equal(tc.want.expires) {
					t.Errorf("expires %s, want %s", ts.Expires, tc.want.expires)
				}
			}
		})
	}
}

func TestChangeJSON_RoundTrip(t *testing.T) {
	rev := goldenRev
	id := object.NewID("u", nil, "ünï cödé+%;=:@&/x")
	for _, f := range []entryFields{
		{Change: driver.Change{ID: id}},
		{Change: driver.Change{ID: id, New: &rev}, Phase: driver.PhaseAssembling},
		{Change: driver.Change{ID: goldenID, Old: &rev, UploadID: "up", CleanupAfter: goldenNow}},
		{Change: driver.Change{ID: goldenID, New: &rev, Old: &rev}, Phase: driver.PhaseUnknown, NotBefore: goldenNow.Add(time.Minute + 1)},
		{Change: driver.Change{ID: goldenID}, Phase: driver.PhaseSuperseded, NotBefore: goldenNow},
	} {
		c := f.Change
		got, err := decodeEntry(encodeEntry(f))
		if err != nil {
			t.Fatal(err)
		}
		g := got.Change
		if !g.ID.Equal(c.ID) || (g.New == nil) != (c.New == nil) || (g.Old == nil) != (c.Old == nil) ||
			g.UploadID != c.UploadID || !g.CleanupAfter.Equal(c.CleanupAfter) {
			t.Errorf("round trip of %+v gave %+v", c, g)
		}
		if c.New != nil && !g.New.Equal(*c.New) || c.Old != nil && !g.Old.Equal(*c.Old) {
			t.Errorf("round trip of %+v changed revisions: %+v", c, g)
		}
		if got.Phase != f.Phase || !got.NotBefore.Equal(f.NotBefore) {
			t.Errorf("round trip of phase %s, not before %s gave %s, %s", f.Phase, f.NotBefore, got.Phase, got.NotBefore)
		}
	}
	// A row written before phases existed decodes as a recorded entry without NotBefore.
	old := `{"id":"attachments/org.17/project.42/objects/abc/def","old":"attachments/org.17/project.42/objects/abc/def/0190a6b2-0000-7000-8000-000000000000"}`
	if got, err := decodeEntry([]byte(old)); err != nil || got.Phase != driver.PhaseRecorded || !got.NotBefore.IsZero() {
		t.Errorf("decodeEntry(old row) = %+v, %v; want PhaseRecorded and no NotBefore", got, err)
	}
	if got := string(encodeEntry(entryFields{Change: driver.Change{ID: goldenID}})); strings.Contains(got, "phase") || strings.Contains(got, "not_before") {
		t.Errorf("a recorded entry without NotBefore encodes as %s; want both fields omitted", got)
	}
	if _, err := decodeEntry([]byte(`{"id":"bad"}`)); err == nil {
		t.Error("decodeEntry accepted an id without an objects segment")
	}
	if _, err := decodeEntry([]byte(`{"id":"attachments/org.17/objects/k","phase":"nonsense"}`)); err == nil {
		t.Error("decodeEntry accepted an unknown phase")
	}
}

func TestObjectWrite_TimeoutPolicyWithoutDeadline_InvalidArgument(t *testing.T) {
	_, err := objectWrite(object.Metadata{ExpirationPolicy: object.TTL(time.Hour)}, []byte("x"), goldenNow)
	if err == nil || !strings.Contains(err.Error(), "time_expires") {
		t.Fatalf("objectWrite = %v, want an invalid-argument error about time_expires", err)
	}
}
