package driver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

// LongTerm stores objects of any size, by full id. In Strata it holds the revisions of large
// objects (GCS in production, the filesystem locally).
//
// Every implementation must:
//   - Put: stream body to the backend without buffering it whole, and make the object visible
//     atomically and only after body returned io.EOF. If body returns an error or ctx is done,
//     nothing must become visible, and a previous object at id must be left intact. Metadata is
//     stored as given, except that Size is set to the stored byte count, TimeCreated may be
//     the backend's own creation time of the object (GCS's timeCreated, which is what
//     objectstore reads back), and TimeExpires may be rounded up to the backend's precision,
//     by less than a second and never down (GCS's customTime through the JSON client).
//   - Get: return ErrNotFound for a missing or expired object (TimeExpires before now for TTL
//     and TTI), apply rng (nil = full) and return *RangeError for an unsatisfiable one, and
//     bump a TTI object's deadline per ExpirationPolicy.TTIBump. The returned metadata is the
//     pre-bump one.
//   - Head: like Get without the body.
//   - Delete: be idempotent; deleting a missing object succeeds.
//
// Unknown stored metadata (for example keys another writer added) must not make a read fail.
type LongTerm interface {
	// Name identifies the backend in logs and metrics.
	Name() string
	Put(ctx context.Context, id object.ID, md object.Metadata, body io.Reader) error
	Get(ctx context.Context, id object.ID, rng *object.ByteRange) (*object.Reader, error)
	Head(ctx context.Context, id object.ID) (object.Metadata, error)
	Delete(ctx context.Context, id object.ID) error
}

// Multipart is the optional S3-style upload capability of a LongTerm backend. tiered.New
// takes any LongTerm and finds this capability by type assertion; without it the Store's
// multipart operations return object.ErrUnimplemented.
//
// Every implementation must:
//   - InitiateMultipart: remember md for the final object and return an upload id that is a
//     non-empty string of path-safe characters.
//   - UploadPart: accept part numbers MinPartNumber..MaxPartNumber and sizes up to MaxPartSize
//     (ErrInvalidArgument / ErrTooLarge otherwise), read exactly size bytes (fewer or more is
//     ErrInvalidArgument, and the part is not stored), replace an earlier part with the same
//     number, and return an ETag derived from the content, so equal bytes give equal ETags.
//     An unknown upload is ErrNotFound. A failed or cancelled upload stores nothing.
//   - ListParts: list parts in ascending order with number > marker, at most maxParts
//     (0 = all), setting IsTruncated and NextPartNumberMarker.
//   - CompleteMultipart: concatenate the listed parts in the listed order (which must be
//     strictly ascending) into the object at id with the initiate-time metadata, then drop the
//     parts. A missing part or ETag mismatch returns a *CompleteError and keeps the upload.
//     Completing an upload whose object already exists (a retry after a lost response) may
//     return ErrNotFound; the caller checks for the object.
//   - AbortMultipart: delete the upload's parts; idempotent. An upload is bound to the id it
//     was initiated for: every method given another id (an upload id is client input, and
//     leaks) must treat it as unknown. UploadPart, ListParts and CompleteMultipart return
//     ErrNotFound; AbortMultipart returns nil or ErrNotFound and leaves the upload intact.
//
// Parts of any size are allowed; no minimum applies to non-final parts.
type Multipart interface {
	LongTerm
	InitiateMultipart(ctx context.Context, id object.ID, md object.Metadata) (uploadID string, err error)
	UploadPart(ctx context.Context, id object.ID, uploadID string, partNumber int, size int64, body io.Reader) (etag string, err error)
	ListParts(ctx context.Context, id object.ID, uploadID string, maxParts, marker int) (object.PartList, error)
	CompleteMultipart(ctx context.Context, id object.ID, uploadID string, parts []object.CompletedPart) (*object.CompleteError, error)
	AbortMultipart(ctx context.Context, id object.ID, uploadID string) error
}

