package bigtablebackend

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"
	"google.golang.org/api/option"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// TestCreateTables_GCCollectsExpiredRows checks, on both servers, that CreateTables leaves the
// emulator's GC loop running: an expired TTL row is first invisible to reads while still
// stored, then physically removed; a manual row stays.
func TestCreateTables_GCCollectsExpiredRows(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		t.Parallel()
		e := newEnv(t, kind, envConfig{})
		ctx := context.Background()
		ttl, manual := testID("gc/ttl"), testID("gc/manual")
		deadline := time.Now().Add(300 * time.Millisecond)
		md := manualMD("ttl")
		md.ExpirationPolicy = object.TTL(300 * time.Millisecond)
		md.TimeExpires = deadline
		if _, err := e.b.PutNonTombstone(ctx, ttl, md, []byte("ttl")); err != nil {
			t.Fatal(err)
		}
		if _, err := e.b.PutNonTombstone(ctx, manual, manualMD("manual"), []byte("manual")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(deadline) + 50*time.Millisecond)
		if got, err := e.b.GetTiered(ctx, ttl); err != nil || got.Kind != driver.EntryNotFound {
			t.Fatalf("GetTiered after the deadline = %v, %v; want not found", got.Kind, err)
		}
		// maxage=1s: the cell is collectable one second after its deadline, not before.
		if len(e.rawRow(t, ttl.StoragePath())) == 0 {
			t.Fatal("the TTL row vanished within 1s of its deadline; want the read-side filter to hide it first")
		}
		gone := false
		for limit := time.Now().Add(8 * time.Second); time.Now().Before(limit); time.Sleep(200 * time.Millisecond) {
			if len(e.rawRow(t, ttl.StoragePath())) == 0 {
				gone = true
				break
			}
		}
		if !gone {
			t.Fatal("GC did not remove the expired TTL row within 8s")
		}
		if v := view(t, e.b, manual); v != "object:manual" {
			t.Errorf("manual row after GC: %s", v)
		}
	})
}

func TestCreateTables_IdempotentAndPolicies(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{}) // created the tables once
		admin, err := bigtable.NewAdminClient(context.Background(), emulatorProject, emulatorInstance, option.WithGRPCConn(e.rawConn))
		if err != nil {
			t.Fatal(err)
		}
		if err := CreateTables(context.Background(), admin, e.table, &e.opts); err != nil {
			t.Fatalf("second CreateTables: %v", err)
		}
		for table, want := range map[string]map[string]bigtable.GCPolicy{
			e.table:               {familyTimed: bigtable.MaxAgePolicy(time.Second), familyManual: bigtable.NoGcPolicy()},
			e.opts.ChangeLogTable: {familyChange: bigtable.MaxVersionsPolicy(1)},
		} {
			info, err := admin.TableInfo(context.Background(), table)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bigtable.GCPolicy{}
			for _, f := range info.FamilyInfos {
				got[f.Name] = f.FullGCPolicy
			}
			if len(got) != len(want) {
				t.Errorf("%s families %v, want %v", table, got, want)
			}
			for fam, pol := range want {
				if g, ok := got[fam]; !ok || g != pol {
					t.Errorf("%s:%s GC policy %#v (present %v), want %#v", table, fam, g, ok, pol)
				}
			}
		}
	})
}

func TestBackend_Prime_OnePing(t *testing.T) {
	forKinds(t, func(t *testing.T, kind serverKind) {
		e := newEnv(t, kind, envConfig{})
		e.rec.reset()
		if err := e.b.Prime(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := e.rec.snapshot(); got["PingAndWarm"] != 1 || len(got) != 1 {
			t.Errorf("Prime sent %v, want one PingAndWarm", got)
		}
	})
}
