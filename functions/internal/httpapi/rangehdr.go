package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/stratastore/strata/tiered/object"
)

// rangeError is a 400 for a bad Range header, in objectstore's wording (functions/API.md §7).
func rangeError(reason string) *httpError {
	detail := "client error: invalid Range header"
	if reason != "" {
		detail += ": " + reason
	}
	return &httpError{status: http.StatusBadRequest, detail: detail}
}

// parseRange parses a Range header value (functions/API.md §7). It returns nil, nil when there
// is no header or when it asks for several ranges, which objectstore ignores. Accepted
// forms: bytes=A-B (A <= B), bytes=A- and bytes=-N (N >= 1), numbers plain decimal.
func parseRange(v string, present bool) (*object.ByteRange, *httpError) {
	if !present {
		return nil, nil
	}
	for i := 0; i < len(v); i++ {
		if v[i] >= 0x80 {
			return nil, rangeError("")
		}
	}
	unit, spec, ok := strings.Cut(v, "=")
	if !ok {
		return nil, rangeError("invalid byte range")
	}
	if !strings.EqualFold(unit, "bytes") {
		return nil, rangeError("invalid range unit: " + unit + ", expected: bytes")
	}
	if strings.Contains(spec, ",") {
		return nil, nil
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return nil, rangeError("invalid byte range")
	}
	num := func(s string) (int64, bool) {
		if s == "" || strings.TrimLeft(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseUint(s, 10, 64) // objectstore's numbers are u64
		return int64(min(n, math.MaxInt64)), err == nil
	}
	switch {
	case first == "":
		n, ok := num(last)
		if !ok || n == 0 {
			return nil, rangeError("invalid byte range")
		}
		r := object.Last(n)
		return &r, nil
	case last == "":
		a, ok := num(first)
		if !ok {
			return nil, rangeError("invalid byte range")
		}
		r := object.From(a)
		return &r, nil
	default:
		a, ok1 := num(first)
		b, ok2 := num(last)
		if !ok1 || !ok2 || a > b {
			return nil, rangeError("invalid byte range")
		}
		r := object.Bounded(a, b)
		return &r, nil
	}
}
