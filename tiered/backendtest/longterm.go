package backendtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// TestLongTerm runs the conformance suite for driver.LongTerm. open must return a fresh,
// empty, isolated backend for each call; the caller registers its cleanup on t.
//
// Each subtest checks one "must" of the driver.LongTerm contract, named after it.
func TestLongTerm(t *testing.T, open func(t *testing.T) driver.LongTerm) {
	t.Run("Name", func(t *testing.T) {
		if open(t).Name() == "" {
			t.Error("Name() is empty")
		}
	})
	ltPut(t, open)
	ltGet(t, open)
	ltRanges(t, open)
	ltDelete(t, open)
	ltExpiry(t, open)
	ltKeys(t, open)
}

type lt struct {
	t *testing.T
	b driver.LongTerm
}

func (l lt) put(id object.ID, md object.Metadata, body []byte) {
	l.t.Helper()
	if err := l.b.Put(l.t.Context(), id, md, bytes.NewReader(body)); err != nil {
		l.t.Fatalf("Put(%s): %v", id.Key, err)
	}
}

// read gets id with rng and returns the object with its body read and closed.
func (l lt) read(id object.ID, rng *object.ByteRange) (*object.Reader, []byte) {
	l.t.Helper()
	o, err := l.b.Get(l.t.Context(), id, rng)
	if err != nil {
		l.t.Fatalf("Get(%s): %v", id.Key, err)
	}
	if o == nil || o.Body == nil {
		l.t.Fatalf("Get(%s) returned no body", id.Key)
	}
	b, err := io.ReadAll(o.Body)
	if cerr := o.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		l.t.Fatalf("reading Get(%s) body: %v", id.Key, err)
	}
	return o, b
}

func (l lt) head(id object.ID) object.Metadata {
	l.t.Helper()
	md, err := l.b.Head(l.t.Context(), id)
	if err != nil {
		l.t.Fatalf("Head(%s): %v", id.Key, err)
	}
	return md
}

// expectContent fails unless id holds body with metadata md (Size is checked as len(body)).
func (l lt) expectContent(what string, id object.ID, md object.Metadata, body []byte) {
	l.t.Helper()
	md.Size = int64(len(body))
	o, got := l.read(id, nil)
	checkLTMetadata(l.t, what+": Get", o.Metadata, md)
	if o.Range != nil {
		l.t.Errorf("%s: full Get returned range %s", what, o.Range)
	}
	if !bytes.Equal(got, body) {
		l.t.Errorf("%s: body of %d bytes differs from the %d bytes written", what, len(got), len(body))
	}
	checkLTMetadata(l.t, what+": Head", l.head(id), md)
}

func (l lt) expectNotFound(what string, id object.ID) {
	l.t.Helper()
	o, err := l.b.Get(l.t.Context(), id, nil)
	if !errors.Is(err, object.ErrNotFound) {
		if o != nil && o.Body != nil {
			o.Body.Close()
		}
		l.t.Errorf("%s: Get error %v, want ErrNotFound", what, err)
	}
	if _, err := l.b.Head(l.t.Context(), id); !errors.Is(err, object.ErrNotFound) {
		l.t.Errorf("%s: Head error %v, want ErrNotFound", what, err)
	}
}

