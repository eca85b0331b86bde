// Package localbackend is Strata's embedded durable backend, used by `make run`: the
// high-volume role and the change log live in one bbolt database, the long-term role (with
// multipart uploads) on the filesystem, all under one data directory.
//
//	b, err := localbackend.Open(ctx, "./data", nil)
//	store, err := tiered.New(b.HighVolume(), b.LongTerm(), b.ChangeLog(), nil)
//	defer b.Close()
//
// # Directory layout
//
//	{dir}/strata.db                 bbolt: buckets "rows", "rowexp", "changelog", and
//	                                "recovery" once a recovery run was recorded
//	{dir}/blobs/{hh}/{sha}          one long-term object; sha = hex SHA-256 of its storage
//	                                path, hh = its first two hex digits (created on first use)
//	{dir}/uploads/{uploadID}/       one multipart upload (uploadID is a UUIDv7)
//	    meta.json                   {"path": storage path, "metadata": {objectstore JSON},
//	                                 "initiated": RFC 3339}
//	    {nnnnn}.part                part number n, zero-padded to 5 digits
//	{dir}/tmp/                      files being written; everything here is garbage once
//	                                the writer is gone
//
// Long-term objects are not laid out as a mirror of their storage paths: a path may be both
// an object ("a/<uuid>") and the prefix of another ("a/<uuid>/<uuid2>"), and one segment may
// exceed NAME_MAX. Hashed names avoid both problems; the header keeps the real path.
//
// # Directory lock
//
// Open takes bbolt's exclusive flock on strata.db and holds it until Close; that lock
// guards the whole directory. A second Open, from any process, fails after
// Options.LockTimeout with "data directory … in use". Holding the lock, Open deletes
// everything in tmp/, since no other writer can exist.
//
// # High-volume rows (bucket "rows")
//
// Key: the storage path. Value, all integers big endian:
//
//	u8  format (1)
//	u8  kind: 1 inline object, 2 tombstone
//	u64 generation: a fresh value of the bucket's sequence on every write (put, swap);
//	    a TTI bump keeps it. A bump re-checks it to know the row is the version it read.
//	u8  deadline present (0/1)
//	i64 deadline, Unix seconds
//	u32 deadline, nanoseconds
//	object:    uvarint len, metadata JSON (object.Metadata's objectstore form), payload
//	tombstone: uvarint len, target storage path; uvarint len, policy JSON
//	           (object.MarshalPolicyJSON)
//
// The deadline is the object's TimeExpires (TTL/TTI) or the tombstone's Expires (written
// as now + policy duration); absent for Manual. A row whose deadline is before now is
// absent for every read and every compare-and-write predicate, whether or not it has been
// swept. Bucket "rowexp" indexes deadlines: key = 8 bytes of seconds with the sign bit
// flipped, 4 bytes of nanoseconds, then the storage path; empty value. It is updated in the
// same transaction as the row.
//
// Compare-and-write deadline: a write with Write.Deadline reads Options.Now inside its
// transaction, after the committer picked it up, and writes nothing (the call fails with
// ErrUnavailable) once the clock reads the deadline, whatever the row holds. The check
// precedes the commit's fsync, so the write becomes visible to readers up to one fsync
// after the check; the Store's deadline margins must cover that.
//
// TTI bump: a read that finds a bump due (ExpirationPolicy.TTIBump) calls the
// SetBeforeBump seam, then commits a separate write that re-reads the row and applies the
// new deadline (in the record and in the metadata JSON) only if the generation is unchanged,
// the row is still live, and the deadline moves forward. A concurrent overwrite, swap or
// delete therefore always wins. Bump failures are logged, never returned.
//
// # Change log (bucket "changelog")
//
// Key: the change id (UUIDv7, so keys sort by time). Value: JSON
//
//	{"id": storage path, "new": path, "old": path, "upload_id": "…",
//	 "cleanup_after": RFC 3339, "phase": name, "not_before": RFC 3339,
//	 "owner": "…", "heartbeat": RFC 3339}
//
// with empty fields left out. "phase" is the driver.Phase name ("recorded", "assembling",
// "written", "aborted", "lost", "updated", "unknown", "superseded"); it and "not_before"
// were added after the first release, so a record without them is PhaseRecorded with no
// NotBefore, and an entry at those values is still written in the original form. A record
// with an unknown phase name is corrupt; Record and Update refuse a phase without a name
// (ErrInvalidArgument). Times keep nanoseconds; lease heartbeats are compared at
// millisecond precision, as the driver contract allows.
//
// Scan (driver.ChangeLogReader) reads the bucket in key order, 256 entries per read
// transaction, and calls its callback outside the transaction.
//
// # Recovery-run record (bucket "recovery")
//
// driver.RunLog keeps the last recovery run at key "last" of its own bucket, never in
// "changelog", so no claim or scan can see it. The bucket is created by the first RecordRun.
// Value: driver.RecoveryRun's JSON form
//
//	{"started": RFC 3339 (ms), "duration_ms": n, "ok": bool, "error": "…" (absent when ok),
//	 "claimed": n, "settled": n, "dispatched": n, "failed": n, "instance": "…"}
//
// Each RecordRun replaces it in one transaction: concurrent runs leave the last one whole.
//
// Record, Update, Refresh, Remove and ClaimStale are each one transaction, so every
// read-check-write is atomic: bbolt has a single writer. Record and Update read the stored
// entry first: Record replaces it only when its owner is the new entry's owner, Update only
// when its lease matches the given one (same owner and, unless the given heartbeat is zero,
// the same heartbeat); otherwise they write nothing and return ErrConflict. Get is a plain
// read transaction.
//
// # Long-term blob files (blobs/{hh}/{sha})
//
//	offset 0   "STRATAB1"
//	offset 8   deadline: u8 present, i64 Unix seconds, u32 nanoseconds (13 bytes), then
//	           3 zero bytes
//	offset 24  u32 length of the storage path
//	offset 28  u32 length of the metadata JSON
//	offset 32  storage path, metadata JSON (objectstore form, size left out), payload
//
// The deadline field is authoritative for TimeExpires; the JSON keeps the value given at
// write time. Size is the file length minus the header. Get seeks past the header (plus the
// range start) and streams from the descriptor it opened, so a concurrent overwrite or
// delete does not disturb a reader.
//
// TTI bump of a blob: an in-place pwrite of the 13-byte deadline through the descriptor
// the read opened, then fsync. It is version-conditional by construction: an overwrite
// renames a new inode into place and a delete unlinks the name, and writing to the old
// inode can neither alter the new object nor bring back a deleted one. Within a 4 KiB
// sector and page, the 13-byte write is not torn in practice.
//
// # Multipart part files (uploads/{uploadID}/{nnnnn}.part)
//
//	offset 0   "STRATAP1"
//	offset 8   MD5 of the content (16 bytes)
//	offset 24  content
//
// The ETag is the quoted lowercase hex MD5. LastModified is the file's mtime. Complete
// checks that every listed part exists with its ETag, then copies the parts one by one into
// a temp blob file, re-checking each header on the descriptor it copies from (so the bytes
// copied are the bytes whose ETag matched), and installs the file like Put; then the
// upload directory is renamed into tmp/ and deleted. Abort does the same rename and
// delete. Completing into the same object twice (a retry after a lost response) finds the
// upload gone: ErrNotFound.
//
// # Durability
//
// Nothing is acknowledged before it is on disk:
//
//   - bbolt commits (rows, deadlines, change log) fsync the database (NoSync is false).
//   - Put, UploadPart and Complete write into tmp/, fsync the file, rename it into place and
//     fsync the destination directory. A crash before the rename leaves only a temp file,
//     removed at the next Open; a previous object at the same path stays intact.
//   - Initiate builds the upload directory (meta.json fsynced) under tmp/ and renames it
//     into uploads/; Delete, Abort and Complete's cleanup fsync the directory they unlinked
//     or renamed from.
//
// # Group commit
//
// Every bbolt write goes through one committer goroutine. It takes all writes queued while
// the previous commit was fsyncing (up to 1024) and applies them in one transaction, so
// concurrent small writes share one fsync. Unlike bbolt's DB.Batch, it never waits on a
// timer (DB.Batch delays a lone write by MaxBatchDelay, 10 ms by default): a single writer
// pays exactly one fsync. If one write of a group fails, the transaction rolls back and each
// write of the group is retried in its own transaction. Reads are plain db.View
// transactions and never wait for the committer.
//
// # Sweeping
//
// Expired data is invisible immediately; the sweeper only reclaims space. Every
// Options.SweepInterval (default 1 min; negative disables) Sweep walks the deadline index
// from its oldest entry and deletes expired rows in transactions of at most
// Options.SweepBatch rows (re-checking each row inside the transaction), then walks the
// blob directories and unlinks expired blobs, checking and unlinking under the stripe lock
// that Put's rename also takes. Finally it removes multipart uploads older than
// UploadLifetime (7 days), read from their UUIDv7 ids, which are minted on the backend's
// clock: the counterpart of the GCS bucket's lifecycle rule on "~uploads/". Uploads whose
// complete failed are also aborted by the tiered change log after 24 hours.
package localbackend
