package runtime

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/bigtable/bttest"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"

	"github.com/stratastore/strata/functions/client"
	"github.com/stratastore/strata/tiered/bigtablebackend"
	"github.com/stratastore/strata/tiered/object"
)

// scanCase is a stored name and the rules the scan must report for it (none: servable).
type scanCase struct {
	name  string
	rules []object.Rule
}

var longKey = strings.Repeat("k", object.MaxStoragePathLen)

// bigtableCases are row keys objectstore may have written: every rule once, and good keys
// that look suspicious but are fine.
var bigtableCases = []scanCase{
	{"attachments/org.17/objects/fine", nil},
	{"attachments/org.17/project.42/objects/a/b/c.txt", nil},
	{"attachments/objects/...", nil},
	{"attachments/objects/.hidden/x.", nil},
	{"attachments/objects/with space+plus%25", nil},
	{"attachments/org.17/objects//leading", []object.Rule{object.RuleKeyEmptySegment}},
	{"attachments/org.17/objects/a//b", []object.Rule{object.RuleKeyEmptySegment}},
	{"attachments/org.17/objects/dir/", []object.Rule{object.RuleKeyTrailingSlash}},
	{"attachments/org.17/objects/a/./b", []object.Rule{object.RuleKeyDotSegment}},
	{"attachments/org.17/objects/..", []object.Rule{object.RuleKeyDotSegment}},
	{"attachments/org.17/objects/line\nbreak", []object.Rule{object.RuleKeyControl}},
	{"attachments/org.17/objects/" + longKey, []object.Rule{object.RuleStoragePathLength}},
	{"dotted.usecase/org.17/objects/k", []object.Rule{object.RuleUsecaseChar}},
	{strings.Repeat("u", object.MaxUsecaseLen+1) + "/objects/k", []object.Rule{object.RuleUsecaseLength}},
	{"attachments/org.17/objects/", []object.Rule{RuleNotStoragePath}},
	{"attachments/org.17/objects/a/../" + longKey + "/", []object.Rule{object.RuleKeyDotSegment, object.RuleKeyTrailingSlash, object.RuleStoragePathLength}},
}

