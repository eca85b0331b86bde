package tiered

// A deterministic simulation of the tiered protocol (FoundationDB/VOPR style). One seed
// fixes the whole run: the workload, every stall, lost response, crash and clock jump, and
// the order in which actors run. Actors (client operations, heartbeat timers, cleanup
// deliveries, recovery runs) are goroutines, but exactly one runs at a time: it holds the
// scheduler's token until it yields at a backend call or a timer. Time is virtual.
//
// Replay one seed: go test ./tiered -run 'TestSimulation$' -sim.seed=<seed> -v

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/google/uuid"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
)

var (
	simSeeds = flag.Int("sim.seeds", 0, "number of simulation seeds (default 2000, 200 with -short or -race)")
	simSeed  = flag.Uint64("sim.seed", 0, "run only this simulation seed")
	simBug   = flag.Int("sim.bug", 0, "reintroduce regression 1..7 in the simulation")
	simDebug = flag.Bool("sim.debug", false, "log every backend apply of a single-seed run")
)

const (
	simHeartbeat   = 10 * time.Second
	simStaleAfter  = 30 * time.Second
	simMaxSkew     = 2 * time.Second
	simSettle      = 2 * time.Minute
	simCallTimeout = 10 * time.Second
	simThreshold   = 64
	simWorkloadEnd = 10 * time.Minute
	simMaxEvents   = 400000
)

var simEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	errSimTimeout = fmt.Errorf("%w: sim: call timed out", object.ErrUnavailable)
	errSimLost    = fmt.Errorf("%w: sim: response lost", object.ErrUnavailable)
	errSimCrashed = fmt.Errorf("%w: sim: process crashed", object.ErrUnavailable)
)

// ---------------------------------------------------------------------------------------
// Scheduler

type simEvent struct {
	at   time.Duration
	seq  uint64
	name string
	fn   func()
}

type simHeap []simEvent

func (h simHeap) Len() int { return len(h) }
func (h simHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h simHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *simHeap) Push(x any)   { *h = append(*h, x.(simEvent)) }
func (h *simHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

type sim struct {
	seed    uint64
	bug     regression
	rng     *rand.Rand
	now     time.Duration
	seq     uint64
	q       simHeap
	events  int
	yielded chan struct{}
	curWake chan struct{}
	trace   hash.Hash64
	healed  bool
	viol    []string
	debug   bool
	notes   []string

	grace  time.Duration
	hvSkew time.Duration
	ltSkew time.Duration
	lgSkew time.Duration

	hv  *membackend.HighVolume
	lt  *membackend.LongTerm
	log *membackend.ChangeLog

	procs []*simProc
	// unref: when a revision (storage path) stopped being referenced by a live row.
	unref map[string]time.Duration

	keys    []object.ID
	clk     int64
	hist    map[string][]porcupine.Operation
	bodies  map[string][]byte // write id -> body
	byKey   map[string][]string
	uploads []simUpload
}

type simUpload struct {
	rev      object.ID // the revision the upload writes
	uploadID string    // the long-term backend's id
	acked    bool
}

func (s *sim) tr(parts ...any) {
	var b [8]byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			s.trace.Write([]byte(v))
		case int:
			binary.LittleEndian.PutUint64(b[:], uint64(v))
			s.trace.Write(b[:])
		case time.Duration:
			binary.LittleEndian.PutUint64(b[:], uint64(v))
			s.trace.Write(b[:])
		case uint64:
			binary.LittleEndian.PutUint64(b[:], v)
			s.trace.Write(b[:])
		}
	}
}

func (s *sim) violatef(format string, args ...any) {
	msg := fmt.Sprintf("t=%s ", s.now) + fmt.Sprintf(format, args...)
	s.viol = append(s.viol, msg)
	s.tr("violation", msg)
}

// nm names a call; with -sim.debug it carries details.
func (s *sim) nm(base string, args ...any) string {
	if !s.debug {
		return base
	}
	return base + fmt.Sprint(args...)
}

func (s *sim) note(format string, args ...any) {
	if s.debug {
		s.notes = append(s.notes, fmt.Sprintf("%14s ", s.now.Round(time.Millisecond))+fmt.Sprintf(format, args...))
	}
}

func (s *sim) at(d time.Duration, name string, fn func()) {
	if d < 0 {
		d = 0
	}
	s.seq++
	heap.Push(&s.q, simEvent{at: s.now + d, seq: s.seq, name: name, fn: fn})
}

// run starts f as an actor and returns when it yields or ends. Only the scheduler calls it.
func (s *sim) run(name string, f func()) {
	w := make(chan struct{})
	go func() {
		<-w
		defer func() {
			if r := recover(); r != nil {
				s.violatef("panic in %s: %v", name, r)
			}
			s.yielded <- struct{}{}
		}()
		f()
	}()
	s.curWake = w
	w <- struct{}{}
	<-s.yielded
}

