package admission

import (
	"errors"
	"sync/atomic"
)

// DefaultMemoryBudget is a payload budget for callers without a memory model: 256 MiB.
// Strata's configuration derives its budget from the instance's memory instead
// (Memory.Budget, unless STRATA_MEMORY_BUDGET is set).
const DefaultMemoryBudget = 256 << 20

// ErrMemoryBudget means a buffer could not be reserved because the process-wide budget is
// spent. The HTTP layer answers 503 with Retry-After; it never waits, so a flood of slow
// uploads cannot queue up behind memory.
var ErrMemoryBudget = errors.New("memory budget exhausted")

// Budget is a process-wide byte budget for payload buffers: the request bytes a server holds
// in memory (an upload staged before it takes a concurrency permit, the store's routing
// peek, a multipart complete body). Reservations never wait: Reserve either takes the bytes
// at once or fails. A nil *Budget is unlimited. It is safe for concurrent use.
//
// Streamed uploads (a large put, a part upload) hold their buffers for as long as the
// client sends, so they also take one of a fixed number of stream slots (WithStreams);
// the slots keep a share of the budget free for small requests however many large uploads
// arrive. See Memory for how the budget and the slots follow from the instance's memory.
type Budget struct {
	limit int64
	used  atomic.Int64

	// slots caps concurrent streams (negative: no cap); streams counts them; streamCost is
	// the least each one reserves.
	slots      int64
	streams    atomic.Int64
	streamCost int64
}

// NewBudget returns a budget of limit bytes (zero or less: nothing can be reserved), with
// no cap on streams until WithStreams sets one.
func NewBudget(limit int64) *Budget { return &Budget{limit: max(limit, 0), slots: -1} }

// WithStreams caps streamed uploads at slots at once (zero or less: none is admitted), each
// reserving at least cost bytes of the budget, and returns b. Call it before first use.
func (b *Budget) WithStreams(slots int, cost int64) *Budget {
	b.slots, b.streamCost = int64(max(slots, 0)), max(cost, 0)
	return b
}

// ReserveStream takes a stream slot and max(n, the stream cost) bytes for a streamed
// upload whose own buffers are n bytes. It never waits: with every slot taken it returns
// ErrStreamSlots, and without the bytes ErrMemoryBudget (ErrStreamSlots wraps
// ErrMemoryBudget, so both answer 503). release gives both back; calling it more than once
// is harmless.
func (b *Budget) ReserveStream(n int64) (release func(), err error) {
	if b == nil {
		return func() {}, nil
	}
	if b.slots >= 0 {
		if b.streams.Add(1) > b.slots {
			b.streams.Add(-1)
			return nil, ErrStreamSlots
		}
	}
	freeSlot := func() {
		if b.slots >= 0 {
			b.streams.Add(-1)
		}
	}
	bytes, err := b.Reserve(max(n, b.streamCost))
	if err != nil {
		freeSlot()
		return nil, err
	}
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			bytes()
			freeSlot()
		}
	}, nil
}

// Streams returns the stream slots taken now.
func (b *Budget) Streams() int {
	if b == nil {
		return 0
	}
	return int(b.streams.Load())
}

// StreamSlots returns the cap on concurrent streams (-1: none).
func (b *Budget) StreamSlots() int {
	if b == nil {
		return -1
	}
	return int(b.slots)
}

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
