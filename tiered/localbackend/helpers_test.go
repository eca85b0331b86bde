package localbackend

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/object"
	bolt "go.etcd.io/bbolt"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testID(key string) object.ID {
	return object.NewID("testing", []object.Scope{{Name: "org", Value: "1"}}, key)
}

func ptr[T any](v T) *T { return &v }

// readAll reads a long-term object fully.
func readAll(t testing.TB, l *LongTerm, id object.ID) ([]byte, object.Metadata) {
	t.Helper()
	o, err := l.Get(t.Context(), id, nil)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	defer o.Body.Close()
	b, err := io.ReadAll(o.Body)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return b, o.Metadata
}

// putBlob stores payload as a long-term object.
func putBlob(t testing.TB, l *LongTerm, id object.ID, md object.Metadata, payload []byte) {
	t.Helper()
	if err := l.Put(t.Context(), id, md, bytes.NewReader(payload)); err != nil {
		t.Fatalf("Put %s: %v", id, err)
	}
}

// tmpFiles lists what is in the backend's tmp/ directory.
func tmpFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, tmpDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// rawCounts counts the stored rows (expired or not) and expiry index entries.
func rawCounts(t testing.TB, b *Backend) (rows, index int) {
	t.Helper()
	err := b.view(func(tx *bolt.Tx) error {
		rows = tx.Bucket([]byte(bucketRows)).Stats().KeyN
		index = tx.Bucket([]byte(bucketRowExp)).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows, index
}
