package gcsbackend

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"sync"

	"cloud.google.com/go/storage"
	"github.com/google/uuid"
	"github.com/stratastore/strata/tiered/object"
	"google.golang.org/api/iterator"
)

// Layout of an upload; see doc.go.
const (
	// UploadsPrefix is the reserved top-level prefix of multipart uploads. No storage path can
	// start with '~' (it is not a usecase character), so uploads never collide with objects,
	// and one lifecycle rule on this prefix reaps abandoned uploads.
	UploadsPrefix = "~uploads/"
	// MaxComposeSources is GCS's limit of source objects per compose request.
	MaxComposeSources = 32

	metaSuffix     = "meta"
	tmpPrefix      = "tmp-"
	partDigits     = 5
	metaVersion    = 1
	minChunk       = 256 << 10 // the client's chunk granularity
	maxMetaBytes   = 1 << 20
	listPageSize   = 1000
	partEndOffset  = ":" // sorts right after '9' and before the letters of meta and tmp-
	composeWorkers = 4   // parallel intermediate composes of one complete
)

// Codes of the *object.CompleteError results, named as S3 and GCS's XML API name them.
const (
	// CodeInvalidPart: a listed part was not uploaded, has another ETag, or is out of range.
	CodeInvalidPart = "InvalidPart"
	// CodeInvalidPartOrder: the listed part numbers are not strictly ascending.
	CodeInvalidPartOrder = "InvalidPartOrder"
	// CodeMalformed: the request lists no part.
	CodeMalformed = "MalformedXML"
)

func uploadPrefix(uploadID string) string { return UploadsPrefix + uploadID + "/" }

func metaName(uploadID string) string { return uploadPrefix(uploadID) + metaSuffix }

func partName(uploadID string, n int) string {
	return fmt.Sprintf("%s%0*d", uploadPrefix(uploadID), partDigits, n)
}

func tmpName(uploadID string, level, i int) string {
	return fmt.Sprintf("%s%s%d-%05d", uploadPrefix(uploadID), tmpPrefix, level, i)
}

