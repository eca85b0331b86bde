package localbackend

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/stratastore/strata/tiered/object"
)

// Part file format (see doc.go).
const (
	partMagic     = "STRATAP1"
	partHeaderLen = 8 + md5.Size
	partSuffix    = ".part"
	uploadMetaFn  = "meta.json"
)

// uploadMeta is the content of uploads/{uploadID}/meta.json.
type uploadMeta struct {
	// Path is the storage path of the object the upload completes into.
	Path string `json:"path"`
	// Metadata is the initiate-time metadata, objectstore JSON.
	Metadata  json.RawMessage `json:"metadata"`
	Initiated time.Time       `json:"initiated"`
}

// uploadDir returns the directory of uploadID, refusing anything that is not a canonical
// UUID (which also keeps the id path-safe).
func (l *LongTerm) uploadDir(uploadID string) (string, bool) {
	u, err := uuid.Parse(uploadID)
	if err != nil || u.String() != uploadID {
		return "", false
	}
	return filepath.Join(l.b.dir, uploadsDir, uploadID), true
}

// loadUpload reads the upload's meta.json: ErrNotFound if the upload is unknown or belongs
// to another object.
func (l *LongTerm) loadUpload(id object.ID, uploadID string) (string, uploadMeta, error) {
	if err := l.checkOpen(); err != nil {
		return "", uploadMeta{}, err
	}
	dir, ok := l.uploadDir(uploadID)
	if !ok {
		return "", uploadMeta{}, object.ErrNotFound
	}
	b, err := os.ReadFile(filepath.Join(dir, uploadMetaFn))
	if errors.Is(err, fs.ErrNotExist) {
		return "", uploadMeta{}, object.ErrNotFound
	}
	if err != nil {
		return "", uploadMeta{}, err
	}
	var m uploadMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return "", uploadMeta{}, fmt.Errorf("%w: upload %s: %v", errCorrupt, uploadID, err)
	}
	if m.Path != id.StoragePath() {
		return "", uploadMeta{}, object.ErrNotFound
	}
	return dir, m, nil
}

// InitiateMultipart creates the upload directory (built under tmp/ and renamed into
// uploads/, so it appears whole) and returns its id, a UUIDv7.
func (l *LongTerm) InitiateMultipart(ctx context.Context, id object.ID, md object.Metadata) (string, error) {
	uploadID, err := l.initiate(ctx, id, md)
	if err != nil {
		return "", fmt.Errorf("localbackend: initiate multipart %s: %w", id.StoragePath(), err)
	}
	return uploadID, nil
}

func (l *LongTerm) initiate(ctx context.Context, id object.ID, md object.Metadata) (string, error) {
	if err := l.checkOpen(); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	md.Size = -1
	mdJSON, err := md.MarshalJSON()
	if err != nil {
		return "", object.Invalidf("metadata: %v", err)
	}
	meta, err := json.Marshal(uploadMeta{Path: id.StoragePath(), Metadata: mdJSON, Initiated: l.b.now().UTC()})
	if err != nil {
		return "", err
	}
	u, err := uuidV7At(l.b.now())
	if err != nil {
		return "", err
	}
	uploadID := u.String()
	staging, err := os.MkdirTemp(filepath.Join(l.b.dir, tmpDir), "upload-*")
	if err != nil {
		return "", err
	}
	installed := false
	defer func() {
		if !installed {
			os.RemoveAll(staging)
		}
	}()
	if err := writeFileSync(filepath.Join(staging, uploadMetaFn), meta); err != nil {
		return "", err
	}
	if err := syncDir(staging); err != nil {
		return "", err
	}
	dst, _ := l.uploadDir(uploadID)
	if err := os.Rename(staging, dst); err != nil {
		return "", err
	}
	installed = true
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return "", err
	}
	return uploadID, nil
}

