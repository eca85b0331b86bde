package httpapi

import (
	"math"
	"testing"

	"github.com/stratastore/strata/tiered/object"
)

func TestParseRange(t *testing.T) {
	r := func(b object.ByteRange) *object.ByteRange { return &b }
	tests := []struct {
		in   string
		want *object.ByteRange
		err  string
	}{
		{in: "bytes=0-4", want: r(object.Bounded(0, 4))},
		{in: "bytes=7-", want: r(object.From(7))},
		{in: "bytes=-9", want: r(object.Last(9))},
		{in: "BYTES=1-1", want: r(object.Bounded(1, 1))},
		{in: "bytes=0-18446744073709551615", want: r(object.Bounded(0, math.MaxInt64))},
		{in: "bytes=0-1,3-4", want: nil},
		{in: "items=0-1,2-3", err: "client error: invalid Range header: invalid range unit: items, expected: bytes"},
		{in: "items=0-5", err: "client error: invalid Range header: invalid range unit: items, expected: bytes"},
		{in: "bytes=abc-def", err: "client error: invalid Range header: invalid byte range"},
		{in: "bytes=500-100", err: "client error: invalid Range header: invalid byte range"},
		{in: "bytes=-0", err: "client error: invalid Range header: invalid byte range"},
		{in: "bytes=-", err: "client error: invalid Range header: invalid byte range"},
		{in: "bytes=5", err: "client error: invalid Range header: invalid byte range"},
		{in: "bytes= 0-4", err: "client error: invalid Range header: invalid byte range"},
		{in: "bytes=+1-4", err: "client error: invalid Range header: invalid byte range"},
		{in: "bytes=0-18446744073709551616", err: "client error: invalid Range header: invalid byte range"},
		{in: "bytes", err: "client error: invalid Range header: invalid byte range"},
		{in: "bytes=0-\u00e9", err: "client error: invalid Range header"},
	}
	for _, tt := range tests {
		got, herr := parseRange(tt.in, true)
		switch {
		case tt.err != "":
			if herr == nil || herr.detail != tt.err || herr.status != 400 || herr.text || herr.causes != nil {
				t.Errorf("parseRange(%q) error = %+v, want 400 JSON %q", tt.in, herr, tt.err)
			}
		case herr != nil:
			t.Errorf("parseRange(%q) error %v", tt.in, herr)
		case (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want):
			t.Errorf("parseRange(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if got, herr := parseRange("", false); got != nil || herr != nil {
		t.Errorf("absent Range: %v, %v", got, herr)
	}
}
