package topology

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigtable"
	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/tiered/backendtest/golden"
)

// The cutover rehearsal (README "Differences from objectstore", the cutover runbook): the
// deployed topology reads what objectstore wrote, and objectstore's reading rules read what
// the deployed topology wrote. objectstore's rules are osreader_test.go, checked first
// against objectstore's own recorded readings (TestObjectstoreReader_MatchesFixtures), so
// that the rehearsal checks objectstore's behaviour and not only Strata's copy of it.

// fixtureCells converts a fixture row's cells; a "server" timestamp becomes 0.
func fixtureCells(r golden.BigtableRow) []osCell {
	var cells []osCell
	for _, c := range r.Cells {
		cells = append(cells, osCell{family: c.Family, qualifier: c.Qualifier, micros: c.Micros(), value: c.Value()})
	}
	return cells
}

func fixtureResource(o golden.GCSObject) osResource {
	return osResource{
		contentType: o.Resource.ContentType, contentEncoding: o.Resource.ContentEncoding,
		customTime: o.Resource.CustomTime, timeCreated: o.Resource.TimeCreated, metadata: o.Resource.Metadata,
	}
}

// checkReading compares the independent reader's result with objectstore's recorded one.
func checkReading(t *testing.T, got osReading, want golden.Reading) {
	t.Helper()
	if got.kind != want.Kind {
		t.Fatalf("kind %s (%s), objectstore read %s", got.kind, got.err, want.Kind)
	}
	switch want.Kind {
	case "object":
		var wantH [][2]string
		if want.HeadersError == nil {
			wantH = want.Headers
		}
		if !slices.Equal(got.headers, wantH) {
			t.Errorf("headers\n got %q\nwant %q", got.headers, wantH)
		}
	case "tombstone":
		if got.target != want.TargetStoragePath {
			t.Errorf("target %q, objectstore read %q", got.target, want.TargetStoragePath)
		}
	}
}

// TestObjectstoreReader_MatchesFixtures validates the rehearsal's reader against every
// reading objectstore recorded in the golden fixtures, one subtest per case, and its
// duration and policy grammar against objectstore's tables.
func TestObjectstoreReader_MatchesFixtures(t *testing.T) {
	rows, err := golden.BigtableRows()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := golden.GCSObjects()
	if err != nil {
		t.Fatal(err)
	}
	exp, err := golden.ExpirationTables()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		t.Run("bigtable/"+r.Name, func(t *testing.T) {
			checkReading(t, osReadRow(r.RowKey, fixtureCells(r), golden.Now), r.Reading)
		})
	}
	for _, o := range objs {
		t.Run("gcs/"+o.Name, func(t *testing.T) {
			checkReading(t, osReadGCS(fixtureResource(o), golden.Now), o.Reading)
		})
	}
	t.Run("expiration", func(t *testing.T) {
		for _, d := range exp.DurationFormat {
			if got := osFormatDuration(d.Duration.Secs, d.Duration.Nanos); got != d.Formatted {
				t.Errorf("format %+v = %q, objectstore %q", d.Duration, got, d.Formatted)
			}
		}
		for _, p := range exp.DurationParse {
			secs, nanos, err := osParseDuration(p.Input)
			if (err == nil) != p.OK {
				t.Errorf("duration %q: error %v, objectstore ok=%v", p.Input, err, p.OK)
			} else if err == nil && osFormatDuration(secs, nanos) != p.FormattedAgain {
				t.Errorf("duration %q, format again = %q, objectstore %q", p.Input, osFormatDuration(secs, nanos), p.FormattedAgain)
			}
		}
		for _, p := range exp.PolicyParse {
			var m osMeta
			err := osParsePolicy(p.Input, &m)
			if (err == nil) != p.OK {
				t.Errorf("parse %q: error %v, objectstore ok=%v", p.Input, err, p.OK)
				continue
			}
			if err == nil {
				got := "manual"
				if m.policyKind != "" {
					got = m.policyKind + ":" + osFormatDuration(m.policySecs, m.policyNanos)
				}
				if got != p.FormattedAgain {
					t.Errorf("parse %q, format again = %q, objectstore %q", p.Input, got, p.FormattedAgain)
				}
			}
		}
	})
}

