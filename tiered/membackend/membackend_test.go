package membackend_test

import (
	"testing"

	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/membackend"
)

func TestConformance(t *testing.T) {
	t.Run("HighVolume", func(t *testing.T) {
		backendtest.TestHighVolume(t, func(t *testing.T) driver.HighVolume { return membackend.Open(nil).HighVolume() })
	})
	t.Run("LongTerm", func(t *testing.T) {
		backendtest.TestLongTerm(t, func(t *testing.T) driver.LongTerm { return membackend.Open(nil).LongTerm() })
	})
	t.Run("Multipart", func(t *testing.T) {
		backendtest.TestMultipart(t, func(t *testing.T) driver.Multipart { return membackend.Open(nil).LongTerm() })
	})
	t.Run("ChangeLog", func(t *testing.T) {
		backendtest.TestChangeLog(t, func(t *testing.T) driver.ChangeLog { return membackend.Open(nil).ChangeLog() })
	})
	t.Run("ChangeLogReader", func(t *testing.T) {
		backendtest.TestChangeLogReader(t, func(t *testing.T) driver.ChangeLog { return membackend.Open(nil).ChangeLog() })
	})
	t.Run("RunLog", func(t *testing.T) {
		backendtest.TestRunLog(t, func(t *testing.T) driver.ChangeLog { return membackend.Open(nil).ChangeLog() })
	})
	// The same suites through the fault-injection wrappers with no hooks installed: a
	// decorator must not change behaviour.
	t.Run("Hooked/HighVolume", func(t *testing.T) {
		backendtest.TestHighVolume(t, func(t *testing.T) driver.HighVolume {
			mem := membackend.Open(nil).HighVolume()
			return &backendtest.HookedHighVolume{Inner: mem}
		})
	})
	t.Run("Hooked/LongTerm", func(t *testing.T) {
		backendtest.TestLongTerm(t, func(t *testing.T) driver.LongTerm {
			return &backendtest.HookedLongTerm{Inner: membackend.Open(nil).LongTerm()}
		})
	})
	t.Run("Hooked/Multipart", func(t *testing.T) {
		backendtest.TestMultipart(t, func(t *testing.T) driver.Multipart {
			return &backendtest.HookedLongTerm{Inner: membackend.Open(nil).LongTerm()}
		})
	})
	t.Run("Hooked/ChangeLog", func(t *testing.T) {
		backendtest.TestChangeLog(t, func(t *testing.T) driver.ChangeLog {
			return &backendtest.HookedChangeLog{Inner: membackend.Open(nil).ChangeLog()}
		})
	})
	t.Run("Hooked/ChangeLogReader", func(t *testing.T) {
		backendtest.TestChangeLogReader(t, func(t *testing.T) driver.ChangeLog {
			return &backendtest.HookedChangeLog{Inner: membackend.Open(nil).ChangeLog()}
		})
	})
	t.Run("Hooked/RunLog", func(t *testing.T) {
		backendtest.TestRunLog(t, func(t *testing.T) driver.ChangeLog {
			return &backendtest.HookedChangeLog{Inner: membackend.Open(nil).ChangeLog()}
		})
	})
}
