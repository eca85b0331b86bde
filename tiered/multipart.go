package tiered

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/stratastore/strata/tiered/driver"
)

// uploadToken is the tiered upload id before encoding: the revision the upload writes and
// the long-term backend's own upload id. It travels as base64url(JSON), objectstore's form.
type uploadToken struct {
	Revision string `json:"revision"`
	UploadID string `json:"upload_id"`
}

// maxUploadIDLen bounds an encoded upload id.
const maxUploadIDLen = 1024

func encodeUploadID(t uploadToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeUploadID decodes an upload id and returns the physical revision it writes. The
// revision must be "{key}/{uuid}" of id's own key: an upload id is client input, and a
// forged one must never point at another object's data.
func decodeUploadID(id ObjectID, uploadID string) (ObjectID, string, error) {
	bad := func(why string) (ObjectID, string, error) {
		return ObjectID{}, "", fmt.Errorf("%w: invalid upload id: %s", ErrInvalidArgument, why)
	}
	if uploadID == "" || len(uploadID) > maxUploadIDLen {
		return bad("empty or too long")
	}
	raw, err := base64.RawURLEncoding.DecodeString(uploadID)
	if err != nil {
		return bad("not base64url")
	}
	var t uploadToken
	if err := json.Unmarshal(raw, &t); err != nil {
		return bad("not a tiered upload token")
	}
	rev := ObjectID{Context: id.Context, Key: t.Revision}
	if !isRevisionOf(rev, id) {
		return bad("it belongs to another object")
	}
	if t.UploadID == "" {
		return bad("no backend upload")
	}
	return rev, t.UploadID, nil
}

// InitiateMultipart starts a multipart upload for id with the final object's metadata and
// returns its upload id. The upload writes a fresh revision; nothing is visible at id until
// CompleteMultipart commits.
func (s *Store) InitiateMultipart(ctx context.Context, id ObjectID, md Metadata) (string, error) {
	if err := id.Validate(); err != nil {
		return "", wrapErr("initiate multipart", id, err)
	}
	if err := md.Validate(); err != nil {
		return "", wrapErr("initiate multipart", id, err)
	}
	rev := newRevision(id)
	u, err := s.lt.InitiateMultipart(ctx, rev, md)
	if err != nil {
		return "", wrapErr("initiate multipart", id, err)
	}
	return encodeUploadID(uploadToken{Revision: rev.Key, UploadID: u}), nil
}

// UploadPart stores part partNumber (1..10000) of an upload; body must hold exactly size
// bytes. Uploading a part number again replaces the part.
func (s *Store) UploadPart(ctx context.Context, id ObjectID, uploadID string, partNumber int, size int64, body io.Reader) (string, error) {
	rev, u, err := s.checkUpload(id, uploadID)
	if err != nil {
		return "", wrapErr("upload part", id, err)
	}
	if partNumber < driver.MinPartNumber || partNumber > driver.MaxPartNumber {
		return "", wrapErr("upload part", id, fmt.Errorf("%w: part number %d is outside %d..%d", ErrInvalidArgument, partNumber, driver.MinPartNumber, driver.MaxPartNumber))
	}
	if size < 0 || size > driver.MaxPartSize {
		return "", wrapErr("upload part", id, fmt.Errorf("%w: part size %d exceeds %d bytes", ErrTooLarge, size, driver.MaxPartSize))
	}
	etag, err := s.lt.UploadPart(ctx, rev, u, partNumber, size, body)
	return etag, wrapErr("upload part", id, err)
}

// ListParts lists an upload's parts with numbers above marker, at most maxParts (0: all).
func (s *Store) ListParts(ctx context.Context, id ObjectID, uploadID string, maxParts, marker int) (PartList, error) {
	rev, u, err := s.checkUpload(id, uploadID)
	if err != nil {
		return PartList{}, wrapErr("list parts", id, err)
	}
	if maxParts < 0 || marker < 0 {
		return PartList{}, wrapErr("list parts", id, fmt.Errorf("%w: negative max_parts or marker", ErrInvalidArgument))
	}
	l, err := s.lt.ListParts(ctx, rev, u, maxParts, marker)
	return l, wrapErr("list parts", id, err)
}

// AbortMultipart discards an upload and its parts. Aborting twice succeeds.
func (s *Store) AbortMultipart(ctx context.Context, id ObjectID, uploadID string) error {
	rev, u, err := s.checkUpload(id, uploadID)
	if err != nil {
		return wrapErr("abort multipart", id, err)
	}
	err = s.lt.AbortMultipart(ctx, rev, u)
	if errors.Is(err, ErrNotFound) {
		err = nil
	}
	return wrapErr("abort multipart", id, err)
}

func (s *Store) checkUpload(id ObjectID, uploadID string) (ObjectID, string, error) {
	if err := id.Validate(); err != nil {
		return ObjectID{}, "", err
	}
	return decodeUploadID(id, uploadID)
}

// CompleteMultipart assembles the listed parts into the upload's revision and commits a
// tombstone to it. A *CompleteError result (unknown part, ETag mismatch, bad order) is for
// the client's 200 body; the upload survives it. Complete is safe to retry: after any
// failure the assembled revision, if any, is kept for MultipartCompleteCleanupDelay, and a
// retry after a commit whose response was lost reports success.
func (s *Store) CompleteMultipart(ctx context.Context, id ObjectID, uploadID string, parts []CompletedPart) (*CompleteError, error) {
	rev, u, err := s.checkUpload(id, uploadID)
	if err != nil {
		return nil, wrapErr("complete multipart", id, err)
	}
	if len(parts) == 0 {
		return &CompleteError{Code: "InvalidRequest", Message: "at least one part is required"}, nil
	}
	ce, err := s.completeMultipart(ctx, id, rev, u, parts)
	return ce, wrapErr("complete multipart", id, err)
}

func (s *Store) completeMultipart(ctx context.Context, id, rev ObjectID, u string, parts []CompletedPart) (*CompleteError, error) {
	// 1. Read the row: the commit's precondition, and the retry shortcut.
	e, err := s.hv.GetTieredMetadata(ctx, id)
	if err != nil {
		return nil, err
	}
	current := liveTarget(e)
	if current != nil && current.Equal(rev) {
		return nil, nil // an earlier attempt committed this upload
	}
	// 2. Log the change with deferred cleanup, so that a failure below leaves the client a
	// day to retry before recovery may delete the assembled revision.
	// Every attempt to complete this upload uses one entry, named by the revision's UUID: a
	// retry after a failed attempt replaces that attempt's entry rather than leaving it for
	// recovery to find a day later.
	g, err := s.recordAs(ctx, driver.ChangeID(rev.Key[len(id.Key)+1:]), driver.Change{
		ID: id, New: &rev, Old: current, UploadID: u,
		CleanupAfter: s.opts.Now().Add(MultipartCompleteCleanupDelay),
	}, PhaseAssembling)
	if err != nil {
		return nil, err
	}
	defer g.finish(ctx)
	// 3. Assemble. An error may hide a success (a lost response, or an earlier attempt that
	// already assembled), so only a reported CompleteError is final here.
	ce, completeErr := s.lt.CompleteMultipart(ctx, rev, u, parts)
	if completeErr == nil && ce != nil {
		g.complete(ctx) // nothing was assembled; the upload lives on
		return ce, nil
	}
	// 4. The revision's metadata: proof that it exists, and the policy chosen at initiate.
	md, headErr := s.lt.Head(ctx, rev)
	switch {
	case headErr == nil:
	case errors.Is(headErr, ErrNotFound) && completeErr != nil:
		return nil, completeErr
	case errors.Is(headErr, ErrNotFound):
		return nil, fmt.Errorf("assembled revision %s is missing after a successful complete", rev)
	case completeErr != nil:
		return nil, completeErr
	default:
		return nil, headErr
	}
	if !g.valid() {
		return nil, errLeaseLost
	}
	// 5. Commit. On an error the guard stays in Assembling: the outcome is unknown, and a
	// retry will see the tombstone if the write went through.
	won, err := s.hv.CompareAndWrite(ctx, id, current, driver.Write{
		Kind:      driver.WriteTombstone,
		Tombstone: driver.Tombstone{Target: rev, ExpirationPolicy: md.ExpirationPolicy},
	})
	if err != nil {
		return nil, err
	}
	g.advance(afterCAS(won))
	return nil, nil
}
