// Package gcsbackend implements driver.LongTerm and driver.Multipart on Google Cloud Storage
// with cloud.google.com/go/storage (JSON API for every call, reads included).
//
//	client, err := storage.NewClient(ctx, storage.WithJSONReads())
//	defer client.Close()
//	lt, err := gcsbackend.Open(ctx, client, "my-bucket", nil)
//
// # Opening
//
// Open(ctx, client, bucket, opts) is the shape every Strata backend's Open has: the caller
// makes the *storage.Client (credentials, endpoint, transport), passes it in and keeps
// owning it, so it closes the client itself after the last use of the Backend; the Backend
// has no Close. The name is the bucket. A nil *Options means the defaults. For an emulator,
// either set STORAGE_EMULATOR_HOST before making the client or use NewEmulatorClient.
//
// # Naming
//
// An object lives at its storage path, id.StoragePath(), as one GCS object in one bucket:
//
//	{usecase}/{scope}.{value}/.../objects/{key}
//
// Strata's Store hands this backend revision ids, "{key}/{uuidv7}", so a GCS object is
// written once and never overwritten in production; the backend does not depend on that.
//
// Multipart uploads live under the reserved top-level prefix "~uploads/". No storage path can
// begin with '~' (it is not a usecase character), so uploads never collide with objects:
//
//	~uploads/{uploadID}/meta            JSON {"v":1,"target":storage path,"metadata":{...}}
//	~uploads/{uploadID}/{nnnnn}         part nnnnn (00001..10000, zero-padded: lexical = numeric)
//	~uploads/{uploadID}/tmp-{l}-{iiiii} intermediate compose results of level l
//
// The upload id is a random UUID (36 bytes); "metadata" is object.Metadata's objectstore JSON.
//
// # Metadata mapping
//
// The stored resource is objectstore's (storage-internals §8), field for field; Strata adds
// no metadata key of its own, so objectstore can read every object Strata writes:
//
//	object.Metadata     GCS object
//	-----------------   -------------------------------------------------------------
//	ContentType         contentType (DefaultContentType when empty)
//	Compression zstd    contentEncoding "zstd"
//	TimeExpires         customTime (TTL/TTI only; see "customTime precision")
//	ExpirationPolicy    metadata x-sn-expiration = "ttl:1h" / "tti:30days" (TTL/TTI only)
//	Origin              metadata x-sn-origin (also when present but empty: "")
//	Filename            metadata x-sn-filename (also when present but empty: "")
//	Custom[k]           metadata x-snme-{k}
//	TimeCreated         timeCreated (set by GCS; read only)
//	Size                size (set by GCS)
//
// Reads take TimeCreated from GCS's timeCreated and TimeExpires from customTime, as objectstore
// does, so both systems report the same times for the same object. TimeCreated is therefore
// when GCS stored the object (for multipart, when it was composed), not the server's stamp
// from the start of the request; driver.LongTerm allows that. Objects written by earlier
// Strata versions carry x-sn-time-created and x-sn-time-expires keys; reads ignore them
// (objectstore cannot read those objects at all).
//
// Deliberate deviation from objectstore: unknown metadata keys (any other x-sn- key, or an
// unprefixed one such as gsutil's goog-reserved-file-mtime) are ignored on read, where
// objectstore fails the read with a 500; driver.LongTerm requires that. A malformed
// x-sn-expiration fails the read in both, since guessing a policy could delete or keep an
// object wrongly. golden_test.go checks writes and reads against objectstore's golden
// objects (tiered/backendtest/golden).
//
// # customTime precision
//
// objectstore sends customTime with nanoseconds on a single upload (GCS keeps milliseconds)
// and with whole seconds, truncated, on its XML multipart path. The Go JSON client formats
// customTime as RFC 3339 without a fraction, so it would truncate every deadline to the
// second, and an object could expire up to 1 s before objectstore would let it. Strata
// therefore rounds every customTime it writes UP to the next whole second: on Put, on
// CompleteMultipart and on TTI bumps. A Strata object's deadline is at most 1 s later than
// objectstore's for the same input, never earlier. (Keeping objectstore's exact precision
// would need hand-made JSON requests beside the client, or the gRPC client.) The Bigtable
// tombstone keeps its own millisecond deadline; a read sees the object only while both the
// tombstone and the GCS object are live.
//
// GCS limits custom metadata to 8 KiB (keys plus values), less than object.MaxMetadataBytes;
// Put and InitiateMultipart answer ErrInvalidArgument beyond it.
//
// # Expiry
//
// A TTL or TTI object carries customTime = TimeExpires rounded up to a whole second. Three mechanisms apply:
//   - reads hide the object once TimeExpires is before Options.Now (ErrNotFound);
//   - the bucket's lifecycle rule deletes it days later (see "Bucket lifecycle");
//   - a TTI read past the debounce (object.ExpirationPolicy.TTIBump) PATCHes customTime
//     (rounded up to a whole second), on the generation that was read and conditional on its
//     metageneration, so a bump never alters a newer generation or a concurrent change.
//     A failed bump is logged and the read succeeds. Reads return the pre-bump metadata.
//
// Manual objects never get customTime, since the lifecycle rule would delete them.
//
// # Operations and their cost in GCS requests
//
//   - Put: one upload. Objects up to ChunkSize go in one request; larger ones use a resumable
//     session (one request per chunk). The Writer is fed from the body as it arrives and
//     holds one ChunkSize buffer, so memory is bounded by concurrent uploads × ChunkSize
//     (8 MiB by default), never by object size. The object appears only when Close
//     finalises it after the body's io.EOF; a body error or a cancelled context cancels the
//     Writer's context first, so nothing is created and an earlier generation stays. The
//     JSON client sends a CRC32C of the whole object with the final request; GCS rejects a
//     mismatch.
//   - Get: 2 requests (metadata, then media pinned to the generation just read, so body and
//     metadata match), +1 PATCH for a TTI bump. A 0-byte object needs no media request, and
//     an unsatisfiable range (resolved against the metadata's size) returns *RangeError after
//     1 request. If the generation vanished between the two requests, Get starts over once.
//   - Head: 1 request, +1 for a bump.
//   - Delete: 1 request; a missing object is success.
//   - InitiateMultipart: 1 upload (meta).
//   - UploadPart: 2 (meta read to check the target, part upload). The ETag is the quoted hex
//     MD5 of the bytes, computed while streaming and checked against GCS's; the chunk is sized
//     down to the part so small parts hold small buffers.
//   - ListParts: 2 (meta read, one listing page between StartOffset "{marker+1}" and
//     EndOffset ":"; the page asks for maxParts+1 names, so a small page is a small request).
//   - CompleteMultipart with n parts: meta read, listing (⌈n/1000⌉ pages), composes (1 for
//     n ≤ 32; ⌈n/32⌉+1 up to 1024; 313+10+1 = 324 for 10000), meta delete, then one delete
//     per part and intermediate. fake-gcs-server adds a PATCH for customTime (see Emulators).
//   - AbortMultipart: meta read, meta delete, listing, one delete per object.
//
// UploadPart, ListParts and CompleteMultipart first check that the upload's meta exists and
// names the id they are given; otherwise, and for an upload id that is not a canonical UUID,
// the answer is ErrNotFound. AbortMultipart refuses a meta naming another id the same way.
//
// # Multipart complete
//
//  1. Read the meta; check the target.
//  2. Check the request: at least one part (else MalformedXML), part numbers in range and
//     strictly ascending (else InvalidPart / InvalidPartOrder).
//  3. List the stored parts; every listed part must exist with the given ETag (quotes
//     optional), else InvalidPart. Failures here are *object.CompleteError and change nothing.
//  4. Compose. Sources are pinned to the generations just validated, so a part re-uploaded
//     meanwhile fails the compose (reported as InvalidPart, not ErrNotFound) instead of
//     slipping in unchecked bytes. Up to 32 sources
//     compose straight into the destination; more are composed 32 at a time, in order, into
//     tmp- intermediates (up to 4 composes in parallel), level by level, until one final
//     compose of at most 32 fits. The final compose sets the initiate-time contentType,
//     contentEncoding, customTime and metadata. Other errors are returned as errors; the
//     upload survives and a retry overwrites the intermediates.
//  5. Delete the meta: the upload ends here. If that fails, the parts are kept (a retry finds
//     the meta and recomposes the same bytes) and complete still succeeds.
//  6. Delete parts and intermediates, 8 at a time; failures are logged only (the lifecycle
//     rule or an abort reaps them).
//
// A retried complete after success finds no meta and answers ErrNotFound, as
// driver.Multipart allows: the caller (tiered.Store) then checks for the object. Parts
// uploaded concurrently with a complete or an abort may outlive it; the lifecycle rule on
// "~uploads/" collects them.
//
// AbortMultipart deletes the meta first (later UploadPart calls then fail), then every object
// under the prefix. An upload whose meta is already gone is success, which makes abort
// idempotent and lets it sweep the leftovers of an interrupted complete.
//
// # Retries and timeouts
//
// The bucket handle retries every call on transient errors (RetryAlways, at most MaxAttempts
// = 5 attempts, backoff 100 ms doubling to 5 s), not only the calls the client deems
// idempotent, because each call here is safe to repeat:
//   - reads, listings: no effect;
//   - uploads (Put, parts, meta): a repeat writes the same bytes to the same name, and nothing
//     depends on the generation number it gets. A generation precondition would be wrong:
//     DoesNotExist forbids the overwrites Put and part re-uploads must allow, and
//     GenerationMatch would need a read first. Chunks of a resumable upload retry within
//     their session (ChunkRetryDeadline, 32 s by default);
//   - composes: a repeat builds the same bytes from the same pinned sources;
//   - deletes: a repeat after a lost success finds nothing, which is success;
//   - bump PATCHes: conditional on metageneration; a repeat after a lost success fails the
//     precondition, which is logged like any bump failure.
//
// Every metadata call (attrs, PATCH, delete, compose, listing, meta read/write) runs under
// Options.CallTimeout (60 s by default). Uploads and body reads are bounded by the caller's
// context only, since their duration grows with size.
//
// # Bucket lifecycle (Terraform must set both rules)
//
//	lifecycle_rule { condition { days_since_custom_time = 1 }            action { type = "Delete" } }
//	lifecycle_rule { condition { age = 2  matches_prefix = ["~uploads/"] } action { type = "Delete" } }
//
// The first deletes expired TTL/TTI objects a day or more after their deadline (reads hide
// them before); objects without customTime (Manual) are never touched by it. The second
// reaps abandoned uploads. Age counts from each object's creation, and the meta is created at
// initiate, so the age must exceed the longest upload a client may run plus the Store's 24 h
// assembling delay. Terraform's default is 2 days (uploads_max_age_days); raise it for
// clients whose uploads run longer than a day. Lifecycle
// actions run asynchronously, in day granularity.
//
// # Emulators
//
// NewEmulatorClient (or STORAGE_EMULATOR_HOST) makes a client for fake-gcs-server without
// authentication and with JSON reads. fake-gcs-server v1.56.1 ignores PATCH and compose
// preconditions, drops customTime from compose requests, and merges a compose into an
// existing destination's attributes. CompleteMultipart verifies the composed attributes and
// repairs both cases (patching customTime; deleting that generation and composing again);
// on GCS, whose compose sets exactly the requested attributes, neither repair runs.
package gcsbackend
