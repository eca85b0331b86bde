package localbackend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

func TestOpen_SecondOpen_DataDirectoryInUse(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(context.Background(), dir, &Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b2, err := Open(context.Background(), dir, &Options{SweepInterval: -1, LockTimeout: 100 * time.Millisecond})
	if err == nil {
		b2.Close()
		t.Fatal("second Open of a locked directory succeeded")
	}
	if !strings.Contains(err.Error(), "data directory") || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("error %q does not say the data directory is in use", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("second Open took %v, want about the lock timeout", d)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b2, err = Open(context.Background(), dir, &Options{SweepInterval: -1})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	b2.Close()
}

func TestOpen_ContextDone_TouchesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b, err := Open(ctx, dir, nil)
	if err == nil {
		b.Close()
		t.Fatal("Open with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v does not match context.Canceled", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open with a cancelled context created the directory (stat: %v)", err)
	}
}

func TestOpen_LockWaitEndsAtContextDeadline(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(context.Background(), dir, &Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	b2, err := Open(ctx, dir, &Options{SweepInterval: -1, LockTimeout: time.Minute})
	if err == nil {
		b2.Close()
		t.Fatal("second Open of a locked directory succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("second Open took %v; the context's deadline (100ms) should end the lock wait", d)
	}
}

func TestBackend_Close_Idempotent_RefusesFurtherWork(t *testing.T) {
	b, err := Open(context.Background(), t.TempDir(), &Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := t.Context()
	if _, err := b.HighVolume().PutNonTombstone(ctx, testID("a"), object.Metadata{}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("PutNonTombstone after Close: %v, want ErrClosed", err)
	}
	if _, err := b.HighVolume().GetTiered(ctx, testID("a")); !errors.Is(err, ErrClosed) {
		t.Errorf("GetTiered after Close: %v, want ErrClosed", err)
	}
	if err := b.LongTerm().Put(ctx, testID("a"), object.Metadata{}, strings.NewReader("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close: %v, want ErrClosed", err)
	}
	if err := b.ChangeLog().Remove(ctx, "x"); !errors.Is(err, ErrClosed) {
		t.Errorf("Remove after Close: %v, want ErrClosed", err)
	}
}

func TestBackend_Reopen_PersistsEverything(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	b, err := Open(context.Background(), dir, &Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 6000000, time.UTC)
	md := object.Metadata{TimeCreated: created, ContentType: "text/x-inline", Size: 6, Custom: map[string]string{"k": "v"}}
	small, tomb, large := testID("small"), testID("large"), testID("large/rev1")
	if _, err := b.HighVolume().PutNonTombstone(ctx, small, md, []byte("inline")); err != nil {
		t.Fatal(err)
	}
	tsWrite := driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: large, ExpirationPolicy: object.TTL(24 * time.Hour)}}
	if ok, err := b.HighVolume().CompareAndWrite(ctx, tomb, nil, tsWrite); err != nil || !ok {
		t.Fatal(ok, err)
	}
	blob := bytes.Repeat([]byte("0123456789abcdef"), 100000)
	putBlob(t, b.LongTerm(), large, object.Metadata{ContentType: "application/x-large", TimeCreated: created}, blob)
	mp := testID("mp/rev1")
	uploadID, err := b.LongTerm().InitiateMultipart(ctx, mp, object.Metadata{ContentType: "application/x-mp"})
	if err != nil {
		t.Fatal(err)
	}
	etag, err := b.LongTerm().UploadPart(ctx, mp, uploadID, 2, 5, strings.NewReader("part2"))
	if err != nil {
		t.Fatal(err)
	}
	entry := driver.LogEntry{ID: "0190aaaa-0000-7000-8000-000000000001", Owner: "proc-1", Heartbeat: created,
		Change: driver.Change{ID: tomb, New: &large, UploadID: uploadID, CleanupAfter: created.Add(time.Hour)}}
	if err := b.ChangeLog().Record(ctx, entry); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, err = Open(context.Background(), dir, &Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e, err := b.HighVolume().GetTiered(ctx, small)
	if err != nil || e.Kind != driver.EntryObject || string(e.Payload) != "inline" ||
		e.Metadata.ContentType != "text/x-inline" || !e.Metadata.TimeCreated.Equal(created) || e.Metadata.Custom["k"] != "v" {
		t.Fatalf("inline row after reopen: %+v, %v", e, err)
	}
	e, err = b.HighVolume().GetTieredMetadata(ctx, tomb)
	if err != nil || e.Kind != driver.EntryTombstone || !e.Tombstone.Target.Equal(large) || e.Tombstone.ExpirationPolicy != object.TTL(24*time.Hour) {
		t.Fatalf("tombstone after reopen: %+v, %v", e, err)
	}
	got, gotMD := readAll(t, b.LongTerm(), large)
	if !bytes.Equal(got, blob) || gotMD.Size != int64(len(blob)) || gotMD.ContentType != "application/x-large" {
		t.Fatalf("blob after reopen: %d bytes, metadata %+v", len(got), gotMD)
	}
	parts, err := b.LongTerm().ListParts(ctx, mp, uploadID, 0, 0)
	if err != nil || len(parts.Parts) != 1 || parts.Parts[0].PartNumber != 2 || parts.Parts[0].ETag != etag || parts.Parts[0].Size != 5 {
		t.Fatalf("parts after reopen: %+v, %v", parts, err)
	}
	entries, err := b.ChangeLog().Entries()
	if err != nil || len(entries) != 1 {
		t.Fatalf("log after reopen: %+v, %v", entries, err)
	}
	g := entries[0]
	if g.ID != entry.ID || g.Owner != "proc-1" || !g.Heartbeat.Equal(created) || !g.Change.ID.Equal(tomb) ||
		g.Change.New == nil || !g.Change.New.Equal(large) || g.Change.Old != nil || g.Change.UploadID != uploadID ||
		!g.Change.CleanupAfter.Equal(created.Add(time.Hour)) {
		t.Fatalf("log entry after reopen: %+v", g)
	}
	if ce, err := b.LongTerm().CompleteMultipart(ctx, mp, uploadID, []object.CompletedPart{{PartNumber: 2, ETag: etag}}); err != nil || ce != nil {
		t.Fatalf("Complete after reopen: %v, %v", ce, err)
	}
	if got, _ := readAll(t, b.LongTerm(), mp); string(got) != "part2" {
		t.Fatalf("completed object %q", got)
	}
}

func TestBackend_GroupCommit_ConcurrentWritesShareCommits(t *testing.T) {
	b := openTest(t, nil)
	hv := b.HighVolume()
	ctx := t.Context()
	const writers, perWriter = 64, 20

	// Hold the first commit until every other writer has queued, so the next commit must
	// carry all of them: grouping is then certain, not a matter of timing.
	var once sync.Once
	firstGroup := 0
	hold := func(n int) {
		once.Do(func() {
			firstGroup = n
			deadline := time.Now().Add(10 * time.Second)
			for len(b.reqs) < writers-n && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		})
	}
	b.beforeCommit.Store(&hold)

	payload := bytes.Repeat([]byte{'x'}, 4096)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				id := testID(fmt.Sprintf("w%02d/%03d", w, i))
				p := append([]byte(id.Key), payload...)
				if ts, err := hv.PutNonTombstone(ctx, id, object.Metadata{Size: int64(len(p))}, p); err != nil || ts != nil {
					errs <- fmt.Errorf("put %s: %v, %v", id.Key, ts, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	writes := int64(writers * perWriter)
	if g := b.grouped.Load(); g != writes {
		t.Fatalf("committer carried %d writes, want %d", g, writes)
	}
	// Every writer not in the first group was queued behind it, so the second commit
	// carried all of them.
	if lg := b.largestGroup.Load(); lg < int64(writers-firstGroup) || lg < writers/2 {
		t.Fatalf("largest group %d (first group %d), want at least %d", lg, firstGroup, max(writers-firstGroup, writers/2))
	}
	if c := b.commits.Load(); c >= writes {
		t.Fatalf("%d commits for %d writes: no group commit", c, writes)
	}
	t.Logf("%d writes in %d commits (largest group %d)", writes, b.commits.Load(), b.largestGroup.Load())
	for w := range writers {
		for i := range perWriter {
			id := testID(fmt.Sprintf("w%02d/%03d", w, i))
			e, err := hv.GetTiered(ctx, id)
			if err != nil || e.Kind != driver.EntryObject || !bytes.HasPrefix(e.Payload, []byte(id.Key)) || len(e.Payload) != len(id.Key)+4096 {
				t.Fatalf("read back %s: kind %v, %d bytes, %v", id.Key, e.Kind, len(e.Payload), err)
			}
		}
	}
}

func TestBackend_GroupCommit_FailingWriteDoesNotFailOthers(t *testing.T) {
	b := openTest(t, nil)
	ctx := t.Context()
	// Corrupt one row so that writes to it fail inside the transaction.
	bad := testID("bad")
	if err := b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketRows)).Put([]byte(bad.StoragePath()), []byte{9, 9})
	}); err != nil {
		t.Fatal(err)
	}
	// Hold the first commit (good/0 alone) until the other eight writes, the corrupt one
	// among them, are queued: they then share the second transaction, which fails.
	var once sync.Once
	entered := make(chan struct{})
	hold := func(int) {
		once.Do(func() {
			close(entered)
			deadline := time.Now().Add(10 * time.Second)
			for len(b.reqs) < 8 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		})
	}
	b.beforeCommit.Store(&hold)
	results := make([]error, 9)
	put := func(i int, wg *sync.WaitGroup) {
		defer wg.Done()
		id := testID(fmt.Sprintf("good/%d", i))
		if i == 8 {
			id = bad
		}
		_, results[i] = b.HighVolume().PutNonTombstone(ctx, id, object.Metadata{}, []byte("v"))
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go put(0, &wg)
	<-entered
	for i := 1; i < 9; i++ {
		wg.Add(1)
		go put(i, &wg)
	}
	wg.Wait()
	if lg := b.largestGroup.Load(); lg != 8 {
		t.Fatalf("largest group %d, want 8", lg)
	}
	if !errors.Is(results[8], errCorrupt) {
		t.Fatalf("write to the corrupt row: %v, want errCorrupt", results[8])
	}
	for i := range 8 {
		if results[i] != nil {
			t.Fatalf("write %d failed with its group: %v", i, results[i])
		}
		if e, err := b.HighVolume().GetTiered(ctx, testID(fmt.Sprintf("good/%d", i))); err != nil || e.Kind != driver.EntryObject {
			t.Fatalf("write %d not applied: %+v, %v", i, e, err)
		}
	}
}

func TestBackend_Sweep_RemovesExpiredRowsAndBlobs(t *testing.T) {
	clk := newClock()
	b := openTest(t, &Options{Now: clk.Now, SweepBatch: 3})
	hv, lt := b.HighVolume(), b.LongTerm()
	ctx := t.Context()
	ttl := func(d time.Duration) object.Metadata {
		return object.Metadata{ExpirationPolicy: object.TTL(d), TimeExpires: clk.Now().Add(d)}
	}
	for i := range 7 {
		if _, err := hv.PutNonTombstone(ctx, testID(fmt.Sprintf("short/%d", i)), ttl(time.Minute), []byte("s")); err != nil {
			t.Fatal(err)
		}
		putBlob(t, lt, testID(fmt.Sprintf("short/blob%d", i)), ttl(time.Minute), []byte("blob"))
	}
	if ok, err := hv.CompareAndWrite(ctx, testID("short/tomb"), nil, driver.Write{Kind: driver.WriteTombstone,
		Tombstone: driver.Tombstone{Target: testID("short/blob0"), ExpirationPolicy: object.TTL(time.Minute)}}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := hv.PutNonTombstone(ctx, testID("long"), ttl(time.Hour), []byte("l")); err != nil {
		t.Fatal(err)
	}
	if _, err := hv.PutNonTombstone(ctx, testID("manual"), object.Metadata{}, []byte("m")); err != nil {
		t.Fatal(err)
	}
	putBlob(t, lt, testID("long/blob"), ttl(time.Hour), []byte("blob"))
	// A row that expired and was then rewritten must survive its stale deadline.
	if _, err := hv.PutNonTombstone(ctx, testID("rewritten"), ttl(time.Minute), []byte("old")); err != nil {
		t.Fatal(err)
	}

	if st, err := b.Sweep(ctx); err != nil || st.Rows != 0 || st.Blobs != 0 {
		t.Fatalf("Sweep before expiry: %+v, %v", st, err)
	}
	clk.Add(2 * time.Minute)
	if _, err := hv.PutNonTombstone(ctx, testID("rewritten"), object.Metadata{}, []byte("new")); err != nil {
		t.Fatal(err)
	}
	st, err := b.Sweep(ctx)
	if err != nil || st.Rows != 8 || st.Blobs != 7 {
		t.Fatalf("Sweep: %+v, %v; want 8 rows, 7 blobs", st, err)
	}
	rows, index := rawCounts(t, b)
	if rows != 3 || index != 1 {
		t.Fatalf("after sweep: %d rows, %d index entries; want 3 (long, manual, rewritten), 1", rows, index)
	}
	keys, err := lt.Keys()
	if err != nil || len(keys) != 1 || keys[0] != testID("long/blob").StoragePath() {
		t.Fatalf("blobs after sweep: %v, %v", keys, err)
	}
	if e, err := hv.GetTiered(ctx, testID("rewritten")); err != nil || string(e.Payload) != "new" {
		t.Fatalf("rewritten row: %+v, %v", e, err)
	}
}

func TestBackend_Sweeper_RunsInBackground(t *testing.T) {
	clk := newClock()
	b := openTest(t, &Options{Now: clk.Now, SweepInterval: 10 * time.Millisecond})
	ctx := t.Context()
	md := object.Metadata{ExpirationPolicy: object.TTL(time.Minute), TimeExpires: clk.Now().Add(time.Minute)}
	if _, err := b.HighVolume().PutNonTombstone(ctx, testID("r"), md, []byte("x")); err != nil {
		t.Fatal(err)
	}
	putBlob(t, b.LongTerm(), testID("b"), md, []byte("x"))
	time.Sleep(50 * time.Millisecond)
	if rows, _ := rawCounts(t, b); rows != 1 {
		t.Fatalf("sweeper removed a live row")
	}
	clk.Add(time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows, index := rawCounts(t, b)
		keys, err := b.LongTerm().Keys()
		if err != nil {
			t.Fatal(err)
		}
		if rows == 0 && index == 0 && len(keys) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sweeper did not remove expired data: %d rows, %d index entries, blobs %v", rows, index, keys)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOpen_RemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(context.Background(), dir, &Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	for _, name := range []string{"put-123", "part-9"} {
		if err := os.WriteFile(filepath.Join(dir, tmpDir, name), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, tmpDir, "upload-1", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err = Open(context.Background(), dir, &Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if names := tmpFiles(t, dir); len(names) != 0 {
		t.Fatalf("tmp/ after Open: %v", names)
	}
}

func TestBackend_Sweep_RemovesAbandonedUploads(t *testing.T) {
	clk := newClock()
	b := openTest(t, &Options{Now: clk.Now})
	lt := b.LongTerm()
	ctx := t.Context()
	old, err := lt.InitiateMultipart(ctx, testID("old"), object.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lt.UploadPart(ctx, testID("old"), old, 1, 4, strings.NewReader("part")); err != nil {
		t.Fatal(err)
	}
	// Upload ids carry their creation time on the backend's clock: move it past the
	// lifetime, then start a fresh upload as of that time.
	clk.Add(UploadLifetime + time.Hour)
	if st, err := b.Sweep(ctx); err != nil || st.Uploads != 1 {
		t.Fatalf("Sweep: %+v, %v; want 1 upload removed", st, err)
	}
	fresh, err := lt.InitiateMultipart(ctx, testID("fresh"), object.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := b.Sweep(ctx); err != nil || st.Uploads != 0 {
		t.Fatalf("second Sweep: %+v, %v", st, err)
	}
	if ids, err := lt.Uploads(); err != nil || len(ids) != 1 || ids[0] != fresh {
		t.Fatalf("uploads after sweep: %v, %v", ids, err)
	}
	if _, err := lt.ListParts(ctx, testID("old"), old, 0, 0); !errors.Is(err, object.ErrNotFound) {
		t.Fatalf("swept upload still listed: %v", err)
	}
}
