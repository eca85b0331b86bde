package membackend

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// LongTerm is an in-memory driver.Multipart (and so driver.LongTerm). The zero value is not
// usable; get one from Open.
type LongTerm struct {
	now func() time.Time

	mu      sync.Mutex
	objects map[string]*stored // by storage path
	uploads map[string]*upload // by upload id
}

var (
	_ driver.LongTerm  = (*LongTerm)(nil)
	_ driver.Multipart = (*LongTerm)(nil)
)

type stored struct {
	md   object.Metadata
	data []byte
}

type upload struct {
	key   string // storage path of the final object
	md    object.Metadata
	parts map[int]*part
}

type part struct {
	data     []byte
	etag     string
	modified time.Time
}

// Name returns "memory".
func (l *LongTerm) Name() string { return Name }

// Keys returns the storage paths of all stored objects, expired ones included, sorted.
// Multipart parts are not objects and are not listed.
func (l *LongTerm) Keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(maps.Keys(l.objects))
}

// Len returns the number of stored objects, expired ones included.
func (l *LongTerm) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.objects)
}

// Uploads returns the number of open multipart uploads.
func (l *LongTerm) Uploads() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.uploads)
}

// Put reads body to the end and then stores it at id in one step, so a failed or cancelled
// body leaves any previous object untouched.
func (l *LongTerm) Put(ctx context.Context, id object.ID, md object.Metadata, body io.Reader) error {
	data, err := readAll(ctx, body, -1)
	if err != nil {
		return err
	}
	md = md.Clone()
	md.Size = int64(len(data))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.objects[id.StoragePath()] = &stored{md: md, data: data}
	return nil
}

// liveObject returns the object at id if it is stored and not expired at now, bumping a due
// TTI deadline. It returns the pre-bump metadata. Callers hold l.mu.
func (l *LongTerm) liveObject(id object.ID) (*stored, object.Metadata, error) {
	now := l.now()
	o := l.objects[id.StoragePath()]
	if o == nil || o.md.Expired(now) {
		return nil, object.Metadata{}, fmt.Errorf("%w: %s", object.ErrNotFound, id)
	}
	md := o.md.Clone()
	// Under the lock the bump is atomic with the read, so it cannot revert a concurrent Put.
	if next, ok := o.md.ExpirationPolicy.TTIBump(o.md.TimeExpires, now); ok {
		o.md.TimeExpires = next
	}
	return o, md, nil
}

// Get returns the object at id, or the range rng of it.
func (l *LongTerm) Get(ctx context.Context, id object.ID, rng *object.ByteRange) (*object.Reader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	o, md, err := l.liveObject(id)
	if err != nil {
		return nil, err
	}
	data := o.data
	var cr *object.ContentRange
	if rng != nil {
		r, err := rng.Resolve(int64(len(data)))
		if err != nil {
			return nil, err
		}
		cr = &r
		data = data[r.Start : r.End+1]
	}
	// Stored slices are never modified in place (a Put replaces the object), but copy anyway
	// so that a caller writing into the body's buffer cannot reach the store.
	return &object.Reader{Metadata: md, Range: cr, Body: io.NopCloser(bytes.NewReader(slices.Clone(data)))}, nil
}

// Head returns the metadata of the object at id.
func (l *LongTerm) Head(ctx context.Context, id object.ID) (object.Metadata, error) {
	if err := ctx.Err(); err != nil {
		return object.Metadata{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, md, err := l.liveObject(id)
	return md, err
}

// Delete removes the object at id; a missing object is not an error.
func (l *LongTerm) Delete(ctx context.Context, id object.ID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.objects, id.StoragePath())
	return nil
}

// InitiateMultipart starts an upload of the object at id with metadata md.
func (l *LongTerm) InitiateMultipart(ctx context.Context, id object.ID, md object.Metadata) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	uid := uuid.NewString()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.uploads[uid] = &upload{key: id.StoragePath(), md: md.Clone(), parts: map[int]*part{}}
	return uid, nil
}

// upload returns the upload uploadID of the object at id. Callers hold l.mu.
func (l *LongTerm) upload(id object.ID, uploadID string) (*upload, error) {
	u := l.uploads[uploadID]
	if u == nil || u.key != id.StoragePath() {
		return nil, fmt.Errorf("%w: upload %q of %s", object.ErrNotFound, uploadID, id)
	}
	return u, nil
}