// Tombstone is a redirect from a high-volume row to the long-term revision holding the
// object's payload.
type Tombstone struct {
	// Target is the long-term id of the payload, a revision "{key}/{uuidv7}".
	Target object.ID
	// ExpirationPolicy is the object's policy; the tombstone expires with the object.
	ExpirationPolicy object.ExpirationPolicy
	// Expires is the tombstone's deadline for TTL and TTI (zero for Manual). Backends set it
	// when writing: now + policy duration.
	Expires time.Time
}

// EntryKind says what a high-volume row holds.
type EntryKind uint8

const (
	// EntryNotFound: no live row.
	EntryNotFound EntryKind = iota
	// EntryObject: an inline object.
	EntryObject
	// EntryTombstone: a redirect to long-term storage.
	EntryTombstone
)

// Entry is what a high-volume row holds.
type Entry struct {
	Kind EntryKind
	// Metadata of an inline object (Kind == EntryObject), pre-bump for TTI.
	Metadata object.Metadata
	// Payload of an inline object; only GetTiered fills it. It is the caller's to read, not
	// to modify: a backend may hand out memory it shares with other readers (membackend
	// returns its stored slice), but never memory that a later write modifies.
	Payload []byte
	// Tombstone when Kind == EntryTombstone.
	Tombstone Tombstone
}

// WriteKind says what a compare-and-write stores.
type WriteKind uint8

const (
	// WriteObject stores an inline object.
	WriteObject WriteKind = iota
	// WriteTombstone stores a redirect.
	WriteTombstone
	// WriteDelete removes the row.
	WriteDelete
)

// Write is the new state of a compare-and-write.
type Write struct {
	Kind WriteKind
	// Metadata and Payload for WriteObject.
	Metadata object.Metadata
	Payload  []byte
	// Tombstone for WriteTombstone. Its Expires is computed by the backend.
	Tombstone Tombstone
	// Deadline bounds when the write may apply: a backend must not apply it once its own
	// clock reads Deadline or later (zero: no bound). It is the fence of the commit protocol:
	// the Store sets it before its change-log lease can be claimed, so that a call stalled
	// past the lease can no longer land after recovery has looked at the row.
	Deadline time.Time
}

// Target returns the redirect target the write leaves behind, or nil.
func (w Write) Target() *object.ID {
	if w.Kind == WriteTombstone {
		return &w.Tombstone.Target
	}
	return nil
}

// HighVolume stores small objects inline, and redirect tombstones, in rows keyed by storage
// path. It is Strata's commit point: every cross-tier change is a compare-and-write on a row.
//
// "Live" below means: present and, for TTL/TTI rows, with a deadline not before now. An
// expired row must count as absent in every read and every predicate, immediately, whether or
// not the backend has collected it yet.
//
// Every implementation must:
//   - PutNonTombstone: atomically write an inline object unless a live tombstone is at id; in
//     that case write nothing and return the tombstone. Returns nil after writing.
//   - GetTiered: return the live row with the payload, bumping a TTI deadline. A TTI bump must
//     be conditional on the version that was read: it must never revert or alter a concurrent
//     overwrite, tombstone swap or delete. A bump failure must not fail the read. The returned
//     metadata is the pre-bump one.
//   - GetTieredMetadata: the same without fetching the payload where the backend can avoid it.
//     A bump from here must not combine the metadata of one version with the payload of another.
//   - DeleteNonTombstone: atomically delete the row unless it is a live tombstone, which it
//     returns and leaves in place. Returns nil when it deleted or nothing was there.
//   - CompareAndWrite: atomically apply w if the row's redirect state matches current, and
//     report whether the row is now in the state w produces. current == nil means "no live
//     tombstone" (absent, an inline object, or an expired tombstone); current != nil means "a
//     live tombstone whose target is *current". It must be idempotent: when the row is already
//     in the target state (for a tombstone write, a live tombstone to w's target; for an
//     object write or delete with current != nil, no live tombstone), it must return true,
//     applying w again or not. It returns (false, nil) when another writer won; that is not
//     an error, and only when no attempt of this call applied: a backend that retries
//     internally and finds the predicate false after an earlier attempt whose outcome it does
//     not know (a lost response, a timeout) must return an error matching ErrUnavailable
//     (outcome unknown), never (false, nil), because the earlier attempt may have committed
//     and a later writer replaced it. It must not apply w once the backend's clock reads
//     w.Deadline (when set); a call past its deadline fails with an error matching
//     ErrUnavailable and applies nothing.
//
// Row writes replace the whole row: a row never mixes an object with a tombstone.
type HighVolume interface {
	// Name identifies the backend in logs and metrics.
	Name() string
	PutNonTombstone(ctx context.Context, id object.ID, md object.Metadata, payload []byte) (*Tombstone, error)
	GetTiered(ctx context.Context, id object.ID) (Entry, error)
	GetTieredMetadata(ctx context.Context, id object.ID) (Entry, error)
	DeleteNonTombstone(ctx context.Context, id object.ID) (*Tombstone, error)
	CompareAndWrite(ctx context.Context, id object.ID, current *object.ID, w Write) (bool, error)
}