// writeFileSync creates name with data and fsyncs it.
func writeFileSync(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func partName(n int) string { return fmt.Sprintf("%05d%s", n, partSuffix) }

// etagOf renders an MD5 digest as an ETag: quoted lowercase hex.
func etagOf(sum []byte) string { return `"` + hex.EncodeToString(sum) + `"` }

// UploadPart stores exactly size bytes of body as part partNumber, atomically replacing an
// earlier part with that number, and returns its ETag, the quoted hex MD5 of the content.
func (l *LongTerm) UploadPart(ctx context.Context, id object.ID, uploadID string, partNumber int, size int64, body io.Reader) (string, error) {
	etag, err := l.uploadPart(ctx, id, uploadID, partNumber, size, body)
	if err != nil {
		return "", fmt.Errorf("localbackend: upload part %d of %s: %w", partNumber, id.StoragePath(), err)
	}
	return etag, nil
}

func (l *LongTerm) uploadPart(ctx context.Context, id object.ID, uploadID string, partNumber int, size int64, body io.Reader) (string, error) {
	if partNumber < object.MinPartNumber || partNumber > object.MaxPartNumber {
		return "", object.Invalidf("part number %d outside %d..%d", partNumber, object.MinPartNumber, object.MaxPartNumber)
	}
	if size < 0 {
		return "", object.Invalidf("negative part size %d", size)
	}
	if size > object.MaxPartSize {
		return "", fmt.Errorf("%w: part of %d bytes exceeds %d", object.ErrTooLarge, size, object.MaxPartSize)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	dir, _, err := l.loadUpload(id, uploadID)
	if err != nil {
		return "", err
	}
	t, err := l.createTemp("part")
	if err != nil {
		return "", err
	}
	defer t.abandon()
	var header [partHeaderLen]byte
	if _, err := t.f.Write(header[:]); err != nil {
		return "", err
	}
	h := md5.New()
	r := ctxReader{ctx, body}
	n, err := io.CopyBuffer(io.MultiWriter(t.f, h), io.LimitReader(r, size), make([]byte, min(copyBufSize, size+1)))
	if err != nil {
		return "", err
	}
	if n < size {
		return "", object.Invalidf("part body has %d bytes, want %d", n, size)
	}
	var extra [1]byte
	if m, err := io.ReadFull(r, extra[:]); m > 0 {
		return "", object.Invalidf("part body is longer than %d bytes", size)
	} else if err != io.EOF {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	sum := h.Sum(nil)
	copy(header[:], partMagic)
	copy(header[8:], sum)
	if _, err := t.f.WriteAt(header[:], 0); err != nil {
		return "", err
	}
	if err := t.finish(); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, partName(partNumber))
	if err := os.Rename(t.f.Name(), dst); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", object.ErrNotFound // aborted or completed meanwhile
		}
		return "", err
	}
	t.done = true
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return etagOf(sum), nil
}

// readPartHeader returns the ETag stored in an open part file.
func readPartHeader(f *os.File) (string, error) {
	var h [partHeaderLen]byte
	if _, err := f.ReadAt(h[:], 0); err != nil || string(h[:8]) != partMagic {
		return "", fmt.Errorf("%w: part header of %s", errCorrupt, f.Name())
	}
	return etagOf(h[8:]), nil
}

// partNumbers lists the part numbers present in an upload directory, ascending.
func partNumbers(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, object.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var nums []int
	for _, e := range entries {
		s, ok := strings.CutSuffix(e.Name(), partSuffix)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(s); err == nil {
			nums = append(nums, n)
		}
	}
	sort.Ints(nums)
	return nums, nil
}

// ListParts lists the parts with number > marker in ascending order, at most maxParts of
// them (0: all).
func (l *LongTerm) ListParts(ctx context.Context, id object.ID, uploadID string, maxParts, marker int) (object.PartList, error) {
	pl, err := l.listParts(ctx, id, uploadID, maxParts, marker)
	if err != nil {
		return object.PartList{}, fmt.Errorf("localbackend: list parts of %s: %w", id.StoragePath(), err)
	}
	return pl, nil
}

