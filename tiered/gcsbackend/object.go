package gcsbackend

import (
	"context"
	"errors"
	"io"
	"time"

	"cloud.google.com/go/storage"
	"github.com/stratastore/strata/tiered/object"
)

// Put streams body into the object at id's storage path. See driver.LongTerm.
func (b *Backend) Put(ctx context.Context, id object.ID, md object.Metadata, body io.Reader) error {
	attrs := objectAttrs(id.StoragePath(), md)
	if err := checkMetadataSize(attrs.Metadata); err != nil {
		return err
	}
	_, _, err := b.upload(ctx, attrs, b.chunkSize, body, nil)
	return err
}

// upload streams r into a new generation of attrs.Name. The object becomes visible only
// when r returned io.EOF, check (if any) accepted the byte count, and Close succeeded. On any
// other outcome the writer's context is cancelled before Close, which abandons the upload:
// nothing is created and an earlier generation stays live. It returns the stored attributes
// and the number of bytes read from r.
func (b *Backend) upload(ctx context.Context, attrs storage.ObjectAttrs, chunk int, r io.Reader, check func(n int64) error) (*storage.ObjectAttrs, int64, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := b.object(attrs.Name).NewWriter(wctx)
	w.ObjectAttrs = attrs
	// ChunkSize > 0 keeps a chunk buffer so a failed request can be resent; the object is
	// finalised by the last chunk, which only Close sends. The JSON client adds a CRC32C of
	// the whole object to the final request, so GCS rejects a corrupted upload.
	w.ChunkSize = chunk
	src := &recordingReader{r: r}
	n, err := io.Copy(w, src)
	if err == nil && check != nil {
		err = check(n)
	}
	if err == nil {
		// A caller that gave up after the body's EOF must not see its object appear.
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		_ = w.Close() // reports the cancellation; nothing was finalised
		if src.err != nil || errors.Is(err, object.ErrInvalidArgument) || ctx.Err() != nil {
			return nil, n, err
		}
		return nil, n, translate("upload", attrs.Name, err)
	}
	if err := w.Close(); err != nil {
		return nil, n, translate("upload", attrs.Name, err)
	}
	return w.Attrs(), n, nil
}

// recordingReader remembers the first non-EOF error of r, so that a failed copy can be told
// apart as the body's fault rather than the backend's.
type recordingReader struct {
	r   io.Reader
	err error
}

func (rr *recordingReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	if err != nil && err != io.EOF && rr.err == nil {
		rr.err = err
	}
	return n, err
}

// Get opens the object at id. It costs two GCS requests (metadata, then media pinned to the
// generation just read) plus one PATCH when a TTI deadline is bumped; a 0-byte object skips
// the media request. See driver.LongTerm.
func (b *Backend) Get(ctx context.Context, id object.ID, rng *object.ByteRange) (*object.Reader, error) {
	name := id.StoragePath()
	for attempt := 0; ; attempt++ {
		attrs, md, err := b.stat(ctx, name)
		if err != nil {
			return nil, err
		}
		var cr *object.ContentRange
		off, length := int64(0), int64(-1)
		if rng != nil {
			c, err := rng.Resolve(attrs.Size)
			if err != nil {
				return nil, err
			}
			cr, off, length = &c, c.Start, c.Len()
		}
		if attrs.Size == 0 {
			return &object.Reader{Metadata: md, Body: emptyBody{}}, nil
		}
		// Pinning the generation makes the body belong to the metadata just read. The bytes
		// arrive as stored: GCS transcodes only gzip, and Strata writes no encoding but zstd.
		// (ReadCompressed is unusable with JSON reads: storage v1.70.0 sets an Accept-Encoding
		// header that the API library rejects.)
		r, err := b.object(name).Generation(attrs.Generation).NewRangeReader(ctx, off, length)
		if errors.Is(err, storage.ErrObjectNotExist) && attempt == 0 {
			continue // replaced or deleted between the two requests: look again, once
		}
		if err != nil {
			return nil, translate("read", name, err)
		}
		return &object.Reader{Metadata: md, Range: cr, Body: r}, nil
	}
}

// emptyBody is the body of an empty object.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }

// Head returns the metadata of the object at id: one GCS request, plus one PATCH when a TTI
// deadline is bumped. See driver.LongTerm.
func (b *Backend) Head(ctx context.Context, id object.ID) (object.Metadata, error) {
	_, md, err := b.stat(ctx, id.StoragePath())
	return md, err
}

// stat reads the attributes of name, hides an expired object and bumps a TTI deadline. It
// returns the pre-bump metadata.
func (b *Backend) stat(ctx context.Context, name string) (*storage.ObjectAttrs, object.Metadata, error) {
	cctx, cancel := b.callCtx(ctx)
	defer cancel()
	attrs, err := b.object(name).Attrs(cctx)
	if err != nil {
		return nil, object.Metadata{}, translate("attrs", name, err)
	}
	md, err := decodeMetadata(attrs)
	if err != nil {
		return nil, object.Metadata{}, err
	}
	now := b.now()
	if md.Expired(now) {
		return nil, object.Metadata{}, translate("attrs", name, storage.ErrObjectNotExist)
	}
	if next, ok := md.ExpirationPolicy.TTIBump(md.TimeExpires, now); ok {
		if err := b.bump(ctx, attrs, next); err != nil {
			b.log.WarnContext(ctx, "gcsbackend: TTI bump failed; serving the read anyway",
				"object", name, "generation", attrs.Generation, "error", err)
		}
	}
	return attrs, md, nil
}

// bump moves the deadline of the generation that was read to next, rounded up to a whole
// second like every customTime Strata writes. It is conditional on that generation and its
// metageneration, so it never touches a newer generation or a concurrent metadata change;
// GCS enforces both, while fake-gcs-server ignores PATCH preconditions.
func (b *Backend) bump(ctx context.Context, attrs *storage.ObjectAttrs, next time.Time) error {
	return b.patch(ctx, attrs, storage.ObjectAttrsToUpdate{CustomTime: customTime(next)}, "bump")
}

// patch applies u to the generation and metageneration described by attrs.
func (b *Backend) patch(ctx context.Context, attrs *storage.ObjectAttrs, u storage.ObjectAttrsToUpdate, op string) error {
	cctx, cancel := b.callCtx(ctx)
	defer cancel()
	h := b.object(attrs.Name).Generation(attrs.Generation)
	if attrs.Metageneration > 0 {
		h = h.If(storage.Conditions{MetagenerationMatch: attrs.Metageneration})
	}
	_, err := h.Update(cctx, u)
	return translate(op, attrs.Name, err)
}

// Delete removes the object at id; a missing object is success.
func (b *Backend) Delete(ctx context.Context, id object.ID) error {
	return b.deleteName(ctx, id.StoragePath())
}

func (b *Backend) deleteName(ctx context.Context, name string) error {
	cctx, cancel := b.callCtx(ctx)
	defer cancel()
	err := b.object(name).Delete(cctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil
	}
	return translate("delete", name, err)
}