func ltPut(t *testing.T, open func(t *testing.T) driver.LongTerm) {
	t.Run("Put/RoundTripAllFields", func(t *testing.T) {
		l := lt{t, open(t)}
		for _, tc := range []struct {
			name   string
			policy object.ExpirationPolicy
			exp    time.Time
		}{
			{"ttl", object.TTL(3 * time.Hour), time.Now().Add(3 * time.Hour)},
			{"manual", object.ExpirationPolicy{}, time.Time{}},
			{"tti", object.TTI(30 * 24 * time.Hour), time.Now().Add(30 * 24 * time.Hour)},
		} {
			id := NewID(t, "roundtrip/"+tc.name)
			body := RandomPayload(5000)
			// The size given is ignored: Put sets Size to the bytes stored.
			md := fullMetadata(tc.policy, tc.exp, 1)
			l.put(id, md, body)
			l.expectContent(tc.name, id, md, body)
		}
	})
	t.Run("Put/EmptyBody", func(t *testing.T) {
		l := lt{t, open(t)}
		id := NewID(t, "empty")
		md := smallMetadata("empty", 0)
		l.put(id, md, nil)
		l.expectContent("empty", id, md, []byte{})
	})
	t.Run("Put/StreamsChunkedBody", func(t *testing.T) {
		l := lt{t, open(t)}
		id := NewID(t, "streamed")
		body := RandomPayload(8 << 20)
		md := smallMetadata("big", -1)
		if err := l.b.Put(t.Context(), id, md, ChunkedReader(body, 64<<10+13)); err != nil {
			t.Fatalf("Put: %v", err)
		}
		l.expectContent("8 MiB", id, md, body)
	})
	t.Run("Put/Overwrite", func(t *testing.T) {
		l := lt{t, open(t)}
		id := NewID(t, "overwrite")
		l.put(id, fullMetadata(object.TTL(time.Hour), time.Now().Add(time.Hour), 0), RandomPayload(3000))
		md2 := object.Metadata{TimeCreated: Millis(time.Now()), Custom: map[string]string{"only": "this"}}
		body2 := RandomPayload(100)
		l.put(id, md2, body2)
		l.expectContent("after overwrite", id, md2, body2)
	})
	failing := []struct {
		name string
		body func(cancel func()) io.Reader
	}{
		{"BodyFails", func(func()) io.Reader { return FailingReader(300<<10, errors.New("client went away")) }},
		{"ContextCancelled", func(cancel func()) io.Reader { return CancelReader(RandomPayload(2<<20), 300<<10, cancel) }},
	}
	for _, f := range failing {
		t.Run("Put/"+f.name+"/NothingVisible", func(t *testing.T) {
			l := lt{t, open(t)}
			id := NewID(t, "failed-put")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if err := l.b.Put(ctx, id, smallMetadata("f", -1), f.body(cancel)); err == nil {
				t.Fatal("Put succeeded although its body failed")
			}
			l.expectNotFound("after the failed Put", id)
		})
		t.Run("Put/"+f.name+"/PreviousObjectIntact", func(t *testing.T) {
			l := lt{t, open(t)}
			id := NewID(t, "failed-overwrite")
			md := fullMetadata(object.ExpirationPolicy{}, time.Time{}, 0)
			body := RandomPayload(10000)
			l.put(id, md, body)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if err := l.b.Put(ctx, id, smallMetadata("f", -1), f.body(cancel)); err == nil {
				t.Fatal("Put succeeded although its body failed")
			}
			l.expectContent("previous object", id, md, body)
		})
	}
}

func ltGet(t *testing.T, open func(t *testing.T) driver.LongTerm) {
	t.Run("Get/NotFound", func(t *testing.T) {
		l := lt{t, open(t)}
		l.expectNotFound("missing object", NewID(t, "missing"))
	})
	t.Run("Get/RangedReadKeepsFullSize", func(t *testing.T) {
		l := lt{t, open(t)}
		id := NewID(t, "ranged-meta")
		body := RandomPayload(1000)
		md := smallMetadata("r", 0)
		l.put(id, md, body)
		o, _ := l.read(id, ptr(object.Bounded(0, 9)))
		md.Size = 1000
		checkLTMetadata(t, "ranged Get", o.Metadata, md)
	})
}

