package local

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/tiered/object"
)

// TestLocal_ConcurrentWriters_OneSurvivorNoOrphans has 64 writers put distinct payloads,
// half small (inline) and half large (long-term, 1–3 MiB), to one key at the same moment,
// in several rounds on the same key. Every put succeeds (a lost race is not an error), and
// after each round the key holds exactly one of that round's payloads, whole. Then the
// server is stopped with SIGTERM (exit 0) and the data directory holds no blob other than
// the key's tombstone target and an empty change log.
func TestLocal_ConcurrentWriters_OneSurvivorNoOrphans(t *testing.T) {
	const writers = 64
	rounds := 5
	if soak() {
		rounds = 20
	}
	k := newKeys(t)
	dir := t.TempDir()
	s := start(t, dir, k)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	sess := sdk(t, s, k.Full, client.WithRetries(1, 0, 0))
	const key = "contended/key"
	deadline := time.Now().Add(2 * time.Minute)

	for round := range rounds {
		if time.Now().After(deadline) {
			t.Logf("stopping after %d rounds: time bound reached", round)
			break
		}
		written := map[string]int{} // digest → writer
		payloads := make([][]byte, writers)
		for w := range writers {
			n := 1000 + w*997 // small: inline
			if w%2 == 1 {
				n = 1<<20 + 1 + w*(32<<10) // just above 1 MiB up to ~3 MiB: long-term
			}
			payloads[w] = payload(uint64(round*1000+w), n)
			written[digest(payloads[w])] = w
		}
		if len(written) != writers {
			t.Fatalf("payloads are not distinct")
		}
		startGun := make(chan struct{})
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				<-startGun
				_, errs[w] = sess.Put(ctx, key, bytes.NewReader(payloads[w]))
			})
		}
		close(startGun)
		wg.Wait()
		for w, err := range errs {
			if err != nil {
				t.Errorf("round %d writer %d: %v", round, w, err)
			}
		}
		got := getDigest(ctx, t, sess, key)
		w, ok := written[got]
		if !ok {
			t.Fatalf("round %d: the key holds %q, which no writer of the round wrote (whole)", round, got)
		}
		md, err := sess.Head(ctx, key)
		if err != nil {
			t.Fatalf("head: %v", err)
		}
		t.Logf("round %d: writer %d survived (%d bytes, created %v)", round, w, len(payloads[w]), md.TimeCreated.Format(time.StampMicro))
	}

	stopTerm(t, s)
	st := settle(t, dir, k)
	t.Logf("after the stop: %d blobs, %d change-log entries, %d temp files", st.Blobs, st.Entries, st.Temp)
	if st.Temp != 0 {
		t.Errorf("%d files left in tmp/ after a graceful stop", st.Temp)
	}
	checkClean(t, dir, []object.ID{objectID(key)})

	// The survivor is intact across the restart.
	s = start(t, dir, k)
	sess = sdk(t, s, k.Full)
	if getDigest(ctx, t, sess, key) == "" {
		t.Errorf("the key is gone after a restart")
	}
	stopTerm(t, s)
}
