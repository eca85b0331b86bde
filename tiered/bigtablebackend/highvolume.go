package bigtablebackend

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/bigtable"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// rowKey checks and returns the row key of id.
func rowKey(id object.ID) (string, error) {
	k := id.StoragePath()
	if id.Context.Usecase == "" || id.Key == "" {
		return "", object.Invalidf("empty usecase or key")
	}
	if len(k) > maxRowKeySize {
		return "", object.Invalidf("row key is %d bytes, more than Bigtable's %d", len(k), maxRowKeySize)
	}
	return k, nil
}

// readRow reads one row of the objects table with filter (one ReadRows RPC) and parses it.
func (b *Backend) readRow(ctx context.Context, op string, id object.ID, key string, filter bigtable.Filter, withPayload bool) (rowState, error) {
	var row bigtable.Row
	err := b.do(ctx, op, "ReadRows", func(ctx context.Context) error {
		var err error
		row, err = b.objects.ReadRow(ctx, key, bigtable.RowFilter(filter))
		return err
	})
	if err != nil {
		return rowState{}, err
	}
	return parseRow(id, row, b.now(), withPayload)
}

// casResult is what checkAndMutate learned.
type casResult struct {
	// ok reports whether the write ran on the attempt that answered.
	ok bool
	// attempts is the number of attempts sent.
	attempts int
	// earlier is the error of the last failed attempt before the one that answered (nil when
	// the first attempt answered). Such an attempt may have applied the write: gRPC does not
	// tell whether a failed request reached the server.
	earlier error
}

// checkAndMutate applies w under p on the objects table (one CheckAndMutateRow per attempt,
// none started at or after deadline when it is set) and reports whether the write ran.
// Retrying is safe because every predicate is idempotent: a repeated CAS whose first response
// was lost reports success again. A repeated CAS that does not match, though, cannot tell
// "never applied" from "applied, then replaced by another writer": r.earlier says when that
// is possible.
func (b *Backend) checkAndMutate(ctx context.Context, op, key string, p predicate, w rowWrite, attempts int, deadline time.Time) (casResult, error) {
	m := p.mutation(w)
	var matched bool
	var r casResult
	err := b.doAttempts(ctx, op, "CheckAndMutateRow", attempts, deadline, func(ctx context.Context) error {
		r.attempts++
		err := b.objects.Apply(ctx, key, m, bigtable.GetCondMutationResult(&matched))
		if err != nil {
			r.earlier = err
		}
		return err
	})
	if err != nil {
		return casResult{}, err
	}
	r.ok = p.succeeded(matched)
	return r, nil
}

// PutNonTombstone writes an inline object unless a live tombstone is at id, which it returns.
// One CheckAndMutateRow when no tombstone is there. When one is, a read of m, r, t follows and
// returns it; see raceRounds for the case where the read no longer finds it.
func (b *Backend) PutNonTombstone(ctx context.Context, id object.ID, md object.Metadata, payload []byte) (*driver.Tombstone, error) {
	const op = "PutNonTombstone"
	key, err := rowKey(id)
	if err != nil {
		return nil, err
	}
	if len(payload) > MaxPayloadSize {
		return nil, fmt.Errorf("%w: inline payload of %d bytes exceeds %d", object.ErrTooLarge, len(payload), MaxPayloadSize)
	}
	w, err := objectWrite(md, payload, b.now())
	if err != nil {
		return nil, err
	}
	return b.raceRounds(ctx, op, id, key, w)
}

// DeleteNonTombstone deletes the row unless it is a live tombstone, which it returns and
// leaves in place. Same rounds as PutNonTombstone, with DeleteFromRow as the write.
func (b *Backend) DeleteNonTombstone(ctx context.Context, id object.ID) (*driver.Tombstone, error) {
	const op = "DeleteNonTombstone"
	key, err := rowKey(id)
	if err != nil {
		return nil, err
	}
	return b.raceRounds(ctx, op, id, key, deleteWrite())
}

