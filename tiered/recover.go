package tiered

import (
	"time"

	"context"
	"errors"
	"fmt"
	"github.com/stratastore/strata/tiered/driver"
)

// RecoverReport says what one Recover run did.
type RecoverReport struct {
	// Claimed is the number of abandoned change-log entries this run took over.
	Claimed int `json:"claimed"`
	// Dispatched is the number of cleanup tasks handed to the dispatcher.
	Dispatched int `json:"dispatched"`
	// Failed is the number of claimed entries whose dispatch failed; they become stale
	// again and a later run retries them.
	Failed int `json:"failed"`
}

// DefaultRecoverLimit bounds the entries one Recover run claims, so that a run fits well
// inside a function timeout.
const DefaultRecoverLimit = 100

// Recover claims up to limit abandoned change-log entries (their owner stopped renewing its
// lease, and their CleanupAfter has passed) and dispatches a cleanup task for each. It
// never replays a write: a cleanup only reads the row and deletes the revisions the row
// does not reference. limit <= 0 means DefaultRecoverLimit.
func (s *Store) Recover(ctx context.Context, limit int) (RecoverReport, error) {
	if limit <= 0 {
		limit = DefaultRecoverLimit
	}
	now := s.opts.Now()
	entries, err := s.log.ClaimStale(ctx, claim(s.owner, now, now.Add(-s.opts.StaleAfter), limit))
	if err != nil {
		return RecoverReport{}, &Error{Op: "recover", Err: fmt.Errorf("claim stale entries: %w", err)}
	}
	r := RecoverReport{Claimed: len(entries)}
	var errs []error
	for _, e := range entries {
		t := CleanupTask{ChangeID: e.ID, Change: e.Change, Phase: PhaseRecovered, NotBefore: now}
		if err := s.dispatcher.Dispatch(ctx, t); err != nil {
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

func claim(owner string, now, staleBefore time.Time, limit int) driver.Claim {
	return driver.Claim{Owner: owner, Now: now, StaleBefore: staleBefore, Limit: limit}
}
