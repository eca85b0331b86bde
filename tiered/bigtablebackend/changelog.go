package bigtablebackend

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/bigtable"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// Family and qualifiers of the change-log table; see doc.go.
const (
	familyChange = "c"
	colEntry     = "e" // the Change, phase and NotBefore as JSON
	colLease     = "o" // value: owner; cell timestamp: heartbeat (ms)
	colDeferred  = "a" // present when CleanupAfter is set; cell timestamp: CleanupAfter (ms, floor)
)

// claimPages bounds the ReadRows pages one ClaimStale scans when claims are lost to races.
const claimPages = 8

// changeJSON is the e cell: every driver.Change field, ids as storage paths, then the entry's
// phase and NotBefore. The last two are omitted when zero (PhaseRecorded, no NotBefore), so
// rows written before they existed decode as a recorded entry.
type changeJSON struct {
	ID           string       `json:"id"`
	New          *string      `json:"new,omitempty"`
	Old          *string      `json:"old,omitempty"`
	UploadID     string       `json:"upload_id,omitempty"`
	CleanupAfter string       `json:"cleanup_after,omitempty"` // RFC 3339 with nanoseconds
	Phase        driver.Phase `json:"phase,omitempty"`         // by name; omitted for PhaseRecorded
	NotBefore    string       `json:"not_before,omitempty"`    // RFC 3339 with nanoseconds
}

func optPath(id *object.ID) *string {
	if id == nil {
		return nil
	}
	s := id.StoragePath()
	return &s
}