// parsePartName returns the part number of an object name under prefix, or false for meta,
// intermediates and anything else.
func parsePartName(prefix, name string) (int, bool) {
	s, ok := strings.CutPrefix(name, prefix)
	if !ok || len(s) != partDigits {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, _ := strconv.Atoi(s)
	if n < object.MinPartNumber || n > object.MaxPartNumber {
		return 0, false
	}
	return n, true
}

// validUploadID reports whether u is a canonical UUID string, the only form InitiateMultipart
// hands out. Anything else cannot name an upload, and must not reach an object name.
func validUploadID(u string) bool {
	if len(u) != 36 {
		return false
	}
	p, err := uuid.Parse(u)
	return err == nil && p.String() == u
}

// uploadMeta is the JSON body of ~uploads/{id}/meta.
type uploadMeta struct {
	Version int `json:"v"`
	// Target is the storage path the upload completes into.
	Target string `json:"target"`
	// Metadata is the initiate-time metadata, in object.Metadata's objectstore JSON form.
	Metadata object.Metadata `json:"metadata"`
}

// InitiateMultipart records the upload's target and metadata in ~uploads/{id}/meta and returns
// the new upload id, a UUID. See driver.Multipart.
func (b *Backend) InitiateMultipart(ctx context.Context, id object.ID, md object.Metadata) (string, error) {
	target := id.StoragePath()
	// Fail now rather than after every part is uploaded.
	if err := checkMetadataSize(objectAttrs(target, md).Metadata); err != nil {
		return "", err
	}
	u := uuid.NewString()
	data, err := json.Marshal(uploadMeta{Version: metaVersion, Target: target, Metadata: md})
	if err != nil {
		return "", fmt.Errorf("gcsbackend: encode upload meta: %w", err)
	}
	cctx, cancel := b.callCtx(ctx)
	defer cancel()
	attrs := storage.ObjectAttrs{Name: metaName(u), ContentType: "application/json"}
	if _, _, err := b.upload(cctx, attrs, minChunk, bytes.NewReader(data), nil); err != nil {
		return "", err
	}
	return u, nil
}

// readMeta returns the upload's meta; found is false when there is none.
func (b *Backend) readMeta(ctx context.Context, uploadID string) (m uploadMeta, found bool, err error) {
	cctx, cancel := b.callCtx(ctx)
	defer cancel()
	name := metaName(uploadID)
	r, err := b.object(name).NewReader(cctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return uploadMeta{}, false, nil
	}
	if err != nil {
		return uploadMeta{}, false, translate("read", name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxMetaBytes))
	if err != nil {
		return uploadMeta{}, false, translate("read", name, err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return uploadMeta{}, false, fmt.Errorf("gcsbackend: upload meta %q: %w", name, err)
	}
	return m, true, nil
}

// loadMeta returns the meta of an upload that exists and targets id, else ErrNotFound.
func (b *Backend) loadMeta(ctx context.Context, id object.ID, uploadID string) (uploadMeta, error) {
	if !validUploadID(uploadID) {
		return uploadMeta{}, fmt.Errorf("gcsbackend: upload %q: %w", uploadID, object.ErrNotFound)
	}
	m, found, err := b.readMeta(ctx, uploadID)
	if err != nil {
		return uploadMeta{}, err
	}
	if !found || m.Target != id.StoragePath() {
		return uploadMeta{}, fmt.Errorf("gcsbackend: upload %q of %q: %w", uploadID, id.StoragePath(), object.ErrNotFound)
	}
	return m, nil
}

// UploadPart streams one part into ~uploads/{id}/{nnnnn}, replacing an earlier part with the
// same number. The ETag is the quoted hex MD5 of the part, computed while streaming and
// checked against the MD5 GCS reports. Cost: one read of the meta and one upload.
func (b *Backend) UploadPart(ctx context.Context, id object.ID, uploadID string, partNumber int, size int64, body io.Reader) (string, error) {
	if partNumber < object.MinPartNumber || partNumber > object.MaxPartNumber {
		return "", fmt.Errorf("%w: part number %d is outside %d..%d",
			object.ErrInvalidArgument, partNumber, object.MinPartNumber, object.MaxPartNumber)
	}
	if size < 0 {
		return "", object.Invalidf("negative part size %d", size)
	}
	if size > object.MaxPartSize {
		return "", fmt.Errorf("%w: part is %d bytes, more than %d", object.ErrTooLarge, size, object.MaxPartSize)
	}
	if _, err := b.loadMeta(ctx, id, uploadID); err != nil {
		return "", err
	}
	h := md5.New()
	// Reading one byte past size detects a body that is too long.
	src := io.TeeReader(io.LimitReader(body, size+1), h)
	check := func(n int64) error {
		switch {
		case n < size:
			return object.Invalidf("part body has %d bytes, fewer than the declared %d", n, size)
		case n > size:
			return object.Invalidf("part body is longer than the declared %d bytes", size)
		}
		return nil
	}
	// A chunk just large enough for the part keeps small parts from holding a full buffer.
	chunk := min(b.chunkSize, roundUp(size+1, minChunk))
	attrs := storage.ObjectAttrs{Name: partName(uploadID, partNumber), ContentType: object.DefaultContentType}
	stored, _, err := b.upload(ctx, attrs, chunk, src, check)
	if err != nil {
		return "", err
	}
	sum := h.Sum(nil)
	if len(stored.MD5) == md5.Size && !bytes.Equal(stored.MD5, sum) {
		return "", fmt.Errorf("gcsbackend: part %d of %q: GCS stored MD5 %x, sent %x", partNumber, uploadID, stored.MD5, sum)
	}
	return etagOf(sum), nil
}

func etagOf(md5sum []byte) string { return `"` + hex.EncodeToString(md5sum) + `"` }

func normalizeETag(s string) string { return strings.ToLower(strings.Trim(strings.TrimSpace(s), `"`)) }

func roundUp(n int64, m int) int {
	return int((n + int64(m) - 1) / int64(m) * int64(m))
}

// storedPart is one listed part object.
type storedPart struct {
	object.Part
	name       string
	generation int64
}

// listParts lists the parts of an upload with number > marker in ascending order, at most
// limit of them (0 = all), and reports whether more remain. The listing is bounded to the
// part names by StartOffset/EndOffset, and a small limit asks for a small first page.
func (b *Backend) listParts(ctx context.Context, uploadID string, marker, limit int) ([]storedPart, bool, error) {
	if marker >= object.MaxPartNumber {
		return nil, false, nil
	}
	prefix := uploadPrefix(uploadID)
	q := &storage.Query{
		Prefix:      prefix,
		StartOffset: partName(uploadID, max(marker, 0)+1),
		EndOffset:   prefix + partEndOffset,
	}
	if err := q.SetAttrSelection([]string{"Name", "Size", "MD5", "Updated", "Generation"}); err != nil {
		return nil, false, fmt.Errorf("gcsbackend: %w", err)
	}
	cctx, cancel := b.callCtx(ctx)
	defer cancel()
	it := b.bucket.Objects(cctx, q)
	it.PageInfo().MaxSize = listPageSize
	if limit > 0 {
		it.PageInfo().MaxSize = min(limit+1, listPageSize)
	}
	var parts []storedPart
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return parts, false, nil
		}
		if err != nil {
			return nil, false, translate("list", prefix, err)
		}
		n, ok := parsePartName(prefix, a.Name)
		if !ok || n <= marker {
			continue
		}
		if limit > 0 && len(parts) == limit {
			return parts, true, nil
		}
		parts = append(parts, storedPart{
			Part:       object.Part{PartNumber: n, ETag: etagOf(a.MD5), LastModified: a.Updated, Size: a.Size},
			name:       a.Name,
			generation: a.Generation,
		})
	}
}

