package tiered

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// Backend choices reported in PutResult and logs.
const (
	BackendHighVolume = "high-volume"
	BackendLongTerm   = "long-term"
)

// Store is Strata's portable tiered object store. It routes objects by size between a
// high-volume and a long-term backend, keeps redirect tombstones so that a read costs one
// high-volume lookup, commits every cross-tier change with one compare-and-write, and logs
// each change ahead so that no crash leaves an unreferenced blob behind. See the package
// documentation for the steps of every operation.
//
// A Store is safe for concurrent use.
type Store struct {
	hv driver.HighVolume
	lt driver.LongTerm
	// mp is lt as a driver.Multipart, or nil when lt lacks the capability.
	mp         driver.Multipart
	log        driver.ChangeLog
	dispatcher Dispatcher
	ownsWorker bool
	opts       Options
	// owner is this Store's lease token in the change log.
	owner string
	// regress reintroduces one fixed bug (tests only; see regress.go).
	regress regression
}

// New returns a Store over the three backends. All three are required. Multipart is an
// optional capability of lt, found by type assertion: when lt does not implement
// driver.Multipart, every multipart operation (and the cleanup of an upload another Store
// logged) fails with object.ErrUnimplemented, and everything else works.
func New(hv driver.HighVolume, lt driver.LongTerm, log driver.ChangeLog, opts *Options) (*Store, error) {
	if hv == nil || lt == nil || log == nil {
		return nil, object.Invalidf("tiered.New needs a high-volume, a long-term and a change-log backend")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Store{hv: hv, lt: lt, log: log, opts: o}
	s.mp, _ = lt.(driver.Multipart)
	s.owner = s.opts.NewUUID().String()
	s.dispatcher = s.opts.Dispatcher
	if s.dispatcher == nil {
		w := NewWorker(s.Cleanup, s.opts.CleanupWorkers, s.opts.CleanupAttempts, s.opts.Logger)
		w.observer = s.opts.Observer
		s.dispatcher = w
		s.ownsWorker = true
	}
	return s, nil
}

func (s *Store) now() time.Time { return s.opts.Clock.Now() }

// Close drains the in-process cleanup worker, if the Store owns one, until ctx ends. It is
// the equivalent of objectstore's join: after Close returns nil, every cleanup the Store
// dispatched has run.
func (s *Store) Close(ctx context.Context) error {
	if s.ownsWorker {
		return s.dispatcher.Close(ctx)
	}
	return nil
}

// PutResult says where a put stored the object and how many bytes it stored.
type PutResult struct {
	Backend string
	Size    int64
}

// payloadPool recycles the routing peek buffers, so that small puts allocate no 1 MiB
// buffer each. High-volume backends do not retain payloads after they return.
var payloadPool = sync.Pool{New: func() any { b := make([]byte, Threshold+1); return &b }}

// peekBuffer returns a buffer of Threshold+1 bytes and its release.
func (s *Store) peekBuffer() ([]byte, func()) {
	if s.opts.Threshold != Threshold {
		return make([]byte, s.opts.Threshold+1), func() {}
	}
	bp := payloadPool.Get().(*[]byte)
	return *bp, func() { payloadPool.Put(bp) }
}

// Put stores body under id, creating or replacing the object. At most Threshold bytes are
// buffered to decide the route; a larger body streams to the long-term backend. If body
// fails or ctx ends before the body is complete, nothing is committed. A body that is a
// *bytes.Buffer of at most Threshold unread bytes is already in memory: it is stored inline
// from its own bytes, with no peek buffer, and must not be modified until Put returns.
func (s *Store) Put(ctx context.Context, id object.ID, md object.Metadata, body io.Reader) (PutResult, error) {
	if err := id.Validate(); err != nil {
		return PutResult{}, wrapErr("put", id, err)
	}
	if err := md.Validate(); err != nil {
		return PutResult{}, wrapErr("put", id, err)
	}
	if b, ok := body.(*bytes.Buffer); ok && b.Len() <= s.opts.Threshold {
		if err := ctx.Err(); err != nil {
			return PutResult{}, wrapErr("put", id, err)
		}
		md.Size = int64(b.Len())
		err := s.putHighVolume(ctx, id, md, b.Bytes())
		return PutResult{Backend: BackendHighVolume, Size: md.Size}, wrapErr("put", id, err)
	}
	buf, release := s.peekBuffer()
	defer release()
	n, eof, err := peek(body, buf)
	if err != nil {
		return PutResult{}, wrapErr("put", id, fmt.Errorf("reading body: %w", err))
	}
	if eof {
		if err := ctx.Err(); err != nil {
			return PutResult{}, wrapErr("put", id, err)
		}
		md.Size = int64(n)
		err = s.putHighVolume(ctx, id, md, buf[:n])
		return PutResult{Backend: BackendHighVolume, Size: int64(n)}, wrapErr("put", id, err)
	}
	cr := &countingReader{r: io.MultiReader(bytes.NewReader(buf[:n]), body)}
	err = s.putLongTerm(ctx, id, md, cr)
	return PutResult{Backend: BackendLongTerm, Size: cr.n.Load()}, wrapErr("put", id, err)
}

// putHighVolume writes a small object inline; over a tombstone it swaps the tombstone out
// with a compare-and-write and cleans up the old revision.
func (s *Store) putHighVolume(ctx context.Context, id object.ID, md object.Metadata, payload []byte) error {
	t, err := s.hv.PutNonTombstone(ctx, id, md, payload)
	if err != nil || t == nil {
		return err
	}
	g, err := s.record(ctx, driver.Change{ID: id, Old: &t.Target})
	if err != nil {
		return err
	}
	defer g.finish(ctx)
	return g.commit(ctx, &t.Target, driver.Write{Kind: driver.WriteObject, Metadata: md, Payload: payload})
}

// putLongTerm streams a large object to a fresh revision and commits a tombstone to it.
func (s *Store) putLongTerm(ctx context.Context, id object.ID, md object.Metadata, body io.Reader) error {
	e, err := s.hv.GetTieredMetadata(ctx, id)
	if err != nil {
		return err
	}
	current := liveTarget(e)
	rev := s.newRevision(id)
	g, err := s.record(ctx, driver.Change{ID: id, New: &rev, Old: current})
	if err != nil {
		return err
	}
	defer g.finish(ctx)
	g.ltPending = true
	if err := s.lt.Put(ctx, rev, md, body); err != nil {
		// A body that failed on our side never let the upload finish; any other failure
		// (a timeout, a lost response) may hide a write that lands later.
		if cr, ok := body.(*countingReader); ok && cr.failed.Load() {
			g.ltPending = false
		}
		return err
	}
	g.ltPending = false
	if err := ctx.Err(); err != nil {
		return err
	}
	return g.commit(ctx, current, driver.Write{
		Kind:      driver.WriteTombstone,
		Tombstone: driver.Tombstone{Target: rev, ExpirationPolicy: md.ExpirationPolicy},
	})
}

// maxRedirects bounds how often one read follows a tombstone whose target vanished. Each
// retry needs an overwrite that committed and deleted its predecessor between the read's two
// calls, which the grace period normally rules out; a read that still loses this many races
// answers ErrUnavailable (retryable), never a 404 for an object that exists.
const maxRedirects = 16

// errChurn is what a read returns after maxRedirects lost races.
var errChurn = fmt.Errorf("%w: the object was overwritten too often while being read; retry", object.ErrUnavailable)

// Get opens the object at id, or the range rng of it (nil for all). It fails with
// ErrNotFound, or with *RangeError when the range lies outside the object. The caller must
// close the returned Body.
func (s *Store) Get(ctx context.Context, id object.ID, rng *object.ByteRange) (*object.Reader, error) {
	if err := id.Validate(); err != nil {
		return nil, wrapErr("get", id, err)
	}
	if rng != nil && s.regress != regressInvertedRange {
		if err := rng.Validate(); err != nil {
			return nil, wrapErr("get", id, err)
		}
	}
	var missing *object.ID
	for range maxRedirects {
		e, err := s.hv.GetTiered(ctx, id)
		if err != nil {
			return nil, wrapErr("get", id, err)
		}
		switch e.Kind {
		case driver.EntryObject:
			return inlineObject(e, rng)
		case driver.EntryTombstone:
			if missing != nil && missing.Equal(e.Tombstone.Target) {
				return nil, wrapErr("get", id, object.ErrNotFound) // a dangling tombstone
			}
			o, err := s.lt.Get(ctx, e.Tombstone.Target, rng)
			if errors.Is(err, object.ErrNotFound) {
				// A concurrent overwrite may have swapped the tombstone and deleted this
				// revision between our two reads: look again before answering 404.
				missing = &e.Tombstone.Target
				continue
			}
			return o, wrapErr("get", id, err)
		default:
			return nil, wrapErr("get", id, object.ErrNotFound)
		}
	}
	return nil, wrapErr("get", id, errChurn)
}

// Head returns the metadata of the object at id, or ErrNotFound.
func (s *Store) Head(ctx context.Context, id object.ID) (object.Metadata, error) {
	if err := id.Validate(); err != nil {
		return object.Metadata{}, wrapErr("head", id, err)
	}
	var missing *object.ID
	for range maxRedirects {
		e, err := s.hv.GetTieredMetadata(ctx, id)
		if err != nil {
			return object.Metadata{}, wrapErr("head", id, err)
		}
		switch e.Kind {
		case driver.EntryObject:
			return e.Metadata, nil
		case driver.EntryTombstone:
			if missing != nil && missing.Equal(e.Tombstone.Target) {
				return object.Metadata{}, wrapErr("head", id, object.ErrNotFound)
			}
			md, err := s.lt.Head(ctx, e.Tombstone.Target)
			if errors.Is(err, object.ErrNotFound) {
				missing = &e.Tombstone.Target
				continue
			}
			return md, wrapErr("head", id, err)
		default:
			return object.Metadata{}, wrapErr("head", id, object.ErrNotFound)
		}
	}
	return object.Metadata{}, wrapErr("head", id, errChurn)
}

// Delete removes the object at id. Deleting a missing object succeeds. Removing a
// tombstone is the commit point; its revision is deleted afterwards by cleanup.
func (s *Store) Delete(ctx context.Context, id object.ID) error {
	if err := id.Validate(); err != nil {
		return wrapErr("delete", id, err)
	}
	t, err := s.hv.DeleteNonTombstone(ctx, id)
	if err != nil || t == nil {
		return wrapErr("delete", id, err)
	}
	g, err := s.record(ctx, driver.Change{ID: id, Old: &t.Target})
	if err != nil {
		return wrapErr("delete", id, err)
	}
	defer g.finish(ctx)
	return wrapErr("delete", id, g.commit(ctx, &t.Target, driver.Write{Kind: driver.WriteDelete}))
}

// liveTarget returns the tombstone target of a row, or nil when the row holds no tombstone.
func liveTarget(e driver.Entry) *object.ID {
	if e.Kind == driver.EntryTombstone {
		t := e.Tombstone.Target
		return &t
	}
	return nil
}

// newRevision returns a fresh long-term id for id: "{key}/{uuidv7}". Every large write gets
// its own revision, so the tombstone swap is an atomic pointer swap and a loser can delete
// its own blob without touching the winner's.
func (s *Store) newRevision(id object.ID) object.ID {
	return object.ID{Context: id.Context, Key: id.Key + "/" + s.opts.NewUUID().String()}
}

// isRevisionOf reports whether rev is a revision id of id: same context, key "{key}/{uuid}".
func isRevisionOf(rev, id object.ID) bool {
	suffix, ok := strings.CutPrefix(rev.Key, id.Key+"/")
	if !ok || !rev.Equal(object.ID{Context: id.Context, Key: rev.Key}) {
		return false
	}
	u, err := uuid.Parse(suffix)
	return err == nil && u.String() == suffix
}

func inlineObject(e driver.Entry, rng *object.ByteRange) (*object.Reader, error) {
	o := &object.Reader{Metadata: e.Metadata}
	payload := e.Payload
	if rng != nil {
		cr, err := rng.Resolve(int64(len(payload)))
		if err != nil {
			return nil, err
		}
		o.Range = &cr
		payload = payload[cr.Start : cr.End+1]
	}
	o.Body = object.NewBytesReader(payload)
	return o, nil
}

// peek fills buf from r. It reports whether r ended (io.EOF) within buf. Only io.EOF counts
// as the end: any other error, io.ErrUnexpectedEOF from a truncated HTTP body included, is
// returned, so a broken body is never stored as a short object.
func peek(r io.Reader, buf []byte) (n int, eof bool, err error) {
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			// A read may fill buf and report the end at once: then the body is one byte
			// over the threshold, and it is not small.
			return n, n < len(buf), nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, nil
}

type countingReader struct {
	r      io.Reader
	n      atomic.Int64
	failed atomic.Bool // the body returned an error other than io.EOF
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	if err != nil && err != io.EOF {
		c.failed.Store(true)
	}
	return n, err
}
