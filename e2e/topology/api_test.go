package topology

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/client"
)

// TestFrontDoor_RoutesLikeTheURLMap checks the front door's rule evaluation against every
// rule of routes.json (each prefix × method reaches its function), and that requests no
// rule matches go to the default function.
func TestFrontDoor_RoutesLikeTheURLMap(t *testing.T) {
	fd := topo.door
	for _, r := range fd.rules {
		if got := fd.route(r.Method, r.Prefix+"u/_/k"); got != r.Function {
			t.Errorf("%s %s…: routed to %s, want %s", r.Method, r.Prefix, got, r.Function)
		}
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/"}, {"PATCH", "/v1/objects/u/_/k"}, {"GET", "/v1/objects:batch/u/_/"}, {"GET", "/v2/objects/u/_/k"},
	} {
		if got := fd.route(c.method, c.path); got != fd.def {
			t.Errorf("%s %s: routed to %s, want the default %s", c.method, c.path, got, fd.def)
		}
	}
	// Unmatched through the real front door: the default function answers objectstore's 404.
	res, err := http.Get(topo.front.URL + "/no/such/route")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /no/such/route: %d, want 404", res.StatusCode)
	}
}

// TestFrontDoor_PassesTheRawPath stores an object whose key needs percent-encoding and
// checks, in the object-put process's request log, that the function saw the path byte for
// byte as the SDK sent it, then reads the object back under the same key.
func TestFrontDoor_PassesTheRawPath(t *testing.T) {
	ctx := context.Background()
	sc := scope(t)
	s := topo.sdk(t).Usecase(usecase).Scope("run", sc)
	key := "dir%2Fnot-a-slash/ü ber;x=1/%25/a+b"
	u, err := s.ObjectURL(key)
	if err != nil {
		t.Fatal(err)
	}
	raw := strings.TrimPrefix(u, topo.front.URL)
	if _, err := s.Put(ctx, key, strings.NewReader("raw path")); err != nil {
		t.Fatal(err)
	}
	if lines := logLinesSoon(topo.fns["object-put"], 1, `"requestUrl":"`+raw+`"`); len(lines) != 1 {
		t.Errorf("object-put logged %d requests with requestUrl %q, want 1", len(lines), raw)
	}
	// A path Go would re-encode differently (%41 is 'A'; %2F a separator once decoded):
	// the function must see it unchanged. The request is refused (no token) but logged.
	odd := "/v1/objects/" + usecase + "/run=" + sc + "/raw%41key%2Fx"
	if status, _ := httpGet(t, topo.front.URL+odd); status/100 != 4 {
		t.Errorf("GET %s without a token: %d, want a 4xx refusal", odd, status)
	}
	if lines := logLinesSoon(topo.fns["object-get"], 1, `"requestUrl":"`+odd+`"`); len(lines) != 1 {
		t.Errorf("object-get logged %d requests with requestUrl %q, want 1", len(lines), odd)
	}
	got, err := getAll(ctx, s, key)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "raw path" {
		t.Errorf("read back %q", got)
	}
}

