package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/tiered"
)

// keyFile writes a fresh Ed25519 public key as PEM and returns its path.
func keyFile(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := auth.MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// dev is the minimal environment that loads: auth not enforced.
var dev = []string{"STRATA_AUTH_ENFORCE=false"}

func TestLoad_Defaults(t *testing.T) {
	c, err := Load(append(dev, "PATH=/bin", "HOME=/root", "FUNCTION_TARGET=x", "PORT=8080"))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:8888" || c.AdminAddr != "127.0.0.1:8889" || c.InvokerAuth != InvokerAuthOIDC || c.DataDir != "./data" || c.Storage != StorageLocal || c.AuthEnforce ||
		c.MaxConcurrency != 500 || c.MaxRequests != 10000 || c.GracePeriod != tiered.DefaultGracePeriod || c.LogLevel != slog.LevelInfo ||
		c.ReadHeaderTimeout != 10*time.Second || c.ReadTimeout != 30*time.Second || c.WriteTimeout != 30*time.Second ||
		c.IdleTimeout != time.Minute || c.MinTransferRate != 1024 || c.TenantShare != 0.5 || c.MemoryBudget != 0 ||
		c.MemoryLimit != 0 || c.MemoryReserve != 64<<20 || c.RequestConcurrency != 80 || c.StreamSlots != 0 || c.GCS.ChunkSize != 8<<20 {
		t.Errorf("defaults: %+v", c)
	}
}

func TestLoad_EveryVariable(t *testing.T) {
	key := keyFile(t)
	keys := `{"kid":{"key_files":["` + key + `"],"max_permissions":["object.read"]}}`
	tests := []struct {
		env   []string
		check func(c Config) bool
	}{
		{[]string{"STRATA_HTTP_ADDR=0.0.0.0:9000"}, func(c Config) bool { return c.HTTPAddr == "0.0.0.0:9000" }},
		{[]string{"STRATA_HTTP_ADDR=127.0.0.1:0"}, func(c Config) bool { return c.HTTPAddr == "127.0.0.1:0" }},
		{[]string{"STRATA_ADMIN_ADDR=127.0.0.1:0"}, func(c Config) bool { return c.AdminAddr == "127.0.0.1:0" }},
		{[]string{"STRATA_INVOKER_AUTH=none"}, func(c Config) bool { return c.InvokerAuth == InvokerAuthNone }},
		{[]string{"STRATA_INVOKER_AUTH=oidc", "STRATA_PUSH_AUDIENCE=https://cleanup.run.app", "STRATA_PUSH_SERVICE_ACCOUNT=push@p.iam.gserviceaccount.com",
			"STRATA_SCHEDULER_AUDIENCE=https://recover.run.app", "STRATA_SCHEDULER_SERVICE_ACCOUNT=sched@p.iam.gserviceaccount.com"},
			func(c Config) bool {
				return c.InvokerAuth == InvokerAuthOIDC &&
					c.Push == Invoker{Audience: "https://cleanup.run.app", ServiceAccount: "push@p.iam.gserviceaccount.com"} &&
					c.Scheduler == Invoker{Audience: "https://recover.run.app", ServiceAccount: "sched@p.iam.gserviceaccount.com"}
			}},
		{[]string{"STRATA_DATA_DIR=/var/lib/strata"}, func(c Config) bool { return c.DataDir == "/var/lib/strata" }},
		{[]string{"STRATA_AUTH_KEYS=" + keys}, func(c Config) bool { return len(c.AuthKeys) == 1 && len(c.AuthKeys["kid"].Versions) == 1 }},
		{[]string{"STRATA_AUTH_ENFORCE=true", "STRATA_AUTH_KEYS=" + keys}, func(c Config) bool { return c.AuthEnforce }},
		{[]string{"STRATA_STORAGE=local"}, func(c Config) bool { return c.Storage == StorageLocal }},
		{[]string{"STRATA_STORAGE=emulators", "STRATA_BIGTABLE_PROJECT=p", "STRATA_BIGTABLE_INSTANCE=i", "STRATA_BIGTABLE_TABLE=t",
			"STRATA_BIGTABLE_CHANGELOG_TABLE=cl", "STRATA_BIGTABLE_EMULATOR=127.0.0.1:8086", "STRATA_GCS_BUCKET=b",
			"STRATA_GCS_ENDPOINT=http://127.0.0.1:4443"},
			func(c Config) bool {
				return c.Storage == StorageEmulators && c.Bigtable == Bigtable{Project: "p", Instance: "i", Table: "t", ChangeLogTable: "cl", Emulator: "127.0.0.1:8086"} &&
					c.GCS == GCS{Bucket: "b", ChunkSize: DefaultGCSChunkSize, Endpoint: "http://127.0.0.1:4443"}
			}},
		{[]string{"STRATA_STORAGE=gcp", "STRATA_BIGTABLE_PROJECT=p", "STRATA_BIGTABLE_INSTANCE=i", "STRATA_GCS_BUCKET=b"},
			func(c Config) bool { return c.Storage == StorageGCP && c.Bigtable.Table == "" && c.GCS.Endpoint == "" }},
		{[]string{"STRATA_STORAGE=gcp", "STRATA_BIGTABLE_PROJECT=p", "STRATA_BIGTABLE_INSTANCE=i", "STRATA_GCS_BUCKET=b",
			"STRATA_CLEANUP_TOPIC=projects/p/topics/strata-cleanup"}, func(c Config) bool { return c.CleanupTopic == Topic{Project: "p", ID: "strata-cleanup"} }},
		{[]string{`STRATA_KILLSWITCHES=[{"usecase":"broken"}]`}, func(c Config) bool { return len(c.Killswitches) == 1 }},
		{[]string{`STRATA_RATE_LIMITS={"throughput":{"global_rps":10}}`}, func(c Config) bool { return c.RateLimits.Throughput != nil }},
		{[]string{`STRATA_USECASES={"a":{"expiration":{"manual":{"allowed":false}}}}`}, func(c Config) bool { return !c.Usecases["a"].Manual.Allowed }},
		{[]string{"STRATA_MAX_CONCURRENCY=7"}, func(c Config) bool { return c.MaxConcurrency == 7 }},
		{[]string{"STRATA_MAX_REQUESTS=9"}, func(c Config) bool { return c.MaxRequests == 9 }},
		{[]string{"STRATA_GRACE_PERIOD=0s"}, func(c Config) bool { return c.GracePeriod == NoGracePeriod && c.GracePeriod < 0 }},
		{[]string{"STRATA_GRACE_PERIOD=1m30s"}, func(c Config) bool { return c.GracePeriod == 90*time.Second }},
		{[]string{"STRATA_MAX_CLOCK_SKEW=500ms"}, func(c Config) bool { return c.MaxClockSkew == 500*time.Millisecond }},
		{[]string{"STRATA_LONG_TERM_SETTLE=1h"}, func(c Config) bool { return c.LongTermSettle == time.Hour }},
		{[]string{"STRATA_LOG_LEVEL=debug"}, func(c Config) bool { return c.LogLevel == slog.LevelDebug }},
		{[]string{"STRATA_LOG_LEVEL=WARNING"}, func(c Config) bool { return c.LogLevel == slog.LevelWarn }},
		{[]string{"STRATA_LOG_LEVEL=error"}, func(c Config) bool { return c.LogLevel == slog.LevelError }},
		{[]string{"STRATA_READ_HEADER_TIMEOUT=2s"}, func(c Config) bool { return c.ReadHeaderTimeout == 2*time.Second }},
		{[]string{"STRATA_READ_TIMEOUT=3s"}, func(c Config) bool { return c.ReadTimeout == 3*time.Second }},
		{[]string{"STRATA_WRITE_TIMEOUT=4s"}, func(c Config) bool { return c.WriteTimeout == 4*time.Second }},
		{[]string{"STRATA_IDLE_TIMEOUT=5s"}, func(c Config) bool { return c.IdleTimeout == 5*time.Second }},
		{[]string{"STRATA_MIN_TRANSFER_RATE=100"}, func(c Config) bool { return c.MinTransferRate == 100 }},
		{[]string{"STRATA_TENANT_SHARE=0.25"}, func(c Config) bool { return c.TenantShare == 0.25 }},
		{[]string{"STRATA_TENANT_SHARE=1"}, func(c Config) bool { return c.TenantShare == 1 }},
		{[]string{"STRATA_MEMORY_BUDGET=8388608"}, func(c Config) bool { return c.MemoryBudget == 8<<20 }},
		{[]string{"STRATA_TELEMETRY=none"}, func(c Config) bool { return c.Telemetry.Exporter == TelemetryNone }},
		{[]string{"STRATA_TELEMETRY=google", "STRATA_STORAGE=gcp", "STRATA_BIGTABLE_PROJECT=p", "STRATA_BIGTABLE_INSTANCE=i", "STRATA_GCS_BUCKET=b"},
			func(c Config) bool { return c.Telemetry.Exporter == TelemetryGoogle }},
		{[]string{"STRATA_TRACE_SAMPLE_RATIO=0.5"}, func(c Config) bool { return c.Telemetry.SampleRatio == 0.5 }},
		{[]string{"STRATA_TRACE_SAMPLE_RATIO=0"}, func(c Config) bool { return c.Telemetry.SampleRatio == 0 }},
		{[]string{"STRATA_TRACE_FOLLOW_RATE=2.5"}, func(c Config) bool { return c.Telemetry.FollowRate == 2.5 }},
		{[]string{"STRATA_METRICS_EXPORT_INTERVAL=2m"}, func(c Config) bool { return c.Telemetry.ExportInterval == 2*time.Minute }},
		{[]string{"STRATA_CLEANUP_MAX_DELIVERIES=7"}, func(c Config) bool { return c.CleanupMaxDeliveries == 7 }},
		{[]string{"STRATA_MEMORY_LIMIT=1Gi"}, func(c Config) bool { return c.MemoryLimit == 1<<30 }},
		{[]string{"STRATA_MEMORY_LIMIT=536870912"}, func(c Config) bool { return c.MemoryLimit == 512<<20 }},
		{[]string{"STRATA_MEMORY_RESERVE=96Mi"}, func(c Config) bool { return c.MemoryReserve == 96<<20 }},
		{[]string{"STRATA_REQUEST_CONCURRENCY=40"}, func(c Config) bool { return c.RequestConcurrency == 40 }},
		{[]string{"STRATA_STREAM_SLOTS=12"}, func(c Config) bool { return c.StreamSlots == 12 }},
		{[]string{"STRATA_STORAGE=gcp", "STRATA_BIGTABLE_PROJECT=p", "STRATA_BIGTABLE_INSTANCE=i", "STRATA_GCS_BUCKET=b", "STRATA_GCS_CHUNK_SIZE=2Mi"},
			func(c Config) bool { return c.GCS.ChunkSize == 2<<20 }},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		c, err := Load(append(append([]string{}, dev...), tt.env...))
		if err != nil {
			t.Errorf("%q: %v", tt.env, err)
			continue
		}
		if !tt.check(c) {
			t.Errorf("%q: config %+v", tt.env, c)
		}
		for _, kv := range tt.env {
			name, _, _ := strings.Cut(kv, "=")
			covered[name] = true
		}
	}
	for _, name := range Variables() {
		if !covered[name] {
			t.Errorf("variable %s has no test", name)
		}
	}
}

func TestLoad_Errors(t *testing.T) {
	tests := []struct {
		env  []string
		name string // the variable the error must name
	}{
		{[]string{"STRATA_HTTP_ADDR=8888"}, "STRATA_HTTP_ADDR"},
		{[]string{"STRATA_HTTP_ADDR=localhost:http"}, "STRATA_HTTP_ADDR"},
		{[]string{"STRATA_HTTP_ADDR=localhost:70000"}, "STRATA_HTTP_ADDR"},
		{[]string{"STRATA_ADMIN_ADDR=8889"}, "STRATA_ADMIN_ADDR"},
		{[]string{"STRATA_INVOKER_AUTH=off"}, "STRATA_INVOKER_AUTH"},
		{[]string{"STRATA_PUSH_SERVICE_ACCOUNT=not-an-email"}, "STRATA_PUSH_SERVICE_ACCOUNT"},
		{[]string{"STRATA_PUSH_AUDIENCE=https://a"}, "STRATA_PUSH_SERVICE_ACCOUNT"},
		{[]string{"STRATA_SCHEDULER_SERVICE_ACCOUNT=s@p.iam.gserviceaccount.com"}, "STRATA_SCHEDULER_AUDIENCE"},
		{[]string{"STRATA_SCHEDULER_AUDIENCE="}, "STRATA_SCHEDULER_AUDIENCE"},
		{[]string{"STRATA_INVOKER_AUTH=none", "STRATA_PUSH_AUDIENCE=https://a", "STRATA_PUSH_SERVICE_ACCOUNT=p@x"}, "STRATA_INVOKER_AUTH"},
		{[]string{"STRATA_DATA_DIR="}, "STRATA_DATA_DIR"},
		{[]string{"STRATA_AUTH_ENFORCE=yes"}, "STRATA_AUTH_ENFORCE"},
		{[]string{"STRATA_AUTH_ENFORCE=1"}, "STRATA_AUTH_ENFORCE"},
		{[]string{"STRATA_AUTH_KEYS={not json"}, "STRATA_AUTH_KEYS"},
		{[]string{`STRATA_AUTH_KEYS={"kid":{"key_files":["/nonexistent.pem"]}}`}, "STRATA_AUTH_KEYS"},
		{[]string{"STRATA_STORAGE=s3"}, "STRATA_STORAGE"},
		{[]string{"STRATA_STORAGE=emulators"}, "STRATA_BIGTABLE_PROJECT"},
		{[]string{"STRATA_STORAGE=emulators", "STRATA_BIGTABLE_PROJECT=p", "STRATA_BIGTABLE_INSTANCE=i", "STRATA_GCS_BUCKET=b", "STRATA_GCS_ENDPOINT=http://h:1"}, "STRATA_BIGTABLE_EMULATOR"},
		{[]string{"STRATA_STORAGE=gcp", "STRATA_BIGTABLE_PROJECT=p", "STRATA_BIGTABLE_INSTANCE=i"}, "STRATA_GCS_BUCKET"},
		{[]string{"STRATA_STORAGE=gcp", "STRATA_BIGTABLE_PROJECT=p", "STRATA_BIGTABLE_INSTANCE=i", "STRATA_GCS_BUCKET=b", "STRATA_BIGTABLE_EMULATOR=h:1"}, "STRATA_BIGTABLE_EMULATOR"},
		{[]string{"STRATA_GCS_BUCKET=b"}, "STRATA_GCS_BUCKET"}, // set with local storage
		{[]string{"STRATA_BIGTABLE_PROJECT="}, "STRATA_BIGTABLE_PROJECT"},
		{[]string{"STRATA_BIGTABLE_EMULATOR=nohostport"}, "STRATA_BIGTABLE_EMULATOR"},
		{[]string{"STRATA_GCS_ENDPOINT=ftp://x"}, "STRATA_GCS_ENDPOINT"},
		{[]string{"STRATA_GCS_ENDPOINT=nohostport"}, "STRATA_GCS_ENDPOINT"},
		{[]string{"STRATA_STORAGE=gcp", "STRATA_BIGTABLE_PROJECT=p", "STRATA_BIGTABLE_INSTANCE=i", "STRATA_GCS_BUCKET=b",
			"STRATA_BIGTABLE_TABLE=t", "STRATA_BIGTABLE_CHANGELOG_TABLE=t"}, "STRATA_BIGTABLE_CHANGELOG_TABLE"},
		{[]string{"STRATA_KILLSWITCHES={}"}, "STRATA_KILLSWITCHES"},
		{[]string{"STRATA_CLEANUP_TOPIC=strata-cleanup"}, "STRATA_CLEANUP_TOPIC"},
		{[]string{"STRATA_CLEANUP_TOPIC=projects/p/topics/t"}, "STRATA_CLEANUP_TOPIC"}, // set with local storage
		{[]string{`STRATA_RATE_LIMITS={"throughput":{"nope":1}}`}, "STRATA_RATE_LIMITS"},
		{[]string{`STRATA_USECASES={"a":{"expiration":{"ttl":{"max":"soon"}}}}`}, "STRATA_USECASES"},
		{[]string{"STRATA_MAX_CONCURRENCY=0"}, "STRATA_MAX_CONCURRENCY"},
		{[]string{"STRATA_READ_TIMEOUT=0s"}, "STRATA_READ_TIMEOUT"},
		{[]string{"STRATA_WRITE_TIMEOUT=soon"}, "STRATA_WRITE_TIMEOUT"},
		{[]string{"STRATA_IDLE_TIMEOUT=-1s"}, "STRATA_IDLE_TIMEOUT"},
		{[]string{"STRATA_READ_HEADER_TIMEOUT=0s"}, "STRATA_READ_HEADER_TIMEOUT"},
		{[]string{"STRATA_MIN_TRANSFER_RATE=0"}, "STRATA_MIN_TRANSFER_RATE"},
		{[]string{"STRATA_TENANT_SHARE=0"}, "STRATA_TENANT_SHARE"},
		{[]string{"STRATA_TELEMETRY=stdout"}, "STRATA_TELEMETRY"},
		{[]string{"STRATA_TELEMETRY=google"}, "STRATA_TELEMETRY"},
		{[]string{"STRATA_TRACE_SAMPLE_RATIO=1.5"}, "STRATA_TRACE_SAMPLE_RATIO"},
		{[]string{"STRATA_TRACE_FOLLOW_RATE=0"}, "STRATA_TRACE_FOLLOW_RATE"},
		{[]string{"STRATA_METRICS_EXPORT_INTERVAL=1s"}, "STRATA_METRICS_EXPORT_INTERVAL"},
		{[]string{"STRATA_CLEANUP_MAX_DELIVERIES=0"}, "STRATA_CLEANUP_MAX_DELIVERIES"},
		{[]string{"STRATA_TENANT_SHARE=1.5"}, "STRATA_TENANT_SHARE"},
		{[]string{"STRATA_TENANT_SHARE=NaN"}, "STRATA_TENANT_SHARE"},
		{[]string{"STRATA_MEMORY_BUDGET=1024"}, "STRATA_MEMORY_BUDGET"},
		{[]string{"STRATA_MEMORY_LIMIT=1GB"}, "STRATA_MEMORY_LIMIT"},
		{[]string{"STRATA_MEMORY_LIMIT=32Mi"}, "STRATA_MEMORY_LIMIT"},
		// 256 MiB with 80 requests of 2 MiB and a 64 MiB reserve leaves 32 MiB: three
		// slots; at 96 requests it leaves nothing, and start-up says so.
		{[]string{"STRATA_MEMORY_LIMIT=256Mi", "STRATA_REQUEST_CONCURRENCY=96"}, "STRATA_MEMORY_LIMIT"},
		{[]string{"STRATA_MEMORY_RESERVE=1Mi"}, "STRATA_MEMORY_RESERVE"},
		{[]string{"STRATA_MEMORY_RESERVE=lots"}, "STRATA_MEMORY_RESERVE"},
		{[]string{"STRATA_REQUEST_CONCURRENCY=0"}, "STRATA_REQUEST_CONCURRENCY"},
		{[]string{"STRATA_STREAM_SLOTS=-1"}, "STRATA_STREAM_SLOTS"},
		{[]string{"STRATA_GCS_CHUNK_SIZE=1000000"}, "STRATA_GCS_CHUNK_SIZE"},
		{[]string{"STRATA_GCS_CHUNK_SIZE=128Ki"}, "STRATA_GCS_CHUNK_SIZE"},
		{[]string{"STRATA_GCS_CHUNK_SIZE=8Mi"}, "STRATA_GCS_CHUNK_SIZE"}, // local storage has no GCS
		{[]string{"STRATA_MAX_CONCURRENCY=many"}, "STRATA_MAX_CONCURRENCY"},
		{[]string{"STRATA_MAX_REQUESTS=-1"}, "STRATA_MAX_REQUESTS"},
		{[]string{"STRATA_GRACE_PERIOD=30"}, "STRATA_GRACE_PERIOD"},
		{[]string{"STRATA_GRACE_PERIOD=-1s"}, "STRATA_GRACE_PERIOD"},
		{[]string{"STRATA_MAX_CLOCK_SKEW=0s"}, "STRATA_MAX_CLOCK_SKEW"},
		{[]string{"STRATA_LONG_TERM_SETTLE=soon"}, "STRATA_LONG_TERM_SETTLE"},
		{[]string{"STRATA_LOG_LEVEL=verbose"}, "STRATA_LOG_LEVEL"},
		{[]string{"STRATA_HTTP_ADRR=127.0.0.1:1"}, "STRATA_HTTP_ADRR"}, // unknown (typo)
		{[]string{"STRATA_=x"}, "STRATA_"},
	}
	for _, tt := range tests {
		_, err := Load(append(append([]string{}, dev...), tt.env...))
		if err == nil || !strings.Contains(err.Error(), tt.name+":") {
			t.Errorf("%q: error %v does not name %s", tt.env, err, tt.name)
		}
	}
}

// TestConfig_CheckFunction: deployed, cleanup and recover refuse to start without their
// caller's OIDC identity unless STRATA_INVOKER_AUTH=none says so; public functions need
// nothing.
func TestConfig_CheckFunction(t *testing.T) {
	bare, err := Load(dev)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{"cleanup", "recover"} {
		if err := bare.CheckFunction(fn); err == nil || !strings.Contains(err.Error(), "STRATA_INVOKER_AUTH") {
			t.Errorf("%s without an invoker identity: %v", fn, err)
		}
	}
	if err := bare.CheckFunction("object-get"); err != nil {
		t.Errorf("object-get: %v", err)
	}
	full, err := Load(append(dev, "STRATA_PUSH_AUDIENCE=https://c", "STRATA_PUSH_SERVICE_ACCOUNT=p@x",
		"STRATA_SCHEDULER_AUDIENCE=https://r", "STRATA_SCHEDULER_SERVICE_ACCOUNT=s@x"))
	if err != nil {
		t.Fatal(err)
	}
	none, err := Load(append(dev, "STRATA_INVOKER_AUTH=none"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{"cleanup", "recover"} {
		if err := full.CheckFunction(fn); err != nil {
			t.Errorf("%s, configured: %v", fn, err)
		}
		if err := none.CheckFunction(fn); err != nil {
			t.Errorf("%s, opted out: %v", fn, err)
		}
	}
}

func TestLoad_EnforcedAuthNeedsKeys(t *testing.T) {
	for _, env := range [][]string{nil, {"STRATA_AUTH_ENFORCE=true"}} {
		_, err := Load(env)
		if err == nil || !strings.Contains(err.Error(), "STRATA_AUTH_KEYS:") {
			t.Errorf("%q: %v", env, err)
		}
	}
}

func TestLoad_ReportsEveryProblem(t *testing.T) {
	_, err := Load([]string{"STRATA_AUTH_ENFORCE=maybe", "STRATA_MAX_REQUESTS=x", "STRATA_NOPE=1"})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, name := range []string{"STRATA_AUTH_ENFORCE:", "STRATA_MAX_REQUESTS:", "STRATA_NOPE:"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error lacks %s: %v", name, err)
		}
	}
}

func TestLoad_IgnoresOtherToolsVariables(t *testing.T) {
	env := append([]string{}, dev...)
	for _, name := range toolVariables {
		env = append(env, name+"=x")
	}
	if _, err := Load(env); err != nil {
		t.Fatalf("tool variables stopped start-up: %v", err)
	}
	if _, err := Load(append(dev, "STRATA_URLS=x")); err == nil || !strings.Contains(err.Error(), "STRATA_URLS") {
		t.Fatalf("a near miss must still be refused: %v", err)
	}
}

func TestParseTopic(t *testing.T) {
	tp, err := ParseTopic("projects/p/topics/t")
	if err != nil || tp != (Topic{Project: "p", ID: "t"}) || tp.String() != "projects/p/topics/t" || tp.IsZero() {
		t.Fatal(tp, err)
	}
	if (Topic{}).String() != "" || !(Topic{}).IsZero() {
		t.Error("the zero Topic should be empty")
	}
	for _, bad := range []string{"", "t", "projects/p/topics/", "projects//topics/t", "projects/p/subscriptions/t", "projects/p/topics/t/x"} {
		if tp, err := ParseTopic(bad); err == nil {
			t.Errorf("ParseTopic(%q) = %+v, want an error", bad, tp)
		}
	}
}

// TestConfig_Memory: the memory limit comes from STRATA_MEMORY_LIMIT, else the cgroup
// (v2, then v1; "max" and v1's huge value mean none), else the default; the budget and the
// slots follow from it unless set.
// gcsStorage selects the GCS backend, whose writer buffers a chunk per upload.
var gcsStorage = []string{"STRATA_STORAGE=gcp", "STRATA_BIGTABLE_PROJECT=p", "STRATA_BIGTABLE_INSTANCE=i", "STRATA_GCS_BUCKET=b"}

func TestConfig_Memory(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if v, ok := m[p]; ok {
				return []byte(v), nil
			}
			return nil, os.ErrNotExist
		}
	}
	const v2, v1 = "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	tests := []struct {
		name      string
		env       []string
		files     map[string]string
		limit     int64
		from      string
		budget    int64
		slots     int
		local     bool // STRATA_STORAGE=local; otherwise gcp, whose writer buffers a chunk
		wantError bool
	}{
		{name: "nothing: the default", limit: 512 << 20, from: MemoryFromDefault, budget: 448 << 20, slots: 31},
		{name: "cgroup v2", files: map[string]string{v2: "1073741824\n"}, limit: 1 << 30, from: v2, budget: 960 << 20, slots: 88},
		{name: "cgroup v2 without a limit, v1 with one", files: map[string]string{v2: "max\n", v1: "1073741824\n"}, limit: 1 << 30, from: v1, budget: 960 << 20, slots: 88},
		{name: "cgroup v1 without a limit", files: map[string]string{v1: "9223372036854771712\n"}, limit: 512 << 20, from: MemoryFromDefault, budget: 448 << 20, slots: 31},
		{name: "cgroup garbage", files: map[string]string{v2: "lots"}, limit: 512 << 20, from: MemoryFromDefault, budget: 448 << 20, slots: 31},
		{name: "the setting wins over the cgroup", env: []string{"STRATA_MEMORY_LIMIT=256Mi", "STRATA_REQUEST_CONCURRENCY=40"},
			files: map[string]string{v2: "1073741824"}, limit: 256 << 20, from: MemoryFromSetting, budget: 192 << 20, slots: 12},
		{name: "explicit budget and slots", env: []string{"STRATA_MEMORY_BUDGET=8388608", "STRATA_STREAM_SLOTS=500"},
			limit: 512 << 20, from: MemoryFromDefault, budget: 8 << 20, slots: 500},
		{name: "a smaller chunk, more slots", env: []string{"STRATA_GCS_CHUNK_SIZE=1Mi"}, limit: 512 << 20, from: MemoryFromDefault, budget: 448 << 20, slots: 143},
		// The local backend streams a large upload to its file: only the peek is held.
		{name: "local storage buffers no chunk", local: true, limit: 512 << 20, from: MemoryFromDefault, budget: 448 << 20, slots: 287},
		{name: "a detected cgroup too small is an error", files: map[string]string{v2: "268435456"}, env: []string{"STRATA_REQUEST_CONCURRENCY=96"}, wantError: true},
		{name: "unless the slots are set", files: map[string]string{v2: "268435456"}, env: []string{"STRATA_REQUEST_CONCURRENCY=96", "STRATA_STREAM_SLOTS=2"},
			limit: 256 << 20, from: v2, budget: 192 << 20, slots: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := append(append([]string{}, dev...), tt.env...)
			if !tt.local {
				env = append(env, gcsStorage...)
			}
			c, err := Load(env)
			if err != nil {
				t.Fatal(err)
			}
			m, from, budget, slots, err := c.Memory(files(tt.files))
			if tt.wantError {
				if err == nil || !strings.Contains(err.Error(), "STRATA_MEMORY_LIMIT") {
					t.Fatalf("err = %v, want one naming STRATA_MEMORY_LIMIT", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Limit != tt.limit || from != tt.from || budget != tt.budget || slots != tt.slots {
				t.Errorf("limit %d from %q, budget %d, slots %d; want %d from %q, budget %d, slots %d",
					m.Limit, from, budget, slots, tt.limit, tt.from, tt.budget, tt.slots)
			}
		})
	}
}
