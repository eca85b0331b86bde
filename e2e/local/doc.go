// Package local is the end-to-end proof of the local server: it runs the real strata binary
// with `make run`'s defaults (embedded durable storage in a temporary data directory) but
// with authentication enforced, and drives it over HTTP with the Go SDK and with raw
// requests.
//
// The tests cover every endpoint and the auth outcomes (400, 401, 403, pre-signed URLs), a
// 200 MiB multipart round trip verified by SHA-256, 64 concurrent writers on one key,
// clients that disconnect mid-upload, SIGKILL and SIGTERM in the middle of a write load,
// the README's curl examples run verbatim, and graceful shutdown with an upload in flight.
// After every scenario that writes, the server is stopped and its data directory is opened
// with tiered/localbackend to check that no long-term blob is an orphan and that the change
// log is empty, restarting the server for a recovery pass first when a crash left entries.
//
// The default run stays within a few minutes; STRATA_SOAK=1 makes the load loops longer.
// The package has no non-test code beyond this file.
package local
