package local

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/tiered/object"
)

// write is one put of the load: its payload's digest and whether the server acknowledged it.
type write struct {
	seq    int
	size   int
	digest string
	acked  bool
}

// TestLocal_RestartMidLoad_NoAcknowledgedWriteLost runs writers that put small (inline) and
// large (long-term) payloads to keys they own, recording for every key the order of its
// writes and which of them got a 2xx. In the middle of the load the server is killed
// (SIGKILL) or stopped (SIGTERM, which must exit 0); each writer stops at its first failed
// write. A large raw PUT over an existing large object is certainly in flight at the
// signal: with SIGKILL it leaves a change-log entry and a partial revision behind, so
// recovery always has work; with SIGTERM the drain lets it finish and it must be
// acknowledged. After a restart on the same data directory every key holds its last acknowledged
// value or the value of the write that was in flight when the server went away, whole
// (SHA-256), and nothing else. Once the restarted server's recovery has claimed what the
// crash left, the directory has no orphan blob and an empty change log, and every key still
// reads back the same.
func TestLocal_RestartMidLoad_NoAcknowledgedWriteLost(t *testing.T) {
	for _, c := range []struct {
		name string
		sig  syscall.Signal
	}{{"SIGKILL", syscall.SIGKILL}, {"SIGTERM", syscall.SIGTERM}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			restartMidLoad(t, c.sig)
		})
	}
}

