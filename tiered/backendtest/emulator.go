package backendtest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Environment variables naming the emulator binaries the tests start. The Makefile sets them
// to the machine image's copies; unset or empty, the binary is looked up on PATH. They are not
// STRATA_* variables: the server's configuration rejects unknown STRATA_* names, and make
// exports these to `make run` too.
const (
	EnvCBTEmulator    = "CBT_EMULATOR_BIN"    // the Bigtable emulator, cbtemulator
	EnvPubSubEmulator = "PUBSUB_EMULATOR_BIN" // the Pub/Sub emulator, cloud-pubsub-emulator
)

// Binary names looked up on PATH when the variable is unset.
const (
	CBTEmulatorName    = "cbtemulator"
	PubSubEmulatorName = "cloud-pubsub-emulator"
)

// Emulator returns the path of the emulator binary a test is about to start: the file named
// by the environment variable envVar, else name found on PATH.
//
// Under -short (make check) it skips the test, with a message that names envVar and says that
// make test runs it: starting an emulator is not part of the fast loop. Without -short, a
// binary that cannot be found fails the test naming envVar; CI has the emulators, so it never
// skips them.
func Emulator(t testing.TB, envVar, name string) string {
	t.Helper()
	path, err := LookupEmulator(envVar, name)
	if testing.Short() {
		if err != nil {
			t.Skipf("skipped under -short: it starts the %s emulator; make test runs it, and fails here: %v", name, err)
		}
		t.Skipf("skipped under -short: it starts the %s emulator (%s, from $%s or PATH); make test runs it", name, path, envVar)
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// LookupEmulator is Emulator for code that has no testing.TB (a TestMain): the binary's path,
// or an error that names envVar.
func LookupEmulator(envVar, name string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		// LookPath on a path with a slash checks that the file is executable.
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", envVar, p, err)
		}
		return path, nil
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s is unset and %s is not on PATH: set %s to the emulator binary (make sets it to the machine image's copy)", envVar, name, envVar)
	}
	return path, nil
}
