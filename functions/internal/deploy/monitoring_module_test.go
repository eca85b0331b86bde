package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/stratastore/strata/tiered/observe"
)

var workloadType = regexp.MustCompile(`workload\.googleapis\.com/[A-Za-z0-9_.]+`)

// monitoringModuleTypes returns every workload metric type the monitoring module's .tf files
// name, literally or as local.types["name"], with where it appears.
func monitoringModuleTypes(t *testing.T) map[string]string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), filepath.FromSlash(MonitoringDir))
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .tf files in %s (%v)", dir, err)
	}
	byName := regexp.MustCompile(`local\.types\["([^"]+)"\]`)
	found := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range workloadType.FindAll(b, -1) {
			found[string(m)] = filepath.Base(p)
		}
		for _, m := range byName.FindAllSubmatch(b, -1) {
			found["workload.googleapis.com/"+string(m[1])] = filepath.Base(p)
		}
	}
	return found
}

// TestTerraform_MonitoringCoversTheCatalog: the dashboard charts every catalog metric, and
// every workload metric the dashboard, the SLOs or the alert policies read is in the catalog,
// so renaming a metric breaks this test rather than an alert silently going blind.
func TestTerraform_MonitoringCoversTheCatalog(t *testing.T) {
	catalog := map[string]bool{}
	for _, m := range observe.Catalog {
		catalog[m.Monitoring] = true
	}
	dash := string(renderDashboard(t))
	for _, m := range observe.Catalog {
		if !strings.Contains(dash, `metric.type=\"`+m.Monitoring+`\"`) {
			t.Errorf("the dashboard does not chart %s (%s)", m.Name, m.Monitoring)
		}
	}
	for _, typ := range workloadType.FindAllString(dash, -1) {
		if !catalog[typ] {
			t.Errorf("the dashboard reads %s, which observe.Catalog does not have", typ)
		}
	}
	used := monitoringModuleTypes(t)
	if len(used) == 0 {
		t.Fatal("the monitoring module reads no workload metric")
	}
	for typ, file := range used {
		if !catalog[typ] {
			t.Errorf("%s/%s reads %s, which observe.Catalog does not have", MonitoringDir, file, typ)
		}
	}
	// What the SLOs and alerts rest on.
	for _, name := range []string{observe.MetricRequests, observe.MetricRequestDuration, observe.MetricChangeLog, observe.MetricChangeLogAge, observe.MetricRecoveryRuns} {
		if _, ok := used["workload.googleapis.com/"+name]; !ok {
			t.Errorf("the monitoring module's SLOs and alerts do not read %s", name)
		}
	}
}

// TestTerraform_MonitoringLatencyThresholdIsABucket: the latency SLO threshold's validation
// lists exactly the bucket bounds of strata.request.duration (a distribution cut counts
// whole buckets, so any other threshold would silently round).
func TestTerraform_MonitoringLatencyThresholdIsABucket(t *testing.T) {
	mon := moduleNamed(t, "monitoring")
	v, ok := mon.variables["latency_threshold_seconds"]
	if !ok {
		t.Fatal("modules/monitoring: no variable latency_threshold_seconds")
	}
	var conds []string
	for _, b := range v.Body.Blocks {
		if b.Type == "validation" {
			conds = append(conds, mon.exprText(b.Body.Attributes["condition"]))
		}
	}
	list := regexp.MustCompile(`^contains\(\[([^\]]*)\], var\.latency_threshold_seconds\)$`)
	var got []float64
	for _, c := range conds {
		if m := list.FindStringSubmatch(c); m != nil {
			for _, f := range strings.Split(m[1], ",") {
				x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
				if err != nil {
					t.Fatalf("latency_threshold_seconds validation: %v", err)
				}
				got = append(got, x)
			}
		}
	}
	m, _ := observe.Lookup(observe.MetricRequestDuration)
	if !slices.Equal(got, m.Buckets) {
		t.Errorf("latency_threshold_seconds may be %v, the buckets of %s are %v", got, m.Name, m.Buckets)
	}
	if d, _ := literal(t, v.Body.Attributes["default"]).AsBigFloat().Float64(); !slices.Contains(m.Buckets, d) {
		t.Errorf("latency_threshold_seconds defaults to %v, not a bucket bound", d)
	}
}

// TestTerraform_MonitoringModuleWiring: the descriptors come from metrics.json, the dashboard
// from the template with exactly DashboardTemplateVars, every alert policy notifies
// notification_channels and documents itself, and the stack hands the module the names it
// watches.
func TestTerraform_MonitoringModuleWiring(t *testing.T) {
	mon := moduleNamed(t, "monitoring")
	if got := mon.exprText(mon.locals["metrics"]); got != `jsondecode(file("${path.module}/`+MetricsFileName+`"))` {
		t.Errorf("modules/monitoring: local.metrics = %s; it must decode %s", got, MetricsFileName)
	}
	d := mon.resource(t, "google_monitoring_metric_descriptor.catalog")
	for attr, want := range map[string]string{"for_each": "local.by_name", "type": "each.value.type", "metric_kind": "each.value.metric_kind", "value_type": "each.value.value_type"} {
		if got := mon.exprText(d.Body.Attributes[attr]); got != want {
			t.Errorf("metric descriptor %s = %q, want %q", attr, got, want)
		}
	}
	if got := mon.exprText(nested(firstBlock(d.Body, "dynamic"), "content.value_type")); got != `"STRING"` {
		t.Errorf("metric descriptor labels have value_type %s, want \"STRING\"", got)
	}
	dash := mon.resource(t, "google_monitoring_dashboard.main")
	call, ok := dash.Body.Attributes["dashboard_json"].Expr.(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "templatefile" || len(call.Args) != 2 || !strings.Contains(mon.text(call.Args[0].Range()), DashboardFileName) {
		t.Fatalf("the dashboard's dashboard_json must be templatefile(\"${path.module}/%s\", {...})", DashboardFileName)
	}
	keys := objectKeys(call.Args[1])
	slices.Sort(keys)
	want := slices.Sorted(slices.Values(DashboardTemplateVars))
	if !slices.Equal(keys, want) {
		t.Errorf("the dashboard template gets %v, it uses %v", keys, want)
	}
	policies := mon.resourcesOfType("google_monitoring_alert_policy")
	if len(policies) < 7 {
		t.Errorf("modules/monitoring has %d alert policies", len(policies))
	}
	for _, p := range policies {
		addr := p.Labels[0] + "." + p.Labels[1]
		if got := mon.exprText(p.Body.Attributes["notification_channels"]); got != "var.notification_channels" {
			t.Errorf("%s notifies %q, want var.notification_channels", addr, got)
		}
		doc := firstBlock(p.Body, "documentation")
		if doc == nil || mon.exprText(doc.Body.Attributes["content"]) == "" {
			t.Errorf("%s has no documentation content (what it means, what to do first)", addr)
		}
	}
	wiring(t, "monitoring", "dead_letter_subscription", "module.messaging.dead_letter_subscription")
	wiring(t, "monitoring", "bigtable_instance", "module.storage.bigtable_instance")
	wiring(t, "monitoring", "notification_channels", "var.notification_channels")
	// The functions are named <name>-<function> (the routing module's name_prefix).
	wiring(t, "monitoring", "function_prefix", `"${var.name}-"`)
	wiring(t, "routing", "name_prefix", `"${var.name}-"`)
}
