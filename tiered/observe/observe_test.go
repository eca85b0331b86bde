package observe_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/membackend"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/observe"
)

// The decorators must be transparent: the conformance suites pass through them.
func TestConformance_ThroughDecorators(t *testing.T) {
	rec := observe.NewRecorder()
	backendtest.TestHighVolume(t, func(t *testing.T) driver.HighVolume {
		return &observe.HighVolume{Inner: membackend.Open(nil).HighVolume(), Rec: rec}
	})
	backendtest.TestLongTerm(t, func(t *testing.T) driver.LongTerm {
		return &observe.LongTerm{Inner: membackend.Open(nil).LongTerm(), Rec: rec}
	})
	backendtest.TestMultipart(t, func(t *testing.T) driver.Multipart {
		return &observe.LongTerm{Inner: membackend.Open(nil).LongTerm(), Rec: rec}
	})
	backendtest.TestChangeLog(t, func(t *testing.T) driver.ChangeLog {
		return &observe.ChangeLog{Inner: membackend.Open(nil).ChangeLog(), Rec: rec}
	})
	if rec.Get(observe.Key{Backend: membackend.Name, Op: "CompareAndWrite", Outcome: observe.OutcomeOK}).Count == 0 {
		t.Fatal("no calls recorded")
	}
}

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, observe.OutcomeOK},
		{object.ErrNotFound, observe.OutcomeNotFound},
		{fmt.Errorf("wrapped: %w", object.ErrNotFound), observe.OutcomeNotFound},
		{object.ErrConflict, observe.OutcomeConflict},
		{errors.New("boom"), observe.OutcomeError},
		{object.ErrInvalidArgument, observe.OutcomeError},
	} {
		if got := observe.Outcome(tc.err); got != tc.want {
			t.Errorf("Outcome(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestRecorder_ClassifiesExpectedOutcomes(t *testing.T) {
	ctx := context.Background()
	rec := observe.NewRecorder()
	hv := &observe.HighVolume{Inner: membackend.Open(nil).HighVolume(), Rec: rec}
	id := backendtest.NewID(t, "k")
	if _, err := hv.GetTiered(ctx, id); err != nil {
		t.Fatal(err)
	}
	target := backendtest.NewID(t, "k/rev")
	w := driver.Write{Kind: driver.WriteTombstone, Tombstone: driver.Tombstone{Target: target}}
	if ok, err := hv.CompareAndWrite(ctx, id, nil, w); !ok || err != nil {
		t.Fatal(ok, err)
	}
	other := backendtest.NewID(t, "k/other")
	if ok, err := hv.CompareAndWrite(ctx, id, &other, driver.Write{Kind: driver.WriteDelete}); ok || err != nil {
		t.Fatal(ok, err)
	}
	lt := &observe.LongTerm{Inner: membackend.Open(nil).LongTerm(), Rec: rec}
	if _, err := lt.Head(ctx, id); !errors.Is(err, object.ErrNotFound) {
		t.Fatal(err)
	}
	for k, want := range map[observe.Key]int64{
		{membackend.Name, "GetTiered", observe.OutcomeNotFound}:       1,
		{membackend.Name, "CompareAndWrite", observe.OutcomeOK}:       1,
		{membackend.Name, "CompareAndWrite", observe.OutcomeConflict}: 1,
		{membackend.Name, "Head", observe.OutcomeNotFound}:            1,
		{membackend.Name, "Head", observe.OutcomeError}:               0,
	} {
		if got := rec.Get(k).Count; got != want {
			t.Errorf("%+v: %d, want %d", k, got, want)
		}
	}
}

func TestRecorder_WritePrometheus(t *testing.T) {
	rec := observe.NewRecorder()
	rec.Observe("bigtable", "GetTiered", nil, 3*time.Millisecond)
	rec.Observe("bigtable", "GetTiered", nil, 3*time.Second)
	var b strings.Builder
	if err := rec.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`strata_backend_calls_total{backend="bigtable",op="GetTiered",outcome="ok"} 2`,
		`strata_backend_call_seconds_bucket{backend="bigtable",op="GetTiered",outcome="ok",le="0.005"} 1`,
		`strata_backend_call_seconds_bucket{backend="bigtable",op="GetTiered",outcome="ok",le="+Inf"} 2`,
		`strata_backend_call_seconds_count{backend="bigtable",op="GetTiered",outcome="ok"} 2`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}
