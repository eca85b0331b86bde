package membackend

import "github.com/stratastore/strata/tiered/driver"

// Backend is one in-memory store: it hands out the three backend roles, as
// localbackend.Backend does for a data directory. The roles share nothing but the clock:
// each holds its own map under its own mutex, so a test may use any one of them alone.
type Backend struct {
	hv *HighVolume
	lt *LongTerm
	cl *ChangeLog
}

// Open returns an empty Backend. A nil *Options means the defaults. Open does no I/O and
// cannot fail; there is nothing to close.
func Open(opts *Options) *Backend {
	now := opts.clock()
	return &Backend{
		hv: &HighVolume{now: now, rows: map[string]*row{}},
		lt: &LongTerm{now: now, objects: map[string]*stored{}, uploads: map[string]*upload{}},
		cl: &ChangeLog{entries: map[driver.ChangeID]driver.LogEntry{}},
	}
}

// HighVolume returns the in-memory high-volume backend.
func (b *Backend) HighVolume() *HighVolume { return b.hv }

// LongTerm returns the in-memory long-term backend, which also implements driver.Multipart.
func (b *Backend) LongTerm() *LongTerm { return b.lt }

// ChangeLog returns the in-memory change log. It has no clock of its own: every time it uses
// comes from its callers (LogEntry.Heartbeat, Claim.Now, Claim.StaleBefore).
func (b *Backend) ChangeLog() *ChangeLog { return b.cl }
