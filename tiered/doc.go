// Package tiered is Strata's storage protocol: a portable Store that keeps small objects
// inline in a high-volume backend (Bigtable) and large ones in a long-term backend (GCS),
// consistent across the two without locks. It implements the semantics of objectstore's
// tiered backend, plus a durable change log, dispatched cleanup, and recovery.
//
// # Routing and tombstones
//
// A put peeks at most Threshold (1 MiB) bytes of its body. A body that ends within the
// peek, exactly 1 MiB included, is stored inline in one high-volume row. A longer body
// streams, without further buffering, to a fresh long-term revision "{key}/{uuidv7}", and
// the row gets a redirect tombstone pointing to that revision. A read therefore costs one
// row lookup and, for a large object, one long-term read; it never probes both tiers. A
// body that is a *bytes.Buffer within the threshold is already in memory and is stored
// from its own bytes, without a peek buffer (the HTTP layer stages small uploads this way).
//
// # Fault model
//
// The protocol is argued, and simulated (sim_test.go), under these faults, and no others:
//
//  1. Calls may stall for any finite time, before or after they apply.
//  2. A call that returned an error, or timed out, may still have applied; a mutation applies
//     at most once per attempt. Responses may be lost.
//  3. Processes may crash at any point, and instances may be paused (Cloud Run throttles a
//     function's CPU after it responds).
//  4. Each process's clock, and each backend's, may be off from true time by at most
//     MaxClockSkew (Options; 2 s by default), and may jump within that bound.
//  5. Expiry (TTL, TTI) is decided by the backend's clock.
//
// Two bounds are named. The fence below needs the first; LongTermSettle covers the second:
//
//   - A backend never applies a compare-and-write at or after its Write.Deadline by its own
//     clock. The memory and local backends check it where they apply the write; Bigtable
//     cannot, so the Bigtable backend starts no attempt past the deadline and gives each RPC
//     the remaining time as its gRPC deadline, which the server honours (the residual is the
//     request's one-way network delay, milliseconds, well inside 2×MaxClockSkew).
//   - A long-term write (an upload, a multipart assembly) whose writer lost its lease lands,
//     if at all, within LongTermSettle (15 min by default) of recovery claiming its entry.
//
// Beyond the first bound a stalled commit could land after recovery settled its change; the
// writer then finds its lease lost when it logs the outcome and logs "fence: …" at warning
// level. Beyond the second, a revision could appear after its entry was settled; a writer
// still alive logs it again under a fresh entry.
//
// # Commit points and the fence
//
// The only commit point of every operation is one compare-and-write on the object's row
// (driver.HighVolume.CompareAndWrite). It is idempotent: a retry after a lost response sees
// the row in the target state and reports success. Concurrent writers race; the last to
// commit wins, and a lost race is not an error: the loser deletes its own revision and
// reports success, as if it had won a moment earlier and then been overwritten. A backend
// that retries internally reports an unknown outcome (an error), never a lost race, when an
// earlier attempt may have applied.
//
// Every compare-and-write carries a deadline D = last heartbeat + StaleAfter − 2×MaxClockSkew
// (by the writer's clock), and is not sent at all once D has passed. Recovery claims an entry
// only when its heartbeat is StaleAfter old by the recoverer's clock. With clocks within
// MaxClockSkew of each other, every attempt is dead by the backend's clock before the claim,
// so whatever recovery then reads from the row is final for that change.
//
// # The change log
//
// Before a cross-tier mutation touches anything, it records a driver.LogEntry {ID, Change
// {New, Old}, Phase, NotBefore} in the durable change log, under a lease (owner, heartbeat)
// that the request renews while it runs. The entry, not any message, is the only authority
// for cleanup: a cleanup task carries nothing but the entry's id. Phases:
//
//	in progress (the lease holder's, or recovery's once the lease is stale)
//	Recorded    a put or delete is logged; its upload or commit may be under way; or a
//	            multipart complete is logged whose upload is not yet proven alive
//	Assembling  a multipart complete proved its upload alive; it has not tried to commit
//	Written     a multipart complete logged that it is about to commit (before it does)
//	final (cleanup acts on them once NotBefore has passed)
//	Aborted     ended before any commit attempt              → delete New
//	Lost        the commit did not apply                     → delete New
//	Updated     committed                                    → delete Old, after the grace period
//	Unknown     the commit's outcome is unknown              → settle from the row, at D + skew
//	Superseded  it may have committed, the row references neither revision
//	                                                         → delete Old and New, after the grace period
//
// Cleanup (Store.Cleanup) reads the entry: gone, nothing to do; in progress, refused (a
// forged or early task does nothing); not due, *NotDueError (Pub/Sub redelivers it later,
// the local Worker sets a timer; nothing sleeps out a grace period inside a function).
// Unknown is settled from the row: it references New → Updated; still Old → Lost (it never
// landed); neither → Superseded. Every doomed revision of the change's object that the row
// does not reference then goes, the change's own upload is aborted (only when the entry is
// named by its New revision's UUID and New is a revision of its object), and the entry is
// removed. When the request ends, it writes
// its outcome to the entry (conditional on still holding the lease) and dispatches the task;
// an outcome with nothing to delete just removes the entry. If anything fails on the way,
// the entry stays, and once its lease is stale and its CleanupAfter (= NotBefore) passed,
// Store.Recover claims it: an in-progress entry becomes Unknown (or Aborted for a multipart
// complete that never tried to commit), with NotBefore pushed by LongTermSettle when an
// upload may still land; a final entry keeps its phase and NotBefore. Recovery never replays
// a write.
//
// # Why nothing acknowledged is lost and nothing is orphaned
//
//   - A revision is deleted only by the cleanup of an entry that names it, only when that
//     entry is final and due, and never while the row references it.
//   - A put's revision is committed by one change only (revision ids are fresh UUIDs). When
//     its entry is settled (by its owner after the commit call returned, or from the row once
//     recovery claimed it), no attempt of that commit can still land: the owner's call
//     resolved, or every attempt's deadline passed before the claim. So "the row does not
//     reference New" is final, and deleting New cannot leave a dangling tombstone.
//   - A multipart revision is committed at most once: every attempt of a complete shares one
//     entry (named by the revision's UUID), logs Written before its commit, and commits only
//     while holding that entry in an in-progress phase. A retry that finds the entry final,
//     or finds it gone while the upload is gone and the revision exists, reports success
//     without committing; one that finds Written with a stale lease settles it from the row
//     and commits again only if the row still holds the entry's Old, which proves the earlier
//     attempt never landed. So "read the row, then delete" cannot race a re-commit.
//   - An Old revision was superseded no later than the moment its deleter observed the
//     outcome (the commit returned, or the row was read after the claim), and NotBefore is
//     that moment plus the grace period: no revision goes before its grace period ends, less
//     the clock skew. Recovery keeps the NotBefore of a finished entry.
//   - Every revision is named by an entry before it is written (write-ahead), and an entry is
//     removed only after its doomed revisions are gone or live. An upload that lands after its
//     entry was claimed lands within LongTermSettle, before recovery settles the entry.
//   - A put is acknowledged only after its commit returned true (or an expiry of the replaced
//     tombstone was retried); a commit whose deadline passed is never acknowledged.
//
// # Operations
//
// Put, small body (≤ 1 MiB):
//  1. PutNonTombstone writes the row unless it holds a live tombstone.
//     OK: done, one high-volume call.
//     Tombstone present: continue.
//  2. Record {ID, Old: tombstone target}.
//  3. CompareAndWrite(current = target, inline object, deadline D).
//     OK: Updated; cleanup deletes the old revision after the grace period.
//     Conflict: Lost; the winner cleans up the old revision, there is nothing of ours, and
//     the entry is removed at once.
//     Error: Unknown; cleanup settles it from the row once D has passed.
//
// Put, large body:
//  1. GetTieredMetadata reads the row's current tombstone target, if any.
//  2. Record {ID, New: fresh revision, Old: current}.
//  3. Put streams the body to the revision.
//     Error or cancelled: Aborted; cleanup deletes the new revision (after LongTermSettle
//     when the upload itself failed and might still land).
//  4. CompareAndWrite(current, tombstone → revision, deadline D).
//     OK: Updated; cleanup deletes the old revision after the grace period (a put to a new
//     key has nothing to delete, and removes its entry at once).
//     Conflict: the row is read again. No live tombstone (the one we meant to replace
//     expired during the upload): the write is tried again over "no tombstone". Otherwise
//     Lost; cleanup deletes the new revision.
//     Error: Unknown; cleanup settles it from the row once D has passed.
//
// Get and Head:
//  1. GetTiered / GetTieredMetadata: an inline object is returned at once (a range is
//     sliced from the payload); no row is ErrNotFound.
//  2. A tombstone is followed to its long-term revision.
//     Revision missing: the row is read again, since a concurrent overwrite may have
//     swapped the tombstone and deleted the revision in between; the new target is
//     followed, and a tombstone that still points to a missing revision is ErrNotFound.
//
// Delete:
//  1. DeleteNonTombstone deletes the row unless it holds a live tombstone.
//     OK: done, one high-volume call.
//  2. Record {ID, Old: tombstone target}.
//  3. CompareAndWrite(current = target, delete, deadline D): the commit point.
//     OK: Updated; cleanup deletes the revision after the grace period.
//     Conflict: Lost; the winner cleans up.
//     Error: Unknown; cleanup settles it from the row.
//
// Multipart upload: InitiateMultipart starts a long-term upload into a fresh revision and
// returns objectstore's tiered upload id, base64url(JSON{revision, upload_id}). Parts,
// listing and abort go straight to the long-term backend; the revision in an upload id must
// belong to the request's own key, and the backend binds its upload to that revision. An
// upload id is client input that leaks (base64 JSON), so its revision UUID, which names the
// complete's change-log entry, may be another upload's: complete acts on an existing entry
// only when it is this upload's own (same object, revision and backend upload), and answers
// anything else with ErrInvalidArgument (400) without touching it. Multipart is optional: when the long-term backend does
// not implement driver.Multipart, every multipart operation returns ErrUnimplemented (501).
// Complete:
//  1. GetTieredMetadata: if the tombstone already points to the revision, an earlier
//     attempt committed, and the result is success.
//  2. Take the upload's entry, named by the revision's UUID and shared by every attempt
//     (see acquireComplete): create it (Recorded: unproven, CleanupAfter = now + 24 h),
//     then prove the upload alive (ListParts) and log Assembling; a gone upload means an
//     earlier attempt completed and was cleaned up: success (or not found), no commit. Or take over
//     a released or stale one; or stop: final Updated/Lost → success, Unknown/Superseded →
//     retry later, Aborted → not found, held by a live attempt → retry later.
//  3. CompleteMultipart assembles the parts.
//     Reported failure (bad part, ETag): the failure is returned and the entry released
//     (it stays: an earlier attempt may have assembled the revision).
//     Error: it may have assembled anyway; continue.
//  4. Head the revision: proof that it exists, and the initiate-time expiration policy.
//     Missing: return the error; the entry is released for a retry.
//     The upload was gone and we created the entry: an earlier attempt committed and was
//     cleaned up; success, without committing again.
//  5. Log Written, then CompareAndWrite(current, tombstone → revision, deadline D).
//     OK or Conflict: Updated or Lost, as for a put. Error: the entry stays Written and its
//     lease lapses; a retry settles it from the row.
//
// A failed complete that is never retried leaves its entry; after 24 h, recovery deletes the
// assembled revision unless the row references it, and aborts the upload. Uploads that are
// never completed are reaped by the long-term backend (a bucket lifecycle rule on GCS).
//
// # Expiry
//
// TTL and TTI objects carry an absolute deadline (Metadata.TimeExpires), fixed when the
// write starts. Backends hide expired objects immediately and bump TTI deadlines on reads;
// the bump is conditional on the version read, so it never reverts a concurrent write.
package tiered
