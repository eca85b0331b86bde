package topology

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/tiered"
)

// cleanupDone counts the cleanup process's "cleanup done" lines: tasks delivered by push
// and run.
func cleanupDone() int { return len(logLines(topo.fns["cleanup"].logs(), `"cleanup done"`)) }

// TestCleanup_OverwritesAndDeletes_LeaveNoOrphans overwrites and deletes large objects
// through the front door and waits until the cleanup tasks, pushed by Pub/Sub to the cleanup
// process, have left the change log empty and the bucket holding exactly the live
// revisions.
func TestCleanup_OverwritesAndDeletes_LeaveNoOrphans(t *testing.T) {
	ctx := context.Background()
	sc := scope(t)
	s := topo.sdk(t, client.WithCompression(false)).Usecase(usecase).Scope("run", sc)
	mp := topo.sdk(t, client.WithCompression(false), client.WithMultipart(4<<20, 2<<20, 2)).Usecase(usecase).Scope("run", sc)
	before := cleanupDone()
	put := func(s *client.Session, key string, n int) []byte {
		t.Helper()
		b := payload(n)
		if _, err := s.Put(ctx, key, bytes.NewReader(b)); err != nil {
			t.Fatalf("put %s (%d bytes): %v", key, n, err)
		}
		return b
	}
	want := map[string][]byte{}
	// large → large → large: two superseded revisions.
	put(s, "overwritten", 2<<20)
	put(s, "overwritten", 3<<20)
	want["overwritten"] = put(s, "overwritten", 2<<20+9)
	// large → small: the superseded revision goes, the row is inline.
	put(s, "to-small", 2<<20)
	want["to-small"] = put(s, "to-small", 100)
	// small → large.
	put(s, "to-large", 100)
	want["to-large"] = put(s, "to-large", 2<<20)
	// large, deleted.
	put(s, "deleted", 2<<20)
	if err := s.Delete(ctx, "deleted"); err != nil {
		t.Fatal(err)
	}
	// multipart → large → multipart.
	put(mp, "multipart", 9<<20)
	put(s, "multipart", 2<<20)
	want["multipart"] = put(mp, "multipart", 5<<20)
	// large, deleted through a batch.
	put(s, "batch-deleted", 2<<20)
	if res, err := s.Batch(ctx, []client.BatchOp{client.BatchDelete("batch-deleted")}); err != nil || res[0].Err != nil {
		t.Fatalf("batch delete: %v %+v", err, res)
	}

	keys := append(sortedKeys(want), "deleted", "batch-deleted")
	// Superseded: overwritten ×2, to-small, deleted, multipart ×2, batch-deleted = 7 revisions.
	topo.waitSettled(t, sc, keys, 60*time.Second)
	for k, b := range want {
		got, err := getAll(ctx, s, k)
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		mustEqual(t, k, got, b)
	}
	for _, k := range []string{"deleted", "batch-deleted"} {
		if _, err := s.Head(ctx, k); !client.IsNotFound(err) {
			t.Errorf("%s: %v, want 404", k, err)
		}
	}
	objs := topo.bucketObjects(t, sc)
	// Live large objects: overwritten, to-large, multipart.
	if len(objs) != 3 {
		t.Errorf("bucket holds %d objects under the scope, want the 3 live revisions: %v", len(objs), sortedKeys(objs))
	}
	// Each of the 7 superseded revisions is deleted by one task; changes that replaced
	// nothing remove their entries without one. All go through the cleanup process.
	var delivered int
	soon(func() bool { delivered = cleanupDone() - before; return delivered >= 7 })
	if delivered < 7 {
		t.Errorf("the cleanup process ran %d tasks, want at least 7 (one per superseded revision)", delivered)
	}
	t.Logf("cleanup process ran %d pushed tasks; bucket holds %d live revisions", delivered, len(objs))
}

// capturedTask is a cleanup task as published, read from the capture subscription.
type capturedTask struct {
	msg  *pubsub.Message
	task tiered.CleanupTask
}

// capture pulls the capture subscription until stop, keeping every task.
type capture struct {
	mu    sync.Mutex
	tasks []capturedTask
}

func (c *capture) find(pred func(tiered.CleanupTask) bool) []capturedTask {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []capturedTask
	for _, ct := range c.tasks {
		if pred(ct.task) {
			out = append(out, ct)
		}
	}
	return out
}