// raceRounds applies w unless a live tombstone is at the row, returning that tombstone.
//
//  1. CheckAndMutateRow Exclude(live tombstone) → w. No tombstone: done, nil.
//  2. Otherwise read m, r, t. A live tombstone: return it; the row is untouched.
//  3. The tombstone is gone (replaced, deleted or expired since step 1): repeat step 1 once.
//     Written: nil.
//  4. Step 3 saw a live tombstone again. The read in step 2 found none, so that tombstone was
//     written after step 2 and before step 3, entirely within this call. This write is then
//     linearized just before it and superseded at once: last writer wins, as with any lost
//     race, and the row already holds the final state. Return nil without writing.
//
// objectstore loops up to three times and then fails; step 4 ends the race without an error,
// with at most two CheckAndMutateRow and one read.
func (b *Backend) raceRounds(ctx context.Context, op string, id object.ID, key string, w rowWrite) (*driver.Tombstone, error) {
	r, err := b.checkAndMutate(ctx, op, key, noTombstonePredicate(liveFrom(b.now())), w, b.opts.MaxAttempts, time.Time{})
	if err != nil || r.ok {
		return nil, err
	}
	st, err := b.readRow(ctx, op, id, key, metadataFilter(), false)
	if err != nil {
		return nil, err
	}
	if st.Entry.Kind == driver.EntryTombstone {
		t := st.Entry.Tombstone
		return &t, nil
	}
	r, err = b.checkAndMutate(ctx, op, key, noTombstonePredicate(liveFrom(b.now())), w, b.opts.MaxAttempts, time.Time{})
	if err != nil {
		return nil, err
	}
	if !r.ok {
		b.log.DebugContext(ctx, "bigtable write superseded by a concurrent tombstone", "op", op, "key", key)
	}
	return nil, nil
}

// CompareAndWrite applies w if the row's redirect state matches current, in one
// CheckAndMutateRow. The predicates (filters.go) make it idempotent: when the row already is
// in the state w produces, it applies w again and reports true.
//
// It reports (false, nil) only when the first attempt answered "no match". A retry that
// finds no match after a failed attempt returns an error matching object.ErrUnavailable
// (outcome unknown): the failed attempt may have committed and been replaced since.
//
// w.Deadline, when set, is enforced with the backend's clock: no attempt starts at or after
// it, and each attempt's gRPC deadline is min(RPCTimeout, Deadline - now), so that Bigtable
// drops an attempt still in flight at the deadline (see doc.go, "Write deadlines").
//
//	current  write            predicate
//	nil      object, delete   no live tombstone
//	nil      tombstone(new)   no live tombstone, or a live one to new
//	old      object, delete   a live tombstone to old, or none
//	old      tombstone(new)   a live tombstone to old or to new
func (b *Backend) CompareAndWrite(ctx context.Context, id object.ID, current *object.ID, w driver.Write) (bool, error) {
	const op = "CompareAndWrite"
	key, err := rowKey(id)
	if err != nil {
		return false, err
	}
	now := b.now()
	var rw rowWrite
	switch w.Kind {
	case driver.WriteObject:
		if len(w.Payload) > MaxPayloadSize {
			return false, fmt.Errorf("%w: inline payload of %d bytes exceeds %d", object.ErrTooLarge, len(w.Payload), MaxPayloadSize)
		}
		if rw, err = objectWrite(w.Metadata, w.Payload, now); err != nil {
			return false, err
		}
	case driver.WriteTombstone:
		if _, err := rowKey(w.Tombstone.Target); err != nil {
			return false, fmt.Errorf("tombstone target: %w", err)
		}
		rw = tombstoneWrite(w.Tombstone, now)
	case driver.WriteDelete:
		rw = deleteWrite()
	default:
		return false, object.Invalidf("unknown write kind %d", w.Kind)
	}
	lf := liveFrom(now)
	var p predicate
	// Only a swap between two tombstones is retried. Every other predicate also matches
	// "no live tombstone", a state the row can leave and return to (an inline object, a
	// delete): a retry after a lost response could then apply the write a second time over
	// a later writer's, and bring back a revision that writer's cleanup is about to delete.
	// Those calls make one attempt, and a failure is an unknown outcome for the Store to
	// settle from the row.
	attempts := 1
	switch {
	case current == nil && w.Kind != driver.WriteTombstone:
		p = noTombstonePredicate(lf)
	case current == nil:
		p = optionalTargetPredicate(w.Tombstone.Target, id, lf)
	case w.Kind != driver.WriteTombstone:
		p = optionalTargetPredicate(*current, id, lf)
	default:
		p = updatePredicate(*current, w.Tombstone.Target, id, lf)
		attempts = b.opts.MaxAttempts
	}
	r, err := b.checkAndMutate(ctx, op, key, p, rw, attempts, w.Deadline)
	if err != nil {
		return false, err
	}
	if !r.ok && r.earlier != nil {
		// An earlier attempt may have committed and another writer may have replaced it since:
		// reporting a lost race would make the caller delete a revision the row may have
		// referenced, and orphan the one it replaced.
		return false, &Error{Op: op, RPC: "CheckAndMutateRow", Attempts: r.attempts, Kind: object.ErrUnavailable,
			Err: fmt.Errorf("outcome unknown: the predicate did not match on attempt %d, but an earlier attempt failed (%v) and may have applied before another writer replaced the row", r.attempts, r.earlier)}
	}
	return r.ok, nil
}