// ChangeID identifies one change-log entry. Strata uses UUIDv7 strings, so ids sort by time.
type ChangeID string

// Change is the write-ahead record of a cross-tier mutation: enough to find and delete every
// long-term blob the mutation may leave unreferenced, whatever point it crashed at.
type Change struct {
	// ID is the logical object; cleanup reads its high-volume row to learn which blob is live.
	ID object.ID
	// New is the long-term revision this change writes, if any. It is deleted unless the row
	// ends up pointing to it.
	New *object.ID
	// Old is the revision this change replaces, if any. It is deleted if the row no longer
	// points to it.
	Old *object.ID
	// UploadID is the long-term multipart upload writing New, if any; cleanup aborts it.
	UploadID string
	// CleanupAfter defers recovery of the entry until this time (zero: no deferral). It keeps
	// a failed multipart complete retryable before recovery deletes its assembled blob, and it
	// keeps recovery away from a finished entry until its cleanup is due.
	CleanupAfter time.Time
}

// Phase is where a logged change stands. Backends store it and return it; only the Store
// interprets it. The in-progress phases belong to the process holding the lease; the final
// phases are written when the change's outcome is settled, and only they are ever cleaned up.
type Phase uint8

const (
	// PhaseRecorded (in progress): logged by a put or delete; its long-term write or its
	// compare-and-write may be under way.
	PhaseRecorded Phase = iota
	// PhaseAssembling (in progress): a multipart complete is logged and may be assembling;
	// no compare-and-write was attempted under this entry.
	PhaseAssembling
	// PhaseWritten (in progress): a multipart complete is about to attempt, or attempted, its
	// compare-and-write. Written durably before the attempt, so that a retry never commits
	// the revision a second time.
	PhaseWritten
	// PhaseAborted (final): the change ended before any compare-and-write; New is deleted.
	PhaseAborted
	// PhaseLost (final): the compare-and-write did not apply; New is deleted, Old stays.
	PhaseLost
	// PhaseUpdated (final): the compare-and-write committed; Old is deleted after the grace
	// period.
	PhaseUpdated
	// PhaseUnknown (final): the compare-and-write's outcome is unknown. Once no attempt can
	// still land (NotBefore), cleanup reads the row and settles it as Updated, Lost or
	// Superseded.
	PhaseUnknown
	// PhaseSuperseded (final): the change may have committed, but the row references neither
	// of its revisions any more; both are deleted after the grace period.
	PhaseSuperseded
)

var phaseNames = [...]string{"recorded", "assembling", "written", "aborted", "lost", "updated", "unknown", "superseded"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", p)
}

// Final reports whether p settles the change's outcome, so that cleanup may act on it.
func (p Phase) Final() bool { return p >= PhaseAborted && int(p) < len(phaseNames) }

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
	return object.Invalidf("unknown phase %q", b)
}