func startCapture(t *testing.T) *capture {
	c := &capture{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = topo.ps.Subscriber(captureSub).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
			var task tiered.CleanupTask
			if json.Unmarshal(m.Data, &task) == nil {
				c.mu.Lock()
				c.tasks = append(c.tasks, capturedTask{msg: m, task: task})
				c.mu.Unlock()
			}
			m.Ack()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

// pushEnvelope is the wrapped push body the emulator sends (gcp-platform.md §2).
func pushEnvelope(m *pubsub.Message) []byte {
	env := map[string]any{
		"subscription": subName(pushSub),
		"message": map[string]any{
			"data":        m.Data,
			"attributes":  m.Attributes,
			"messageId":   m.ID,
			"message_id":  m.ID,
			"publishTime": m.PublishTime.UTC().Format(time.RFC3339Nano),
		},
	}
	b, _ := json.Marshal(env)
	return b
}

// TestCleanup_RedeliveredTaskIsHarmless captures the cleanup tasks of a put, an overwrite,
// a delete and a re-put of one key, then, once all of them have run, delivers each again,
// twice, straight to the cleanup function as a push would: every delivery is acknowledged,
// the live object is intact, and neither the bucket nor the change log changes.
func TestCleanup_RedeliveredTaskIsHarmless(t *testing.T) {
	ctx := context.Background()
	capt := startCapture(t)
	sc := scope(t)
	s := topo.sdk(t, client.WithCompression(false)).Usecase(usecase).Scope("run", sc)
	const key = "redelivered"
	for _, n := range []int{2 << 20, 3 << 20} {
		if _, err := s.Put(ctx, key, bytes.NewReader(payload(n))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	live := payload(2<<20 + 3)
	if _, err := s.Put(ctx, key, bytes.NewReader(live)); err != nil {
		t.Fatal(err)
	}
	topo.waitSettled(t, sc, []string{key}, 60*time.Second)

	id := objectID(sc, key)
	mine := func(task tiered.CleanupTask) bool { return task.Object == id.StoragePath() }
	var tasks []capturedTask
	// Puts to an absent key replace nothing and dispatch no task: the overwrite and the
	// delete do.
	waitFor(t, 30*time.Second, 50*time.Millisecond, "two tasks captured", func() bool {
		tasks = capt.find(mine)
		return len(tasks) >= 2
	}, func() string { return fmt.Sprintf("captured %d tasks of %s", len(tasks), id.StoragePath()) })

	bucketBefore := topo.bucketObjects(t, sc)
	row, err := topo.bt.GetTieredMetadata(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range tasks {
		for i := range 2 {
			res, err := http.Post(topo.fns["cleanup"].url+"/", "application/json", bytes.NewReader(pushEnvelope(ct.msg)))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode/100 != 2 {
				t.Errorf("redelivery %d of task %s: status %d, want 2xx (acknowledged)", i+1, ct.task.ChangeID, res.StatusCode)
			}
		}
	}
	got, err := getAll(ctx, s, key)
	if err != nil {
		t.Fatalf("live object after redeliveries: %v", err)
	}
	mustEqual(t, "live object after redeliveries", got, live)
	if after := topo.bucketObjects(t, sc); !maps.Equal(after, bucketBefore) {
		t.Errorf("bucket changed: before %v, after %v", bucketBefore, after)
	}
	rowAfter, err := topo.bt.GetTieredMetadata(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rowAfter.Kind != row.Kind || rowAfter.Tombstone.Target.StoragePath() != row.Tombstone.Target.StoragePath() {
		t.Errorf("row changed: before %+v, after %+v", row, rowAfter)
	}
	if n := topo.changeLogRows(t, sc); n != 0 {
		t.Errorf("change log has %d rows after redeliveries, want 0", n)
	}
	t.Logf("redelivered %d tasks twice each", len(tasks))
}

// TestCleanup_PoisonMessageIsDeadLettered publishes a message that is not a cleanup task:
// the cleanup function refuses it (400) on every push until the subscription's dead-letter
// policy moves it to the dead-letter topic after maxDeliveries attempts.
func TestCleanup_PoisonMessageIsDeadLettered(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	marker := "poison-" + scope(t)
	res := topo.ps.Publisher(cleanupTopic).Publish(ctx, &pubsub.Message{Data: []byte("not a task"), Attributes: map[string]string{"marker": marker}})
	if _, err := res.Get(ctx); err != nil {
		t.Fatal(err)
	}
	var dead *pubsub.Message
	rctx, rcancel := context.WithCancel(ctx)
	err := topo.ps.Subscriber(deadSub).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		if m.Attributes["marker"] == marker {
			dead = m
			rcancel()
		}
	})
	rcancel()
	if err != nil {
		t.Fatal(err)
	}
	if dead == nil {
		t.Fatalf("the poison message did not reach the dead-letter topic within 90s; cleanup log:\n%s", tail(topo.fns["cleanup"].logs(), 4000))
	}
	refused := len(logLines(topo.fns["cleanup"].logs(), "message is not a cleanup task"))
	if refused < maxDeliveries {
		t.Errorf("cleanup refused the poison message %d times, want %d (the dead-letter policy)", refused, maxDeliveries)
	}
	t.Logf("dead-lettered after %d refusals; attributes %v", refused, dead.Attributes)
	if strings.TrimSpace(dead.Attributes["CloudPubSubDeadLetterSourceDeliveryCount"]) != fmt.Sprint(maxDeliveries) {
		t.Logf("note: delivery count attribute %q", dead.Attributes["CloudPubSubDeadLetterSourceDeliveryCount"])
	}
}
