package tiered

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/stratastore/strata/tiered/driver"
)

// Phase is where a cross-tier change stands; it decides what cleanup deletes.
type Phase uint8

const (
	// PhaseRecorded: the change is logged; the long-term write may be under way or failed.
	// The row was not changed, so cleanup treats Old as live and deletes New.
	PhaseRecorded Phase = iota
	// PhaseAssembling: a multipart complete is logged. Nothing is cleaned up when the request
	// ends in this phase; the entry waits for recovery after Change.CleanupAfter, so that the
	// client can retry the complete until then.
	PhaseAssembling
	// PhaseWritten: the compare-and-write was attempted and its outcome is unknown. Cleanup
	// reads the row to learn which revision is live.
	PhaseWritten
	// PhaseLost: the compare-and-write lost to a concurrent writer: Old stays, New goes.
	PhaseLost
	// PhaseUpdated: the compare-and-write committed: New is live, Old goes.
	PhaseUpdated
	// PhaseRecovered: recovery claimed an abandoned entry. Cleanup reads the row.
	PhaseRecovered
	// PhaseCompleted: nothing is left to do.
	PhaseCompleted
)

var phaseNames = [...]string{"recorded", "assembling", "written", "lost", "updated", "recovered", "completed"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", p)
}

// MarshalText encodes the phase by name.
func (p Phase) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText decodes a phase name.
func (p *Phase) UnmarshalText(b []byte) error {
	for i, n := range phaseNames {
		if n == string(b) {
			*p = Phase(i)
			return nil
		}
	}
	return fmt.Errorf("%w: unknown phase %q", ErrInvalidArgument, b)
}

// afterCAS maps a compare-and-write result to its phase.
func afterCAS(won bool) Phase {
	if won {
		return PhaseUpdated
	}
	return PhaseLost
}

// CleanupTask is the unit of work a Dispatcher carries from a commit point (or from
// recovery) to Store.Cleanup. It serialises to JSON for transports such as Pub/Sub.
type CleanupTask struct {
	ChangeID driver.ChangeID
	Change   driver.Change
	Phase    Phase
	// NotBefore is the earliest time the task may delete anything (the grace period).
	NotBefore time.Time
}

type taskJSON struct {
	ChangeID     string    `json:"change_id"`
	ID           string    `json:"id"`
	New          string    `json:"new,omitempty"`
	Old          string    `json:"old,omitempty"`
	UploadID     string    `json:"upload_id,omitempty"`
	CleanupAfter time.Time `json:"cleanup_after,omitzero"`
	Phase        Phase     `json:"phase"`
	NotBefore    time.Time `json:"not_before,omitzero"`
}

func pathOf(id *driver.ObjectID) string {
	if id == nil {
		return ""
	}
	return id.StoragePath()
}

func parseOptPath(p string) (*driver.ObjectID, error) {
	if p == "" {
		return nil, nil
	}
	id, err := driver.ParseStoragePath(p)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// MarshalJSON encodes the task with ids as storage paths.
func (t CleanupTask) MarshalJSON() ([]byte, error) {
	return json.Marshal(taskJSON{
		ChangeID: string(t.ChangeID), ID: t.Change.ID.StoragePath(),
		New: pathOf(t.Change.New), Old: pathOf(t.Change.Old),
		UploadID: t.Change.UploadID, CleanupAfter: t.Change.CleanupAfter,
		Phase: t.Phase, NotBefore: t.NotBefore,
	})
}

// UnmarshalJSON decodes and validates MarshalJSON's form.
func (t *CleanupTask) UnmarshalJSON(b []byte) error {
	var j taskJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("%w: cleanup task: %v", ErrInvalidArgument, err)
	}
	if j.ChangeID == "" {
		return fmt.Errorf("%w: cleanup task without change_id", ErrInvalidArgument)
	}
	id, err := driver.ParseStoragePath(j.ID)
	if err != nil {
		return err
	}
	newID, err := parseOptPath(j.New)
	if err != nil {
		return err
	}
	oldID, err := parseOptPath(j.Old)
	if err != nil {
		return err
	}
	*t = CleanupTask{
		ChangeID:  driver.ChangeID(j.ChangeID),
		Change:    driver.Change{ID: id, New: newID, Old: oldID, UploadID: j.UploadID, CleanupAfter: j.CleanupAfter},
		Phase:     j.Phase,
		NotBefore: j.NotBefore,
	}
	return nil
}

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

