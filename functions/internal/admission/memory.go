package admission

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Defaults of the memory model's inputs (README "Capacity and cost"). Each is a setting or
// a constant the operator can see; none is measured at run time.
const (
	// DefaultMemoryLimit is the instance memory assumed when STRATA_MEMORY_LIMIT is unset
	// and no cgroup limit is readable: 512 MiB, the smallest Cloud Run memory that allows
	// a whole vCPU, which a request concurrency above 1 needs.
	DefaultMemoryLimit = 512 << 20
	// DefaultMemoryReserve is the baseline the model keeps out of the payload budget
	// (STRATA_MEMORY_RESERVE): the Go runtime, the binary, the Bigtable, GCS and Pub/Sub
	// clients, connection buffers and the garbage collector's headroom. An idle strata
	// serve on the emulators holds about 25-35 MiB resident; 64 MiB leaves room for that
	// and for the collector running behind.
	DefaultMemoryReserve = 64 << 20
	// DefaultRequestConcurrency is the number of requests one instance serves at once
	// (STRATA_REQUEST_CONCURRENCY): Cloud Run's default container concurrency, 80. It
	// should equal the function's max_instance_request_concurrency.
	DefaultRequestConcurrency = 80
	// DefaultSmallRequestPeak is the memory one small request may hold at its peak: a body
	// of up to 1 MiB staged in a buffer that grows in 64 KiB steps (append growth may
	// leave it up to a quarter larger) plus the copy the Bigtable mutation or read makes.
	// It is an estimate from the code path, not a measurement: 2 MiB.
	DefaultSmallRequestPeak = 2 << 20
)

// ErrStreamSlots means a streamed upload found every stream slot taken. The HTTP layer
// answers it like ErrMemoryBudget: 503 with Retry-After, at once, nothing stored.
var ErrStreamSlots = fmt.Errorf("%w: every large-upload slot is taken", ErrMemoryBudget)

// Memory is the per-instance memory model: what one instance has, what it keeps for
// itself and for small requests, and what one streamed (large) upload holds. From it come
// the payload budget and the number of large uploads admitted at once:
//
//	budget = Limit − Reserve
//	slots  = floor((Limit − Reserve − Concurrency × SmallPeak) / (Chunk + Peek))
//
// A streamed upload holds the store's routing peek (Peek, the small-object threshold plus
// one byte, read to tell small from large) and the long-term writer's chunk buffer (Chunk,
// gcsbackend.DefaultChunkSize unless configured), for as long as it runs. Small requests
// get the rest: with every slot taken, Concurrency × SmallPeak bytes are still free.
type Memory struct {
	// Limit is the instance's memory in bytes (STRATA_MEMORY_LIMIT, else the cgroup
	// limit, else DefaultMemoryLimit).
	Limit int64
	// Reserve is the baseline kept out of the payload budget (STRATA_MEMORY_RESERVE).
	Reserve int64
	// Concurrency is the number of requests the instance serves at once
	// (STRATA_REQUEST_CONCURRENCY).
	Concurrency int
	// SmallPeak is the memory one small request may hold (DefaultSmallRequestPeak).
	SmallPeak int64
	// Chunk is the long-term writer's buffer per upload (STRATA_GCS_CHUNK_SIZE).
	Chunk int64
	// Peek is the store's routing peek per upload (tiered.Threshold + 1).
	Peek int64
}

// Budget returns the payload budget in bytes: Limit − Reserve (never negative).
func (m Memory) Budget() int64 { return max(m.Limit-m.Reserve, 0) }

// StreamCost returns the bytes one streamed upload holds: Chunk + Peek.
func (m Memory) StreamCost() int64 { return m.Chunk + m.Peek }

// StreamSlots returns how many streamed uploads fit at once:
// floor((Limit − Reserve − Concurrency × SmallPeak) / (Chunk + Peek)), at least zero.
func (m Memory) StreamSlots() int {
	free := m.Budget() - int64(m.Concurrency)*m.SmallPeak
	cost := m.StreamCost()
	if free <= 0 || cost <= 0 {
		return 0
	}
	return int(min(free/cost, math.MaxInt32))
}

// GoMemLimit returns the Go runtime's soft memory limit for the instance: Limit −
// Reserve/2. The model keeps live payloads under Limit − Reserve; without a soft limit the
// collector lets the heap grow to twice the live bytes before it runs (GOGC=100), which on
// a small instance is past Limit.
func (m Memory) GoMemLimit() int64 { return max(m.Limit-m.Reserve/2, 0) }

// String shows the formula with its inputs, for the start-up log and error messages.
func (m Memory) String() string {
	return fmt.Sprintf("slots = floor((limit %s - reserve %s - concurrency %d x small peak %s) / (chunk %s + peek %s)) = %d",
		FormatBytes(m.Limit), FormatBytes(m.Reserve), m.Concurrency, FormatBytes(m.SmallPeak),
		FormatBytes(m.Chunk), FormatBytes(m.Peek), m.StreamSlots())
}

// FormatBytes writes n as MiB when it is a whole number of them, else as bytes.
func FormatBytes(n int64) string {
	if n != 0 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + "MiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// ParseBytes parses a memory size as Cloud Run and Kubernetes write it: a whole number of
// bytes, or one with a binary suffix (Ki, Mi, Gi) or a decimal one (K, M, G: powers of
// 1000, as Kubernetes reads them). "512Mi" is 536870912; "1G" is 1000000000.
func ParseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}}
	mult := int64(1)
	num := s
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || num == "" || num[0] == '+' {
		return 0, fmt.Errorf("%q is not a size such as 268435456, 256Mi or 1Gi", s)
	}
	if n > math.MaxInt64/mult {
		return 0, errors.New("size too large")
	}
	return n * mult, nil
}
