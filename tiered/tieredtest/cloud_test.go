package tieredtest_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/bigtable/bttest"
	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"github.com/stratastore/strata/tiered/bigtablebackend"
	"github.com/stratastore/strata/tiered/gcsbackend"
	"github.com/stratastore/strata/tiered/tieredtest"
)

var tableSeq atomic.Int64

// cloudBackends returns Bigtable (on in-process bttest) and GCS (on in-process
// fake-gcs-server) backends, the production pairing.
func cloudBackends(t *testing.T) tieredtest.Backends {
	t.Helper()
	ctx := context.Background()
	srv, err := bttest.NewServer("127.0.0.1:0", grpc.MaxRecvMsgSize(bigtablebackend.MaxMessageSize), grpc.MaxSendMsgSize(bigtablebackend.MaxMessageSize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	n := tableSeq.Add(1)
	table := fmt.Sprintf("objects%d", n)
	opts := &bigtablebackend.Options{ChangeLogTable: fmt.Sprintf("changelog%d", n)}
	adminConn, err := bigtablebackend.DialEmulator(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := bigtable.NewAdminClient(ctx, "strata", "strata", option.WithGRPCConn(adminConn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := bigtablebackend.CreateTables(ctx, admin, table, opts); err != nil {
		t.Fatal(err)
	}
	conn, err := bigtablebackend.DialEmulator(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	client, err := bigtablebackend.NewEmulatorClient(ctx, conn, "strata", "strata")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	bt, err := bigtablebackend.Open(ctx, client, table, opts)
	if err != nil {
		t.Fatal(err)
	}

	fs, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Stop)
	const bucket = "strata-test"
	fs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	cl, err := storage.NewClient(ctx, option.WithHTTPClient(&http.Client{Transport: fs.HTTPClient().Transport}), storage.WithJSONReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	gcs, err := gcsbackend.Open(ctx, cl, bucket, &gcsbackend.Options{ChunkSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return tieredtest.Backends{
		HV: bt, LT: gcs, Log: bt,
		Objects: func(ctx context.Context) ([]string, error) {
			var names []string
			it := cl.Bucket(bucket).Objects(ctx, nil)
			for {
				a, err := it.Next()
				if err == iterator.Done {
					return names, nil
				}
				if err != nil {
					return nil, err
				}
				if !strings.HasPrefix(a.Name, "~uploads/") {
					names = append(names, a.Name)
				}
			}
		},
	}
}

// TestCrash_BigtableGCS runs the crash suite over Bigtable and GCS.
func TestCrash_BigtableGCS(t *testing.T) {
	tieredtest.TestCrash(t, cloudBackends)
}
