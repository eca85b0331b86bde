package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/monitoring/dashboard/apiv1/dashboardpb"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/stratastore/strata/tiered/observe"
)

var update = flag.Bool("update", false, "rewrite generated files (terraform/modules/monitoring)")

// TestTerraform_MonitoringFilesUpToDate: the committed metrics.json and dashboard.json.tftpl
// are what the catalog generates; `make monitoring` (this test with -update) rewrites them.
func TestTerraform_MonitoringFilesUpToDate(t *testing.T) {
	files, err := MonitoringFiles()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(repoRoot(t), filepath.FromSlash(MonitoringDir))
	for _, name := range sortedKeys(files) {
		path := filepath.Join(dir, name)
		if *update {
			if err := os.WriteFile(path, files[name], 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run `make monitoring`)", err)
		}
		if !bytes.Equal(got, files[name]) {
			t.Errorf("%s/%s is stale; run `make monitoring` to regenerate it from observe.Catalog", MonitoringDir, name)
		}
	}
}

// renderDashboard reads the committed dashboard template and substitutes every
// DashboardTemplateVars variable as templatefile would; it fails on any other ${...}.
func renderDashboard(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(MonitoringDir), DashboardFileName))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, v := range DashboardTemplateVars {
		if !strings.Contains(s, "${"+v+"}") {
			t.Errorf("%s does not use template variable %s", DashboardFileName, v)
		}
		s = strings.ReplaceAll(s, "${"+v+"}", "sample-"+v)
	}
	if i := strings.Index(s, "${"); i >= 0 {
		t.Errorf("%s has a template expression that is not one of %v: %.40s", DashboardFileName, DashboardTemplateVars, s[i:])
	}
	if strings.Contains(s, "%{") {
		t.Errorf("%s has a template directive (%%{); it is plain JSON with ${var} substitutions only", DashboardFileName)
	}
	return []byte(s)
}

// TestTerraform_MonitoringDashboardIsADashboardProto decodes the rendered dashboard into
// Cloud Monitoring's Dashboard message, refusing unknown fields and bad enum values, so a
// misspelt field fails here rather than at apply.
func TestTerraform_MonitoringDashboardIsADashboardProto(t *testing.T) {
	var d dashboardpb.Dashboard
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(renderDashboard(t), &d); err != nil {
		t.Fatalf("the dashboard is not a google.monitoring.dashboard.v1.Dashboard: %v", err)
	}
	mosaic := d.GetMosaicLayout()
	if mosaic == nil || len(mosaic.GetTiles()) == 0 {
		t.Fatal("the dashboard has no mosaicLayout tiles")
	}
	for _, tile := range mosaic.GetTiles() {
		if tile.GetXPos()+tile.GetWidth() > mosaic.GetColumns() {
			t.Errorf("tile %q ends at column %d of %d", tile.GetWidget().GetTitle(), tile.GetXPos()+tile.GetWidth(), mosaic.GetColumns())
		}
		for _, ds := range tile.GetWidget().GetXyChart().GetDataSets() {
			q := ds.GetTimeSeriesQuery()
			for _, f := range []*dashboardpb.TimeSeriesFilter{q.GetTimeSeriesFilter()} {
				if f != nil && (f.GetFilter() == "" || f.GetAggregation().GetAlignmentPeriod() == nil) {
					t.Errorf("tile %q: a data set without a filter or an alignment period", tile.GetWidget().GetTitle())
				}
			}
		}
	}
}

// TestTerraform_MonitoringMetricsFileMatchesTheCatalog: metrics.json is what the descriptors
// are made from: one entry per catalog metric with its type, kind, value type and labels.
func TestTerraform_MonitoringMetricsFileMatchesTheCatalog(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(MonitoringDir), MetricsFileName))
	if err != nil {
		t.Fatal(err)
	}
	var entries []metricEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(observe.Catalog) {
		t.Fatalf("metrics.json has %d entries, the catalog %d", len(entries), len(observe.Catalog))
	}
	for i, m := range observe.Catalog {
		e := entries[i]
		wantKind := map[observe.Kind]string{observe.Counter: "CUMULATIVE", observe.Histogram: "CUMULATIVE", observe.Gauge: "GAUGE"}[m.Kind]
		if e.Name != m.Name || e.Type != m.Monitoring || e.MetricKind != wantKind || e.ValueType != m.ValueType || !slices.Equal(e.Labels, append([]string{}, m.Labels...)) {
			t.Errorf("metrics.json entry %d = %+v, catalog %+v", i, e, m)
		}
		if (m.Kind == observe.Histogram) != (e.ValueType == "DISTRIBUTION") {
			t.Errorf("%s: kind %s with value type %s", m.Name, m.Kind, e.ValueType)
		}
	}
}
