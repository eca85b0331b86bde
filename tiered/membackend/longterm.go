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
)

// LongTerm is an in-memory driver.Multipart (and so driver.LongTerm). The zero value is not
// usable; call NewLongTerm.
type LongTerm struct {
	now func() time.Time

	mu      sync.Mutex
	objects map[string]*object // by storage path
	uploads map[string]*upload // by upload id
}

var (
	_ driver.LongTerm  = (*LongTerm)(nil)
	_ driver.Multipart = (*LongTerm)(nil)
)

type object struct {
	md   driver.Metadata
	data []byte
}

type upload struct {
	key   string // storage path of the final object
	md    driver.Metadata
	parts map[int]*part
}

type part struct {
	data     []byte
	etag     string
	modified time.Time
}

// NewLongTerm returns an empty backend.
func NewLongTerm(opts *Options) *LongTerm {
	return &LongTerm{now: opts.clock(), objects: map[string]*object{}, uploads: map[string]*upload{}}
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
func (l *LongTerm) Put(ctx context.Context, id driver.ObjectID, md driver.Metadata, body io.Reader) error {
	data, err := readAll(ctx, body, -1)
	if err != nil {
		return err
	}
	md = md.Clone()
	md.Size = int64(len(data))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.objects[id.StoragePath()] = &object{md: md, data: data}
	return nil
}

// liveObject returns the object at id if it is stored and not expired at now, bumping a due
// TTI deadline. It returns the pre-bump metadata. Callers hold l.mu.
func (l *LongTerm) liveObject(id driver.ObjectID) (*object, driver.Metadata, error) {
	now := l.now()
	o := l.objects[id.StoragePath()]
	if o == nil || o.md.Expired(now) {
		return nil, driver.Metadata{}, fmt.Errorf("%w: %s", driver.ErrNotFound, id)
	}
	md := o.md.Clone()
	// Under the lock the bump is atomic with the read, so it cannot revert a concurrent Put.
	if next, ok := o.md.ExpirationPolicy.TTIBump(o.md.TimeExpires, now); ok {
		o.md.TimeExpires = next
	}
	return o, md, nil
}

// Get returns the object at id, or the range rng of it.
func (l *LongTerm) Get(ctx context.Context, id driver.ObjectID, rng *driver.ByteRange) (*driver.Object, error) {
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
	var cr *driver.ContentRange
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
	return &driver.Object{Metadata: md, Range: cr, Body: io.NopCloser(bytes.NewReader(slices.Clone(data)))}, nil
}

// Head returns the metadata of the object at id.
func (l *LongTerm) Head(ctx context.Context, id driver.ObjectID) (driver.Metadata, error) {
	if err := ctx.Err(); err != nil {
		return driver.Metadata{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, md, err := l.liveObject(id)
	return md, err
}

// Delete removes the object at id; a missing object is not an error.
func (l *LongTerm) Delete(ctx context.Context, id driver.ObjectID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.objects, id.StoragePath())
	return nil
}

// InitiateMultipart starts an upload of the object at id with metadata md.
func (l *LongTerm) InitiateMultipart(ctx context.Context, id driver.ObjectID, md driver.Metadata) (string, error) {
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
func (l *LongTerm) upload(id driver.ObjectID, uploadID string) (*upload, error) {
	u := l.uploads[uploadID]
	if u == nil || u.key != id.StoragePath() {
		return nil, fmt.Errorf("%w: upload %q of %s", driver.ErrNotFound, uploadID, id)
	}
	return u, nil
}

// ETag returns the ETag this backend gives a part holding data: its quoted hex MD5.
func ETag(data []byte) string {
	sum := md5.Sum(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// UploadPart stores part partNumber of an upload; it must be exactly size bytes.
func (l *LongTerm) UploadPart(ctx context.Context, id driver.ObjectID, uploadID string, partNumber int, size int64, body io.Reader) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if partNumber < driver.MinPartNumber || partNumber > driver.MaxPartNumber {
		return "", fmt.Errorf("%w: part number %d is outside %d..%d", driver.ErrInvalidArgument, partNumber, driver.MinPartNumber, driver.MaxPartNumber)
	}
	if size < 0 {
		return "", fmt.Errorf("%w: negative part size %d", driver.ErrInvalidArgument, size)
	}
	if size > driver.MaxPartSize {
		return "", fmt.Errorf("%w: part of %d bytes exceeds %d", driver.ErrTooLarge, size, driver.MaxPartSize)
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
			return "", fmt.Errorf("%w: part body is longer than the declared %d bytes", driver.ErrInvalidArgument, size)
		}
		return "", fmt.Errorf("%w: part body has %d bytes, declared %d", driver.ErrInvalidArgument, len(data), size)
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
func (l *LongTerm) ListParts(ctx context.Context, id driver.ObjectID, uploadID string, maxParts, marker int) (driver.PartList, error) {
	if err := ctx.Err(); err != nil {
		return driver.PartList{}, err
	}
	if maxParts < 0 {
		return driver.PartList{}, fmt.Errorf("%w: negative maxParts %d", driver.ErrInvalidArgument, maxParts)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	u, err := l.upload(id, uploadID)
	if err != nil {
		return driver.PartList{}, err
	}
	var list driver.PartList
	for _, n := range slices.Sorted(maps.Keys(u.parts)) {
		if n <= marker {
			continue
		}
		if maxParts > 0 && len(list.Parts) == maxParts {
			list.IsTruncated = true
			break
		}
		p := u.parts[n]
		list.Parts = append(list.Parts, driver.Part{PartNumber: n, ETag: p.etag, LastModified: p.modified, Size: int64(len(p.data))})
		list.NextPartNumberMarker = n
	}
	return list, nil
}

// unquote strips the quotes of an ETag, so that "abc" and abc match as S3 allows.
func unquote(etag string) string {
	return strings.TrimSuffix(strings.TrimPrefix(etag, `"`), `"`)
}

// CompleteMultipart assembles the listed parts into the object and ends the upload. A bad
// part list is a *driver.CompleteError that leaves the upload in place.
func (l *LongTerm) CompleteMultipart(ctx context.Context, id driver.ObjectID, uploadID string, parts []driver.CompletedPart) (*driver.CompleteError, error) {
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
		return nil, fmt.Errorf("%w: complete lists no parts", driver.ErrInvalidArgument)
	}
	total := 0
	for i, cp := range parts {
		if i > 0 && cp.PartNumber <= parts[i-1].PartNumber {
			return &driver.CompleteError{Code: "InvalidPartOrder", Message: fmt.Sprintf("part %d is listed after part %d; parts must be in strictly ascending order", cp.PartNumber, parts[i-1].PartNumber)}, nil
		}
		p := u.parts[cp.PartNumber]
		if p == nil {
			return &driver.CompleteError{Code: "InvalidPart", Message: fmt.Sprintf("part %d was not uploaded", cp.PartNumber)}, nil
		}
		if unquote(cp.ETag) != unquote(p.etag) {
			return &driver.CompleteError{Code: "InvalidPart", Message: fmt.Sprintf("part %d has ETag %s, not %s", cp.PartNumber, p.etag, cp.ETag)}, nil
		}
		total += len(p.data)
	}
	data := make([]byte, 0, total)
	for _, cp := range parts {
		data = append(data, u.parts[cp.PartNumber].data...)
	}
	md := u.md.Clone()
	md.Size = int64(len(data))
	l.objects[u.key] = &object{md: md, data: data}
	delete(l.uploads, uploadID)
	return nil, nil
}

// AbortMultipart drops an upload and its parts; an unknown upload is not an error.
func (l *LongTerm) AbortMultipart(ctx context.Context, id driver.ObjectID, uploadID string) error {
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