// ListParts lists the upload's parts with number > marker, at most maxParts (0 = all).
// See driver.Multipart.
func (b *Backend) ListParts(ctx context.Context, id object.ID, uploadID string, maxParts, marker int) (object.PartList, error) {
	if maxParts < 0 {
		return object.PartList{}, object.Invalidf("negative max parts %d", maxParts)
	}
	if _, err := b.loadMeta(ctx, id, uploadID); err != nil {
		return object.PartList{}, err
	}
	stored, truncated, err := b.listParts(ctx, uploadID, marker, maxParts)
	if err != nil {
		return object.PartList{}, err
	}
	l := object.PartList{Parts: make([]object.Part, len(stored)), IsTruncated: truncated}
	for i, p := range stored {
		l.Parts[i] = p.Part
	}
	if truncated && len(stored) > 0 {
		l.NextPartNumberMarker = stored[len(stored)-1].PartNumber
	}
	return l, nil
}

// CompleteMultipart assembles the listed parts into the object at id with Compose and drops
// the upload. The steps, and why a retry after success answers ErrNotFound, are in doc.go.
func (b *Backend) CompleteMultipart(ctx context.Context, id object.ID, uploadID string, parts []object.CompletedPart) (*object.CompleteError, error) {
	meta, err := b.loadMeta(ctx, id, uploadID)
	if err != nil {
		return nil, err
	}
	if ce := checkOrder(parts); ce != nil {
		return ce, nil
	}
	stored, _, err := b.listParts(ctx, uploadID, 0, 0)
	if err != nil {
		return nil, err
	}
	byNumber := make(map[int]storedPart, len(stored))
	for _, p := range stored {
		byNumber[p.PartNumber] = p
	}
	srcs := make([]*storage.ObjectHandle, len(parts))
	for i, p := range parts {
		s, ok := byNumber[p.PartNumber]
		if !ok {
			return &object.CompleteError{Code: CodeInvalidPart, Message: fmt.Sprintf("part %d was not uploaded", p.PartNumber)}, nil
		}
		if normalizeETag(p.ETag) != normalizeETag(s.ETag) {
			return &object.CompleteError{Code: CodeInvalidPart,
				Message: fmt.Sprintf("part %d has ETag %s, not %s", p.PartNumber, s.ETag, p.ETag)}, nil
		}
		// Pinned to the validated generation: a part re-uploaded meanwhile fails the compose
		// instead of slipping unvalidated bytes into the object.
		srcs[i] = b.object(s.name).Generation(s.generation)
	}

	final := objectAttrs(meta.Target, meta.Metadata)
	tmps, err := b.compose(ctx, uploadID, srcs, final)
	if errors.Is(err, object.ErrNotFound) {
		// A source generation is gone: a part was re-uploaded (or the upload aborted) after
		// validation. Not ErrNotFound, which would tell the caller the upload had completed.
		return &object.CompleteError{Code: CodeInvalidPart, Message: "a part changed while the upload was completing"}, nil
	}
	if err != nil {
		return nil, err // the upload survives; a retry overwrites the intermediates
	}

	// The object is committed. Dropping the meta first ends the upload; only then are the
	// parts deleted, so a retry either recomposes from intact parts or finds no upload.
	if err := b.deleteName(ctx, metaName(uploadID)); err != nil {
		b.log.WarnContext(ctx, "gcsbackend: complete: keeping parts, meta delete failed", "upload", uploadID, "error", err)
		return nil, nil
	}
	names := make([]string, 0, len(stored)+len(tmps))
	for _, p := range stored {
		names = append(names, p.name)
	}
	names = append(names, tmps...)
	if err := b.deleteAll(ctx, names); err != nil {
		b.log.WarnContext(ctx, "gcsbackend: complete: leftover upload objects", "upload", uploadID, "error", err)
	}
	return nil, nil
}