// GetTiered reads the whole row in one ReadRows RPC. A stale TTI deadline is bumped by a
// second RPC, conditional on the version read; the returned metadata is the pre-bump one.
func (b *Backend) GetTiered(ctx context.Context, id object.ID) (driver.Entry, error) {
	const op = "GetTiered"
	key, err := rowKey(id)
	if err != nil {
		return driver.Entry{}, err
	}
	st, err := b.readRow(ctx, op, id, key, fullRowFilter(), true)
	if err != nil {
		return driver.Entry{}, err
	}
	if deadline, ok := bumpDeadline(st, b.now()); ok {
		b.bump(ctx, id, key, st, deadline)
	}
	return st.Entry, nil
}

// GetTieredMetadata reads m, r and t in one ReadRows RPC. A stale TTI tombstone is bumped
// like in GetTiered. A stale TTI object needs its payload for the rewrite, so the full row is
// read again and the bump is conditional on that read: the rewrite never combines the
// metadata of one version with the payload of another. The answer then comes from the second
// read, which is the newer one.
func (b *Backend) GetTieredMetadata(ctx context.Context, id object.ID) (driver.Entry, error) {
	const op = "GetTieredMetadata"
	key, err := rowKey(id)
	if err != nil {
		return driver.Entry{}, err
	}
	st, err := b.readRow(ctx, op, id, key, metadataFilter(), false)
	if err != nil {
		return driver.Entry{}, err
	}
	deadline, ok := bumpDeadline(st, b.now())
	if !ok {
		return st.Entry, nil
	}
	if st.Entry.Kind == driver.EntryTombstone {
		b.bump(ctx, id, key, st, deadline)
		return st.Entry, nil
	}
	full, err := b.readRow(ctx, op, id, key, fullRowFilter(), true)
	if err != nil {
		// Bump failures never fail the read.
		b.log.WarnContext(ctx, "bigtable tti bump: re-read failed", "key", key, "err", err)
		return st.Entry, nil
	}
	if deadline, ok := bumpDeadline(full, b.now()); ok {
		b.bump(ctx, id, key, full, deadline)
	}
	full.Entry.Payload = nil
	return full.Entry, nil
}

// bumpDeadline reports whether the TTI deadline of the row read should move, and where to.
func bumpDeadline(st rowState, now time.Time) (time.Time, bool) {
	switch st.Entry.Kind {
	case driver.EntryObject:
		md := st.Entry.Metadata
		return md.ExpirationPolicy.TTIBump(md.TimeExpires, now)
	case driver.EntryTombstone:
		t := st.Entry.Tombstone
		return t.ExpirationPolicy.TTIBump(t.Expires, now)
	}
	return time.Time{}, false
}

// bump rewrites the row read as st with the new deadline, conditional on the row still
// holding exactly that version (versionPredicate). It is one CheckAndMutateRow attempt: a
// bump is an optimisation, so its failures are logged and never fail or slow the read.
// Legacy tombstones are rewritten in the r/t format.
func (b *Backend) bump(ctx context.Context, id object.ID, key string, st rowState, deadline time.Time) {
	now := b.now()
	if st.Version.Family == familyTimed && st.Version.TS < liveFrom(now) {
		return // expired since the read: a bump would resurrect it
	}
	var w rowWrite
	switch st.Entry.Kind {
	case driver.EntryObject:
		md := st.Entry.Metadata
		md.TimeExpires = deadline
		var err error
		if w, err = objectWrite(md, st.Entry.Payload, now); err != nil {
			b.log.WarnContext(ctx, "bigtable tti bump: encode failed", "key", key, "err", err)
			return
		}
	case driver.EntryTombstone:
		w = tombstoneWrite(st.Entry.Tombstone, now)
	default:
		return
	}
	if fn := b.beforeBump.Load(); fn != nil {
		(*fn)(id)
	}
	r, err := b.checkAndMutate(ctx, "TTIBump", key, versionPredicate(st.Version), w, 1, time.Time{})
	switch {
	case err != nil:
		b.log.WarnContext(ctx, "bigtable tti bump failed", "key", key, "err", err)
	case !r.ok:
		b.log.DebugContext(ctx, "bigtable tti bump skipped: row changed since the read", "key", key)
	}
}
