package tiered

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// Backlog summarises the change log: what recovery and cleanup still have to do.
type Backlog struct {
	// At is when the backlog was read; ages are relative to it.
	At time.Time `json:"at"`
	// Total is the number of entries.
	Total int `json:"total"`
	// ByPhase counts entries by driver.Phase name; every phase is present, zero or not.
	ByPhase map[string]int `json:"by_phase"`
	// ByAge counts entries by age, in BacklogAgeBuckets order.
	ByAge []AgeCount `json:"by_age"`
	// Stale counts entries whose lease is older than StaleAfter: recovery claims them once
	// their CleanupAfter has passed.
	Stale int `json:"stale"`
	// Oldest is the oldest entry, or nil when the log is empty.
	Oldest *BacklogEntry `json:"oldest,omitempty"`
}

// AgeCount is one bucket of Backlog.ByAge: entries at least the previous bucket's Below old
// and less than Below (zero Below: no upper bound).
type AgeCount struct {
	Below time.Duration `json:"below_ns"`
	Label string        `json:"label"`
	Count int           `json:"count"`
}

// BacklogEntry describes one change-log entry in a Backlog.
type BacklogEntry struct {
	ID    driver.ChangeID `json:"id"`
	Phase driver.Phase    `json:"phase"`
	// Created is when the entry was made (its UUIDv7 id's time; the heartbeat for another
	// id), and Age how long before Backlog.At that was.
	Created time.Time     `json:"created"`
	Age     time.Duration `json:"age_ns"`
	// Object is the storage path of the change's object.
	Object string `json:"object"`
	// Owner holds the entry's lease ("" once released).
	Owner string `json:"owner"`
}

// BacklogAgeBuckets are the upper bounds of Backlog.ByAge; the last bucket has none.
var BacklogAgeBuckets = []time.Duration{time.Minute, 10 * time.Minute, time.Hour, 24 * time.Hour}

// Backlog scans the change log and summarises it. It needs the change log to implement
// driver.ChangeLogReader (found by type assertion; a decorator must forward it), and returns
// an error matching object.ErrUnimplemented otherwise. The scan reads every entry once; ctx
// bounds it.
func (s *Store) Backlog(ctx context.Context) (Backlog, error) {
	return ReadBacklog(ctx, s.log, s.now(), s.opts.StaleAfter)
}

// LastRun returns the record of the last recovery run (of any process) from the change
// log's driver.RunLog: ErrNotFound when none was recorded, ErrUnimplemented when the log
// keeps none.
func (s *Store) LastRun(ctx context.Context) (driver.RecoveryRun, error) {
	return ReadLastRun(ctx, s.log)
}

// ReadBacklog is Store.Backlog over a change log opened without a Store (an operator tool
// reading storage directly): now is the reference time and staleAfter the lease staleness
// (zero: DefaultStaleAfter).
func ReadBacklog(ctx context.Context, log driver.ChangeLog, now time.Time, staleAfter time.Duration) (Backlog, error) {
	r, ok := log.(driver.ChangeLogReader)
	if !ok {
		return Backlog{}, &Error{Op: "backlog", Err: fmt.Errorf("%T cannot scan the change log: %w", log, object.ErrUnimplemented)}
	}
	if staleAfter <= 0 {
		staleAfter = DefaultStaleAfter
	}
	b := Backlog{At: now, ByPhase: map[string]int{}}
	for p := PhaseRecorded; p <= PhaseSuperseded; p++ {
		b.ByPhase[p.String()] = 0
	}
	for i, below := range BacklogAgeBuckets {
		label := "≥ " + fmtAge(BacklogAgeBuckets[max(i-1, 0)])
		if i == 0 {
			label = "< " + fmtAge(below)
		} else {
			label += ", < " + fmtAge(below)
		}
		b.ByAge = append(b.ByAge, AgeCount{Below: below, Label: label})
	}
	b.ByAge = append(b.ByAge, AgeCount{Label: "≥ " + fmtAge(BacklogAgeBuckets[len(BacklogAgeBuckets)-1])})
	err := r.Scan(ctx, func(e driver.LogEntry) error {
		b.Total++
		b.ByPhase[e.Phase.String()]++
		if e.Heartbeat.Before(now.Add(-staleAfter)) {
			b.Stale++
		}
		created := EntryCreated(e)
		age := now.Sub(created)
		bucket := len(b.ByAge) - 1
		for i, below := range BacklogAgeBuckets {
			if age < below {
				bucket = i
				break
			}
		}
		b.ByAge[bucket].Count++
		if b.Oldest == nil || created.Before(b.Oldest.Created) {
			b.Oldest = &BacklogEntry{ID: e.ID, Phase: e.Phase, Created: created, Age: age,
				Object: e.Change.ID.StoragePath(), Owner: e.Owner}
		}
		return nil
	})
	if err != nil {
		return Backlog{}, &Error{Op: "backlog", Err: fmt.Errorf("scan the change log: %w", err)}
	}
	return b, nil
}

// ReadLastRun is Store.LastRun over a change log opened without a Store.
func ReadLastRun(ctx context.Context, log driver.ChangeLog) (driver.RecoveryRun, error) {
	rl, ok := log.(driver.RunLog)
	if !ok {
		return driver.RecoveryRun{}, &Error{Op: "last run", Err: fmt.Errorf("%T keeps no recovery runs: %w", log, object.ErrUnimplemented)}
	}
	r, err := rl.LastRun(ctx)
	if err != nil {
		return driver.RecoveryRun{}, &Error{Op: "last run", Err: err}
	}
	return r, nil
}

// EntryCreated returns when e was created: the time of its UUIDv7 id, which the Store
// makes, or its heartbeat for an id of another form.
func EntryCreated(e driver.LogEntry) time.Time {
	if u, err := uuid.Parse(string(e.ID)); err == nil && u.Version() == 7 {
		sec, nsec := u.Time().UnixTime()
		return time.Unix(sec, nsec).UTC()
	}
	return e.Heartbeat
}

func fmtAge(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