// checkOrder validates the shape of a complete request.
func checkOrder(parts []object.CompletedPart) *object.CompleteError {
	if len(parts) == 0 {
		return &object.CompleteError{Code: CodeMalformed, Message: "a complete request needs at least one part"}
	}
	for i, p := range parts {
		if p.PartNumber < object.MinPartNumber || p.PartNumber > object.MaxPartNumber {
			return &object.CompleteError{Code: CodeInvalidPart, Message: fmt.Sprintf("part number %d is out of range", p.PartNumber)}
		}
		if i > 0 && p.PartNumber <= parts[i-1].PartNumber {
			return &object.CompleteError{Code: CodeInvalidPartOrder,
				Message: fmt.Sprintf("part %d follows part %d; parts must be strictly ascending", p.PartNumber, parts[i-1].PartNumber)}
		}
	}
	return nil
}

// compose concatenates srcs into dst.Name with dst's attributes. More than
// MaxComposeSources sources are composed level by level into intermediates
// ~uploads/{id}/tmp-{level}-{i}, MaxComposeSources at a time and in order, until one final
// compose fits. It returns the intermediates it created, also on failure.
func (b *Backend) compose(ctx context.Context, uploadID string, srcs []*storage.ObjectHandle, dst storage.ObjectAttrs) ([]string, error) {
	var tmps []string
	for level := 0; len(srcs) > MaxComposeSources; level++ {
		groups := (len(srcs) + MaxComposeSources - 1) / MaxComposeSources
		next := make([]*storage.ObjectHandle, groups)
		err := forEach(groups, composeWorkers, func(i int) error {
			group := srcs[i*MaxComposeSources : min((i+1)*MaxComposeSources, len(srcs))]
			name := tmpName(uploadID, level, i)
			a, err := b.composeInto(ctx, group, storage.ObjectAttrs{Name: name, ContentType: object.DefaultContentType})
			if err != nil {
				return err
			}
			next[i] = b.object(name).Generation(a.Generation)
			return nil
		})
		for i := range groups {
			tmps = append(tmps, tmpName(uploadID, level, i))
		}
		if err != nil {
			return tmps, err
		}
		srcs = next
	}
	return tmps, b.composeFinal(ctx, srcs, dst)
}

