// Package membackend holds in-memory implementations of Strata's backend contracts, for
// tests: HighVolume (driver.HighVolume), LongTerm (driver.Multipart, which includes
// driver.LongTerm) and ChangeLog (driver.ChangeLog). Each is a separate value guarded by its
// own mutex, safe for concurrent use, and passes the backendtest conformance suites.
//
//	mem := membackend.Open(nil)
//	store, err := tiered.New(mem.HighVolume(), mem.LongTerm(), mem.ChangeLog(), nil)
//
// # Constructor
//
// Every Strata backend is opened the same way, go-cloud style: Open(ctx, client, name, opts),
// where the caller passes in (and owns) the client, name says which table, bucket or
// directory to use, and a nil *Options means the documented defaults. Memory has neither a
// client nor a name and does no I/O, so what is left of that shape is Open(opts): no context,
// no error, nothing to close. Open returns one Backend that hands out the three roles with
// the same accessors as localbackend.Backend, so a test switches between the two by changing
// one line; a test that needs one role, or roles with different clocks (the simulator's
// skewed clocks), calls Open once per role.
//
// They behave like the production backends where a test could tell the difference:
//
//   - Expiry is exact and immediate: a TTL or TTI object or tombstone whose deadline is
//     before the clock (Options.Now) is invisible to every read and predicate, while the
//     raw row stays inspectable until it is overwritten or deleted, as in Bigtable before
//     garbage collection.
//   - A TTI read bumps the deadline per object.ExpirationPolicy.TTIBump, conditionally: the
//     bump applies only if the row still holds the version that was read. HighVolume exposes
//     the gap between the decision and the bump through SetBeforeBump
//     (backendtest.BumpInterceptor).
//   - CompareAndWrite re-applies a write whose row is already in the target state and
//     reports true, exactly as the Bigtable predicates do.
//   - A high-volume row stores Metadata.Size as the payload length, as the Bigtable backend
//     does; a long-term object stores the byte count it received.
//   - Payloads, metadata maps and ids are copied on the way in and out: no caller buffer is
//     ever aliased.
//
// Storage format: nothing is persisted. HighVolume keeps one row per storage path (an
// inline object or a tombstone, never both) with a version counter that every write and
// bump increments. LongTerm keeps objects by storage path and multipart uploads by upload id
// (a random UUID, 36 path-safe characters) with their parts by number; a part's ETag is the
// quoted hex MD5 of its bytes. ChangeLog keeps entries by change id.
//
// Tests inspect state with HighVolume.Entry and Len, LongTerm.Keys, Len and Uploads, and
// ChangeLog.Entries.
package membackend
