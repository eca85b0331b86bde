// Package capacity holds the end-to-end test of the per-instance memory model (README
// "Capacity and cost"): `strata serve` on the storage path that buffers like production
// (the Bigtable emulator and GCS through fake-gcs-server, whose resumable uploads make the
// GCS writer hold a whole chunk per upload), given a memory limit, takes a burst of
// concurrent large uploads. The test samples the server's resident set from /proc while
// the burst runs and checks that it stays under the limit, that the refused uploads got
// 503 with Retry-After, and that every accepted upload reads back byte for byte.
//
// It needs the Bigtable emulator binary (CBT_EMULATOR_BIN, which make sets; otherwise
// cbtemulator on PATH) and fails, naming the variable, when it is missing.
package capacity
