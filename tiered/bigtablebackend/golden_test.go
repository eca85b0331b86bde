package bigtablebackend

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"

	"github.com/stratastore/strata/tiered/backendtest/golden"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// The tests below run one subtest per case of objectstore's golden Bigtable rows
// (tiered/backendtest/golden, bigtable-rows.json), in both directions.

func goldenRows(t *testing.T) []golden.BigtableRow {
	t.Helper()
	rows, err := golden.BigtableRows()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func goldenTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// goldenWrite returns the input of a case objectstore's current writer produced, as the
// write Strata makes for it and the clock to make it at; ok is false for legacy and
// hand-built rows, which Strata must read but never writes.
func goldenWrite(t *testing.T, row golden.BigtableRow) (w driver.Write, at time.Time, ok bool) {
	t.Helper()
	switch {
	case row.Input == nil:
		return w, at, false
	case row.Input.Tombstone != nil:
		in := row.Input.Tombstone
		target, err := object.ParseStoragePath(in.TargetStoragePath)
		if err != nil {
			t.Fatal(err)
		}
		p, err := in.Policy.ExpirationPolicy()
		if err != nil {
			t.Fatal(err)
		}
		w = driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: target, ExpirationPolicy: p}}
		return w, goldenTime(t, in.WrittenAt), true
	default:
		md, err := row.Input.Metadata.Object()
		if err != nil {
			t.Fatal(err)
		}
		at = md.TimeCreated
		if at.IsZero() {
			at = golden.Now
		}
		return driver.Write{Kind: driver.WriteObject, Metadata: md, Payload: row.Input.Payload.Value()}, at, true
	}
}

// checkCells compares written cells with objectstore's: same columns, families and value
// bytes, and for fg the same timestamp (the deadline, whole milliseconds). objectstore lets
// the server stamp fm cells (-1); Strata stamps them itself so that writes stay retryable,
// and every reader ignores fm timestamps.
func checkCells(t *testing.T, got []cellWrite, want []golden.Cell) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d cells, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Family != w.Family || g.Column != w.Qualifier {
			t.Errorf("cell %d is %s:%s, want %s:%s", i, g.Family, g.Column, w.Family, w.Qualifier)
		}
		if !bytes.Equal(g.Value, w.Value()) {
			t.Errorf("cell %s:%s value\n got %q\nwant %q", w.Family, w.Qualifier, g.Value, w.Value())
		}
		if w.ServerTime() {
			if w.Family != familyManual {
				t.Errorf("cell %s:%s: server timestamp outside fm", w.Family, w.Qualifier)
			}
		} else if int64(g.TS) != w.Micros() {
			t.Errorf("cell %s:%s timestamp %d, want %d", w.Family, w.Qualifier, int64(g.TS), w.Micros())
		}
	}
}

// TestGolden_Encoder: the cell encoder writes objectstore's bytes for every row objectstore's
// current writer produced; legacy and hand-built rows are checked to have no input.
func TestGolden_Encoder(t *testing.T) {
	for _, row := range goldenRows(t) {
		t.Run(row.Name, func(t *testing.T) {
			w, at, ok := goldenWrite(t, row)
			if !ok {
				if strings.HasPrefix(row.WrittenBy, "current objectstore") {
					t.Fatalf("a current-writer row without input")
				}
				return // read-only form: TestGolden_Read covers it
			}
			var rw rowWrite
			if w.Kind == driver.WriteTombstone {
				rw = tombstoneWrite(w.Tombstone, at)
			} else {
				var err error
				if rw, err = objectWrite(w.Metadata, w.Payload, at); err != nil {
					t.Fatal(err)
				}
			}
			if !rw.DeleteRow {
				t.Error("the write does not start with DeleteFromRow")
			}
			checkCells(t, rw.Cells, row.Cells)
		})
	}
}

// rawCells returns the cells of a raw row in objectstore's order (p, m or r, t), newest
// version of each column only.
func rawCells(row bigtable.Row) []cellWrite {
	var out []cellWrite
	for fam, items := range row {
		for _, it := range items {
			c := cellWrite{Family: fam, Column: it.Column[len(fam)+1:], TS: it.Timestamp, Value: it.Value}
			dup := false
			for i := range out {
				if out[i].Family == c.Family && out[i].Column == c.Column {
					dup = true
					if c.TS > out[i].TS {
						out[i] = c
					}
				}
			}
			if !dup {
				out = append(out, c)
			}
		}
	}
	order := map[string]int{"p": 0, "r": 0, "m": 1, "t": 1}
	sort.Slice(out, func(i, j int) bool { return order[out[i].Column] < order[out[j].Column] })
	return out
}

// TestGolden_WriteThroughBttest: the Backend's own writes (PutNonTombstone for objects,
// CompareAndWrite for tombstones) leave objectstore's cells in the table.
func TestGolden_WriteThroughBttest(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{clock: true, noGC: true})
	for _, row := range goldenRows(t) {
		t.Run(row.Name, func(t *testing.T) {
			w, at, ok := goldenWrite(t, row)
			if !ok {
				return // read-only form: TestGolden_Read covers it
			}
			id, err := object.ParseStoragePath(row.RowKey)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Set(at)
			if w.Kind == driver.WriteTombstone {
				if ok, err := e.b.CompareAndWrite(t.Context(), id, nil, w); err != nil || !ok {
					t.Fatalf("CompareAndWrite = %v, %v", ok, err)
				}
			} else if ts, err := e.b.PutNonTombstone(t.Context(), id, w.Metadata, w.Payload); err != nil || ts != nil {
				t.Fatalf("PutNonTombstone = %v, %v", ts, err)
			}
			checkCells(t, rawCells(e.rawRow(t, row.RowKey)), row.Cells)
		})
	}
}

