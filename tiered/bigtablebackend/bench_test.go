package bigtablebackend

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/stratastore/strata/tiered/object"
)

// The benchmarks compare Strata's small-object path with the bare client on the same bttest
// server, so a script can report strata/raw ratios: raw is one Apply (MutateRow of a 4 KiB
// cell) or one ReadRow; strata is PutNonTombstone (one CheckAndMutateRow with the
// no-tombstone predicate, two cells) or GetTiered (one ReadRow plus parsing).

const (
	benchPayload = 4 << 10
	benchKeys    = 256
)

// benchEnv returns fresh tables, the raw objects table and a Backend on an uninstrumented
// connection.
func benchEnv(b *testing.B) (*bigtable.Table, *Backend, []object.ID) {
	b.Helper()
	e := newEnv(b, kindBttest, envConfig{})
	conn, err := DialEmulator(e.addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	be, err := openOn(context.Background(), conn, e.table, &e.opts)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]object.ID, benchKeys)
	for i := range ids {
		ids[i] = testID(fmt.Sprintf("bench/%04d", i))
	}
	return e.raw, be, ids
}

func BenchmarkSmallPut(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), benchPayload)
	ctx := context.Background()
	b.Run("raw", func(b *testing.B) {
		raw, _, ids := benchEnv(b)
		b.SetBytes(benchPayload)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			m := bigtable.NewMutation()
			m.Set(familyManual, colPayload, floorTS(time.Now()), payload)
			if err := raw.Apply(ctx, ids[i%benchKeys].StoragePath(), m); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("strata", func(b *testing.B) {
		_, be, ids := benchEnv(b)
		md := object.Metadata{ContentType: "application/octet-stream"}
		b.SetBytes(benchPayload)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if ts, err := be.PutNonTombstone(ctx, ids[i%benchKeys], md, payload); err != nil || ts != nil {
				b.Fatal(ts, err)
			}
			i++
		}
	})
}

func BenchmarkSmallGet(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), benchPayload)
	ctx := context.Background()
	setup := func(b *testing.B) (*bigtable.Table, *Backend, []object.ID) {
		raw, be, ids := benchEnv(b)
		for _, id := range ids {
			if _, err := be.PutNonTombstone(ctx, id, object.Metadata{}, payload); err != nil {
				b.Fatal(err)
			}
		}
		return raw, be, ids
	}
	b.Run("raw", func(b *testing.B) {
		raw, _, ids := setup(b)
		b.SetBytes(benchPayload)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r, err := raw.ReadRow(ctx, ids[i%benchKeys].StoragePath())
			if err != nil || len(r) == 0 {
				b.Fatal(r, err)
			}
			i++
		}
	})
	b.Run("strata", func(b *testing.B) {
		_, be, ids := setup(b)
		b.SetBytes(benchPayload)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e, err := be.GetTiered(ctx, ids[i%benchKeys])
			if err != nil || len(e.Payload) != benchPayload {
				b.Fatal(e.Kind, err)
			}
			i++
		}
	})
}
