package runtime

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigtable/bttest"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/stratastore/strata/functions/internal/config"
	"github.com/stratastore/strata/functions/internal/logging"
	"github.com/stratastore/strata/tiered/gcsbackend"
	"github.com/stratastore/strata/tiered/localbackend"
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
	rt, err := Open(t.Context(), load(t, "STRATA_DATA_DIR="+t.TempDir()), logging.New(io.Discard, nil))
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

// TestOpen_GracePeriod: the grace period reaches the Store with the meaning it has in the
// configuration. STRATA_GRACE_PERIOD=0s deletes a superseded revision at once; an unset
// variable, or a zero Config.GracePeriod, means the 30s default, so the revision outlives a
// short Close.
func TestOpen_GracePeriod(t *testing.T) {
	for _, tt := range []struct {
		name      string
		cfg       func(dir string) config.Config
		revisions int
	}{
		{"STRATA_GRACE_PERIOD=0s", func(dir string) config.Config {
			return load(t, "STRATA_DATA_DIR="+dir, "STRATA_GRACE_PERIOD=0s")
		}, 1},
		{"unset", func(dir string) config.Config {
			cfg, err := config.Load([]string{"STRATA_AUTH_ENFORCE=false", "STRATA_DATA_DIR=" + dir})
			if err != nil {
				t.Fatal(err)
			}
			return cfg
		}, 2},
		{"zero in Config", func(dir string) config.Config {
			cfg := load(t, "STRATA_DATA_DIR="+dir)
			cfg.GracePeriod = 0
			return cfg
		}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rt, err := Open(t.Context(), tt.cfg(dir), logging.New(io.Discard, nil))
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(rt.Server)
			for range 2 { // a large put, then a large overwrite that supersedes its revision
				req, _ := http.NewRequest("PUT", ts.URL+"/v1/objects/test/org=1/large", strings.NewReader(strings.Repeat("x", 2<<20)))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != 200 {
					t.Fatalf("PUT: %d", res.StatusCode)
				}
			}
			ts.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_ = rt.Close(ctx) // with a grace period, the deferred cleanup outlives ctx
			lb, err := localbackend.Open(context.Background(), dir, &localbackend.Options{SweepInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer lb.Close()
			keys, err := lb.LongTerm().Keys()
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != tt.revisions {
				t.Errorf("%d long-term revisions after the overwrite and Close, want %d: %v", len(keys), tt.revisions, keys)
			}
		})
	}
}

func TestOpen_LocalDirectoryInUse(t *testing.T) {
	dir := t.TempDir()
	rt, err := Open(t.Context(), load(t, "STRATA_DATA_DIR="+dir), logging.New(io.Discard, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	if _, err := Open(t.Context(), load(t, "STRATA_DATA_DIR="+dir), logging.New(io.Discard, nil)); err == nil || !strings.Contains(err.Error(), "STRATA_DATA_DIR") {
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
	), logging.New(io.Discard, nil))
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
	), logging.New(io.Discard, nil))
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

// config cannot import the backend, so it repeats the GCS writer's default chunk size.
func TestConfig_GCSChunkSizeDefaultIsTheBackends(t *testing.T) {
	if config.DefaultGCSChunkSize != gcsbackend.DefaultChunkSize {
		t.Errorf("config.DefaultGCSChunkSize %d, gcsbackend.DefaultChunkSize %d", config.DefaultGCSChunkSize, gcsbackend.DefaultChunkSize)
	}
}

// scrapeMetrics returns rt's /metrics page.
func scrapeMetrics(t *testing.T, rt *Runtime) string {
	t.Helper()
	rec := httptest.NewRecorder()
	rt.Telemetry.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// The fleet-wide change-log gauges come from the process that runs recovery only (the local
// server, the recover function), never from every function; a recovery pass through
// rt.Recoverer records the run and measures the backlog.
func TestOpen_FleetGaugesComeFromRecovery(t *testing.T) {
	for fn, fleet := range map[string]bool{"": true, "recover": true, "object-get": false} {
		t.Run("function="+fn, func(t *testing.T) {
			env := []string{"STRATA_DATA_DIR=" + t.TempDir()}
			if fn != "" {
				env = append(env, "FUNCTION_TARGET="+fn)
			}
			rt, err := Open(t.Context(), load(t, env...), logging.New(io.Discard, nil))
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close(context.Background())
			page := scrapeMetrics(t, rt)
			if got := strings.Contains(page, `strata_changelog_entries{phase="recorded"}`); got != fleet {
				t.Errorf("change-log gauge listed: %v, want %v", got, fleet)
			}
			if !fleet {
				return
			}
			if _, err := rt.Recoverer.Recover(t.Context(), 10); err != nil {
				t.Fatal(err)
			}
			page = scrapeMetrics(t, rt)
			for _, want := range []string{`strata_recovery_runs_total{outcome="ok"} 1`, `strata_changelog_oldest_age_seconds 0`} {
				if !strings.Contains(page, want) {
					t.Errorf("after a recovery pass, /metrics lacks %s", want)
				}
			}
		})
	}
}
