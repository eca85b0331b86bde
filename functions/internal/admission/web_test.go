package admission

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWebLimiter(t *testing.T) {
	w := NewWebLimiter(2)
	r1, ok1 := w.TryEnter()
	r2, ok2 := w.TryEnter()
	if !ok1 || !ok2 || w.InFlight() != 2 {
		t.Fatalf("ok %v %v, InFlight %d", ok1, ok2, w.InFlight())
	}
	if r, ok := w.TryEnter(); ok || r != nil {
		t.Fatal("admitted over the limit")
	}
	if w.InFlight() != 2 {
		t.Fatalf("a refused request changed InFlight to %d", w.InFlight())
	}
	r1()
	r1()
	if w.InFlight() != 1 {
		t.Fatalf("InFlight %d after a double release, want 1", w.InFlight())
	}
	r3, ok := w.TryEnter()
	if !ok {
		t.Fatal("refused after a release")
	}
	r2()
	r3()
	if w.InFlight() != 0 || w.Limit() != 2 {
		t.Fatalf("InFlight %d Limit %d", w.InFlight(), w.Limit())
	}
	if _, ok := NewWebLimiter(0).TryEnter(); ok {
		t.Fatal("limit 0 admitted")
	}
	if NewWebLimiter(-3).Limit() != 0 {
		t.Fatal("negative limit")
	}
}

func TestWebLimiter_Concurrent(t *testing.T) {
	w := NewWebLimiter(3)
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				r, ok := w.TryEnter()
				if !ok {
					continue
				}
				n := held.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				held.Add(-1)
				r()
			}
		})
	}
	wg.Wait()
	if peak.Load() > 3 || w.InFlight() != 0 {
		t.Fatalf("peak %d InFlight %d", peak.Load(), w.InFlight())
	}
}

func TestKedaMetrics_Format(t *testing.T) {
	c := newClock()
	l := NewLimiter(mustParseRateLimits(t, `{"throughput": {"global_rps": 1000}, "bandwidth": {"global_bps": 1048576}}`), c.now)
	l.Admit(ctxOf("u"))
	l.Admit(ctxOf("u"))
	l.ChargeBytes(ctxOf("u"), 1234)
	web := NewWebLimiter(10000)
	release, _ := web.TryEnter()
	defer release()
	conc := NewConcurrency(500, 0, time.Second, 60)
	task, _ := conc.Acquire(t.Context())
	defer task()

	var b bytes.Buffer
	n, err := Snapshot(l, web, conc).WriteTo(&b)
	if err != nil || n != int64(b.Len()) {
		t.Fatalf("WriteTo = %d, %v (wrote %d)", n, err, b.Len())
	}
	want := `# HELP objectstore_bytes_total Total bytes transferred since startup
# TYPE objectstore_bytes_total counter
objectstore_bytes_total 1234
# HELP objectstore_requests_total Total admitted requests since startup
# TYPE objectstore_requests_total counter
objectstore_requests_total 2
# HELP objectstore_requests_in_flight Current in-flight HTTP requests
# TYPE objectstore_requests_in_flight gauge
objectstore_requests_in_flight 1
# HELP objectstore_requests_limit Configured maximum concurrent HTTP requests
# TYPE objectstore_requests_limit gauge
objectstore_requests_limit 10000
# HELP objectstore_tasks_running Current running backend tasks
# TYPE objectstore_tasks_running gauge
objectstore_tasks_running 1
# HELP objectstore_tasks_limit Configured maximum concurrent backend tasks
# TYPE objectstore_tasks_limit gauge
objectstore_tasks_limit 500
# HELP objectstore_bandwidth_limit Configured global bandwidth limit in bytes/s
# TYPE objectstore_bandwidth_limit gauge
objectstore_bandwidth_limit 1048576
# HELP objectstore_throughput_limit Configured global throughput limit in requests/s
# TYPE objectstore_throughput_limit gauge
objectstore_throughput_limit 1000
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}

	// Without global limits the last two blocks are left out.
	b.Reset()
	if _, err := Snapshot(NewLimiter(RateLimits{}, nil), nil, nil).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if s := b.String(); bytes.Contains(b.Bytes(), []byte("bandwidth_limit")) || bytes.Contains(b.Bytes(), []byte("throughput_limit")) ||
		!bytes.HasSuffix(b.Bytes(), []byte("objectstore_tasks_limit 0\n")) {
		t.Fatalf("unexpected output without limits:\n%s", s)
	}
}