// seedBigtable starts bttest with the objects table holding one row per case, written the
// way objectstore writes a manual object (fm cells p and m).
func seedBigtable(t *testing.T, table string, cases []scanCase) (addr string, c *bigtable.Client) {
	t.Helper()
	srv, err := bttest.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	conn, err := bigtablebackend.DialEmulator(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx := context.Background()
	// The admin client closes its connection, so it gets one of its own.
	adminConn, err := bigtablebackend.DialEmulator(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := bigtable.NewAdminClient(ctx, "p", "i", option.WithGRPCConn(adminConn))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := bigtablebackend.CreateTables(ctx, admin, table, nil); err != nil {
		t.Fatal(err)
	}
	c, err = bigtablebackend.NewEmulatorClient(ctx, conn, "p", "i")
	if err != nil {
		t.Fatal(err)
	}
	tbl := c.Open(table)
	for _, tc := range cases {
		m := bigtable.NewMutation()
		m.Set("fm", "p", bigtable.Now(), []byte("x"))
		m.Set("fm", "m", bigtable.Now(), []byte(`{"content_type":"application/octet-stream","size":1}`))
		if err := tbl.Apply(ctx, tc.name, m); err != nil {
			t.Fatalf("seed %q: %v", tc.name, err)
		}
	}
	return srv.Addr, c
}

// wantFindings returns, per stored name, the rules the cases expect to be reported.
func wantFindings(cases []scanCase) map[string][]object.Rule {
	want := map[string][]object.Rule{}
	for _, tc := range cases {
		if tc.rules != nil {
			want[tc.name] = tc.rules
		}
	}
	return want
}

func checkFindings(t *testing.T, got []UnservableKey, want map[string][]object.Rule) {
	t.Helper()
	seen := map[string]bool{}
	for _, u := range got {
		var rules []object.Rule
		for _, p := range u.Problems {
			rules = append(rules, p.Rule)
			if p.Err == nil {
				t.Errorf("%q: %s without an error", u.Name, p.Rule)
			}
		}
		if seen[u.Name] {
			t.Errorf("%q reported twice", u.Name)
		}
		seen[u.Name] = true
		w, ok := want[u.Name]
		switch {
		case !ok:
			t.Errorf("reported %q (%v), which Strata serves", u.Name, rules)
		case !slices.Equal(rules, w):
			t.Errorf("%q: rules %v, want %v", u.Name, rules, w)
		}
		wantPath := slices.ContainsFunc(w, func(r object.Rule) bool { return r.DeployedPath() || r == RuleNotStoragePath })
		if u.DeployedPath() != wantPath {
			t.Errorf("%q: DeployedPath() = %v, want %v", u.Name, u.DeployedPath(), wantPath)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("%q not reported", name)
		}
	}
}

// TestScanBigtableKeys_ReportsExactlyTheUnservableRows seeds bttest with good and bad row
// keys and checks that the scan reports exactly the bad ones, each with its rules.
func TestScanBigtableKeys_ReportsExactlyTheUnservableRows(t *testing.T) {
	_, c := seedBigtable(t, "objectstore", bigtableCases)
	defer c.Close()
	var got []UnservableKey
	n, err := ScanBigtableKeys(t.Context(), c, "objectstore", func(u UnservableKey) error {
		got = append(got, u)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(bigtableCases) {
		t.Errorf("scanned %d rows, want %d", n, len(bigtableCases))
	}
	checkFindings(t, got, wantFindings(bigtableCases))
}

// TestScanKeys_EmulatorsFromEnvironment runs ScanKeys as the CLI does: clients from
// BIGTABLE_EMULATOR_HOST and STORAGE_EMULATOR_HOST, over a table and a bucket.
func TestScanKeys_EmulatorsFromEnvironment(t *testing.T) {
	addr, c := seedBigtable(t, "objectstore", bigtableCases)
	c.Close()
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	const rev = "/019f8f81-5303-7a0a-81a2-a3a4a5a6a7a8"
	gcsCases := []scanCase{
		{"attachments/org.17/objects/big" + rev, nil},
		{"attachments/org.17/objects/legacy-same-path", nil},
		// A revision of a key at the length limit is 37 bytes longer and still fine.
		{"attachments/objects/" + longKey[:object.MaxStoragePathLen-len("attachments/objects/")] + rev, nil},
		{"attachments/org.17/objects/a//b" + rev, []object.Rule{object.RuleKeyEmptySegment}},
		{"attachments/org.17/objects/dir/" + rev, []object.Rule{object.RuleKeyTrailingSlash}},
		{"dotted.usecase/objects/k" + rev, []object.Rule{object.RuleUsecaseChar}},
	}
	for _, tc := range gcsCases {
		gcs.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "b", Name: tc.name}, Content: []byte("x")})
	}
	// Strata's multipart staging is not objects: never reported, never counted.
	gcs.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "b", Name: "~uploads/u//1"}, Content: []byte("x")})
	t.Setenv("BIGTABLE_EMULATOR_HOST", addr)
	t.Setenv("STORAGE_EMULATOR_HOST", gcs.URL())

	var got []UnservableKey
	counts, err := ScanKeys(t.Context(), ScanTarget{Project: "p", Instance: "i", Table: "objectstore", Bucket: "b"}, func(u UnservableKey) error {
		got = append(got, u)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if counts != (ScanCounts{Rows: len(bigtableCases), Objects: len(gcsCases)}) {
		t.Errorf("counts %+v, want %d rows and %d objects", counts, len(bigtableCases), len(gcsCases))
	}
	want := wantFindings(bigtableCases)
	for name, rules := range wantFindings(gcsCases) {
		want[name] = rules
	}
	checkFindings(t, got, want)
	for _, u := range got {
		if u.Source == "gcs" && u.Path != strings.TrimSuffix(u.Name, rev) {
			t.Errorf("%q: judged path %q, want the revision's base", u.Name, u.Path)
		}
	}
}

// TestRules_DeployedPathMatchesServeMux checks object.Rule.DeployedPath against the mux the
// functions framework serves every deployed function through (funcframework's initServer:
// http.NewServeMux with the function at "/"). A key is sent the way objectstore's clients
// and the Go SDK encode it ('/' and '.' unencoded, control characters as %XX). Under a
// DeployedPath rule the mux must redirect instead of calling the function; under Strata's
// own rules the request must reach the function with its path intact. RuleKeyEmpty is about
// the route shape (".../{scopes}/" is the collection), not the mux, and is left out.
func TestRules_DeployedPathMatchesServeMux(t *testing.T) {
	var reached string
	mux := http.NewServeMux()
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = r.URL.EscapedPath()
		w.WriteHeader(http.StatusNoContent)
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		usecase, key string
		rule         object.Rule
	}{
		{"u", "/a", object.RuleKeyEmptySegment},
		{"u", "a//b", object.RuleKeyEmptySegment},
		{"u", ".", object.RuleKeyDotSegment},
		{"u", "a/./b", object.RuleKeyDotSegment},
		{"u", "a/..", object.RuleKeyDotSegment},
		{"u", "../a", object.RuleKeyDotSegment},
		{"u", "dir/", object.RuleKeyTrailingSlash},
		{"u", "a\nb", object.RuleKeyControl},
		{"u", "a\x7f", object.RuleKeyControl},
		{"u", string([]byte{'a', 0xff}), object.RuleKeyUTF8},
		{"u", longKey, object.RuleStoragePathLength},
		{"a.b", "k", object.RuleUsecaseChar},
		{strings.Repeat("u", object.MaxUsecaseLen+1), "k", object.RuleUsecaseLength},
	} {
		id := object.NewID(tc.usecase, nil, tc.key)
		if ps := id.Problems(); len(ps) != 1 || ps[0].Rule != tc.rule {
			t.Fatalf("%q breaks %v, want only %s", tc.key, ps, tc.rule)
		}
		path := "/v1/objects/" + client.EscapePath(tc.usecase) + "/_/" + client.EscapePath(tc.key)
		reached = ""
		resp, err := hc.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("%s %q: %v", tc.rule, tc.key, err)
		}
		resp.Body.Close()
		travelled := resp.StatusCode == http.StatusNoContent && reached == path
		if travelled == tc.rule.DeployedPath() {
			t.Errorf("%s: key %q sent as %s: status %d, reached the function as %q; DeployedPath() = %v",
				tc.rule, tc.key, path, resp.StatusCode, reached, tc.rule.DeployedPath())
		}
	}
}