func parseOptPath(s *string) (*object.ID, error) {
	if s == nil {
		return nil, nil
	}
	id, err := object.ParseStoragePath(*s)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// entryFields are the parts of a driver.LogEntry that the e cell holds; the lease lives in o.
type entryFields struct {
	Change    driver.Change
	Phase     driver.Phase
	NotBefore time.Time
}

func fieldsOf(e driver.LogEntry) entryFields {
	return entryFields{Change: e.Change, Phase: e.Phase, NotBefore: e.NotBefore}
}

func encodeEntry(f entryFields) []byte {
	c := f.Change
	j := changeJSON{ID: c.ID.StoragePath(), New: optPath(c.New), Old: optPath(c.Old), UploadID: c.UploadID, Phase: f.Phase}
	if !c.CleanupAfter.IsZero() {
		j.CleanupAfter = c.CleanupAfter.UTC().Format(time.RFC3339Nano)
	}
	if !f.NotBefore.IsZero() {
		j.NotBefore = f.NotBefore.UTC().Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(j) // cannot fail: strings, and a phase whose MarshalText never fails
	return b
}

func decodeEntry(b []byte) (entryFields, error) {
	var j changeJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return entryFields{}, err
	}
	var f entryFields
	c := &f.Change
	var err error
	if c.ID, err = object.ParseStoragePath(j.ID); err != nil {
		return entryFields{}, err
	}
	if c.New, err = parseOptPath(j.New); err != nil {
		return entryFields{}, err
	}
	if c.Old, err = parseOptPath(j.Old); err != nil {
		return entryFields{}, err
	}
	c.UploadID = j.UploadID
	if j.CleanupAfter != "" {
		if c.CleanupAfter, err = time.Parse(time.RFC3339Nano, j.CleanupAfter); err != nil {
			return entryFields{}, err
		}
	}
	f.Phase = j.Phase
	if j.NotBefore != "" {
		if f.NotBefore, err = time.Parse(time.RFC3339Nano, j.NotBefore); err != nil {
			return entryFields{}, err
		}
	}
	return f, nil
}

// changeKey checks and returns the row key of a change id.
func changeKey(id driver.ChangeID) (string, error) {
	if id == "" {
		return "", object.Invalidf("empty change id")
	}
	if len(id) > maxRowKeySize {
		return "", object.Invalidf("change id longer than %d bytes", maxRowKeySize)
	}
	if id == runRowKey {
		return "", object.Invalidf("change id %q is reserved for the recovery-run record", id)
	}
	return string(id), nil
}

// recordWrite encodes a whole change-log row; Record and Update write it.
func recordWrite(e driver.LogEntry) rowWrite {
	hb := floorTS(e.Heartbeat)
	w := rowWrite{DeleteRow: true, Cells: []cellWrite{
		{Family: familyChange, Column: colEntry, TS: hb, Value: encodeEntry(fieldsOf(e))},
		{Family: familyChange, Column: colLease, TS: hb, Value: []byte(e.Owner)},
	}}
	if !e.Change.CleanupAfter.IsZero() {
		w.Cells = append(w.Cells, cellWrite{Family: familyChange, Column: colDeferred, TS: floorTS(e.Change.CleanupAfter), Value: []byte{}})
	}
	return w
}

// leaseWrite replaces the lease cell: owner as value, heartbeat as timestamp. Every other
// version is deleted in the same mutation, so a lingering older one can never satisfy a
// staleness filter (GC maxversions=1 is lazy).
func leaseWrite(owner string, heartbeat time.Time) rowWrite {
	return rowWrite{
		Cells:       []cellWrite{{Family: familyChange, Column: colLease, TS: floorTS(heartbeat), Value: []byte(owner)}},
		OnlyVersion: true,
	}
}

// staleLeaseFilter matches a lease cell whose heartbeat (ms) is before staleBefore (ms).
// Both sides are compared at millisecond granularity.
func staleLeaseFilter(staleBefore time.Time) bigtable.Filter {
	return bigtable.ChainFilters(column(familyChange, colLease), bigtable.TimestampRangeFilterMicros(0, floorTS(staleBefore)))
}

// scanFilter returns every cell of rows whose lease is stale and whose CleanupAfter (if any)
// is not after now, and nothing of other rows.
func scanFilter(staleBefore, now time.Time) bigtable.Filter {
	deferred := bigtable.ChainFilters(column(familyChange, colDeferred), bigtable.TimestampRangeFilterMicros(floorTS(now)+1000, 0))
	return bigtable.ConditionFilter(
		staleLeaseFilter(staleBefore),
		bigtable.ConditionFilter(deferred, bigtable.BlockAllFilter(), bigtable.PassAllFilter()),
		bigtable.BlockAllFilter(),
	)
}

// claimPredicate matches while the lease is still the stale one that was read (same owner,
// heartbeat still before staleBefore), or when it already is exactly the claim (our owner at
// our heartbeat), which makes a retried claim whose first response was lost succeed.
func claimPredicate(c driver.Claim, ownerRead []byte) predicate {
	hb := floorTS(c.Now)
	return predicate{Include: true, Filter: bigtable.InterleaveFilters(
		bigtable.ChainFilters(staleLeaseFilter(c.StaleBefore), valueEquals(ownerRead)),
		bigtable.ChainFilters(column(familyChange, colLease), bigtable.TimestampRangeFilterMicros(hb, hb+1000), valueEquals([]byte(c.Owner))),
	)}
}

// ownerPredicate matches while owner holds the lease.
func ownerPredicate(owner string) predicate {
	return predicate{Include: true, Filter: bigtable.ChainFilters(column(familyChange, colLease), valueEquals([]byte(owner)))}
}

// leasePredicate matches while the lease is exactly prev: the owner value and, unless
// prev.Heartbeat is zero, the heartbeat at millisecond precision (the o cell's timestamp).
func leasePredicate(prev driver.Lease) predicate {
	if prev.Heartbeat.IsZero() {
		return ownerPredicate(prev.Owner)
	}
	hb := floorTS(prev.Heartbeat)
	return predicate{Include: true, Filter: bigtable.ChainFilters(
		column(familyChange, colLease),
		bigtable.TimestampRangeFilterMicros(hb, hb+1000),
		valueEquals([]byte(prev.Owner)),
	)}
}

// recordPredicate matches when the row exists and another owner holds (or released) it: a
// lease cell whose value is not owner. Record writes when it does not match: the row is
// absent, or it is owner's (a retried Record whose first response was lost).
func recordPredicate(owner string) predicate {
	return predicate{Filter: bigtable.ConditionFilter(
		bigtable.ChainFilters(column(familyChange, colLease), valueEquals([]byte(owner))),
		bigtable.BlockAllFilter(),
		column(familyChange, colLease),
	)}
}

// checkEntry validates the keys of an entry about to be written and returns its row key.
func checkEntry(e driver.LogEntry) (string, error) {
	key, err := changeKey(e.ID)
	if err != nil {
		return "", err
	}
	if _, err := rowKey(e.Change.ID); err != nil {
		return "", err
	}
	return key, nil
}

// applyChange sends one conditional write to the change-log table (retried; every predicate
// of this table matches again after its own write when repeated with the same lease) and
// reports whether it was applied.
func (b *Backend) applyChange(ctx context.Context, op, key string, p predicate, w rowWrite) (bool, error) {
	m := p.mutation(w)
	var matched bool
	err := b.do(ctx, op, "CheckAndMutateRow", func(ctx context.Context) error {
		return b.changes.Apply(ctx, key, m, bigtable.GetCondMutationResult(&matched))
	})
	if err != nil {
		return false, err
	}
	return p.succeeded(matched), nil
}

// Record writes the entry in one CheckAndMutateRow: unless another owner's lease cell is
// there, DeleteFromRow, then e, o and maybe a, with explicit timestamps. An entry of the same
// owner is replaced, so a Record whose response was lost succeeds when retried. It returns
// after Bigtable acknowledged the write, which is durable.
func (b *Backend) Record(ctx context.Context, e driver.LogEntry) error {
	key, err := checkEntry(e)
	if err != nil {
		return err
	}
	ok, err := b.applyChange(ctx, "Record", key, recordPredicate(e.Owner), recordWrite(e))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("change %s: exists and is not held by %q: %w", e.ID, e.Owner, object.ErrConflict)
	}
	return nil
}

