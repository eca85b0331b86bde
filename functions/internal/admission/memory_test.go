package admission

import (
	"errors"
	"testing"
)

func TestMemory_StreamSlots(t *testing.T) {
	const mib = 1 << 20
	peek := int64(1<<20 + 1)
	for _, tc := range []struct {
		name string
		m    Memory
		want int
	}{
		// The README's worked example: a 1 GiB instance serving 80 requests at once.
		// (1024 − 64 − 80×2) MiB / (8 MiB + 1 MiB + 1 B) = 800 MiB / 9 MiB = 88.
		{"1GiB, 80 requests", Memory{1024 * mib, 64 * mib, 80, 2 * mib, 8 * mib, peek}, 88},
		// The e2e test's instance: (256 − 64 − 40×2) / 9 = 112 / 9 = 12.
		{"256MiB, 40 requests", Memory{256 * mib, 64 * mib, 40, 2 * mib, 8 * mib, peek}, 12},
		{"512MiB defaults", Memory{DefaultMemoryLimit, DefaultMemoryReserve, DefaultRequestConcurrency, DefaultSmallRequestPeak, 8 * mib, peek}, 31},
		{"256MiB, 80 requests", Memory{256 * mib, 64 * mib, 80, 2 * mib, 8 * mib, peek}, 3},
		{"smaller chunk, more slots", Memory{1024 * mib, 64 * mib, 80, 2 * mib, 2 * mib, peek}, 266},
		{"small requests take it all", Memory{256 * mib, 64 * mib, 96, 2 * mib, 8 * mib, peek}, 0},
		{"exactly one", Memory{64*mib + 9*mib + 1, 64 * mib, 0, 2 * mib, 8 * mib, peek}, 1},
		{"one byte short of one", Memory{64*mib + 9*mib, 64 * mib, 0, 2 * mib, 8 * mib, peek}, 0},
		{"reserve above limit", Memory{32 * mib, 64 * mib, 1, 2 * mib, 8 * mib, peek}, 0},
		{"zero cost", Memory{1024 * mib, 0, 0, 0, 0, 0}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.StreamSlots(); got != tc.want {
				t.Errorf("StreamSlots() = %d, want %d (%v)", got, tc.want, tc.m)
			}
			if tc.m.StreamSlots() > 0 {
				used := int64(tc.m.StreamSlots())*tc.m.StreamCost() + int64(tc.m.Concurrency)*tc.m.SmallPeak
				if used > tc.m.Budget() {
					t.Errorf("slots and small requests need %d bytes, more than the budget %d", used, tc.m.Budget())
				}
			}
		})
	}
}

func TestMemory_BudgetAndGoMemLimit(t *testing.T) {
	m := Memory{Limit: 256 << 20, Reserve: 64 << 20}
	if got, want := m.Budget(), int64(192<<20); got != want {
		t.Errorf("Budget() = %d, want %d", got, want)
	}
	if got, want := m.GoMemLimit(), int64(224<<20); got != want {
		t.Errorf("GoMemLimit() = %d, want %d", got, want)
	}
	if got := (Memory{Limit: 1, Reserve: 10}).Budget(); got != 0 {
		t.Errorf("Budget() with reserve above limit = %d, want 0", got)
	}
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "268435456", want: 256 << 20},
		{in: "256Mi", want: 256 << 20},
		{in: "1Gi", want: 1 << 30},
		{in: "64Ki", want: 64 << 10},
		{in: "512M", want: 512e6},
		{in: "2G", want: 2e9},
		{in: "1K", want: 1000},
		{in: "0", want: 0},
		{in: "", bad: true},
		{in: "Mi", bad: true},
		{in: "-1Mi", bad: true},
		{in: "+1Mi", bad: true},
		{in: "1.5Gi", bad: true},
		{in: "1GiB", bad: true},
		{in: "1 Gi", bad: true},
		{in: "9999999999999Gi", bad: true},
	} {
		got, err := ParseBytes(tc.in)
		switch {
		case tc.bad && err == nil:
			t.Errorf("ParseBytes(%q) = %d, want an error", tc.in, got)
		case !tc.bad && (err != nil || got != tc.want):
			t.Errorf("ParseBytes(%q) = %d, %v, want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestBudget_ReserveStream_SlotsCapStreams(t *testing.T) {
	b := NewBudget(100).WithStreams(2, 10)
	r1, err := b.ReserveStream(1)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := b.ReserveStream(1)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Used(); got != 20 {
		t.Errorf("Used() = %d after two streams of cost 10, want 20", got)
	}
	if _, err := b.ReserveStream(1); !errors.Is(err, ErrStreamSlots) || !errors.Is(err, ErrMemoryBudget) {
		t.Fatalf("third stream: err = %v, want ErrStreamSlots (wrapping ErrMemoryBudget)", err)
	}
	if got := b.Streams(); got != 2 {
		t.Errorf("Streams() = %d after a refused stream, want 2", got)
	}
	r1()
	r1() // harmless
	if got := b.Streams(); got != 1 {
		t.Errorf("Streams() = %d after one release (twice), want 1", got)
	}
	r3, err := b.ReserveStream(1)
	if err != nil {
		t.Fatalf("stream after a release: %v", err)
	}
	r2()
	r3()
	if b.Used() != 0 || b.Streams() != 0 {
		t.Errorf("after every release: Used() = %d, Streams() = %d, want 0, 0", b.Used(), b.Streams())
	}
}

func TestBudget_ReserveStream_BytesShortFreesTheSlot(t *testing.T) {
	b := NewBudget(15).WithStreams(5, 10)
	rel, err := b.ReserveStream(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReserveStream(0); !errors.Is(err, ErrMemoryBudget) || errors.Is(err, ErrStreamSlots) {
		t.Fatalf("stream without the bytes: err = %v, want ErrMemoryBudget only", err)
	}
	if got := b.Streams(); got != 1 {
		t.Errorf("Streams() = %d after a stream refused for bytes, want 1 (its slot given back)", got)
	}
	rel()
	// A stream whose own buffers exceed the cost reserves them.
	if _, err := b.ReserveStream(16); !errors.Is(err, ErrMemoryBudget) {
		t.Errorf("stream of 16 bytes in a budget of 15: err = %v, want ErrMemoryBudget", err)
	}
}

func TestBudget_ReserveStream_NoCapWithoutWithStreams(t *testing.T) {
	b := NewBudget(1 << 30)
	for i := range 100 {
		if _, err := b.ReserveStream(1 << 20); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	if got := b.StreamSlots(); got != -1 {
		t.Errorf("StreamSlots() = %d, want -1 (no cap)", got)
	}
	if _, err := NewBudget(100).WithStreams(0, 1).ReserveStream(0); !errors.Is(err, ErrStreamSlots) {
		t.Errorf("zero slots: err = %v, want ErrStreamSlots", err)
	}
	var nilBudget *Budget
	if _, err := nilBudget.ReserveStream(1 << 40); err != nil {
		t.Errorf("nil budget: %v", err)
	}
}