// Lease names the holder of a change-log entry: its owner token and last heartbeat. An empty
// Owner means the entry was released and no process holds it.
type Lease struct {
	Owner     string
	Heartbeat time.Time
}

// LogEntry is one change-log record with its lease.
type LogEntry struct {
	ID     ChangeID
	Change Change
	// Phase is where the change stands (see Phase). A new entry is PhaseRecorded or
	// PhaseAssembling.
	Phase Phase
	// NotBefore is the earliest time cleanup may act on a final entry: the end of the grace
	// period, or the time by which no stalled write of the change can still land.
	NotBefore time.Time
	// Owner is the lease token of the process responsible for the entry ("" once released).
	Owner string
	// Heartbeat is when the owner last renewed its lease.
	Heartbeat time.Time
}

// Lease returns e's lease.
func (e LogEntry) Lease() Lease { return Lease{Owner: e.Owner, Heartbeat: e.Heartbeat} }

// Claim asks ChangeLog.ClaimStale for abandoned entries.
type Claim struct {
	// Owner becomes the lease token of every claimed entry.
	Owner string
	// Now is the current time: the new heartbeat, and the bound for CleanupAfter.
	Now time.Time
	// StaleBefore: entries whose heartbeat is before it are abandoned.
	StaleBefore time.Time
	// Limit bounds the number of entries claimed (at least 1).
	Limit int
}

// ChangeLog is the durable write-ahead log of cross-tier changes, and the only authority for
// cleanup: a cleanup task names an entry, and everything it does is read from the entry.
//
// Times are compared at millisecond precision (a backend may store heartbeats, NotBefore and
// CleanupAfter truncated to milliseconds); the other fields round-trip exactly.
//
// Every implementation must:
//   - Record: store e durably before returning (write-ahead); a later crash must not lose it.
//     When an entry with e.ID exists, replace it whole if its Owner is e.Owner (a retried
//     Record), and otherwise change nothing and return ErrConflict: an entry held or released
//     by someone else is never overwritten blindly.
//   - Get: return the entry with all its fields, or ErrNotFound.
//   - Update: replace the entry whole with e, atomically, only if its current lease matches
//     prev: the same Owner and, unless prev.Heartbeat is zero, the same Heartbeat. Otherwise
//     change nothing and return ErrConflict; ErrNotFound if the entry is gone. Repeating an
//     Update that applied (whose response was lost) may return ErrConflict; callers re-read.
//   - Refresh: renew the heartbeat to the given time only while owner still holds the lease;
//     return ErrConflict if another owner claimed the entry, ErrNotFound if it is gone.
//   - Remove: delete the entry; idempotent.
//   - ClaimStale: return up to Limit entries whose heartbeat is before StaleBefore and whose
//     CleanupAfter is zero or not after Now, atomically setting their owner and heartbeat
//     (a released entry is claimed like any other). Two concurrent claims must never both
//     return the same entry, and an entry whose owner refreshed it in time must not be
//     returned.
type ChangeLog interface {
	Record(ctx context.Context, e LogEntry) error
	Get(ctx context.Context, id ChangeID) (LogEntry, error)
	Update(ctx context.Context, e LogEntry, prev Lease) error
	Refresh(ctx context.Context, id ChangeID, owner string, heartbeat time.Time) error
	Remove(ctx context.Context, id ChangeID) error
	ClaimStale(ctx context.Context, c Claim) ([]LogEntry, error)
}

