package wire

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Batch limits (functions/API.md §8.1, §14). The server refuses what exceeds them; the SDK splits and
// checks ahead of sending so that it never does.
const (
	// MaxBatchOps is the number of operations one batch request may carry.
	MaxBatchOps = 1000
	// MaxBatchInsert is the largest insert payload (after compression) in a batch.
	MaxBatchInsert = 1 << 20
	// MaxBatchBody is the largest batch request body.
	MaxBatchBody = 1 << 30
)

// Batch operation kinds, as x-sn-batch-operation-kind names them.
const (
	// KindGet reads an object.
	KindGet = "get"
	// KindHead reads an object's metadata.
	KindHead = "head"
	// KindInsert stores an object.
	KindInsert = "insert"
	// KindDelete deletes an object.
	KindDelete = "delete"
)

// KindPermission returns the permission an operation of kind needs, and false when kind
// (which must be lower case) is not a batch operation kind.
func KindPermission(kind string) (Permission, bool) {
	switch kind {
	case KindGet, KindHead:
		return PermRead, true
	case KindInsert:
		return PermWrite, true
	case KindDelete:
		return PermDelete, true
	}
	return "", false
}

// StatusClientClosedRequest is the status of an operation whose client went away (nginx's
// 499), which objectstore also reports.
const StatusClientClosedRequest = 499

// StatusLine renders a result's status the way hyper names it: "201 Created",
// "413 Payload Too Large", "499 Client Closed Request".
func StatusLine(code int) string {
	reason := http.StatusText(code)
	switch code {
	case http.StatusRequestEntityTooLarge:
		reason = "Payload Too Large"
	case StatusClientClosedRequest:
		reason = "Client Closed Request"
	}
	return strconv.Itoa(code) + " " + reason
}

// EncodeBatchKey percent-encodes every byte of key that is not ASCII alphanumeric, as
// objectstore does in x-sn-batch-operation-key.
func EncodeBatchKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// Errors of PercentDecode.
var (
	// ErrPercentEncoding is a '%' not followed by two hex digits.
	ErrPercentEncoding = errors.New("wire: invalid percent-encoding")
	// ErrInvalidUTF8 is a decoded value that is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("wire: invalid UTF-8")
)

// PercentDecode decodes the %XX escapes of s exactly once; '+' stays '+'. It is how the
// server reads path segments and x-sn-batch-operation-key (the inverse of EncodeBatchKey).
// A malformed escape is ErrPercentEncoding; a result that is not valid UTF-8 is
// ErrInvalidUTF8.
func PercentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		if !utf8.ValidString(s) {
			return "", ErrInvalidUTF8
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
				return "", ErrPercentEncoding
			}
			c = byte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		}
		b = append(b, c)
	}
	if !utf8.Valid(b) {
		return "", ErrInvalidUTF8
	}
	return string(b), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// ErrBatchContentType is a batch request or response whose content type is not
// multipart/form-data with a boundary.
var ErrBatchContentType = errors.New("wire: batch content type is not multipart/form-data with a boundary")

// ParseBatchContentType returns the boundary of a batch request's or response's content
// type, or ErrBatchContentType.
func ParseBatchContentType(contentType string) (string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return "", ErrBatchContentType
	}
	return params["boundary"], nil
}

// Op is one operation of a batch request, as the SDK writes it.
type Op struct {
	// Kind is KindGet, KindHead, KindInsert or KindDelete.
	Kind string
	// Key is the object's key, unencoded. An insert without a key sends no key header and
	// the server generates one.
	Key string
	// Header holds an insert's metadata headers (canonical names).
	Header http.Header
}

// RequestWriter writes a batch request. Close it to write the closing delimiter.
type RequestWriter struct {
	mw *multipart.Writer
}

// NewRequestWriter returns a writer of a batch request body to w, with a random boundary.
func NewRequestWriter(w io.Writer) *RequestWriter {
	return &RequestWriter{mw: multipart.NewWriter(w)}
}

// ContentType returns the request's content type, boundary included.
func (w *RequestWriter) ContentType() string { return w.mw.FormDataContentType() }

