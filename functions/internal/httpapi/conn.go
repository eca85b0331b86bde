package httpapi

// Connection deadlines: how a request's body and response are kept from holding the server
// hostage. Deployed, the functions framework owns the http.Server and sets no timeouts, so
// everything here works per request through http.ResponseController; the local server also
// sets server-level timeouts (functions/cmd/strata), which these per-request deadlines
// override for the routes they guard.

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// Defaults of the connection limits (functions/API.md §14).
const (
	// DefaultReadTimeout is the longest a request body may stall, and the most credit a
	// fast body can bank against a later stall.
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout is the same for a response body.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultMinRate is the rate, in bytes per second, a body must keep on average.
	DefaultMinRate = 1024
)

// writeChunk bounds one write to the connection, so that the write deadline is renewed as
// a large response goes out rather than once for all of it.
const writeChunk = 32 << 10

// pacer keeps one direction of a connection moving. It holds a credit of time, starting
// at window: the time spent blocked on the client (in a body Read, or a response Write)
// is taken from it, every byte moved adds 1/rate seconds, and the credit never exceeds
// window. Before every blocking call the connection deadline is set to now + credit, so
// a client that stalls for window, or that averages less than rate while the server
// waits on it, finds its connection cut. Time the handler spends elsewhere (in the store)
// costs the client nothing.
type pacer struct {
	set    func(time.Time) error
	window time.Duration
	rate   int64
	credit time.Duration
	// off is set once the writer does not support deadlines (a test recorder, HTTP/2 when
	// not supported): the pacer then does nothing.
	off bool
	now func() time.Time
}

func newPacer(set func(time.Time) error, window time.Duration, rate int64) *pacer {
	return &pacer{set: set, window: window, rate: rate, credit: window, off: window <= 0, now: time.Now}
}

// arm sets the deadline for a blocking call starting now, and returns the start.
func (p *pacer) arm() time.Time {
	now := p.now()
	if p.off {
		return now
	}
	if err := p.set(now.Add(max(p.credit, 0))); err != nil {
		p.off = true
	}
	return now
}

// done accounts for a blocking call that started at start and moved n bytes.
func (p *pacer) done(start time.Time, n int) {
	if p.off {
		return
	}
	p.credit -= p.now().Sub(start)
	if p.rate > 0 {
		p.credit += time.Duration(float64(n) / float64(p.rate) * float64(time.Second))
	} else if n > 0 {
		p.credit = p.window // no rate: progress alone renews the window
	}
	p.credit = min(p.credit, p.window)
}

// clear removes the deadline.
func (p *pacer) clear() {
	if !p.off {
		_ = p.set(time.Time{})
	}
}

// isDeadline reports whether err is a connection deadline that passed.
func isDeadline(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// guardedBody is the request body as handlers see it: it paces reads (pacer), counts the
// bytes for the request log, and records whether the body was read to its end. Once it
// has, the read deadline is lifted: the client has sent everything, and a deadline left
// on the connection would make net/http's background read cancel a long request.
type guardedBody struct {
	io.ReadCloser
	p   *pacer
	n   atomic.Int64
	eof atomic.Bool
}

func (b *guardedBody) Read(buf []byte) (int, error) {
	start := b.p.arm()
	n, err := b.ReadCloser.Read(buf)
	b.p.done(start, n)
	b.n.Add(int64(n))
	if err == io.EOF { //nolint:errorlint // io.EOF is returned unwrapped by contract
		b.eof.Store(true)
		b.p.clear()
	}
	return n, err
}

// pacedWriter paces response writes: each write of at most writeChunk bytes must finish
// before the credit runs out.
type pacedWriter struct {
	http.ResponseWriter
	p *pacer
}

func (w *pacedWriter) Write(b []byte) (int, error) {
	total := 0
	for len(b) > 0 {
		chunk := b[:min(len(b), writeChunk)]
		start := w.p.arm()
		n, err := w.ResponseWriter.Write(chunk)
		w.p.done(start, n)
		total += n
		if err != nil {
			return total, err
		}
		b = b[n:]
	}
	return total, nil
}

func (w *pacedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// drainWindow bounds how long an unread request body is drained after an early answer.
const drainWindow = time.Second

// guard wraps a request's body and response writer in pacers, per Options.ReadTimeout,
// WriteTimeout and MinRate. r must already be the handler's own copy of the request: the
// server's copy keeps its original Body, so that net/http still knows what was read.
// finish renews the write deadline for the response's last flush, which net/http does
// after the handler returns, and lifts the read deadline of a body read to its end. A body
// left unread gets a read deadline drainWindow from now instead. net/http sends the answer
// first and then reads up to 256 KiB of the rest before it closes the connection (the
// answer carried "Connection: close"); the short deadline bounds that wait on a client that
// may never send it. Draining what does arrive matters: closing a socket with unread bytes
// resets the connection, and a proxy still writing the body (a load balancer, Cloud Run's
// front end) may then lose the answer and report a 502.
func (s *Server) guard(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, *guardedBody, func()) {
	rc := http.NewResponseController(w)
	rp := newPacer(rc.SetReadDeadline, s.opts.ReadTimeout, s.opts.MinRate)
	wp := newPacer(rc.SetWriteDeadline, s.opts.WriteTimeout, s.opts.MinRate)
	body := &guardedBody{ReadCloser: r.Body, p: rp}
	if r.Body == nil || r.Body == http.NoBody {
		body.ReadCloser = http.NoBody
		body.eof.Store(true)
		rp.clear() // nothing to read: lift the server-level read deadline too
	} else {
		rp.arm()
		r.Body = body
	}
	finish := func() {
		if body.eof.Load() {
			rp.clear()
		} else if !rp.off {
			_ = rp.set(time.Now().Add(drainWindow))
		}
		wp.arm()
	}
	return &pacedWriter{ResponseWriter: w, p: wp}, body, finish
}
