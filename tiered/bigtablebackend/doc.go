// Package bigtablebackend implements driver.HighVolume and driver.ChangeLog on Cloud
// Bigtable. Its objects table uses objectstore's layout, so Strata and objectstore read each
// other's tables; the change log lives in a table of its own.
//
//	client, err := bigtable.NewClient(ctx, project, instance)
//	defer client.Close()
//	b, err := bigtablebackend.Open(ctx, client, "objectstore", nil)
//	store, err := tiered.New(b, gcs, b, nil) // b is the high-volume tier and the change log
//
// # Opening
//
// Open(ctx, client, table, opts) is the shape every Strata backend's Open has: the caller
// makes the *bigtable.Client for one instance, passes it in and keeps owning it, so it closes
// the client itself after the last use of the Backend; the Backend has no Close. A nil
// *Options means the defaults.
//
// The name is the objects table, the one objectstore shares (objectstore's development
// setup calls it DefaultTable, "objectstore"). The change log is Strata's own table in the
// same instance, Options.ChangeLogTable (default DefaultChangeLogTable), and must be another
// table: its rows and GC rule are not the objects table's. One Backend serves both roles
// because both live on the one client and every deployment wants both on Bigtable; a
// second constructor per role would bring back the shapes Open replaced. A caller that wants
// only one role uses only that one: an unused change-log table is never touched. CreateTables
// takes the same (table, opts), so it creates exactly the tables Open will use.
//
// # Objects table
//
// One row per logical object. The row key is the object's storage path, for example
// "attachments/org.17/project.42/objects/abc123" (at most 4 KiB).
//
//	family  GC rule      holds                                     cell timestamp
//	fg      maxage=1s    rows with a deadline (TTL, TTI)           the deadline, ms, floor
//	fm      none         rows without one (manual)                 the write time, ms (client clock)
//
//	column  row kind     value
//	p       object       payload bytes, as received (already compressed by the client)
//	m       object       metadata JSON (object.Metadata's objectstore form), size = len(p)
//	r       tombstone    long-term target storage path ("{key}/{uuidv7}")
//	t       tombstone    {} for manual, else {"expiration_policy":{"TimeToLive":{"secs":..,"nanos":..}}}
//
// Every write is a whole-row write: DeleteFromRow, then two SetCells in one family with one
// timestamp (p+m or r+t), so a row never mixes an object with a tombstone and each column
// has one version. Manual cells carry an explicit client timestamp instead of ServerTime
// (-1): the client library does not retry a MutateRow containing ServerTime, and real tables
// reject timestamps that are not whole milliseconds. An object goes to fg exactly when its
// TimeExpires is set; a tombstone when its policy is TTL or TTI, with deadline = time of the
// write + duration. testdata/*.golden show the exact cells.
//
// The cell values and fg timestamps are byte-identical to objectstore's for the same input:
// m is serde_json's encoding (object.Metadata.AppendJSON: no HTML escaping, U+2028/U+2029
// raw, a present but empty origin or filename kept as ""), t is built from the same pieces.
// golden_test.go checks this against objectstore's golden rows (tiered/backendtest/golden),
// through the encoder and through the Backend on bttest. The one deliberate difference is the
// fm timestamp above, which every reader of either system ignores.
//
// Reading a row:
//   - The version cell is r if present, else m. The row is live unless that cell is in fg with
//     a timestamp before now (cell >= ceil_ms(now)); an expired row reads as absent whether or
//     not GC has collected it yet. Predicates use the same bound, so reads and writes agree.
//   - r present: a tombstone; an empty r is a legacy tombstone whose target is the row's own
//     id. The policy comes from t; Expires is the fg cell timestamp.
//   - m whose JSON has "is_redirect_tombstone": true (anywhere, any spacing: objectstore's
//     read path parses it): a legacy tombstone (objectstore's pre-r/t format), target = own
//     id, policy from m, deadline from the cell (a time_expires in m is ignored). The CAS
//     predicates below match only the prefix form {"is_redirect_tombstone":true followed by
//     ',' or '}', as objectstore's do; no writer produced another form.
//   - Otherwise m is an object. TimeExpires is the fg cell timestamp, in whole milliseconds,
//     as objectstore reads it (the JSON's time_expires is ignored: any writer's bump moves
//     only the cell); an fm row has none. Size is len(p) when the payload was read, else m's
//     size (-1 if an old row lacks it).
//
// # Predicates
//
// Every mutation is one CheckAndMutateRow. Columns are matched with ColumnRangeFilter
// [q, q+"\x00") and values with ValueRangeFilter [v, v+"\x00"), so no predicate contains a
// regex (the legacy prefix is two value ranges). "live" restricts fg cells to timestamps from
// ceil_ms(now). Predicates shown as Exclude apply the write when they do not match, Include
// when they do (testdata/predicates.golden has the trees):
//
//	operation                        predicate                                       write applied when
//	PutNonTombstone, DeleteNon...    Exclude(live r | live legacy m)                 no live tombstone
//	CAS(nil, object|delete)          same                                            same
//	CAS(nil, tombstone(new))         Exclude(Condition(target(new), BlockAll,        no live tombstone, or one to new
//	                                   live r | live legacy m))
//	CAS(old, object|delete)          the same with target(old)                       one to old, or none
//	CAS(old, tombstone(new))         Include(target(old) | target(new))              one to old or to new
//	TTI bump                         Include(column, [ts, ts+1ms), value == read)    the row is the version read
//
// target(x) is a live r equal to x's path; when x is the row's own id it also matches an
// empty r and a legacy m. Each predicate still matches after its own write, so a CAS whose
// response was lost reports success when repeated: that is what makes retrying
// CheckAndMutateRow safe. When PutNonTombstone's or DeleteNonTombstone's predicate sees a
// tombstone, a read of m, r, t follows and a tombstone found is returned. If the read finds
// none (it expired or was replaced meanwhile), the CAS is repeated once; if that one sees a
// tombstone again, it was written during the call, after the read, so the put or delete is
// linearized just before it and reported done (superseded, last writer wins) rather than
// looping: at most two CheckAndMutateRow and one read, and never a race error. objectstore
// instead loops three times and then fails.
//
// # TTI bumps
//
// A read of a TTI row whose deadline is due (ExpirationPolicy.TTIBump) rewrites the row with
// deadline now+TTI (an object needs p and m rewritten, since GC follows every cell's
// timestamp). The rewrite is conditional on the exact version read: its m (object, legacy
// tombstone) or r cell with the same family, timestamp and value. A concurrent overwrite,
// tombstone swap or delete changes that cell, so the bump never reverts one. GetTiered has the
// payload already. GetTieredMetadata reads m, r, t only; to bump an object it reads the full
// row again and bumps that version as a whole, returning it, so the rewrite never combines
// the metadata of one version with the payload of another. A bump is one attempt, not
// retried; its failure is logged and never fails the read, which returns the pre-bump entry.
// A legacy tombstone is rewritten in the r/t format. SetBeforeBump is a test seam between the
// decision and the write.
//
// # Change-log table
//
// One row per entry, keyed by the change id (a UUIDv7 string, so rows sort by age), in family
// c (GC maxversions=1):
//
//	column  value                                                cell timestamp
//	e       JSON {"id","new","old","upload_id","cleanup_after",  heartbeat at Record/Update, ms
//	        "phase","not_before"}
//	        (object ids as storage paths, times RFC 3339 with nanoseconds, the phase by
//	        name; phase is omitted for "recorded" and not_before when zero, so rows written
//	        before they existed read as PhaseRecorded without NotBefore)
//	o       owner (lease token; empty once released)             heartbeat, ms, floor
//	a       empty; only when CleanupAfter is set                 CleanupAfter, ms, floor
//
// Owner and heartbeat share the lease cell o, so every lease predicate is a single-cell
// chain. Heartbeats and StaleBefore compare at millisecond precision (floor of both). Get
// returns the heartbeat from o's timestamp, so at millisecond precision.
//
//	Record      CheckAndMutateRow Exclude(Condition(o == e.Owner, BlockAll, o)), i.e. unless
//	            an o cell of another owner is there → DeleteFromRow, e, o, a. The row absent
//	            or the owner's own (a retried Record whose response was lost): written.
//	            Otherwise nothing changes and Record returns ErrConflict.
//	Get         ReadRows of the row (newest version per column).
//	Update      CheckAndMutateRow Include(o == prev.Owner, with o.ts == floor_ms(prev.Heartbeat)
//	            unless that is zero) → DeleteFromRow, e, o, a (the whole entry, as Record).
//	            No match: ReadRows of o tells ErrNotFound (no row) from ErrConflict. A retry
//	            after a lost response matches again only if e keeps prev's lease; otherwise it
//	            reports ErrConflict, which the contract allows (callers re-read).
//	Refresh     CheckAndMutateRow Include(o == owner) → replace o with (owner, heartbeat):
//	            SetCell, then delete every other version of o by timestamp range.
//	            No match: ReadRows of o tells ErrNotFound (no row) from ErrConflict.
//	Remove      MutateRow DeleteFromRow (idempotent).
//	ClaimStale  ReadRows pages of Limit rows in key order with the filter
//	            Condition(o.ts < StaleBefore, Condition(a.ts > now, BlockAll, PassAll), BlockAll),
//	            CleanupAfter re-checked exactly on the client; then per entry
//	            CheckAndMutateRow Include(o.ts < StaleBefore && o == owner read
//	                                      | o == (claimer, Now)) → replace o with (claimer, Now).
//	            Only entries whose claim matched are returned; the second branch makes a
//	            claim whose response was lost succeed on retry. If claims are lost to other
//	            claimers, up to 8 pages are scanned.
//	Scan        ReadRows pages of 500 rows in key order from the last key read, with the
//	            filter Chain(e | o, latest 1); the callback runs after each page is read, so a
//	            retried page never reports an entry twice.
//
// The last recovery run (driver.RunLog) is one reserved row, "~strata/recovery-run" ("~"
// sorts after every UUID), in family c with a column of its own:
//
//	column  value                                                cell timestamp
//	r       JSON (driver.RecoveryRun's): {"started"              the run's start, ms, floor
//	        (RFC 3339, ms), "duration_ms", "ok", "error"
//	        (absent when ok), "claimed", "settled",
//	        "dispatched", "failed", "instance"}
//
// RecordRun is one MutateRow: DeleteFromRow, then r, so concurrent runs leave one whole
// record (the last applied). The row has neither e nor o, so ClaimStale's filter (a stale o)
// and Scan's (e | o) never return it, and every change-log method refuses the reserved key
// as a change id (ErrInvalidArgument). LastRun is one ReadRows of r.
//
// # RPCs per operation
//
//	small put                     1 CheckAndMutateRow
//	small put over a tombstone    CheckAndMutateRow + ReadRows (returns the tombstone)
//	get, head (no bump)           1 ReadRows (head filters to m, r, t)
//	get with a TTI bump           ReadRows + CheckAndMutateRow
//	head with a TTI bump          object: 2 ReadRows + CheckAndMutateRow; tombstone: ReadRows + CheckAndMutateRow
//	delete                        1 CheckAndMutateRow (+ ReadRows over a tombstone)
//	CompareAndWrite               1 CheckAndMutateRow (none when w.Deadline has passed)
//	Record                        1 CheckAndMutateRow
//	Get (change log)              1 ReadRows
//	Update                        1 CheckAndMutateRow (+ ReadRows on a mismatch)
//	Remove                        1 MutateRow
//	Refresh                       1 CheckAndMutateRow (+ ReadRows on a mismatch)
//	ClaimStale                    1 ReadRows per page + 1 CheckAndMutateRow per candidate
//	Scan                          1 ReadRows per page of 500 entries
//	RecordRun                     1 MutateRow
//	LastRun                       1 ReadRows
//
// The tests count them with a gRPC interceptor and fail on any change.
//
// # Retries and errors
//
// Every RPC attempt runs under Options.RPCTimeout (default 10s; less under a write deadline,
// see below); up to Options.MaxAttempts (default 3) attempts are made, with exponential
// backoff (from Options.RetryBackoff, 50ms, doubling, capped at 2s) and equal jitter. Retried: Unavailable, Aborted, Internal, Unknown,
// and DeadlineExceeded of the attempt. Not retried: ResourceExhausted (quota or an oversized
// message), InvalidArgument, NotFound, PermissionDenied, Unauthenticated, FailedPrecondition,
// and anything once the caller's context is done (the error then wraps the context's error).
// CheckAndMutateRow is retried too (the client library never retries it) where a retry
// cannot re-apply the write over a later writer's: PutNonTombstone, DeleteNonTombstone, and
// CompareAndWrite of a swap between two tombstones (revisions are unique, so its predicate
// can never match again once the row moved on). Every other CompareAndWrite also matches
// "no live tombstone", a state the row can leave and come back to, so it makes one attempt,
// and a failure is an unknown outcome that the Store settles from the row. Note that the library itself also retries ReadRows
// and MutateRow with explicit timestamps on Unavailable, DeadlineExceeded and Aborted within
// each attempt's deadline.
//
// A retried failure may hide an applied write: gRPC does not tell whether a failed request
// reached the server. A CompareAndWrite retry that matches reports success (its predicate
// matches its own write), but one that does not match cannot tell "never applied" from
// "applied, then replaced by another writer". CompareAndWrite therefore reports (false, nil)
// only when its first attempt answered; a mismatch on a later attempt is an error matching
// ErrUnavailable ("outcome unknown"), so that the Store never cleans up a revision the row
// may have referenced as if the write had lost. PutNonTombstone and DeleteNonTombstone are
// not affected: a mismatch there returns the tombstone found, which is right either way.
//
// # Write deadlines
//
// CompareAndWrite honours driver.Write.Deadline, the fence of the Store's commit protocol,
// with the backend's clock (Options.Now). Bigtable cannot test an absolute time in a
// predicate, so the bound is enforced on the client and through gRPC deadline propagation:
//   - no attempt (first or retry) starts once the clock reads Deadline, and a backoff that
//     would end at or after it is not waited out: the call fails at once with an error
//     matching ErrUnavailable (its outcome unknown when an earlier attempt failed);
//   - every attempt runs under a context deadline of min(RPCTimeout, Deadline - now). gRPC
//     sends it with the request (grpc-timeout, a relative duration, so client and server
//     clocks need not agree), and Bigtable drops a request whose deadline has passed rather
//     than apply it.
//
// The fence therefore relies on Bigtable honouring the propagated gRPC deadline. The residual
// bound is not zero: the server's timer starts when the request arrives, so its deadline is
// later than the client's by the request's one-way network delay, and a mutation already
// being committed when the deadline passes is not aborted. A write can thus still apply
// shortly (milliseconds: network delay plus commit time) after Deadline, and the Store must
// keep a margin of that order between Deadline and the moment it treats the row as settled
// (its lease expiry, NotBefore). The bound also holds only as far as Options.Now agrees with
// the process's real clock, since the attempt deadline is Deadline - Options.Now() from the
// real clock.
//
// Failures are *Error values matching a driver sentinel: ErrUnavailable for transient codes
// and ResourceExhausted, ErrTooLarge for a message over the gRPC limit, ErrInvalidArgument
// for InvalidArgument and OutOfRange; other codes (for example NotFound for a missing table)
// match no sentinel, so a misconfiguration is never mistaken for a missing object.
//
// # Connections
//
// The caller's client decides the transport. bigtable.NewClient (or NewClientWithConfig, for
// an app profile or option.WithGRPCConnectionPool) gives the library's production transport:
// credentials, a channel pool, 256 MiB messages, and the pool's channel priming (PingAndWarm
// on every new channel). For an emulator or bttest, DialEmulator makes a connection with
// 256 MiB call options, because the library's BIGTABLE_EMULATOR_HOST path keeps gRPC's 4 MiB
// default and fails reads of larger rows, and NewEmulatorClient makes a client on it. Prime
// sends one PingAndWarm to open a lazily dialed connection at start-up. CreateTables creates
// both tables for development and tests and sets the GC policies with SetGCPolicy, which the
// emulator needs to start its GC loop at all.
package bigtablebackend
