package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/bigtable"
	"cloud.google.com/go/bigtable/bttest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// seedTable starts bttest, points BIGTABLE_EMULATOR_HOST at it and writes one objectstore
// manual object row (fm cells p and m) per key into table "objectstore".
func seedTable(t *testing.T, keys ...string) {
	t.Helper()
	srv, err := bttest.NewServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ctx := context.Background()
	dial := func() option.ClientOption {
		conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		return option.WithGRPCConn(conn) // closed by the client's Close
	}
	admin, err := bigtable.NewAdminClient(ctx, "p", "i", dial())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.CreateTable(ctx, "objectstore"); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []string{"fg", "fm"} {
		if err := admin.CreateColumnFamily(ctx, "objectstore", fam); err != nil {
			t.Fatal(err)
		}
	}
	c, err := bigtable.NewClient(ctx, "p", "i", dial())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, k := range keys {
		m := bigtable.NewMutation()
		m.Set("fm", "p", bigtable.Now(), []byte("x"))
		m.Set("fm", "m", bigtable.Now(), []byte(`{"content_type":"application/octet-stream","size":1}`))
		if err := c.Open("objectstore").Apply(ctx, k, m); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("BIGTABLE_EMULATOR_HOST", srv.Addr)
}

func runScan(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{ctx: t.Context(), getenv: func(k string) string { return env[k] }, stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}
	code := a.run(append([]string{"scan-keys"}, args...))
	return result{code, out.String(), errOut.String()}
}

// TestScanKeys_ListsExactlyTheUnservableKeys: against bttest seeded with good and bad row
// keys, the report lists exactly the bad ones, each with its class and rules, then the
// summary, and exits 6.
func TestScanKeys_ListsExactlyTheUnservableKeys(t *testing.T) {
	seedTable(t,
		"attachments/org.17/objects/good/key.txt",
		"attachments/objects/...",
		"attachments/org.17/objects/a//b",
		"attachments/org.17/objects/x/../y",
		"attachments/org.17/objects/dir/",
		"attachments/org.17/objects/tab\tkey",
		"dotted.usecase/objects/k",
	)
	r := runScan(t, nil, "--project", "p", "--instance", "i", "--table", "objectstore")
	if r.code != ExitUnservable {
		t.Errorf("exit code %d, want %d; stderr %q", r.code, ExitUnservable, r.stderr)
	}
	want := "" +
		"bigtable\tdeployed-path\t\"attachments/org.17/objects/a//b\"\n" +
		"\tkey-empty-segment: invalid argument: key has an empty path segment\n" +
		"bigtable\tstrata-limit\t\"attachments/org.17/objects/dir/\"\n" +
		"\tkey-trailing-slash: invalid argument: key has an empty path segment\n" +
		"bigtable\tstrata-limit\t\"attachments/org.17/objects/tab\\tkey\"\n" +
		"\tkey-control-char: invalid argument: key contains control character '\\t'\n" +
		"bigtable\tdeployed-path\t\"attachments/org.17/objects/x/../y\"\n" +
		"\tkey-dot-segment: invalid argument: key has a \"..\" path segment\n" +
		"bigtable\tstrata-limit\t\"dotted.usecase/objects/k\"\n" +
		"\tusecase-char: invalid argument: invalid character '.' in usecase\n" +
		"scanned 7 rows of table objectstore: 5 keys Strata cannot serve (2 cannot travel the deployed HTTP path, 3 refused by Strata's own limits)\n"
	if r.stdout != want {
		t.Errorf("stdout\n%s\nwant\n%s", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "found 5 stored keys that Strata cannot serve") {
		t.Errorf("stderr %q", r.stderr)
	}

	// --json: one document with the same findings, and the same exit code.
	r = runScan(t, map[string]string{"STRATA_BIGTABLE_PROJECT": "p", "STRATA_BIGTABLE_INSTANCE": "i"}, "--json")
	if r.code != ExitUnservable {
		t.Errorf("--json: exit code %d; stderr %q", r.code, r.stderr)
	}
	var doc struct {
		Rows         int `json:"rows_scanned"`
		Unservable   int `json:"unservable"`
		DeployedPath int `json:"deployed_path"`
		StrataLimit  int `json:"strata_limit"`
		Keys         []struct {
			Name, Class string
			Reasons     []struct{ Rule string }
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("--json output %q: %v", r.stdout, err)
	}
	var names []string
	for _, k := range doc.Keys {
		names = append(names, k.Class+" "+k.Name+" "+k.Reasons[0].Rule)
	}
	wantNames := []string{
		"deployed-path attachments/org.17/objects/a//b key-empty-segment",
		"strata-limit attachments/org.17/objects/dir/ key-trailing-slash",
		"strata-limit attachments/org.17/objects/tab\tkey key-control-char",
		"deployed-path attachments/org.17/objects/x/../y key-dot-segment",
		"strata-limit dotted.usecase/objects/k usecase-char",
	}
	if doc.Rows != 7 || doc.Unservable != 5 || doc.DeployedPath != 2 || doc.StrataLimit != 3 || !slices.Equal(names, wantNames) {
		t.Errorf("--json document %+v", doc)
	}
}

// TestScanKeys_ExitCodes: 0 when every key is servable, 2 for a usage mistake, 1 when the
// table cannot be read.
func TestScanKeys_ExitCodes(t *testing.T) {
	seedTable(t, "attachments/org.17/objects/fine", "attachments/objects/a.b/.c")
	r := runScan(t, nil, "--project", "p", "--instance", "i")
	if r.code != ExitOK || r.stdout != "scanned 2 rows of table objectstore: 0 keys Strata cannot serve (0 cannot travel the deployed HTTP path, 0 refused by Strata's own limits)\n" {
		t.Errorf("clean table: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := runScan(t, nil, "--instance", "i"); r.code != ExitUsage || !strings.Contains(r.stderr, "--project") {
		t.Errorf("no project: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runScan(t, nil, "--project", "p", "--instance", "i", "extra"); r.code != ExitUsage {
		t.Errorf("an argument: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runScan(t, nil, "--project", "p", "--instance", "i", "--table", "missing"); r.code != ExitError {
		t.Errorf("missing table: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestHelp_DocumentsScanKeysExitCode(t *testing.T) {
	for _, s := range []string{"scan-keys", "6  scan-keys found keys Strata cannot serve"} {
		if !strings.Contains(Help, s) {
			t.Errorf("help lacks %q", s)
		}
	}
}
