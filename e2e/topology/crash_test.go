package topology

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/tiered"
)

// contentRange matches a resumable-upload chunk's Content-Range: "bytes a-b/total", total
// "*" while the length is unknown.
var contentRange = regexp.MustCompile(`^bytes (\d+)-(\d+)/(\d+|\*)$`)

// chunk classifies a fake-GCS request as a resumable chunk: ok, and final when it carries
// the object's last byte (the request that creates the object).
func chunk(r *http.Request) (ok, final bool) {
	if (r.Method != http.MethodPut && r.Method != http.MethodPost) || !strings.HasPrefix(r.URL.Path, "/upload/storage/v1/b/"+bucket+"/") || !r.URL.Query().Has("upload_id") {
		return false, false
	}
	m := contentRange.FindStringSubmatch(r.Header.Get("Content-Range"))
	if m == nil {
		return false, false
	}
	if m[3] == "*" {
		return true, false
	}
	end, _ := strconv.ParseInt(m[2], 10, 64)
	total, _ := strconv.ParseInt(m[3], 10, 64)
	return true, end+1 == total
}

// stallingReader yields n bytes of data, then blocks until release is closed, then fails.
type stallingReader struct {
	data    []byte
	n       int
	release chan struct{}
}

func (s *stallingReader) Read(p []byte) (int, error) {
	if s.n == 0 {
		<-s.release
		return 0, io.ErrUnexpectedEOF
	}
	k := copy(p[:min(len(p), s.n)], s.data)
	s.data, s.n = s.data[k:], s.n-k
	return k, nil
}

