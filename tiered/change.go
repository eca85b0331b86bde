package tiered

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// Phase is where a cross-tier change stands; see driver.Phase. The change log stores it, and
// cleanup acts only on what the entry says.
type Phase = driver.Phase

// The phases of a change; see driver.Phase for each.
const (
	PhaseRecorded   = driver.PhaseRecorded
	PhaseAssembling = driver.PhaseAssembling
	PhaseWritten    = driver.PhaseWritten
	PhaseAborted    = driver.PhaseAborted
	PhaseLost       = driver.PhaseLost
	PhaseUpdated    = driver.PhaseUpdated
	PhaseUnknown    = driver.PhaseUnknown
	PhaseSuperseded = driver.PhaseSuperseded
)

// CleanupTask is what a Dispatcher carries from a commit point (or from recovery) to
// Store.Cleanup: a pointer to a change-log entry, never an authority. Cleanup reads the
// phase, the times and the revisions from the entry; a task whose entry is gone, or still in
// progress, does nothing. It serialises to JSON for transports such as Pub/Sub.
type CleanupTask struct {
	ChangeID driver.ChangeID
	// Object is the change's object as a storage path, for logs only.
	Object string
}

type taskJSON struct {
	ChangeID string `json:"change_id"`
	Object   string `json:"object,omitempty"`
}

// maxChangeIDLen bounds a change id in a task; Strata's are 36-byte UUIDs.
const maxChangeIDLen = 128

// MarshalJSON encodes the task.
func (t CleanupTask) MarshalJSON() ([]byte, error) {
	return json.Marshal(taskJSON{ChangeID: string(t.ChangeID), Object: t.Object})
}

// UnmarshalJSON decodes MarshalJSON's form. Fields of older task formats (phase, paths,
// times) are ignored: nothing in a message is trusted.
func (t *CleanupTask) UnmarshalJSON(b []byte) error {
	var j taskJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return object.Invalidf("cleanup task: %v", err)
	}
	if j.ChangeID == "" || len(j.ChangeID) > maxChangeIDLen {
		return object.Invalidf("cleanup task needs a change_id of 1 to %d bytes", maxChangeIDLen)
	}
	*t = CleanupTask{ChangeID: driver.ChangeID(j.ChangeID), Object: j.Object}
	return nil
}

func taskFor(e driver.LogEntry) CleanupTask {
	return CleanupTask{ChangeID: e.ID, Object: e.Change.ID.StoragePath()}
}

// ErrNotDue is matched by the error Cleanup returns for an entry whose time has not come;
// see *NotDueError.
var ErrNotDue = errors.New("cleanup not due yet")

// NotDueError says when a deferred cleanup becomes due. It matches ErrNotDue. Transports
// redeliver the task later (Pub/Sub with backoff, the Worker with a timer); if they give up,
// recovery dispatches the entry again once it is due.
type NotDueError struct {
	ChangeID driver.ChangeID
	Due      time.Time
	// Wait is how long until Due by the clock of the Store that answered.
	Wait time.Duration
}

func (e *NotDueError) Error() string {
	return fmt.Sprintf("cleanup of change %s is not due until %s", e.ChangeID, e.Due.UTC().Format(time.RFC3339Nano))
}

// Is reports whether target is ErrNotDue.
func (e *NotDueError) Is(target error) bool { return target == ErrNotDue }

// Dispatcher carries cleanup tasks to Store.Cleanup, possibly in another process.
//
// Dispatch must have accepted the task durably (or queued it in a process that drains it on
// Close) before it returns nil; the request path awaits it before responding. If Dispatch
// fails the change-log entry stays, and recovery picks it up later. Close stops accepting
// tasks and waits, until ctx ends, for the accepted ones to finish.
type Dispatcher interface {
	Dispatch(ctx context.Context, t CleanupTask) error
	Close(ctx context.Context) error
}

