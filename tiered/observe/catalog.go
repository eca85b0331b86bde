package observe

// The metric catalog: every metric Strata emits, once. The code creates its OpenTelemetry
// instruments from this list (NewMetrics), the local /metrics endpoint lists it, and the
// Terraform monitoring module (metric descriptors, dashboard, alert policies) is generated
// from it (functions/internal/deploy's generator, `make monitoring`). Each entry names
// the metric three ways, as the three systems that read it spell it; tests fail when the
// Prometheus exporter or the Cloud Monitoring exporter spells a name otherwise, or when the
// generated Terraform drifts from this list.

// Kind is an instrument kind.
type Kind string

// Instrument kinds.
const (
	// Counter is a monotonic sum (Cloud Monitoring CUMULATIVE INT64 or DOUBLE).
	Counter Kind = "counter"
	// Histogram is a distribution (Cloud Monitoring CUMULATIVE DISTRIBUTION).
	Histogram Kind = "histogram"
	// Gauge is a last value (Cloud Monitoring GAUGE).
	Gauge Kind = "gauge"
)

// Metric is one entry of the catalog.
type Metric struct {
	// Name is the OpenTelemetry instrument name.
	Name string
	// Prometheus is the name the OpenTelemetry Prometheus exporter gives it (unit and
	// _total suffixes included); histograms add _bucket, _sum and _count to it.
	Prometheus string
	// Monitoring is its Cloud Monitoring metric type.
	Monitoring string
	Kind       Kind
	// Unit is the UCUM unit ("s", "By", or a {annotation} for a count).
	Unit string
	// ValueType is the Cloud Monitoring value type: INT64, DOUBLE or DISTRIBUTION.
	ValueType   string
	Description string
	// Labels are the attribute keys every point carries, in this order.
	Labels []string
	// Buckets are a histogram's explicit bucket upper bounds, in the unit.
	Buckets []float64
	// Fleet marks a fleet-wide gauge: written by the recover function on its schedule (and
	// the local server's recovery timer), never by every instance.
	Fleet bool
}

// Label keys.
const (
	LabelOp          = "op"
	LabelStatusClass = "status_class"
	LabelBackend     = "backend"
	LabelOutcome     = "outcome"
	LabelReason      = "reason"
	LabelPhase       = "phase"
	LabelFunction    = "function"
	LabelKind        = "kind"
)

// Closed label value sets: what the code may write for these labels, recorded as zeros up
// front so that a fresh server already lists every series.
var (
	// StatusClasses are the HTTP status classes of strata.requests.
	StatusClasses = []string{"2xx", "3xx", "4xx", "5xx"}
	// Outcomes are the backend-call outcomes (Outcome).
	Outcomes = []string{OutcomeOK, OutcomeNotFound, OutcomeConflict, OutcomeError}
	// RunOutcomes are a recovery run's outcomes.
	RunOutcomes = []string{"ok", "error"}
	// RejectReasons are why admission refused a request.
	RejectReasons = []string{
		RejectRateLimited, RejectKillswitch, RejectOverloaded, RejectConcurrency,
		RejectMemory, RejectLargeUploads, RejectSlowClient,
	}
	// CleanupKinds are what a cleanup delete removed.
	CleanupKinds = []string{CleanupRevision, CleanupUpload}
)

// Admission rejection reasons (strata.admission.rejections{reason}).
const (
	RejectRateLimited  = "rate_limited"  // a usecase or scope rate or bandwidth limit (429)
	RejectKillswitch   = "killswitch"    // a killswitch matched (403)
	RejectOverloaded   = "overloaded"    // the in-flight request cap (503)
	RejectConcurrency  = "concurrency"   // no storage permit within the queue timeout, or the tenant holds its share (429)
	RejectMemory       = "memory"        // the memory budget is spent (503)
	RejectLargeUploads = "large_uploads" // every large-upload slot of the instance is taken (503)
	RejectSlowClient   = "slow_client"   // a body or response below the minimum rate (408)
)

// What a cleanup delete removed (strata.cleanup.deletes{kind}).
const (
	CleanupRevision = "revision" // a long-term revision no row references
	CleanupUpload   = "upload"   // an abandoned multipart upload, aborted
)

// latencyBuckets are the request and backend latency bounds in seconds. 0.1 s and 0.5 s are
// bounds on purpose: the latency SLO's threshold must be one (a distribution cut counts the
// buckets below it).
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// monitoringPrefix is where the Cloud Monitoring exporter puts OpenTelemetry metrics.
const monitoringPrefix = "workload.googleapis.com/"

// Metric names, for the code that records them.
const (
	MetricRequests        = "strata.requests"
	MetricRequestDuration = "strata.request.duration"
	MetricReceived        = "strata.received"
	MetricSent            = "strata.sent"
	MetricBackendDuration = "strata.backend.duration"
	MetricRejections      = "strata.admission.rejections"
	MetricChangeLog       = "strata.changelog.entries"
	MetricChangeLogAge    = "strata.changelog.oldest_age"
	MetricRecoveryRuns    = "strata.recovery.runs"
	MetricRecoveryClaims  = "strata.recovery.claims"
	MetricRecoveryFails   = "strata.recovery.failures"
	MetricCleanupDeletes  = "strata.cleanup.deletes"
	MetricCleanupRetries  = "strata.cleanup.retries"
	MetricDeadLetters     = "strata.cleanup.dead_letters"
	MetricColdStarts      = "strata.cold_starts"
)

