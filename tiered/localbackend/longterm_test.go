package localbackend

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/object"
)

func TestLongTerm_FileFormat(t *testing.T) {
	b := openTest(t, nil)
	lt := b.LongTerm()
	id := testID("fmt/object")
	exp := time.Date(2031, 2, 3, 4, 5, 6, 7, time.UTC)
	md := object.Metadata{ExpirationPolicy: object.TTL(time.Hour), TimeExpires: exp, ContentType: "text/plain", Size: 999}
	putBlob(t, lt, id, md, []byte("payload!"))

	name, _ := lt.blobName(id.StoragePath())
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw[:8]) != "STRATAB1" {
		t.Fatalf("magic %q", raw[:8])
	}
	if got := getTime(raw[8:21]); !got.Equal(exp) {
		t.Fatalf("deadline field %v, want %v", got, exp)
	}
	pl, ml := binary.BigEndian.Uint32(raw[24:28]), binary.BigEndian.Uint32(raw[28:32])
	if p := string(raw[32 : 32+pl]); p != id.StoragePath() {
		t.Fatalf("header path %q, want %q", p, id.StoragePath())
	}
	var j map[string]any
	if err := json.Unmarshal(raw[32+pl:32+pl+ml], &j); err != nil {
		t.Fatalf("header metadata: %v", err)
	}
	if j["content_type"] != "text/plain" || j["size"] != nil || j["expiration_policy"] == nil {
		t.Fatalf("header metadata %v: want content type, policy, and no size", j)
	}
	if p := string(raw[32+pl+ml:]); p != "payload!" {
		t.Fatalf("payload %q", p)
	}
	if !strings.HasSuffix(name, "/blobs/"+name[len(name)-64:len(name)-62]+"/"+name[len(name)-64:]) {
		t.Fatalf("blob file %s is not blobs/{hh}/{sha}", name)
	}
}

