package backendtest

import (
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// hvTTIBump checks the TTI bump of GetTiered and GetTieredMetadata on an object: a due
// deadline moves to now + TTI, the read returns the pre-bump metadata, and neither a fresh
// TTI deadline nor a TTL one is bumped. The races a bump must lose are in highvolume_race.go.
func hvTTIBump(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	for _, r := range hvReaders {
		t.Run("TTIBump/Object/"+r.name, func(t *testing.T) {
			h := openHV(t, open)
			id := NewID(t, "tti")
			payload := RandomPayload(777)
			md := fullMetadata(object.TTI(time.Hour), time.Now().Add(time.Minute), int64(len(payload)))
			h.put(id, md, payload)

			before := time.Now()
			first := h.readWith(r, id)
			after := time.Now()
			// The read returns the pre-bump metadata.
			expectObject(t, "first "+r.name, first, md, nil)

			second := h.getMeta(id)
			bumped := md.Clone()
			bumped.TimeExpires = second.Metadata.TimeExpires
			expectObject(t, "after the bump", second, bumped, nil)
			expectWithin(t, "bumped deadline", second.Metadata.TimeExpires, before.Add(time.Hour), after.Add(time.Hour))

			// The payload and every other field survive the bump, and a fresh deadline is not
			// bumped again.
			third := h.get(id)
			expectObject(t, "GetTiered after the bump", third, bumped, payload)
		})
	}
	for _, tc := range []struct {
		name   string
		policy object.ExpirationPolicy
		// expires is the deadline from now: a TTI one not due for a bump, or a TTL one,
		// which is never bumped.
		expires time.Duration
		reads   int
	}{
		{"NoBumpWhenFresh", object.TTI(time.Hour), time.Hour, 3},
		{"TTLNeverBumped", object.TTL(time.Hour), time.Minute, 2},
	} {
		t.Run("TTIBump/Object/"+tc.name, func(t *testing.T) {
			h := openHV(t, open)
			id := NewID(t, "no-bump")
			md := smallMetadata(tc.name, 4)
			md.ExpirationPolicy = tc.policy
			md.TimeExpires = Millis(time.Now().Add(tc.expires))
			h.put(id, md, []byte("four"))
			for range tc.reads {
				expectObject(t, "GetTiered", h.get(id), md, []byte("four"))
				expectObject(t, "GetTieredMetadata", h.getMeta(id), md, nil)
			}
		})
	}
}

// hvTTIBumpTombstone checks the TTI bump of a tombstone, and runs the bump races on a due
// tombstone (bumpRaces with row dueTombstone).
//
// A backend computes a tombstone's deadline itself (now + duration), so the only way to make
// one due for a bump is to let a quarter of its TTI pass: 1.75 s of 4 s. All the tombstone
// cases share that one wait, as subtests of TTIBump/Tombstone on one backend.
func hvTTIBumpTombstone(t *testing.T, open func(t *testing.T) driver.HighVolume) {
	t.Run("TTIBump/Tombstone", func(t *testing.T) {
		h := openHV(t, open)
		if _, ok := h.b.(BumpInterceptor); !ok {
			t.Fatal("backend does not implement backendtest.BumpInterceptor")
		}
		const tti = 4 * time.Second
		policy := object.TTI(tti)
		var races []bumpRace
		for _, rc := range bumpRaces() {
			if rc.row == dueTombstone {
				races = append(races, rc)
			}
		}
		bumpID := func(r hvReader) object.ID { return NewID(t, "tti-tombstone/"+r.name) }
		raceID := func(r hvReader, rc bumpRace) object.ID { return NewID(t, "tomb-race/"+r.name+"/"+rc.name) }
		initial := map[string]time.Time{}
		for _, r := range hvReaders {
			id := bumpID(r)
			h.tombstone(id, revision(id, 1), policy)
			// Fresh: this read must not bump, which the check after the wait confirms.
			initial[r.name] = h.getMeta(id).Tombstone.Expires
			for _, rc := range races {
				id := raceID(r, rc)
				h.tombstone(id, revision(id, 1), policy)
			}
		}
		time.Sleep(tti/4 + 750*time.Millisecond)

		for _, r := range hvReaders {
			t.Run("Bump/"+r.name, func(t *testing.T) {
				h := hv{t: t, b: h.b}
				id := bumpID(r)
				before := time.Now()
				first := h.readWith(r, id)
				after := time.Now()
				expectTombstone(t, r.name, first, revision(id, 1), policy)
				if !SameMillis(first.Tombstone.Expires, initial[r.name]) {
					t.Errorf("%s returned Expires %s, want the pre-bump (and unbumped fresh) %s", r.name, fmtTime(first.Tombstone.Expires), fmtTime(initial[r.name]))
				}
				second := h.getMeta(id)
				expectTombstone(t, "after the bump", second, revision(id, 1), policy)
				expectWithin(t, "bumped Expires", second.Tombstone.Expires, before.Add(tti), after.Add(tti))
			})
		}
		for _, r := range hvReaders {
			for _, rc := range races {
				t.Run("LosesToConcurrentWrite/"+r.name+"/"+rc.name, func(t *testing.T) {
					id := raceID(r, rc)
					runBumpRace(hv{t: t, b: h.b}, r, id, rc, func(e driver.Entry) {
						expectTombstone(t, r.name+" (the version it read, pre-bump)", e, revision(id, 1), policy)
					})
				})
			}
		}
	})
}
