package backendtest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

func TestChunkedReader(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size      int
		chunk     int
		bufSize   int
		wantReads []int
	}{
		{"even", 10, 5, 64, []int{5, 5}},
		{"remainder", 11, 5, 64, []int{5, 5, 1}},
		{"small buffer", 10, 8, 3, []int{3, 3, 3, 1}},
		{"chunk zero counts as one", 3, 0, 64, []int{1, 1, 1}},
		{"empty", 0, 4, 64, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := RandomPayload(tc.size)
			r := ChunkedReader(data, tc.chunk)
			if _, ok := r.(io.WriterTo); ok {
				t.Fatal("ChunkedReader implements io.WriterTo; io.Copy would bypass the chunking")
			}
			var got []byte
			var reads []int
			buf := make([]byte, tc.bufSize)
			for range 100 {
				n, err := r.Read(buf)
				if n > 0 {
					reads = append(reads, n)
					got = append(got, buf[:n]...)
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, data) {
				t.Error("bytes read differ from the input")
			}
			if len(reads) != len(tc.wantReads) {
				t.Fatalf("reads %v, want %v", reads, tc.wantReads)
			}
			for i := range reads {
				if reads[i] != tc.wantReads[i] {
					t.Fatalf("reads %v, want %v", reads, tc.wantReads)
				}
			}
		})
	}
}

func TestFailingReader(t *testing.T) {
	boom := errors.New("boom")
	for _, after := range []int64{0, 1, 100_000} {
		b, err := io.ReadAll(FailingReader(after, boom))
		if !errors.Is(err, boom) {
			t.Errorf("after %d: error %v, want boom", after, err)
		}
		if int64(len(b)) != after {
			t.Errorf("after %d: read %d bytes first", after, len(b))
		}
	}
}

func TestCancelReader(t *testing.T) {
	data := RandomPayload(300_000)
	calls := 0
	r := CancelReader(data, 100_000, func() { calls++ })
	var got []byte
	buf := make([]byte, 50_000)
	cancelledAt := -1
	for {
		n, err := r.Read(buf)
		if calls == 1 && cancelledAt < 0 {
			cancelledAt = len(got)
		}
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Errorf("cancel called %d times, want 1", calls)
	}
	if cancelledAt != 100_000 {
		t.Errorf("cancel called after %d bytes, want 100000", cancelledAt)
	}
	if !bytes.Equal(got, data) {
		t.Error("CancelReader changed the data")
	}
}

func TestRandomPayload(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 1000} {
		if got := len(RandomPayload(n)); got != n {
			t.Errorf("len(RandomPayload(%d)) = %d", n, got)
		}
	}
	if bytes.Equal(RandomPayload(64), RandomPayload(64)) {
		t.Error("two payloads are equal")
	}
	if bytes.Equal(RandomPayload(64), make([]byte, 64)) {
		t.Error("payload is all zeros")
	}
}

func TestNewID(t *testing.T) {
	id := NewID(t, "a/b c")
	if got, want := id.StoragePath(), "testing/org.1/objects/a/b c"; got != want {
		t.Errorf("StoragePath = %q, want %q", got, want)
	}
}

func TestMillis(t *testing.T) {
	base := time.Date(2025, 1, 2, 3, 4, 5, 123_456_789, time.UTC)
	for _, tc := range []struct {
		name string
		a, b time.Time
		same bool
	}{
		{"identical", base, base, true},
		{"sub-millisecond apart", base, base.Add(400 * time.Microsecond), true},
		{"other zone", base, base.In(time.FixedZone("x", 3600)), true},
		{"a millisecond apart", base, base.Add(time.Millisecond), false},
		{"zero and zero", time.Time{}, time.Time{}, true},
		{"zero and set", time.Time{}, base, false},
	} {
		if got := SameMillis(tc.a, tc.b); got != tc.same {
			t.Errorf("%s: SameMillis = %v, want %v", tc.name, got, tc.same)
		}
	}
	if got := Millis(base); got.Nanosecond() != 123_000_000 {
		t.Errorf("Millis kept %d ns", got.Nanosecond())
	}
}

func TestMetadataDiff(t *testing.T) {
	base := fullMetadata(object.TTL(time.Hour), time.Now().Add(time.Hour), 10)
	for _, tc := range []struct {
		name   string
		change func(*object.Metadata)
		field  string // "" means no difference
	}{
		{"identical", func(*object.Metadata) {}, ""},
		{"sub-millisecond time", func(m *object.Metadata) { m.TimeExpires = m.TimeExpires.Add(time.Microsecond) }, ""},
		{"default content type", func(m *object.Metadata) { m.ContentType = "" }, "content type"},
		{"policy", func(m *object.Metadata) { m.ExpirationPolicy = object.TTI(time.Hour) }, "expiration policy"},
		{"created", func(m *object.Metadata) { m.TimeCreated = m.TimeCreated.Add(time.Second) }, "time_created"},
		{"expires", func(m *object.Metadata) { m.TimeExpires = time.Time{} }, "time_expires"},
		{"compression", func(m *object.Metadata) { m.Compression = "" }, "compression"},
		{"origin", func(m *object.Metadata) { m.Origin = "x" }, "origin"},
		{"filename", func(m *object.Metadata) { m.Filename = "" }, "filename"},
		{"size", func(m *object.Metadata) { m.Size = -1 }, "size"},
		{"custom value", func(m *object.Metadata) { m.Custom["color"] = "red" }, "custom"},
		{"custom extra key", func(m *object.Metadata) { m.Custom["x"] = "" }, "custom"},
	} {
		got := base.Clone()
		tc.change(&got)
		d := metadataDiff(got, base)
		if tc.field == "" && d != "" {
			t.Errorf("%s: unexpected difference %q", tc.name, d)
		}
		if tc.field != "" && !strings.HasPrefix(d, tc.field) {
			t.Errorf("%s: difference %q, want one about %s", tc.name, d, tc.field)
		}
	}
	// nil and empty custom maps are equal; content type "" equals the default.
	a := object.Metadata{Custom: map[string]string{}}
	b := object.Metadata{ContentType: object.DefaultContentType}
	if d := metadataDiff(a, b); d != "" {
		t.Errorf("empty custom map / default content type: %q", d)
	}
}

func TestValidUploadID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"0b5e3f2a-6c1d-4e8f-9a7b-2c4d6e8f0a1b", true},
		{"abc_DEF.123~x", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"a b", false},
		{"a%2Fb", false},
		{strings.Repeat("a", MaxUploadIDLen), true},
		{strings.Repeat("a", MaxUploadIDLen+1), false},
	} {
		if err := validUploadID(tc.id); (err == nil) != tc.ok {
			t.Errorf("validUploadID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

func TestLongKeyID(t *testing.T) {
	id := longKeyID(t)
	if err := object.ValidateKey(id.Key); err != nil {
		t.Errorf("long key is not a valid key: %v", err)
	}
	if n := len(id.StoragePath()); n != object.MaxStoragePathLen+37 {
		t.Errorf("storage path is %d bytes", n)
	}
}
