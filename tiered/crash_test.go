package tiered_test

import (
	"testing"

	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/tieredtest"
)

func TestCrash_Memory(t *testing.T) {
	tieredtest.TestCrash(t, func(t *testing.T) tieredtest.Backends {
		mem := membackend.Open(nil)
		lt := mem.LongTerm()
		return tieredtest.Backends{
			HV:      mem.HighVolume(),
			LT:      lt,
			Log:     mem.ChangeLog(),
			Objects: memObjects(lt),
			Uploads: lt.Uploads,
		}
	})
}
