package localbackend

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// Blob file format (see doc.go).
const (
	blobMagic     = "STRATAB1"
	blobFixedLen  = 32
	blobExpiresAt = 8 // offset of the 13-byte deadline that a TTI bump overwrites in place
	maxHeaderPart = 1 << 20
	copyBufSize   = 256 << 10
)

// LongTerm is the long-term backend on the filesystem: one file per object under blobs/,
// named by the SHA-256 of its storage path, holding a header (storage path, metadata,
// deadline) and the payload. It also implements driver.Multipart.
type LongTerm struct {
	b          *Backend
	beforeBump atomic.Pointer[func(object.ID)]
}

var (
	_ driver.LongTerm  = (*LongTerm)(nil)
	_ driver.Multipart = (*LongTerm)(nil)
)

// Name returns "local-fs".
func (l *LongTerm) Name() string { return "local-fs" }

// SetBeforeBump installs fn (nil removes it) to be called after a Get or Head decided to
// bump a TTI deadline and before the bump is written. It is a test seam for racing writes
// against the bump; fn runs outside every lock.
func (l *LongTerm) SetBeforeBump(fn func(id object.ID)) {
	if fn == nil {
		l.beforeBump.Store(nil)
		return
	}
	l.beforeBump.Store(&fn)
}

// blobName returns the file of the object at storage path p and its stripe (lock) index.
func (l *LongTerm) blobName(p string) (string, int) {
	sum := sha256.Sum256([]byte(p))
	h := hex.EncodeToString(sum[:])
	return filepath.Join(l.b.dir, blobsDir, h[:2], h), int(sum[0])
}

// blobHeader encodes the header of a blob file.
func blobHeader(path string, mdJSON []byte, expires time.Time) []byte {
	h := make([]byte, blobFixedLen, blobFixedLen+len(path)+len(mdJSON))
	copy(h, blobMagic)
	putTime(h[blobExpiresAt:blobExpiresAt+13], expires)
	binary.BigEndian.PutUint32(h[24:28], uint32(len(path)))
	binary.BigEndian.PutUint32(h[28:32], uint32(len(mdJSON)))
	h = append(h, path...)
	return append(h, mdJSON...)
}

// blobInfo is a decoded blob header.
type blobInfo struct {
	path string
	md   object.Metadata // TimeExpires from the deadline field, Size from the file length
	off  int64           // offset of the payload
}