func (l *LongTerm) listParts(ctx context.Context, id object.ID, uploadID string, maxParts, marker int) (object.PartList, error) {
	if maxParts < 0 || marker < 0 {
		return object.PartList{}, object.Invalidf("max parts %d, marker %d", maxParts, marker)
	}
	if err := ctx.Err(); err != nil {
		return object.PartList{}, err
	}
	dir, _, err := l.loadUpload(id, uploadID)
	if err != nil {
		return object.PartList{}, err
	}
	nums, err := partNumbers(dir)
	if err != nil {
		return object.PartList{}, err
	}
	i := sort.SearchInts(nums, marker+1)
	nums = nums[i:]
	var pl object.PartList
	for _, n := range nums {
		if maxParts > 0 && len(pl.Parts) == maxParts {
			pl.IsTruncated = true
			pl.NextPartNumberMarker = pl.Parts[len(pl.Parts)-1].PartNumber
			break
		}
		p, ok, err := statPart(filepath.Join(dir, partName(n)), n)
		if err != nil {
			return object.PartList{}, err
		}
		if ok {
			pl.Parts = append(pl.Parts, p)
		}
	}
	return pl, nil
}

// statPart describes one part file; ok is false if it vanished.
func statPart(name string, n int) (object.Part, bool, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return object.Part{}, false, nil
	}
	if err != nil {
		return object.Part{}, false, err
	}
	defer f.Close()
	etag, err := readPartHeader(f)
	if err != nil {
		return object.Part{}, false, err
	}
	st, err := f.Stat()
	if err != nil {
		return object.Part{}, false, err
	}
	return object.Part{PartNumber: n, ETag: etag, LastModified: st.ModTime().UTC(), Size: st.Size() - partHeaderLen}, true, nil
}

// CompleteMultipart concatenates the listed parts (strictly ascending) into a temp file with
// the initiate-time metadata, fsyncs it, renames it over the object's file and then removes
// the upload. A missing part or ETag mismatch is a *object.CompleteError with code
// "InvalidPart", a misordered list one with "InvalidPartOrder", and an empty list one with
// "InvalidRequest"; the upload survives all of them.
func (l *LongTerm) CompleteMultipart(ctx context.Context, id object.ID, uploadID string, parts []object.CompletedPart) (*object.CompleteError, error) {
	ce, err := l.complete(ctx, id, uploadID, parts)
	if err != nil {
		return nil, fmt.Errorf("localbackend: complete multipart %s: %w", id.StoragePath(), err)
	}
	return ce, nil
}