// ETag returns the ETag this backend gives a part holding data: its quoted hex MD5.
func ETag(data []byte) string {
	sum := md5.Sum(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// UploadPart stores part partNumber of an upload; it must be exactly size bytes.
func (l *LongTerm) UploadPart(ctx context.Context, id object.ID, uploadID string, partNumber int, size int64, body io.Reader) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if partNumber < object.MinPartNumber || partNumber > object.MaxPartNumber {
		return "", object.Invalidf("part number %d is outside %d..%d", partNumber, object.MinPartNumber, object.MaxPartNumber)
	}
	if size < 0 {
		return "", object.Invalidf("negative part size %d", size)
	}
	if size > object.MaxPartSize {
		return "", fmt.Errorf("%w: part of %d bytes exceeds %d", object.ErrTooLarge, size, object.MaxPartSize)
	}
	l.mu.Lock()
	_, err := l.upload(id, uploadID)
	l.mu.Unlock()
	if err != nil {
		return "", err
	}
	// Read one byte more than declared to tell "exactly size" from "more than size".
	data, err := readAll(ctx, body, size+1)
	if err != nil {
		return "", err
	}
	if int64(len(data)) != size {
		if int64(len(data)) > size {
			return "", object.Invalidf("part body is longer than the declared %d bytes", size)
		}
		return "", object.Invalidf("part body has %d bytes, declared %d", len(data), size)
	}
	etag := ETag(data)
	l.mu.Lock()
	defer l.mu.Unlock()
	// The upload may have been aborted or completed while the body streamed.
	u, err := l.upload(id, uploadID)
	if err != nil {
		return "", err
	}
	u.parts[partNumber] = &part{data: data, etag: etag, modified: l.now()}
	return etag, nil
}

// ListParts lists the parts numbered above marker, at most maxParts of them (0 = all).
func (l *LongTerm) ListParts(ctx context.Context, id object.ID, uploadID string, maxParts, marker int) (object.PartList, error) {
	if err := ctx.Err(); err != nil {
		return object.PartList{}, err
	}
	if maxParts < 0 {
		return object.PartList{}, object.Invalidf("negative maxParts %d", maxParts)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	u, err := l.upload(id, uploadID)
	if err != nil {
		return object.PartList{}, err
	}
	var list object.PartList
	for _, n := range slices.Sorted(maps.Keys(u.parts)) {
		if n <= marker {
			continue
		}
		if maxParts > 0 && len(list.Parts) == maxParts {
			list.IsTruncated = true
			break
		}
		p := u.parts[n]
		list.Parts = append(list.Parts, object.Part{PartNumber: n, ETag: p.etag, LastModified: p.modified, Size: int64(len(p.data))})
		list.NextPartNumberMarker = n
	}
	return list, nil
}

// unquote strips the quotes of an ETag, so that "abc" and abc match as S3 allows.
func unquote(etag string) string {
	return strings.TrimSuffix(strings.TrimPrefix(etag, `"`), `"`)
}

// CompleteMultipart assembles the listed parts into the object and ends the upload. A bad
// part list is a *object.CompleteError that leaves the upload in place.
func (l *LongTerm) CompleteMultipart(ctx context.Context, id object.ID, uploadID string, parts []object.CompletedPart) (*object.CompleteError, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	u, err := l.upload(id, uploadID)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, object.Invalidf("complete lists no parts")
	}
	total := 0
	for i, cp := range parts {
		if i > 0 && cp.PartNumber <= parts[i-1].PartNumber {
			return &object.CompleteError{Code: "InvalidPartOrder", Message: fmt.Sprintf("part %d is listed after part %d; parts must be in strictly ascending order", cp.PartNumber, parts[i-1].PartNumber)}, nil
		}
		p := u.parts[cp.PartNumber]
		if p == nil {
			return &object.CompleteError{Code: "InvalidPart", Message: fmt.Sprintf("part %d was not uploaded", cp.PartNumber)}, nil
		}
		if unquote(cp.ETag) != unquote(p.etag) {
			return &object.CompleteError{Code: "InvalidPart", Message: fmt.Sprintf("part %d has ETag %s, not %s", cp.PartNumber, p.etag, cp.ETag)}, nil
		}
		total += len(p.data)
	}
	data := make([]byte, 0, total)
	for _, cp := range parts {
		data = append(data, u.parts[cp.PartNumber].data...)
	}
	md := u.md.Clone()
	md.Size = int64(len(data))
	l.objects[u.key] = &stored{md: md, data: data}
	delete(l.uploads, uploadID)
	return nil, nil
}

// AbortMultipart drops an upload and its parts; an unknown upload is not an error.
func (l *LongTerm) AbortMultipart(ctx context.Context, id object.ID, uploadID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if u := l.uploads[uploadID]; u != nil && u.key == id.StoragePath() {
		delete(l.uploads, uploadID)
	}
	return nil
}
