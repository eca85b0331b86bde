package localbackend

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/driver"
	"github.com/stratastore/strata/tiered/object"
)

// crashDirEnv makes TestHelperWriter act as the crash test's child writer process, and
// crashStallEnv names the version of the large object whose write stalls half-way.
const (
	crashDirEnv   = "STRATA_LOCALBACKEND_CRASH_DIR"
	crashStallEnv = "STRATA_LOCALBACKEND_CRASH_STALL"
)

// crashContent returns the deterministic payload of a key at a version.
func crashContent(key string, version, n int) []byte {
	sum := sha256.Sum256([]byte(key + "#" + strconv.Itoa(version)))
	r := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])))
	b := make([]byte, (n+7)/8*8)
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n]
}

func largeSize(version int) int { return 3<<20 + version%5*100_000 }

// slowReader yields b in 64 KiB chunks with a pause before each, like a slow client. If
// stall is set, it calls it once half of b has been read and then never returns: the
// parent kills the process while this write is in flight.
type slowReader struct {
	b     []byte
	pause time.Duration
	stall func()
	half  int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if r.stall != nil && len(r.b) <= r.half {
		r.stall()
		time.Sleep(time.Minute)
	}
	time.Sleep(r.pause)
	n := copy(p[:min(len(p), 64<<10)], r.b)
	r.b = r.b[n:]
	return n, nil
}

// TestHelperWriter is not a test on its own: TestCrash_KillDuringWrites runs the test binary
// with crashDirEnv set, and then this function is a writer process that the parent kills
// with SIGKILL. It prints one "CRASH ..." line after each acknowledged write.
func TestHelperWriter(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		return // only meaningful as the child of TestCrash_KillDuringWrites
	}
	stallAt, err := strconv.Atoi(os.Getenv(crashStallEnv))
	if err != nil {
		fmt.Printf("CRASH error %s: %v\n", crashStallEnv, err)
		os.Exit(2)
	}
	b, err := Open(context.Background(), dir, &Options{SweepInterval: -1})
	if err != nil {
		fmt.Printf("CRASH error open %v\n", err)
		os.Exit(2)
	}
	ctx := context.Background()
	say := func(format string, args ...any) { fmt.Printf("CRASH "+format+"\n", args...) }
	fail := func(err error) {
		say("error %v", err)
		os.Exit(2)
	}
	// Large objects, every other one overwriting the same key.
	go func() {
		for v := 0; ; v++ {
			key := fmt.Sprintf("large/%d", v)
			if v%2 == 1 {
				key = "large/shared"
			}
			say("begin large %s %d", key, v)
			body := &slowReader{b: crashContent(key, v, largeSize(v)), pause: 3 * time.Millisecond}
			if v == stallAt {
				body.half = largeSize(v) / 2
				body.stall = func() { say("stalled large %s %d", key, v) }
			}
			if err := b.LongTerm().Put(ctx, testID(key), object.Metadata{ContentType: "application/x-crash"}, body); err != nil {
				fail(err)
			}
			say("done large %s %d", key, v)
		}
	}()
	// Small rows, four writers at once.
	for w := range 4 {
		go func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("small/%d/%d", w, i)
				if _, err := b.HighVolume().PutNonTombstone(ctx, testID(key), object.Metadata{Size: 4096}, crashContent(key, 0, 4096)); err != nil {
					fail(err)
				}
				say("done small %s", key)
				time.Sleep(time.Millisecond)
			}
		}()
	}
	// Multipart parts.
	go func() {
		mp := testID("mp/rev")
		up, err := b.LongTerm().InitiateMultipart(ctx, mp, object.Metadata{})
		if err != nil {
			fail(err)
		}
		say("upload %s", up)
		for n := 1; ; n++ {
			data := crashContent("part", n, 1<<20)
			etag, err := b.LongTerm().UploadPart(ctx, mp, up, n, int64(len(data)), &slowReader{b: data, pause: 2 * time.Millisecond})
			if err != nil {
				fail(err)
			}
			say("done part %d %s", n, etag)
		}
	}()
	time.Sleep(60 * time.Second) // the parent kills us long before
	say("error not killed")
	os.Exit(3)
}

func TestCrash_KillDuringWrites(t *testing.T) {
	// Kill while a new key streams (its partial file must stay invisible) and while an
	// existing key is overwritten (the previous version must stay whole).
	// Even versions write fresh keys, odd ones overwrite large/shared.
	t.Run("NewKey", func(t *testing.T) { crashTest(t, 4) })
	t.Run("Overwrite", func(t *testing.T) { crashTest(t, 5) })
}

