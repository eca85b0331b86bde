package localbackend

import (
	"context"
	"testing"

	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
)

// openTest opens a fresh backend in a temporary directory with the sweeper disabled, closed
// when the test ends.
func openTest(t testing.TB, opts *Options) *Backend {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = -1
	}
	b, err := Open(context.Background(), t.TempDir(), &o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func TestConformance(t *testing.T) {
	t.Run("HighVolume", func(t *testing.T) {
		backendtest.TestHighVolume(t, func(t *testing.T) driver.HighVolume { return openTest(t, nil).HighVolume() })
	})
	t.Run("HighVolumeHooked", func(t *testing.T) {
		backendtest.TestHighVolume(t, func(t *testing.T) driver.HighVolume {
			hv := openTest(t, nil).HighVolume()
			return &backendtest.HookedHighVolume{Inner: hv}
		})
	})
	t.Run("LongTerm", func(t *testing.T) {
		backendtest.TestLongTerm(t, func(t *testing.T) driver.LongTerm { return openTest(t, nil).LongTerm() })
	})
	t.Run("Multipart", func(t *testing.T) {
		backendtest.TestMultipart(t, func(t *testing.T) driver.Multipart { return openTest(t, nil).LongTerm() })
	})
	t.Run("MultipartHooked", func(t *testing.T) {
		backendtest.TestMultipart(t, func(t *testing.T) driver.Multipart {
			return &backendtest.HookedLongTerm{Inner: openTest(t, nil).LongTerm()}
		})
	})
	t.Run("ChangeLog", func(t *testing.T) {
		backendtest.TestChangeLog(t, func(t *testing.T) driver.ChangeLog { return openTest(t, nil).ChangeLog() })
	})
	t.Run("ChangeLogHooked", func(t *testing.T) {
		backendtest.TestChangeLog(t, func(t *testing.T) driver.ChangeLog {
			return &backendtest.HookedChangeLog{Inner: openTest(t, nil).ChangeLog()}
		})
	})
	t.Run("ChangeLogReader", func(t *testing.T) {
		backendtest.TestChangeLogReader(t, func(t *testing.T) driver.ChangeLog { return openTest(t, nil).ChangeLog() })
	})
	t.Run("RunLog", func(t *testing.T) {
		backendtest.TestRunLog(t, func(t *testing.T) driver.ChangeLog { return openTest(t, nil).ChangeLog() })
	})
	t.Run("RunLogHooked", func(t *testing.T) {
		backendtest.TestRunLog(t, func(t *testing.T) driver.ChangeLog {
			return &backendtest.HookedChangeLog{Inner: openTest(t, nil).ChangeLog()}
		})
	})
}
