package runtime

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"cloud.google.com/go/bigtable/bttest"
	"github.com/fsouza/fake-gcs-server/fakestorage"

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
