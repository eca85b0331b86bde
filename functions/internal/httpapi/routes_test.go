package httpapi

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite generated files (the routes file, golden files)")

// repoRoot is the repository root, three levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

// TestRoutesFileUpToDate fails when the committed routes file differs from the route table.
// `make routes` (go test ./functions/internal/httpapi -run TestRoutesFileUpToDate -update)
// rewrites it.
func TestRoutesFileUpToDate(t *testing.T) {
	want, err := RoutesJSON()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(repoRoot(t), RoutesFilePath)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `make routes`)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale; run `make routes` to regenerate it from the route table", RoutesFilePath)
	}
}

func TestRouteTable_Invariants(t *testing.T) {
	name := regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)
	for _, f := range Functions() {
		// Cloud Run service names: lowercase letters, digits and hyphens, at most 49
		// characters, which leaves room for an environment prefix.
		if !name.MatchString(f.Name) || len(f.Name) > 30 {
			t.Errorf("function name %q is not a short kebab-case name", f.Name)
		}
		if !IsFunction(f.Name) {
			t.Errorf("IsFunction(%q) = false", f.Name)
		}
	}
	if IsFunction("") || IsFunction("nope") {
		t.Error("IsFunction accepts a name outside the table")
	}
	var prefixes []string
	for _, rt := range routes {
		if rt.Exposure == Public && !slices.Contains(prefixes, rt.Prefix) {
			prefixes = append(prefixes, rt.Prefix)
		}
	}
	if len(prefixes) != 5 {
		t.Errorf("public prefixes = %q, want the five of the architecture", prefixes)
	}
	for _, a := range prefixes {
		for _, b := range prefixes {
			if a != b && strings.HasPrefix(b, a) {
				t.Errorf("prefix %q is a prefix of %q: load balancer prefix rules would overlap", a, b)
			}
		}
	}
	// Prefix x method must name exactly one function, or the URL map could not route.
	seen := map[string]string{}
	for _, rt := range routes {
		k := rt.Prefix + " " + rt.Method
		if f, ok := seen[k]; ok && f != rt.Function {
			t.Errorf("%s maps to both %q and %q", k, f, rt.Function)
		}
		seen[k] = rt.Function
	}
}

func TestRouteRules(t *testing.T) {
	rules := RouteRules()
	want := 0
	for _, rt := range routes {
		if rt.Exposure == Public {
			want++
		}
	}
	if len(rules) != want || want != 12 {
		t.Fatalf("got %d rules for %d public routes, want 12 (one per operation and method)", len(rules), want)
	}
	prios := map[int]bool{}
	var head, get *RouteRule
	for i, r := range rules {
		if prios[r.Priority] || r.Priority < 1 {
			t.Errorf("rule %d: priority %d is not unique and positive", i, r.Priority)
		}
		prios[r.Priority] = true
		if r.Prefix == PrefixObjects && r.Method == http.MethodHead {
			head = &rules[i]
		}
		if r.Prefix == PrefixObjects && r.Method == http.MethodGet {
			get = &rules[i]
		}
		if i > 0 && len(r.Prefix) > len(rules[i-1].Prefix) {
			t.Errorf("rule %d (%s) has a longer prefix than rule %d but a higher priority", i, r.Prefix, i-1)
		}
	}
	if head == nil || get == nil || head.Function != FnObjectHead || get.Function != FnObjectGet {
		t.Errorf("HEAD and GET on objects need separate rules to separate functions: head=%+v get=%+v", head, get)
	}
	if !IsFunction(DefaultFunction) {
		t.Errorf("default function %q is not in the table", DefaultFunction)
	}
}