func restartMidLoad(t *testing.T, sig syscall.Signal) {
	const (
		writers       = 8
		keysPerWriter = 4
	)
	maxOps, minAcked, loadLimit := 300, 80, 60*time.Second
	if soak() {
		maxOps, minAcked, loadLimit = 3000, 800, 5*time.Minute
	}
	k := newKeys(t)
	dir := t.TempDir()
	s := start(t, dir, k)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sess := sdk(t, s, k.Full, client.WithRetries(1, 0, 0))

	// history[key] is the key's writes in order; only its writer appends to it, and the
	// checks read it after every writer stopped.
	history := map[string][]*write{}
	var keys []string
	for w := range writers {
		for j := range keysPerWriter {
			key := fmt.Sprintf("load/w%d/k%d", w, j)
			keys = append(keys, key)
			history[key] = nil
		}
	}

	// The straggler is a large PUT over an existing large value that is certainly in flight
	// at the signal: 3 MiB of its 8 MiB have reached the server before the load starts, so
	// its change-log entry is recorded and its new revision is being written.
	const straggler, stragglerSize, stragglerSent = "load/straggler", 8 << 20, 3 << 20
	old := payload(7, 2<<20)
	if _, err := sess.Put(ctx, straggler, bytes.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	base := keda(t, s, "objectstore_bytes_total")
	conn := startRawPut(t, s, k, straggler, false, stragglerSize)
	stragglerBody := newGen(8, stragglerSize)
	sendBody(t, conn, stragglerBody, stragglerSent, false)
	waitFor(t, "the straggler's first 3 MiB to reach the server", time.Minute, func() bool {
		return keda(t, s, "objectstore_bytes_total")-base >= stragglerSent
	})
	stragglerDigest, _, _ := readDigest(newGen(8, stragglerSize))
	history[straggler] = []*write{{seq: 0, size: len(old), digest: digest(old), acked: true}, {seq: 1, size: stragglerSize, digest: stragglerDigest}}
	keys = append(keys, straggler)

	var mu sync.Mutex // guards history's slices while writers append
	var acked, ackedLarge atomic.Int64
	stop := make(chan struct{})
	loadDeadline := time.Now().Add(loadLimit)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range maxOps {
				select {
				case <-stop:
					return
				default:
				}
				if time.Now().After(loadDeadline) {
					return
				}
				key := fmt.Sprintf("load/w%d/k%d", w, i%keysPerWriter)
				size := 100 + (w*7919+i*104729)%(200<<10) // small: up to 200 KiB
				if i%3 == 1 {
					size = 1<<20 + 1 + (w*31+i*17)%(3<<20) // large: just above 1 MiB to 4 MiB
				}
				data := payload(uint64(w)<<32|uint64(i), size)
				wr := &write{seq: i, size: size, digest: digest(data)}
				mu.Lock()
				history[key] = append(history[key], wr)
				mu.Unlock()
				if _, err := sess.Put(ctx, key, bytes.NewReader(data)); err != nil {
					return // the server went away: this write was in flight
				}
				mu.Lock()
				wr.acked = true
				mu.Unlock()
				acked.Add(1)
				if size > 1<<20 {
					ackedLarge.Add(1)
				}
			}
		})
	}
	waitFor(t, fmt.Sprintf("%d acknowledged writes", minAcked), loadLimit, func() bool {
		return acked.Load() >= int64(minAcked) && ackedLarge.Load() >= int64(minAcked/4)
	})
	if err := s.Cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	if sig == syscall.SIGTERM {
		// The drain waits for the straggler: send the rest, and it must be acknowledged.
		waitFor(t, "the server to start draining", time.Minute, func() bool {
			return strings.Contains(s.Logs.String(), "strata is shutting down")
		})
		sendBody(t, conn, stragglerBody, stragglerSize-stragglerSent, false)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("the straggler's answer during the drain: %v %v", res, err)
		}
		res.Body.Close()
		history[straggler][1].acked = true
	}
	err := s.Stop(t, sig)
	switch {
	case sig == syscall.SIGTERM && err != nil:
		t.Errorf("strata exited with %v after SIGTERM, want 0\n%s", err, tail(s.Logs.String(), 4000))
	case sig == syscall.SIGKILL && err == nil:
		t.Errorf("strata exited 0 after SIGKILL?")
	}
	close(stop)
	wg.Wait()
	t.Logf("%v after %d acknowledged writes (%d large)", sig, acked.Load(), ackedLarge.Load())

	st := inspect(t, dir)
	t.Logf("left on disk: %d change-log entries, %d blobs, %d temp files", st.Entries, st.Blobs, st.Temp)
	if sig == syscall.SIGKILL && st.Entries == 0 {
		t.Errorf("the kill left no change-log entry, though the straggler was in flight")
	}

	// verify checks every key against its history and returns the ids of all keys.
	verify := func(sess *client.Session, when string) []object.ID {
		var ids []object.ID
		inFlight, ackedLost := 0, 0
		for _, key := range keys {
			ids = append(ids, objectID(key))
			hist := history[key]
			last := -1
			for i, wr := range hist {
				if wr.acked {
					last = i
				}
			}
			allowed := map[string]int{}
			if last < 0 {
				allowed[""] = -1 // never acknowledged: absent is fine
			}
			for i := max(last, 0); i < len(hist); i++ {
				if i == last || !hist[i].acked {
					allowed[hist[i].digest] = i
				}
			}
			got := getDigest(ctx, t, sess, key)
			i, ok := allowed[got]
			switch {
			case !ok && last >= 0:
				ackedLost++
				t.Errorf("%s: %s holds %q, not its last acknowledged write #%d (%d bytes, %s) nor a later unacknowledged one",
					when, key, got, hist[last].seq, hist[last].size, hist[last].digest)
			case !ok:
				t.Errorf("%s: %s holds %q, which was never written whole", when, key, got)
			case i > last:
				inFlight++
			}
		}
		t.Logf("%s: %d keys checked; %d hold the write that was in flight at the %v", when, len(keys), inFlight, sig)
		return ids
	}

	s = start(t, dir, k)
	sess = sdk(t, s, k.Full)
	ids := verify(sess, "after the restart")
	recoverNow(t, s, st)
	stopTerm(t, s)
	checkClean(t, dir, ids)

	s = start(t, dir, k)
	verify(sdk(t, s, k.Full), "after recovery")
	stopTerm(t, s)
}
