// Package reliability is Strata's reliability suite (issue 6). It holds tests only:
//
//   - TestReliability_Linearizable_*: concurrent put/get/delete of small and large objects
//     on a few keys, recorded as a history and checked for linearizability with porcupine
//     (a register per key), in process over the memory and the local backend and through
//     HTTP against the strata binary.
//   - TestReliability_Kill9UnderLoad: SIGKILL the binary under concurrent writes, restart it
//     on the same data directory, check every acknowledged write, and finally check that
//     recovery leaves no orphan blob and an empty change log.
//   - TestReliability_FaultsUnderLoad_Memory: random faults before and after every backend
//     call under concurrent clients, then convergence after recovery.
//   - TestReliability_BadInput_RawTCP: malformed requests over raw TCP never crash the
//     server nor change a stored object.
//   - TestReliability_Load: many clients for a bounded time, zero errors, bounded memory.
//
// Every test is bounded in operations and in time. STRATA_SOAK=1 (make soak) scales the
// bounds up. Values are self-describing (key, value id and size in a header, a payload
// derived from them), so a read detects a torn or foreign value on its own.
package reliability
