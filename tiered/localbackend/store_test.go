package localbackend_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered"
	"github.com/stratastore/strata/tiered/backendtest"
	"github.com/stratastore/strata/tiered/localbackend"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/tieredtest"
)

func openLocal(t *testing.T, dir string) *localbackend.Backend {
	t.Helper()
	b, err := localbackend.Open(context.Background(), dir, &localbackend.Options{SweepInterval: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func backends(b *localbackend.Backend) tieredtest.Backends {
	return tieredtest.Backends{
		HV: b.HighVolume(), LT: b.LongTerm(), Log: b.ChangeLog(),
		Objects: func(context.Context) ([]string, error) { return b.LongTerm().Keys() },
	}
}

// TestCrash_Store runs the tiered crash suite over the local backend.
func TestCrash_Store(t *testing.T) {
	tieredtest.TestCrash(t, func(t *testing.T) tieredtest.Backends {
		b := openLocal(t, t.TempDir())
		t.Cleanup(func() { b.Close() })
		return backends(b)
	})
}

const (
	storeKillDirEnv = "STRATA_LOCALBACKEND_STORE_KILL_DIR"
	storeKeys       = 4
)

func killPayload(key string, version int) []byte {
	n := 200 + version*13
	if version%3 != 0 {
		n = 2<<20 + version*4099 // large: long-term
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s#%d", key, version)))
	return bytes.Repeat(sum[:], n/32+1)[:n]
}

func digest(p []byte) string {
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:8])
}

// stallingReader yields p, but blocks forever half way when stall is set, after telling the
// parent it is there.
type stallingReader struct {
	r     io.Reader
	left  int
	stall func()
}

func (s *stallingReader) Read(b []byte) (int, error) {
	if s.stall != nil && s.left <= 0 {
		s.stall()
		select {}
	}
	n, err := s.r.Read(b[:min(len(b), 32<<10)])
	s.left -= n
	return n, err
}

// TestHelperStoreWriter is the child of TestKill9_StoreRecovers: a Store over the local
// backend writing, overwriting and deleting objects until it is killed. Before each write it
// prints "BEGIN key digest" and after the write returns "ACK key digest" ("-" for a delete).
func TestHelperStoreWriter(t *testing.T) {
	dir := os.Getenv(storeKillDirEnv)
	if dir == "" {
		return // only meaningful as the child process
	}
	b := openLocal(t, dir)
	s, err := tiered.New(b.HighVolume(), b.LongTerm(), b.ChangeLog(), &tiered.Options{GracePeriod: -1, HeartbeatInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
	}
	ctx := context.Background()
	for v := 1; ; v++ {
		for k := range storeKeys {
			key := fmt.Sprintf("k%d", k)
			id := backendtest.NewID(t, key)
			if v%5 == 4 && k%2 == 1 {
				say("BEGIN %s -", key)
				if err := s.Delete(ctx, id); err != nil {
					t.Fatal(err)
				}
				say("ACK %s -", key)
				continue
			}
			p := killPayload(key, v)
			r := &stallingReader{r: bytes.NewReader(p), left: len(p) / 2}
			if v >= 6 && k == storeKeys-1 && len(p) > tiered.Threshold {
				r.stall = func() { say("STALL %s", key) }
			}
			say("BEGIN %s %s", key, digest(p))
			if _, err := s.Put(ctx, id, object.Metadata{}, r); err != nil {
				t.Fatal(err)
			}
			say("ACK %s %s", key, digest(p))
		}
	}
}

// TestKill9_StoreRecovers kills a Store writer with SIGKILL in the middle of a large put,
// after many acknowledged writes and overwrites, then reopens the data directory, runs
// recovery, and checks: every key holds its last acknowledged value or the value of the
// write in flight (never a torn or older one), no long-term blob is unreferenced, and the
// change log is empty.
func TestKill9_StoreRecovers(t *testing.T) {
	for round := range 3 {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperStoreWriter$", "-test.count=1")
			cmd.Env = append(os.Environ(), storeKillDirEnv+"="+dir)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			acked := map[string]string{}
			inflight := map[string]string{}
			sc := bufio.NewScanner(stdout)
			stalled := false
			for !stalled && sc.Scan() {
				f := strings.Fields(sc.Text())
				switch {
				case len(f) == 3 && f[0] == "BEGIN":
					inflight[f[1]] = f[2]
				case len(f) == 3 && f[0] == "ACK":
					acked[f[1]] = f[2]
					delete(inflight, f[1])
				case len(f) == 2 && f[0] == "STALL":
					stalled = true
				}
			}
			if !stalled {
				t.Fatalf("writer ended before stalling: %v", sc.Err())
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if len(acked) != storeKeys || len(inflight) != 1 {
				t.Fatalf("acked %v, in flight %v", acked, inflight)
			}

			b := openLocal(t, dir)
			defer b.Close()
			tieredtest.RecoverAll(t, backends(b))
			s, err := tiered.New(b.HighVolume(), b.LongTerm(), b.ChangeLog(), &tiered.Options{GracePeriod: -1, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			var ids []object.ID
			for k := range storeKeys {
				key := fmt.Sprintf("k%d", k)
				id := backendtest.NewID(t, key)
				ids = append(ids, id)
				got := "-"
				p, err := tieredtest.ReadAll(s, id)
				switch {
				case err == nil:
					got = digest(p)
				case !errors.Is(err, object.ErrNotFound):
					t.Fatalf("%s: %v", key, err)
				}
				if got != acked[key] && got != inflight[key] {
					t.Errorf("%s holds %s; want the acknowledged %s or the in-flight %q", key, got, acked[key], inflight[key])
				}
			}
			tieredtest.CheckNoOrphans(t, backends(b), ids)
			tieredtest.CheckEmptyLog(t, b.ChangeLog(), time.Now())
		})
	}
}