func (l *LongTerm) complete(ctx context.Context, id object.ID, uploadID string, parts []object.CompletedPart) (*object.CompleteError, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, meta, err := l.loadUpload(id, uploadID)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return &object.CompleteError{Code: "InvalidRequest", Message: "no parts listed"}, nil
	}
	for i := 1; i < len(parts); i++ {
		if parts[i].PartNumber <= parts[i-1].PartNumber {
			return &object.CompleteError{Code: "InvalidPartOrder", Message: fmt.Sprintf(
				"part %d listed after part %d: parts must be strictly ascending", parts[i].PartNumber, parts[i-1].PartNumber)}, nil
		}
	}
	// First pass: every listed part exists with its ETag, checked before any copying so
	// that a bad list costs no I/O beyond the headers.
	for _, p := range parts {
		if ce, err := checkPart(dir, p); ce != nil || err != nil {
			return ce, err
		}
	}
	var md object.Metadata
	if err := json.Unmarshal(meta.Metadata, &md); err != nil {
		return nil, fmt.Errorf("%w: upload metadata: %v", errCorrupt, err)
	}
	t, err := l.createTemp("complete")
	if err != nil {
		return nil, err
	}
	defer t.abandon()
	if _, err := t.f.Write(blobHeader(meta.Path, meta.Metadata, md.TimeExpires)); err != nil {
		return nil, err
	}
	// Second pass: copy each part from the descriptor whose header is checked again, so
	// the bytes copied are the bytes whose ETag matched even if a part is replaced
	// concurrently. One part file is open at a time.
	buf := make([]byte, copyBufSize)
	for _, p := range parts {
		if ce, err := l.copyPart(ctx, t.f, dir, p, buf); ce != nil || err != nil {
			return ce, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := t.finish(); err != nil {
		return nil, err
	}
	dst, stripe := l.blobName(meta.Path)
	if err := l.install(t, dst, stripe); err != nil {
		return nil, err
	}
	if err := l.removeUpload(ctx, uploadID); err != nil {
		// The object is complete; a leftover upload is harmless (a retry re-assembles the
		// same bytes) and the caller's abort or recovery removes it.
		l.b.log.WarnContext(ctx, "localbackend: remove completed upload", "upload_id", uploadID, "err", err)
	}
	return nil, nil
}

// openPart opens part p of the upload in dir and checks its ETag; a missing part or a
// mismatch is a *object.CompleteError.
func openPart(dir string, p object.CompletedPart) (*os.File, *object.CompleteError, error) {
	f, err := os.Open(filepath.Join(dir, partName(p.PartNumber)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &object.CompleteError{Code: "InvalidPart", Message: fmt.Sprintf("part number %d was not uploaded", p.PartNumber)}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	etag, err := readPartHeader(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !equalETag(etag, p.ETag) {
		f.Close()
		return nil, &object.CompleteError{Code: "InvalidPart", Message: fmt.Sprintf("etag mismatch for part %d: expected %s, got %s", p.PartNumber, etag, p.ETag)}, nil
	}
	return f, nil, nil
}

func checkPart(dir string, p object.CompletedPart) (*object.CompleteError, error) {
	f, ce, err := openPart(dir, p)
	if f != nil {
		f.Close()
	}
	return ce, err
}

// copyPart appends the content of part p to dst.
func (l *LongTerm) copyPart(ctx context.Context, dst *os.File, dir string, p object.CompletedPart, buf []byte) (*object.CompleteError, error) {
	f, ce, err := openPart(dir, p)
	if ce != nil || err != nil {
		return ce, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	src := io.NewSectionReader(f, partHeaderLen, st.Size()-partHeaderLen)
	_, err = io.CopyBuffer(struct{ io.Writer }{dst}, ctxReader{ctx, src}, buf)
	return nil, err
}

// removeUpload makes the upload disappear atomically (a rename into tmp/, made durable) and
// then deletes its files. Leftovers in tmp/ are removed at the next Open.
func (l *LongTerm) removeUpload(ctx context.Context, uploadID string) error {
	dir, ok := l.uploadDir(uploadID)
	if !ok {
		return nil
	}
	gone := filepath.Join(l.b.dir, tmpDir, "gone-"+uploadID+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Rename(dir, gone); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.RemoveAll(gone); err != nil {
		l.b.log.WarnContext(ctx, "localbackend: remove finished upload", "upload_id", uploadID, "err", err)
	}
	return nil
}

// AbortMultipart deletes the upload and its parts. An unknown upload is not an error; an
// upload of another object is ErrNotFound.
func (l *LongTerm) AbortMultipart(ctx context.Context, id object.ID, uploadID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, _, err := l.loadUpload(id, uploadID)
	if errors.Is(err, object.ErrNotFound) {
		if dir, ok := l.uploadDir(uploadID); ok {
			if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
				return nil // already gone: idempotent
			}
		} else {
			return nil
		}
	}
	if err == nil {
		err = l.removeUpload(ctx, uploadID)
	}
	if err != nil {
		return fmt.Errorf("localbackend: abort multipart %s: %w", id.StoragePath(), err)
	}
	return nil
}

// Uploads returns the ids of every pending multipart upload, sorted. It is a test helper.
func (l *LongTerm) Uploads() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(l.b.dir, uploadsDir))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	sort.Strings(ids)
	return ids, nil
}

// uuidV7At returns a UUIDv7 whose timestamp is t rather than the wall clock, so that an
// upload's age (which the sweeper reads from its id) follows the backend's clock.
func uuidV7At(t time.Time) (uuid.UUID, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return u, err
	}
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	return u, nil
}