// readBlobHeader decodes the header of the open blob file f.
func readBlobHeader(f *os.File) (blobInfo, error) {
	var fixed [blobFixedLen]byte
	if _, err := f.ReadAt(fixed[:], 0); err != nil {
		return blobInfo{}, fmt.Errorf("%w: blob header: %v", errCorrupt, err)
	}
	if string(fixed[:8]) != blobMagic {
		return blobInfo{}, fmt.Errorf("%w: bad blob magic", errCorrupt)
	}
	pl := binary.BigEndian.Uint32(fixed[24:28])
	ml := binary.BigEndian.Uint32(fixed[28:32])
	if pl > maxHeaderPart || ml > maxHeaderPart {
		return blobInfo{}, fmt.Errorf("%w: blob header too long", errCorrupt)
	}
	rest := make([]byte, int(pl)+int(ml))
	if _, err := f.ReadAt(rest, blobFixedLen); err != nil {
		return blobInfo{}, fmt.Errorf("%w: blob header: %v", errCorrupt, err)
	}
	info := blobInfo{path: string(rest[:pl]), off: blobFixedLen + int64(pl) + int64(ml)}
	if err := json.Unmarshal(rest[pl:], &info.md); err != nil {
		return blobInfo{}, fmt.Errorf("%w: blob metadata: %v", errCorrupt, err)
	}
	// The deadline field is authoritative: TTI bumps rewrite it, never the JSON.
	info.md.TimeExpires = getTime(fixed[blobExpiresAt : blobExpiresAt+13])
	st, err := f.Stat()
	if err != nil {
		return blobInfo{}, err
	}
	info.md.Size = st.Size() - info.off
	if info.md.Size < 0 {
		return blobInfo{}, fmt.Errorf("%w: blob shorter than its header", errCorrupt)
	}
	return info, nil
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// tempFile is a file being written under tmp/. Abandon removes it unless it was renamed.
type tempFile struct {
	f    *os.File
	done bool
}

func (l *LongTerm) createTemp(prefix string) (*tempFile, error) {
	f, err := os.CreateTemp(filepath.Join(l.b.dir, tmpDir), prefix+"-*")
	if err != nil {
		return nil, err
	}
	return &tempFile{f: f}, nil
}

// finish fsyncs and closes the file.
func (t *tempFile) finish() error {
	if err := t.f.Sync(); err != nil {
		return err
	}
	return t.f.Close()
}

// abandon closes and removes the file if it was not installed.
func (t *tempFile) abandon() {
	if t.done {
		return
	}
	t.f.Close()
	os.Remove(t.f.Name())
}

// install renames the finished temp file to dst (holding the stripe lock, so that the
// sweeper's check-then-unlink cannot remove the new file) and fsyncs dst's directory.
func (l *LongTerm) install(t *tempFile, dst string, stripe int) error {
	l.b.blobMu[stripe].Lock()
	err := os.Rename(t.f.Name(), dst)
	if errors.Is(err, fs.ErrNotExist) {
		// First blob of this hh directory: create it (durably) and retry.
		if err = os.Mkdir(filepath.Dir(dst), 0o755); err == nil || errors.Is(err, fs.ErrExist) {
			if err = syncDir(filepath.Join(l.b.dir, blobsDir)); err == nil {
				err = os.Rename(t.f.Name(), dst)
			}
		}
	}
	l.b.blobMu[stripe].Unlock()
	if err != nil {
		return err
	}
	t.done = true
	return syncDir(filepath.Dir(dst))
}

func (l *LongTerm) checkOpen() error {
	l.b.mu.RLock()
	defer l.b.mu.RUnlock()
	if l.b.closed {
		return ErrClosed
	}
	return nil
}

// Put streams body into a temp file, fsyncs it and renames it over the object's file, so
// the object appears whole or not at all, and only after body returned io.EOF.
func (l *LongTerm) Put(ctx context.Context, id object.ID, md object.Metadata, body io.Reader) error {
	if err := l.put(ctx, id, md, body); err != nil {
		return fmt.Errorf("localbackend: put blob %s: %w", id.StoragePath(), err)
	}
	return nil
}

func (l *LongTerm) put(ctx context.Context, id object.ID, md object.Metadata, body io.Reader) error {
	if err := l.checkOpen(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := id.StoragePath()
	md.Size = -1 // recomputed from the file length on every read
	mdJSON, err := md.MarshalJSON()
	if err != nil {
		return object.Invalidf("metadata: %v", err)
	}
	t, err := l.createTemp("put")
	if err != nil {
		return err
	}
	defer t.abandon()
	if _, err := t.f.Write(blobHeader(p, mdJSON, md.TimeExpires)); err != nil {
		return err
	}
	buf := make([]byte, copyBufSize)
	// Wrap the file so io.CopyBuffer cannot hand the body to a ReaderFrom that bypasses
	// ctxReader.
	if _, err := io.CopyBuffer(struct{ io.Writer }{t.f}, ctxReader{ctx, body}, buf); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := t.finish(); err != nil {
		return err
	}
	dst, stripe := l.blobName(p)
	return l.install(t, dst, stripe)
}

// open opens the live object at id for reading and in-place deadline updates.
func (l *LongTerm) open(ctx context.Context, id object.ID) (*os.File, blobInfo, error) {
	if err := l.checkOpen(); err != nil {
		return nil, blobInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, blobInfo{}, err
	}
	p := id.StoragePath()
	name, _ := l.blobName(p)
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, blobInfo{}, object.ErrNotFound
	}
	if err != nil {
		return nil, blobInfo{}, err
	}
	info, err := readBlobHeader(f)
	if err != nil {
		f.Close()
		return nil, blobInfo{}, err
	}
	if info.path != p {
		f.Close()
		return nil, blobInfo{}, fmt.Errorf("%w: blob %s holds %q", errCorrupt, name, info.path)
	}
	now := l.b.now()
	if info.md.Expired(now) {
		f.Close()
		return nil, blobInfo{}, object.ErrNotFound
	}
	if next, ok := info.md.ExpirationPolicy.TTIBump(info.md.TimeExpires, now); ok {
		if fn := l.beforeBump.Load(); fn != nil {
			(*fn)(id)
		}
		l.bump(ctx, f, p, next)
	}
	return f, info, nil
}

// bump overwrites the deadline of the open file f. It writes through the descriptor the read
// used, so it can only ever touch the version that was read: a concurrent overwrite renamed a
// different inode into place, and a delete unlinked the name, which writing to an unlinked
// inode cannot bring back. Failures are logged; the read goes on.
func (l *LongTerm) bump(ctx context.Context, f *os.File, p string, next time.Time) {
	var b [13]byte
	putTime(b[:], next)
	_, err := f.WriteAt(b[:], blobExpiresAt)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		l.b.log.WarnContext(ctx, "localbackend: TTI bump of blob failed", "key", p, "err", err)
	}
}

