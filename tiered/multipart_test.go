package tiered_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/tieredtest"
)

func initiate(t *testing.T, s *tiered.Store, oid object.ID, md object.Metadata) string {
	t.Helper()
	u, err := s.InitiateMultipart(context.Background(), oid, md)
	if err != nil {
		t.Fatalf("initiate: %v", err)
	}
	return u
}

func upload(t *testing.T, s *tiered.Store, oid object.ID, u string, n int, p []byte) object.CompletedPart {
	t.Helper()
	etag, err := s.UploadPart(context.Background(), oid, u, n, int64(len(p)), bytes.NewReader(p))
	if err != nil {
		t.Fatalf("upload part %d: %v", n, err)
	}
	return object.CompletedPart{PartNumber: n, ETag: etag}
}

func complete(t *testing.T, s *tiered.Store, oid object.ID, u string, parts ...object.CompletedPart) {
	t.Helper()
	ce, err := s.CompleteMultipart(context.Background(), oid, u, parts)
	if err != nil || ce != nil {
		t.Fatalf("complete: %v %v", ce, err)
	}
}

// physical returns the revision an upload id writes.
func physical(t *testing.T, oid object.ID, u string) object.ID {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(u)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Revision string `json:"revision"`
		UploadID string `json:"upload_id"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil || tok.UploadID == "" {
		t.Fatalf("upload id %q is not objectstore's token form: %v", u, err)
	}
	return object.ID{Context: oid.Context, Key: tok.Revision}
}

func TestMultipart_SinglePart_RoundTrip(t *testing.T) {
	e := newEnv(t)
	md := object.Metadata{ContentType: "application/octet-stream", ExpirationPolicy: object.TTL(time.Hour), TimeExpires: time.Now().Add(time.Hour)}
	u := initiate(t, e.s, id("mp"), md)
	complete(t, e.s, id("mp"), u, upload(t, e.s, id("mp"), u, 1, large))
	if got := read(t, e.s, id("mp")); !bytes.Equal(got, large) {
		t.Fatal("payload differs")
	}
	ts := tombstone(t, e, id("mp"))
	if !ts.Target.Equal(physical(t, id("mp"), u)) || !strings.HasPrefix(ts.Target.Key, "mp/") {
		t.Fatalf("tombstone target %s", ts.Target)
	}
	if ts.ExpirationPolicy != md.ExpirationPolicy {
		t.Fatalf("tombstone policy %v, want the initiate-time %v", ts.ExpirationPolicy, md.ExpirationPolicy)
	}
	hmd, err := e.s.Head(context.Background(), id("mp"))
	if err != nil || hmd.ContentType != "application/octet-stream" {
		t.Fatal(hmd, err)
	}
	e.join(t)
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

func TestMultipart_OutOfOrderParts_AssembledByNumber(t *testing.T) {
	e := newEnv(t)
	u := initiate(t, e.s, id("mp"), object.Metadata{})
	p1, p2, p3 := bytes.Repeat([]byte{0xAA}, 512<<10), bytes.Repeat([]byte{0xBB}, 512<<10), bytes.Repeat([]byte{0xCC}, 512<<10)
	c3 := upload(t, e.s, id("mp"), u, 3, p3)
	c2 := upload(t, e.s, id("mp"), u, 2, p2)
	c1 := upload(t, e.s, id("mp"), u, 1, p1)
	complete(t, e.s, id("mp"), u, c1, c2, c3)
	if got := read(t, e.s, id("mp")); !bytes.Equal(got, append(append(p1, p2...), p3...)) {
		t.Fatal("parts assembled out of order")
	}
}

func TestMultipart_Abort_LeavesNothing(t *testing.T) {
	e := newEnv(t)
	u := initiate(t, e.s, id("mp"), object.Metadata{})
	upload(t, e.s, id("mp"), u, 1, []byte("part"))
	if err := e.s.AbortMultipart(context.Background(), id("mp"), u); err != nil {
		t.Fatal(err)
	}
	if err := e.s.AbortMultipart(context.Background(), id("mp"), u); err != nil {
		t.Fatalf("second abort: %v", err)
	}
	expectKind(t, e, id("mp"), driver.EntryNotFound)
	if _, err := e.s.Get(context.Background(), id("mp"), nil); !errors.Is(err, object.ErrNotFound) {
		t.Fatal(err)
	}
	if e.lt.Uploads() != 0 || e.lt.Len() != 0 {
		t.Fatalf("uploads %d, objects %v", e.lt.Uploads(), e.lt.Keys())
	}
}

func TestMultipart_ListParts(t *testing.T) {
	e := newEnv(t)
	u := initiate(t, e.s, id("mp"), object.Metadata{})
	upload(t, e.s, id("mp"), u, 1, make([]byte, 100))
	upload(t, e.s, id("mp"), u, 2, make([]byte, 200))
	l, err := e.s.ListParts(context.Background(), id("mp"), u, 0, 0)
	if err != nil || len(l.Parts) != 2 || l.Parts[0].PartNumber != 1 || l.Parts[0].Size != 100 || l.Parts[1].PartNumber != 2 || l.Parts[1].Size != 200 {
		t.Fatalf("list = %+v, %v", l, err)
	}
	l, err = e.s.ListParts(context.Background(), id("mp"), u, 1, 0)
	if err != nil || len(l.Parts) != 1 || !l.IsTruncated || l.NextPartNumberMarker != 1 {
		t.Fatalf("page = %+v, %v", l, err)
	}
}

func TestMultipart_OverwritesExistingTombstoneOnlyAtComplete(t *testing.T) {
	e := newEnv(t)
	put(t, e.s, id("mp"), object.Metadata{}, large)
	old := tombstone(t, e, id("mp")).Target
	u := initiate(t, e.s, id("mp"), object.Metadata{})
	c := upload(t, e.s, id("mp"), u, 1, large2)
	if got := tombstone(t, e, id("mp")).Target; !got.Equal(old) {
		t.Fatal("tombstone changed before complete")
	}
	complete(t, e.s, id("mp"), u, c)
	if got := tombstone(t, e, id("mp")).Target; got.Equal(old) {
		t.Fatal("tombstone did not change at complete")
	}
	e.join(t)
	if hasLT(e, old) {
		t.Fatal("old revision not cleaned up")
	}
	if got := read(t, e.s, id("mp")); !bytes.Equal(got, large2) {
		t.Fatal("payload differs")
	}
}

func TestMultipart_CompleteError_ReturnedAndUploadSurvives(t *testing.T) {
	e := newEnv(t)
	u := initiate(t, e.s, id("mp"), object.Metadata{})
	c := upload(t, e.s, id("mp"), u, 1, []byte("data"))
	for _, parts := range [][]object.CompletedPart{
		{{PartNumber: 1, ETag: "wrong"}},
		{c, {PartNumber: 2, ETag: c.ETag}},
		nil,
	} {
		ce, err := e.s.CompleteMultipart(context.Background(), id("mp"), u, parts)
		if err != nil || ce == nil {
			t.Fatalf("complete %v: %v %v", parts, ce, err)
		}
	}
	complete(t, e.s, id("mp"), u, c)
	if got := read(t, e.s, id("mp")); string(got) != "data" {
		t.Fatalf("got %q", got)
	}
	e.join(t)
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

func TestMultipart_ForeignUploadID_Rejected(t *testing.T) {
	e := newEnv(t)
	u := initiate(t, e.s, id("theirs"), object.Metadata{})
	upload(t, e.s, id("theirs"), u, 1, []byte("x"))
	ctx := context.Background()
	if _, err := e.s.UploadPart(ctx, id("mine"), u, 1, 1, strings.NewReader("y")); !errors.Is(err, object.ErrInvalidArgument) {
		t.Fatalf("upload with a foreign id: %v", err)
	}
	if _, err := e.s.CompleteMultipart(ctx, id("mine"), u, nil); !errors.Is(err, object.ErrInvalidArgument) {
		t.Fatalf("complete with a foreign id: %v", err)
	}
	if err := e.s.AbortMultipart(ctx, id("mine"), "garbage"); !errors.Is(err, object.ErrInvalidArgument) {
		t.Fatalf("abort with garbage: %v", err)
	}
	if _, err := e.s.UploadPart(ctx, id("theirs"), u, 0, 1, strings.NewReader("y")); !errors.Is(err, object.ErrInvalidArgument) {
		t.Fatalf("part 0: %v", err)
	}
	if _, err := e.s.UploadPart(ctx, id("theirs"), u, 1, object.MaxPartSize+1, strings.NewReader("y")); !errors.Is(err, object.ErrTooLarge) {
		t.Fatalf("oversized part: %v", err)
	}
}

// TestMultipart_FailedComplete_RecoveryDeletesOrphanAfterDelay: the long-term backend
// assembles the object but reports an error, and the metadata read fails too, so the
// complete fails. Nothing is cleaned up at once (the client may retry); once the deferral
// has passed, recovery deletes the orphaned revision and the log entry.
func TestMultipart_FailedComplete_RecoveryDeletesOrphanAfterDelay(t *testing.T) {
	e := newEnv(t)
	u := initiate(t, e.s, id("mp"), object.Metadata{})
	c := upload(t, e.s, id("mp"), u, 1, large)
	e.hlt.Add(backendtest.FailAfter(backendtest.OpComplete, 0))
	e.hlt.Add(backendtest.FailOn(backendtest.OpHead, 0))
	if _, err := e.s.CompleteMultipart(context.Background(), id("mp"), u, []object.CompletedPart{c}); err == nil {
		t.Fatal("complete must fail")
	}
	e.join(t)
	rev := physical(t, id("mp"), u)
	if !hasLT(e, rev) {
		t.Fatal("assembled revision deleted before the deferral")
	}
	expectKind(t, e, id("mp"), driver.EntryNotFound)

	e.hlt.Reset()
	s2 := e.store(t, nil)
	if r, err := s2.Recover(context.Background(), 0); err != nil || r.Claimed != 0 {
		t.Fatalf("recovered before the deferral: %+v %v", r, err)
	}
	// Past the deferral, recovery aborts the upload and deletes the assembled revision (after
	// the time an assembly still in flight may take to land).
	if n := tieredtest.RecoverAll(t, tieredtest.Backends{HV: e.hv, LT: e.lt, Log: e.log, Objects: memObjects(e.lt)}); n == 0 {
		t.Fatal("recovery claimed nothing")
	}
	if e.lt.Len() != 0 || e.lt.Uploads() != 0 {
		t.Fatalf("left: objects %v uploads %d", e.lt.Keys(), e.lt.Uploads())
	}
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

func TestMultipart_CompleteRetry_SucceedsAndRecoveryKeepsObject(t *testing.T) {
	for _, fault := range []struct {
		name string
		hook backendtest.Hook
		// retryClears: the retry runs the whole complete again and takes over the failed
		// attempt's log entry, so nothing is left for recovery. After a lost commit
		// response the retry only sees the committed tombstone; the entry waits.
		retryClears bool
	}{
		{"complete fails once", backendtest.FailOn(backendtest.OpComplete, 1), true},
		{"head fails once", backendtest.FailOn(backendtest.OpHead, 1), true},
		{"commit response lost", backendtest.FailAfter(backendtest.OpCompareAndWrite, 1), false},
	} {
		t.Run(fault.name, func(t *testing.T) {
			e := newEnv(t)
			u := initiate(t, e.s, id("mp"), object.Metadata{})
			c := upload(t, e.s, id("mp"), u, 1, large)
			e.resetCounts()
			e.hlt.Add(fault.hook)
			e.hhv.Add(fault.hook)
			if _, err := e.s.CompleteMultipart(context.Background(), id("mp"), u, []object.CompletedPart{c}); err == nil {
				t.Fatal("first complete must fail")
			}
			complete(t, e.s, id("mp"), u, c)
			e.join(t)
			if got := read(t, e.s, id("mp")); !bytes.Equal(got, large) {
				t.Fatal("payload differs")
			}
			if n := len(e.log.Entries()); fault.retryClears && n != 0 {
				t.Fatalf("%d change-log entries left after a successful retry", n)
			}
			e.now.Advance(tiered.MultipartCompleteCleanupDelay + time.Minute)
			s2 := e.store(t, nil)
			if _, err := s2.Recover(context.Background(), 0); err != nil {
				t.Fatal(err)
			}
			if err := s2.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			rev := physical(t, id("mp"), u)
			if got := tombstone(t, e, id("mp")).Target; !got.Equal(rev) || !hasLT(e, rev) {
				t.Fatalf("recovery broke the completed object: target %s, lt %v", got, e.lt.Keys())
			}
			if got := read(t, e.s, id("mp")); !bytes.Equal(got, large) {
				t.Fatal("payload differs after recovery")
			}
			tieredtest.CheckEmptyLog(t, e.log, time.Now())
		})
	}
}

func TestMultipart_CASConflict_DeletesAssembledRevision(t *testing.T) {
	e := newEnv(t)
	u := initiate(t, e.s, id("mp"), object.Metadata{})
	c := upload(t, e.s, id("mp"), u, 1, large)
	e.hhv.Add(backendtest.LoseRace(0))
	complete(t, e.s, id("mp"), u, c)
	e.join(t)
	if e.lt.Len() != 0 {
		t.Fatalf("assembled revision kept after a lost race: %v", e.lt.Keys())
	}
	tieredtest.CheckEmptyLog(t, e.log, time.Now())
}

// TestMultipart_RetriedCompleteAfterOverwrite_DoesNotCommitAgain (bug 3): a complete
// commits, a later put replaces it (its cleanup of the upload's revision still waiting out
// the grace period), then the client retries the complete. The retry must report success
// without committing the revision again: a second commit would bring back a revision the
// put's cleanup is about to delete (a dangling tombstone) and would delete the put's value
// as its own Old. Both with the complete's entry still waiting for cleanup, and after it
// was cleaned up.
func TestMultipart_RetriedCompleteAfterOverwrite_DoesNotCommitAgain(t *testing.T) {
	for _, cleanedFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "entry pending", true: "entry cleaned"}[cleanedFirst], func(t *testing.T) {
			e := newEnv(t)
			var tasks []tiered.CleanupTask
			s := e.store(t, &tiered.Options{Dispatcher: &recordDispatcher{tasks: &tasks}})
			u := initiate(t, s, id("mp"), object.Metadata{})
			c := upload(t, s, id("mp"), u, 1, large)
			complete(t, s, id("mp"), u, c)
			put(t, s, id("mp"), object.Metadata{}, large2) // replaces the upload's revision
			run := func() {
				for _, task := range tasks {
					if err := s.Cleanup(context.Background(), task); err != nil {
						t.Fatal(err)
					}
				}
				tasks = tasks[:0]
			}
			if cleanedFirst {
				run()
			}
			// The retry: success, or, once the revision is gone, not found; never a commit.
			if ce, err := s.CompleteMultipart(context.Background(), id("mp"), u, []object.CompletedPart{c}); ce != nil || (err != nil && !(cleanedFirst && errors.Is(err, object.ErrNotFound))) {
				t.Fatalf("retried complete: %v %v", ce, err)
			}
			run() // the delayed cleanups run now
			if got := read(t, s, id("mp")); !bytes.Equal(got, large2) {
				t.Fatal("the retried complete replaced the later put")
			}
			tieredtest.CheckNoOrphans(t, tieredtest.Backends{HV: e.hv, LT: e.lt, Log: e.log, Objects: memObjects(e.lt)}, []object.ID{id("mp")})
			tieredtest.CheckEmptyLog(t, e.log, time.Now())
		})
	}
}