// sleep parks the running actor for d of virtual time.
func (s *sim) sleep(d time.Duration) {
	w := s.curWake
	s.at(d, "wake", func() {
		s.curWake = w
		w <- struct{}{}
		<-s.yielded
	})
	s.yielded <- struct{}{}
	<-w
}

// loop runs events until none are left.
func (s *sim) loop() bool {
	for s.q.Len() > 0 {
		e := heap.Pop(&s.q).(simEvent)
		s.now = e.at
		s.tr(e.name, e.at, e.seq)
		s.events++
		if s.events > simMaxEvents {
			s.violatef("event budget exhausted (livelock?)")
			return false
		}
		e.fn()
	}
	return true
}

func (s *sim) durN(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(s.rng.Int64N(int64(max)))
}

func (s *sim) stall() time.Duration {
	if s.healed {
		return s.durN(10 * time.Millisecond)
	}
	switch r := s.rng.IntN(100); {
	case r < 70:
		return s.durN(50 * time.Millisecond)
	case r < 90:
		return s.durN(3 * time.Second)
	case r < 97:
		return s.durN(15 * time.Second)
	default:
		// Several × StaleAfter, but below LongTermSettle.
		return s.durN(100 * time.Second)
	}
}

// ---------------------------------------------------------------------------------------
// Processes, clocks, faults

type simProc struct {
	s         *sim
	id        int
	skew      time.Duration
	crashed   bool
	crashable bool
	store     *Store
}

func (p *simProc) Now() time.Time { return simEpoch.Add(p.s.now + p.skew) }

func (p *simProc) AfterFunc(d time.Duration, f func()) func() bool {
	stopped, fired := false, false
	p.s.at(d, "timer", func() {
		if stopped || p.crashed {
			return
		}
		fired = true
		p.s.run("timer", f)
	})
	return func() bool {
		if stopped || fired {
			return false
		}
		stopped = true
		return true
	}
}

// call is one backend call by p: a yield point. op applies the call to the backend.
func (s *sim) call(p *simProc, name string, op func() error) error {
	if p.crashed {
		return errSimCrashed
	}
	s.tr(name, p.id)
	if !s.healed {
		if p.crashable && s.rng.IntN(300) == 0 {
			p.crashed = true
			s.tr("crash", p.id)
			return errSimCrashed
		}
		if s.rng.IntN(100) == 0 {
			p.skew = s.durN(simMaxSkew) - simMaxSkew/2 // a jump within the bound
		}
	}
	stall1, stall2 := s.stall(), s.stall()
	lost := !s.healed && s.rng.IntN(20) == 0
	if stall1 >= simCallTimeout {
		s.note("p%d %s issued; applies late at +%s", p.id, name, stall1.Round(time.Millisecond))
		s.at(stall1, name+"/late", func() { err := op(); s.note("p%d %s late apply: %v", p.id, name, err) })
		s.sleep(simCallTimeout)
		return errSimTimeout
	}
	s.sleep(stall1)
	err := op()
	s.note("p%d %s applied: %v (lost=%v, returns after +%s)", p.id, name, err, lost, stall2.Round(time.Millisecond))
	if stall1+stall2 >= simCallTimeout {
		s.sleep(simCallTimeout - stall1)
		return errSimTimeout
	}
	s.sleep(stall2)
	if p.crashed {
		return errSimCrashed
	}
	if lost {
		return errSimLost
	}
	return err
}

func simLive(t driver.Tombstone, now time.Time) *string {
	if t.ExpirationPolicy.IsTimeout() && !t.Expires.IsZero() && t.Expires.Before(now) {
		return nil
	}
	p := t.Target.StoragePath()
	return &p
}

// rowTarget is the storage path the live row at id references, or nil.
func (s *sim) rowTarget(id object.ID) *string {
	e, ok := s.hv.Entry(id)
	if !ok || e.Kind != driver.EntryTombstone {
		return nil
	}
	return simLive(e.Tombstone, simEpoch.Add(s.now+s.hvSkew))
}

// track applies a row write and records when a revision stops being referenced.
func (s *sim) track(id object.ID, f func()) {
	before := s.rowTarget(id)
	f()
	after := s.rowTarget(id)
	if before != nil && (after == nil || *after != *before) {
		s.unref[*before] = s.now
	}
	if after != nil {
		delete(s.unref, *after)
	}
}

// ---------------------------------------------------------------------------------------
// Backend wrappers

var bg = context.Background()

func simP(id *object.ID) string {
	if id == nil {
		return "nil"
	}
	return id.Key
}

type simHV struct {
	p *simProc
}

func (h simHV) Name() string { return "sim" }

