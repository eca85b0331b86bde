package reliability

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/e2e/internal/harness"
	"github.com/stratastore/strata/functions/client"
)

// badRequests returns raw HTTP/1.1 requests that are malformed in every layer the server
// parses: request line, paths, scopes, keys, headers, tokens, batch and complete bodies.
// token is a valid token for usecase "testing" and any org, so that parsing past auth is
// exercised too.
func badRequests(host, token string) [][]byte {
	auth := "x-os-auth: Bearer " + token + "\r\n"
	req := func(method, path string, headers string, body []byte) []byte {
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n%s", method, path, host, headers)
		if body != nil {
			fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
		}
		b.WriteString("Connection: close\r\n\r\n")
		b.Write(body)
		return b.Bytes()
	}
	var out [][]byte
	// Paths, scopes and keys.
	for _, p := range []string{
		"/v1/objects/", "/v1/objects/testing", "/v1/objects/testing/", "/v1/objects/testing/org=1",
		"/v1/objects/testing/org=1/", "/v1/objects/testing/org=1//k", "/v1/objects/testing/org=1/a//b",
		"/v1/objects/testing/org=1/%2E%2E", "/v1/objects/testing/org=1/a/%2e/b", "/v1/objects/testing/org=1/%00",
		"/v1/objects/testing/org=1/%C3%28", "/v1/objects/testing/org=1/%FF%FE", "/v1/objects/testing/org=1/%",
		"/v1/objects/testing/org=1/%zz", "/v1/objects/testing/org=1/" + strings.Repeat("k", 5000),
		"/v1/objects/testing/org=1/" + strings.Repeat("a/", 2000) + "z", "/v1/objects/%FF/org=1/k",
		"/v1/objects/" + strings.Repeat("u", 100) + "/org=1/k", "/v1/objects/testing/org/k", "/v1/objects/testing/=1/k",
		"/v1/objects/testing/org=/k", "/v1/objects/testing/org=1;/k", "/v1/objects/testing/;;;/k",
		"/v1/objects/testing/org=1;org=2;org=3/k", "/v1/objects/testing/org=a.b/k", "/v1/objects/testing/org=1%3Bp%3D2/k",
		"/v1/objects/testing/" + strings.Repeat("s=1;", 500) + "/k", "/v1/objects/testing/_/k", "/v1/objects/testing/__/k",
		"/v1/objects:batch/testing/org=1", "/v1/objects:multipart/testing/org=1/k?uploadId=%",
		"/v1/objects:multipart:parts/testing/org=1/k?uploadId=x&partNumber=-1",
		"/v1/objects:multipart:parts/testing/org=1/k?uploadId=x&partNumber=99999999999999999999",
		"/v1/objects:multipart:parts/testing/org=1/k?max-parts=-5&part-number-marker=x&uploadId=" + strings.Repeat("A", 4000),
		"/v1/objects:multipart:complete/testing/org=1/k?uploadId=eyJ9", "//v1/objects/testing/org=1/k", "/v1/../v1/objects/testing/org=1/k",
		"*", "/health?" + strings.Repeat("x", 10000), "/v1/objects/testing/org=1/k?" + strings.Repeat("&=", 3000),
	} {
		for _, m := range []string{"GET", "PUT", "DELETE", "HEAD", "POST", "PATCH", "OPTIONS"} {
			var body []byte
			if m == "PUT" || m == "POST" {
				body = []byte("x")
			}
			out = append(out, req(m, p, auth, body))
		}
	}
	obj := "/v1/objects/testing/org=1/bad-input/target"
	// Headers.
	for _, h := range []string{
		"x-sn-expiration: ttl:\r\n", "x-sn-expiration: ttl:9223372036854775807ns\r\n", "x-sn-expiration: tti:-1s\r\n",
		"x-sn-expiration: ttl:1e400h\r\n", "x-sn-expiration: bogus\r\n", "x-sn-expiration: ttl:" + strings.Repeat("9", 400) + "s\r\n",
		"x-sn-time-created: yesterday\r\n", "x-sn-time-expires: 99999-99-99T99:99:99Z\r\n", "x-sn-origin: \xff\xfe\r\n",
		"x-sn-filename: " + strings.Repeat("f", 60000) + "\r\n", "x-snme-\xff: v\r\n", "x-snme-: v\r\n",
		strings.Repeat("x-snme-k: v\r\n", 500), "content-type: \x01\r\n", "content-encoding: zstd\r\n", "content-encoding: gzip, br, zstd\r\n",
		"Range: bytes=5-1\r\n", "Range: bytes=-0\r\n", "Range: bytes=99999999999999999999-\r\n", "Range: bytes=0-1,2-3\r\n", "Range: lines=1-2\r\n",
		"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "Content-Length: -1\r\n", "Content-Length: 99999999999999999999\r\n",
		"Expect: 100-continue\r\n", "X-Downstream-Service: " + strings.Repeat("s", 1000) + "\r\n", "Traceparent: 00-zz-zz-zz\r\n",
		"X-Cloud-Trace-Context: ////;o=\r\n", "Huge: " + strings.Repeat("h", 2<<20) + "\r\n",
	} {
		for _, m := range []string{"GET", "PUT", "HEAD", "DELETE"} {
			var body []byte
			if m == "PUT" {
				body = []byte("payload")
			}
			out = append(out, req(m, obj, auth+h, body))
		}
	}
	// Tokens.
	for _, a := range []string{
		"", "x-os-auth: \r\n", "x-os-auth: Bearer\r\n", "x-os-auth: Bearer \r\n", "x-os-auth: Basic abc\r\n",
		"x-os-auth: Bearer a.b.c\r\n", "x-os-auth: Bearer ....\r\n", "x-os-auth: Bearer " + strings.Repeat("A", 100000) + "\r\n",
		"x-os-auth: Bearer eyJhbGciOiJub25lIn0.eyJleHAiOjk5OTk5OTk5OTl9.\r\n",
		"x-os-auth: Bearer eyJhbGciOiJFZERTQSIsImtpZCI6ImUyZSJ9.e30.AAAA\r\n",
		"x-os-auth: Bearer " + token + "x\r\n", "x-os-auth: Bearer " + token[:len(token)/2] + "\r\n",
		"x-os-auth: Bearer " + token + "\r\nx-os-auth: Bearer other\r\n",
	} {
		out = append(out, req("GET", obj, a, nil), req("PUT", obj, a, []byte("p")),
			req("GET", obj+"?X-Os-Expires=1&X-Os-KeyId=e2e&X-Os-Signature=AAAA", a, nil),
			req("GET", obj+"?X-Os-Expires=99999999999999999999&X-Os-KeyId=%FF&X-Os-Signature=%%", a, nil))
	}
	// Batch bodies.
	batch := "/v1/objects:batch/testing/org=1/"
	mp := func(boundary, body string) []byte {
		return req("POST", batch, auth+"Content-Type: multipart/form-data; boundary="+boundary+"\r\n", []byte(body))
	}
	part := func(headers, body string) string {
		return "--b\r\n" + headers + "\r\n" + body + "\r\n"
	}
	for _, b := range [][]byte{
		req("POST", batch, auth, []byte("not multipart")),
		req("POST", batch, auth+"Content-Type: multipart/form-data\r\n", []byte("--b--")),
		mp("b", ""), mp("b", "--b--\r\n"), mp("b", "--b\r\n\r\n--b--\r\n"),
		mp("b", part("x-sn-batch-operation-kind: get\r\n", "")+"--b--\r\n"),
		mp("b", part("x-sn-batch-operation-kind: get\r\nx-sn-batch-operation-key: \r\n", "")+"--b--\r\n"),
		mp("b", part("x-sn-batch-operation-kind: insert\r\nx-sn-batch-operation-key: %FF\r\n", "data")+"--b--\r\n"),
		mp("b", part("x-sn-batch-operation-kind: delete\r\nx-sn-batch-operation-key: ../..\r\n", "")+"--b--\r\n"),
		mp("b", part("x-sn-batch-operation-kind: explode\r\nx-sn-batch-operation-key: k\r\n", "")+"--b--\r\n"),
		mp("b", strings.Repeat(part("x-sn-batch-operation-kind: head\r\nx-sn-batch-operation-key: k\r\n", ""), 2000)+"--b--\r\n"),
		mp("b", part("x-sn-batch-operation-kind: insert\r\nx-sn-batch-operation-key: k\r\nx-sn-expiration: ttl:zz\r\n", "d")),
		mp("b", "--b\r\n"+strings.Repeat("h: v\r\n", 20000)+"\r\n\r\n--b--\r\n"),
		mp(strings.Repeat("b", 200), "--b--"),
	} {
		out = append(out, b)
	}
	// Multipart complete bodies.
	complete := "/v1/objects:multipart:complete/testing/org=1/bad-input/target?uploadId=" + url.QueryEscape("eyJyZXZpc2lvbiI6IngiLCJ1cGxvYWRfaWQiOiJ5In0")
	for _, body := range []string{
		"", "{", "[]", "null", `{"parts":null}`, `{"parts":[{}]}`, `{"parts":[{"part_number":-1,"etag":"x"}]}`,
		`{"parts":[{"part_number":4294967296,"etag":1}]}`, `{"parts":"x"}`, strings.Repeat("[", 100000),
		`{"parts":[` + strings.Repeat(`{"part_number":1,"etag":"e"},`, 20000) + `{"part_number":1,"etag":"e"}]}`,
	} {
		out = append(out, req("POST", complete, auth+"Content-Type: application/json\r\n", []byte(body)),
			req("POST", complete, auth+"Content-Type: text/plain\r\n", []byte(body)))
	}
	// Broken framing.
	out = append(out,
		[]byte("GET\r\n\r\n"), []byte("\x00\x01\x02\x03"), []byte("GET / HTTP/9.9\r\n\r\n"),
		[]byte("PUT "+obj+" HTTP/1.1\r\nHost: x\r\n"+auth+"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
		[]byte("PUT "+obj+" HTTP/1.1\r\nHost: x\r\n"+auth+"Content-Length: 100\r\n\r\nshort"),
		[]byte("GET "+obj+" HTTP/1.1\r\nHost: x\r\n"+auth+strings.Repeat("X-Many: y\r\n", 50000)+"\r\n"),
	)
	return out
}

// send writes raw to a fresh connection and returns the status line of the answer, if any.
// Every step has a deadline, so a server that stops answering fails the test instead of
// hanging it.
func send(addr string, raw []byte) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	_, _ = conn.Write(raw) // the server may close early on a bad request
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	_, _ = io.Copy(io.Discard, io.LimitReader(br, 64<<20))
	if err != nil && line == "" {
		return "", nil // closed without an answer: acceptable for garbage
	}
	return strings.TrimSpace(line), nil
}