// WriteOp writes op as one part, with payload as its body (an insert's, after compression).
// mime/multipart writes the part headers sorted by name.
func (w *RequestWriter) WriteOp(op Op, payload []byte) error {
	h := textproto.MIMEHeader{}
	if op.Key != "" || op.Kind != KindInsert {
		h.Set(HeaderBatchKey, EncodeBatchKey(op.Key))
	}
	h.Set(HeaderBatchKind, op.Kind)
	h.Set("Content-Disposition", `form-data; name="part"`)
	for k, vs := range op.Header {
		h[k] = vs
	}
	pw, err := w.mw.CreatePart(h)
	if err != nil {
		return err
	}
	_, err = pw.Write(payload)
	return err
}

// Close writes the closing delimiter.
func (w *RequestWriter) Close() error { return w.mw.Close() }

// ErrBatchBodyTooLarge is a read of a batch request past MaxBatchBody bytes. Its text is
// part of what the server answers when the limit trips inside a part's headers.
var ErrBatchBodyTooLarge = errors.New("batch body too large")

// ErrBatchInsertTooLarge is an insert payload longer than MaxBatchInsert.
var ErrBatchInsertTooLarge = errors.New("wire: batch insert payload exceeds the limit")

// RequestReader reads the operations of a batch request as they arrive, through a body
// limit: a read past MaxBatchBody bytes fails with ErrBatchBodyTooLarge, so that a body
// without a Content-Length cannot exceed it either.
type RequestReader struct {
	mr *multipart.Reader
}

// NewRequestReader returns a reader of the batch request body, whose boundary
// ParseBatchContentType returned.
func NewRequestReader(body io.Reader, boundary string) *RequestReader {
	return &RequestReader{mr: multipart.NewReader(&bodyLimit{r: body, left: MaxBatchBody}, boundary)}
}

// Next returns the next operation, or io.EOF after the last. Any other error is
// mime/multipart's, unwrapped (its text is part of the server's answer); it may wrap
// ErrBatchBodyTooLarge. The previous operation's payload is no longer readable.
func (r *RequestReader) Next() (*ReceivedOp, error) {
	part, err := r.mr.NextRawPart()
	if err != nil {
		return nil, err
	}
	return &ReceivedOp{Header: http.Header(part.Header), part: part}, nil
}

// ReceivedOp is one operation of a batch request, as the server reads it. The codec does
// not validate it: which check runs first and what it answers is the server's.
type ReceivedOp struct {
	// Header is every header of the part.
	Header http.Header
	part   io.Reader
}

// Kind returns x-sn-batch-operation-kind in lower case, "" when it is absent.
func (o *ReceivedOp) Kind() string { return strings.ToLower(o.Header.Get(HeaderBatchKind)) }

// Key returns the first x-sn-batch-operation-key, decoded with PercentDecode, and whether
// the part has one.
func (o *ReceivedOp) Key() (key string, ok bool, err error) {
	v, ok := o.Header[textproto.CanonicalMIMEHeaderKey(HeaderBatchKey)]
	if !ok || len(v) == 0 {
		return "", false, nil
	}
	key, err = PercentDecode(v[0])
	return key, true, err
}

// ReadPayload reads the part's body, an insert's payload: ErrBatchInsertTooLarge when it is
// longer than MaxBatchInsert, after reading one byte more than that.
func (o *ReceivedOp) ReadPayload() ([]byte, error) {
	payload, err := io.ReadAll(io.LimitReader(o.part, MaxBatchInsert+1))
	if err != nil {
		return nil, err
	}
	if len(payload) > MaxBatchInsert {
		return nil, ErrBatchInsertTooLarge
	}
	return payload, nil
}

// bodyLimit fails reads beyond left bytes with ErrBatchBodyTooLarge.
type bodyLimit struct {
	r    io.Reader
	left int64
}

func (l *bodyLimit) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, ErrBatchBodyTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left+1] // read one byte past the limit to tell "exactly full" from "over"
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, ErrBatchBodyTooLarge
	}
	return n, err
}

// NewBoundary returns a fresh response boundary: "os-boundary-" and 32 hex digits.
func NewBoundary() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "os-boundary-" + hex.EncodeToString(b[:])
}

// ResponseContentType returns a batch response's content type, with the boundary quoted.
func ResponseContentType(boundary string) string {
	return `multipart/form-data; boundary="` + boundary + `"`
}

// Field is one header of a result part, in the order it is written.
type Field struct{ Name, Value string }

// ResultHeader is the header block of one response part, as the server writes it.
type ResultHeader struct {
	// Index is the operation's position in the request.
	Index int
	// Kind and Key are written when Kind is set: the result of an operation that ran. A
	// result of an operation that could not be read or was refused carries neither.
	Kind, Key string
	// Status is the result's HTTP status.
	Status int
	// Fields are the metadata headers, in order. A "content-type" field is written last;
	// fields whose value ValidHeaderValue refuses are left out.
	Fields []Field
}

