package cleanup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/observe"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/stratastore/strata/functions/internal/cleanup"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/tieredtest"
)

var quiet = slog.New(slog.DiscardHandler)

const project, topic = "proj", "strata-cleanup"

// pubsubFake starts pstest with the cleanup topic and returns a client and the server.
func pubsubFake(t *testing.T) (*pubsub.Client, *pstest.Server) {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := pubsub.NewClient(context.Background(), project, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.TopicAdminClient.CreateTopic(context.Background(), &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + topic}); err != nil {
		t.Fatal(err)
	}
	return c, srv
}

type backends struct {
	hv  *membackend.HighVolume
	lt  *membackend.LongTerm
	log *membackend.ChangeLog
}

func newBackends() backends {
	mem := membackend.Open(nil)
	return backends{mem.HighVolume(), mem.LongTerm(), mem.ChangeLog()}
}

func (b backends) store(t *testing.T, d tiered.Dispatcher) *tiered.Store {
	t.Helper()
	s, err := tiered.New(b.hv, b.lt, b.log, &tiered.Options{Dispatcher: d, GracePeriod: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// push wraps data in a push envelope and sends it to h.
func push(t *testing.T, h http.Handler, data []byte) *httptest.ResponseRecorder {
	t.Helper()
	return pushAttempt(t, h, data, 0)
}

// pushAttempt pushes data as the given delivery attempt (0: none stated).
func pushAttempt(t *testing.T, h http.Handler, data []byte, attempt int) *httptest.ResponseRecorder {
	t.Helper()
	env := map[string]any{
		"message":      map[string]any{"data": data, "messageId": "1", "attributes": map[string]string{}},
		"subscription": "projects/proj/subscriptions/push",
	}
	if attempt > 0 {
		env["deliveryAttempt"] = attempt
	}
	b, _ := json.Marshal(env)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/projects/proj/topics/strata-cleanup", bytes.NewReader(b)))
	return rec
}

// TestPubSub_OverwriteCleanup_PublishedThenPushed follows a large overwrite end to end: the
// request path publishes its cleanup task, the push handler runs it, and a redelivery of the
// same message is harmless.
func TestPubSub_OverwriteCleanup_PublishedThenPushed(t *testing.T) {
	c, srv := pubsubFake(t)
	b := newBackends()
	d := cleanup.NewDispatcher(cleanup.NewPublisher(c, topic))
	s := b.store(t, d)
	ctx := context.Background()
	id := backendtest.NewID(t, "k")
	v1, v2 := backendtest.RandomPayload(2<<20), backendtest.RandomPayload(2<<20+1)
	for _, p := range [][]byte{v1, v2} {
		if _, err := s.Put(ctx, id, object.Metadata{}, bytes.NewReader(p)); err != nil {
			t.Fatal(err)
		}
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("published %d messages, want 1 (the overwrite; the first put replaced nothing)", len(msgs))
	}
	if b.lt.Len() != 2 {
		t.Fatalf("cleanup ran before delivery: %v", b.lt.Keys())
	}
	worker := b.store(t, nil) // the cleanup function's own Store
	h := cleanup.PushHandler(worker, quiet, cleanup.PushObserver{})
	for round := range 2 { // the second round is a redelivery
		for _, m := range msgs {
			if rec := push(t, h, m.Data); rec.Code != http.StatusNoContent {
				t.Fatalf("round %d: status %d %s", round, rec.Code, rec.Body)
			}
		}
	}
	if got, err := tieredtest.ReadAll(s, id); err != nil || !bytes.Equal(got, v2) {
		t.Fatalf("live object damaged: %v", err)
	}
	tieredtest.CheckNoOrphans(t, tieredtest.Backends{HV: b.hv, LT: b.lt, Log: b.log,
		Objects: func(context.Context) ([]string, error) { return b.lt.Keys(), nil }}, []object.ID{id})
	tieredtest.CheckEmptyLog(t, b.log, time.Now())
	if m := msgs[0]; m.Attributes[cleanup.AttrChangeID] == "" {
		t.Errorf("attributes %v", m.Attributes)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDispatcher_PublishFailure_LeavesEntryForRecovery(t *testing.T) {
	c, _ := pubsubFake(t)
	b := newBackends()
	d := cleanup.NewDispatcher(cleanup.NewPublisher(c, "no-such-topic"))
	s := b.store(t, d)
	id := backendtest.NewID(t, "k")
	for range 2 { // the overwrite has a revision to clean up
		if _, err := s.Put(context.Background(), id, object.Metadata{}, bytes.NewReader(backendtest.RandomPayload(2<<20))); err != nil {
			t.Fatalf("a failed publish must not fail the committed put: %v", err)
		}
	}
	if n := len(b.log.Entries()); n != 1 {
		t.Fatalf("log entries: %d", n)
	}
}

func TestPushHandler_RejectsBadRequests(t *testing.T) {
	b := newBackends()
	h := cleanup.PushHandler(b.store(t, nil), quiet, cleanup.PushObserver{})
	for name, tc := range map[string]struct {
		method string
		body   string
		want   int
	}{
		"get":          {http.MethodGet, "", http.StatusMethodNotAllowed},
		"not json":     {http.MethodPost, "{", http.StatusBadRequest},
		"not a task":   {http.MethodPost, `{"message":{"data":"` + b64("hello") + `"}}`, http.StatusBadRequest},
		"no change id": {http.MethodPost, `{"message":{"data":"` + b64(`{"id":"nope"}`) + `"}}`, http.StatusBadRequest},
		"too large":    {http.MethodPost, strings.Repeat(" ", 70<<10), http.StatusRequestEntityTooLarge},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, "/", strings.NewReader(tc.body)))
		if rec.Code != tc.want {
			t.Errorf("%s: status %d, want %d", name, rec.Code, tc.want)
		}
	}
}

func b64(s string) string {
	b, _ := json.Marshal([]byte(s))
	return strings.Trim(string(b), `"`)
}

type failingRunner struct{}

func (failingRunner) Cleanup(context.Context, tiered.CleanupTask) error {
	return errors.New("gcs down")
}

func TestPushHandler_FailureAsksForRedelivery(t *testing.T) {
	task, _ := json.Marshal(tiered.CleanupTask{ChangeID: "c", Object: backendtest.NewID(t, "k").StoragePath()})
	if rec := push(t, cleanup.PushHandler(failingRunner{}, quiet, cleanup.PushObserver{}), task); rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", rec.Code)
	}
}

// A failed task counts as a retry, and on the subscription's last delivery attempt as a dead
// letter.
func TestPushHandler_CountsRetriesAndDeadLetters(t *testing.T) {
	r := sdkmetric.NewManualReader()
	m, err := observe.NewMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(r)), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := cleanup.PushHandler(failingRunner{}, quiet, cleanup.PushObserver{Metrics: m, MaxDeliveries: 5})
	task, _ := json.Marshal(tiered.CleanupTask{ChangeID: "c", Object: backendtest.NewID(t, "k").StoragePath()})
	for attempt := 1; attempt <= 5; attempt++ {
		if rec := pushAttempt(t, h, task, attempt); rec.Code != http.StatusInternalServerError {
			t.Fatalf("attempt %d: status %d", attempt, rec.Code)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if sum, ok := mt.Data.(metricdata.Sum[int64]); ok {
				for _, p := range sum.DataPoints {
					got[mt.Name] += p.Value
				}
			}
		}
	}
	if got[observe.MetricCleanupRetries] != 4 || got[observe.MetricDeadLetters] != 1 {
		t.Errorf("retries %d, dead letters %d; want 4 and 1", got[observe.MetricCleanupRetries], got[observe.MetricDeadLetters])
	}
}

type notDueRunner struct{}

func (notDueRunner) Cleanup(_ context.Context, t tiered.CleanupTask) error {
	return &tiered.NotDueError{ChangeID: t.ChangeID, Due: time.Now().Add(25 * time.Second), Wait: 25 * time.Second}
}

// TestPushHandler_NotDueIsRetriedLater: a task whose grace period is still running is not
// slept out in the function: 429 with Retry-After asks Pub/Sub to come back.
func TestPushHandler_NotDueIsRetriedLater(t *testing.T) {
	task, _ := json.Marshal(tiered.CleanupTask{ChangeID: "c"})
	rec := push(t, cleanup.PushHandler(notDueRunner{}, quiet, cleanup.PushObserver{}), task)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "25" {
		t.Fatalf("status %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

func TestRecoverHandler_ReportsJSON(t *testing.T) {
	b := newBackends()
	// An abandoned large overwrite: its cleanup was never dispatched.
	lost := b.store(t, dropDispatcher{})
	id := backendtest.NewID(t, "k")
	for range 2 {
		if _, err := lost.Put(context.Background(), id, object.Metadata{}, bytes.NewReader(backendtest.RandomPayload(2<<20))); err != nil {
			t.Fatal(err)
		}
	}
	later := func() time.Time { return time.Now().Add(time.Hour) }
	s, err := tiered.New(b.hv, b.lt, b.log, &tiered.Options{GracePeriod: -1, Now: later, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	cleanup.RecoverHandler(s, 10, quiet).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	body, _ := io.ReadAll(rec.Body)
	var rep struct {
		Claimed, Dispatched, Failed int
	}
	if rec.Code != http.StatusOK || json.Unmarshal(body, &rep) != nil || rep.Claimed != 1 || rep.Dispatched != 1 {
		t.Fatalf("status %d body %s", rec.Code, body)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	tieredtest.CheckEmptyLog(t, b.log, time.Now())
	rec = httptest.NewRecorder()
	cleanup.RecoverHandler(s, 10, quiet).ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE: %d", rec.Code)
	}
}

type dropDispatcher struct{}

func (dropDispatcher) Dispatch(context.Context, tiered.CleanupTask) error { return nil }
func (dropDispatcher) Close(context.Context) error                        { return nil }
