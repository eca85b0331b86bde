package topology

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/stratastore/strata/e2e/internal/harness"
	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/bigtablebackend"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/gcsbackend"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/tieredtest"
)

// Names of the emulated resources. Pub/Sub IDs must be at least 3 characters.
const (
	project        = "strata-e2e"
	instance       = "strata-e2e"
	objectsTable   = "objectstore"
	changeLogTable = "objectstore_changelog"
	bucket         = "strata-e2e"
	cleanupTopic   = "strata-cleanup"
	deadTopic      = "strata-cleanup-dead"
	pushSub        = "strata-cleanup-push"
	captureSub     = "strata-cleanup-capture"
	deadSub        = "strata-cleanup-dead-pull"
	// maxDeliveries is the push subscription's dead-letter threshold.
	maxDeliveries = 5
	kid           = "e2e"
	// usecase is the usecase every test writes under, each in its own scope.
	usecase = "attachments"
)

// topo is the running topology, started once by TestMain.
var topo *topology

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		// The whole suite shares one topology: two emulator binaries and a build of every
		// function, which is not the fast loop.
		fmt.Printf("topology: skipped under -short: it starts the emulators ($%s, $%s) and builds the functions; make test runs it\n",
			backendtest.EnvCBTEmulator, backendtest.EnvPubSubEmulator)
		return 0
	}
	tp := &topology{}
	defer tp.stop()
	if err := tp.start(); err != nil {
		fmt.Fprintf(os.Stderr, "topology: cannot start the local topology: %v\n%s", err, tp.logs())
		return 1
	}
	topo = tp
	return m.Run()
}

// proc is one child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	logs *harness.LogBuffer
	done chan struct{}
}

// startProc starts bin with env (nil: the test's environment); the child dies with the test
// process (Pdeathsig) and is killed by PID at teardown.
func startProc(name, bin string, args, env []string) (*proc, error) {
	p := &proc{name: name, logs: &harness.LogBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// kill sends SIGKILL to the process (by PID) and waits until it has exited.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// function is one function's process and where it listens.
type function struct {
	name string
	port string
	url  string
	mu   sync.Mutex
	p    *proc
	// restarts counts the processes started for it before the current one.
	restarts int
	// earlier holds the logs of processes that were killed.
	earlier []string
}

// current returns the running process.
func (f *function) current() *proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.p
}

// logs returns the output of every process of the function, oldest first.
func (f *function) logs() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(append(slices.Clone(f.earlier), f.p.logs.String()), "")
}

// topology is the whole local deployment.
type topology struct {
	procs   []*proc // emulators
	btAddr  string
	psAddr  string
	gcsURL  string
	gcsSrv  *httptest.Server
	gcsFake *fakestorage.Server
	// gcsHook, when set, sees every fake-GCS request in place of the fake itself; next serves
	// it. Tests use it to hold a function at a chosen GCS call.
	gcsHook atomic.Pointer[func(w http.ResponseWriter, r *http.Request, next http.Handler)]

	priv    ed25519.PrivateKey
	keysEnv string
	dir     string
	fnBin   string

	fns      map[string]*function
	front    *httptest.Server
	door     *frontDoor
	bt       *bigtablebackend.Backend
	btData   *bigtable.Client
	lt       *gcsbackend.Backend
	gcs      *storage.Client
	ps       *pubsub.Client
	stoppers []func()

	// otlp receives the spans of every function process and of the front door, whose own
	// tracer provider is doorTraces.
	otlp       *otlpReceiver
	doorTraces *sdktrace.TracerProvider
}

