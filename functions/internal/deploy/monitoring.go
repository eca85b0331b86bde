package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stratastore/strata/tiered/observe"
)

// The monitoring module (terraform/modules/monitoring) is generated from the metric catalog,
// observe.Catalog, the one list of every metric Strata emits: `make monitoring` writes
// MonitoringFiles there, and TestMonitoringFilesUpToDate fails when the committed files
// differ from what the catalog gives.
//
//   - metrics.json is the catalog as data. The module declares one
//     google_monitoring_metric_descriptor per entry (the exporter creates none at run time),
//     so the SLOs and alert policies that read the metrics apply before a point is written.
//   - dashboard.json.tftpl is the Cloud Monitoring dashboard (a mosaicLayout). Its metric
//     types come from the catalog; the few names only Terraform knows (the dead-letter
//     subscription, the Bigtable instance, the functions' name prefix, the deployment name)
//     are templatefile variables, DashboardTemplateVars.

// MonitoringDir is where `make monitoring` writes MonitoringFiles, relative to the repository
// root.
const MonitoringDir = "terraform/modules/monitoring"

// Generated file names inside MonitoringDir.
const (
	MetricsFileName   = "metrics.json"
	DashboardFileName = "dashboard.json.tftpl"
)

// DashboardTemplateVars are the templatefile variables dashboard.json.tftpl uses, each
// written as ${name} in it; the monitoring module passes exactly these.
var DashboardTemplateVars = []string{"name", "dead_letter_subscription", "bigtable_instance", "function_prefix"}

// metricEntry is one entry of metrics.json.
type metricEntry struct {
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	MetricKind  string    `json:"metric_kind"`
	ValueType   string    `json:"value_type"`
	Unit        string    `json:"unit"`
	Description string    `json:"description"`
	Labels      []string  `json:"labels"`
	Buckets     []float64 `json:"buckets"`
	Fleet       bool      `json:"fleet"`
}

// metricKind is the Cloud Monitoring metric kind of an instrument kind: counters and
// histograms are cumulative (the OpenTelemetry SDK's default temporality, which the Google
// exporter writes as CUMULATIVE), gauges GAUGE.
func metricKind(k observe.Kind) (string, error) {
	switch k {
	case observe.Counter, observe.Histogram:
		return "CUMULATIVE", nil
	case observe.Gauge:
		return "GAUGE", nil
	}
	return "", fmt.Errorf("unknown instrument kind %q", k)
}

// MetricsJSON renders the catalog as metrics.json.
func MetricsJSON() ([]byte, error) {
	entries := make([]metricEntry, 0, len(observe.Catalog))
	for _, m := range observe.Catalog {
		kind, err := metricKind(m.Kind)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		labels := m.Labels
		if labels == nil {
			labels = []string{}
		}
		buckets := m.Buckets
		if buckets == nil {
			buckets = []float64{}
		}
		entries = append(entries, metricEntry{
			Name: m.Name, Type: m.Monitoring, MetricKind: kind, ValueType: m.ValueType, Unit: m.Unit,
			Description: m.Description, Labels: labels, Buckets: buckets, Fleet: m.Fleet,
		})
	}
	return encodeJSON(entries)
}