// guard tracks one logged change through its phases. While the request runs, its lease is
// renewed by a heartbeat timer, and every compare-and-write it attempts carries a deadline
// that ends before the lease can be claimed (commitDeadline). When the request ends, finish
// writes the outcome to the entry and dispatches its cleanup.
type guard struct {
	s     *Store
	entry driver.LogEntry
	// owner is this guard's own lease token: every attempt holds its entry under a token of
	// its own, so that a stalled write of an earlier attempt of the same process can never
	// pass for a later attempt's.
	owner string
	// phase is the in-memory phase: Recorded or Assembling until a compare-and-write is
	// attempted, Written while its outcome is unknown, then Updated or Lost.
	phase Phase
	// deadline is the latest commit deadline attempted; a stalled attempt can land until then.
	deadline time.Time
	// ltPending: a long-term write was started and has not returned success, so it may still
	// land later (LongTermSettle).
	ltPending bool
	// multipart changes keep their in-progress phase across attempts (see finish).
	multipart bool
	// drop removes the entry at finish without cleanup: nothing of this attempt needs it.
	drop bool

	mu       sync.Mutex
	lastBeat time.Time // the heartbeat the log holds for us, by our clock
	lost     bool      // another owner claimed the entry, or it vanished
	stopped  bool
	stopBeat func() bool
}

// record writes the change to the log (write-ahead) under a fresh id and returns its guard.
func (s *Store) record(ctx context.Context, c driver.Change) (*guard, error) {
	now := s.now()
	e := driver.LogEntry{ID: driver.ChangeID(s.opts.NewUUID().String()), Change: c, Phase: PhaseRecorded, Owner: s.leaseToken(), Heartbeat: now}
	if err := s.log.Record(ctx, e); err != nil {
		return nil, fmt.Errorf("record change: %w", err)
	}
	return s.hold(e), nil
}

// leaseToken returns a fresh lease token for one attempt of this Store.
func (s *Store) leaseToken() string { return s.owner + "/" + s.opts.NewUUID().String() }

// hold starts guarding an entry this Store has just written with its own lease.
func (s *Store) hold(e driver.LogEntry) *guard {
	g := &guard{s: s, entry: e, owner: e.Owner, phase: e.Phase, lastBeat: e.Heartbeat}
	g.mu.Lock()
	g.stopBeat = s.opts.Clock.AfterFunc(s.opts.HeartbeatInterval, g.beat)
	g.mu.Unlock()
	return g
}

// beat renews the lease once and schedules the next renewal.
func (g *guard) beat() {
	g.mu.Lock()
	if g.stopped || g.lost {
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	now := g.s.now()
	var err error
	if g.s.regress != regressFrozenHeartbeat {
		ctx, cancel := context.WithTimeout(context.Background(), g.s.opts.HeartbeatInterval)
		err = g.s.log.Refresh(ctx, g.entry.ID, g.owner, now)
		cancel()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case err == nil:
		if g.s.regress != regressFrozenHeartbeat && now.After(g.lastBeat) {
			g.lastBeat = now
		}
	case errors.Is(err, object.ErrConflict), errors.Is(err, object.ErrNotFound):
		g.lost = true
	}
	if err != nil {
		g.s.opts.Logger.Warn("change-log heartbeat failed", "change", g.entry.ID, "err", err)
	}
	if !g.stopped && !g.lost {
		g.stopBeat = g.s.opts.Clock.AfterFunc(g.s.opts.HeartbeatInterval, g.beat)
	}
}

func (g *guard) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
	if g.stopBeat != nil {
		g.stopBeat()
	}
}

// commitDeadline returns the deadline for a compare-and-write attempted now. The lease
// becomes claimable StaleAfter after the last heartbeat by the claimer's clock; the deadline
// ends 2×MaxClockSkew earlier by ours, so that by the backend's clock every attempt is dead
// before recovery can claim the entry and read the row (see the package doc's fencing
// argument). It fails with errLeaseLost when that time has passed or the lease was claimed.
func (g *guard) commitDeadline() (time.Time, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.lost {
		return time.Time{}, errLeaseLost
	}
	d := g.lastBeat.Add(g.s.opts.StaleAfter - 2*g.s.opts.MaxClockSkew)
	if !g.s.now().Before(d) {
		g.s.opts.Logger.Warn("fence: change-log lease expired before the commit; not committing",
			"change", g.entry.ID, "object", g.entry.Change.ID.StoragePath(), "last_heartbeat", g.lastBeat)
		return time.Time{}, errLeaseLost
	}
	if g.s.regress == regressLeaseNotFence {
		return time.Time{}, nil // the old check: valid now, but no bound on when the write lands
	}
	return d, nil
}

