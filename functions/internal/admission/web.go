package admission

import "sync/atomic"

// DefaultMaxRequests is objectstore's default http.max_requests.
const DefaultMaxRequests = 10000

// WebLimiter caps in-flight HTTP requests (objectstore's http.max_requests); a request over
// the cap gets a 503 with an empty body. Internal endpoints (/health, /ready, /keda) bypass
// it. It is safe for concurrent use.
type WebLimiter struct {
	limit    int64
	inFlight atomic.Int64
}

// NewWebLimiter returns a limiter admitting at most limit concurrent requests (zero or less
// refuses all).
func NewWebLimiter(limit int) *WebLimiter { return &WebLimiter{limit: int64(max(limit, 0))} }

// TryEnter admits a request when fewer than the limit are in flight. On success release must
// be called when the request ends; calling it more than once is harmless.
func (w *WebLimiter) TryEnter() (release func(), ok bool) {
	if w.inFlight.Add(1) > w.limit {
		w.inFlight.Add(-1)
		return nil, false
	}
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			w.inFlight.Add(-1)
		}
	}, true
}

// InFlight returns the number of admitted requests not yet released.
func (w *WebLimiter) InFlight() int { return int(w.inFlight.Load()) }

// Limit returns the configured cap.
func (w *WebLimiter) Limit() int { return int(w.limit) }
