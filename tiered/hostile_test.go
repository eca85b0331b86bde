package tiered_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// These tests play a hostile client (issue 10). What a client controls ends up in the change
// log only through a multipart upload id: the revision UUID (which names the complete's
// entry) and the backend's upload id. Upload ids leak (they are plain base64 JSON), so a
// client may know another upload's revision UUID and backend id, in any usecase.

// forgeUploadID builds an upload id for key in the tiered token form, naming revision
// "{key}/{revUUID}" and backend upload backendID.
func forgeUploadID(key, revUUID, backendID string) string {
	b, _ := json.Marshal(map[string]string{"revision": key + "/" + revUUID, "upload_id": backendID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenOf splits an upload id into its revision UUID and backend upload id.
func tokenOf(t *testing.T, oid object.ID, u string) (revUUID, backendID string) {
	t.Helper()
	raw, _ := base64.RawURLEncoding.DecodeString(u)
	var tok struct {
		Revision string `json:"revision"`
		UploadID string `json:"upload_id"`
	}
	if err := json.Unmarshal(raw, &tok); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(tok.Revision, oid.Key+"/"), tok.UploadID
}

// attackerID is an object in another usecase than id's victims.
func attackerID(key string) object.ID {
	return object.NewID("attacker", []object.Scope{{Name: "org", Value: "evil"}}, key)
}

// TestHostile_CompleteCannotTakeOverAnotherUploadsEntry: a victim's complete failed after
// logging Written (its compare-and-write errored without applying), so its entry waits,
// stale, for the victim's retry, which would find the row unchanged and commit. An attacker
// in another usecase, knowing the victim's upload id, completes its own key with the
// victim's revision UUID: the same entry id. The old code took the entry over, judged it
// against the attacker's row, logged it Unknown, and its cleanup then found the victim's row
// unchanged (Lost) and deleted the assembled revision: the victim's retry got 404. The
// attacker must be refused (400) and touch nothing.
func TestHostile_CompleteCannotTakeOverAnotherUploadsEntry(t *testing.T) {
	bugScenario(t, tiered.BugForeignEntry, func(t *testing.T, bug int) (v []string) {
		ctx := context.Background()
		w := newWorld()
		s := w.store(t, bug, tiered.Options{})
		victim := id("victim")
		if _, err := s.Put(ctx, victim, object.Metadata{}, bytes.NewReader(big1)); err != nil {
			t.Fatal(err)
		}
		u := initiate(t, s, victim, object.Metadata{})
		part := upload(t, s, victim, u, 1, big2)
		w.hhv.Add(backendtest.FailOn(backendtest.OpCompareAndWrite, 0))
		if _, err := s.CompleteMultipart(ctx, victim, u, []object.CompletedPart{part}); err == nil {
			t.Fatal("the victim's first complete must fail")
		}
		w.hhv.Reset()
		w.clock.Advance(time.Minute) // the victim's lease is stale

		revUUID, backendID := tokenOf(t, victim, u)
		for _, forged := range []string{forgeUploadID("mine", revUUID, backendID), forgeUploadID("mine", revUUID, uuid.NewString())} {
			_, err := s.CompleteMultipart(ctx, attackerID("mine"), forged, []object.CompletedPart{part})
			if !errors.Is(err, object.ErrInvalidArgument) {
				v = append(v, fmt.Sprintf("attacker's complete: %v, want ErrInvalidArgument", err))
			}
		}
		if ce, err := s.CompleteMultipart(ctx, victim, u, []object.CompletedPart{part}); err != nil || ce != nil {
			v = append(v, fmt.Sprintf("the victim's retry failed: %v %v", ce, err))
		}
		if got, err := readAt(s, victim); err != nil || !bytes.Equal(got, big2) {
			v = append(v, fmt.Sprintf("victim does not read its upload: %v", err))
		}
		w.settle(t)
		return append(v, w.violations(victim)...)
	})
}

// TestHostile_CleanupAbortsOnlyTheEntrysOwnUpload: a change-log entry (corrupted, or written
// by anyone who can write the log) names the object "mine" but the revision and backend
// upload of another object's upload in progress. Its cleanup must not abort that upload:
// only an entry named by its own revision, of its own object, owns an upload.
func TestHostile_CleanupAbortsOnlyTheEntrysOwnUpload(t *testing.T) {
	bugScenario(t, tiered.BugAbortForeignUpload, func(t *testing.T, bug int) (v []string) {
		ctx := context.Background()
		w := newWorld()
		s := w.store(t, bug, tiered.Options{})
		victim := id("victim")
		u := initiate(t, s, victim, object.Metadata{})
		part := upload(t, s, victim, u, 1, big2)
		revUUID, backendID := tokenOf(t, victim, u)
		rev := object.ID{Context: victim.Context, Key: victim.Key + "/" + revUUID}
		now := w.clock.Now()
		for i, e := range []driver.LogEntry{
			// Another object's revision, under a fresh id.
			{ID: driver.ChangeID(uuid.NewString()), Change: driver.Change{ID: attackerID("mine"), New: &rev, UploadID: backendID}},
			// Named by the revision's UUID, but of another object.
			{ID: driver.ChangeID(revUUID), Change: driver.Change{ID: attackerID("mine"), New: &rev, UploadID: backendID}},
		} {
			e.Phase, e.NotBefore, e.Heartbeat = tiered.PhaseAborted, now, now
			if err := w.log.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
			if err := s.Cleanup(ctx, tiered.CleanupTask{ChangeID: e.ID}); err != nil {
				v = append(v, fmt.Sprintf("cleanup of forged entry %d: %v", i, err))
			}
		}
		if ce, err := s.CompleteMultipart(ctx, victim, u, []object.CompletedPart{part}); err != nil || ce != nil {
			v = append(v, fmt.Sprintf("the victim's upload was aborted: %v %v", ce, err))
		}
		if got, err := readAt(s, victim); err != nil || !bytes.Equal(got, big2) {
			v = append(v, fmt.Sprintf("victim does not read its upload: %v", err))
		}
		w.settle(t)
		return append(v, w.violations(victim)...)
	})
}

// TestHostile_ForgedAndReplayedTasksDeleteNothing sends cleanup tasks of every shape a
// holder of the cleanup topic (or of the local admin listener) could forge, while a
// complete is in progress and after everything finished: unknown ids, a real id with
// another object, a revision path as the object, the live revision's UUID as the id, the
// in-progress entry, another object's upload entry, and every task the store dispatched,
// replayed after it ran. Afterwards every object still reads, and an upload still open
// completes.
func TestHostile_ForgedAndReplayedTasksDeleteNothing(t *testing.T) {
	ctx := context.Background()
	w := newWorld()
	rec := &recording{}
	s, err := tiered.New(w.hhv, w.hlt, w.hlog, &tiered.Options{Clock: w.clock, Dispatcher: rec, Logger: quiet, GracePeriod: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rec.s = s

	// "live": committed through multipart, so its revision UUID is public (its upload id).
	live := id("live")
	uLive := initiate(t, s, live, object.Metadata{})
	complete(t, s, live, uLive, upload(t, s, live, uLive, 1, big1))
	liveUUID, _ := tokenOf(t, live, uLive)
	liveRev := live.Key + "/" + liveUUID
	// "open": an upload in progress, never completed during the attack.
	open := id("open")
	uOpen := initiate(t, s, open, object.Metadata{})
	openPart := upload(t, s, open, uOpen, 1, big2)
	openUUID, _ := tokenOf(t, open, uOpen)
	// "busy": its complete runs the attack from inside, while its entry is in progress.
	busy := id("busy")
	uBusy := initiate(t, s, busy, object.Metadata{})
	busyPart := upload(t, s, busy, uBusy, 1, big2)
	busyUUID, _ := tokenOf(t, busy, uBusy)

	attack := func(phase string) {
		tasks := []tiered.CleanupTask{
			{ChangeID: "no-such-change"},
			{ChangeID: driver.ChangeID(uuid.NewString()), Object: live.StoragePath()},
			{ChangeID: driver.ChangeID(liveUUID), Object: live.StoragePath()},
			{ChangeID: driver.ChangeID(liveUUID), Object: liveRev},
			{ChangeID: driver.ChangeID(busyUUID), Object: live.StoragePath()},
			{ChangeID: driver.ChangeID(busyUUID), Object: liveRev},
			{ChangeID: driver.ChangeID(openUUID), Object: open.StoragePath()},
		}
		for _, e := range w.log.Entries() {
			tasks = append(tasks, tiered.CleanupTask{ChangeID: e.ID, Object: liveRev})
		}
		tasks = append(tasks, rec.sent()...)
		for _, task := range tasks {
			if err := s.Cleanup(ctx, task); err != nil && !errors.Is(err, tiered.ErrNotDue) {
				t.Errorf("%s: forged task %+v: %v", phase, task, err)
			}
		}
	}
	inProgress := false
	w.hlt.Add(backendtest.Match(backendtest.OpComplete, func(ctx context.Context, c *backendtest.Call, next func() error) error {
		for _, e := range w.log.Entries() {
			inProgress = inProgress || string(e.ID) == busyUUID && !e.Phase.Final()
		}
		attack("during a complete")
		return next()
	}))
	complete(t, s, busy, uBusy, busyPart)
	w.hlt.Reset()
	if !inProgress {
		t.Fatal("the complete's entry was not in progress during the attack")
	}
	// "live" is overwritten; its old revision must survive its hour of grace, whatever
	// arrives meanwhile.
	if _, err := s.Put(ctx, live, object.Metadata{}, bytes.NewReader(big2)); err != nil {
		t.Fatal(err)
	}
	attack("after the complete")
	old := object.ID{Context: live.Context, Key: liveRev}
	if _, err := w.lt.Head(ctx, old); err != nil {
		t.Errorf("a forged task deleted a superseded revision inside its grace period: %v", err)
	}
	w.clock.Advance(2 * time.Hour) // every grace period is over: replays now find due work done
	attack("replayed after completion")

	for _, c := range []struct {
		id   object.ID
		want []byte
	}{{live, big2}, {busy, big2}} {
		if got, err := readAt(s, c.id); err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s no longer reads: %v", c.id.Key, err)
		}
	}
	complete(t, s, open, uOpen, openPart)
	if got, err := readAt(s, open); err != nil || !bytes.Equal(got, big2) {
		t.Errorf("the open upload did not complete intact: %v", err)
	}
}

// recording runs tasks inline, as the world's dispatcher does, and remembers them for replay.
type recording struct {
	inline
	tasks []tiered.CleanupTask
}

func (r *recording) Dispatch(ctx context.Context, t tiered.CleanupTask) error {
	r.tasks = append(r.tasks, t)
	return r.inline.Dispatch(ctx, t)
}

func (r *recording) sent() []tiered.CleanupTask { return append([]tiered.CleanupTask(nil), r.tasks...) }

// TestHostile_RevisionPathAsKeyTouchesNothing: a revision path "K/<uuid>" is itself a valid
// key. A client that learnt K's live revision (from its upload id) writes, deletes and
// uploads to that key, large and small: K's data, stored at exactly that long-term path, must
// stay readable, and cleanup of those changes must not reach it.
func TestHostile_RevisionPathAsKeyTouchesNothing(t *testing.T) {
	ctx := context.Background()
	w := newWorld()
	s := w.store(t, 0, tiered.Options{})
	k := id("k")
	u := initiate(t, s, k, object.Metadata{})
	complete(t, s, k, u, upload(t, s, k, u, 1, big1))
	revUUID, _ := tokenOf(t, k, u)
	asKey := id(k.Key + "/" + revUUID)
	for _, p := range [][]byte{big2, []byte("small")} {
		if _, err := s.Put(ctx, asKey, object.Metadata{}, bytes.NewReader(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, asKey); err != nil {
		t.Fatal(err)
	}
	ua := initiate(t, s, asKey, object.Metadata{})
	upload(t, s, asKey, ua, 1, []byte("x"))
	if err := s.AbortMultipart(ctx, asKey, ua); err != nil {
		t.Fatal(err)
	}
	// An upload id of K used for the key "K/<uuid>" is another object's: refused.
	if _, err := s.CompleteMultipart(ctx, asKey, u, []object.CompletedPart{{PartNumber: 1, ETag: `"x"`}}); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("K's upload id on key K/<uuid>: %v, want ErrInvalidArgument", err)
	}
	w.settle(t)
	if got, err := readAt(s, k); err != nil || !bytes.Equal(got, big1) {
		t.Fatalf("K no longer reads: %v", err)
	}
	if v := w.violations(k); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
}
