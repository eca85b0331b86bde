package gcsbackend

import (
	"testing"

	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
)

// TestConformance runs the shared driver suites against the backend on an in-process
// fake-gcs-server, directly and through the hook wrapper.
func TestConformance(t *testing.T) {
	open := func(t *testing.T) *Backend {
		f := newFake(t)
		// A small chunk makes the suite's larger bodies take the resumable, multi-request path.
		return f.backend(t, Options{ChunkSize: 1 << 20})
	}
	t.Run("LongTerm", func(t *testing.T) {
		backendtest.TestLongTerm(t, func(t *testing.T) driver.LongTerm { return open(t) })
	})
	t.Run("Multipart", func(t *testing.T) {
		backendtest.TestMultipart(t, func(t *testing.T) driver.Multipart { return open(t) })
	})
	t.Run("Hooked", func(t *testing.T) {
		backendtest.TestMultipart(t, func(t *testing.T) driver.Multipart {
			return &backendtest.HookedLongTerm{Inner: open(t)}
		})
	})
}
