package reliability

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/tieredtest"
)

// soak is set by `make soak` (STRATA_SOAK=1): every bound grows.
var soak = os.Getenv("STRATA_SOAK") == "1"

// scale returns normal, or long under STRATA_SOAK=1.
func scale[T any](normal, long T) T {
	if soak {
		return long
	}
	return normal
}

// seed returns the test's random seed: STRATA_RELIABILITY_SEED if set, else a fresh one. It
// is logged so that a failure can be replayed.
func seed(t testing.TB) uint64 {
	t.Helper()
	if v := os.Getenv("STRATA_RELIABILITY_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("STRATA_RELIABILITY_SEED: %v", err)
		}
		t.Logf("seed %d (STRATA_RELIABILITY_SEED)", s)
		return s
	}
	s := rand.Uint64()
	t.Logf("seed %d (replay with STRATA_RELIABILITY_SEED=%d)", s, s)
	return s
}

// Self-describing values: a header line "STRATA-REL1 <id> <size> <key>\n" and then bytes
// derived from (key, id). decodeValue recognises a torn value (wrong size, wrong bytes) and
// a foreign one (another key's header).
const valueMagic = "STRATA-REL1"

// Sizes of the values the suites write: small ones stay inline in the high-volume tier,
// large ones (over tiered.Threshold) go to long-term behind a tombstone.
const (
	smallMin = 64
	smallMax = 64 << 10
	largeMin = tiered.Threshold + 100<<10 // ~1.1 MiB
	largeMax = 2 << 20
)

func valueSize(r *rand.Rand, large bool) int {
	if large {
		return largeMin + r.IntN(largeMax-largeMin+1)
	}
	return smallMin + r.IntN(smallMax-smallMin+1)
}

func valueHeader(key string, id, size int) string {
	return fmt.Sprintf("%s %d %d %s\n", valueMagic, id, size, key)
}

// makeValue returns the value id of key, about size bytes long (at least its header).
func makeValue(key string, id, size int) []byte {
	h := valueHeader(key, id, size)
	if size < len(h)+8 {
		size = len(h) + 8
		h = valueHeader(key, id, size)
		size = max(size, len(h)+8)
		h = valueHeader(key, id, size)
	}
	b := make([]byte, size)
	n := copy(b, h)
	fillPayload(b[n:], key, id)
	return b
}

func fillPayload(b []byte, key string, id int) {
	sum := sha256.Sum256([]byte(key + "#" + strconv.Itoa(id)))
	r := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])))
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	if i < len(b) {
		var tail [8]byte
		binary.LittleEndian.PutUint64(tail[:], r.Uint64())
		copy(b[i:], tail[:])
	}
}

// errBadValue marks a read that returned bytes no writer wrote under that key.
var errBadValue = errors.New("torn or foreign value")

// decodeValue checks that b is a whole value written under key and returns its id.
func decodeValue(key string, b []byte) (int, error) {
	nl := bytes.IndexByte(b[:min(len(b), 1024)], '\n')
	if nl < 0 {
		return 0, fmt.Errorf("%w: %d bytes without a header line", errBadValue, len(b))
	}
	f := strings.SplitN(string(b[:nl]), " ", 4)
	if len(f) != 4 || f[0] != valueMagic {
		return 0, fmt.Errorf("%w: header %q", errBadValue, b[:nl])
	}
	id, err1 := strconv.Atoi(f[1])
	size, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%w: header %q", errBadValue, b[:nl])
	}
	if f[3] != key {
		return id, fmt.Errorf("%w: read %q, got a value of %q (id %d)", errBadValue, key, f[3], id)
	}
	if size != len(b) {
		return id, fmt.Errorf("%w: value %d of %q is %d bytes, its header says %d", errBadValue, id, key, len(b), size)
	}
	want := make([]byte, len(b)-nl-1)
	fillPayload(want, key, id)
	if !bytes.Equal(want, b[nl+1:]) {
		i := 0
		for i < len(want) && want[i] == b[nl+1+i] {
			i++
		}
		return id, fmt.Errorf("%w: value %d of %q differs at payload byte %d", errBadValue, id, key, i)
	}
	return id, nil
}

// kv is what the workloads drive: a tiered.Store in process, or the SDK over HTTP.
type kv interface {
	put(ctx context.Context, key string, val []byte) error
	// get returns the whole value, or found=false for a missing object.
	get(ctx context.Context, key string) (val []byte, found bool, err error)
	del(ctx context.Context, key string) error
}

// storeKV drives a tiered.Store with ids in usecase "testing", scope org=1.
type storeKV struct{ s *tiered.Store }

func relID(key string) object.ID {
	return object.NewID("testing", []object.Scope{{Name: "org", Value: "1"}}, key)
}

func (k storeKV) put(ctx context.Context, key string, val []byte) error {
	_, err := k.s.Put(ctx, relID(key), object.Metadata{ContentType: "application/x-reliability"}, bytes.NewReader(val))
	return err
}

func (k storeKV) get(ctx context.Context, key string) ([]byte, bool, error) {
	o, err := k.s.Get(context.WithValue(ctx, firstReadKey{}, &firstRead{}), relID(key), nil)
	if errors.Is(err, object.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer o.Body.Close()
	b, err := io.ReadAll(o.Body)
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func (k storeKV) del(ctx context.Context, key string) error { return k.s.Delete(ctx, relID(key)) }

// checkConverged checks the state after recovery: no orphan long-term object, an empty
// change log, no tombstone that points to a missing revision, and every key either absent
// or a whole value. It returns the number of keys present.
func checkConverged(t *testing.T, b tieredtest.Backends, keys []string) int {
	t.Helper()
	ids := make([]object.ID, len(keys))
	for i, k := range keys {
		ids[i] = relID(k)
	}
	tieredtest.CheckNoOrphans(t, b, ids)
	tieredtest.CheckEmptyLog(t, b.Log, time.Now())
	s, err := tiered.New(b.HV, b.LT, b.Log, &tiered.Options{GracePeriod: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	present := 0
	for i, k := range keys {
		e, err := b.HV.GetTieredMetadata(ctx, ids[i])
		if err != nil && !errors.Is(err, object.ErrNotFound) {
			t.Fatalf("read row %s: %v", k, err)
		}
		if err == nil && e.Kind == driver.EntryTombstone {
			if _, err := b.LT.Head(ctx, e.Tombstone.Target); err != nil {
				t.Errorf("key %s: dangling tombstone to %s: %v", k, e.Tombstone.Target, err)
			}
		}
		val, found, err := storeKV{s}.get(ctx, k)
		if err != nil {
			t.Errorf("key %s: read after recovery: %v", k, err)
			continue
		}
		if !found {
			continue
		}
		present++
		if _, err := decodeValue(k, val); err != nil {
			t.Errorf("key %s after recovery: %v", k, err)
		}
	}
	return present
}

// counter counts events across goroutines.
type counter struct{ n atomic.Int64 }

func (c *counter) add() { c.n.Add(1) }
func (c *counter) get() int64 {
	return c.n.Load()
}
