package tiered

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// RecoverReport says what one Recover run did. Its counts are also recorded, with the
// outcome, in the change log's driver.RunLog when it has one (see LastRun).
type RecoverReport struct {
	// Claimed is the number of abandoned change-log entries this run took over.
	Claimed int `json:"claimed"`
	// Settled is the number of claimed entries still in progress that this run marked final
	// (Unknown, Aborted or Updated) before dispatching them; the others were final already.
	Settled int `json:"settled"`
	// Dispatched is the number of cleanup tasks handed to the dispatcher.
	Dispatched int `json:"dispatched"`
	// Failed is the number of claimed entries that could not be settled or dispatched; they
	// become stale again and a later run retries them.
	Failed int `json:"failed"`
	// Started is when the run began, and Duration how long it took (Store's clock).
	Started  time.Time     `json:"-"`
	Duration time.Duration `json:"-"`
}

// DefaultRecoverLimit bounds the entries one Recover run claims, so that a run fits well
// inside a function timeout.
const DefaultRecoverLimit = 100

// Recover claims up to limit abandoned change-log entries (their lease is stale, and their
// CleanupAfter has passed) and dispatches a cleanup task for each. It never replays a write.
//
// An entry that is still in progress was abandoned by its holder, which may have crashed at
// any step. Claiming it closes its commit window: every compare-and-write the holder tried
// carried a deadline that has passed by now. So recovery marks it final: Unknown for a put or
// delete, settled from the row by cleanup; Aborted for a multipart complete that never tried
// to commit. If a long-term write may still be landing (an upload or an assembly), cleanup
// waits LongTermSettle first. A final entry keeps its phase and NotBefore: its cleanup was
// dispatched once already and failed, and the grace period still applies.
//
// Every run, failed or not, is recorded in the change log when it implements driver.RunLog
// (last writer wins among concurrent runs): start, duration, outcome, counts and
// Options.Instance with the Store's lease token. A failure to record is logged, never
// returned: it must not turn a good run into a failed one.
//
// limit <= 0 means DefaultRecoverLimit.
func (s *Store) Recover(ctx context.Context, limit int) (RecoverReport, error) {
	started := s.now()
	r, err := s.recoverOnce(ctx, limit, started)
	r.Started, r.Duration = started, s.now().Sub(started)
	if rl, ok := s.log.(driver.RunLog); ok {
		run := driver.RecoveryRun{Started: r.Started, Duration: r.Duration, Claimed: r.Claimed, Settled: r.Settled,
			Dispatched: r.Dispatched, Failed: r.Failed, Instance: s.opts.Instance + "/" + s.owner}
		if err != nil {
			run.Error = err.Error()
		}
		// Recorded even when ctx is done (a run cut short is worth knowing about), but bounded.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordRunTimeout)
		if rerr := rl.RecordRun(rctx, run); rerr != nil && !errors.Is(rerr, object.ErrUnimplemented) {
			s.opts.Logger.WarnContext(ctx, "could not record the recovery run", "err", rerr)
		}
		cancel()
	}
	return r, err
}

// recordRunTimeout bounds the write of the recovery-run record.
const recordRunTimeout = 10 * time.Second

func (s *Store) recoverOnce(ctx context.Context, limit int, now time.Time) (RecoverReport, error) {
	if limit <= 0 {
		limit = DefaultRecoverLimit
	}
	entries, err := s.log.ClaimStale(ctx, claim(s.owner, now, now.Add(-s.opts.StaleAfter), limit))
	if err != nil {
		return RecoverReport{}, &Error{Op: "recover", Err: fmt.Errorf("claim stale entries: %w", err)}
	}
	r := RecoverReport{Claimed: len(entries)}
	var errs []error
	for _, e := range entries {
		if next, ok := s.abandoned(e, now); ok {
			if err := s.log.Update(ctx, next, e.Lease()); err != nil {
				r.Failed++
				errs = append(errs, fmt.Errorf("settle change %s: %w", e.ID, err))
				continue
			}
			r.Settled++
			e = next
		}
		if err := s.dispatcher.Dispatch(ctx, taskFor(e)); err != nil {
			r.Failed++
			errs = append(errs, err)
			continue
		}
		r.Dispatched++
	}
	if len(errs) > 0 {
		return r, &Error{Op: "recover", Err: errors.Join(errs...)}
	}
	return r, nil
}

// abandoned returns the final form of a claimed entry that was still in progress.
func (s *Store) abandoned(e driver.LogEntry, now time.Time) (driver.LogEntry, bool) {
	settle := s.opts.LongTermSettle
	if s.regress == regressLeaseNotFence {
		settle = 0
	}
	next := e
	switch e.Phase {
	case PhaseRecorded:
		if e.Change.UploadID != "" {
			// An unproven multipart complete: nothing was assembled under it, and its
			// revision, if it exists, was committed by an earlier attempt. Nothing to delete;
			// an upload left over is the lifecycle rule's.
			next.Phase, next.NotBefore, next.Change.Old = PhaseUpdated, now, nil
			break
		}
		next.Phase, next.NotBefore = PhaseUnknown, now
		if e.Change.New != nil {
			next.NotBefore = now.Add(settle)
		}
	case PhaseAssembling:
		next.Phase, next.NotBefore = PhaseAborted, now.Add(settle)
	case PhaseWritten:
		next.Phase, next.NotBefore = PhaseUnknown, now
	default:
		if s.regress == regressRecoveryIgnoresGrace {
			next.Phase, next.NotBefore = PhaseSuperseded, now
			break
		}
		return e, false
	}
	next.Change.CleanupAfter = next.NotBefore
	return next, true
}

func claim(owner string, now, staleBefore time.Time, limit int) driver.Claim {
	return driver.Claim{Owner: owner, Now: now, StaleBefore: staleBefore, Limit: limit}
}
