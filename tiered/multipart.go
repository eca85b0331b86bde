package tiered

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
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
func decodeUploadID(id object.ID, uploadID string) (object.ID, string, error) {
	bad := func(why string) (object.ID, string, error) {
		return object.ID{}, "", object.Invalidf("invalid upload id: %s", why)
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
	rev := object.ID{Context: id.Context, Key: t.Revision}
	if !isRevisionOf(rev, id) {
		return bad("it belongs to another object")
	}
	if t.UploadID == "" {
		return bad("no backend upload")
	}
	return rev, t.UploadID, nil
}

// multipart returns the long-term backend's Multipart capability, or an error matching
// object.ErrUnimplemented when it has none.
func (s *Store) multipart() (driver.Multipart, error) {
	if s.mp == nil {
		return nil, fmt.Errorf("%w: the long-term backend %s does not support multipart uploads", object.ErrUnimplemented, s.lt.Name())
	}
	return s.mp, nil
}

// InitiateMultipart starts a multipart upload for id with the final object's metadata and
// returns its upload id. The upload writes a fresh revision; nothing is visible at id until
// CompleteMultipart commits. This and the other multipart operations fail with
// object.ErrUnimplemented when the long-term backend does not implement driver.Multipart.
func (s *Store) InitiateMultipart(ctx context.Context, id object.ID, md object.Metadata) (string, error) {
	mp, err := s.multipart()
	if err != nil {
		return "", wrapErr("initiate multipart", id, err)
	}
	if err := id.Validate(); err != nil {
		return "", wrapErr("initiate multipart", id, err)
	}
	if err := md.Validate(); err != nil {
		return "", wrapErr("initiate multipart", id, err)
	}
	rev := s.newRevision(id)
	u, err := mp.InitiateMultipart(ctx, rev, md)
	if err != nil {
		return "", wrapErr("initiate multipart", id, err)
	}
	return encodeUploadID(uploadToken{Revision: rev.Key, UploadID: u}), nil
}

// UploadPart stores part partNumber (1..10000) of an upload; body must hold exactly size
// bytes. Uploading a part number again replaces the part.
func (s *Store) UploadPart(ctx context.Context, id object.ID, uploadID string, partNumber int, size int64, body io.Reader) (string, error) {
	mp, rev, u, err := s.checkUpload(id, uploadID)
	if err != nil {
		return "", wrapErr("upload part", id, err)
	}
	if partNumber < object.MinPartNumber || partNumber > object.MaxPartNumber {
		return "", wrapErr("upload part", id, object.Invalidf("part number %d is outside %d..%d", partNumber, object.MinPartNumber, object.MaxPartNumber))
	}
	if size < 0 || size > object.MaxPartSize {
		return "", wrapErr("upload part", id, fmt.Errorf("%w: part size %d exceeds %d bytes", object.ErrTooLarge, size, object.MaxPartSize))
	}
	etag, err := mp.UploadPart(ctx, rev, u, partNumber, size, body)
	return etag, wrapErr("upload part", id, err)
}

// ListParts lists an upload's parts with numbers above marker, at most maxParts (0: all).
func (s *Store) ListParts(ctx context.Context, id object.ID, uploadID string, maxParts, marker int) (object.PartList, error) {
	mp, rev, u, err := s.checkUpload(id, uploadID)
	if err != nil {
		return object.PartList{}, wrapErr("list parts", id, err)
	}
	if maxParts < 0 || marker < 0 {
		return object.PartList{}, wrapErr("list parts", id, object.Invalidf("negative max_parts or marker"))
	}
	l, err := mp.ListParts(ctx, rev, u, maxParts, marker)
	return l, wrapErr("list parts", id, err)
}

// AbortMultipart discards an upload and its parts. Aborting twice succeeds.
func (s *Store) AbortMultipart(ctx context.Context, id object.ID, uploadID string) error {
	mp, rev, u, err := s.checkUpload(id, uploadID)
	if err != nil {
		return wrapErr("abort multipart", id, err)
	}
	err = mp.AbortMultipart(ctx, rev, u)
	if errors.Is(err, object.ErrNotFound) {
		err = nil
	}
	return wrapErr("abort multipart", id, err)
}

// checkUpload returns the Multipart capability and the revision and backend upload id that
// uploadID names for id.
func (s *Store) checkUpload(id object.ID, uploadID string) (driver.Multipart, object.ID, string, error) {
	mp, err := s.multipart()
	if err != nil {
		return nil, object.ID{}, "", err
	}
	if err := id.Validate(); err != nil {
		return nil, object.ID{}, "", err
	}
	rev, u, err := decodeUploadID(id, uploadID)
	return mp, rev, u, err
}

// CompleteMultipart assembles the listed parts into the upload's revision and commits a
// tombstone to it. A *CompleteError result (unknown part, ETag mismatch, bad order) is for
// the client's 200 body; the upload survives it. Complete is safe to retry: after any
// failure the assembled revision, if any, is kept for MultipartCompleteCleanupDelay, and a
// retry after a commit whose response was lost reports success.
func (s *Store) CompleteMultipart(ctx context.Context, id object.ID, uploadID string, parts []object.CompletedPart) (*object.CompleteError, error) {
	mp, rev, u, err := s.checkUpload(id, uploadID)
	if err != nil {
		return nil, wrapErr("complete multipart", id, err)
	}
	if len(parts) == 0 {
		return &object.CompleteError{Code: "InvalidRequest", Message: "at least one part is required"}, nil
	}
	ce, err := s.completeMultipart(ctx, mp, id, rev, u, parts)
	return ce, wrapErr("complete multipart", id, err)
}

// errCompleteBusy answers a complete while another attempt of the same upload holds its
// change-log entry; errCompleteUnsettled one whose earlier attempt's outcome is unknown
// until cleanup settles it.
var (
	errCompleteBusy      = fmt.Errorf("%w: another attempt to complete this upload is in progress; retry later", object.ErrUnavailable)
	errCompleteUnsettled = fmt.Errorf("%w: an earlier attempt to complete this upload has an unknown outcome that is being settled; retry later", object.ErrUnavailable)
)

func (s *Store) completeMultipart(ctx context.Context, mp driver.Multipart, id, rev object.ID, u string, parts []object.CompletedPart) (*object.CompleteError, error) {
	// 1. Read the row: the commit's precondition, and the retry shortcut.
	e, err := s.hv.GetTieredMetadata(ctx, id)
	if err != nil {
		return nil, err
	}
	current := liveTarget(e)
	if current != nil && current.Equal(rev) {
		return nil, nil // an earlier attempt committed this upload
	}
	// 2. Take the upload's change-log entry, named by the revision's UUID and shared by every
	// attempt. It decides whether this attempt may commit at all.
	g, done, err := s.acquireComplete(ctx, id, rev, u, current)
	if err != nil || done {
		return nil, err
	}
	defer g.finish(ctx)
	current = g.entry.Change.Old
	if g.phase == PhaseRecorded && s.regress != regressRecommit {
		// The entry is unproven: it was created when no entry existed. Either no attempt
		// ever ran, or one committed (or lost) and was cleaned up, which consumed the
		// upload. Only a live upload proves the first: committing after the second would
		// bring back a superseded revision that is about to be deleted. The proof is logged
		// (Assembling) before anything is assembled under this entry.
		if _, err := mp.ListParts(ctx, rev, u, 1, 0); err != nil {
			if !errors.Is(err, object.ErrNotFound) {
				return nil, err // the entry stays unproven, released, for a retry
			}
			// The upload is gone, so no attempt can commit under this entry any more: it
			// can go, even if a stalled removal lands late.
			g.drop = true
			if _, err := s.lt.Head(ctx, rev); err != nil {
				return nil, err // no upload and no revision: not found, or retry
			}
			return nil, nil // it completed earlier
		}
		if err := g.logPhase(ctx, PhaseAssembling); err != nil {
			return nil, err
		}
	}
	// 3. Assemble. An error may hide a success (a lost response, or an earlier attempt that
	// already assembled), so only a reported CompleteError is final here.
	ce, completeErr := mp.CompleteMultipart(ctx, rev, u, parts)
	if completeErr == nil && ce != nil {
		if s.regress == regressCompleteErrorRemoves {
			g.drop = true
		}
		// The entry stays, released: an earlier attempt may have assembled the revision, and
		// only the entry leads recovery to it.
		return ce, nil
	}
	// 4. The revision's metadata: proof that it exists, and the policy chosen at initiate.
	md, headErr := s.lt.Head(ctx, rev)
	switch {
	case headErr == nil:
	case errors.Is(headErr, object.ErrNotFound) && completeErr != nil:
		return nil, completeErr
	case errors.Is(headErr, object.ErrNotFound):
		return nil, fmt.Errorf("assembled revision %s is missing after a successful complete", rev)
	case completeErr != nil:
		return nil, completeErr
	default:
		return nil, headErr
	}
	// 5. Log the attempt, then commit. From here on no other attempt commits this revision.
	if err := g.markWritten(ctx); err != nil {
		return nil, err
	}
	return nil, g.commit(ctx, current, driver.Write{
		Kind:      driver.WriteTombstone,
		Tombstone: driver.Tombstone{Target: rev, ExpirationPolicy: md.ExpirationPolicy},
	})
}

// ownsUpload reports whether e is the change-log entry of the upload a complete names: the
// entry of object id, writing rev, through backend upload u. Only such an entry may be taken
// over, settled or dropped by that complete.
func ownsUpload(e driver.LogEntry, id, rev object.ID, u string) bool {
	c := e.Change
	return c.ID.Equal(id) && c.New != nil && c.New.Equal(rev) && c.UploadID == u
}

// acquireComplete takes the change-log entry of the upload writing rev for this attempt of
// its complete. done reports that the complete needs nothing more: an earlier attempt
// committed it (or lost a race, which is success too).
//
//   - No entry: create it (Assembling, held by us). If another attempt creates it first,
//     we are busy.
//   - Updated or Lost: an earlier attempt finished; done.
//   - Aborted: recovery gave up on the upload; ErrNotFound.
//   - Unknown or Superseded: the outcome is being settled; retry later.
//   - Assembling or Written held by a live lease: another attempt is running; retry later.
//   - Assembling, released or stale: take it over; no attempt ever tried to commit.
//   - Written, stale: an earlier attempt tried to commit, and no attempt of it can still
//     land. If the row references rev, it committed (Updated, done); if the row still holds
//     the entry's Old, it never landed and we may try again; otherwise it may have landed
//     and been replaced, and the revision must never be committed again (Unknown).
func (s *Store) acquireComplete(ctx context.Context, id, rev object.ID, u string, current *object.ID) (*guard, bool, error) {
	cid := driver.ChangeID(rev.Key[len(id.Key)+1:])
	now := s.now()
	prev, err := s.log.Get(ctx, cid)
	if errors.Is(err, object.ErrNotFound) {
		e := driver.LogEntry{ID: cid, Phase: PhaseRecorded, Owner: s.leaseToken(), Heartbeat: now, Change: driver.Change{
			ID: id, New: &rev, Old: current, UploadID: u, CleanupAfter: now.Add(MultipartCompleteCleanupDelay)}}
		if err := s.log.Record(ctx, e); err != nil {
			if errors.Is(err, object.ErrConflict) {
				return nil, false, errCompleteBusy
			}
			return nil, false, fmt.Errorf("record change: %w", err)
		}
		g := s.hold(e)
		g.multipart = true
		return g, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read change-log entry: %w", err)
	}
	if s.regress != regressForeignEntry && !ownsUpload(prev, id, rev, u) {
		// The entry id is the revision's UUID, which the client chose when it decoded
		// nothing but its own upload id. An entry of another object, another revision or
		// another backend upload is never touched: taking it over would let one client
		// rewrite, settle or drop another upload's change.
		s.opts.Logger.Warn("complete: the upload id names a change-log entry of another upload; refusing",
			"change", prev.ID, "object", id.StoragePath(), "entry_object", prev.Change.ID.StoragePath())
		return nil, false, object.Invalidf("invalid upload id: it does not name this object's upload")
	}
	switch prev.Phase {
	case PhaseUpdated, PhaseLost:
		if s.regress != regressRecommit {
			return nil, true, nil
		}
	case PhaseAborted:
		return nil, false, fmt.Errorf("%w: the upload was abandoned", object.ErrNotFound)
	case PhaseUnknown, PhaseSuperseded:
		return nil, false, errCompleteUnsettled
	}
	if prev.Owner != "" && now.Sub(prev.Heartbeat) < s.opts.StaleAfter {
		return nil, false, errCompleteBusy
	}
	next := prev
	next.Owner, next.Heartbeat = s.leaseToken(), now
	if prev.Phase != PhaseRecorded { // an unproven entry stays unproven
		next.Phase = PhaseAssembling
	}
	next.Change.Old = current
	var settled Phase
	if prev.Phase == PhaseWritten {
		// The earlier attempt's window is closed now that its lease is stale; the row read
		// before that may be older, so read it again.
		row, err := s.hv.GetTieredMetadata(ctx, id)
		if err != nil {
			return nil, false, err
		}
		cur, old := liveTarget(row), prev.Change.Old
		switch {
		case cur != nil && cur.Equal(rev):
			settled = PhaseUpdated
			next.Change.Old = old
		case old != nil && cur != nil && cur.Equal(*old):
			next.Change.Old = cur // it never landed: try again
		default:
			settled = PhaseUnknown
			next.Change.Old = old
		}
		if settled != 0 {
			next.Phase = PhaseWritten
		}
	}
	if err := s.log.Update(ctx, next, prev.Lease()); err != nil {
		if errors.Is(err, object.ErrConflict) || errors.Is(err, object.ErrNotFound) {
			return nil, false, errCompleteBusy
		}
		return nil, false, fmt.Errorf("take over change-log entry: %w", err)
	}
	g := s.hold(next)
	g.multipart = true
	if settled != 0 {
		// Finish as a put would, with the outcome decided: Updated deletes Old after the
		// grace period; Unknown leaves the rest to cleanup.
		g.multipart = false
		g.phase = settled
		if settled == PhaseUnknown {
			g.phase, g.deadline = PhaseWritten, now.Add(-s.opts.MaxClockSkew)
		}
		g.finish(ctx)
		if settled == PhaseUnknown {
			return nil, false, errCompleteUnsettled
		}
		return nil, true, nil
	}
	return g, false, nil
}
