// Package backendtest holds the conformance suites every Strata backend runs, the
// fault-injection wrappers the Store's tests use, and small helpers for both.
//
// # Conformance suites
//
// One exported function per driver contract: TestHighVolume, TestLongTerm, TestMultipart and
// TestChangeLog. Each runs one subtest per "must" of the contract's doc comment, against a
// fresh backend from the open function it is given:
//
//	func TestConformance(t *testing.T) {
//		backendtest.TestHighVolume(t, func(t *testing.T) driver.HighVolume {
//			b := newBackend(t) // fresh, empty, isolated; cleanup registered on t
//			return b
//		})
//	}
//
// The suites use real time with wide margins and compare times at millisecond precision
// (Bigtable's), so they run unchanged against emulators. Only the tombstone TTI cases
// sleep (about 1.75 s once per TestHighVolume), because a backend sets a tombstone's
// deadline from its own clock.
//
// HighVolume backends must also implement BumpInterceptor, a test seam that lets the suite
// land a write between a read's decision to bump a TTI deadline and the bump itself. A
// decorator that does not forward it is run through WithBumpInterceptor.
//
// # Adding a backend
//
//  1. Implement the driver interfaces; assert them with var _ driver.X = (*T)(nil).
//  2. For a HighVolume, implement BumpInterceptor.
//  3. Add a TestConformance that calls the suites for every interface implemented, and
//     again through the Hooked wrappers (HookedHighVolume, HookedLongTerm,
//     HookedChangeLog) with no hooks installed.
//  4. Cover what the suites cannot see through the interfaces in the backend's own tests:
//     durability across a reopen (ChangeLog.Record), tolerance of unknown stored metadata
//     (LongTerm), and the on-disk format documented in its doc.go.
//
// # Emulators
//
// A backend's tests start emulator binaries found by Emulator (LookupEmulator in a TestMain):
// the file named by an environment variable (EnvCBTEmulator, EnvPubSubEmulator; the Makefile
// sets them), else the binary on PATH. Under -short such a test skips, naming the variable;
// otherwise a missing binary fails it.
//
// # Fault injection
//
// The Hooked wrappers count calls per operation and run Hooks around them: FailOn,
// FailAfter (a lost response), LoseRace, Delay, Gate and Match build the common ones.
package backendtest
