package localbackend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Defaults used when Options leaves a field zero.
const (
	// DefaultSweepInterval is the period of the background expiry sweeper.
	DefaultSweepInterval = time.Minute
	// DefaultLockTimeout is how long Open waits for the directory lock.
	DefaultLockTimeout = time.Second
	// DefaultSweepBatch bounds the rows or blobs one sweep step deletes.
	DefaultSweepBatch = 1000
	// maxGroup bounds how many queued writes one commit carries.
	maxGroup = 1024
)

// Names of the entries under the data directory and of the bbolt buckets.
const (
	dbFile     = "strata.db"
	blobsDir   = "blobs"
	uploadsDir = "uploads"
	tmpDir     = "tmp"

	bucketRows   = "rows"
	bucketRowExp = "rowexp"
	bucketLog    = "changelog"
)

// ErrClosed is returned by every operation on a closed Backend.
var ErrClosed = errors.New("localbackend: closed")

// Options configures Open. A nil *Options means every default.
type Options struct {
	// Now is the clock used for expiry, TTI bumps and tombstone deadlines; default time.Now.
	Now func() time.Time
	// SweepInterval is the period of the background expiry sweeper: 0 means
	// DefaultSweepInterval, a negative value disables the sweeper (Sweep still works).
	SweepInterval time.Duration
	// SweepBatch bounds the rows or blobs one sweep step deletes; 0 means DefaultSweepBatch.
	SweepBatch int
	// LockTimeout is how long Open waits for the directory lock held by another Backend;
	// 0 means DefaultLockTimeout.
	LockTimeout time.Duration
	// Logger receives sweeper and TTI-bump failures; default slog.Default().
	Logger *slog.Logger
}

// Backend is one opened data directory. It hands out the three backend roles, which share
// one bbolt database and one committer, and runs the expiry sweeper.
type Backend struct {
	dir    string
	db     *bolt.DB
	now    func() time.Time
	log    *slog.Logger
	sbatch int

	hv *HighVolume
	lt *LongTerm
	cl *ChangeLog

	// mu guards closed; writers hold it shared while they enqueue.
	mu      sync.RWMutex
	closed  bool
	reqs    chan *commitReq
	stop    chan struct{}
	wg      sync.WaitGroup
	blobMu  [256]sync.Mutex
	sweepMu sync.Mutex

	// Committer statistics and test seam.
	commits      atomic.Int64 // transactions committed
	grouped      atomic.Int64 // writes carried by them
	largestGroup atomic.Int64
	beforeCommit atomic.Pointer[func(n int)] // called with the group size before each commit
}

// Open opens (creating if needed) the data directory dir: it takes the directory's exclusive
// lock, creates the layout, removes temporary files a crashed process left behind, and starts
// the committer and, unless disabled, the expiry sweeper. A nil *Options means the defaults.
//
// dir plays the part of both the client and the name of the other backends' Open: there is
// no client to pass in, and the Backend owns what it opens, so the caller must Close it.
//
// A second Open of the same directory, from this process or another, fails after
// Options.LockTimeout with a "data directory in use" error. ctx bounds Open only: if it is
// done, Open fails with its error before touching dir, and the wait for the lock ends at
// ctx's deadline when that comes before LockTimeout. Cancelling ctx later has no effect on
// the Backend.
func Open(ctx context.Context, dir string, opts *Options) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("localbackend: open %s: %w", dir, err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.SweepBatch <= 0 {
		o.SweepBatch = DefaultSweepBatch
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("localbackend: create data directory: %w", err)
	}
	// bbolt flocks the database file: that lock is the directory lock. Everything below
	// (the temp sweep in particular) relies on holding it.
	lockWait := o.LockTimeout
	if dl, ok := ctx.Deadline(); ok {
		// bbolt reads a zero Timeout as "wait forever": keep it positive.
		lockWait = max(min(lockWait, time.Until(dl)), time.Millisecond)
	}
	db, err := bolt.Open(filepath.Join(dir, dbFile), 0o644, &bolt.Options{Timeout: lockWait})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("localbackend: data directory %s in use (locked by another process or Backend): %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("localbackend: open %s: %w", filepath.Join(dir, dbFile), err)
	}
	b := &Backend{
		dir:    dir,
		db:     db,
		now:    o.Now,
		log:    o.Logger,
		sbatch: o.SweepBatch,
		reqs:   make(chan *commitReq, maxGroup),
		stop:   make(chan struct{}),
	}
	if err := b.initLayout(); err != nil {
		db.Close()
		return nil, err
	}
	b.hv = &HighVolume{b: b}
	b.lt = &LongTerm{b: b}
	b.cl = &ChangeLog{b: b}
	b.wg.Add(1)
	go b.committer()
	if o.SweepInterval > 0 {
		b.wg.Add(1)
		go b.sweepLoop(o.SweepInterval)
	}
	return b, nil
}