// logs returns the output of every process, for a failed start.
func (tp *topology) logs() string {
	var b strings.Builder
	for _, p := range tp.procs {
		fmt.Fprintf(&b, "--- %s ---\n%s\n", p.name, tail(p.logs.String(), 4000))
	}
	for _, f := range tp.fns {
		if f.p != nil {
			fmt.Fprintf(&b, "--- function %s ---\n%s\n", f.name, tail(f.logs(), 4000))
		}
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// stop ends everything started, last first; processes by PID.
func (tp *topology) stop() {
	if tp.front != nil {
		tp.front.CloseClientConnections()
	}
	if tp.gcsSrv != nil {
		tp.gcsSrv.CloseClientConnections()
	}
	for i := len(tp.stoppers) - 1; i >= 0; i-- {
		tp.stoppers[i]()
	}
	for _, f := range tp.fns {
		if p := f.current(); p != nil {
			p.kill()
		}
	}
	for _, p := range tp.procs {
		p.kill()
	}
	if tp.gcsSrv != nil {
		tp.gcsSrv.Close()
	}
	if tp.gcsFake != nil {
		tp.gcsFake.Stop()
	}
	if tp.dir != "" {
		_ = os.RemoveAll(tp.dir)
	}
}

func (tp *topology) start() error {
	// The emulator binaries ship with the machine image (gcp-platform.md §0–2); the Makefile
	// names them. A missing one fails the suite, naming its variable; it is never skipped.
	cbtEmulator, err := backendtest.LookupEmulator(backendtest.EnvCBTEmulator, backendtest.CBTEmulatorName)
	if err != nil {
		return err
	}
	pubsubEmulator, err := backendtest.LookupEmulator(backendtest.EnvPubSubEmulator, backendtest.PubSubEmulatorName)
	if err != nil {
		return err
	}
	if tp.dir, err = os.MkdirTemp("", "strata-topology-"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The function binary builds while the emulators start.
	buildErr := make(chan error, 1)
	go func() { buildErr <- tp.buildFnServer(ctx) }()

	// Emulators.
	tp.btAddr = freeAddr()
	host, port, _ := net.SplitHostPort(tp.btAddr)
	bt, err := startProc("cbtemulator", cbtEmulator, []string{"-host", host, "-port", port}, os.Environ())
	if err != nil {
		return err
	}
	tp.procs = append(tp.procs, bt)
	tp.psAddr = freeAddr()
	host, port, _ = net.SplitHostPort(tp.psAddr)
	ps, err := startProc("pubsub-emulator", pubsubEmulator, []string{"--host=" + host, "--port=" + port}, os.Environ())
	if err != nil {
		return err
	}
	tp.procs = append(tp.procs, ps)
	if err := tp.startGCS(); err != nil {
		return err
	}
	if err := waitTCP(tp.btAddr, bt, 30*time.Second); err != nil {
		return fmt.Errorf("cbtemulator: %w", err)
	}
	if err := waitTCP(tp.psAddr, ps, 60*time.Second); err != nil {
		return fmt.Errorf("pubsub emulator: %w", err)
	}

	// Tables, as Terraform creates them in production.
	if err := tp.createTables(ctx); err != nil {
		return err
	}
	// Topics (the subscriptions need the cleanup process's URL).
	if err := os.Setenv("PUBSUB_EMULATOR_HOST", tp.psAddr); err != nil {
		return err
	}
	if tp.ps, err = pubsub.NewClient(ctx, project); err != nil {
		return fmt.Errorf("pubsub client: %w", err)
	}
	tp.stoppers = append(tp.stoppers, func() { tp.ps.Close() })
	for _, t := range []string{cleanupTopic, deadTopic} {
		if _, err := tp.ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topicName(t)}); err != nil {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}

	// Keys.
	if _, tp.priv, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return err
	}
	_, pub, err := client.MarshalKeyPairPEM(tp.priv)
	if err != nil {
		return err
	}
	pubPath := filepath.Join(tp.dir, "e2e.pub.pem")
	if err := os.WriteFile(pubPath, pub, 0o600); err != nil {
		return err
	}
	tp.keysEnv = fmt.Sprintf(`{%q:{"key_files":[%q],"max_permissions":["object.read","object.write","object.delete"]}}`, kid, pubPath)

	// The trace receiver every process exports to, and the front door's tracer.
	if tp.otlp, err = startOTLPReceiver(); err != nil {
		return err
	}
	tp.stoppers = append(tp.stoppers, tp.otlp.stop)
	if tp.doorTraces, err = newDoorTraces(ctx, tp.otlp.addr); err != nil {
		return err
	}
	tp.stoppers = append(tp.stoppers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tp.doorTraces.Shutdown(ctx)
	})

	// One process per function of the route table.
	if err := <-buildErr; err != nil {
		return err
	}
	routes, err := loadRoutes(filepath.Join(repoRoot(), "terraform", "modules", "frontend", "routes.json"))
	if err != nil {
		return err
	}
	tp.fns = make(map[string]*function)
	for _, f := range routes.Functions {
		addr := freeAddr()
		_, port, _ := net.SplitHostPort(addr)
		tp.fns[f.Name] = &function{name: f.Name, port: port, url: "http://" + addr}
	}
	for _, f := range tp.fns {
		if err := tp.startFunction(f); err != nil {
			return err
		}
	}
	for _, f := range tp.fns {
		if err := waitHTTP(f.url, f.current(), 60*time.Second); err != nil {
			return fmt.Errorf("function %s: %w", f.name, err)
		}
	}

	// Subscriptions: push to the cleanup process with a dead-letter policy, and a pull
	// subscription on the same topic that captures tasks for the redelivery test.
	cleanupFn, ok := tp.fns["cleanup"]
	if !ok {
		return errors.New("routes.json lists no cleanup function")
	}
	subs := []*pubsubpb.Subscription{
		{
			Name:               subName(pushSub),
			Topic:              topicName(cleanupTopic),
			PushConfig:         &pubsubpb.PushConfig{PushEndpoint: cleanupFn.url + "/"},
			AckDeadlineSeconds: 60,
			DeadLetterPolicy:   &pubsubpb.DeadLetterPolicy{DeadLetterTopic: topicName(deadTopic), MaxDeliveryAttempts: maxDeliveries},
		},
		{Name: subName(captureSub), Topic: topicName(cleanupTopic), AckDeadlineSeconds: 60},
		{Name: subName(deadSub), Topic: topicName(deadTopic), AckDeadlineSeconds: 60},
	}
	for _, s := range subs {
		if _, err := tp.ps.SubscriptionAdminClient.CreateSubscription(ctx, s); err != nil {
			return fmt.Errorf("create subscription %s: %w", s.Name, err)
		}
	}

	// The front door, from the same rules as the load balancer's URL map.
	backends := make(map[string]string)
	for name, f := range tp.fns {
		backends[name] = f.url
	}
	if tp.door, err = newFrontDoor(routes, backends, tp.doorTraces.Tracer("frontdoor")); err != nil {
		return err
	}
	tp.front = httptest.NewServer(tp.door)
	tp.stoppers = append(tp.stoppers, tp.front.Close)

	// The test process's own view of the storage, for orphan and change-log checks.
	conn, err := bigtablebackend.DialEmulator(tp.btAddr)
	if err != nil {
		return err
	}
	if tp.btData, err = bigtablebackend.NewEmulatorClient(ctx, conn, project, instance); err != nil {
		conn.Close()
		return err
	}
	tp.stoppers = append(tp.stoppers, func() { tp.btData.Close() })
	if tp.bt, err = bigtablebackend.Open(ctx, tp.btData, objectsTable, &bigtablebackend.Options{ChangeLogTable: changeLogTable}); err != nil {
		return err
	}
	if tp.gcs, err = gcsbackend.NewEmulatorClient(ctx, tp.gcsURL); err != nil {
		return err
	}
	tp.stoppers = append(tp.stoppers, func() { tp.gcs.Close() })
	if tp.lt, err = gcsbackend.Open(ctx, tp.gcs, bucket, nil); err != nil {
		return err
	}
	return nil
}