// ResponseWriter writes a batch response part by part, so that a get's body can be streamed
// between BeginPart and EndPart. Its first write error sticks: every later write is skipped
// and returns it.
type ResponseWriter struct {
	w        io.Writer
	boundary string
	err      error
}

// NewResponseWriter returns a writer of a batch response to w, delimited by boundary.
func NewResponseWriter(w io.Writer, boundary string) *ResponseWriter {
	return &ResponseWriter{w: w, boundary: boundary}
}

// Err returns the first write error.
func (w *ResponseWriter) Err() error { return w.err }

// Write writes part body bytes.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.w.Write(p)
	w.err = err
	return n, err
}

func (w *ResponseWriter) writeString(s string) error {
	_, err := w.Write([]byte(s))
	return err
}

// BeginPart writes the delimiter and h in objectstore's order (index, key, kind, status,
// metadata, content-disposition, content-type), then the blank line, in one write.
func (w *ResponseWriter) BeginPart(h ResultHeader) error {
	var sb strings.Builder
	line := func(name, value string) {
		sb.WriteString(name)
		sb.WriteString(": ")
		sb.WriteString(value)
		sb.WriteString("\r\n")
	}
	sb.WriteString("--" + w.boundary + "\r\n")
	line(HeaderBatchIndex, strconv.Itoa(h.Index))
	if h.Kind != "" {
		line(HeaderBatchKey, EncodeBatchKey(h.Key))
		line(HeaderBatchKind, h.Kind)
	}
	line(HeaderBatchStatus, StatusLine(h.Status))
	contentType := ""
	for _, f := range h.Fields {
		if f.Name == "content-type" {
			contentType = f.Value
			continue
		}
		if ValidHeaderValue(f.Value) {
			line(f.Name, f.Value)
		}
	}
	line("content-disposition", "form-data; name=part")
	if contentType != "" {
		line("content-type", contentType)
	}
	sb.WriteString("\r\n")
	return w.writeString(sb.String())
}

// EndPart ends the part's body with a CRLF.
func (w *ResponseWriter) EndPart() error { return w.writeString("\r\n") }

// Close writes the closing delimiter, without a trailing CRLF as objectstore does.
func (w *ResponseWriter) Close() error { return w.writeString("--" + w.boundary + "--") }

// ResponseReader reads the results of a batch response.
type ResponseReader struct {
	mr *multipart.Reader
}

// NewResponseReader returns a reader of the batch response body, whose boundary
// ParseBatchContentType returned.
func NewResponseReader(body io.Reader, boundary string) *ResponseReader {
	return &ResponseReader{mr: multipart.NewReader(body, boundary)}
}

// Result is one part of a batch response, as the SDK reads it.
type Result struct {
	// Index is the operation's position in the request.
	Index int
	// Kind is the operation's kind, "" when the part has none.
	Kind string
	// Key is the decoded key ("" when the part has none; the raw value when it does not
	// decode).
	Key string
	// Status is the status code of x-sn-batch-operation-status.
	Status int
	// Header is every header of the part, for the metadata.
	Header http.Header
	// Body is the part's body, readable until the next call to Next.
	Body io.Reader
}

// Next returns the next result, or io.EOF after the last. A part without a numeric index or
// status is an error.
func (r *ResponseReader) Next() (*Result, error) {
	part, err := r.mr.NextRawPart()
	if err != nil {
		return nil, err
	}
	h := http.Header(part.Header)
	res := &Result{Kind: h.Get(HeaderBatchKind), Header: h, Body: part}
	if res.Index, err = strconv.Atoi(h.Get(HeaderBatchIndex)); err != nil {
		return nil, fmt.Errorf("wire: batch answer part without a valid index: %q", h.Get(HeaderBatchIndex))
	}
	statusText, _, _ := strings.Cut(h.Get(HeaderBatchStatus), " ")
	if res.Status, err = strconv.Atoi(statusText); err != nil {
		return nil, fmt.Errorf("wire: batch answer part %d without a valid status", res.Index)
	}
	if k := h.Get(HeaderBatchKey); k != "" {
		if res.Key, err = PercentDecode(k); err != nil {
			res.Key = k
		}
	}
	return res, nil
}