// guard tracks one logged change through its phases. Its lease is renewed in the
// background while the request runs; finish ends it and hands the cleanup to the dispatcher.
type guard struct {
	s     *Store
	entry driver.LogEntry
	phase Phase

	mu       sync.Mutex
	lastBeat time.Time
	lost     bool // another owner claimed the entry, or it vanished

	stop chan struct{}
	done chan struct{}
}

// record writes the change to the log (write-ahead) under a fresh id and returns its guard
// in phase.
func (s *Store) record(ctx context.Context, c driver.Change, phase Phase) (*guard, error) {
	return s.recordAs(ctx, driver.ChangeID(uuid.Must(uuid.NewV7()).String()), c, phase)
}

// recordAs is record under a given id. Recording an id again replaces the entry: every
// attempt of one multipart complete records under the same id, so a retry takes over the
// entry of an attempt that failed instead of leaving it behind.
func (s *Store) recordAs(ctx context.Context, id driver.ChangeID, c driver.Change, phase Phase) (*guard, error) {
	now := s.opts.Now()
	e := driver.LogEntry{ID: id, Change: c, Owner: s.owner, Heartbeat: now}
	if err := s.log.Record(ctx, e); err != nil {
		return nil, fmt.Errorf("record change: %w", err)
	}
	g := &guard{s: s, entry: e, phase: phase, lastBeat: now, stop: make(chan struct{}), done: make(chan struct{})}
	go g.heartbeat()
	return g, nil
}

func (g *guard) heartbeat() {
	defer close(g.done)
	t := time.NewTicker(g.s.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		now := g.s.opts.Now()
		ctx, cancel := context.WithTimeout(context.Background(), g.s.opts.HeartbeatInterval)
		err := g.s.log.Refresh(ctx, g.entry.ID, g.s.owner, now)
		cancel()
		g.mu.Lock()
		switch {
		case err == nil:
			g.lastBeat = now
		case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound):
			g.lost = true
		}
		lost := g.lost
		g.mu.Unlock()
		if err != nil {
			g.s.opts.Logger.Warn("change-log heartbeat failed", "change", g.entry.ID, "err", err)
		}
		if lost {
			return
		}
	}
}

// valid reports whether this process still owns the entry: it was not claimed, and its
// lease was renewed recently enough that recovery cannot have claimed it yet.
func (g *guard) valid() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.lost && g.s.opts.Now().Sub(g.lastBeat) < g.s.opts.StaleAfter-g.s.opts.HeartbeatInterval/2
}

func (g *guard) advance(p Phase) { g.phase = p }

// finish stops the heartbeat and dispatches the cleanup the phase calls for. It runs after
// the commit point, so it uses a context detached from the client's: a client that goes
// away must not stop cleanup. A dispatch failure is logged, not returned: the entry stays
// in the log for recovery.
func (g *guard) finish(ctx context.Context) {
	close(g.stop)
	<-g.done
	if g.phase == PhaseAssembling || g.phase == PhaseCompleted {
		return
	}
	task := CleanupTask{ChangeID: g.entry.ID, Change: g.entry.Change, Phase: g.phase}
	if task.Phase != PhaseRecorded && task.Phase != PhaseLost && task.Change.Old != nil {
		// The old revision was live until this change: readers may still be streaming it.
		// (New is never deleted while the row references it, so only Old needs the wait.)
		task.NotBefore = g.s.opts.Now().Add(g.s.opts.GracePeriod)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultDispatchTimeout)
	defer cancel()
	if err := g.s.dispatcher.Dispatch(ctx, task); err != nil {
		g.s.opts.Logger.Error("dispatching cleanup failed; recovery will pick it up",
			"change", g.entry.ID, "object", g.entry.Change.ID.StoragePath(), "err", err)
	}
}