// Get reads the entry in one ReadRows: the change, phase and NotBefore from e, the owner and
// heartbeat (ms) from o.
func (b *Backend) Get(ctx context.Context, id driver.ChangeID) (driver.LogEntry, error) {
	key, err := changeKey(id)
	if err != nil {
		return driver.LogEntry{}, err
	}
	var row bigtable.Row
	err = b.do(ctx, "Get", "ReadRows", func(ctx context.Context) error {
		var err error
		row, err = b.changes.ReadRow(ctx, key, bigtable.RowFilter(bigtable.LatestNFilter(1)))
		return err
	})
	if err != nil {
		return driver.LogEntry{}, err
	}
	if len(row[familyChange]) == 0 {
		return driver.LogEntry{}, fmt.Errorf("change %s: %w", id, object.ErrNotFound)
	}
	entry, lease := entryCells(row)
	if entry == nil || lease == nil {
		return driver.LogEntry{}, fmt.Errorf("bigtable change %s: row without an entry or lease cell", id)
	}
	f, err := decodeEntry(entry.Value)
	if err != nil {
		return driver.LogEntry{}, fmt.Errorf("bigtable change %s: undecodable entry: %v", id, err)
	}
	return driver.LogEntry{ID: id, Change: f.Change, Phase: f.Phase, NotBefore: f.NotBefore,
		Owner: string(lease.Value), Heartbeat: lease.Timestamp.Time().UTC()}, nil
}

// Update replaces the entry whole (DeleteFromRow, e, o, maybe a) in one CheckAndMutateRow
// conditional on the lease cell being prev (leasePredicate). When it does not match, one
// ReadRows tells ErrNotFound (gone) from ErrConflict (another lease). A retry after a lost
// response matches again only if e keeps prev's lease; otherwise it reports ErrConflict, which
// the contract allows (callers re-read).
func (b *Backend) Update(ctx context.Context, e driver.LogEntry, prev driver.Lease) error {
	const op = "Update"
	key, err := checkEntry(e)
	if err != nil {
		return err
	}
	ok, err := b.applyChange(ctx, op, key, leasePredicate(prev), recordWrite(e))
	if err != nil || ok {
		return err
	}
	return b.leaseMismatch(ctx, op, e.ID, key, prev.Owner)
}

// Refresh moves the heartbeat while owner holds the lease: one CheckAndMutateRow on the owner
// value. When it does not match, one ReadRows tells ErrNotFound (gone) from ErrConflict
// (claimed by another owner).
func (b *Backend) Refresh(ctx context.Context, id driver.ChangeID, owner string, heartbeat time.Time) error {
	const op = "Refresh"
	key, err := changeKey(id)
	if err != nil {
		return err
	}
	ok, err := b.applyChange(ctx, op, key, ownerPredicate(owner), leaseWrite(owner, heartbeat))
	if err != nil || ok {
		return err
	}
	return b.leaseMismatch(ctx, op, id, key, owner)
}

// leaseMismatch explains a lease predicate that did not match with one ReadRows of o:
// ErrNotFound when the row is gone, else ErrConflict naming the current lease.
func (b *Backend) leaseMismatch(ctx context.Context, op string, id driver.ChangeID, key, want string) error {
	var row bigtable.Row
	err := b.do(ctx, op, "ReadRows", func(ctx context.Context) error {
		var err error
		row, err = b.changes.ReadRow(ctx, key, bigtable.RowFilter(bigtable.ChainFilters(column(familyChange, colLease), bigtable.LatestNFilter(1))))
		return err
	})
	if err != nil {
		return err
	}
	if len(row[familyChange]) == 0 {
		return fmt.Errorf("change %s: %w", id, object.ErrNotFound)
	}
	it := row[familyChange][0]
	return fmt.Errorf("change %s: held by %q since %s, not by %q as expected: %w", id, it.Value,
		it.Timestamp.Time().UTC().Format(time.RFC3339Nano), want, object.ErrConflict)
}

