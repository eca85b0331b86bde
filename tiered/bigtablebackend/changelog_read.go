package bigtablebackend

import (
	"context"
	"encoding/json"
	"fmt"

	"cloud.google.com/go/bigtable"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// The recovery-run record (driver.RunLog) is one reserved row of the change-log table, in
// family c like the entries but in a column of its own, r. Entries never have r, and the
// record never has e or o, so the claim filter (which needs a stale o) and the scan filter
// (which passes only e and o) both skip it; changeKey refuses the reserved key, so no change
// id can read, write or remove it. "~" sorts after every UUID, so the row is the table's last.
const (
	runRowKey = "~strata/recovery-run"
	colRun    = "r"
)

// scanPage is the number of rows one Scan ReadRows returns.
const scanPage = 500

// scanEntriesFilter passes the newest e and o cells of a row and nothing else.
func scanEntriesFilter() bigtable.Filter {
	return bigtable.ChainFilters(
		bigtable.InterleaveFilters(column(familyChange, colEntry), column(familyChange, colLease)),
		bigtable.LatestNFilter(1),
	)
}

// Scan reads the change-log table in pages of scanPage rows (one ReadRows each, in key order,
// with the e and o columns only) and calls fn for each entry after its page was read, so a
// retried page never calls fn twice. The next page starts after the last key read. A row
// without an e or o cell, or with an undecodable e, is skipped with a warning, as ClaimStale
// does.
func (b *Backend) Scan(ctx context.Context, fn func(driver.LogEntry) error) error {
	const op = "Scan"
	filter := bigtable.RowFilter(scanEntriesFilter())
	start := ""
	for {
		var page []driver.LogEntry
		var last string
		var rows int
		err := b.do(ctx, op, "ReadRows", func(ctx context.Context) error {
			page, last, rows = page[:0], "", 0
			return b.changes.ReadRows(ctx, bigtable.InfiniteRange(start), func(r bigtable.Row) bool {
				rows++
				last = r.Key()
				if e, ok := b.scannedEntry(ctx, r); ok {
					page = append(page, e)
				}
				return ctx.Err() == nil
			}, filter, bigtable.LimitRows(scanPage))
		})
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if rows < scanPage {
			return nil
		}
		start = last + "\x00"
	}
}

// scannedEntry decodes a row read with scanEntriesFilter.
func (b *Backend) scannedEntry(ctx context.Context, r bigtable.Row) (driver.LogEntry, bool) {
	if r.Key() == runRowKey {
		return driver.LogEntry{}, false
	}
	entry, lease := entryCells(r)
	if entry == nil || lease == nil {
		b.log.WarnContext(ctx, "bigtable change log: row without an entry or lease cell skipped", "id", r.Key())
		return driver.LogEntry{}, false
	}
	f, err := decodeEntry(entry.Value)
	if err != nil {
		b.log.WarnContext(ctx, "bigtable change log: undecodable entry skipped", "id", r.Key(), "err", err)
		return driver.LogEntry{}, false
	}
	return driver.LogEntry{ID: driver.ChangeID(r.Key()), Change: f.Change, Phase: f.Phase, NotBefore: f.NotBefore,
		Owner: string(lease.Value), Heartbeat: lease.Timestamp.Time().UTC()}, true
}

// runWrite is the whole reserved row: DeleteFromRow, then r at the run's start (ms).
func runWrite(r driver.RecoveryRun) rowWrite {
	v, _ := json.Marshal(r) // driver.RecoveryRun's JSON form; cannot fail: strings and numbers
	return rowWrite{DeleteRow: true, Cells: []cellWrite{{Family: familyChange, Column: colRun, TS: floorTS(r.Started), Value: v}}}
}

// RecordRun replaces the reserved row in one MutateRow (DeleteFromRow, then r). A single-row
// mutation is atomic, so concurrent runs leave one record whole, the last applied; a retry
// after a lost response writes the same record again.
func (b *Backend) RecordRun(ctx context.Context, r driver.RecoveryRun) error {
	m := runWrite(r).mutation()
	return b.do(ctx, "RecordRun", "MutateRow", func(ctx context.Context) error { return b.changes.Apply(ctx, runRowKey, m) })
}

// LastRun reads the reserved row in one ReadRows; ErrNotFound when it is absent.
func (b *Backend) LastRun(ctx context.Context) (driver.RecoveryRun, error) {
	var row bigtable.Row
	err := b.do(ctx, "LastRun", "ReadRows", func(ctx context.Context) error {
		var err error
		row, err = b.changes.ReadRow(ctx, runRowKey, bigtable.RowFilter(bigtable.ChainFilters(column(familyChange, colRun), bigtable.LatestNFilter(1))))
		return err
	})
	if err != nil {
		return driver.RecoveryRun{}, err
	}
	if len(row[familyChange]) == 0 {
		return driver.RecoveryRun{}, fmt.Errorf("bigtable: no recovery run recorded: %w", object.ErrNotFound)
	}
	var r driver.RecoveryRun
	if err := json.Unmarshal(row[familyChange][0].Value, &r); err != nil {
		return driver.RecoveryRun{}, fmt.Errorf("bigtable: undecodable recovery run record: %v", err)
	}
	return r, nil
}