// complete marks the change done and removes its entry now, for paths that know nothing
// needs deleting.
func (g *guard) complete(ctx context.Context) {
	g.phase = PhaseCompleted
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultDispatchTimeout)
	defer cancel()
	if err := g.s.log.Remove(ctx, g.entry.ID); err != nil {
		g.s.opts.Logger.Warn("removing change-log entry failed; recovery will remove it", "change", g.entry.ID, "err", err)
	}
}

var errLeaseLost = errors.New("change-log lease lost before commit")

// Cleanup carries out one cleanup task: it waits for the task's grace period, reads which
// revision the row references, deletes the revisions the change may have left unreferenced
// (never the one the row references), aborts the change's multipart upload if any, and
// removes the change-log entry. It is idempotent, so a redelivered task is harmless.
func (s *Store) Cleanup(ctx context.Context, t CleanupTask) error {
	if wait := t.NotBefore.Sub(s.opts.Now()); wait > 0 {
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
	}
	c := t.Change
	// The phase says which revisions this change may have left unreferenced: its own new
	// revision if it did not commit, the old one if it did, either when the outcome is
	// unknown. The old revision is left alone when the change lost or never reached its
	// commit: the writer that replaced it deletes it, after its grace period.
	var candidates []*driver.ObjectID
	switch t.Phase {
	case PhaseRecorded, PhaseLost:
		candidates = []*driver.ObjectID{c.New}
	case PhaseUpdated:
		candidates = []*driver.ObjectID{c.Old}
	case PhaseWritten, PhaseRecovered:
		candidates = []*driver.ObjectID{c.Old, c.New}
	default:
		return wrapErr("cleanup", c.ID, fmt.Errorf("%w: cannot clean up a change in phase %s", ErrInvalidArgument, t.Phase))
	}
	// Whatever the phase, a revision the row references now is never deleted. A revision is
	// normally referenced by one commit only, but a retried multipart complete may commit its
	// revision again after a later write replaced it; deleting what the row points to would
	// leave a dangling tombstone.
	e, err := s.hv.GetTieredMetadata(ctx, c.ID)
	if err != nil {
		return wrapErr("cleanup", c.ID, fmt.Errorf("read row: %w", err))
	}
	current := liveTarget(e)
	for _, rev := range candidates {
		if rev == nil || (current != nil && rev.Equal(*current)) {
			continue
		}
		// A task may come from outside the process (a Pub/Sub push). It may only delete
		// revisions of its own object, whose row was just consulted, or the object's own
		// path (objectstore's legacy tombstones point there); anything else is left alone.
		if !rev.Equal(c.ID) && !isRevisionOf(*rev, c.ID) {
			s.opts.Logger.Warn("cleanup: not deleting a blob that is not a revision of the change's object",
				"change", t.ChangeID, "object", c.ID.StoragePath(), "blob", rev.StoragePath())
			continue
		}
		if err := s.lt.Delete(ctx, *rev); err != nil {
			return wrapErr("cleanup", c.ID, fmt.Errorf("delete revision %s: %w", rev, err))
		}
	}
	if c.UploadID != "" && c.New != nil {
		if err := s.lt.AbortMultipart(ctx, *c.New, c.UploadID); err != nil && !errors.Is(err, ErrNotFound) {
			return wrapErr("cleanup", c.ID, fmt.Errorf("abort upload: %w", err))
		}
	}
	if err := s.log.Remove(ctx, t.ChangeID); err != nil {
		return wrapErr("cleanup", c.ID, fmt.Errorf("remove change-log entry: %w", err))
	}
	return nil
}