// Catalog is every metric Strata emits.
var Catalog = []Metric{
	{
		Name: MetricRequests, Prometheus: "strata_requests_total", Kind: Counter, Unit: "{request}", ValueType: "INT64",
		Description: "Requests served, by operation (the function) and HTTP status class.",
		Labels:      []string{LabelOp, LabelStatusClass},
	},
	{
		Name: MetricRequestDuration, Prometheus: "strata_request_duration_seconds", Kind: Histogram, Unit: "s", ValueType: "DISTRIBUTION",
		Description: "Request latency from the first byte of the request to the last of the response, by operation and status class.",
		Labels:      []string{LabelOp, LabelStatusClass}, Buckets: latencyBuckets,
	},
	{
		Name: MetricReceived, Prometheus: "strata_received_bytes_total", Kind: Counter, Unit: "By", ValueType: "INT64",
		Description: "Request body bytes received, by operation.",
		Labels:      []string{LabelOp},
	},
	{
		Name: MetricSent, Prometheus: "strata_sent_bytes_total", Kind: Counter, Unit: "By", ValueType: "INT64",
		Description: "Response body bytes sent, by operation.",
		Labels:      []string{LabelOp},
	},
	{
		Name: MetricBackendDuration, Prometheus: "strata_backend_duration_seconds", Kind: Histogram, Unit: "s", ValueType: "DISTRIBUTION",
		Description: "Backend call latency by backend, call and outcome; not_found and conflict (a lost race) are outcomes, not errors.",
		Labels:      []string{LabelBackend, LabelOp, LabelOutcome}, Buckets: latencyBuckets,
	},
	{
		Name: MetricRejections, Prometheus: "strata_admission_rejections_total", Kind: Counter, Unit: "{request}", ValueType: "INT64",
		Description: "Requests refused by admission control, by reason.",
		Labels:      []string{LabelReason},
	},
	{
		Name: MetricChangeLog, Prometheus: "strata_changelog_entries", Kind: Gauge, Unit: "{entry}", ValueType: "INT64",
		Description: "Change-log entries by phase (the backlog), measured by the recovery run.",
		Labels:      []string{LabelPhase}, Fleet: true,
	},
	{
		Name: MetricChangeLogAge, Prometheus: "strata_changelog_oldest_age_seconds", Kind: Gauge, Unit: "s", ValueType: "DOUBLE",
		Description: "Age of the oldest change-log entry (0 when the log is empty), measured by the recovery run.",
		Fleet:       true,
	},
	{
		Name: MetricRecoveryRuns, Prometheus: "strata_recovery_runs_total", Kind: Counter, Unit: "{run}", ValueType: "INT64",
		Description: "Recovery passes run, by outcome.",
		Labels:      []string{LabelOutcome},
	},
	{
		Name: MetricRecoveryClaims, Prometheus: "strata_recovery_claims_total", Kind: Counter, Unit: "{entry}", ValueType: "INT64",
		Description: "Abandoned change-log entries claimed by recovery.",
	},
	{
		Name: MetricRecoveryFails, Prometheus: "strata_recovery_failures_total", Kind: Counter, Unit: "{entry}", ValueType: "INT64",
		Description: "Claimed change-log entries recovery failed to settle (retried by a later run).",
	},
	{
		Name: MetricCleanupDeletes, Prometheus: "strata_cleanup_deletes_total", Kind: Counter, Unit: "{object}", ValueType: "INT64",
		Description: "Long-term revisions deleted and multipart uploads aborted by cleanup, by kind.",
		Labels:      []string{LabelKind},
	},
	{
		Name: MetricCleanupRetries, Prometheus: "strata_cleanup_retries_total", Kind: Counter, Unit: "{task}", ValueType: "INT64",
		Description: "Cleanup tasks that failed and will be delivered again.",
	},
	{
		Name: MetricDeadLetters, Prometheus: "strata_cleanup_dead_letters_total", Kind: Counter, Unit: "{task}", ValueType: "INT64",
		Description: "Cleanup tasks given up after their last attempt (deployed, Pub/Sub moves them to the dead-letter topic); recovery still settles their entries.",
	},
	{
		Name: MetricColdStarts, Prometheus: "strata_cold_starts_total", Kind: Counter, Unit: "{start}", ValueType: "INT64",
		Description: "Process starts (Cloud Run instance cold starts), by function.",
		Labels:      []string{LabelFunction},
	},
}

func init() {
	for i := range Catalog {
		Catalog[i].Monitoring = monitoringPrefix + Catalog[i].Name
	}
}

// Lookup returns the catalog entry named name.
func Lookup(name string) (Metric, bool) {
	for _, m := range Catalog {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}
