package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/stratastore/strata/functions/internal/admission"
	"github.com/stratastore/strata/functions/internal/auth"
	"github.com/stratastore/strata/functions/internal/invoker"
	"github.com/stratastore/strata/functions/wire"
	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/object"
)

// httpError is an error with its complete HTTP answer: status, body and extra headers.
// Handlers build one for client errors they detect themselves; errorResponse builds one for
// everything else.
type httpError struct {
	status int
	// detail is the JSON "detail", or the whole body when text is set. Empty means an empty
	// body.
	detail string
	causes []string
	text   bool
	header []header
}

func (e *httpError) Error() string {
	if e.detail == "" {
		return http.StatusText(e.status)
	}
	return e.detail
}

// clientStreamError reports that reading the request body failed: the client broke the
// stream, or sent fewer bytes than its Content-Length. It deliberately does not unwrap, so
// that no reader downstream mistakes it for a clean io.EOF or io.ErrUnexpectedEOF.
type clientStreamError struct {
	msg string
	// tooSlow says the connection's read deadline cut the body (conn.go): 408.
	tooSlow bool
}

func (e *clientStreamError) Error() string { return "error reading client stream: " + e.msg }

// Sentinel answers of the router and the pipeline.
var (
	errRouteNotFound = &httpError{status: http.StatusNotFound}
	errOverloaded    = &httpError{status: http.StatusServiceUnavailable}
	errKillswitch    = &httpError{status: http.StatusForbidden, text: true, detail: "Object access is disabled for this scope through killswitches"}
	errRateLimited   = &httpError{status: http.StatusTooManyRequests, text: true, detail: "Object access is rate limited"}
	errBudget        = &httpError{status: http.StatusServiceUnavailable, detail: "service error: memory budget exhausted", header: []header{{Name: "retry-after", Value: "1"}}}
	errStreamSlots   = &httpError{status: http.StatusServiceUnavailable, detail: "service error: too many large uploads at once", header: []header{{Name: "retry-after", Value: "1"}}}
)

// clientError is a 400 "client error: ..." JSON answer without causes.
func clientError(msg string) *httpError {
	return &httpError{status: http.StatusBadRequest, detail: "client error: " + msg}
}

// errorResponse maps any error to its HTTP answer, per functions/API.md §11.3. It is the
// only place where an error becomes a status: the single-object handlers, batch parts and
// the streamed multipart complete all go through it.
func errorResponse(err error) *httpError {
	var (
		he  *httpError
		ae  *auth.Error
		cse *clientStreamError
		re  *object.RangeError
		ie  *invoker.Error
	)
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &ae):
		return &httpError{status: ae.Status, detail: ae.Detail, causes: ae.Causes}
	case errors.As(err, &ie):
		// The reason goes to the request log only.
		if ie.Status == http.StatusUnauthorized {
			return &httpError{status: ie.Status, detail: "invoker not authenticated", header: []header{{Name: "www-authenticate", Value: "Bearer"}}}
		}
		return &httpError{status: ie.Status, detail: "invoker not authorized"}
	case errors.As(err, &cse) && cse.tooSlow:
		return &httpError{status: http.StatusRequestTimeout, detail: "client error: request body too slow", causes: []string{cse.Error()}}
	case errors.As(err, &cse):
		return &httpError{status: http.StatusBadRequest, detail: "service error: " + cse.Error(), causes: []string{cse.Error(), cse.msg}}
	case errors.Is(err, admission.ErrAtCapacity):
		return &httpError{status: http.StatusTooManyRequests, detail: "service error: concurrency limit reached"}
	case errors.As(err, &re):
		return &httpError{status: http.StatusRequestedRangeNotSatisfiable, header: []header{
			{Name: hdrContentRange, Value: "bytes */" + strconv.FormatInt(re.Total, 10)},
			{Name: hdrAcceptRanges, Value: "bytes"},
		}}
	case errors.Is(err, object.ErrNotFound):
		return &httpError{status: http.StatusNotFound}
	case errors.Is(err, object.ErrInvalidArgument):
		return &httpError{status: http.StatusBadRequest, detail: "client error: " + storeMessage(err)}
	case errors.Is(err, object.ErrTooLarge):
		return &httpError{status: http.StatusRequestEntityTooLarge, detail: "client error: " + storeMessage(err)}
	case errors.Is(err, object.ErrUnimplemented):
		return &httpError{status: http.StatusNotImplemented, detail: "service error: not implemented"}
	case errors.Is(err, object.ErrUnavailable):
		return &httpError{status: http.StatusServiceUnavailable, detail: "service error: backend unavailable"}
	case errors.Is(err, context.DeadlineExceeded):
		return &httpError{status: http.StatusGatewayTimeout, detail: "service error: deadline exceeded"}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this, but the request log shows it.
		return &httpError{status: statusClientClosed, detail: "service error: request cancelled"}
	}
	// Backend messages can name buckets, tables and projects: they go to the log, not to
	// the client.
	return &httpError{status: http.StatusInternalServerError, detail: "service error: internal error"}
}

// statusClientClosed is the conventional status for a request the client abandoned.
const statusClientClosed = wire.StatusClientClosedRequest

// storeMessage is a store error's message without the "tiered: op path:" wrapping.
func storeMessage(err error) string {
	var te *tiered.Error
	if errors.As(err, &te) {
		return te.Err.Error()
	}
	return err.Error()
}

// marshalJSON encodes v as serde_json does: compact, without HTML escaping and without a
// trailing newline.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// errorJSON renders objectstore's JSON error body, causes omitted when empty.
func errorJSON(detail string, causes []string) []byte {
	b, _ := marshalJSON(struct {
		Detail string   `json:"detail"`
		Causes []string `json:"causes,omitempty"`
	}{detail, causes})
	return b
}

// body returns the error's body and content type ("" for an empty body).
func (e *httpError) body() ([]byte, string) {
	switch {
	case e.detail == "":
		return nil, ""
	case e.text:
		return []byte(e.detail), "text/plain; charset=utf-8"
	default:
		return errorJSON(e.detail, e.causes), "application/json"
	}
}

// writeError answers a request with the error's status and body, and records the error for
// the request log.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := errorResponse(err)
	if info := infoFrom(r.Context()); info != nil {
		info.err = err
	}
	h := w.Header()
	for _, kv := range e.header {
		h[kv.Name] = []string{kv.Value}
	}
	b, ct := e.body()
	if ct != "" {
		setContentType(h, ct)
	}
	w.WriteHeader(e.status)
	if len(b) > 0 {
		_, _ = w.Write(b)
	}
}

// setContentType sets content-type under its lowercase name, and blanks the canonical one
// so that net/http neither sniffs nor duplicates it.
func setContentType(h http.Header, v string) {
	h["Content-Type"] = nil
	h[hdrContentType] = []string{v}
}

// writeJSON answers with a compact JSON document and no trailing newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		panic(err) // only our own response types are marshalled
	}
	setContentType(w.Header(), "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
