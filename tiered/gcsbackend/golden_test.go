package gcsbackend

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/stratastore/strata/tiered/backendtest/golden"
	"github.com/stratastore/strata/tiered/object"
)

// The tests below run one subtest per case of objectstore's golden GCS objects
// (tiered/backendtest/golden, gcs-objects.json), in both directions, on fake-gcs-server.

func goldenObjects(t *testing.T) []golden.GCSObject {
	t.Helper()
	cases, err := golden.GCSObjects()
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

func parseGoldenTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// writeGolden stores c's input the way objectstore did: one upload, or a multipart upload
// completed from c's parts (tiny bodies: the stored resource fields do not depend on them).
func writeGolden(t *testing.T, b *Backend, c golden.GCSObject) object.ID {
	t.Helper()
	id, err := object.ParseStoragePath(c.ObjectName)
	if err != nil {
		t.Fatal(err)
	}
	md, err := c.Input.Metadata.Object()
	if err != nil {
		t.Fatal(err)
	}
	if c.XMLInitiate == nil {
		mustPut(t, b, id, md, []byte("payload"))
		return id
	}
	up := initiate(t, b, id, md)
	var parts []object.CompletedPart
	for _, p := range c.Input.Payload.Parts {
		parts = append(parts, object.CompletedPart{PartNumber: p.PartNumber, ETag: up.part(p.PartNumber, []byte{byte('a' + p.PartNumber)})})
	}
	up.complete(parts)
	return id
}

// allowedKey reports whether objectstore's strict reader accepts a GCS metadata key.
func allowedKey(k string) bool {
	return k == keyExpiration || k == keyOrigin || k == keyFilename || strings.HasPrefix(k, customPrefix)
}

// TestGolden_Write: for every object objectstore's current writer made, Strata's upload
// (single or multipart, as objectstore's was) stores the same resource fields: the metadata
// map, contentType and contentEncoding exactly, and customTime rounded up to a whole second:
// never before objectstore's, less than a second after the deadline (doc.go, "customTime
// precision").
func TestGolden_Write(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{Now: newClock(golden.Now).Now})
	for _, c := range goldenObjects(t) {
		t.Run(c.Name, func(t *testing.T) {
			if c.Input == nil {
				if strings.HasPrefix(c.WrittenBy, "current objectstore") {
					t.Fatal("a current-writer object without input")
				}
				return // another writer's object: TestGolden_Read covers it
			}
			id := writeGolden(t, b, c)
			a := f.attrs(t, id.StoragePath())
			want := c.Resource
			if !maps.Equal(a.Metadata, want.Metadata) {
				t.Errorf("metadata\n got %q\nwant %q", a.Metadata, want.Metadata)
			}
			if a.ContentType != want.ContentType || a.ContentEncoding != want.ContentEncoding {
				t.Errorf("contentType %q contentEncoding %q, want %q %q", a.ContentType, a.ContentEncoding, want.ContentType, want.ContentEncoding)
			}
			for k := range a.Metadata {
				if !allowedKey(k) {
					t.Errorf("metadata key %q would make objectstore's read fail", k)
				}
			}
			if want.CustomTime == "" {
				if !a.CustomTime.IsZero() {
					t.Errorf("customTime %v, want none", a.CustomTime)
				}
				return
			}
			deadline := parseGoldenTime(t, *c.Input.Metadata.TimeExpires)
			// objectstore's customTime as written: its upload JSON's, else (XML multipart) the
			// resource's, which a later bump has not moved.
			theirs := parseGoldenTime(t, want.CustomTime)
			if c.UploadJSON != nil {
				var up struct {
					CustomTime string `json:"customTime"`
				}
				if err := json.Unmarshal([]byte(*c.UploadJSON), &up); err != nil {
					t.Fatal(err)
				}
				theirs = parseGoldenTime(t, up.CustomTime)
			}
			if !a.CustomTime.Equal(customTime(deadline)) || a.CustomTime.Before(theirs) || !a.CustomTime.Before(deadline.Add(time.Second)) {
				t.Errorf("customTime %v, want %v (objectstore's %v, deadline %v)", a.CustomTime, customTime(deadline), theirs, deadline)
			}
		})
	}
}

