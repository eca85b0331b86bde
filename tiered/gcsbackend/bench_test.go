package gcsbackend

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stratastore/strata/tiered/object"
)

const benchSize = 8 << 20

// BenchmarkLargePut compares an 8 MiB Put with a bare storage.Writer upload of the same bytes
// and chunk size, against the in-process fake. The ratio strata/raw is the backend's overhead
// (metadata mapping, byte counting); the fake's own cost dominates both.
func BenchmarkLargePut(b *testing.B) {
	data := payload(benchSize, 1)
	f := newFake(b)
	be := f.backend(b, Options{})
	id := testID("bench/put")
	b.Run("raw", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			w := f.client.Bucket(testBucket).Object(id.StoragePath()).NewWriter(context.Background())
			w.ChunkSize = DefaultChunkSize
			if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("strata", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			if err := be.Put(context.Background(), id, object.Metadata{ContentType: "application/x-bench"}, bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLargeGet compares an 8 MiB Get (attrs + media) with a bare storage.Reader (media
// only) against the in-process fake.
func BenchmarkLargeGet(b *testing.B) {
	f := newFake(b)
	be := f.backend(b, Options{})
	id := testID("bench/get")
	mustPut(b, be, id, object.Metadata{}, payload(benchSize, 2))
	b.Run("raw", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			r, err := f.client.Bucket(testBucket).Object(id.StoragePath()).NewReader(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, r); err != nil || n != benchSize {
				b.Fatal(n, err)
			}
			r.Close()
		}
	})
	b.Run("strata", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			o, err := be.Get(context.Background(), id, nil)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, o.Body); err != nil || n != benchSize {
				b.Fatal(n, err)
			}
			o.Body.Close()
		}
	})
}