// initLayout creates the buckets and directories and empties tmp/.
func (b *Backend) initLayout() error {
	err := b.db.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{bucketRows, bucketRowExp, bucketLog} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("localbackend: create buckets: %w", err)
	}
	for _, d := range []string{blobsDir, uploadsDir, tmpDir} {
		if err := os.MkdirAll(filepath.Join(b.dir, d), 0o755); err != nil {
			return fmt.Errorf("localbackend: create layout: %w", err)
		}
	}
	// Every file in tmp/ belongs to a write that never finished: nobody else holds the lock.
	entries, err := os.ReadDir(filepath.Join(b.dir, tmpDir))
	if err != nil {
		return fmt.Errorf("localbackend: read tmp: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(b.dir, tmpDir, e.Name())); err != nil {
			return fmt.Errorf("localbackend: remove stale temp file: %w", err)
		}
	}
	for _, d := range []string{"", blobsDir, uploadsDir, tmpDir} {
		if err := syncDir(filepath.Join(b.dir, d)); err != nil {
			return err
		}
	}
	return nil
}

// Dir returns the data directory.
func (b *Backend) Dir() string { return b.dir }

// HighVolume returns the bbolt-backed high-volume backend.
func (b *Backend) HighVolume() *HighVolume { return b.hv }

// LongTerm returns the filesystem-backed long-term backend, which also implements Multipart.
func (b *Backend) LongTerm() *LongTerm { return b.lt }

// ChangeLog returns the bbolt-backed change log.
func (b *Backend) ChangeLog() *ChangeLog { return b.cl }

// Close stops the sweeper, waits for queued writes to commit, and closes the database,
// releasing the directory lock. It is idempotent. Readers still streaming a long-term object
// keep working: they hold their own file.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.stop)
	b.mu.Unlock()
	b.wg.Wait()
	return b.db.Close()
}

// commitReq is one write waiting for the committer.
type commitReq struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// update runs fn in a read-write transaction that is fsynced before update returns. Writes
// that arrive while a commit is in flight are grouped into the next transaction, so they
// share one fsync (group commit). fn may run more than once (after another grouped fn
// failed) and must derive its results only from tx; it should report logical outcomes
// through captured variables and return an error only for real failures.
func (b *Backend) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &commitReq{fn: fn, done: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrClosed
	}
	// The committer drains the channel until Close has taken mu exclusively, so this send
	// cannot block forever.
	select {
	case b.reqs <- req:
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	b.mu.RUnlock()
	// Once queued the write will be applied; wait for its outcome rather than report a
	// cancellation for a write that then commits.
	return <-req.done
}

// view runs fn in a read-only transaction. fn must not call update.
func (b *Backend) view(fn func(*bolt.Tx) error) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	return b.db.View(fn)
}

// committer is the single writer goroutine. It takes every queued request (up to maxGroup)
// and commits them in one transaction. Unlike bbolt's DB.Batch it never waits for a timer: a
// lone write commits at once, and writes that queue up behind an in-flight fsync go together.
func (b *Backend) committer() {
	defer b.wg.Done()
	group := make([]*commitReq, 0, maxGroup)
	for {
		var first *commitReq
		select {
		case first = <-b.reqs:
		case <-b.stop:
			// Close holds mu exclusively once stop is closed, so no new request can arrive;
			// commit what is queued and leave.
			for {
				select {
				case r := <-b.reqs:
					b.commit(append(group[:0], r))
				default:
					return
				}
			}
		}
		group = append(group[:0], first)
	drain:
		for len(group) < maxGroup {
			select {
			case r := <-b.reqs:
				group = append(group, r)
			default:
				break drain
			}
		}
		b.commit(group)
	}
}

// commit applies a group in one transaction. If the transaction fails, each request is
// retried alone so that one failing fn cannot fail the others.
func (b *Backend) commit(group []*commitReq) {
	if fn := b.beforeCommit.Load(); fn != nil {
		(*fn)(len(group))
	}
	b.commits.Add(1)
	b.grouped.Add(int64(len(group)))
	if n := int64(len(group)); n > b.largestGroup.Load() {
		b.largestGroup.Store(n) // only the committer goroutine writes it
	}
	if len(group) == 1 {
		group[0].done <- b.db.Update(group[0].fn)
		return
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		for _, r := range group {
			if err := r.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	for _, r := range group {
		if err == nil {
			r.done <- nil
			continue
		}
		// The whole transaction rolled back: rerun each fn alone, so the failing one gets
		// its own error and the others still commit.
		r.done <- b.db.Update(r.fn)
	}
}