// TestGolden_NoForeignMetadataKeys: an object Strata writes with every field set, through
// Put and through CompleteMultipart, carries no metadata key beyond x-sn-expiration,
// x-sn-origin, x-sn-filename and x-snme-*, so objectstore's strict reader accepts it.
func TestGolden_NoForeignMetadataKeys(t *testing.T) {
	f := newFake(t)
	now := golden.Now
	b := f.backend(t, Options{Now: newClock(now).Now})
	md := object.Metadata{
		ExpirationPolicy: object.TTI(time.Hour + 250*time.Millisecond), TimeCreated: now,
		TimeExpires: now.Add(time.Hour + 250*time.Millisecond), ContentType: "text/plain",
		Compression: object.CompressionZstd, Origin: "203.0.113.7", Filename: "a.txt", Size: -1,
		Custom: map[string]string{"k": "v", "sdk.name": "x"},
	}
	for _, multipart := range []bool{false, true} {
		id := testID("foreign-keys")
		if multipart {
			id = testID("foreign-keys-multipart")
			up := initiate(t, b, id, md)
			up.complete([]object.CompletedPart{{PartNumber: 1, ETag: up.part(1, []byte("body"))}})
		} else {
			mustPut(t, b, id, md, []byte("body"))
		}
		a := f.attrs(t, id.StoragePath())
		if len(a.Metadata) != 5 {
			t.Errorf("multipart=%v: metadata %q, want exactly objectstore's 5 keys", multipart, a.Metadata)
		}
		for k := range a.Metadata {
			if !allowedKey(k) {
				t.Errorf("multipart=%v: metadata key %q would make objectstore's read fail", multipart, k)
			}
		}
	}
}

// seedGoldenObject stores c's object resource as GCS returns it: the same metadata, content
// type and encoding, customTime, timeCreated and size.
func seedGoldenObject(t *testing.T, f *fake, c golden.GCSObject) object.ID {
	t.Helper()
	r := c.Resource
	attrs := fakestorage.ObjectAttrs{
		BucketName: testBucket, Name: r.Name, ContentType: r.ContentType, ContentEncoding: r.ContentEncoding,
		Created: parseGoldenTime(t, r.TimeCreated), Metadata: r.Metadata,
	}
	if r.CustomTime != "" {
		attrs.CustomTime = parseGoldenTime(t, r.CustomTime)
	}
	var size int
	for _, ch := range r.Size {
		size = size*10 + int(ch-'0')
	}
	f.srv.CreateObject(fakestorage.Object{ObjectAttrs: attrs, Content: make([]byte, size)})
	id, err := object.ParseStoragePath(r.Name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestGolden_Read: every object (objectstore's and other writers') reads in Strata as
// objectstore reads it at the fixtures' Now: the same metadata, byte for byte in objectstore's
// JSON form, or not found. Where objectstore fails, Strata fails too, except for unknown
// metadata keys, which Strata ignores by design (doc.go): it then reads the known fields.
func TestGolden_Read(t *testing.T) {
	f := newFake(t)
	b := f.backend(t, Options{Now: newClock(golden.Now).Now})
	for _, c := range goldenObjects(t) {
		t.Run(c.Name, func(t *testing.T) {
			id := seedGoldenObject(t, f, c)
			md, err := b.Head(context.Background(), id)
			want := c.Reading
			switch want.Kind {
			case "object":
				if err != nil {
					t.Fatal(err)
				}
				wantJSON := want.MetadataJSON
				if ct := c.Resource.CustomTime; ct != "" && !parseGoldenTime(t, ct).Equal(parseGoldenTime(t, ct).Truncate(time.Microsecond)) {
					// fake-gcs-server keeps customTime to the microsecond only; objectstore's
					// reading keeps the resource's nanoseconds. Compare at the fake's precision.
					var w object.Metadata
					if err := w.UnmarshalJSON([]byte(wantJSON)); err != nil {
						t.Fatal(err)
					}
					w.TimeExpires = w.TimeExpires.Truncate(time.Microsecond)
					wantJSON = string(w.AppendJSON(nil))
				}
				if got := string(md.AppendJSON(nil)); got != wantJSON {
					t.Errorf("metadata\n got %s\nwant %s", got, wantJSON)
				}
			case "notfound":
				if !errors.Is(err, object.ErrNotFound) {
					t.Errorf("Head = %v, want ErrNotFound", err)
				}
			case "error":
				if want.Error.HTTPStatus == 400 {
					// A bad x-sn-expiration: a metadata error in both (HTTP 400).
					if !errors.Is(err, object.ErrInvalidArgument) {
						t.Errorf("Head = %+v, %v; want ErrInvalidArgument (objectstore: %s)", md, err, want.Error.ServiceError)
					}
					return
				}
				// Foreign keys: objectstore fails (500), Strata reads the known fields.
				if err != nil {
					t.Fatalf("Head: %v (unknown keys must not fail the read)", err)
				}
				for k, v := range c.Resource.Metadata {
					if name, ok := strings.CutPrefix(k, customPrefix); ok && md.Custom[name] != v {
						t.Errorf("custom %q = %q, want %q", name, md.Custom[name], v)
					}
				}
			default:
				t.Fatalf("unknown reading kind %q", want.Kind)
			}
		})
	}
}