// commit is the commit point: one compare-and-write of w over current, fenced by the lease.
// It leaves the guard in Updated or Lost, or in Written when the outcome is unknown (an error).
func (g *guard) commit(ctx context.Context, current *object.ID, w driver.Write) error {
	id := g.entry.Change.ID
	attempt := func(current *object.ID) (bool, error) {
		d, err := g.commitDeadline()
		if err != nil {
			return false, err
		}
		w.Deadline = d
		if d.After(g.deadline) {
			g.deadline = d
		}
		g.phase = PhaseWritten
		return g.s.hv.CompareAndWrite(ctx, id, current, w)
	}
	won, err := attempt(current)
	if err != nil {
		return err
	}
	if !won && current != nil && w.Kind == driver.WriteTombstone && g.s.regress != regressExpiryIsLoss {
		// The predicate failed: another writer won, or the tombstone we meant to replace
		// expired meanwhile. Only the first is a lost race; after an expiry no writer won,
		// and the write must still land (refreshing a TTL object just before it expires).
		e, err := g.s.hv.GetTieredMetadata(ctx, id)
		if err != nil {
			return err
		}
		if e.Kind != driver.EntryTombstone {
			if won, err = attempt(nil); err != nil {
				return err
			}
		}
	}
	if won {
		g.phase = PhaseUpdated
	} else {
		g.phase = PhaseLost
	}
	return nil
}

// markWritten durably moves a multipart change to Written before its compare-and-write, so
// that no later attempt of the same complete can commit the revision a second time.
func (g *guard) markWritten(ctx context.Context) error { return g.logPhase(ctx, PhaseWritten) }

// logPhase durably moves the entry to an in-progress phase, while this guard holds it.
func (g *guard) logPhase(ctx context.Context, p Phase) error {
	e := g.entry
	e.Phase = p
	if err := g.s.log.Update(ctx, e, driver.Lease{Owner: g.owner}); err != nil {
		if errors.Is(err, object.ErrConflict) || errors.Is(err, object.ErrNotFound) {
			return errLeaseLost
		}
		return fmt.Errorf("log the commit attempt: %w", err)
	}
	g.entry = e
	g.phase = p
	return nil
}

// outcome maps the in-memory phase to the final phase and the time cleanup may act.
func (g *guard) outcome(now time.Time) (Phase, time.Time) {
	o := g.s.opts
	switch g.phase {
	case PhaseUpdated:
		return PhaseUpdated, now.Add(o.GracePeriod)
	case PhaseLost:
		return PhaseLost, now
	case PhaseWritten:
		return PhaseUnknown, g.deadline.Add(o.MaxClockSkew)
	default: // Recorded: no compare-and-write was attempted
		if g.ltPending {
			return PhaseAborted, now.Add(o.LongTermSettle)
		}
		return PhaseAborted, now
	}
}

// finish stops the heartbeat and writes the change's outcome to its entry, then dispatches
// the cleanup. It runs after the commit point with a context detached from the client's: a
// client that goes away must not stop it. Failures are logged, not returned: the entry stays
// in the log, and recovery settles it.
//
// A multipart change that has not attempted its compare-and-write releases its lease and
// stays Assembling, so that the client can retry the complete at once; one whose attempt
// failed stays Written, and its lease lapses, so that a retry settles it.
func (g *guard) finish(ctx context.Context) {
	g.stop()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultDispatchTimeout)
	defer cancel()
	s := g.s
	if g.drop {
		if err := s.log.Remove(ctx, g.entry.ID); err != nil {
			s.opts.Logger.Warn("removing change-log entry failed; recovery will settle it", "change", g.entry.ID, "err", err)
		}
		return
	}
	if g.multipart && (g.phase == PhaseRecorded || g.phase == PhaseAssembling || g.phase == PhaseWritten) {
		if g.phase != PhaseWritten {
			e := g.entry
			e.Owner = ""
			if err := s.log.Update(ctx, e, driver.Lease{Owner: g.owner}); err != nil {
				s.opts.Logger.Warn("releasing a multipart complete's entry failed; its lease lapses instead",
					"change", e.ID, "err", err)
			}
		}
		return
	}
	now := s.now()
	e := g.entry
	e.Phase, e.NotBefore = g.outcome(now)
	e.Change.CleanupAfter = e.NotBefore
	if s.regress == regressRecoveryIgnoresGrace {
		e.Change.CleanupAfter = time.Time{}
	}
	e.Heartbeat = now
	if len(doomed(e)) == 0 {
		// Nothing to delete: the outcome is settled, so the entry can go now.
		if err := s.log.Remove(ctx, e.ID); err != nil {
			s.opts.Logger.Warn("removing change-log entry failed; recovery will settle it", "change", e.ID, "err", err)
		}
		return
	}
	if err := s.log.Update(ctx, e, driver.Lease{Owner: g.owner}); err != nil {
		s.opts.Logger.Warn("fence: the change-log lease was lost before the outcome was logged; recovery settles it from the row",
			"change", e.ID, "object", e.Change.ID.StoragePath(), "phase", e.Phase.String(), "err", err)
		if g.ltPending || e.Change.New == nil || (e.Phase != PhaseAborted && e.Phase != PhaseLost) {
			return
		}
		// Our new revision is certainly not committed, and it was written after recovery
		// took the entry over, possibly after recovery already deleted it: log it again
		// under a fresh entry so that it is not orphaned.
		e = driver.LogEntry{ID: driver.ChangeID(s.opts.NewUUID().String()),
			Change: driver.Change{ID: e.Change.ID, New: e.Change.New, CleanupAfter: now},
			Phase:  PhaseAborted, NotBefore: now, Owner: s.leaseToken(), Heartbeat: now}
		if err := s.log.Record(ctx, e); err != nil {
			s.opts.Logger.Error("logging an orphaned revision failed", "change", e.ID, "revision", e.Change.New.StoragePath(), "err", err)
			return
		}
	}
	if err := s.dispatcher.Dispatch(ctx, taskFor(e)); err != nil {
		s.opts.Logger.Error("dispatching cleanup failed; recovery will pick it up",
			"change", e.ID, "object", e.Change.ID.StoragePath(), "err", err)
	}
}

