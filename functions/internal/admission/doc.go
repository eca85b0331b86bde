// Package admission decides whether a request may proceed before it reaches storage:
// killswitches, rate limits, and concurrency limits, configured from JSON in environment
// variables. It also keeps the counters the /keda endpoint reports. The HTTP layer calls it;
// it knows nothing about routes.
//
// # Order in a request
//
// objectstore checks these in a fixed order, and the HTTP layer is expected to keep it:
//
//  1. WebLimiter (http.max_requests): too many in-flight HTTP requests is a 503 with an empty
//     body. Internal endpoints are exempt.
//  2. Authentication (package auth).
//  3. After the path is parsed: Killswitches.Blocked is a 403 (text/plain), then Limiter.Admit
//     is a 429 (text/plain). Admit checks bandwidth first, then throughput. A batch checks
//     Admit once for the request and once more per operation.
//  4. Around each backend operation: Concurrency.Acquire (AcquireBulk for batch operations);
//     ErrAtCapacity is a 429 JSON "service error: concurrency limit reached". The permit is
//     held only until the backend returns, not while a response body streams.
//
// # Killswitches
//
// STRATA_KILLSWITCHES is a JSON list of rules. A rule matches when every condition it sets
// matches: usecase (exact), scopes (each listed name present in the request with that value;
// other request scopes are ignored) and service (a glob against the x-downstream-service
// header after Kubernetes pod suffixes are stripped; a rule with a service never matches a
// request without the header). A rule with no conditions matches everything. A request is
// blocked when any rule matches.
//
// # Rate limits
//
// STRATA_RATE_LIMITS holds "throughput" and "bandwidth" sections (the keys of objectstore's
// rate_limits YAML). Limits are per process, like objectstore's per instance: on Cloud Run
// each instance enforces its own.
//
// Throughput uses token buckets: capacity rps+burst, full at creation, refilled continuously
// at rps tokens per second (the refill is applied only once it adds at least one whole token),
// one token per request. There is a global bucket (global_rps), one per usecase
// (usecase_pct of global_rps), one per full scope list across usecases (scope_pct), and one
// per rule (rps, or pct of global_rps, the smaller if both). A request takes a token from each
// bucket in that order and is refused at the first empty one; tokens already taken are not
// given back, as in objectstore.
//
// Bandwidth uses the generic cell rate algorithm on bytes, debt-based: each bucket (global,
// per usecase, per scope list) keeps a theoretical arrival time (TAT); streaming n bytes moves
// it n/rate seconds past max(TAT, now); a request is refused when some bucket's TAT is more
// than burst_ms ahead of now. Bytes are charged as they stream (CountingReader,
// CountingWriter, ChargeBytes), so the request that creates the debt is itself admitted and
// the next one waits for the debt to drain. With report_only, the debt is kept but requests
// are never refused.
//
// Buckets per usecase and per scope list live in maps. An entry in its initial state (a full
// token bucket, a TAT not after now) behaves exactly like a missing one, so such entries are
// dropped when a map grows; memory is bounded by the keys active within the refill time.
//
// All time comes from the clock given to NewLimiter, so tests are deterministic.
//
// # Concurrency
//
// Concurrency mirrors objectstore's service limiter: max task permits; Acquire takes one at
// once if free, otherwise takes one of queue waiting tickets (none free: ErrAtCapacity at
// once) and waits up to timeout for a permit, in FIFO order. AcquireBulk, for batch
// operations, first takes one of ceil(max·pct/100) bulk permits and then a task permit, both
// under one timeout, and never uses the queue, so batches cannot crowd normal requests out of
// it. A limit of zero refuses everything.
//
// # Tenant share
//
// With WithTenantShare (STRATA_TENANT_SHARE, default 0.5), task permits are also counted
// per tenant (the HTTP layer's usecase and first scope, "attachments/org=1"). A tenant may
// hold any number of permits while nobody else waits (work-conserving), but while a tenant
// below its share, ceil(max·share), is waiting, a tenant at or above its share gets no new
// permit and every freed permit goes to the waiter below its share. Such a waiter needs no
// queue ticket when some other tenant holds more than its share: those permits come back to
// it first. Permits are never revoked, so how fast they come back depends on how long each
// is held; the HTTP layer keeps that short (no permit while a small body trickles in,
// connection deadlines for large ones).
//
// # Memory budget
//
// Budget is a process-wide byte budget for buffered request payloads
// (STRATA_MEMORY_BUDGET). Reserve never waits: when the bytes are not there, the request is
// refused (503) rather than queued, so memory stays bounded however many clients connect.
//
// Streamed uploads (large puts, part uploads) also take a stream slot (ReserveStream) and
// reserve what they hold for their whole run: the store's routing peek plus the long-term
// writer's chunk buffer. The number of slots and the budget follow from the instance's
// memory (Memory; README "Capacity and cost"):
//
//	budget = memory_limit − baseline_reserve
//	slots  = floor((memory_limit − baseline_reserve − request_concurrency × small_request_peak)
//	               / (chunk + peek))
//
// so that with every slot taken the small requests still have their share. A stream that
// finds no slot is refused at once (503 with Retry-After) before it reads any of the body.
package admission