func ltRanges(t *testing.T, open func(t *testing.T) driver.LongTerm) {
	t.Run("Get/Ranges", func(t *testing.T) {
		l := lt{t, open(t)}
		id := NewID(t, "ranges")
		body := RandomPayload(1000)
		l.put(id, smallMetadata("r", 0), body)
		for _, tc := range []struct {
			name       string
			rng        object.ByteRange
			start, end int64
		}{
			{"bounded", object.Bounded(10, 19), 10, 19},
			{"single byte", object.Bounded(999, 999), 999, 999},
			{"bounded past end", object.Bounded(990, 5000), 990, 999},
			{"from", object.From(500), 500, 999},
			{"from zero", object.From(0), 0, 999},
			{"last", object.Last(100), 900, 999},
			{"last more than size", object.Last(5000), 0, 999},
		} {
			o, got := l.read(id, &tc.rng)
			want := object.ContentRange{Start: tc.start, End: tc.end, Total: 1000}
			if o.Range == nil || *o.Range != want {
				t.Errorf("%s: range %v, want %v", tc.name, o.Range, want)
			}
			if !bytes.Equal(got, body[tc.start:tc.end+1]) {
				t.Errorf("%s: body of %d bytes is not bytes %d-%d", tc.name, len(got), tc.start, tc.end)
			}
		}
	})
	t.Run("Get/UnsatisfiableRange", func(t *testing.T) {
		l := lt{t, open(t)}
		id := NewID(t, "unsatisfiable")
		l.put(id, smallMetadata("u", 0), RandomPayload(1000))
		empty := NewID(t, "zero-bytes")
		l.put(empty, smallMetadata("z", 0), nil)
		for _, tc := range []struct {
			name  string
			id    object.ID
			rng   object.ByteRange
			total int64
		}{
			{"from the end", id, object.From(1000), 1000},
			{"bounded past the end", id, object.Bounded(1500, 2000), 1000},
			{"empty object, bounded", empty, object.Bounded(0, 10), 0},
			{"empty object, last", empty, object.Last(5), 0},
		} {
			o, err := l.b.Get(t.Context(), tc.id, &tc.rng)
			if o != nil && o.Body != nil {
				o.Body.Close()
			}
			var re *object.RangeError
			if !errors.As(err, &re) {
				t.Errorf("%s: error %v, want *object.RangeError", tc.name, err)
				continue
			}
			if !errors.Is(err, object.ErrRangeNotSatisfiable) {
				t.Errorf("%s: error %v does not match ErrRangeNotSatisfiable", tc.name, err)
			}
			if re.Total != tc.total {
				t.Errorf("%s: RangeError.Total %d, want %d", tc.name, re.Total, tc.total)
			}
		}
		// A full read of the empty object still works.
		l.expectContent("empty object", empty, smallMetadata("z", 0), []byte{})
	})
}

func ltDelete(t *testing.T, open func(t *testing.T) driver.LongTerm) {
	t.Run("Delete/Idempotent", func(t *testing.T) {
		l := lt{t, open(t)}
		id := NewID(t, "delete")
		if err := l.b.Delete(t.Context(), id); err != nil {
			t.Fatalf("Delete of a missing object: %v", err)
		}
		l.put(id, smallMetadata("d", 0), []byte("data"))
		other := NewID(t, "delete-neighbour")
		l.put(other, smallMetadata("n", 0), []byte("neighbour"))
		if err := l.b.Delete(t.Context(), id); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		l.expectNotFound("after Delete", id)
		if err := l.b.Delete(t.Context(), id); err != nil {
			t.Fatalf("second Delete: %v", err)
		}
		l.expectContent("neighbour", other, smallMetadata("n", 0), []byte("neighbour"))
	})
}

