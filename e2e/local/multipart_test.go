package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/tiered/object"
)

// TestLocal_Multipart200MiB_SHA256RoundTrip uploads 200 MiB with the SDK (automatic
// multipart: 13 parts of 16 MiB, 4 in parallel) from a deterministic stream, downloads it,
// and compares SHA-256 digests computed while streaming: the payload is never held in
// memory. Afterwards the directory holds exactly one blob, the object's, and no upload.
func TestLocal_Multipart200MiB_SHA256RoundTrip(t *testing.T) {
	const size = 200 << 20
	k := newKeys(t)
	dir := t.TempDir()
	s := start(t, dir, k)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sess := sdk(t, s, k.Full)

	up := sha256.New()
	var uploadID string
	began := time.Now()
	key, err := sess.Put(ctx, "big/200MiB.bin", io.TeeReader(newGen(200, size), up), client.Size(size),
		client.OnUploadStarted(func(_, id string) { uploadID = id }))
	if err != nil {
		t.Fatalf("put 200 MiB: %v", err)
	}
	if uploadID == "" {
		t.Errorf("a 200 MiB put did not go multipart")
	}
	sent := hex.EncodeToString(up.Sum(nil))
	t.Logf("uploaded %s in %v (upload %s…)", mib(size), time.Since(began).Round(time.Millisecond), uploadID[:min(12, len(uploadID))])

	md, err := sess.Head(ctx, key)
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	if md.ContentType != "application/octet-stream" {
		t.Errorf("content type %q", md.ContentType)
	}
	began = time.Now()
	obj, err := sess.Get(ctx, key)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	got, n, err := readDigest(obj.Body)
	obj.Body.Close()
	if err != nil {
		t.Fatalf("reading 200 MiB back after %d bytes: %v", n, err)
	}
	t.Logf("downloaded %s in %v", mib(n), time.Since(began).Round(time.Millisecond))
	if n != size || got != sent {
		t.Fatalf("downloaded %d bytes with SHA-256 %s, uploaded %d with %s", n, got, size, sent)
	}
	// The generator is deterministic: the digest does not depend on the SDK's reading.
	want, _, _ := readDigest(newGen(200, size))
	if sent != want {
		t.Fatalf("the SDK read %s from the generator, which yields %s", sent, want)
	}
	// A ranged read across a part boundary (16 MiB) matches the generator too.
	obj, err = sess.Get(ctx, key, client.Range(16<<20-100, 16<<20+99))
	if err != nil {
		t.Fatalf("ranged get: %v", err)
	}
	rng, _, _ := readDigest(obj.Body)
	obj.Body.Close()
	g := newGen(200, 16<<20+100)
	_, _ = io.CopyN(io.Discard, g, 16<<20-100)
	if wantRng, _, _ := readDigest(g); rng != wantRng {
		t.Errorf("the 200 bytes across the first part boundary differ")
	}

	stopTerm(t, s)
	st := settle(t, dir, k)
	if st.Blobs != 1 || st.Uploads != 0 {
		t.Errorf("after the upload: %d blobs and %d open uploads, want 1 and 0", st.Blobs, st.Uploads)
	}
	checkClean(t, dir, []object.ID{objectID(key)})
}