// encodeJSON indents v with two spaces, leaves <, > and & alone (filters hold none, but
// descriptions may) and ends with a newline.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// The dashboard, as the subset of google.monitoring.dashboard.v1.Dashboard it uses (JSON
// names of the proto fields; TestDashboard_DecodesAsDashboardProto decodes the result into
// dashboardpb.Dashboard and refuses unknown fields).
type (
	dashboard struct {
		DisplayName  string       `json:"displayName"`
		MosaicLayout mosaicLayout `json:"mosaicLayout"`
	}
	mosaicLayout struct {
		Columns int    `json:"columns"`
		Tiles   []tile `json:"tiles"`
	}
	tile struct {
		XPos   int    `json:"xPos,omitempty"`
		YPos   int    `json:"yPos,omitempty"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
		Widget widget `json:"widget"`
	}
	widget struct {
		Title   string   `json:"title"`
		XyChart *xyChart `json:"xyChart,omitempty"`
		Text    *text    `json:"text,omitempty"`
	}
	text struct {
		Content string `json:"content"`
		Format  string `json:"format"`
	}
	xyChart struct {
		DataSets []dataSet `json:"dataSets"`
		YAxis    axis      `json:"yAxis"`
	}
	axis struct {
		Label string `json:"label,omitempty"`
		Scale string `json:"scale"`
	}
	dataSet struct {
		TimeSeriesQuery timeSeriesQuery `json:"timeSeriesQuery"`
		PlotType        string          `json:"plotType"`
		TargetAxis      string          `json:"targetAxis"`
	}
	timeSeriesQuery struct {
		TimeSeriesFilter      *timeSeriesFilter `json:"timeSeriesFilter,omitempty"`
		TimeSeriesFilterRatio *ratio            `json:"timeSeriesFilterRatio,omitempty"`
	}
	timeSeriesFilter struct {
		Filter      string      `json:"filter"`
		Aggregation aggregation `json:"aggregation"`
	}
	ratio struct {
		Numerator   timeSeriesFilter `json:"numerator"`
		Denominator timeSeriesFilter `json:"denominator"`
	}
	aggregation struct {
		AlignmentPeriod    string   `json:"alignmentPeriod"`
		PerSeriesAligner   string   `json:"perSeriesAligner"`
		CrossSeriesReducer string   `json:"crossSeriesReducer,omitempty"`
		GroupByFields      []string `json:"groupByFields,omitempty"`
	}
)

// The built-in metrics the dashboard shows next to Strata's own.
const (
	DeadLetterDepthMetric   = "pubsub.googleapis.com/subscription/num_undelivered_messages"
	InstanceCountMetric     = "run.googleapis.com/container/instance_count"
	BigtableCPUMetric       = "bigtable.googleapis.com/cluster/cpu_load"
	BigtableStorageMetric   = "bigtable.googleapis.com/cluster/storage_utilization"
	dashboardColumns        = 48
	dashboardAlignment      = "60s"
	dashboardTileWidth      = 24
	dashboardTileHeight     = 16
	dashboardTextTileHeight = 8
)

// metricType returns the Cloud Monitoring type of a catalog metric; it panics on a name the
// catalog lacks, so a renamed metric breaks generation (and the up-to-date test) at once.
func metricType(name string) string {
	m, ok := observe.Lookup(name)
	if !ok {
		panic(fmt.Sprintf("deploy: metric %q is not in observe.Catalog", name))
	}
	return m.Monitoring
}

// filterOf is a Cloud Monitoring filter for a catalog metric with optional extra clauses.
func filterOf(name string, clauses ...string) string {
	return strings.Join(append([]string{fmt.Sprintf("metric.type=%q", metricType(name))}, clauses...), " ")
}

func metricLabel(key string) string   { return "metric.label." + key }
func resourceLabel(key string) string { return "resource.label." + key }

// series is one line set of a chart: a filter, how each series is aligned, and how series are
// combined (by the given labels).
func series(filter, aligner, reducer string, groupBy ...string) dataSet {
	return dataSet{
		TimeSeriesQuery: timeSeriesQuery{TimeSeriesFilter: &timeSeriesFilter{
			Filter: filter, Aggregation: aggregation{
				AlignmentPeriod: dashboardAlignment, PerSeriesAligner: aligner,
				CrossSeriesReducer: reducer, GroupByFields: groupBy,
			},
		}},
		PlotType: "LINE", TargetAxis: "Y1",
	}
}

func chart(title, yLabel string, sets ...dataSet) widget {
	return widget{Title: title, XyChart: &xyChart{DataSets: sets, YAxis: axis{Label: yLabel, Scale: "LINEAR"}}}
}

// DashboardJSON renders the dashboard as a templatefile template (DashboardTemplateVars).
func DashboardJSON() ([]byte, error) {
	op := metricLabel(observe.LabelOp)
	fiveXX := fmt.Sprintf("%s=%q", "metric.labels."+observe.LabelStatusClass, "5xx")
	requests, duration := observe.MetricRequests, observe.MetricRequestDuration
	backendBy := []string{metricLabel(observe.LabelBackend), op}
	bigtable := func(metric string) string {
		return fmt.Sprintf(`metric.type=%q resource.type="bigtable_cluster" resource.label.instance="${bigtable_instance}"`, metric)
	}

	errorRatio := dataSet{
		TimeSeriesQuery: timeSeriesQuery{TimeSeriesFilterRatio: &ratio{
			Numerator: timeSeriesFilter{Filter: filterOf(requests, fiveXX), Aggregation: aggregation{
				AlignmentPeriod: dashboardAlignment, PerSeriesAligner: "ALIGN_RATE", CrossSeriesReducer: "REDUCE_SUM", GroupByFields: []string{op},
			}},
			Denominator: timeSeriesFilter{Filter: filterOf(requests), Aggregation: aggregation{
				AlignmentPeriod: dashboardAlignment, PerSeriesAligner: "ALIGN_RATE", CrossSeriesReducer: "REDUCE_SUM", GroupByFields: []string{op},
			}},
		}},
		PlotType: "LINE", TargetAxis: "Y1",
	}

	widgets := []widget{
		{Title: "Strata", Text: &text{Format: "MARKDOWN", Content: "Strata deployment **${name}**. " +
			"Requests, errors and latency per operation (one Cloud Run function each); the storage " +
			"tiers behind them; the change log, recovery and cleanup; capacity. " +
			"terraform/modules/monitoring/README.md says what each chart and alert means."}},
		chart("Requests/s by operation", "requests/s",
			series(filterOf(requests), "ALIGN_RATE", "REDUCE_SUM", op)),
		chart("5xx ratio by operation", "fraction of requests", errorRatio),
		chart("Latency p50 by operation", "seconds",
			series(filterOf(duration), "ALIGN_DELTA", "REDUCE_PERCENTILE_50", op)),
		chart("Latency p99 by operation", "seconds",
			series(filterOf(duration), "ALIGN_DELTA", "REDUCE_PERCENTILE_99", op)),
		chart("Backend latency p50 by backend and call", "seconds",
			series(filterOf(observe.MetricBackendDuration), "ALIGN_DELTA", "REDUCE_PERCENTILE_50", backendBy...)),
		chart("Backend latency p99 by backend and call", "seconds",
			series(filterOf(observe.MetricBackendDuration), "ALIGN_DELTA", "REDUCE_PERCENTILE_99", backendBy...)),
		chart("Bytes/s received and sent by operation", "bytes/s",
			series(filterOf(observe.MetricReceived), "ALIGN_RATE", "REDUCE_SUM", op),
			series(filterOf(observe.MetricSent), "ALIGN_RATE", "REDUCE_SUM", op)),
		chart("Admission rejections/s by reason", "requests/s",
			series(filterOf(observe.MetricRejections), "ALIGN_RATE", "REDUCE_SUM", metricLabel(observe.LabelReason))),
		chart("Change-log backlog by phase", "entries",
			series(filterOf(observe.MetricChangeLog), "ALIGN_MAX", "REDUCE_MAX", metricLabel(observe.LabelPhase))),
		chart("Oldest change-log entry age", "seconds",
			series(filterOf(observe.MetricChangeLogAge), "ALIGN_MAX", "REDUCE_MAX")),
		chart("Recovery runs by outcome", "runs/min",
			series(filterOf(observe.MetricRecoveryRuns), "ALIGN_DELTA", "REDUCE_SUM", metricLabel(observe.LabelOutcome))),
		chart("Recovery claims and failures", "entries/min",
			series(filterOf(observe.MetricRecoveryClaims), "ALIGN_DELTA", "REDUCE_SUM"),
			series(filterOf(observe.MetricRecoveryFails), "ALIGN_DELTA", "REDUCE_SUM")),
		chart("Cleanup deletes by kind, retries and dead letters", "per min",
			series(filterOf(observe.MetricCleanupDeletes), "ALIGN_DELTA", "REDUCE_SUM", metricLabel(observe.LabelKind)),
			series(filterOf(observe.MetricCleanupRetries), "ALIGN_DELTA", "REDUCE_SUM"),
			series(filterOf(observe.MetricDeadLetters), "ALIGN_DELTA", "REDUCE_SUM")),
		chart("Dead-letter queue depth", "messages",
			series(fmt.Sprintf(`metric.type=%q resource.type="pubsub_subscription" resource.label.subscription_id="${dead_letter_subscription}"`, DeadLetterDepthMetric),
				"ALIGN_MAX", "REDUCE_MAX")),
		chart("Cloud Run instances by function", "instances",
			series(fmt.Sprintf(`metric.type=%q resource.type="cloud_run_revision" resource.label.service_name=starts_with("${function_prefix}")`, InstanceCountMetric),
				"ALIGN_MAX", "REDUCE_SUM", resourceLabel("service_name"))),
		chart("Cold starts by function", "starts/min",
			series(filterOf(observe.MetricColdStarts), "ALIGN_DELTA", "REDUCE_SUM", metricLabel(observe.LabelFunction))),
		chart("Bigtable CPU load by cluster", "fraction",
			series(bigtable(BigtableCPUMetric), "ALIGN_MEAN", "REDUCE_MAX", resourceLabel("cluster"))),
		chart("Bigtable storage utilisation by cluster", "fraction",
			series(bigtable(BigtableStorageMetric), "ALIGN_MEAN", "REDUCE_MAX", resourceLabel("cluster"))),
	}

	d := dashboard{DisplayName: "Strata (${name})", MosaicLayout: mosaicLayout{Columns: dashboardColumns}}
	y := 0
	for i, w := range widgets {
		if w.Text != nil {
			d.MosaicLayout.Tiles = append(d.MosaicLayout.Tiles, tile{YPos: y, Width: dashboardColumns, Height: dashboardTextTileHeight, Widget: w})
			y += dashboardTextTileHeight
			continue
		}
		// Charts two to a row, left then right.
		n := i - 1
		x := (n % 2) * dashboardTileWidth
		d.MosaicLayout.Tiles = append(d.MosaicLayout.Tiles, tile{XPos: x, YPos: y + (n/2)*dashboardTileHeight, Width: dashboardTileWidth, Height: dashboardTileHeight, Widget: w})
	}
	return encodeJSON(d)
}

// MonitoringFiles returns every generated file of MonitoringDir by name.
func MonitoringFiles() (map[string][]byte, error) {
	metrics, err := MetricsJSON()
	if err != nil {
		return nil, err
	}
	dash, err := DashboardJSON()
	if err != nil {
		return nil, err
	}
	return map[string][]byte{MetricsFileName: metrics, DashboardFileName: dash}, nil
}
