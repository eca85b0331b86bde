package bigtablebackend

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/bigtable"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// objectsGCMaxAge is the GC rule of fg: a cell is collectable 1s after its deadline.
const objectsGCMaxAge = time.Second

// CreateTables creates the tables Open(ctx, client, table, opts) uses, for development and
// tests: the objects table named table (families fg with GC maxage=1s, fm without GC) and the
// change-log table opts.ChangeLogTable (family c, GC maxversions=1). Production tables come
// from Terraform. It is idempotent: existing tables and families are kept, and the GC
// policies are set again. The caller owns admin, an admin client for the same instance as
// the data client.
//
// The policies are always set with SetGCPolicy (a ModifyColumnFamilies call) after the
// families exist, because the emulator starts its GC loop only on such a call; a table created
// with GC rules alone is never collected there.
func CreateTables(ctx context.Context, admin *bigtable.AdminClient, table string, opts *Options) error {
	o, err := opts.resolve(table)
	if err != nil {
		return err
	}
	if err := ensureTable(ctx, admin, table, []familySpec{
		{familyTimed, bigtable.MaxAgePolicy(objectsGCMaxAge)},
		{familyManual, nil}, // no GC rule
	}); err != nil {
		return err
	}
	return ensureTable(ctx, admin, o.ChangeLogTable, []familySpec{
		{familyChange, bigtable.MaxVersionsPolicy(1)},
	})
}

type familySpec struct {
	name   string
	policy bigtable.GCPolicy // nil: leave the family without a GC rule
}

func ensureTable(ctx context.Context, admin *bigtable.AdminClient, table string, fams []familySpec) error {
	if err := admin.CreateTable(ctx, table); err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("bigtablebackend: create table %s: %w", table, err)
	}
	for _, f := range fams {
		if err := admin.CreateColumnFamily(ctx, table, f.name); err != nil && status.Code(err) != codes.AlreadyExists {
			return fmt.Errorf("bigtablebackend: create family %s:%s: %w", table, f.name, err)
		}
		if f.policy == nil {
			continue
		}
		if err := admin.SetGCPolicy(ctx, table, f.name, f.policy); err != nil {
			return fmt.Errorf("bigtablebackend: set GC policy %s:%s: %w", table, f.name, err)
		}
	}
	return nil
}