// Get opens the object at id: ErrNotFound when missing or expired, *object.RangeError for an
// unsatisfiable rng. It bumps a TTI deadline and returns the pre-bump metadata.
func (l *LongTerm) Get(ctx context.Context, id object.ID, rng *object.ByteRange) (*object.Reader, error) {
	f, info, err := l.open(ctx, id)
	if err != nil {
		return nil, l.wrapReadErr("get", id, err)
	}
	obj := &object.Reader{Metadata: info.md}
	start, n := int64(0), info.md.Size
	if rng != nil {
		cr, err := rng.Resolve(info.md.Size)
		if err != nil {
			f.Close()
			return nil, err
		}
		obj.Range = &cr
		start, n = cr.Start, cr.Len()
	}
	obj.Body = &fileBody{SectionReader: io.NewSectionReader(f, info.off+start, n), f: f}
	return obj, nil
}

// Head returns the metadata of the object at id, bumping a TTI deadline.
func (l *LongTerm) Head(ctx context.Context, id object.ID) (object.Metadata, error) {
	f, info, err := l.open(ctx, id)
	if err != nil {
		return object.Metadata{}, l.wrapReadErr("head", id, err)
	}
	f.Close()
	return info.md, nil
}

func (l *LongTerm) wrapReadErr(op string, id object.ID, err error) error {
	if errors.Is(err, object.ErrNotFound) {
		return object.ErrNotFound
	}
	return fmt.Errorf("localbackend: %s blob %s: %w", op, id.StoragePath(), err)
}

// fileBody is an object body reading a section of a file it closes.
type fileBody struct {
	*io.SectionReader
	f *os.File
}

func (b *fileBody) Close() error { return b.f.Close() }

// Delete removes the object at id; a missing object is not an error. The unlink is made
// durable before Delete returns.
func (l *LongTerm) Delete(ctx context.Context, id object.ID) error {
	if err := l.checkOpen(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	name, stripe := l.blobName(id.StoragePath())
	l.b.blobMu[stripe].Lock()
	err := os.Remove(name)
	l.b.blobMu[stripe].Unlock()
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = syncDir(filepath.Dir(name))
	}
	if err != nil {
		return fmt.Errorf("localbackend: delete blob %s: %w", id.StoragePath(), err)
	}
	return nil
}

// Keys returns the storage paths of every stored blob, sorted, including expired blobs that
// the sweeper has not removed yet. It is a test helper ("no orphan blob").
func (l *LongTerm) Keys() ([]string, error) {
	var keys []string
	err := l.walkBlobs(func(name string) error {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := readBlobHeader(f)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		keys = append(keys, info.path)
		return nil
	})
	sort.Strings(keys)
	return keys, err
}

// walkBlobs calls fn with the path of every blob file.
func (l *LongTerm) walkBlobs(fn func(name string) error) error {
	dirs, err := os.ReadDir(filepath.Join(l.b.dir, blobsDir))
	if err != nil {
		return err
	}
	for _, hh := range dirs {
		if !hh.IsDir() {
			continue
		}
		d := filepath.Join(l.b.dir, blobsDir, hh.Name())
		entries, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := fn(filepath.Join(d, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncDir fsyncs a directory, making renames and unlinks in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("localbackend: sync directory %s: %w", dir, err)
	}
	return nil
}

// equalETag compares ETags ignoring surrounding double quotes.
func equalETag(a, b string) bool {
	return trimQuotes(a) == trimQuotes(b)
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
