package runtime

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"cloud.google.com/go/bigtable/bttest"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/stratastore/strata/functions/internal/config"
	"github.com/stratastore/strata/functions/internal/httpapi"
)

// roundTrip stores a small and a large object through the runtime's server and reads them
// back, so both backend roles are exercised.
func roundTrip(t *testing.T, rt *Runtime) {
	t.Helper()
	ts := httptest.NewServer(rt.Server)
	defer ts.Close()
	for key, body := range map[string]string{"small": "tiny", "large": strings.Repeat("x", 3<<20)} {
		req, _ := http.NewRequest("PUT", ts.URL+"/v1/objects/test/org=1/"+key, strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("PUT %s: %d %s", key, res.StatusCode, b)
		}
		res, err = http.Get(ts.URL + "/v1/objects/test/org=1/" + key)
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != body {
			t.Errorf("GET %s: %d, %d bytes", key, res.StatusCode, len(b))
		}
	}
}

func load(t *testing.T, env ...string) config.Config {
	t.Helper()
	cfg, err := config.Load(append([]string{"STRATA_AUTH_ENFORCE=false", "STRATA_GRACE_PERIOD=0s"}, env...))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestOpen_Local(t *testing.T) {
	rt, err := Open(t.Context(), load(t, "STRATA_DATA_DIR="+t.TempDir()), httpapi.NewLogger(io.Discard, nil))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, rt)
	// The backends are decorated: /metrics shows the calls the round trip made.
	ts := httptest.NewServer(rt.Server)
	res, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	ts.Close()
	for _, want := range []string{`op="PutNonTombstone",outcome="ok"} 1`, `op="Put",outcome="ok"} 1`, `op="GetTiered",outcome="ok"} 2`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, b)
		}
	}
	if err := rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestOpen_LocalDirectoryInUse(t *testing.T) {
	dir := t.TempDir()
	rt, err := Open(t.Context(), load(t, "STRATA_DATA_DIR="+dir), httpapi.NewLogger(io.Discard, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	if _, err := Open(t.Context(), load(t, "STRATA_DATA_DIR="+dir), httpapi.NewLogger(io.Discard, nil)); err == nil || !strings.Contains(err.Error(), "STRATA_DATA_DIR") {
		t.Errorf("second Open of one directory: %v", err)
	}
}

// TestOpen_Emulators runs the emulators configuration against in-process stand-ins: bttest
// for the Bigtable emulator and fake-gcs-server for GCS.
func TestOpen_Emulators(t *testing.T) {
	bt, err := bttest.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bt.Close()
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "strata-test"})
	rt, err := Open(t.Context(), load(t,
		"STRATA_STORAGE=emulators",
		"STRATA_BIGTABLE_PROJECT=p", "STRATA_BIGTABLE_INSTANCE=i",
		"STRATA_BIGTABLE_EMULATOR="+bt.Addr,
		"STRATA_GCS_BUCKET=strata-test", "STRATA_GCS_ENDPOINT="+gcs.URL(),
	), httpapi.NewLogger(io.Discard, nil))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, rt)
	if err := rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestOpen_CleanupTopic_PublishesCleanupTasks: with STRATA_CLEANUP_TOPIC set, cleanup goes
// to Pub/Sub (here pstest, through PUBSUB_EMULATOR_HOST) instead of the in-process worker.
func TestOpen_CleanupTopic_PublishesCleanupTasks(t *testing.T) {
	srv := pstest.NewServer()
	defer srv.Close()
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pubsub.NewClient(t.Context(), "proj", option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.TopicAdminClient.CreateTopic(t.Context(), &pubsubpb.Topic{Name: "projects/proj/topics/strata-cleanup"}); err != nil {
		t.Fatal(err)
	}
	bt, err := bttest.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer bt.Close()
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "strata-test"})
	rt, err := Open(t.Context(), load(t,
		"STRATA_STORAGE=emulators",
		"STRATA_BIGTABLE_PROJECT=p", "STRATA_BIGTABLE_INSTANCE=i",
		"STRATA_BIGTABLE_EMULATOR="+bt.Addr,
		"STRATA_GCS_BUCKET=strata-test", "STRATA_GCS_ENDPOINT="+gcs.URL(),
		"STRATA_CLEANUP_TOPIC=projects/proj/topics/strata-cleanup",
	), httpapi.NewLogger(io.Discard, nil))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, rt) // a large put to a new key replaces nothing: no task
	roundTrip(t, rt) // the large overwrite: one cleanup task
	if err := rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("published %d cleanup tasks, want 1", n)
	}
}