func ltExpiry(t *testing.T, open func(t *testing.T) driver.LongTerm) {
	t.Run("Expiry/ExpiredInvisible", func(t *testing.T) {
		l := lt{t, open(t)}
		for _, p := range []object.ExpirationPolicy{object.TTL(time.Hour), object.TTI(time.Hour)} {
			id := NewID(t, "expired/"+p.String())
			md := smallMetadata("e", 0)
			md.ExpirationPolicy = p
			md.TimeExpires = Millis(time.Now().Add(-time.Second))
			l.put(id, md, []byte("expired"))
			l.expectNotFound(p.String(), id)
		}
	})
	for _, reader := range []string{"Get", "Head"} {
		t.Run("TTIBump/"+reader, func(t *testing.T) {
			l := lt{t, open(t)}
			id := NewID(t, "tti")
			body := RandomPayload(1234)
			md := fullMetadata(object.TTI(time.Hour), time.Now().Add(time.Minute), 0)
			l.put(id, md, body)
			md.Size = int64(len(body))
			before := time.Now()
			var first object.Metadata
			if reader == "Get" {
				o, _ := l.read(id, nil)
				first = o.Metadata
			} else {
				first = l.head(id)
			}
			after := time.Now()
			checkLTMetadata(t, reader+" returns the pre-bump metadata", first, md)
			second := l.head(id)
			// A backend may round the new deadline up by less than a second (driver.LongTerm).
			expectWithin(t, "bumped deadline", second.TimeExpires, before.Add(time.Hour), after.Add(time.Hour+time.Second))
			md.TimeExpires = second.TimeExpires
			md.TimeCreated = first.TimeCreated
			l.expectContent("after the bump", id, md, body)
		})
	}
	t.Run("TTIBump/NoBumpWhenFresh", func(t *testing.T) {
		l := lt{t, open(t)}
		id := NewID(t, "tti-fresh")
		md := smallMetadata("fresh", 0)
		md.ExpirationPolicy = object.TTI(time.Hour)
		md.TimeExpires = Millis(time.Now().Add(time.Hour))
		l.put(id, md, []byte("fresh"))
		for range 2 {
			l.expectContent("fresh TTI object", id, md, []byte("fresh"))
		}
	})
}

// longKeyID returns an id whose storage path is object.MaxStoragePathLen+37 bytes: the
// longest revision path "{path}/{uuidv7}" the Store writes. (NewID would refuse it: a
// logical id is at most object.MaxStoragePathLen.)
func longKeyID(t *testing.T) object.ID {
	id := NewID(t, "k")
	n := object.MaxStoragePathLen + 37 - len(id.Context.ContextPrefix())
	id.Key = strings.Repeat("long/", n/5+1)[:n-1] + "z"
	if got := len(id.StoragePath()); got != object.MaxStoragePathLen+37 {
		t.Fatalf("long key has a storage path of %d bytes, want %d", got, object.MaxStoragePathLen+37)
	}
	return id
}

func ltKeys(t *testing.T, open func(t *testing.T) driver.LongTerm) {
	t.Run("Keys/SpecialCharacters", func(t *testing.T) {
		l := lt{t, open(t)}
		keys := []string{
			"with space", "ünïcödé/日本語", "percent%20literal%2F", "plus+sign", "semi;colon",
			"eq=ual", "co:lon", "at@sign", "amp&ersand", "a/b/c/deep/path", "trailing~tilde",
			"quote'and\"double", "hash#frag?query", "emoji 🎉",
		}
		for _, k := range keys {
			l.put(NewID(t, k), smallMetadata("k", 0), []byte(k))
		}
		for _, k := range keys {
			l.expectContent(k, NewID(t, k), smallMetadata("k", 0), []byte(k))
		}
		// Deleting one key leaves its look-alikes.
		if err := l.b.Delete(t.Context(), NewID(t, "plus+sign")); err != nil {
			t.Fatal(err)
		}
		l.expectNotFound("deleted plus+sign", NewID(t, "plus+sign"))
		l.expectContent("percent key", NewID(t, "percent%20literal%2F"), smallMetadata("k", 0), []byte("percent%20literal%2F"))
	})
	t.Run("Keys/RevisionLength", func(t *testing.T) {
		l := lt{t, open(t)}
		id := longKeyID(t)
		body := RandomPayload(100)
		l.put(id, smallMetadata("long", 0), body)
		l.expectContent("long key", id, smallMetadata("long", 0), body)
		if err := l.b.Delete(t.Context(), id); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		l.expectNotFound("after Delete", id)
	})
	t.Run("Keys/PrefixesAreDistinct", func(t *testing.T) {
		// A revision "{key}/{uuid}" lives below the logical key's path; both must coexist.
		l := lt{t, open(t)}
		parent := NewID(t, "parent")
		child := revision(parent, 1)
		l.put(child, smallMetadata("child", 0), []byte("child"))
		l.put(parent, smallMetadata("parent", 0), []byte("parent"))
		l.expectContent("parent", parent, smallMetadata("parent", 0), []byte("parent"))
		l.expectContent("child", child, smallMetadata("child", 0), []byte("child"))
	})
}