func TestMatch(t *testing.T) {
	all := make([]*Route, len(routes))
	var public, admin []*Route
	for i := range routes {
		all[i] = &routes[i]
		if routes[i].Exposure != Private {
			public = append(public, &routes[i])
		}
		if routes[i].Exposure != Public {
			admin = append(admin, &routes[i])
		}
	}
	own := func(fn string) []*Route {
		var rs []*Route
		for _, rt := range all {
			if rt.Function == fn {
				rs = append(rs, rt)
			}
		}
		return rs
	}
	tests := []struct {
		cands        []*Route
		method, path string
		fn           string // matched function, or "" with status
		status       int
		allow        []string
	}{
		{all, "POST", "/v1/objects/u/s", FnObjectPost, 0, nil},
		{all, "POST", "/v1/objects/u/s/", FnObjectPost, 0, nil},
		{all, "PUT", "/v1/objects/u/s/k", FnObjectPut, 0, nil},
		{all, "PUT", "/v1/objects/u/s/a/b/c", FnObjectPut, 0, nil},
		{all, "GET", "/v1/objects/u/s/k", FnObjectGet, 0, nil},
		{all, "HEAD", "/v1/objects/u/s/k", FnObjectHead, 0, nil},
		{all, "DELETE", "/v1/objects/u/s/k", FnObjectDelete, 0, nil},
		{all, "GET", "/v1/objects/u/s/", "", 405, []string{"POST"}},
		{all, "POST", "/v1/objects/u/s/k", "", 405, []string{"PUT", "GET", "HEAD", "DELETE"}},
		{all, "PATCH", "/v1/objects/u/s/k", "", 405, []string{"PUT", "GET", "HEAD", "DELETE"}},
		{all, "GET", "/v1/objects/u", "", 404, nil},
		{all, "GET", "/v1/objects/", "", 404, nil},
		{all, "GET", "/v1/objects//s/k", "", 404, nil},
		{all, "GET", "/v1/objects/u//k", "", 404, nil},
		{all, "GET", "/v1/object/u/s/k", "", 404, nil},
		{all, "POST", "/v1/objects:batch/u/s/", FnBatch, 0, nil},
		{all, "POST", "/v1/objects:batch/u/s", "", 404, nil},
		{all, "POST", "/v1/objects:batch/u/s/k", "", 404, nil},
		{all, "PUT", "/v1/objects:multipart/u/s/k", FnMultipartInitiate, 0, nil},
		{all, "POST", "/v1/objects:multipart/u/s", FnMultipartInitiate, 0, nil},
		{all, "POST", "/v1/objects:multipart/u/s/", FnMultipartInitiate, 0, nil},
		{all, "DELETE", "/v1/objects:multipart/u/s/k", FnMultipartAbort, 0, nil},
		{all, "PUT", "/v1/objects:multipart:parts/u/s/k", FnMultipartPart, 0, nil},
		{all, "GET", "/v1/objects:multipart:parts/u/s/k", FnMultipartList, 0, nil},
		{all, "POST", "/v1/objects:multipart:complete/u/s/k", FnMultipartComplete, 0, nil},
		{all, "GET", "/v1/objects:multipart:complete/u/s/k", "", 405, []string{"POST"}},
		{all, "POST", "/internal/cleanup", FnCleanup, 0, nil},
		// The public listener has no private functions; the admin listener no public ones.
		{public, "POST", "/internal/cleanup", "", 404, nil},
		{public, "GET", "/internal/recover", "", 404, nil},
		{public, "GET", "/health", "", 0, nil},
		{admin, "POST", "/internal/cleanup", FnCleanup, 0, nil},
		{admin, "GET", "/internal/cleanup", "", 405, []string{"POST"}},
		{admin, "PUT", "/v1/objects/u/s/k", "", 404, nil},
		{own(FnObjectGet), "POST", "/internal/cleanup", "", 404, nil},
		{all, "GET", "/health", "", 0, nil},
		{all, "GET", "/healthz", "", 404, nil},
		// %2F inside a segment is not a separator.
		{all, "POST", "/v1/objects/u/a%2Fb", FnObjectPost, 0, nil},
		// A deployed function serves its own routes only.
		{own(FnObjectGet), "GET", "/v1/objects/u/s/k", FnObjectGet, 0, nil},
		{own(FnObjectGet), "PUT", "/v1/objects/u/s/k", "", 405, []string{"GET", "HEAD", "DELETE"}},
		{own(FnObjectGet), "GET", "/nope", "", 404, nil},
		{own(FnObjectGet), "GET", "/v1/objects/u", "", 404, nil},
		{own(FnObjectGet), "GET", "/health", "", 404, nil},
		{all, "POST", "/health", "", 405, []string{"GET", "HEAD"}},
		{own(FnBatch), "POST", "/v1/objects/u/s/", "", 405, nil},
	}
	for _, tt := range tests {
		rt, _, status, allow := match(tt.cands, tt.method, tt.path)
		got := ""
		if rt != nil {
			got = rt.Function
			if rt.Exposure == Local {
				got = ""
			}
		}
		if got != tt.fn || status != tt.status || !slices.Equal(allow, tt.allow) {
			t.Errorf("%s %s: got fn %q status %d allow %q; want fn %q status %d allow %q",
				tt.method, tt.path, got, status, allow, tt.fn, tt.status, tt.allow)
		}
	}
}

func TestMatchShape_Splits(t *testing.T) {
	rt := &Route{Prefix: PrefixObjects, shape: shapeObject}
	got, ok := matchShape(rt, "/v1/objects/use%20case/org=1;p=2/a/b%2Fc/")
	want := target{usecase: "use%20case", scopes: "org=1;p=2", key: "a/b%2Fc/"}
	if !ok || got != want {
		t.Errorf("matchShape = %+v, %v; want %+v", got, ok, want)
	}
}