// composeFinal composes srcs into the destination and checks that it carries dst's
// attributes.
//
// On GCS a compose creates a new generation whose metadata is exactly the request's, so both
// repairs below are no-ops there. They exist for fake-gcs-server, which (v1.56.1) drops
// customTime from a compose request and, when the destination already exists, keeps the old
// object's content type, encoding and customTime.
func (b *Backend) composeFinal(ctx context.Context, srcs []*storage.ObjectHandle, dst storage.ObjectAttrs) error {
	a, err := b.composeInto(ctx, srcs, dst)
	if err != nil {
		return err
	}
	if a.ContentType != dst.ContentType || a.ContentEncoding != dst.ContentEncoding || !maps.Equal(a.Metadata, dst.Metadata) {
		// Merged into the old destination: replace that generation by a fresh compose.
		b.log.WarnContext(ctx, "gcsbackend: compose kept attributes of the previous object; composing again", "object", dst.Name)
		if err := b.deleteGeneration(ctx, dst.Name, a.Generation); err != nil {
			return err
		}
		if a, err = b.composeInto(ctx, srcs, dst); err != nil {
			return err
		}
	}
	if !dst.CustomTime.IsZero() && !a.CustomTime.Equal(dst.CustomTime) {
		// customTime is the object's only deadline (reads take TimeExpires from it), so a
		// failure fails the complete; a retry composes again.
		return b.patch(ctx, a, storage.ObjectAttrsToUpdate{CustomTime: dst.CustomTime}, "set customTime")
	}
	return nil
}

func (b *Backend) composeInto(ctx context.Context, srcs []*storage.ObjectHandle, attrs storage.ObjectAttrs) (*storage.ObjectAttrs, error) {
	cctx, cancel := b.callCtx(ctx)
	defer cancel()
	c := b.object(attrs.Name).ComposerFrom(srcs...)
	c.ObjectAttrs = attrs
	a, err := c.Run(cctx)
	return a, translate("compose", attrs.Name, err)
}

func (b *Backend) deleteGeneration(ctx context.Context, name string, gen int64) error {
	cctx, cancel := b.callCtx(ctx)
	defer cancel()
	err := b.object(name).Generation(gen).Delete(cctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil
	}
	return translate("delete", name, err)
}

// AbortMultipart deletes the upload: its meta first, so that later part uploads fail, then
// every object under its prefix. An upload that is already gone is success; an upload whose
// meta names another object is ErrNotFound and is left alone.
func (b *Backend) AbortMultipart(ctx context.Context, id object.ID, uploadID string) error {
	if !validUploadID(uploadID) {
		return fmt.Errorf("gcsbackend: upload %q: %w", uploadID, object.ErrNotFound)
	}
	m, found, err := b.readMeta(ctx, uploadID)
	if err != nil {
		return err
	}
	if found && m.Target != id.StoragePath() {
		return fmt.Errorf("gcsbackend: upload %q of %q: %w", uploadID, id.StoragePath(), object.ErrNotFound)
	}
	if found {
		if err := b.deleteName(ctx, metaName(uploadID)); err != nil {
			return err
		}
	}
	names, err := b.listAll(ctx, uploadPrefix(uploadID))
	if err != nil {
		return err
	}
	return b.deleteAll(ctx, names)
}

// listAll returns the names of every object under prefix.
func (b *Backend) listAll(ctx context.Context, prefix string) ([]string, error) {
	q := &storage.Query{Prefix: prefix}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		return nil, fmt.Errorf("gcsbackend: %w", err)
	}
	cctx, cancel := b.callCtx(ctx)
	defer cancel()
	it := b.bucket.Objects(cctx, q)
	it.PageInfo().MaxSize = listPageSize
	var names []string
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return names, nil
		}
		if err != nil {
			return nil, translate("list", prefix, err)
		}
		names = append(names, a.Name)
	}
}

// deleteAll deletes names with at most DeleteConcurrency requests in flight. It tries every
// name and joins the errors.
func (b *Backend) deleteAll(ctx context.Context, names []string) error {
	var (
		mu   sync.Mutex
		errs []error
	)
	_ = forEach(len(names), b.deleteN, func(i int) error {
		if err := b.deleteName(ctx, names[i]); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		return nil
	})
	return errors.Join(errs...)
}

// forEach runs fn(0..n-1) on at most limit goroutines and returns the first error. After an
// error no new calls start.
func forEach(n, limit int, fn func(i int) error) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     int
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil || next >= n {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range min(limit, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, ok := take(); ok; i, ok = take() {
				if err := fn(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}
