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
// row lookup and, for a large object, one long-term read; it never probes both tiers.
//
// # Commit points
//
// The only commit point of every operation is one compare-and-write on the object's row
// (driver.HighVolume.CompareAndWrite). It is idempotent: a retry after a lost response sees
// the row in the target state and reports success. Concurrent writers race; the last to
// commit wins, and a lost race is not an error: the loser deletes its own revision and
// reports success, as if it had won a moment earlier and then been overwritten.
//
// # The change log
//
// Before a cross-tier mutation touches anything, it records a driver.Change {ID, New, Old}
// in the durable change log. The entry carries a lease (owner and heartbeat) that the
// request renews while it runs. The change moves through phases:
//
//	Recorded   logged; the long-term write may be under way          → cleanup deletes New
//	Assembling a multipart complete is logged                         → left for recovery after 24 h
//	Written    the compare-and-write was tried, outcome unknown       → cleanup deletes Old and New
//	Lost       another writer won                                     → cleanup deletes New
//	Updated    committed                                              → cleanup deletes Old
//	Recovered  claimed by recovery after the owner vanished           → cleanup deletes Old and New
//
// In every phase cleanup first reads the row, and never deletes the revision the row
// references: a retried multipart complete can commit its revision again after a later
// write replaced it.
//
// When the request ends, the phase decides the cleanup task, which a Dispatcher carries to
// Store.Cleanup: in-process (Worker) locally, over Pub/Sub in production. The request waits
// only until the dispatcher has accepted the task. Cleanup deletes every revision of the
// change that the row does not reference, waiting a grace period first when the revision
// may have been readable, and then removes the entry. If anything fails on the way (a
// crash, a failed dispatch, a failed delete), the entry stays; once its lease is stale,
// Store.Recover claims it and dispatches the cleanup again. Recovery never replays a write.
// A request whose lease was claimed by recovery before its commit does not commit.
//
// # Operations
//
// Put, small body (≤ 1 MiB):
//  1. PutNonTombstone writes the row unless it holds a live tombstone.
//     OK: done, one high-volume call.
//     Tombstone present: continue.
//  2. Record {ID, Old: tombstone target}.
//  3. CompareAndWrite(current = target, inline object).
//     OK: Updated; cleanup deletes the old revision after the grace period.
//     Conflict: Lost; the winner cleans up the old revision, there is nothing of ours.
//     Error: Written; cleanup reads the row and deletes what it does not reference.
//
// Put, large body:
//  1. GetTieredMetadata reads the row's current tombstone target, if any.
//  2. Record {ID, New: fresh revision, Old: current}.
//  3. Put streams the body to the revision.
//     Error or cancelled: Recorded; cleanup deletes the new revision.
//  4. CompareAndWrite(current, tombstone → revision).
//     OK: Updated; cleanup deletes the old revision after the grace period.
//     Conflict: Lost; cleanup deletes the new revision.
//     Error: Written; cleanup reads the row.
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
//  3. CompareAndWrite(current = target, delete): the commit point.
//     OK: Updated; cleanup deletes the revision after the grace period.
//     Conflict: Lost; the winner cleans up.
//     Error: Written; cleanup reads the row.
//
// Multipart upload: InitiateMultipart starts a long-term upload into a fresh revision and
// returns objectstore's tiered upload id, base64url(JSON{revision, upload_id}). Parts,
// listing and abort go straight to the long-term backend; the revision in an upload id must
// belong to the request's own key. Complete:
//  1. GetTieredMetadata: if the tombstone already points to the revision, an earlier
//     attempt committed, and the result is success.
//  2. Record {ID, New: revision, Old: current, UploadID, CleanupAfter: now + 24 h} in phase
//     Assembling: nothing is cleaned up when the request ends in this phase. Every attempt
//     records under the same id (the revision's UUID), so a retry takes over the entry of
//     a failed attempt.
//  3. CompleteMultipart assembles the parts.
//     Reported failure (bad part, ETag): the entry is removed and the failure returned;
//     the upload survives for a corrected retry.
//     Error: it may have assembled anyway; continue.
//  4. Head the revision: proof that it exists, and the initiate-time expiration policy.
//     Missing: return the error; the client may retry.
//  5. CompareAndWrite(current, tombstone → revision), then Updated or Lost as for a put.
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