// Remove deletes the entry in one MutateRow; deleting a missing row succeeds.
func (b *Backend) Remove(ctx context.Context, id driver.ChangeID) error {
	key, err := changeKey(id)
	if err != nil {
		return err
	}
	m := deleteWrite().mutation()
	return b.do(ctx, "Remove", "MutateRow", func(ctx context.Context) error { return b.changes.Apply(ctx, key, m) })
}

// candidate is a stale entry found by a scan, before it is claimed.
type candidate struct {
	id     driver.ChangeID
	fields entryFields
	owner  []byte
}

// ClaimStale scans for stale entries (one ReadRows per page of Limit rows, in change-id order,
// so oldest first), filtering stale heartbeats and deferred entries on the server, and claims
// each with one CheckAndMutateRow whose predicate re-checks staleness and the owner read. Only
// entries whose claim matched are returned, so two claimers never both get one.
func (b *Backend) ClaimStale(ctx context.Context, c driver.Claim) ([]driver.LogEntry, error) {
	const op = "ClaimStale"
	if c.Limit < 1 {
		return nil, object.Invalidf("claim limit %d < 1", c.Limit)
	}
	if c.StaleBefore.UnixMilli() <= 0 {
		return nil, nil // nothing has a heartbeat before the epoch
	}
	filter := bigtable.RowFilter(scanFilter(c.StaleBefore, c.Now))
	var out []driver.LogEntry
	start := ""
	for page := 0; page < claimPages && len(out) < c.Limit; page++ {
		var cands []candidate
		var last string
		var rows int
		err := b.do(ctx, op, "ReadRows", func(ctx context.Context) error {
			cands, last, rows = cands[:0], "", 0
			return b.changes.ReadRows(ctx, bigtable.InfiniteRange(start), func(r bigtable.Row) bool {
				rows++
				last = r.Key()
				if cd, ok := b.candidateOf(ctx, r, c); ok {
					cands = append(cands, cd)
				}
				return true
			}, filter, bigtable.LimitRows(int64(c.Limit)))
		})
		if err != nil {
			if len(out) > 0 {
				// Entries already claimed are ours now; return them rather than lose them
				// until they go stale again.
				b.log.WarnContext(ctx, "bigtable claim: scan failed after claims", "claimed", len(out), "err", err)
				return out, nil
			}
			return nil, err
		}
		for _, cd := range cands {
			if len(out) == c.Limit {
				break
			}
			ok, err := b.claim(ctx, cd, c)
			if err != nil {
				if len(out) > 0 {
					b.log.WarnContext(ctx, "bigtable claim failed after claims", "id", cd.id, "claimed", len(out), "err", err)
					return out, nil
				}
				return nil, err
			}
			if ok {
				out = append(out, driver.LogEntry{ID: cd.id, Change: cd.fields.Change, Phase: cd.fields.Phase,
					NotBefore: cd.fields.NotBefore, Owner: c.Owner, Heartbeat: c.Now})
			}
		}
		if rows < c.Limit {
			break // the scan reached the end of the table
		}
		start = last + "\x00"
	}
	return out, nil
}

// candidateOf decodes a scanned row and re-checks eligibility on the client, exactly (the
// server-side filter is at millisecond granularity).
func (b *Backend) candidateOf(ctx context.Context, r bigtable.Row, c driver.Claim) (candidate, bool) {
	entry, lease := entryCells(r)
	if entry == nil || lease == nil {
		return candidate{}, false
	}
	f, err := decodeEntry(entry.Value)
	if err != nil {
		b.log.WarnContext(ctx, "bigtable change log: undecodable entry skipped", "id", r.Key(), "err", err)
		return candidate{}, false
	}
	if ca := f.Change.CleanupAfter; !ca.IsZero() && ca.After(c.Now) {
		return candidate{}, false
	}
	if lease.Timestamp >= floorTS(c.StaleBefore) {
		return candidate{}, false
	}
	return candidate{id: driver.ChangeID(r.Key()), fields: f, owner: lease.Value}, true
}

// entryCells returns the e and o cells of a change-log row read with one version per column.
func entryCells(r bigtable.Row) (entry, lease *bigtable.ReadItem) {
	for i, it := range r[familyChange] {
		switch strings.TrimPrefix(it.Column, familyChange+":") {
		case colEntry:
			entry = &r[familyChange][i]
		case colLease:
			lease = &r[familyChange][i]
		}
	}
	return entry, lease
}

// claim takes over one candidate's lease.
func (b *Backend) claim(ctx context.Context, cd candidate, c driver.Claim) (bool, error) {
	return b.applyChange(ctx, "ClaimStale", string(cd.id), claimPredicate(c, cd.owner), leaseWrite(c.Owner, c.Now))
}
