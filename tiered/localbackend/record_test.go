package localbackend

import (
	"bytes"
	"errors"
	"slices"
	"sort"
	"testing"
	"time"
)

func TestRow_EncodeDecode_RoundTrip(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 678901234, time.UTC)
	for _, tc := range []struct {
		name string
		r    row
	}{
		{"object manual", row{kind: kindObject, gen: 1, md: []byte(`{"content_type":"a/b"}`), payload: []byte("hello")}},
		{"object empty payload", row{kind: kindObject, gen: 7, md: []byte(`{}`), payload: []byte{}}},
		{"object with deadline", row{kind: kindObject, gen: 1 << 40, expires: exp, md: []byte(`{"x":1}`), payload: bytes.Repeat([]byte{0xfe}, 70000)}},
		{"object before 1970", row{kind: kindObject, gen: 2, expires: time.Date(1960, 5, 1, 0, 0, 0, 1, time.UTC), md: []byte(`{}`)}},
		{"tombstone", row{kind: kindTombstone, gen: 3, target: "testing/org.1/objects/k/0190", policy: []byte(`"Manual"`)}},
		{"tombstone with deadline", row{kind: kindTombstone, gen: 4, expires: exp, target: "u/objects/a", policy: []byte(`{"TimeToIdle":{"secs":60,"nanos":0}}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeRow(encodeRow(&tc.r))
			if err != nil {
				t.Fatalf("decodeRow: %v", err)
			}
			if got.kind != tc.r.kind || got.gen != tc.r.gen || !got.expires.Equal(tc.r.expires) ||
				!bytes.Equal(got.md, tc.r.md) || !bytes.Equal(got.payload, tc.r.payload) ||
				got.target != tc.r.target || !bytes.Equal(got.policy, tc.r.policy) {
				t.Fatalf("round trip: got %+v, want %+v", got, tc.r)
			}
		})
	}
}

func TestDecodeRow_Corrupt(t *testing.T) {
	good := encodeRow(&row{kind: kindTombstone, gen: 1, target: "u/objects/k", policy: []byte(`"Manual"`)})
	badKind := bytes.Clone(good)
	badKind[1] = 9
	badFormat := bytes.Clone(good)
	badFormat[0] = 2
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", good[:rowHeaderLen-1]},
		{"unknown format", badFormat},
		{"unknown kind", badKind},
		{"truncated target", good[:rowHeaderLen+3]},
		{"missing policy", good[:rowHeaderLen+1+len("u/objects/k")]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeRow(tc.b); !errors.Is(err, errCorrupt) {
				t.Fatalf("decodeRow: error %v, want errCorrupt", err)
			}
		})
	}
}

func TestExpKey_SortsByTimeThenPath(t *testing.T) {
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	times := []time.Time{
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(-1, 999999999).UTC(),
		time.Unix(0, 0).UTC(),
		base,
		base.Add(time.Nanosecond),
		base.Add(time.Second),
		time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	var keys [][]byte
	for i := len(times) - 1; i >= 0; i-- {
		keys = append(keys, expKey(times[i], "b"), expKey(times[i], "a"))
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	var got []time.Time
	var paths []string
	for _, k := range keys {
		tm, p, ok := parseExpKey(k)
		if !ok {
			t.Fatalf("parseExpKey(%x) failed", k)
		}
		got = append(got, tm)
		paths = append(paths, p)
	}
	for i, want := range times {
		if !got[2*i].Equal(want) || !got[2*i+1].Equal(want) {
			t.Fatalf("position %d: got %v, %v; want %v", i, got[2*i], got[2*i+1], want)
		}
		if paths[2*i] != "a" || paths[2*i+1] != "b" {
			t.Fatalf("position %d: paths %q %q, want a b", i, paths[2*i], paths[2*i+1])
		}
	}
	if !slices.IsSortedFunc(got, func(a, b time.Time) int { return a.Compare(b) }) {
		t.Fatalf("times not sorted: %v", got)
	}
}

func TestPutTime_GetTime(t *testing.T) {
	for _, tc := range []time.Time{
		{},
		time.Unix(0, 0),
		time.Unix(1700000000, 123456789),
		time.Date(1960, 1, 1, 0, 0, 0, 5, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		var b [13]byte
		putTime(b[:], tc)
		if got := getTime(b[:]); !got.Equal(tc) || got.IsZero() != tc.IsZero() {
			t.Errorf("putTime/getTime(%v) = %v", tc, got)
		}
	}
}

func TestETag_Equal(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{`"abc"`, `"abc"`, true},
		{`"abc"`, `abc`, true},
		{`abc`, `"abc"`, true},
		{`"abc"`, `"abd"`, false},
		{`"`, `"`, true},
		{`""`, ``, true},
		{`"abc`, `abc`, false},
	} {
		if got := equalETag(tc.a, tc.b); got != tc.want {
			t.Errorf("equalETag(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
