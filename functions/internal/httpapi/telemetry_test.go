package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/internal/admission"
	"github.com/stratastore/strata/functions/internal/telemetry"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/observe"
)

// Every admission rejection reason of the catalog is what some refusal is counted as.
func TestRejectReason_CoversTheCatalog(t *testing.T) {
	got := map[string]bool{}
	for _, err := range []error{
		errRateLimited, errKillswitch, errOverloaded, errBudget, errStreamSlots,
		admission.ErrAtCapacity, &clientStreamError{msg: "slow", tooSlow: true},
	} {
		r := rejectReason(err)
		if r == "" {
			t.Errorf("%v: counted as no rejection", err)
		}
		got[r] = true
	}
	for _, r := range observe.RejectReasons {
		if !got[r] {
			t.Errorf("no refusal is counted as %q", r)
		}
	}
	for _, err := range []error{nil, object.ErrNotFound, &clientStreamError{msg: "cut"}, errors.New("boom")} {
		if r := rejectReason(err); r != "" {
			t.Errorf("%v: counted as rejection %q", err, r)
		}
	}
}

// failingLongTerm serves long-term bodies that fail after `after` bytes.
type failingLongTerm struct {
	driver.Multipart
	after int64
}

func (f failingLongTerm) Get(ctx context.Context, id object.ID, rng *object.ByteRange) (*object.Reader, error) {
	o, err := f.Multipart.Get(ctx, id, rng)
	if err != nil {
		return nil, err
	}
	o.Body = io.NopCloser(io.MultiReader(io.LimitReader(o.Body, f.after), failing{}))
	return o, nil
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("long-term read failed") }

// A response cut after its 200 went out (the backend stream failed) is measured as a server
// error: the client saw a broken transfer, and the availability SLO must count it.
func TestTelemetry_AbortedResponseIsAServerError(t *testing.T) {
	tel, err := telemetry.New(t.Context(), telemetry.Options{Exporter: telemetry.ExporterPrometheus})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	e := newEnv(t, func(o *Options) { o.Telemetry = tel })
	e.put("big", strings.Repeat("x", 3<<20), nil)
	e.lt.Inner = failingLongTerm{Multipart: e.mlt, after: 1 << 20}

	hr, err := http.NewRequest("GET", e.ts.URL+"/v1/objects/test/org=1/big", nil)
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("X-Os-Auth", "Bearer "+e.token())
	res, err := e.ts.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET: %d, want the 200 that went out before the failure", res.StatusCode)
	}
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Fatal("the cut response read as complete")
	}
	res.Body.Close()

	// The client sees the cut before the server's handler has returned and recorded it.
	var metrics string
	eventuallyWithin(t, 10*time.Second, "the cut GET to be counted as object-get 5xx", func() bool {
		rec := httptest.NewRecorder()
		tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		metrics = rec.Body.String()
		return strings.Contains(metrics, `strata_requests_total{op="object-get",status_class="5xx"} 1`)
	})
	if strings.Contains(metrics, `strata_requests_total{op="object-get",status_class="2xx"} 1`) {
		t.Error("the cut response was counted as a success")
	}
}