// buildFnServer builds cmd/fnserver once.
func (tp *topology) buildFnServer(ctx context.Context) error {
	tp.fnBin = filepath.Join(tp.dir, "fnserver")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tp.fnBin, "./e2e/topology/cmd/fnserver")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./e2e/topology/cmd/fnserver: %v\n%s", err, out)
	}
	return nil
}

// startGCS serves fake GCS on a real loopback listener, behind gcsHook.
func (tp *topology) startGCS() error {
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true, Writer: io.Discard})
	if err != nil {
		return fmt.Errorf("fake GCS: %w", err)
	}
	tp.gcsFake = fake
	fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	inner := fake.HTTPHandler()
	tp.gcsSrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := tp.gcsHook.Load(); h != nil {
			(*h)(w, r, inner)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	tp.gcsURL = tp.gcsSrv.URL
	return nil
}

// createTables creates the objects and change-log tables on the emulator.
func (tp *topology) createTables(ctx context.Context) error {
	conn, err := bigtablebackend.DialEmulator(tp.btAddr)
	if err != nil {
		return err
	}
	admin, err := bigtable.NewAdminClient(ctx, project, instance, option.WithGRPCConn(conn))
	if err != nil {
		conn.Close()
		return err
	}
	defer admin.Close()
	return bigtablebackend.CreateTables(ctx, admin, objectsTable, &bigtablebackend.Options{ChangeLogTable: changeLogTable})
}

