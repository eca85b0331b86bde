package tiered_test

import (
	"testing"

	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/tieredtest"
)

func TestCrash_Memory(t *testing.T) {
	tieredtest.TestCrash(t, func(t *testing.T) tieredtest.Backends {
		lt := membackend.NewLongTerm(nil)
		return tieredtest.Backends{
			HV:      membackend.NewHighVolume(nil),
			LT:      lt,
			Log:     membackend.NewChangeLog(nil),
			Objects: memObjects(lt),
			Uploads: lt.Uploads,
		}
	})
}