// ChangeLogReader is the optional read side of a ChangeLog: a scan of the backlog, for
// status reports (tiered.Store.Backlog, `strata status`). The Store finds it by type
// assertion on the ChangeLog it was given; a decorator that wraps a ChangeLog should forward
// it, and when its inner log lacks it, return object.ErrUnimplemented from Scan.
//
// Every implementation must:
//   - Scan: call fn once for every entry that exists for the whole scan, in ascending
//     ChangeID order, with every field as Get returns it. An entry recorded or removed while
//     the scan runs may be reported or not, but no id is reported twice, and nothing that is
//     not a change-log entry (in particular the record of RunLog.RecordRun) is ever reported.
//   - Scan: change nothing. A scan is not a claim: leases, heartbeats and phases stay as
//     they are.
//   - Scan: stop at the first error fn returns and return it unchanged (errors.Is matches
//     it), without calling fn again.
//   - Scan: when ctx is done, call fn no more and return an error matching ctx.Err().
//   - Scan: hold at most a bounded page of entries at a time (a backlog may not fit in
//     memory), and read only change-log data: on Bigtable a row-range read of the
//     change-log table, in pages.
//
// fn must not call back into the log while the scan runs (a backend may hold a read
// transaction or a lock around it).
type ChangeLogReader interface {
	ChangeLog
	Scan(ctx context.Context, fn func(LogEntry) error) error
}

// RecoveryRun records one recovery pass (tiered.Store.Recover): when it ran, how long it
// took, how it ended, and what it did.
type RecoveryRun struct {
	// Started is when the run began (stored at millisecond precision).
	Started time.Time
	// Duration is how long the run took (stored at millisecond precision).
	Duration time.Duration
	// Error is the run's error text; empty when the run succeeded.
	Error string
	// Claimed, Settled, Dispatched and Failed are tiered.RecoverReport's counts.
	Claimed, Settled, Dispatched, Failed int
	// Instance names the process that ran it (host, process id, lease token).
	Instance string
}

// OK reports whether the run succeeded.
func (r RecoveryRun) OK() bool { return r.Error == "" }

// recoveryRunJSON is the one JSON form of a RecoveryRun: how backends store it and how
// `strata status` reports it. "ok" is written for readers and ignored when decoding.
type recoveryRunJSON struct {
	Started    string `json:"started"` // RFC 3339, UTC, milliseconds
	DurationMS int64  `json:"duration_ms"`
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
	Claimed    int    `json:"claimed"`
	Settled    int    `json:"settled"`
	Dispatched int    `json:"dispatched"`
	Failed     int    `json:"failed"`
	Instance   string `json:"instance"`
}

// MarshalJSON encodes r at millisecond precision.
func (r RecoveryRun) MarshalJSON() ([]byte, error) {
	return json.Marshal(recoveryRunJSON{
		Started: r.Started.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano), DurationMS: r.Duration.Milliseconds(),
		OK: r.OK(), Error: r.Error, Claimed: r.Claimed, Settled: r.Settled, Dispatched: r.Dispatched, Failed: r.Failed, Instance: r.Instance,
	})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (r *RecoveryRun) UnmarshalJSON(b []byte) error {
	var j recoveryRunJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	started, err := time.Parse(time.RFC3339Nano, j.Started)
	if err != nil {
		return fmt.Errorf("recovery run: started: %w", err)
	}
	*r = RecoveryRun{Started: started, Duration: time.Duration(j.DurationMS) * time.Millisecond, Error: j.Error,
		Claimed: j.Claimed, Settled: j.Settled, Dispatched: j.Dispatched, Failed: j.Failed, Instance: j.Instance}
	return nil
}

// RunLog is the optional record of the last recovery run, kept next to the change log so
// that another process (`strata status`) can read it. The Store finds it by type assertion
// on its ChangeLog, like ChangeLogReader; a decorator should forward it, and when its inner
// log lacks it, return object.ErrUnimplemented.
//
// Every implementation must:
//   - RecordRun: store r durably, replacing the previous record whole; a later LastRun
//     returns r with every field (times at millisecond precision).
//   - RecordRun: be safe against concurrent RecordRun calls: afterwards LastRun returns one
//     of the records written, whole, never a mix of two (last writer wins).
//   - RecordRun: leave the change log alone: the record is never a change-log entry, so Get,
//     ClaimStale and ChangeLogReader.Scan never return it, and Remove of any change id never
//     deletes it.
//   - LastRun: return the last record stored, or ErrNotFound when none was ever stored.
type RunLog interface {
	RecordRun(ctx context.Context, r RecoveryRun) error
	LastRun(ctx context.Context) (RecoveryRun, error)
}