// functionEnv is a function process's environment: the deployed configuration, pointed at
// the emulators.
func (tp *topology) functionEnv(f *function) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "STRATA_") || strings.HasPrefix(name, "OTEL_") || name == "FUNCTION_TARGET" || name == "PORT" ||
			name == "BIGTABLE_EMULATOR_HOST" || name == "STORAGE_EMULATOR_HOST" || name == "PUBSUB_EMULATOR_HOST" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"FUNCTION_TARGET="+f.name,
		"PORT="+f.port,
		"STRATA_STORAGE=emulators",
		"STRATA_BIGTABLE_PROJECT="+project,
		"STRATA_BIGTABLE_INSTANCE="+instance,
		"STRATA_BIGTABLE_TABLE="+objectsTable,
		"STRATA_BIGTABLE_CHANGELOG_TABLE="+changeLogTable,
		"STRATA_BIGTABLE_EMULATOR="+tp.btAddr,
		"STRATA_GCS_BUCKET="+bucket,
		"STRATA_GCS_ENDPOINT="+tp.gcsURL,
		"STRATA_CLEANUP_TOPIC="+topicName(cleanupTopic),
		"PUBSUB_EMULATOR_HOST="+tp.psAddr,
		"STRATA_AUTH_ENFORCE=true",
		"STRATA_AUTH_KEYS="+tp.keysEnv,
		// The Pub/Sub emulator pushes without a token and the test calls recover without
		// one: the explicit opt-out of the deployed default, which requires a Google-signed
		// OIDC token (STRATA_PUSH_* / STRATA_SCHEDULER_*).
		"STRATA_INVOKER_AUTH=none",
		"STRATA_GRACE_PERIOD=1s",
		"STRATA_LONG_TERM_SETTLE=1s",
		"STRATA_LOG_LEVEL=info",
		// Spans go to the test's OTLP receiver. The functions sample nothing on their own:
		// a request is traced when the front door (the load balancer's stand-in) sampled
		// it, so the traces show that its decision is followed. The batcher exports every
		// half second instead of every 5, so that tests wait less for spans.
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://"+tp.otlp.addr,
		"OTEL_BSP_SCHEDULE_DELAY=500",
		"STRATA_TRACE_SAMPLE_RATIO=0",
		// The front door samples every request; follow all of them, not only 10 a second.
		"STRATA_TRACE_FOLLOW_RATE=100000",
	)
}

// newDoorTraces is the front door's tracer provider: every request sampled, as the load
// balancer decides, and the spans exported to the OTLP receiver at addr under service.name
// "frontdoor".
func newDoorTraces(ctx context.Context, addr string) (*sdktrace.TracerProvider, error) {
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithInsecure())
	if err != nil {
		return nil, fmt.Errorf("front door span exporter: %w", err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "frontdoor"))),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(500*time.Millisecond)),
	), nil
}