// doomed lists the revisions a final entry's cleanup may delete (each only if the row does
// not reference it then).
func doomed(e driver.LogEntry) []object.ID {
	var out []object.ID
	add := func(id *object.ID) {
		if id != nil {
			out = append(out, *id)
		}
	}
	switch e.Phase {
	case PhaseAborted, PhaseLost:
		add(e.Change.New)
	case PhaseUpdated:
		add(e.Change.Old)
	case PhaseUnknown, PhaseSuperseded:
		add(e.Change.Old)
		add(e.Change.New)
	}
	return out
}

var errLeaseLost = fmt.Errorf("%w: change-log lease lost before commit", object.ErrUnavailable)

// settle decides an Unknown change from the row, once no attempt of its compare-and-write
// can still land: the row references New (it committed: Updated), or still references Old
// (it never landed: Lost), or neither (it may have landed and been replaced: Superseded).
// The result is written to the entry, conditional on the lease e was read with.
func (s *Store) settle(ctx context.Context, e driver.LogEntry) (driver.LogEntry, error) {
	row, err := s.hv.GetTieredMetadata(ctx, e.Change.ID)
	if err != nil {
		return e, fmt.Errorf("read row: %w", err)
	}
	cur := liveTarget(row)
	now := s.now()
	next := e
	c := e.Change
	switch {
	case c.New != nil && cur != nil && cur.Equal(*c.New):
		next.Phase, next.NotBefore = PhaseUpdated, now.Add(s.opts.GracePeriod)
	case c.Old != nil && cur != nil && cur.Equal(*c.Old):
		next.Phase, next.NotBefore = PhaseLost, now
	default:
		next.Phase, next.NotBefore = PhaseSuperseded, now.Add(s.opts.GracePeriod)
	}
	next.Change.CleanupAfter = next.NotBefore
	next.Heartbeat = now
	if err := s.log.Update(ctx, next, e.Lease()); err != nil {
		return e, fmt.Errorf("log the settled outcome: %w", err)
	}
	return next, nil
}

