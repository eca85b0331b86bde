// Package topology is the end-to-end suite of the deployed topology, rebuilt on one machine
// from the real emulator binaries (ARCHITECTURE.md §5):
//
//   - the Bigtable emulator (cbtemulator) and the Pub/Sub emulator, started as child
//     processes, and fake GCS (fake-gcs-server) in the test process on a real listener;
//   - one process per function of the route table (cmd/fnserver with FUNCTION_TARGET and
//     PORT, as the buildpack's main serves a deployed function), with STRATA_STORAGE=emulators,
//     cleanup dispatched through the Pub/Sub emulator and auth enforced;
//   - a front door built from terraform/modules/frontend/routes.json, the same rules the load
//     balancer's URL map is generated from: path prefix × method, by priority, to the
//     function's process, unmatched requests to the default function, the raw path passed
//     on byte for byte;
//   - a Pub/Sub push subscription (with a dead-letter policy) whose endpoint is the cleanup
//     process, and a pull subscription on the same topic that captures tasks for the
//     redelivery test;
//   - an OTLP/gRPC trace receiver on 127.0.0.1 (otlp_test.go), standing in for a collector:
//     every function process exports its spans to it (OTEL_EXPORTER_OTLP_ENDPOINT), and so
//     does the front door.
//
// The front door also traces as the load balancer does: a server span per request, under
// service.name "frontdoor", sampled always, whose context goes on to the function in
// traceparent and X-Cloud-Trace-Context. The functions run with STRATA_TRACE_SAMPLE_RATIO=0,
// so a request is traced exactly when the front door sampled it: they follow the caller's
// decision. trace_test.go reads objects through the front door and checks that one trace
// joins the front door's span, the function's span and its backend-call spans (Bigtable,
// and GCS for a large object), collected from separate processes, and that the function's
// request log line names the same trace and the function's span.
//
// The recover function is invoked directly, as Cloud Scheduler would. Neither the Pub/Sub
// emulator's push nor the test carries the Google-signed OIDC token that deployed cleanup
// and recover require, so the functions run with STRATA_INVOKER_AUTH=none, the explicit
// opt-out (functions/API.md §13); the token check itself is tested in
// functions/internal/httpapi and functions/internal/invoker.
//
// cutover_test.go rehearses a cutover from objectstore and back: every golden fixture
// (tiered/backendtest/golden) is written in objectstore's exact stored form straight into the
// emulator Bigtable and fake GCS and read through the front door, and objects written through
// the front door (small, large, multipart) are read back from storage with objectstore's
// reading rules. Those rules are osreader_test.go, an independent reader that imports nothing
// of Strata and is checked first against every reading objectstore recorded in the fixtures.
//
// deployed_test.go holds a suite that runs against a deployed load balancer when
// STRATA_E2E_URL, STRATA_E2E_KEY_FILE and STRATA_E2E_KID are set, and against the local
// front door always, so that its code runs on every CI run.
//
// The package has no non-test code beyond this file and cmd/fnserver.
package topology