// seedGolden writes a fixture row's cells as stored, replacing the row. A server-stamped fm
// cell gets the time the fixture's object was created, as the server would have stamped.
func seedGolden(t *testing.T, e *env, row golden.BigtableRow) {
	t.Helper()
	m := bigtable.NewMutation()
	m.DeleteRow()
	for _, c := range row.Cells {
		ts := bigtable.Timestamp(c.Micros())
		if c.ServerTime() {
			ts = floorTS(golden.Now.Add(-time.Hour))
		}
		m.Set(c.Family, c.Qualifier, ts, c.Value())
	}
	e.rawApply(t, row.RowKey, m)
}

// checkReading compares Strata's reading of a row with objectstore's.
func checkReading(t *testing.T, what string, got driver.Entry, err error, want *golden.Reading, get bool) {
	t.Helper()
	switch want.Kind {
	case "error":
		if err == nil {
			t.Errorf("%s: read %+v, want an error (objectstore: %s)", what, got, want.Error.ServiceError)
		}
		return
	case "notfound":
		if err != nil || got.Kind != driver.EntryNotFound {
			t.Errorf("%s: kind %d, %v; want not found", what, got.Kind, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	switch want.Kind {
	case "object":
		if got.Kind != driver.EntryObject {
			t.Fatalf("%s: kind %d, want an object", what, got.Kind)
		}
		if m := got.Metadata.AppendJSON(nil); string(m) != want.MetadataJSON {
			t.Errorf("%s: metadata\n got %s\nwant %s", what, m, want.MetadataJSON)
		}
		if get && !bytes.Equal(got.Payload, want.Payload.Value()) {
			t.Errorf("%s: payload %q, want %q", what, got.Payload, want.Payload.Value())
		}
	case "tombstone":
		if got.Kind != driver.EntryTombstone {
			t.Fatalf("%s: kind %d, want a tombstone", what, got.Kind)
		}
		ts := got.Tombstone
		if p := ts.Target.StoragePath(); p != want.TargetStoragePath {
			t.Errorf("%s: target %s, want %s", what, p, want.TargetStoragePath)
		}
		if p := ts.ExpirationPolicy.String(); p != want.ExpirationPolicy {
			t.Errorf("%s: policy %s, want %s", what, p, want.ExpirationPolicy)
		}
		if get {
			var deadline time.Time
			if want.CellDeadline != nil {
				deadline = goldenTime(t, *want.CellDeadline)
			}
			if !ts.Expires.Equal(deadline) {
				t.Errorf("%s: deadline %s, want %s", what, ts.Expires, deadline)
			}
		}
	default:
		t.Fatalf("unknown reading kind %q", want.Kind)
	}
}

// TestGolden_Read: every row objectstore may have written (current, legacy and hand-built
// forms) reads in Strata as objectstore reads it at the fixtures' Now, through GET
// (GetTiered) and HEAD (GetTieredMetadata). The row is seeded afresh before each, because a
// due TTI bump rewrites it.
func TestGolden_Read(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{clock: true, noGC: true})
	e.clock.Set(golden.Now)
	for _, row := range goldenRows(t) {
		t.Run(row.Name, func(t *testing.T) {
			id, err := object.ParseStoragePath(row.RowKey)
			if err != nil {
				t.Fatal(err)
			}
			seedGolden(t, e, row)
			got, err := e.b.GetTiered(context.Background(), id)
			checkReading(t, "GET", got, err, &row.Reading, true)
			head := row.Reading.Head
			if head == nil {
				head = &row.Reading // notfound: HEAD is the same
			}
			if head.Kind == "" {
				head.Kind = row.Reading.Kind
			}
			seedGolden(t, e, row)
			got, err = e.b.GetTieredMetadata(context.Background(), id)
			checkReading(t, "HEAD", got, err, head, false)
		})
	}
}

// TestGolden_LegacyTombstonePredicate: Strata's CAS predicate agrees with objectstore's on
// every fixture row (cas_tombstone_filter_matches): a write through PutNonTombstone is
// refused exactly where objectstore's would be.
func TestGolden_LegacyTombstonePredicate(t *testing.T) {
	e := newEnv(t, kindBttest, envConfig{clock: true, noGC: true})
	e.clock.Set(golden.Now)
	for _, row := range goldenRows(t) {
		t.Run(row.Name, func(t *testing.T) {
			want := row.Reading.CASTombstoneFilterMatches
			if want == nil {
				t.Fatal("no cas_tombstone_filter_matches")
			}
			id, err := object.ParseStoragePath(row.RowKey)
			if err != nil {
				t.Fatal(err)
			}
			seedGolden(t, e, row)
			md := object.Metadata{TimeCreated: golden.Now, Size: -1}
			ts, err := e.b.PutNonTombstone(context.Background(), id, md, []byte("x"))
			if err != nil {
				// A row Strata cannot parse (object_corrupt_m) is not a tombstone either.
				t.Logf("PutNonTombstone: %v", err)
			}
			if refused := ts != nil; refused != *want {
				t.Errorf("write refused = %v, objectstore's predicate matches = %v (%s)", refused, *want, fmt.Sprint(ts))
			}
		})
	}
}
