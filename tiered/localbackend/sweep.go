package localbackend

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// SweepStats reports what one Sweep removed.
type SweepStats struct {
	Rows    int
	Blobs   int
	Uploads int
}

// UploadLifetime is how long a multipart upload may stay open. The sweeper removes older
// uploads with their parts, like the GCS bucket's lifecycle rule on "~uploads/". It exceeds
// tiered.MultipartCompleteCleanupDelay, so a failed complete stays retryable for that long.
const UploadLifetime = 7 * 24 * time.Hour

// Sweep deletes every expired high-volume row and long-term blob, at most Options.SweepBatch
// per transaction (rows) or per directory fsync (blobs), until none is left or ctx ends.
// Expired data is already invisible to every read; sweeping only reclaims space. The
// background sweeper calls it every Options.SweepInterval; tests may call it directly.
func (b *Backend) Sweep(ctx context.Context) (SweepStats, error) {
	b.sweepMu.Lock()
	defer b.sweepMu.Unlock()
	var st SweepStats
	n, err := b.sweepRows(ctx)
	st.Rows = n
	if err != nil {
		return st, err
	}
	st.Blobs, err = b.sweepBlobs(ctx)
	if err != nil {
		return st, err
	}
	st.Uploads, err = b.sweepUploads(ctx)
	return st, err
}

// sweepUploads removes abandoned multipart uploads. Upload ids are UUIDv7s, so an upload's
// age is read from its id without opening anything.
func (b *Backend) sweepUploads(ctx context.Context) (int, error) {
	ids, err := b.lt.Uploads()
	if err != nil {
		return 0, err
	}
	cutoff := b.now().Add(-UploadLifetime)
	n := 0
	for _, id := range ids {
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 {
			continue
		}
		sec, nsec := u.Time().UnixTime()
		if !time.Unix(sec, nsec).Before(cutoff) {
			continue
		}
		if err := b.lt.removeUpload(ctx, id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// sweepRows walks the expiry index from its oldest deadline.
func (b *Backend) sweepRows(ctx context.Context) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		now := b.now()
		var keys [][]byte
		err := b.view(func(tx *bolt.Tx) error {
			c := tx.Bucket([]byte(bucketRowExp)).Cursor()
			for k, _ := c.First(); k != nil && len(keys) < b.sbatch; k, _ = c.Next() {
				t, _, ok := parseExpKey(k)
				if ok && !t.Before(now) {
					break
				}
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return total, err
		}
		var n int
		err = b.update(ctx, func(tx *bolt.Tx) error {
			n = 0
			exp := tx.Bucket([]byte(bucketRowExp))
			for _, k := range keys {
				_, path, ok := parseExpKey(k)
				if !ok {
					if err := exp.Delete(k); err != nil {
						return err
					}
					continue
				}
				// Re-check inside the write: the row may have been rewritten or bumped since
				// the scan.
				r, found, err := getRow(tx, []byte(path))
				if err != nil {
					return err
				}
				switch {
				case found && !r.live(now) && bytes.Equal(expKey(r.expires, path), k):
					if err := deleteRow(tx, []byte(path), &r); err != nil {
						return err
					}
					n++
				case !found || !bytes.Equal(expKey(r.expires, path), k):
					// A stale index entry; the row (if any) has its own.
					if err := exp.Delete(k); err != nil {
						return err
					}
				}
			}
			return nil
		})
		total += n
		if err != nil || len(keys) < b.sbatch {
			return total, err
		}
	}
}

// sweepBlobs removes expired blob files. The check and the unlink happen under the blob's
// stripe lock, which Put and Complete also take for their rename, so a blob written after
// the check is never removed.
func (b *Backend) sweepBlobs(ctx context.Context) (int, error) {
	if err := b.lt.checkOpen(); err != nil {
		return 0, err
	}
	now := b.now()
	total, pending := 0, map[string]bool{}
	flush := func() error {
		for d := range pending {
			if err := syncDir(d); err != nil {
				return err
			}
			delete(pending, d)
		}
		return nil
	}
	err := b.lt.walkBlobs(func(name string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		dir := filepath.Dir(name)
		stripe, err := strconv.ParseUint(filepath.Base(dir), 16, 8)
		if err != nil {
			return nil // not one of ours
		}
		removed, err := b.sweepBlob(name, int(stripe), now)
		if err != nil {
			b.log.WarnContext(ctx, "localbackend: sweep blob", "file", name, "err", err)
			return nil
		}
		if removed {
			total++
			pending[dir] = true
			if total%b.sbatch == 0 {
				return flush()
			}
		}
		return nil
	})
	if ferr := flush(); err == nil {
		err = ferr
	}
	return total, err
}

func (b *Backend) sweepBlob(name string, stripe int, now time.Time) (bool, error) {
	b.blobMu[stripe].Lock()
	defer b.blobMu[stripe].Unlock()
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	info, err := readBlobHeader(f)
	f.Close()
	if err != nil || !info.md.Expired(now) {
		return false, err
	}
	return true, os.Remove(name)
}

// sweepLoop runs Sweep every interval until Close.
func (b *Backend) sweepLoop(interval time.Duration) {
	defer b.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-b.stop
		cancel()
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			st, err := b.Sweep(ctx)
			if err != nil && ctx.Err() == nil {
				b.log.WarnContext(ctx, "localbackend: expiry sweep failed", "err", err)
			}
			if st.Rows+st.Blobs > 0 {
				b.log.DebugContext(ctx, "localbackend: expiry sweep", "rows", st.Rows, "blobs", st.Blobs)
			}
		}
	}
}