// crashTest runs the writer child, kills it while the Put of large version stallAt is
// half-way through its body (small rows and parts are being written concurrently),
// reopens the directory and checks it.
func crashTest(t *testing.T, stallAt int) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashStallEnv+"="+strconv.Itoa(stallAt))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "CRASH "); ok {
				lines <- s
			}
		}
	}()
	var (
		smallDone  []string
		largeDone  = map[string]int{} // key -> last acknowledged version
		largeBegun = map[string][]int{}
		uploadID   string
		parts      = map[int]string{}
		largeCount int
		stalled    bool
	)
	handle := func(l string) {
		f := strings.Fields(l)
		switch {
		case f[0] == "error":
			t.Fatalf("child: %s", l)
		case f[0] == "upload":
			uploadID = f[1]
		case f[0] == "begin":
			v, _ := strconv.Atoi(f[3])
			largeBegun[f[2]] = append(largeBegun[f[2]], v)
		case f[0] == "done" && f[1] == "small":
			smallDone = append(smallDone, f[2])
		case f[0] == "done" && f[1] == "large":
			v, _ := strconv.Atoi(f[3])
			largeDone[f[2]] = v
			largeCount++
		case f[0] == "done" && f[1] == "part":
			n, _ := strconv.Atoi(f[2])
			parts[n] = f[3]
		}
	}
	timeout := time.After(60 * time.Second)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("child exited before it was killed")
			}
			handle(l)
			if strings.HasPrefix(l, "stalled ") {
				stalled = true
			}
			if stalled && len(smallDone) >= 50 && len(parts) >= 2 {
				break wait
			}
		case <-timeout:
			t.Fatalf("child made too little progress: %d large, %d small, %d parts", largeCount, len(smallDone), len(parts))
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred code, no flush
		t.Fatal(err)
	}
	killed = true
	for l := range lines { // acknowledgements printed before the kill still count
		handle(l)
	}
	cmd.Wait()
	t.Logf("killed after %d large, %d small, %d parts acknowledged", largeCount, len(smallDone), len(parts))
	if stallAt%2 == 1 {
		if _, ok := largeDone["large/shared"]; !ok {
			t.Fatal("killed an overwrite before any version of large/shared was acknowledged")
		}
	}

	if names := tmpFiles(t, dir); len(names) == 0 {
		t.Fatalf("no temp file after killing a writer mid-stream")
	}
	b, err := Open(context.Background(), dir, &Options{SweepInterval: -1})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer b.Close()
	if names := tmpFiles(t, dir); len(names) != 0 {
		t.Fatalf("Open left temp files: %v", names)
	}

	for _, key := range smallDone {
		e, err := b.HighVolume().GetTiered(ctx, testID(key))
		if err != nil || e.Kind != driver.EntryObject || !bytes.Equal(e.Payload, crashContent(key, 0, 4096)) {
			t.Fatalf("acknowledged small %s: kind %v, %d bytes, %v", key, e.Kind, len(e.Payload), err)
		}
	}

	// Every visible blob is a whole version that was begun, and not older than the last
	// acknowledged one; every acknowledged key is visible.
	keys, err := b.LongTerm().Keys()
	if err != nil {
		t.Fatal(err)
	}
	visible := map[string]bool{}
	for _, p := range keys {
		id, err := object.ParseStoragePath(p)
		if err != nil {
			t.Fatal(err)
		}
		visible[id.Key] = true
		got, md := readAll(t, b.LongTerm(), id)
		matched := -1
		for _, v := range largeBegun[id.Key] {
			if len(got) == largeSize(v) && bytes.Equal(got, crashContent(id.Key, v, largeSize(v))) {
				matched = v
			}
		}
		if matched < 0 {
			t.Fatalf("blob %s (%d bytes) is not a whole version that was written", id.Key, len(got))
		}
		if last, ok := largeDone[id.Key]; ok && matched < last {
			t.Fatalf("blob %s holds version %d, older than the acknowledged %d", id.Key, matched, last)
		}
		if md.ContentType != "application/x-crash" || md.Size != int64(len(got)) {
			t.Fatalf("blob %s metadata %+v", id.Key, md)
		}
	}
	for key := range largeDone {
		if !visible[key] {
			t.Fatalf("acknowledged blob %s is missing", key)
		}
	}

	// Acknowledged parts survive with their ETags and content.
	mp := testID("mp/rev")
	pl, err := b.LongTerm().ListParts(ctx, mp, uploadID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[int]string{}
	for _, p := range pl.Parts {
		listed[p.PartNumber] = p.ETag
	}
	var complete []object.CompletedPart
	var want []byte
	for n := 1; n <= len(parts); n++ {
		if listed[n] != parts[n] {
			t.Fatalf("part %d: listed ETag %q, acknowledged %q", n, listed[n], parts[n])
		}
		complete = append(complete, object.CompletedPart{PartNumber: n, ETag: parts[n]})
		want = append(want, crashContent("part", n, 1<<20)...)
	}
	if ce, err := b.LongTerm().CompleteMultipart(ctx, mp, uploadID, complete); err != nil || ce != nil {
		t.Fatalf("Complete after crash: %v, %v", ce, err)
	}
	if got, _ := readAll(t, b.LongTerm(), mp); !bytes.Equal(got, want) {
		t.Fatalf("completed object after crash: %d bytes, want %d", len(got), len(want))
	}
}