// TestReliability_BadInput_RawTCP throws malformed requests at the binary over raw TCP: the
// server must never panic nor crash, must keep serving, must never answer 500 to bad
// input, and a canary object stored before must be unchanged after.
func TestReliability_BadInput_RawTCP(t *testing.T) {
	key := harness.NewKeyPair(t)
	srv := startServer(t, t.TempDir(), key)
	target := newSDKKV(t, srv, key)
	ctx := context.Background()
	canaries := map[string][]byte{
		"bad-input/canary-small": makeValue("bad-input/canary-small", 1, 1000),
		"bad-input/canary-large": makeValue("bad-input/canary-large", 2, largeMin),
		"bad-input/target":       makeValue("bad-input/target", 3, 100),
	}
	for k, v := range canaries {
		if err := target.put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := client.NewKeySigner(key.Priv, key.KID)
	if err != nil {
		t.Fatal(err)
	}
	token, err := signer.Token(ctx, client.TokenScope{Usecase: relUsecase, Scopes: []client.Scope{{Name: "org", Value: "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(srv.URL, "http://")
	reqs := badRequests(addr, token)
	statuses := map[string]int{}
	for i, raw := range reqs {
		line, err := send(addr, raw)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		f := strings.Fields(line)
		status := "none"
		if len(f) >= 2 {
			status = f[1]
		}
		statuses[status]++
		if status == "500" {
			t.Errorf("request %d answered %q:\n%.300q", i, line, raw)
		}
		if srv.Exited() {
			t.Fatalf("the server exited after request %d:\n%.300q\n%s", i, raw, srv.Logs)
		}
	}
	t.Logf("%d malformed requests; answers by status: %v", len(reqs), statuses)

	res, err := http.Get(srv.URL + "/ready")
	if err != nil {
		t.Fatalf("not serving after the bad input: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/ready answers %d after the bad input", res.StatusCode)
	}
	for k, v := range canaries {
		if k == "bad-input/target" {
			continue // the malformed requests may legitimately have overwritten or deleted it
		}
		got, found, err := target.get(ctx, k)
		if err != nil || !found || !bytes.Equal(got, v) {
			t.Errorf("canary %s after the bad input: found %v, %d bytes, %v", k, found, len(got), err)
		}
	}
	checkNoPanic(t, srv)
}
