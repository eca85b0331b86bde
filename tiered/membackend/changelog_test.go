package membackend_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
)

func TestChangeLog_Entries_SortedCopies(t *testing.T) {
	log := membackend.Open(nil).ChangeLog()
	ctx := t.Context()
	id := backendtest.NewID(t, "k")
	newRev := rev(id, 1)
	ids := []driver.ChangeID{"0003", "0001", "0002"}
	for _, cid := range ids {
		e := driver.LogEntry{ID: cid, Change: driver.Change{ID: id, New: &newRev}, Owner: "w", Heartbeat: time.Unix(1, 0)}
		if err := log.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Mutating the caller's id after Record must not reach the log.
	newRev.Key = "mutated"
	es := log.Entries()
	if len(es) != 3 || es[0].ID != "0001" || es[1].ID != "0002" || es[2].ID != "0003" {
		t.Fatalf("Entries = %+v, want ids 0001..0003 in order", es)
	}
	if es[0].Change.New.Key != rev(id, 1).Key {
		t.Errorf("recorded New %s was aliased to the caller's value", es[0].Change.New)
	}
	es[0].Change.New.Key = "changed"
	es[0].Change.ID.Context.Scopes[0].Value = "999"
	again := log.Entries()
	if again[0].Change.New.Key != rev(id, 1).Key || again[0].Change.ID.Context.Scopes[0].Value != "1" {
		t.Errorf("Entries returned aliased values: %+v", again[0].Change)
	}
}

func TestChangeLog_InvalidArguments(t *testing.T) {
	log := membackend.Open(nil).ChangeLog()
	ctx := t.Context()
	if err := log.Record(ctx, driver.LogEntry{}); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("Record with an empty id: %v, want ErrInvalidArgument", err)
	}
	if _, err := log.ClaimStale(ctx, driver.Claim{Owner: "o", Now: time.Now(), StaleBefore: time.Now(), Limit: 0}); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("ClaimStale with limit 0: %v, want ErrInvalidArgument", err)
	}
	if n := len(log.Entries()); n != 0 {
		t.Errorf("%d entries after invalid calls", n)
	}
}

func TestChangeLog_ClaimStale_OldestIDFirst(t *testing.T) {
	log := membackend.Open(nil).ChangeLog()
	ctx := t.Context()
	old := time.Unix(1000, 0)
	for _, cid := range []driver.ChangeID{"c", "a", "b"} {
		if err := log.Record(ctx, driver.LogEntry{ID: cid, Change: driver.Change{ID: backendtest.NewID(t, "k")}, Heartbeat: old}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := log.ClaimStale(ctx, driver.Claim{Owner: "r", Now: time.Unix(5000, 0), StaleBefore: time.Unix(2000, 0), Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
		t.Errorf("claimed %+v, want a and b (UUIDv7 ids sort by time, so the oldest go first)", got)
	}
}