func TestLongTerm_Put_FailedBody_KeepsPreviousAndLeavesNoTemp(t *testing.T) {
	b := openTest(t, nil)
	lt := b.LongTerm()
	id := testID("overwrite")
	putBlob(t, lt, id, object.Metadata{ContentType: "text/v1"}, []byte("version one"))

	err := lt.Put(t.Context(), id, object.Metadata{ContentType: "text/v2"}, backendtest.FailingReader(3<<20, backendtest.ErrInjected))
	if !errors.Is(err, backendtest.ErrInjected) {
		t.Fatalf("Put with failing body: %v, want ErrInjected", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	err = lt.Put(ctx, id, object.Metadata{ContentType: "text/v3"}, backendtest.CancelReader(backendtest.RandomPayload(2<<20), 1<<20, cancel))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with cancelled context: %v, want context.Canceled", err)
	}
	got, md := readAll(t, lt, id)
	if string(got) != "version one" || md.ContentType != "text/v1" {
		t.Fatalf("after failed puts: %q %q", got, md.ContentType)
	}
	if names := tmpFiles(t, b.Dir()); len(names) != 0 {
		t.Fatalf("temp files left behind: %v", names)
	}
}

func TestLongTerm_LongSegmentAndPrefixObjects(t *testing.T) {
	lt := openTest(t, nil).LongTerm()
	long := testID(strings.Repeat("s", 700)) // one segment far beyond NAME_MAX (255)
	parent := testID("p/0190")
	child := testID("p/0190/0191")
	putBlob(t, lt, long, object.Metadata{}, []byte("long"))
	putBlob(t, lt, child, object.Metadata{}, []byte("child"))
	putBlob(t, lt, parent, object.Metadata{}, []byte("parent"))
	for _, tc := range []struct {
		id   object.ID
		want string
	}{{long, "long"}, {parent, "parent"}, {child, "child"}} {
		if got, _ := readAll(t, lt, tc.id); string(got) != tc.want {
			t.Fatalf("%s: %q, want %q", tc.id.Key[:min(10, len(tc.id.Key))], got, tc.want)
		}
	}
	keys, err := lt.Keys()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{long.StoragePath(), parent.StoragePath(), child.StoragePath()}
	if len(keys) != 3 {
		t.Fatalf("Keys: %v", keys)
	}
	for _, w := range want {
		found := false
		for _, k := range keys {
			found = found || k == w
		}
		if !found {
			t.Fatalf("Keys %v lacks %q", keys, w)
		}
	}
}

func TestLongTerm_TTIBump_InPlace_NeverAltersReplacementOrResurrects(t *testing.T) {
	clk := newClock()
	b := openTest(t, &Options{Now: clk.Now})
	lt := b.LongTerm()
	ctx := t.Context()
	tti := func() object.Metadata {
		return object.Metadata{ExpirationPolicy: object.TTI(time.Hour), TimeExpires: clk.Now().Add(time.Hour)}
	}

	// A plain bump: Get returns the pre-bump deadline, Head then shows the new one.
	id := testID("tti")
	md0 := tti()
	putBlob(t, lt, id, md0, []byte("abc"))
	clk.Add(30 * time.Minute)
	if _, md := readAll(t, lt, id); !md.TimeExpires.Equal(md0.TimeExpires) {
		t.Fatalf("Get returned %v, want pre-bump %v", md.TimeExpires, md0.TimeExpires)
	}
	if md, err := lt.Head(ctx, id); err != nil || !md.TimeExpires.Equal(clk.Now().Add(time.Hour)) || md.Size != 3 {
		t.Fatalf("Head after bump: %+v, %v; want deadline %v", md, err, clk.Now().Add(time.Hour))
	}

	// A bump racing an overwrite leaves the new object's deadline alone.
	clk.Add(30 * time.Minute)
	var replacement object.Metadata
	lt.SetBeforeBump(func(id object.ID) {
		replacement = object.Metadata{ExpirationPolicy: object.TTI(2 * time.Hour), TimeExpires: clk.Now().Add(90 * time.Minute)}
		if err := lt.Put(ctx, id, replacement, strings.NewReader("new")); err != nil {
			t.Errorf("Put in seam: %v", err)
		}
	})
	if got, _ := readAll(t, lt, id); string(got) != "abc" {
		t.Fatalf("reader saw %q, want the version it opened", got)
	}
	lt.SetBeforeBump(nil)
	if md, err := lt.Head(ctx, id); err != nil || !md.TimeExpires.Equal(replacement.TimeExpires) {
		t.Fatalf("replacement deadline %v, %v; want untouched %v", md.TimeExpires, err, replacement.TimeExpires)
	}

	// A bump racing a delete does not bring the object back.
	del := testID("tti-del")
	putBlob(t, lt, del, tti(), []byte("x"))
	clk.Add(40 * time.Minute)
	lt.SetBeforeBump(func(id object.ID) {
		if err := lt.Delete(ctx, id); err != nil {
			t.Errorf("Delete in seam: %v", err)
		}
	})
	if _, err := lt.Head(ctx, del); err != nil {
		t.Fatalf("Head that raced the delete: %v", err)
	}
	lt.SetBeforeBump(nil)
	if _, err := lt.Head(ctx, del); !errors.Is(err, object.ErrNotFound) {
		t.Fatalf("after delete + bump: %v, want ErrNotFound", err)
	}
	keys, _ := lt.Keys()
	for _, k := range keys {
		if k == del.StoragePath() {
			t.Fatalf("deleted blob reappeared on disk")
		}
	}
}

func TestLongTerm_Get_RangeSeeksPastHeader(t *testing.T) {
	lt := openTest(t, nil).LongTerm()
	id := testID("range")
	payload := backendtest.RandomPayload(1 << 20)
	putBlob(t, lt, id, object.Metadata{Custom: map[string]string{"pad": strings.Repeat("m", 5000)}}, payload)
	for _, tc := range []struct {
		rng        object.ByteRange
		start, end int64
	}{
		{object.Bounded(0, 0), 0, 0},
		{object.Bounded(100, 199), 100, 199},
		{object.From(1<<20 - 10), 1<<20 - 10, 1<<20 - 1},
		{object.Last(7), 1<<20 - 7, 1<<20 - 1},
		{object.Bounded(5, 1<<30), 5, 1<<20 - 1},
	} {
		o, err := lt.Get(t.Context(), id, &tc.rng)
		if err != nil {
			t.Fatalf("%+v: %v", tc.rng, err)
		}
		got, err := io.ReadAll(o.Body)
		o.Body.Close()
		if err != nil || !bytes.Equal(got, payload[tc.start:tc.end+1]) {
			t.Fatalf("%+v: %d bytes, %v; want [%d,%d]", tc.rng, len(got), err, tc.start, tc.end)
		}
		if o.Range == nil || o.Range.Start != tc.start || o.Range.End != tc.end || o.Range.Total != 1<<20 {
			t.Fatalf("%+v: content range %+v", tc.rng, o.Range)
		}
	}
}