// Cleanup carries out the cleanup of the change-log entry a task names. Everything it does
// comes from the entry: an entry that is gone needs nothing; one still in progress is
// refused (its holder, or recovery once its lease is stale, settles it); one not yet due
// returns a *NotDueError. A due entry is settled if its outcome is unknown; then every
// revision its phase dooms is deleted unless the row references it, its multipart upload is
// aborted, and the entry is removed. Cleanup is idempotent, so a redelivered task is
// harmless, and a forged one can only make due work happen on time.
func (s *Store) Cleanup(ctx context.Context, t CleanupTask) error {
	e, err := s.log.Get(ctx, t.ChangeID)
	if errors.Is(err, object.ErrNotFound) {
		return nil
	}
	if err != nil {
		return &Error{Op: "cleanup", Key: t.Object, Err: fmt.Errorf("read change-log entry %s: %w", t.ChangeID, err)}
	}
	c := e.Change
	if !e.Phase.Final() {
		s.opts.Logger.Warn("cleanup: change still in progress; nothing done",
			"change", e.ID, "object", c.ID.StoragePath(), "phase", e.Phase.String())
		return nil
	}
	if now := s.now(); now.Before(e.NotBefore) {
		return &NotDueError{ChangeID: e.ID, Due: e.NotBefore, Wait: e.NotBefore.Sub(now)}
	}
	if e.Phase == PhaseUnknown {
		if e, err = s.settle(ctx, e); err != nil {
			return wrapErr("cleanup", c.ID, err)
		}
		if now := s.now(); now.Before(e.NotBefore) {
			return &NotDueError{ChangeID: e.ID, Due: e.NotBefore, Wait: e.NotBefore.Sub(now)}
		}
	}
	revs := doomed(e)
	if len(revs) > 0 {
		// A revision the row references is never deleted: it is live.
		row, err := s.hv.GetTieredMetadata(ctx, c.ID)
		if err != nil {
			return wrapErr("cleanup", c.ID, fmt.Errorf("read row: %w", err))
		}
		current := liveTarget(row)
		for _, rev := range revs {
			if current != nil && rev.Equal(*current) {
				continue
			}
			// The entry was written by a Store, so its revisions belong to its object; the
			// check guards against a corrupted or foreign entry. The object's own path is
			// allowed: objectstore's legacy tombstones point there.
			if !rev.Equal(c.ID) && !isRevisionOf(rev, c.ID) {
				s.opts.Logger.Warn("cleanup: not deleting a blob that is not a revision of the change's object",
					"change", e.ID, "object", c.ID.StoragePath(), "blob", rev.StoragePath())
				continue
			}
			if err := s.lt.Delete(ctx, rev); err != nil {
				return wrapErr("cleanup", c.ID, fmt.Errorf("delete revision %s: %w", rev, err))
			}
			s.opts.Observer.CleanupDeleted(ctx, "revision")
		}
	}
	if c.UploadID != "" && c.New != nil && e.Phase != PhaseUpdated {
		if s.regress != regressAbortForeignUpload && !ownsUploadEntry(e) {
			// Only the upload the entry owns is ever aborted: one that writes a revision of
			// the entry's own object, in an entry named by that revision (acquireComplete).
			// Anything else is a corrupted or foreign entry; its upload is left to the
			// backend's reaper.
			s.opts.Logger.Warn("cleanup: not aborting an upload that the entry does not own",
				"change", e.ID, "object", c.ID.StoragePath(), "revision", c.New.StoragePath())
			return s.removeEntry(ctx, e)
		}
		// Only a Store with multipart logs an upload; a Store without it that shares the log
		// leaves the entry (ErrUnimplemented) for one that can abort the upload.
		mp, err := s.multipart()
		if err == nil {
			err = mp.AbortMultipart(ctx, *c.New, c.UploadID)
		}
		if err != nil && !errors.Is(err, object.ErrNotFound) {
			return wrapErr("cleanup", c.ID, fmt.Errorf("abort upload: %w", err))
		}
		if err == nil {
			s.opts.Observer.CleanupDeleted(ctx, "upload")
		}
	}
	return s.removeEntry(ctx, e)
}

// removeEntry ends a cleanup by removing its entry.
func (s *Store) removeEntry(ctx context.Context, e driver.LogEntry) error {
	if err := s.log.Remove(ctx, e.ID); err != nil {
		return wrapErr("cleanup", e.Change.ID, fmt.Errorf("remove change-log entry: %w", err))
	}
	return nil
}

// ownsUploadEntry reports whether e is a multipart complete's entry for its own upload: its
// New is a revision of its object, and the entry is named by that revision's UUID. Those are
// the only entries acquireComplete writes with an UploadID; the backend, in turn, aborts an
// upload only for the revision it writes (driver.Multipart).
func ownsUploadEntry(e driver.LogEntry) bool {
	c := e.Change
	return c.New != nil && isRevisionOf(*c.New, c.ID) && c.New.Key == c.ID.Key+"/"+string(e.ID)
}