// TestCrash_KillFunctionMidUpload_RecoverLeavesNoOrphan kills the object-put process twice
// with SIGKILL through the front door, at two points made deterministic by holding fake
// GCS:
//
//   - "during": a fresh key's large PUT whose body stalls after 18 of 20 MiB (the GCS client sends an 8 MiB chunk once it holds the next), killed once
//     the revision's resumable upload has received its first chunk: the revision is under
//     upload, the change log holds a Recorded entry, no object exists yet;
//   - "after": an overwrite of an existing large object, killed while fake GCS holds the
//     response to the final chunk, i.e. after the new revision exists but before the row's
//     compare-and-write: an orphan blob plus a change-log entry, the old object still live.
//
// The process is restarted; the test then shows the damage (a log entry per kill, the blob
// not referenced by any row), invokes the recover function directly as Cloud Scheduler
// would until the entries have gone stale (tiered.DefaultStaleAfter, 30 s of real time: no
// knob exists) and been claimed, and waits for the cleanup pushed by Pub/Sub: the log ends
// empty, the bucket holds only the live revision, and the old object is intact.
func TestCrash_KillFunctionMidUpload_RecoverLeavesNoOrphan(t *testing.T) {
	ctx := context.Background()
	sc := scope(t)
	// One attempt: a retried PUT could reach the restarted process and hide the crash.
	s := topo.sdk(t, client.WithCompression(false), client.WithRetries(1, 0, 0)).Usecase(usecase).Scope("run", sc)
	old := payload(3<<20 + 1)
	if _, err := s.Put(ctx, "after", bytes.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	topo.waitSettled(t, sc, []string{"after"}, 30*time.Second)
	oldRevision := topo.liveRevisions(t, sc, []string{"after"})[0]
	defer topo.gcsHook.Store(nil)

	// 1. Killed while the revision is under upload.
	uploading := make(chan struct{})
	var once1 bool
	hook1 := func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		next.ServeHTTP(w, r)
		if ok, final := chunk(r); ok && !final && !once1 {
			once1 = true
			close(uploading)
		}
	}
	topo.gcsHook.Store(&hook1)
	release := make(chan struct{})
	hold := make(chan struct{})
	var closeOnce1, closeOnce2 sync.Once
	defer closeOnce1.Do(func() { close(release) })
	defer closeOnce2.Do(func() { close(hold) })
	const size = 20<<20 + 5
	putErr := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, "during", &stallingReader{data: payload(18 << 20), n: 18 << 20, release: release}, client.Size(size))
		putErr <- err
	}()
	select {
	case <-uploading:
	case err := <-putErr:
		t.Fatalf("the stalled PUT ended before its first chunk reached GCS: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the revision's first chunk never reached GCS")
	}
	topo.fns["object-put"].current().kill()
	closeOnce1.Do(func() { close(release) })
	if err := <-putErr; err == nil {
		t.Fatal("the PUT whose function was killed succeeded")
	} else {
		t.Logf("killed during the upload; the client saw: %v", err)
	}
	topo.gcsHook.Store(nil)
	topo.restartFunction(t, "object-put")

	// 2. Killed after the revision's last chunk was stored, before the compare-and-write.
	stored := make(chan struct{})
	var once2 bool
	hook2 := func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		ok, final := chunk(r)
		if !ok || !final || once2 {
			next.ServeHTTP(w, r)
			return
		}
		once2 = true
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		close(stored)
		select {
		case <-hold:
		case <-r.Context().Done():
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}
	topo.gcsHook.Store(&hook2)
	go func() {
		_, err := s.Put(ctx, "after", bytes.NewReader(payload(size)))
		putErr <- err
	}()
	select {
	case <-stored:
	case err := <-putErr:
		t.Fatalf("the overwrite ended before its revision was stored: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the overwrite's final chunk never reached GCS")
	}
	if objs := topo.bucketObjects(t, sc); len(objs) != 2 {
		t.Fatalf("with the final chunk stored, the bucket holds %v, want the old and the new revision", sortedKeys(objs))
	}
	topo.fns["object-put"].current().kill()
	closeOnce2.Do(func() { close(hold) })
	if err := <-putErr; err == nil {
		t.Fatal("the overwrite whose function was killed succeeded")
	}
	topo.gcsHook.Store(nil)
	topo.restartFunction(t, "object-put")

	// The damage: one change-log entry per kill and an unreferenced blob.
	keys := []string{"after", "during"}
	if n := topo.changeLogRows(t, sc); n != 2 {
		t.Errorf("after two kills the change log holds %d entries, want 2", n)
	}
	objs := topo.bucketObjects(t, sc)
	if live := topo.liveRevisions(t, sc, keys); len(live) != 1 || live[0] != oldRevision || len(objs) != 2 {
		t.Errorf("before recovery: live %v (want %s), bucket %v (want it plus the orphan)", live, oldRevision, sortedKeys(objs))
	}
	got, err := getAll(ctx, s, "after")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "the overwritten object before recovery", got, old)
	if _, err := s.Head(ctx, "during"); !client.IsNotFound(err) {
		t.Errorf("the killed fresh put: %v, want 404", err)
	}

	// Recovery, as Scheduler runs it: POST to the recover function's own URL.
	killedAt := time.Now()
	claimed := 0
	var last string
	waitFor(t, tiered.DefaultStaleAfter+60*time.Second, 2*time.Second, "recovery claims both entries", func() bool {
		rep, body := recoverOnce(t)
		claimed += rep.Claimed
		last = body
		return claimed >= 2
	}, func() string { return fmt.Sprintf("claimed %d; last report %s", claimed, last) })
	t.Logf("recovery claimed %d entries %v after the kills", claimed, time.Since(killedAt).Round(time.Second))
	topo.waitSettled(t, sc, keys, 60*time.Second)
	got, err = getAll(ctx, s, "after")
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "the overwritten object after recovery", got, old)
	// Both recovered entries were cleaned by the cleanup process (the tasks carry only ids;
	// the log line names the object).
	for _, k := range keys {
		if lines := logLinesSoon(topo.fns["cleanup"], 1, `"cleanup done"`, objectID(sc, k).StoragePath()); len(lines) == 0 {
			t.Errorf("the cleanup process ran no task for %s", k)
		}
	}
}

// recoverOnce POSTs to the recover function and returns its report.
func recoverOnce(t testing.TB) (tiered.RecoverReport, string) {
	t.Helper()
	res, err := http.Post(topo.fns["recover"].url+"/", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var rep tiered.RecoverReport
	if res.StatusCode != http.StatusOK || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("recover: %d %s", res.StatusCode, b)
	}
	return rep, string(b)
}
