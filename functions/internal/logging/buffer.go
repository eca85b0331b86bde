package logging

import (
	"io"
	"sync"
	"time"
)

// DefaultBufferSize and DefaultFlushInterval bound what a Buffer holds: it writes its lines
// out once they reach DefaultBufferSize bytes, and at the latest DefaultFlushInterval after
// the first of them was buffered (when the process gets the CPU to run its timer).
const (
	DefaultBufferSize    = 32 << 10
	DefaultFlushInterval = 100 * time.Millisecond
)

// BufferOptions configures a Buffer. Zero fields mean the defaults.
type BufferOptions struct {
	// Size is the number of buffered bytes that makes the line that reaches it write the
	// buffer out; zero means DefaultBufferSize.
	Size int
	// Interval is how long a line may wait in the buffer before the background timer writes
	// it out; zero means DefaultFlushInterval.
	Interval time.Duration
}

// Buffer is an io.Writer that collects whole log lines in memory and writes them to its
// underlying writer in few large writes instead of one write per line:
//
//   - when the buffered bytes reach Size: the Write that reached it writes the buffer out
//     before returning (so a writer that cannot keep up slows the loggers down instead of
//     growing the buffer);
//   - Interval after the first line of an empty buffer, from a timer's goroutine;
//   - on Flush, which the loggers of this package call after every line at WARNING or
//     above, and on Close.
//
// What a crash loses is therefore only lines below WARNING (the request lines), and only
// those written since the last write-out: less than Size bytes plus one line per request
// still waiting on a write-out in progress, normally at most Interval worth. On Cloud Run
// the CPU may be throttled between requests, so the timer may not run until the next
// request arrives: then lines wait longer, but are still written when the buffer fills, at
// the next timer run, or at Close on shutdown (Cloud Run sends SIGTERM and gives the CPU
// back for the shutdown), so it is only a crash (a kill, an unrecovered panic, an
// out-of-memory exit) that loses them.
//
// Each Write must be one whole line (slog's handlers write each record in one call), so
// that a write-out never splits a line. A Buffer is safe for concurrent use. After Close,
// writes go straight to the underlying writer.
type Buffer struct {
	w        io.Writer
	size     int
	interval time.Duration

	// wmu orders write-outs, so lines reach w in the order they were buffered; it is
	// taken before mu, never after.
	wmu sync.Mutex
	mu  sync.Mutex
	buf []byte
	// spare is the buffer of the previous write-out, reused for the next swap.
	spare  []byte
	timer  *time.Timer
	armed  bool
	closed bool
}

// NewBuffer returns a Buffer writing to w; nil opts means the defaults.
func NewBuffer(w io.Writer, opts *BufferOptions) *Buffer {
	b := &Buffer{w: w, size: DefaultBufferSize, interval: DefaultFlushInterval}
	if opts != nil && opts.Size > 0 {
		b.size = opts.Size
	}
	if opts != nil && opts.Interval > 0 {
		b.interval = opts.Interval
	}
	b.buf = make([]byte, 0, b.size+b.size/4)
	b.timer = time.AfterFunc(time.Hour, b.tick)
	b.timer.Stop()
	return b
}

// Write buffers p, one whole line, and writes the buffer out when it has reached Size.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.wmu.Lock()
		defer b.wmu.Unlock()
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	full := len(b.buf) >= b.size
	if !full && !b.armed {
		b.armed = true
		b.timer.Reset(b.interval)
	}
	b.mu.Unlock()
	if full {
		if err := b.Flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// tick is the timer's write-out.
func (b *Buffer) tick() {
	b.mu.Lock()
	b.armed = false
	b.mu.Unlock()
	_ = b.Flush()
}

// Flush writes every buffered line out to the underlying writer and returns that write's
// error. Lines buffered by other goroutines while it writes wait for the next write-out.
func (b *Buffer) Flush() error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	b.mu.Lock()
	out := b.buf
	b.buf = b.spare[:0]
	if b.buf == nil {
		b.buf = make([]byte, 0, cap(out))
	}
	b.mu.Unlock()
	var err error
	if len(out) > 0 {
		_, err = b.w.Write(out)
	}
	b.mu.Lock()
	b.spare = out[:0]
	b.mu.Unlock()
	return err
}

// Close writes the buffered lines out and stops the timer; later writes go straight to the
// underlying writer. The process calls it on shutdown, after the last request. It does not
// close the underlying writer.
func (b *Buffer) Close() error {
	b.mu.Lock()
	b.closed = true
	b.timer.Stop()
	b.mu.Unlock()
	return b.Flush()
}