// shift is how far the rehearsal moves the fixtures' deadlines: their Now becomes a moment
// 10 s from the start of the test, so that a fixture's "live" stays live while the test runs
// and "expired" stays expired (whole milliseconds, as Bigtable timestamps are).
func shift() time.Duration {
	return time.Until(golden.Now.Add(-10*time.Second)).Truncate(time.Millisecond) * -1
}

// strataHeaders GETs key through the front door with a pre-signed URL and returns the status
// and the metadata headers (content-type, content-encoding, x-sn-*, x-snme-*).
func strataHeaders(t *testing.T, s *client.Session, key string) (int, [][2]string) {
	t.Helper()
	u, err := s.PresignGet(key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	var h [][2]string
	for name, vs := range res.Header {
		name = strings.ToLower(name)
		if name == "content-type" || name == "content-encoding" || strings.HasPrefix(name, "x-sn-") || strings.HasPrefix(name, "x-snme-") {
			for _, v := range vs {
				h = append(h, [2]string{name, v})
			}
		}
	}
	return res.StatusCode, h
}

// shiftHeaders moves x-sn-time-expires by d, as the rehearsal moved the deadlines.
func shiftHeaders(t *testing.T, h [][2]string, d time.Duration) [][2]string {
	out := slices.Clone(h)
	for i, kv := range out {
		if kv[0] == "x-sn-time-expires" {
			v, err := time.Parse(time.RFC3339Nano, kv[1])
			if err != nil {
				t.Fatal(err)
			}
			out[i][1] = osTimeHeader(v.Add(d))
		}
	}
	return out
}

// writeCells writes a fixture row at rowKey as objectstore does (cells in order, "server"
// timestamps as ServerTime), with fg timestamps moved by d.
func writeCells(t *testing.T, rowKey string, cells []osCell, d time.Duration) {
	t.Helper()
	m := bigtable.NewMutation()
	m.DeleteRow()
	for _, c := range cells {
		ts := bigtable.ServerTime
		if c.family == "fg" {
			ts = bigtable.Time(time.UnixMicro(c.micros).Add(d))
		}
		m.Set(c.family, c.qualifier, ts, c.value)
	}
	if err := topo.btData.Open(objectsTable).Apply(context.Background(), rowKey, m); err != nil {
		t.Fatalf("write row %q: %v", rowKey, err)
	}
}

// resourceOf reads a GCS object's resource back, as objectstore's reader would get it.
func resourceOf(t *testing.T, name string) osResource {
	t.Helper()
	a, err := topo.gcs.Bucket(bucket).Object(name).Attrs(context.Background())
	if err != nil {
		t.Fatalf("GCS object %q: %v", name, err)
	}
	r := osResource{contentType: a.ContentType, contentEncoding: a.ContentEncoding, metadata: a.Metadata}
	if !a.Created.IsZero() {
		r.timeCreated = a.Created.Format(time.RFC3339Nano)
	}
	if !a.CustomTime.IsZero() {
		r.customTime = a.CustomTime.Format(time.RFC3339Nano)
	}
	return r
}

// TestCutover_ObjectstoreToStrata writes every golden fixture in objectstore's exact stored
// form straight into the emulator Bigtable and fake GCS, then reads it through the front
// door: Strata must answer with the headers objectstore derives (one subtest per case).
// Deadlines move by shift(), and so does x-sn-time-expires. Bigtable tombstones get a
// long-term object at their target; GCS objects get objectstore's manual tombstone row.
func TestCutover_ObjectstoreToStrata(t *testing.T) {
	rows, err := golden.BigtableRows()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := golden.GCSObjects()
	if err != nil {
		t.Fatal(err)
	}
	d := shift()
	rowSession := topo.sdk(t).Usecase("attachments").Scope("org", "17").Scope("project", "42")
	for _, r := range rows {
		t.Run("bigtable/"+r.Name, func(t *testing.T) {
			cells := fixtureCells(r)
			writeCells(t, r.RowKey, cells, d)
			key := strings.TrimPrefix(r.RowKey, "attachments/org.17/project.42/objects/")
			want := r.Reading
			wantHeaders := shiftHeaders(t, want.Headers, d)
			if want.Kind == "tombstone" {
				// The long-term object a tombstone leads to: a plain objectstore upload.
				topo.gcsFake.CreateObject(fakestorage.Object{
					ObjectAttrs: fakestorage.ObjectAttrs{BucketName: bucket, Name: want.TargetStoragePath, ContentType: "text/plain"},
					Content:     []byte("long-term payload"),
				})
				lt := osReadGCS(resourceOf(t, want.TargetStoragePath), time.Now())
				if lt.kind != "object" {
					t.Fatalf("objectstore reads the target as %s (%s)", lt.kind, lt.err)
				}
				wantHeaders = lt.headers
			}
			status, got := strataHeaders(t, rowSession, key)
			switch {
			case want.Kind == "notfound":
				if status != http.StatusNotFound {
					t.Errorf("status %d, objectstore: not found", status)
				}
				return
			case want.Kind == "error":
				if status != want.Error.HTTPStatus {
					t.Errorf("status %d, objectstore %d", status, want.Error.HTTPStatus)
				}
				return
			case want.HeadersError != nil:
				// objectstore answers 400 for a custom key that is no header name; Strata leaves
				// that header out (API.md §15 item 28).
				if status != http.StatusOK {
					t.Fatalf("status %d, want 200", status)
				}
				return
			}
			if status != http.StatusOK {
				t.Fatalf("status %d, objectstore reads %s", status, want.Kind)
			}
			if g, w := headerMultiset(got), headerMultiset(wantHeaders); !slices.Equal(g, w) {
				t.Errorf("Strata's headers\n %q\nobjectstore's\n %q", g, w)
			}
		})
	}
	gcsSession := topo.sdk(t).Usecase("attachments").Scope("org", "17").Scope("gcs", "1")
	for _, o := range objs {
		t.Run("gcs/"+o.Name, func(t *testing.T) {
			// The same object under a scope of its own, so that its tombstone row cannot meet a
			// Bigtable fixture's; the name does not take part in the reading.
			name := strings.Replace(o.ObjectName, "/project.42/", "/gcs.1/", 1)
			base := name[:strings.LastIndexByte(name, '/')]
			key := strings.TrimPrefix(base, "attachments/org.17/gcs.1/objects/")
			attrs := fakestorage.ObjectAttrs{
				BucketName: bucket, Name: name, ContentType: o.Resource.ContentType,
				ContentEncoding: o.Resource.ContentEncoding, Metadata: o.Resource.Metadata,
			}
			var err error
			if attrs.Created, err = time.Parse(time.RFC3339Nano, o.Resource.TimeCreated); err != nil {
				t.Fatal(err)
			}
			if o.Resource.CustomTime != "" {
				ct, err := time.Parse(time.RFC3339Nano, o.Resource.CustomTime)
				if err != nil {
					t.Fatal(err)
				}
				attrs.CustomTime = ct.Add(d)
			}
			topo.gcsFake.CreateObject(fakestorage.Object{ObjectAttrs: attrs, Content: bytes.Repeat([]byte("x"), 4096)})
			// objectstore's manual tombstone (the tombstone_manual fixture's form).
			writeCells(t, base, []osCell{{family: "fm", qualifier: "r", value: []byte(name)}, {family: "fm", qualifier: "t", value: []byte("{}")}}, d)

			status, got := strataHeaders(t, gcsSession, key)
			want := o.Reading
			switch want.Kind {
			case "notfound":
				if status != http.StatusNotFound {
					t.Errorf("status %d, objectstore: not found", status)
				}
				return
			case "error":
				if want.Error.HTTPStatus == http.StatusInternalServerError {
					// A metadata key objectstore does not know fails its read; Strata ignores the
					// key (API.md §15 item 27) and answers with everything else.
					filtered := fixtureResource(o)
					filtered.metadata = map[string]string{}
					for k, v := range o.Resource.Metadata {
						if k == "x-sn-expiration" || k == "x-sn-origin" || k == "x-sn-filename" || strings.HasPrefix(k, "x-snme-") {
							filtered.metadata[k] = v
						}
					}
					if filtered.customTime != "" {
						ct, _ := time.Parse(time.RFC3339Nano, filtered.customTime)
						filtered.customTime = ct.Add(d).Format(time.RFC3339Nano)
					}
					lenient := osReadGCS(filtered, time.Now())
					if status != http.StatusOK || !slices.Equal(headerMultiset(got), headerMultiset(lenient.headers)) {
						t.Errorf("status %d, headers %q; want 200 with %q", status, got, lenient.headers)
					}
					return
				}
				if status != want.Error.HTTPStatus {
					t.Errorf("status %d, objectstore %d (%s)", status, want.Error.HTTPStatus, want.Error.ServiceError)
				}
				return
			}
			if status != http.StatusOK {
				t.Fatalf("status %d, objectstore reads an object", status)
			}
			if g, w := headerMultiset(got), headerMultiset(shiftHeaders(t, want.Headers, d)); !slices.Equal(g, w) {
				t.Errorf("Strata's headers\n %q\nobjectstore's\n %q", g, w)
			}
		})
	}
}

// TestCutover_StrataToObjectstore writes objects through the front door, small and large,
// with every kind of metadata and through a multipart complete, then reads the stored row
// (and its GCS object) with objectstore's rules: objectstore must derive the headers that
// were written and that Strata itself answers. On GCS, objectstore's strict reader fails on
// any metadata key beyond x-sn-expiration, x-sn-origin, x-sn-filename and x-snme-*.
func TestCutover_StrataToObjectstore(t *testing.T) {
	sc := scope(t)
	c := topo.sdk(t, client.WithCompression(false), client.WithMultipart(3<<20, 1<<20, 2))
	s := c.Usecase(usecase).Scope("run", sc)
	every := []client.PutOption{
		client.ContentType("application/json; charset=utf-8"), client.Expires(client.TTL(90 * time.Minute)),
		client.Origin("203.0.113.7 <&>"), client.Filename("crash report.json"),
		client.Meta("build_id", "a1b2c3"), client.Meta("note", "a<b>&c'd"),
	}
	random := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	for _, tc := range []struct {
		name    string
		size    int
		opts    []client.PutOption
		large   bool
		written [][2]string // headers the write must leave, besides time-created and time-expires
	}{
		{"small_default", 100, nil, false, [][2]string{{"content-type", "application/octet-stream"}}},
		{"small_every_field", 1000, every, false, [][2]string{
			{"content-type", "application/json; charset=utf-8"}, {"x-sn-expiration", "ttl:1h 30m"},
			{"x-sn-origin", "203.0.113.7 <&>"}, {"x-sn-filename", "crash report.json"},
			{"x-snme-build_id", "a1b2c3"}, {"x-snme-note", "a<b>&c'd"}}},
		{"small_tti", 10, []client.PutOption{client.Expires(client.TTI(30*24*time.Hour + 500*time.Millisecond))}, false, [][2]string{
			{"content-type", "application/octet-stream"}, {"x-sn-expiration", "tti:30days 500ms"}}},
		{"large_every_field", 2 << 20, every, true, nil},
		{"multipart_complete_every_field", 5 << 20, every, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			key := "cutover/" + tc.name
			if _, err := s.Put(ctx, key, bytes.NewReader(random(tc.size)), tc.opts...); err != nil {
				t.Fatal(err)
			}
			// The SDK uploads in parts above 3 MiB here: the last case must be a multipart complete.
			// The request log line is written after the response is sent, so wait for it a
			// little when it is expected.
			multipart := strings.HasPrefix(tc.name, "multipart")
			completeURL := `"requestUrl":"/v1/objects:multipart:complete/` + usecase + "/run=" + sc + "/" + key + `"`
			completes := len(logLines(topo.fns["multipart-complete"].logs(), completeURL))
			if multipart {
				completes = len(logLinesSoon(topo.fns["multipart-complete"], 1, completeURL))
			}
			if (completes > 0) != multipart {
				t.Fatalf("%d multipart completes logged for %s", completes, key)
			}
			row, err := topo.btData.Open(objectsTable).ReadRow(ctx, objectID(sc, key).StoragePath())
			if err != nil {
				t.Fatal(err)
			}
			var cells []osCell
			for _, items := range row {
				for _, it := range items {
					fam, q, _ := strings.Cut(it.Column, ":")
					cells = append(cells, osCell{family: fam, qualifier: q, micros: int64(it.Timestamp), value: it.Value})
				}
			}
			read := osReadRow(row.Key(), cells, time.Now())
			if tc.large {
				if read.kind != "tombstone" {
					t.Fatalf("objectstore reads the row as %s (%s), want a tombstone", read.kind, read.err)
				}
				res := resourceOf(t, read.target)
				read = osReadGCS(res, time.Now())
				for k := range res.metadata {
					if !(k == "x-sn-expiration" || k == "x-sn-origin" || k == "x-sn-filename" || strings.HasPrefix(k, "x-snme-")) {
						t.Errorf("GCS metadata key %q", k)
					}
				}
			}
			if read.kind != "object" || read.headers == nil {
				t.Fatalf("objectstore reads %s (%s), headers %q", read.kind, read.err, read.headers)
			}
			status, got := strataHeaders(t, s, key)
			if status != http.StatusOK {
				t.Fatalf("Strata: status %d", status)
			}
			if g, w := headerMultiset(got), headerMultiset(read.headers); !slices.Equal(g, w) {
				t.Errorf("Strata answers\n %q\nobjectstore would answer\n %q", g, w)
			}
			written := tc.written
			if written == nil {
				written = [][2]string{
					{"content-type", "application/json; charset=utf-8"}, {"x-sn-expiration", "ttl:1h 30m"},
					{"x-sn-origin", "203.0.113.7 <&>"}, {"x-sn-filename", "crash report.json"},
					{"x-snme-build_id", "a1b2c3"}, {"x-snme-note", "a<b>&c'd"}}
			}
			var rest [][2]string
			var created, expires string
			for _, kv := range read.headers {
				switch kv[0] {
				case "x-sn-time-created":
					created = kv[1]
				case "x-sn-time-expires":
					expires = kv[1]
				default:
					rest = append(rest, kv)
				}
			}
			if !slices.Equal(headerMultiset(rest), headerMultiset(written)) {
				t.Errorf("objectstore reads\n %q\nwritten\n %q", rest, written)
			}
			ct, err := time.Parse(time.RFC3339Nano, created)
			if err != nil || time.Since(ct) > time.Minute || time.Since(ct) < -time.Minute {
				t.Errorf("x-sn-time-created %q (%v)", created, err)
			}
			if hasPolicy := slices.ContainsFunc(written, func(kv [2]string) bool { return kv[0] == "x-sn-expiration" }); hasPolicy != (expires != "") {
				t.Errorf("x-sn-time-expires %q with policy %v", expires, hasPolicy)
			}
		})
	}
}
