package bigtablebackend

import (
	"testing"

	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
)

// TestConformance runs the backendtest suites against the in-process bttest server and the
// real emulator binary, each open on fresh tables.
func TestConformance(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		t.Run("HighVolume", func(t *testing.T) {
			backendtest.TestHighVolume(t, func(t *testing.T) driver.HighVolume {
				return newEnv(t, kind, envConfig{}).b
			})
		})
		t.Run("ChangeLog", func(t *testing.T) {
			backendtest.TestChangeLog(t, func(t *testing.T) driver.ChangeLog {
				return newEnv(t, kind, envConfig{}).b
			})
		})
		t.Run("ChangeLogReader", func(t *testing.T) {
			backendtest.TestChangeLogReader(t, func(t *testing.T) driver.ChangeLog {
				return newEnv(t, kind, envConfig{}).b
			})
		})
		t.Run("RunLog", func(t *testing.T) {
			backendtest.TestRunLog(t, func(t *testing.T) driver.ChangeLog {
				return newEnv(t, kind, envConfig{}).b
			})
		})
		t.Run("HighVolume/Hooked", func(t *testing.T) {
			// Through the call-counting decorator, as the Store's tests use it.
			backendtest.TestHighVolume(t, func(t *testing.T) driver.HighVolume {
				b := newEnv(t, kind, envConfig{}).b
				return &backendtest.HookedHighVolume{Inner: b}
			})
		})
	})
}