func (h simHV) PutNonTombstone(_ context.Context, id object.ID, md object.Metadata, payload []byte) (*driver.Tombstone, error) {
	s := h.p.s
	var t *driver.Tombstone
	err := s.call(h.p, s.nm("hv.put ", id.Key), func() error {
		var e error
		s.track(id, func() { t, e = s.hv.PutNonTombstone(bg, id, md, payload) })
		return e
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (h simHV) GetTiered(_ context.Context, id object.ID) (driver.Entry, error) {
	s := h.p.s
	var e driver.Entry
	err := s.call(h.p, "hv.get", func() error { var err error; e, err = s.hv.GetTiered(bg, id); return err })
	return e, err
}

func (h simHV) GetTieredMetadata(_ context.Context, id object.ID) (driver.Entry, error) {
	s := h.p.s
	var e driver.Entry
	err := s.call(h.p, "hv.getmd", func() error { var err error; e, err = s.hv.GetTieredMetadata(bg, id); return err })
	return e, err
}

func (h simHV) DeleteNonTombstone(_ context.Context, id object.ID) (*driver.Tombstone, error) {
	s := h.p.s
	var t *driver.Tombstone
	err := s.call(h.p, s.nm("hv.del ", id.Key), func() error {
		var e error
		s.track(id, func() { t, e = s.hv.DeleteNonTombstone(bg, id) })
		return e
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (h simHV) CompareAndWrite(_ context.Context, id object.ID, current *object.ID, w driver.Write) (bool, error) {
	s := h.p.s
	cas := func() (bool, error) {
		var ok bool
		err := s.call(h.p, s.nm("hv.cas", " ", id.Key, " cur=", simP(current), " new=", simP(w.Target()), " kind=", w.Kind, " dl=", w.Deadline.Sub(simEpoch)), func() error {
			var e error
			s.track(id, func() { ok, e = s.hv.CompareAndWrite(bg, id, current, w) })
			return e
		})
		return ok, err
	}
	ok, err := cas()
	if errors.Is(err, errSimLost) && current != nil && w.Kind == driver.WriteTombstone && s.rng.IntN(2) == 0 {
		// Retry once internally, as the Bigtable backend does for a swap between two
		// tombstones (the only predicate that cannot match again after the row moved on),
		// after a backoff that leaves other writers time to replace the row.
		s.sleep(s.durN(5 * time.Second))
		ok2, err2 := cas()
		if err2 != nil {
			return false, err2
		}
		if !ok2 {
			if s.bug == regressRetriedCASFalse {
				return false, nil
			}
			return false, fmt.Errorf("%w: sim: retried compare-and-write: outcome unknown", object.ErrUnavailable)
		}
		return true, nil
	}
	return ok, err
}

type simLT struct {
	p *simProc
}

func (l simLT) Name() string { return "sim" }

func (l simLT) Put(_ context.Context, id object.ID, md object.Metadata, body io.Reader) error {
	s := l.p.s
	return s.call(l.p, s.nm("lt.put ", id.Key), func() error { return s.lt.Put(bg, id, md, body) })
}

func (l simLT) Get(_ context.Context, id object.ID, rng *object.ByteRange) (*object.Reader, error) {
	s := l.p.s
	var o *object.Reader
	err := s.call(l.p, "lt.get", func() error { var e error; o, e = s.lt.Get(bg, id, rng); return e })
	if err != nil {
		return nil, err
	}
	return o, nil
}

func (l simLT) Head(_ context.Context, id object.ID) (object.Metadata, error) {
	s := l.p.s
	var md object.Metadata
	err := s.call(l.p, "lt.head", func() error { var e error; md, e = s.lt.Head(bg, id); return e })
	return md, err
}

func (l simLT) Delete(_ context.Context, id object.ID) error {
	s := l.p.s
	return s.call(l.p, s.nm("lt.delete ", id.Key), func() error {
		s.checkDelete(id)
		return s.lt.Delete(bg, id)
	})
}

func (l simLT) InitiateMultipart(_ context.Context, id object.ID, md object.Metadata) (string, error) {
	s := l.p.s
	var u string
	err := s.call(l.p, s.nm("lt.initiate ", id.Key), func() error {
		var e error
		u, e = s.lt.InitiateMultipart(bg, id, md)
		if e == nil {
			s.uploads = append(s.uploads, simUpload{rev: id, uploadID: u})
		}
		return e
	})
	return u, err
}

func (l simLT) UploadPart(_ context.Context, id object.ID, uploadID string, n int, size int64, body io.Reader) (string, error) {
	s := l.p.s
	var etag string
	err := s.call(l.p, "lt.part", func() error {
		var e error
		etag, e = s.lt.UploadPart(bg, id, uploadID, n, size, body)
		return e
	})
	return etag, err
}

func (l simLT) ListParts(_ context.Context, id object.ID, uploadID string, maxParts, marker int) (object.PartList, error) {
	s := l.p.s
	var pl object.PartList
	err := s.call(l.p, "lt.list", func() error {
		var e error
		pl, e = s.lt.ListParts(bg, id, uploadID, maxParts, marker)
		return e
	})
	return pl, err
}

func (l simLT) CompleteMultipart(_ context.Context, id object.ID, uploadID string, parts []object.CompletedPart) (*object.CompleteError, error) {
	s := l.p.s
	var ce *object.CompleteError
	err := s.call(l.p, s.nm("lt.complete ", id.Key), func() error {
		var e error
		ce, e = s.lt.CompleteMultipart(bg, id, uploadID, parts)
		return e
	})
	if err != nil {
		return nil, err
	}
	return ce, nil
}

func (l simLT) AbortMultipart(_ context.Context, id object.ID, uploadID string) error {
	s := l.p.s
	return s.call(l.p, s.nm("lt.abort ", id.Key), func() error { return s.lt.AbortMultipart(bg, id, uploadID) })
}

type simLog struct {
	p *simProc
}

func (c simLog) Record(_ context.Context, e driver.LogEntry) error {
	s := c.p.s
	return s.call(c.p, s.nm("log.record ", e.ID, " ", e.Phase, " new=", simP(e.Change.New), " old=", simP(e.Change.Old)), func() error { return s.log.Record(bg, e) })
}

func (c simLog) Get(_ context.Context, id driver.ChangeID) (driver.LogEntry, error) {
	s := c.p.s
	var e driver.LogEntry
	err := s.call(c.p, "log.get", func() error { var err error; e, err = s.log.Get(bg, id); return err })
	return e, err
}

func (c simLog) Update(_ context.Context, e driver.LogEntry, prev driver.Lease) error {
	s := c.p.s
	return s.call(c.p, s.nm("log.update ", e.ID, " ", e.Phase, " owner=", e.Owner, " nb=", e.NotBefore.Sub(simEpoch)), func() error { return s.log.Update(bg, e, prev) })
}

func (c simLog) Refresh(_ context.Context, id driver.ChangeID, owner string, hb time.Time) error {
	s := c.p.s
	return s.call(c.p, "log.refresh", func() error { return s.log.Refresh(bg, id, owner, hb) })
}

func (c simLog) Remove(_ context.Context, id driver.ChangeID) error {
	s := c.p.s
	return s.call(c.p, s.nm("log.remove ", id), func() error { return s.log.Remove(bg, id) })
}

func (c simLog) ClaimStale(_ context.Context, cl driver.Claim) ([]driver.LogEntry, error) {
	s := c.p.s
	var out []driver.LogEntry
	err := s.call(c.p, "log.claim", func() error {
		var e error
		out, e = s.log.ClaimStale(bg, cl)
		for _, x := range out {
			s.note("  claimed %s %s", x.ID, x.Phase)
		}
		return e
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkDelete runs when a long-term delete applies: invariant 4.
func (s *sim) checkDelete(id object.ID) {
	p := id.StoragePath()
	i := strings.LastIndex(id.Key, "/")
	if i > 0 {
		base := object.ID{Context: id.Context, Key: id.Key[:i]}
		if t := s.rowTarget(base); t != nil && *t == p {
			s.violatef("deleted revision %s while the row references it", p)
			return
		}
	}
	if at, ok := s.unref[p]; ok {
		if min := at + s.grace - 2*simMaxSkew; s.now < min {
			s.violatef("deleted revision %s %s after it stopped being referenced (grace %s)", p, s.now-at, s.grace)
		}
	}
}

// ---------------------------------------------------------------------------------------
// Dispatch

type simDispatcher struct{ p *simProc }

func (d simDispatcher) Dispatch(_ context.Context, t CleanupTask) error {
	s := d.p.s
	return s.call(d.p, "dispatch", func() error { s.enqueue(t, 0); return nil })
}

func (simDispatcher) Close(context.Context) error { return nil }

func (s *sim) enqueue(t CleanupTask, attempt int) {
	s.at(s.durN(5*time.Second), "deliver", func() { s.deliver(t, attempt) })
	if !s.healed && s.rng.IntN(10) == 0 {
		s.at(s.durN(30*time.Second), "deliver-dup", func() { s.deliver(t, attempt) })
	}
}

func (s *sim) liveProc() *simProc {
	var live []*simProc
	for _, p := range s.procs {
		if !p.crashed {
			live = append(live, p)
		}
	}
	if len(live) == 0 {
		return nil
	}
	return live[s.rng.IntN(len(live))]
}

func (s *sim) deliver(t CleanupTask, attempt int) {
	p := s.liveProc()
	if p == nil {
		return
	}
	s.run("cleanup", func() {
		err := p.store.Cleanup(bg, t)
		var nd *NotDueError
		switch {
		case err == nil:
		case errors.As(err, &nd):
			s.at(nd.Wait+s.durN(3*time.Second), "redeliver", func() { s.deliver(t, attempt) })
		case attempt+1 < 6:
			s.at(time.Duration(1<<attempt)*time.Second+s.durN(time.Second), "retry", func() { s.deliver(t, attempt+1) })
		default: // dropped: recovery must cover it
		}
	})
}

// ---------------------------------------------------------------------------------------
// World

func newSim(seed uint64, bug regression) *sim {
	s := &sim{
		seed: seed, bug: bug,
		rng:     rand.New(rand.NewPCG(seed, 0x5eed5eed)),
		yielded: make(chan struct{}),
		trace:   fnv.New64a(),
		unref:   map[string]time.Duration{},
		hist:    map[string][]porcupine.Operation{},
		bodies:  map[string][]byte{},
		byKey:   map[string][]string{},
	}
	skew := func() time.Duration { return s.durN(simMaxSkew) - simMaxSkew/2 }
	s.hvSkew, s.ltSkew, s.lgSkew = skew(), skew(), skew()
	s.hv = membackend.Open(&membackend.Options{Now: func() time.Time { return simEpoch.Add(s.now + s.hvSkew) }}).HighVolume()
	s.lt = membackend.Open(&membackend.Options{Now: func() time.Time { return simEpoch.Add(s.now + s.ltSkew) }}).LongTerm()
	s.log = membackend.Open(&membackend.Options{Now: func() time.Time { return simEpoch.Add(s.now + s.lgSkew) }}).ChangeLog()
	s.grace = s.durN(2 * time.Minute)
	n := 2 + s.rng.IntN(2)
	for i := range n {
		s.newProc(i > 0, skew())
	}
	ctx := object.Context{Usecase: "sim", Scopes: []object.Scope{{Name: "org", Value: "1"}}}
	for i := range 2 + s.rng.IntN(2) {
		s.keys = append(s.keys, object.ID{Context: ctx, Key: fmt.Sprintf("k%d", i)})
	}
	return s
}

var simLogger = slog.New(slog.DiscardHandler)

func (s *sim) newProc(crashable bool, skew time.Duration) *simProc {
	p := &simProc{s: s, id: len(s.procs), skew: skew, crashable: crashable}
	grace := s.grace
	if grace == 0 {
		grace = -1
	}
	st, err := New(simHV{p}, simLT{p}, simLog{p}, &Options{
		Dispatcher:        simDispatcher{p},
		GracePeriod:       grace,
		HeartbeatInterval: simHeartbeat,
		StaleAfter:        simStaleAfter,
		MaxClockSkew:      simMaxSkew,
		LongTermSettle:    simSettle,
		Threshold:         simThreshold,
		Clock:             p,
		NewUUID: func() uuid.UUID {
			var u uuid.UUID
			binary.LittleEndian.PutUint64(u[:8], s.rng.Uint64())
			binary.LittleEndian.PutUint64(u[8:], s.rng.Uint64())
			return u
		},
		Logger: simLogger,
	})
	if err != nil {
		panic(err)
	}
	st.regress = s.bug
	p.store = st
	s.procs = append(s.procs, p)
	return p
}

// body returns a fresh body for a write to key: "<key#n>" then filler, size bytes.
func (s *sim) body(key string, size int) (string, []byte) {
	wid := fmt.Sprintf("%s#%d", key, len(s.bodies))
	b := []byte("<" + wid + ">")
	for i := 0; len(b) < size; i++ {
		b = append(b, byte('a'+(len(s.bodies)*7+i)%26))
	}
	s.bodies[wid] = b
	s.byKey[key] = append(s.byKey[key], wid)
	return wid, b
}

// checkBody verifies a full read and returns its write id.
func (s *sim) checkBody(key string, got []byte) (string, bool) {
	if len(got) < 2 || got[0] != '<' {
		s.violatef("read of %s returned a torn body %q", key, got)
		return "", false
	}
	i := bytes.IndexByte(got, '>')
	if i < 0 {
		s.violatef("read of %s returned a torn body %q", key, got)
		return "", false
	}
	wid := string(got[1:i])
	want, ok := s.bodies[wid]
	if !ok || !strings.HasPrefix(wid, key+"#") {
		s.violatef("read of %s returned a foreign body %q", key, wid)
		return "", false
	}
	if !bytes.Equal(got, want) {
		s.violatef("read of %s returned a torn body of %s (%d of %d bytes)", key, wid, len(got), len(want))
		return "", false
	}
	return wid, true
}

func (s *sim) checkRange(key string, got []byte, cr *object.ContentRange) {
	if cr == nil {
		s.violatef("range read of %s returned no range", key)
		return
	}
	for _, wid := range s.byKey[key] {
		b := s.bodies[wid]
		if int64(len(b)) == cr.Total && cr.End < int64(len(b)) && bytes.Equal(b[cr.Start:cr.End+1], got) {
			return
		}
	}
	s.violatef("range read of %s returned bytes of no write: %q (%s)", key, got, cr)
}

type simIn struct {
	kind string // put, del, get
	val  string
	ttl  bool
}

type simOut struct {
	val   string
	found bool
}

type simState struct {
	val string
	ttl bool
}

var simModel = porcupine.Model{
	Init: func() any { return simState{} },
	Step: func(state, input, output any) (bool, any) {
		st, in := state.(simState), input.(simIn)
		switch in.kind {
		case "put":
			return true, simState{val: in.val, ttl: in.ttl}
		case "del":
			return true, simState{}
		default:
			out := output.(simOut)
			if out.found {
				return out.val == st.val, st
			}
			return st.val == "" || st.ttl, st
		}
	},
	DescribeOperation: func(input, output any) string { return fmt.Sprintf("%v -> %v", input, output) },
}

func (s *sim) tick() int64 { s.clk++; return s.clk }

func (s *sim) record(key string, client int, in simIn, call int64, out simOut, ret int64) {
	s.hist[key] = append(s.hist[key], porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
}

func (s *sim) md(p *simProc, ttl bool) object.Metadata {
	md := object.Metadata{ContentType: "application/octet-stream"}
	if ttl {
		d := time.Duration(2+s.rng.IntN(7)) * time.Second
		md.ExpirationPolicy = object.TTL(d)
		md.TimeExpires = p.Now().Add(d)
	}
	return md
}

// clientOp runs one client operation on p.
func (s *sim) clientOp(client int, p *simProc) {
	id := s.keys[s.rng.IntN(len(s.keys))]
	key := id.Key
	st := p.store
	switch r := s.rng.IntN(100); {
	case r < 40: // put
		large := s.rng.IntN(2) == 0
		size := 10 + s.rng.IntN(simThreshold-10)
		if large {
			size = simThreshold + 1 + s.rng.IntN(150)
		}
		ttl := s.rng.IntN(5) == 0
		wid, b := s.body(key, size)
		md := s.md(p, ttl)
		call := s.tick()
		_, err := st.Put(bg, id, md, bytes.NewReader(b))
		ret := int64(math.MaxInt64)
		if err == nil {
			ret = s.tick()
		}
		s.record(key, client, simIn{kind: "put", val: wid, ttl: ttl}, call, simOut{}, ret)
	case r < 52: // delete
		call := s.tick()
		err := st.Delete(bg, id)
		ret := int64(math.MaxInt64)
		if err == nil {
			ret = s.tick()
		}
		s.record(key, client, simIn{kind: "del"}, call, simOut{}, ret)
	case r < 80: // full get
		call := s.tick()
		o, err := st.Get(bg, id, nil)
		switch {
		case err == nil:
			got, rerr := io.ReadAll(o.Body)
			_ = o.Body.Close()
			if rerr != nil {
				return
			}
			if wid, ok := s.checkBody(key, got); ok {
				s.record(key, client, simIn{kind: "get"}, call, simOut{val: wid, found: true}, s.tick())
			}
		case errors.Is(err, object.ErrNotFound):
			s.record(key, client, simIn{kind: "get"}, call, simOut{}, s.tick())
		}
	case r < 88: // range get, sometimes inverted
		if s.rng.IntN(3) == 0 {
			o, err := st.Get(bg, id, &object.ByteRange{Start: 5, End: 2})
			if err == nil {
				_ = o.Body.Close()
				s.violatef("inverted range read of %s succeeded", key)
			}
			return
		}
		a := int64(s.rng.IntN(40))
		rg := object.Bounded(a, a+int64(s.rng.IntN(40)))
		o, err := st.Get(bg, id, &rg)
		if err == nil {
			got, rerr := io.ReadAll(o.Body)
			_ = o.Body.Close()
			if rerr == nil {
				s.checkRange(key, got, o.Range)
			}
		}
	default: // multipart
		s.multipart(client, p, id)
	}
}

func (s *sim) multipart(client int, p *simProc, id object.ID) {
	key := id.Key
	st := p.store
	ttl := s.rng.IntN(6) == 0
	wid, b := s.body(key, simThreshold+1+s.rng.IntN(200))
	u, err := st.InitiateMultipart(bg, id, s.md(p, ttl))
	if err != nil {
		return
	}
	nparts := 1 + s.rng.IntN(3)
	var parts []object.CompletedPart
	for i := range nparts {
		lo, hi := len(b)*i/nparts, len(b)*(i+1)/nparts
		var etag string
		for range 3 {
			etag, err = st.UploadPart(bg, id, u, i+1, int64(hi-lo), bytes.NewReader(b[lo:hi]))
			if err == nil {
				break
			}
		}
		if err != nil {
			return // abandoned upload: the reaper takes it
		}
		parts = append(parts, object.CompletedPart{PartNumber: i + 1, ETag: etag})
	}
	call := s.tick()
	ret := int64(math.MaxInt64)
	for attempt := range 5 {
		if attempt > 0 {
			d := s.durN(20 * time.Second)
			if s.rng.IntN(4) == 0 {
				d = s.durN(4 * time.Minute)
			}
			s.sleep(d)
		}
		ps := parts
		if attempt > 0 && s.rng.IntN(4) == 0 {
			ps = append([]object.CompletedPart(nil), parts...)
			ps[0].ETag = "bogus"
		}
		ce, err := st.CompleteMultipart(bg, id, u, ps)
		if err == nil && ce == nil && s.rng.IntN(4) == 0 {
			err = errSimLost // the response to the client is lost: it retries
		}
		if err == nil && ce == nil {
			ret = s.tick()
			if rev, _, err := decodeUploadID(id, u); err == nil {
				for i := range s.uploads {
					if s.uploads[i].rev.Equal(rev) {
						s.uploads[i].acked = true
					}
				}
			}
			break
		}
		if errors.Is(err, object.ErrNotFound) && attempt > 0 {
			break // abandoned by recovery
		}
	}
	s.record(key, client, simIn{kind: "put", val: wid, ttl: ttl}, call, simOut{}, ret)
}

// ---------------------------------------------------------------------------------------
// One run

type simResult struct {
	violations []string
	trace      uint64
	events     int
	notes      []string
}

func runSim(seed uint64, bug regression) simResult { return runSimDebug(seed, bug, false) }

func runSimDebug(seed uint64, bug regression, debug bool) simResult {
	s := newSim(seed, bug)
	s.debug = debug
	nops := 10 + s.rng.IntN(21)
	for i := range nops {
		start := s.durN(2 * time.Minute)
		s.at(start, "client", func() {
			p := s.liveProc()
			if p == nil {
				return
			}
			s.run("client", func() { s.clientOp(i, p) })
		})
	}
	var recoverLoop func()
	recoverLoop = func() {
		if s.now > simWorkloadEnd {
			return
		}
		if p := s.liveProc(); p != nil {
			s.run("recover", func() { _, _ = p.store.Recover(bg, 0) })
		}
		s.at(15*time.Second+s.durN(30*time.Second), "recover-tick", recoverLoop)
	}
	s.at(s.durN(30*time.Second), "recover-tick", recoverLoop)
	ok := s.loop()

	// Heal and settle: no more faults, a fresh process, time far ahead.
	if ok {
		s.healed = true
		for _, p := range s.procs {
			p.skew = 0
		}
		ok = s.loop()
	}
	if ok {
		fresh := s.newProc(false, 0)
		for round := 0; round < 8 && ok; round++ {
			s.now += MultipartCompleteCleanupDelay + simSettle + 2*simStaleAfter + 2*s.grace
			s.at(0, "final-recover", func() { s.run("final-recover", func() { _, _ = fresh.store.Recover(bg, 0) }) })
			ok = s.loop()
			if len(s.log.Entries()) == 0 {
				break
			}
		}
	}
	if ok {
		s.finalChecks()
	}
	s.checkLinearizable()
	return simResult{violations: s.viol, trace: s.trace.Sum64(), events: s.events, notes: s.notes}
}

func (s *sim) finalChecks() {
	// Lifecycle reaper: uploads never acknowledged complete.
	for _, u := range s.uploads {
		if u.acked {
			continue
		}
		_ = s.lt.AbortMultipart(bg, u.rev, u.uploadID)
	}
	if n := s.lt.Uploads(); n != 0 {
		s.violatef("%d multipart uploads left after reaping", n)
	}
	if es := s.log.Entries(); len(es) != 0 {
		s.violatef("change log not empty after recovery: %d entries, first %s phase %s", len(es), es[0].ID, es[0].Phase)
	}
	refs := map[string]bool{}
	ltKeys := map[string]bool{}
	for _, k := range s.lt.Keys() {
		ltKeys[k] = true
	}
	for _, id := range s.keys {
		if t := s.rowTarget(id); t != nil {
			refs[*t] = true
			if !ltKeys[*t] {
				s.violatef("dangling tombstone %s -> %s", id.Key, *t)
			}
		}
	}
	for _, k := range s.lt.Keys() {
		if refs[k] {
			continue
		}
		rid, err := object.ParseStoragePath(k)
		if err != nil {
			s.violatef("unparsable long-term key %s", k)
			continue
		}
		if _, err := s.lt.Head(bg, rid); errors.Is(err, object.ErrNotFound) {
			continue // expired: the bucket's lifecycle reaps it
		}
		s.violatef("orphaned revision %s", k)
	}
}

func (s *sim) checkLinearizable() {
	for _, id := range s.keys {
		h := s.hist[id.Key]
		if len(h) == 0 {
			continue
		}
		if porcupine.CheckOperationsTimeout(simModel, h, time.Second) == porcupine.Illegal {
			var b strings.Builder
			for _, op := range h {
				ret := "∞"
				if op.Return != math.MaxInt64 {
					ret = fmt.Sprint(op.Return)
				}
				fmt.Fprintf(&b, "\n    [%d,%s] c%d %v -> %v", op.Call, ret, op.ClientId, op.Input, op.Output)
			}
			s.violatef("history of %s is not linearizable:%s", id.Key, b.String())
		}
	}
}

// ---------------------------------------------------------------------------------------
// Tests

func simReplay(seed uint64, bug int) string {
	cmd := fmt.Sprintf("go test ./tiered -run 'TestSimulation$' -sim.seed=%d -v", seed)
	if bug != 0 {
		cmd += fmt.Sprintf(" -sim.bug=%d", bug)
	}
	return cmd
}

func TestSimulation(t *testing.T) {
	bug := regression(*simBug)
	if *simSeed != 0 {
		r := runSimDebug(*simSeed, bug, *simDebug)
		for _, n := range r.notes {
			t.Log(n)
		}
		t.Logf("seed %d: %d events, trace %016x", *simSeed, r.events, r.trace)
		for _, v := range r.violations {
			t.Errorf("seed %d: %s", *simSeed, v)
		}
		if len(r.violations) > 0 {
			t.Logf("replay: %s", simReplay(*simSeed, *simBug))
		}
		return
	}
	n := *simSeeds
	if n == 0 {
		n = 2000
		if testing.Short() || raceEnabled {
			n = 200
		}
	}
	start := time.Now()
	failed := 0
	kinds := map[string]int{}
	var kindOrder []string
	// Runs are independent: spread the seeds over every core, and report in seed order.
	results := make(chan simSeedResult, 256)
	go func() {
		defer close(results)
		var next atomic.Uint64
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					seed := next.Add(1)
					if seed > uint64(n) {
						return
					}
					results <- simSeedResult{seed, runSim(seed, bug)}
				}
			}()
		}
		wg.Wait()
	}()
	var all []simSeedResult
	for r := range results {
		if len(r.violations) > 0 {
			all = append(all, r)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seed < all[j].seed })
	for _, sr := range all {
		seed, r := sr.seed, sr.simResult
		if len(r.violations) > 0 {
			failed++
			k := simKind(r.violations[0])
			if kinds[k] == 0 {
				kindOrder = append(kindOrder, k)
				t.Logf("first seed of kind %q: %d", k, seed)
			}
			kinds[k]++
			if failed <= 5 {
				t.Errorf("seed %d: %d violations, first: %s\nreplay: %s", seed, len(r.violations), r.violations[0], simReplay(seed, *simBug))
			}
		}
	}
	el := time.Since(start)
	for _, k := range kindOrder {
		t.Logf("%d failing seeds: %s", kinds[k], k)
	}
	if failed > 0 {
		t.Errorf("%d of %d seeds failed", failed, n)
	}
	t.Logf("%d seeds in %s: %.0f seeds/s", n, el.Round(time.Millisecond), float64(n)/el.Seconds())
}

type simSeedResult struct {
	seed uint64
	simResult
}

func TestSimulation_Deterministic(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 42, 1234} {
		a, b := runSim(seed, 0), runSim(seed, 0)
		if a.trace != b.trace || a.events != b.events {
			t.Errorf("seed %d: traces differ: %016x/%d vs %016x/%d", seed, a.trace, a.events, b.trace, b.events)
		}
	}
}

func TestSimulation_FindsEachBug(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("slow; skipped with -short or -race: make test runs it in its plain pass")
	}
	for bug := 1; bug <= 7; bug++ {
		start := time.Now()
		found := false
		for seed := uint64(1); seed <= 20000 && time.Since(start) < 30*time.Second; seed++ {
			r := runSim(seed, regression(bug))
			// A seed counts only if the fixed code passes it.
			if len(r.violations) > 0 && len(runSim(seed, 0).violations) == 0 {
				t.Logf("bug %d: found by seed %d after %d seeds (%s): %s", bug, seed, seed, time.Since(start).Round(time.Millisecond), firstLine(r.violations[0]))
				found = true
				break
			}
		}
		if !found {
			t.Errorf("bug %d: not found within the cap", bug)
		}
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// simKind reduces a violation to its kind: no time, no ids.
func simKind(v string) string {
	v = firstLine(v)
	if i := strings.IndexByte(v, ' '); i >= 0 && strings.HasPrefix(v, "t=") {
		v = v[i+1:]
	}
	var out []string
	for _, w := range strings.Fields(v) {
		if strings.ContainsAny(w, "/#0123456789") {
			w = "…"
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}