// startFunction starts f's process on its port.
func (tp *topology) startFunction(f *function) error {
	p, err := startProc("function "+f.name, tp.fnBin, nil, tp.functionEnv(f))
	if err != nil {
		return err
	}
	f.mu.Lock()
	if f.p != nil {
		f.earlier = append(f.earlier, f.p.logs.String())
		f.restarts++
	}
	f.p = p
	f.mu.Unlock()
	return nil
}

// restartFunction starts a fresh process for a killed function on the same port and waits
// until it answers.
func (tp *topology) restartFunction(t *testing.T, name string) {
	t.Helper()
	f := tp.fns[name]
	if !f.current().exited() {
		t.Fatalf("restart %s: the process is still running", name)
	}
	if err := tp.startFunction(f); err != nil {
		t.Fatal(err)
	}
	if err := waitHTTP(f.url, f.current(), 60*time.Second); err != nil {
		t.Fatalf("restarted %s: %v\n%s", name, err, f.logs())
	}
}

func topicName(id string) string { return "projects/" + project + "/topics/" + id }
func subName(id string) string   { return "projects/" + project + "/subscriptions/" + id }

// repoRoot is the module root, two levels above this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

// freeAddr returns a free 127.0.0.1 address.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitTCP waits until addr accepts connections, p exits, or limit passes.
func waitTCP(addr string, p *proc, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("the process exited:\n%s", p.logs)
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not accepting connections after %v:\n%s", addr, limit, p.logs)
}

// waitHTTP waits until base answers any HTTP response. A function serves every path, so
// GET / reaches it; its first request also builds its backends.
func waitHTTP(base string, p *proc, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	hc := &http.Client{Timeout: 10 * time.Second}
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("the process exited:\n%s", p.logs)
		}
		res, err := hc.Get(base + "/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusInternalServerError {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not answering after %v:\n%s", base, limit, p.logs)
}

