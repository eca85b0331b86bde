package localbackend

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stratastore/strata/tiered/object"
	bolt "go.etcd.io/bbolt"
)

const benchValue = 4 << 10

// benchParallelism makes RunParallel use 32 goroutines per CPU, enough concurrent writers
// for group commit to show.
const benchParallelism = 32

// openRaw opens a bare bbolt database with one bucket: the floor the benchmarks compare to.
func openRaw(b *testing.B) *bolt.DB {
	b.Helper()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o644, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("b"))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return db
}

func benchKey(i int64) string { return fmt.Sprintf("bench/%012d", i) }

// BenchmarkSmallPut compares a 4 KiB PutNonTombstone with a bare fsynced bbolt Update of the
// same value. The parallel variants show group commit: "raw-parallel" pays one fsync per
// Update, "raw-batch-parallel" uses bbolt's DB.Batch (timer-based grouping), and
// "strata-parallel" uses the committer.
func BenchmarkSmallPut(b *testing.B) {
	val := make([]byte, benchValue)
	rawPut := func(db *bolt.DB, batch bool, i int64) error {
		fn := func(tx *bolt.Tx) error { return tx.Bucket([]byte("b")).Put([]byte(benchKey(i)), val) }
		if batch {
			return db.Batch(fn)
		}
		return db.Update(fn)
	}
	b.Run("raw", func(b *testing.B) {
		db := openRaw(b)
		b.SetBytes(benchValue)
		for i := 0; b.Loop(); i++ {
			if err := rawPut(db, false, int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("strata", func(b *testing.B) {
		hv := openTest(b, nil).HighVolume()
		b.SetBytes(benchValue)
		for i := 0; b.Loop(); i++ {
			if _, err := hv.PutNonTombstone(b.Context(), testID(benchKey(int64(i))), object.Metadata{}, val); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, batch := range []bool{false, true} {
		name := "raw-parallel"
		if batch {
			name = "raw-batch-parallel"
		}
		b.Run(name, func(b *testing.B) {
			db := openRaw(b)
			var n atomic.Int64
			b.SetBytes(benchValue)
			b.SetParallelism(benchParallelism)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := rawPut(db, batch, n.Add(1)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	b.Run("strata-parallel", func(b *testing.B) {
		be := openTest(b, nil)
		hv := be.HighVolume()
		var n atomic.Int64
		b.SetBytes(benchValue)
		b.SetParallelism(benchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := hv.PutNonTombstone(b.Context(), testID(benchKey(n.Add(1))), object.Metadata{}, val); err != nil {
					b.Error(err)
					return
				}
			}
		})
		if c := be.commits.Load(); c > 0 {
			b.ReportMetric(float64(be.grouped.Load())/float64(c), "writes/commit")
		}
	})
}

// BenchmarkSmallGet compares a 4 KiB GetTiered with a bare bbolt View copying the value.
func BenchmarkSmallGet(b *testing.B) {
	const keys = 1024
	val := make([]byte, benchValue)
	rawGet := func(db *bolt.DB, i int64) error {
		return db.View(func(tx *bolt.Tx) error {
			v := tx.Bucket([]byte("b")).Get([]byte(benchKey(i % keys)))
			if len(v) != benchValue {
				return fmt.Errorf("got %d bytes", len(v))
			}
			_ = append([]byte(nil), v...)
			return nil
		})
	}
	setupRaw := func(b *testing.B) *bolt.DB {
		db := openRaw(b)
		if err := db.Update(func(tx *bolt.Tx) error {
			for i := range int64(keys) {
				if err := tx.Bucket([]byte("b")).Put([]byte(benchKey(i)), val); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		return db
	}
	setupStrata := func(b *testing.B) *HighVolume {
		hv := openTest(b, nil).HighVolume()
		// Populate with concurrent writers so that group commit keeps the setup short.
		var wg sync.WaitGroup
		for w := range int64(32) {
			wg.Go(func() {
				for i := w; i < keys; i += 32 {
					if _, err := hv.PutNonTombstone(b.Context(), testID(benchKey(i)), object.Metadata{}, val); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return hv
	}
	strataGet := func(b *testing.B, hv *HighVolume, i int64) error {
		e, err := hv.GetTiered(b.Context(), testID(benchKey(i%keys)))
		if err == nil && len(e.Payload) != benchValue {
			err = fmt.Errorf("got %d bytes", len(e.Payload))
		}
		return err
	}
	b.Run("raw", func(b *testing.B) {
		db := setupRaw(b)
		b.SetBytes(benchValue)
		for i := int64(0); b.Loop(); i++ {
			if err := rawGet(db, i); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("strata", func(b *testing.B) {
		hv := setupStrata(b)
		b.SetBytes(benchValue)
		for i := int64(0); b.Loop(); i++ {
			if err := strataGet(b, hv, i); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-parallel", func(b *testing.B) {
		db := setupRaw(b)
		var n atomic.Int64
		b.SetBytes(benchValue)
		b.SetParallelism(benchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := rawGet(db, n.Add(1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("strata-parallel", func(b *testing.B) {
		hv := setupStrata(b)
		var n atomic.Int64
		b.SetBytes(benchValue)
		b.SetParallelism(benchParallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := strataGet(b, hv, n.Add(1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
