// Package driver holds the contracts between Strata's portable tiered.Store and its storage
// backends. The values those contracts speak of (ids, metadata, ranges, errors) are the
// vocabulary in tiered/object; applications import that package and tiered, never this one.
//
// A backend implements one or more of:
//
//   - HighVolume: small objects and redirect tombstones in rows, with compare-and-write
//     (Bigtable in production).
//   - LongTerm, optionally Multipart: objects of any size (GCS in production).
//   - ChangeLog: the durable write-ahead log of cross-tier changes.
//
// Each interface's doc comment states in "must" language what every implementation has to do;
// the conformance suites in tiered/backendtest check each of those statements, and every
// backend runs them. Backends import this package, never tiered.
//
// Drivers translate native errors into object's sentinels (object.ErrNotFound,
// object.ErrInvalidArgument, ...) at their boundary; callers test them with errors.Is. A lost
// compare-and-write is a (false, nil) result, not an error.
package driver