// sdk returns a Go SDK client for the front door, signing with the trusted key.
func (tp *topology) sdk(t testing.TB, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(tp.front.URL, append([]client.Option{client.WithSigningKey(tp.priv, kid)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var scopeSeq atomic.Int64

// scope returns a scope value unique to this run and test, so that tests never share objects.
func scope(t testing.TB) string {
	return fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e9, scopeSeq.Add(1))
}

// objectID is the storage id of key in scope "run"=sc.
func objectID(sc, key string) object.ID {
	return object.NewID(usecase, []object.Scope{{Name: "run", Value: sc}}, key)
}

// bucketObjects lists the long-term objects under scope sc (multipart uploads under
// "~uploads/" excluded), name → generation.
func (tp *topology) bucketObjects(t testing.TB, sc string) map[string]int64 {
	t.Helper()
	out := make(map[string]int64)
	prefix := usecase + "/run." + sc + "/"
	it := tp.gcs.Bucket(bucket).Objects(context.Background(), &storage.Query{Prefix: prefix})
	for {
		a, err := it.Next()
		if err == iterator.Done {
			return out
		}
		if err != nil {
			t.Fatalf("list bucket: %v", err)
		}
		out[a.Name] = a.Generation
	}
}

// uploadsObjects counts the objects under the multipart prefix "~uploads/".
func (tp *topology) uploadsObjects(t testing.TB) int {
	t.Helper()
	n := 0
	it := tp.gcs.Bucket(bucket).Objects(context.Background(), &storage.Query{Prefix: "~uploads/"})
	for {
		_, err := it.Next()
		if err == iterator.Done {
			return n
		}
		if err != nil {
			t.Fatalf("list bucket: %v", err)
		}
		n++
	}
}

// liveRevisions returns the storage paths the rows of keys point to.
func (tp *topology) liveRevisions(t testing.TB, sc string, keys []string) []string {
	t.Helper()
	var live []string
	for _, k := range keys {
		e, err := tp.bt.GetTieredMetadata(context.Background(), objectID(sc, k))
		if err != nil {
			t.Fatalf("read row of %s: %v", k, err)
		}
		if e.Kind == driver.EntryTombstone {
			live = append(live, e.Tombstone.Target.StoragePath())
		}
	}
	slices.Sort(live)
	return live
}

// changeLogRows counts the change-log entries about objects in scope sc, read-only
// (CheckEmptyLog claims entries, which would steal a running request's lease). Tests share
// the topology, so another test's entries, such as a multipart complete deferred for a day,
// must not count.
func (tp *topology) changeLogRows(t testing.TB, sc string) int {
	t.Helper()
	n := 0
	marker := []byte(`"` + usecase + "/run." + sc + "/")
	err := tp.btData.Open(changeLogTable).ReadRows(context.Background(), bigtable.InfiniteRange(""),
		func(r bigtable.Row) bool {
			for _, items := range r {
				for _, it := range items {
					if bytes.Contains(it.Value, marker) {
						n++
						return true
					}
				}
			}
			return true
		})
	if err != nil {
		t.Fatalf("read change log: %v", err)
	}
	return n
}

// backends is the test's view of the storage for tieredtest's checks, limited to scope sc.
func (tp *topology) backends(sc string) tieredtest.Backends {
	return tieredtest.Backends{HV: tp.bt, LT: tp.lt, Log: tp.bt, Objects: func(ctx context.Context) ([]string, error) {
		var names []string
		it := tp.gcs.Bucket(bucket).Objects(ctx, &storage.Query{Prefix: usecase + "/run." + sc + "/"})
		for {
			a, err := it.Next()
			if err == iterator.Done {
				return names, nil
			}
			if err != nil {
				return nil, err
			}
			names = append(names, a.Name)
		}
	}}
}

// waitFor polls cond every interval until it holds or limit passes; it reports the last
// state with describe on failure.
func waitFor(t testing.TB, limit, interval time.Duration, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v; %s", what, limit, describe())
		}
		time.Sleep(interval)
	}
}

// waitSettled waits until the change log is empty and the bucket under sc holds exactly the
// revisions the rows of keys point to, then checks both with tieredtest's checkers.
func (tp *topology) waitSettled(t testing.TB, sc string, keys []string, limit time.Duration) {
	t.Helper()
	var rows int
	var objs, live []string
	waitFor(t, limit, 100*time.Millisecond, "cleanup delivered", func() bool {
		rows = tp.changeLogRows(t, sc)
		objs = sortedKeys(tp.bucketObjects(t, sc))
		live = tp.liveRevisions(t, sc, keys)
		return rows == 0 && slices.Equal(objs, live)
	}, func() string {
		return fmt.Sprintf("change log rows %d, bucket %q, live %q\ncleanup log:\n%s", rows, objs, live, tail(tp.fns["cleanup"].logs(), 6000))
	})
	if tt, ok := t.(*testing.T); ok {
		ids := make([]object.ID, len(keys))
		for i, k := range keys {
			ids[i] = objectID(sc, k)
		}
		tieredtest.CheckNoOrphans(tt, tp.backends(sc), ids)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// logLines returns the lines of logs containing every one of subs.
// logLinesSoon is logLines of f's log, read again until at least want lines match or 10 s
// pass: the functions buffer their INFO lines (logging.NewBuffered writes them out within
// 100 ms), so a request's line shows up shortly after its answer, not with it.
func logLinesSoon(f *function, want int, subs ...string) []string {
	var lines []string
	soon(func() bool { lines = logLines(f.logs(), subs...); return len(lines) >= want })
	return lines
}

// soon re-checks cond until it holds or 10 s pass (see logLinesSoon), and reports the last
// result.
func soon(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func logLines(logs string, subs ...string) []string {
	var out []string
	for line := range strings.SplitSeq(logs, "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok && line != "" {
			out = append(out, line)
		}
	}
	return out
}

// payload returns n random bytes.
func payload(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// getAll reads key through s.
func getAll(ctx context.Context, s *client.Session, key string, opts ...client.GetOption) ([]byte, error) {
	o, err := s.Get(ctx, key, opts...)
	if err != nil {
		return nil, err
	}
	defer o.Body.Close()
	return io.ReadAll(o.Body)
}

// mustEqual fails unless got equals want, without printing megabytes.
func mustEqual(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes, want %d bytes (equal prefix %d)", what, len(got), len(want), commonPrefix(got, want))
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
