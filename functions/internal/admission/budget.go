package admission

import (
	"errors"
	"sync/atomic"
)

// DefaultMemoryBudget is the default process-wide budget for buffered request payloads
// (STRATA_MEMORY_BUDGET): 256 MiB.
const DefaultMemoryBudget = 256 << 20

// ErrMemoryBudget means a buffer could not be reserved because the process-wide budget is
// spent. The HTTP layer answers 503 with Retry-After; it never waits, so a flood of slow
// uploads cannot queue up behind memory.
var ErrMemoryBudget = errors.New("memory budget exhausted")

// Budget is a process-wide byte budget for payload buffers: the request bytes a server holds
// in memory (an upload staged before it takes a concurrency permit, the store's routing
// peek, a multipart complete body). Reservations never wait: Reserve either takes the bytes
// at once or fails. A nil *Budget is unlimited. It is safe for concurrent use.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget returns a budget of limit bytes (zero or less: nothing can be reserved).
func NewBudget(limit int64) *Budget { return &Budget{limit: max(limit, 0)} }

// Reserve takes n bytes from the budget, or returns ErrMemoryBudget when fewer than n are
// left. release gives them back; calling it more than once is harmless.
func (b *Budget) Reserve(n int64) (release func(), err error) {
	if b == nil || n <= 0 {
		return func() {}, nil
	}
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return nil, ErrMemoryBudget
	}
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			b.used.Add(-n)
		}
	}, nil
}

// Used returns the bytes reserved now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Limit returns the budget in bytes (-1 for a nil, unlimited Budget).
func (b *Budget) Limit() int64 {
	if b == nil {
		return -1
	}
	return b.limit
}
