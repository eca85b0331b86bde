package bigtablebackend

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"

	"github.com/stratastore/strata/tiered/object"
)

// openOn returns a Backend on table over conn, through an emulator client on conn. The
// caller closes conn, which is all the client holds.
func openOn(ctx context.Context, conn *grpc.ClientConn, table string, o *Options) (*Backend, error) {
	c, err := NewEmulatorClient(ctx, conn, "", "")
	if err != nil {
		return nil, err
	}
	return Open(ctx, c, table, o)
}

func TestOpen_Arguments(t *testing.T) {
	addr := serverAddr(t, kindBttest)
	conn, err := DialEmulator(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx := context.Background()
	c, err := NewEmulatorClient(ctx, conn, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, nil, "objects", nil); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("nil client: %v", err)
	}
	if _, err := Open(ctx, c, "", nil); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("no table: %v", err)
	}
	if _, err := Open(ctx, c, "t", &Options{ChangeLogTable: "t"}); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("change-log table equal to the objects table: %v", err)
	}
	if _, err := Open(ctx, c, DefaultChangeLogTable, nil); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("objects table named like the default change-log table: %v", err)
	}
	if err := CreateTables(ctx, nil, "t", &Options{ChangeLogTable: "t"}); !errors.Is(err, object.ErrInvalidArgument) {
		t.Errorf("CreateTables with equal names: %v", err)
	}
	b, err := Open(ctx, c, "objects", nil)
	if err != nil {
		t.Fatal(err)
	}
	o := b.opts
	if o.ChangeLogTable != DefaultChangeLogTable || o.RPCTimeout != DefaultRPCTimeout || o.MaxAttempts != DefaultMaxAttempts ||
		o.RetryBackoff != DefaultRetryBackoff || o.Now == nil || o.Logger == nil {
		t.Errorf("defaults: %+v", o)
	}
}
