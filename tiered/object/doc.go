// Package object is Strata's vocabulary: the values every layer of the repository shares, from
// the HTTP API and the Go SDK down to the storage backends. It imports only the standard
// library.
//
//   - Identity: ID (a Context of usecase and Scopes, plus a key) and its storage path
//     "{usecase}/{name.value}/…/objects/{key}", which is objectstore's and round-trips through
//     ParseStoragePath.
//   - Metadata, with objectstore's serde JSON encoding, byte for byte (AppendJSON; checked
//     against objectstore's golden fixtures in tiered/backendtest/golden), and the
//     ExpirationPolicy with its x-sn-expiration grammar (ParseExpirationPolicy, ParseDuration:
//     humantime's, exactly; durations beyond time.Duration are ErrDurationTooLong).
//   - Byte ranges: ByteRange as requested, ContentRange as resolved against a size.
//   - Multipart values: Part, PartList, CompletedPart, CompleteError and the part limits.
//   - Reader, an open object.
//   - Errors: the sentinels (ErrNotFound, ErrInvalidArgument, …) that backends translate native
//     errors into and callers test with errors.Is, *InvalidError for a broken rule with a
//     caller-facing Reason, and *RangeError for an unsatisfiable range.
//
// The contracts between the Store and its backends live in tiered/driver; applications never
// need that package.
package object
