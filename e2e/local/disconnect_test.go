package local

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/tiered/object"
)

// TestLocal_ClientDisconnectMidUpload_NoPartialObject sends PUTs over raw TCP and closes the
// connection part-way: an 8 MiB Content-Length body cut after 3 MiB, a chunked body cut
// after 3 MiB, and a 512 KiB body cut after 200 KiB, each onto a new key and onto a key that
// already holds a value. The server has consumed every byte sent before the cut (its /keda
// byte counter says so), so the large cuts happen while the revision streams to the
// long-term tier. Afterwards each new key is absent (404) and each existing key holds its
// previous value, the server logged a non-2xx for the cut request, and, once stopped, the
// data directory has no temp file, no orphan blob and an empty change log, with no recovery
// needed; the same holds after a restart.
func TestLocal_ClientDisconnectMidUpload_NoPartialObject(t *testing.T) {
	k := newKeys(t)
	dir := t.TempDir()
	s := start(t, dir, k)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sess := sdk(t, s, k.Full)

	type cutCase struct {
		name       string
		key        string
		chunked    bool
		total, cut int
		reset      bool   // close with RST instead of FIN
		previous   []byte // the key's value before the cut, nil for a new key
	}
	cases := []cutCase{
		{name: "LengthLarge/NewKey", key: "cut/length-large-new", total: 8 << 20, cut: 3 << 20},
		{name: "LengthLarge/ExistingLarge", key: "cut/length-large-old", total: 8 << 20, cut: 3 << 20, previous: payload(101, 2<<20)},
		{name: "LengthLarge/ExistingSmall/RST", key: "cut/length-large-old-small", total: 8 << 20, cut: 3 << 20, reset: true, previous: payload(102, 4000)},
		{name: "Chunked/NewKey", key: "cut/chunked-new", chunked: true, total: 8 << 20, cut: 3 << 20},
		{name: "Chunked/ExistingLarge", key: "cut/chunked-old", chunked: true, total: 8 << 20, cut: 3 << 20, previous: payload(103, 1<<20+1)},
		{name: "LengthSmall/NewKey", key: "cut/length-small-new", total: 512 << 10, cut: 200 << 10},
		{name: "LengthSmall/ExistingLarge", key: "cut/length-small-old", total: 512 << 10, cut: 200 << 10, previous: payload(104, 3<<20)},
		{name: "ChunkedSmall/ExistingSmall", key: "cut/chunked-small-old", chunked: true, total: 512 << 10, cut: 200 << 10, previous: payload(105, 300)},
	}
	var ids []object.ID
	for _, c := range cases {
		ids = append(ids, objectID(c.key))
		if c.previous != nil {
			if _, err := sess.Put(ctx, c.key, bytes.NewReader(c.previous)); err != nil {
				t.Fatalf("seeding %s: %v", c.key, err)
			}
		}
	}
	check := func(t *testing.T, c cutCase) {
		t.Helper()
		got := getDigest(ctx, t, sess, c.key)
		switch {
		case c.previous == nil && got != "":
			t.Errorf("%s: the cut upload left an object (SHA-256 %s), want 404", c.key, got)
		case c.previous != nil && got != digest(c.previous):
			t.Errorf("%s: holds SHA-256 %q, want the previous value %s", c.key, got, digest(c.previous))
		}
	}

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logged := len(loggedStatuses(t, s, c.key))
			before := keda(t, s, "objectstore_bytes_total")
			conn := startRawPut(t, s, k, c.key, c.chunked, c.total)
			body := newGen(uint64(900+i), int64(c.total))
			sendBody(t, conn, body, c.cut, c.chunked)
			waitFor(t, fmt.Sprintf("the server to consume the %d bytes sent", c.cut), time.Minute, func() bool {
				return keda(t, s, "objectstore_bytes_total")-before >= int64(c.cut)
			})
			if n := keda(t, s, "objectstore_requests_in_flight"); n != 1 {
				t.Fatalf("%d requests in flight before the cut, want 1", n)
			}
			if c.reset {
				_ = conn.(*net.TCPConn).SetLinger(0)
			}
			conn.Close()
			waitFor(t, "the cut request to end", time.Minute, func() bool {
				return keda(t, s, "objectstore_requests_in_flight") == 0
			})
			var sts []int
			waitFor(t, "the cut request's log line", time.Minute, func() bool {
				sts = loggedStatuses(t, s, c.key)
				return len(sts) > logged
			})
			if st := sts[len(sts)-1]; st/100 == 2 {
				t.Errorf("the server logged status %d for the cut upload", st)
			} else {
				t.Logf("the cut upload was logged with status %d", st)
			}
			check(t, c)
		})
	}

	stopTerm(t, s)
	st := inspect(t, dir)
	if st.Temp != 0 || st.Entries != 0 {
		t.Errorf("after cut uploads and a graceful stop: %d temp files, %d change-log entries; want none", st.Temp, st.Entries)
	}
	settle(t, dir, k)
	checkClean(t, dir, ids)

	// After a restart (and its recovery) nothing changed.
	s = start(t, dir, k)
	sess = sdk(t, s, k.Full)
	for _, c := range cases {
		check(t, c)
	}
	stopTerm(t, s)
	checkClean(t, dir, ids)
}

// startRawPut opens a connection and sends the head of a PUT of key with either a
// Content-Length of total or chunked framing.
func startRawPut(t testing.TB, s *server, k keySet, key string, chunked bool, total int) net.Conn {
	t.Helper()
	host := strings.TrimPrefix(s.URL, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	framing := fmt.Sprintf("Content-Length: %d", total)
	if chunked {
		framing = "Transfer-Encoding: chunked"
	}
	head := fmt.Sprintf("PUT /v1/objects/%s/%s/%s HTTP/1.1\r\nHost: %s\r\nX-Os-Auth: Bearer %s\r\nContent-Type: application/octet-stream\r\n%s\r\n\r\n",
		usecase, scopePath, key, host, token(t, k.Full.Priv, k.Full.KID), framing)
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	return conn
}

// sendBody writes n bytes of body to conn, in 64 KiB chunks (chunk frames when chunked).
func sendBody(t testing.TB, conn net.Conn, body io.Reader, n int, chunked bool) {
	t.Helper()
	buf := make([]byte, 64<<10)
	for n > 0 {
		m, _ := io.ReadFull(body, buf[:min(len(buf), n)])
		var err error
		if chunked {
			_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", m, buf[:m])
		} else {
			_, err = conn.Write(buf[:m])
		}
		if err != nil {
			t.Fatalf("sending the body: %v", err)
		}
		n -= m
	}
}

// loggedStatuses returns the statuses of the logged PUTs of key, in log order.
func loggedStatuses(t testing.TB, s *server, key string) []int {
	t.Helper()
	var statuses []int
	for _, line := range s.Logs.Lines() {
		var e struct {
			Op   string `json:"op"`
			Stat int    `json:"status"`
			Req  struct {
				Method string `json:"requestMethod"`
				URL    string `json:"requestUrl"`
			} `json:"httpRequest"`
		}
		if json.Unmarshal([]byte(line), &e) != nil || e.Req.Method != "PUT" || !strings.HasSuffix(e.Req.URL, "/"+key) {
			continue
		}
		statuses = append(statuses, e.Stat)
	}
	return statuses
}