// TestAPI_ThroughFrontDoor drives the whole API through the front door with the Go SDK,
// each request landing on its own function's process.
func TestAPI_ThroughFrontDoor(t *testing.T) {
	ctx := context.Background()
	sc := scope(t)
	plain := topo.sdk(t, client.WithCompression(false)).Usecase(usecase).Scope("run", sc)
	zstd := topo.sdk(t).Usecase(usecase).Scope("run", sc)
	before := opCounts()

	t.Run("small and large put/get/head/delete", func(t *testing.T) {
		for _, c := range []struct {
			name string
			n    int
			s    *client.Session
		}{
			{"small", 1000, plain}, {"exactly 1 MiB", 1 << 20, plain}, {"large", 3<<20 + 5, plain}, {"large zstd", 2<<20 + 1, zstd},
		} {
			key := "obj/" + strings.ReplaceAll(c.name, " ", "-")
			data := payload(c.n)
			if _, err := c.s.Put(ctx, key, strings.NewReader(string(data)), client.ContentType("application/x-e2e"), client.Meta("case", c.name)); err != nil {
				t.Fatalf("%s: put: %v", c.name, err)
			}
			got, err := getAll(ctx, c.s, key)
			if err != nil {
				t.Fatalf("%s: get: %v", c.name, err)
			}
			mustEqual(t, c.name, got, data)
			md, err := c.s.Head(ctx, key)
			if err != nil {
				t.Fatalf("%s: head: %v", c.name, err)
			}
			if md.ContentType != "application/x-e2e" || md.Custom["case"] != c.name {
				t.Errorf("%s: head: content type %q, custom %v", c.name, md.ContentType, md.Custom)
			}
			if err := c.s.Delete(ctx, key); err != nil {
				t.Fatalf("%s: delete: %v", c.name, err)
			}
			if _, err := c.s.Head(ctx, key); !client.IsNotFound(err) {
				t.Errorf("%s: head after delete: %v, want 404", c.name, err)
			}
		}
	})

	t.Run("ranges", func(t *testing.T) {
		for _, n := range []int{4096, 3 << 20} {
			key := "ranges/" + time.Now().Format("150405.000000")
			data := payload(n)
			if _, err := plain.Put(ctx, key, strings.NewReader(string(data))); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				opt        client.GetOption
				start, end int
			}{
				{client.Range(10, 19), 10, 20}, {client.RangeFrom(int64(n - 7)), n - 7, n}, {client.RangeLast(100), n - 100, n},
				{client.Range(int64(n/2), int64(n/2+1<<20)), n / 2, min(n, n/2+1<<20+1)},
			} {
				o, err := plain.Get(ctx, key, c.opt)
				if err != nil {
					t.Fatalf("size %d: ranged get: %v", n, err)
				}
				got, err := io.ReadAll(o.Body)
				o.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				mustEqual(t, "range", got, data[c.start:c.end])
				if o.Range == nil || o.Range.Start != int64(c.start) || o.Range.Total != int64(n) {
					t.Errorf("size %d: range %+v, want start %d of %d", n, o.Range, c.start, n)
				}
			}
			if _, err := plain.Get(ctx, key, client.RangeFrom(int64(n+10))); !client.IsRangeNotSatisfiable(err) {
				t.Errorf("size %d: range past the end: %v, want 416", n, err)
			}
		}
	})

	t.Run("batch", func(t *testing.T) {
		small := payload(512)
		for _, k := range []string{"batch/existing", "batch/doomed"} {
			if _, err := plain.Put(ctx, k, strings.NewReader("existing")); err != nil {
				t.Fatal(err)
			}
		}
		res, err := plain.Batch(ctx, []client.BatchOp{
			client.BatchInsert("batch/new", small),
			client.BatchGet("batch/existing"),
			client.BatchHead("batch/existing"),
			client.BatchGet("batch/missing"),
			client.BatchDelete("batch/doomed"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 5 {
			t.Fatalf("%d results, want 5", len(res))
		}
		wantStatus := []int{200, 200, 204, 404, 204}
		for i, r := range res {
			if r.Status != wantStatus[i] && !(r.Err == nil && r.Status/100 == 2 && wantStatus[i]/100 == 2) {
				t.Errorf("op %d (%s %s): status %d err %v, want %d", i, r.Kind, r.Key, r.Status, r.Err, wantStatus[i])
			}
		}
		if string(res[1].Body) != "existing" {
			t.Errorf("batch get: %q", res[1].Body)
		}
		got, err := getAll(ctx, plain, "batch/new")
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "batch insert", got, small)
		if _, err := plain.Head(ctx, "batch/doomed"); !client.IsNotFound(err) {
			t.Errorf("after batch delete: %v, want 404", err)
		}
	})

	t.Run("multipart 40 MiB in 8 MiB parts", func(t *testing.T) {
		mp := topo.sdk(t, client.WithCompression(false), client.WithMultipart(24<<20, 8<<20, 3)).Usecase(usecase).Scope("run", sc)
		data := payload(40 << 20)
		var uploadID string
		if _, err := mp.Put(ctx, "multipart/big", strings.NewReader(string(data)), client.OnUploadStarted(func(_, id string) { uploadID = id })); err != nil {
			t.Fatal(err)
		}
		if uploadID == "" {
			t.Error("the upload did not go through multipart")
		}
		got, err := getAll(ctx, mp, "multipart/big")
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "multipart object", got, data)
		o, err := mp.Get(ctx, "multipart/big", client.Range(20<<20-3, 20<<20+2))
		if err != nil {
			t.Fatal(err)
		}
		part, _ := io.ReadAll(o.Body)
		o.Body.Close()
		mustEqual(t, "multipart range across parts", part, data[20<<20-3:20<<20+3])
		// An aborted upload: initiate through the SDK, then abort.
		abort := topo.sdk(t, client.WithCompression(false), client.WithMultipart(1<<20, 1<<20, 1)).Usecase(usecase).Scope("run", sc)
		_, err = abort.Put(ctx, "multipart/aborted", &failingReader{n: 3 << 20}, client.KeepFailedUpload())
		var ue *client.UploadError
		if !asUploadError(err, &ue) || ue.UploadID == "" {
			t.Fatalf("failed upload: %v, want an *UploadError naming the upload", err)
		}
		parts, err := abort.ListParts(ctx, "multipart/aborted", ue.UploadID)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) == 0 {
			t.Error("list parts: none")
		}
		if err := abort.AbortUpload(ctx, "multipart/aborted", ue.UploadID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("presigned GET", func(t *testing.T) {
		if _, err := plain.Put(ctx, "presigned/a b", strings.NewReader("presigned body")); err != nil {
			t.Fatal(err)
		}
		u, err := plain.PresignGet("presigned/a b", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		status, body := httpGet(t, u)
		if status != 200 || body != "presigned body" {
			t.Errorf("presigned GET: %d %q", status, body)
		}
		// Another path under the same signature is refused.
		status, _ = httpGet(t, strings.Replace(u, "presigned/a%20b", "presigned/other", 1))
		if status != http.StatusUnauthorized && status != http.StatusForbidden {
			t.Errorf("presigned GET of another path: %d, want 401 or 403", status)
		}
	})

	t.Run("auth failures", func(t *testing.T) {
		if _, err := plain.Put(ctx, "auth/x", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		anon, err := client.New(topo.front.URL, client.WithRetries(1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		// objectstore answers a request without a token 400 ("No authorization token provided").
		var ce *client.Error
		if _, err := getAll(ctx, anon.Usecase(usecase).Scope("run", sc), "auth/x"); !errors.As(err, &ce) || ce.Status != 400 && ce.Status != 401 || !strings.Contains(err.Error(), "auth") {
			t.Errorf("anonymous GET: %v, want an auth refusal (400 or 401)", err)
		}
		forged, err := client.New(topo.front.URL, client.WithSigningKey(otherKey(t), kid), client.WithRetries(1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := forged.Usecase(usecase).Scope("run", sc).Put(ctx, "auth/x", strings.NewReader("y")); !client.IsAuth(err) {
			t.Errorf("PUT signed by an untrusted key: %v, want 401/403", err)
		}
		readOnly, err := client.New(topo.front.URL, client.WithSigningKey(topo.priv, kid, client.Permission("object.read")), client.WithRetries(1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if err := readOnly.Usecase(usecase).Scope("run", sc).Delete(ctx, "auth/x"); !client.IsForbidden(err) {
			t.Errorf("DELETE with a read-only token: %v, want 403", err)
		}
		got, err := getAll(ctx, plain, "auth/x")
		if err != nil || string(got) != "x" {
			t.Errorf("after refused writes: %q %v, want \"x\"", got, err)
		}
	})

	// Every public function served its own requests (their log lines may take a moment).
	public := []string{"object-put", "object-get", "object-head", "object-delete", "object-batch",
		"multipart-initiate", "multipart-upload-part", "multipart-list-parts", "multipart-complete", "multipart-abort"}
	var after map[string]int
	soon(func() bool {
		after = opCounts()
		return !slices.ContainsFunc(public, func(fn string) bool { return after[fn] <= before[fn] })
	})
	for _, fn := range public {
		if after[fn] <= before[fn] {
			t.Errorf("function %s served no request of this test (before %d, after %d)", fn, before[fn], after[fn])
		}
	}
	t.Logf("requests per function process: %v", diff(after, before))
}

// opCounts counts, per function process, the request lines it logged for its own op.
func opCounts() map[string]int {
	out := make(map[string]int)
	for name, f := range topo.fns {
		for _, line := range logLines(f.logs(), `"requestMethod"`) {
			var l struct {
				Op string `json:"op"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Op == name {
				out[name]++
			}
		}
	}
	return out
}

func diff(a, b map[string]int) map[string]int {
	out := make(map[string]int)
	for k, v := range a {
		if v != b[k] {
			out[k] = v - b[k]
		}
	}
	return out
}

// httpGet GETs u without credentials and returns the status and body.
func httpGet(t testing.TB, u string) (int, string) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// failingReader yields n random bytes, then fails: an upload whose source breaks.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("the source broke")
	}
	k := min(len(p), f.n)
	copy(p, payload(k))
	f.n -= k
	return k, nil
}

func asUploadError(err error, target **client.UploadError) bool { return errors.As(err, target) }

// otherKey returns a key the server does not trust.
func otherKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}
