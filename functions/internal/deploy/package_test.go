package deploy

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/functions/internal/httpapi"
)

// repoRoot returns the repository root of this checkout.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// packageOnce builds the zip once per test binary; the build-and-serve test and the content
// tests share it.
var packaged struct {
	res *PackageResult
	err error
	dir string
}

func packageForTest(t *testing.T) *PackageResult {
	t.Helper()
	skipUnderShort(t, "builds the function zip")
	if packaged.res == nil && packaged.err == nil {
		dir, err := os.MkdirTemp("", "strata-package-")
		if err != nil {
			t.Fatal(err)
		}
		packaged.dir = dir
		packaged.res, packaged.err = Package(context.Background(), PackageOptions{
			RepoRoot: repoRoot(t),
			Output:   filepath.Join(dir, "functions.zip"),
		})
	}
	if packaged.err != nil {
		t.Fatalf("Package: %v", packaged.err)
	}
	return packaged.res
}

func TestMain(m *testing.M) {
	code := m.Run()
	if packaged.dir != "" {
		os.RemoveAll(packaged.dir)
	}
	os.Exit(code)
}

func TestPackage_Contents(t *testing.T) {
	res := packageForTest(t)
	zr, err := zip.OpenReader(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if !f.Modified.Equal(zipTime) {
			t.Errorf("%s: modified %v, want the fixed %v", f.Name, f.Modified, zipTime)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("entries are not sorted: %v", names)
	}
	if !slices.Equal(names, res.Files) {
		t.Errorf("PackageResult.Files = %v, zip has %v", res.Files, names)
	}
	for _, want := range []string{"go.mod", "go.sum", RootFileName, "functions/functions.go", "functions/internal/httpapi/routes.go", "tiered/store.go"} {
		if !slices.Contains(names, want) {
			t.Errorf("zip lacks %s", want)
		}
	}
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, "_test.go"):
			t.Errorf("zip holds test file %s", n)
		case strings.Contains(n, "/testdata/"):
			t.Errorf("zip holds test data %s", n)
		case strings.HasPrefix(n, "terraform/"), strings.HasPrefix(n, "e2e/"), strings.HasPrefix(n, "scripts/"), strings.HasPrefix(n, "dist/"):
			t.Errorf("zip holds %s, which the functions do not need", n)
		case strings.Contains(n, "/cmd/"):
			t.Errorf("zip holds command source %s", n)
		case strings.HasPrefix(n, "functions/internal/deploy/"):
			t.Errorf("zip holds the deploy tooling %s", n)
		}
	}
	root := readZipEntry(t, zr, RootFileName)
	if !bytes.Equal(root, RootFile()) {
		t.Errorf("%s differs from RootFile()", RootFileName)
	}
	if !bytes.Contains(root, []byte("package "+RootPackage+"\n")) || !bytes.Contains(root, []byte(`_ "`+FunctionsPackage+`"`)) ||
		!bytes.Contains(root, []byte(`_ "`+frameworkFunctionsPackage+`"`)) {
		t.Errorf("%s does not declare package %s importing %s and %s:\n%s", RootFileName, RootPackage, FunctionsPackage, frameworkFunctionsPackage, root)
	}
	gomod := readZipEntry(t, zr, "go.mod")
	want, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gomod, want) {
		t.Error("the zip's go.mod differs from the repository's")
	}
	if _, err := os.Stat(filepath.Join(repoRoot(t), RootPackage)); err == nil {
		t.Errorf("a directory %s/ exists at the module root: the buildpack would import %s/%s instead of the root package", RootPackage, ModulePath, RootPackage)
	}
}

func readZipEntry(t *testing.T, zr *zip.ReadCloser, name string) []byte {
	t.Helper()
	for _, f := range zr.File {
		if f.Name != name {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var b bytes.Buffer
		if _, err := b.ReadFrom(rc); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	t.Fatalf("zip has no entry %s", name)
	return nil
}

func TestPackage_Deterministic(t *testing.T) {
	skipUnderShort(t, "builds the function zip twice")
	// Two packagings back to back (the shared zip may predate edits made since).
	dir := t.TempDir()
	first, err := Package(context.Background(), PackageOptions{RepoRoot: repoRoot(t), Output: filepath.Join(dir, "first.zip")})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Package(context.Background(), PackageOptions{RepoRoot: repoRoot(t), Output: filepath.Join(dir, "second.zip")})
	if err != nil {
		t.Fatal(err)
	}
	if first.MD5 != second.MD5 {
		t.Errorf("two packagings of the same tree differ: %s vs %s", first.MD5, second.MD5)
	}
	b, err := os.ReadFile(second.Path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := md5.Sum(b); hex.EncodeToString(sum[:]) != second.MD5 {
		t.Errorf("PackageResult.MD5 = %s, file's MD5 is %x", second.MD5, sum)
	}
}

func TestWriteZip_ContentChangesHash(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		if err := os.WriteFile(filepath.Join(dir, "a.go"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		// A later modification time must not matter.
		now := time.Now().Add(time.Duration(len(content)) * time.Hour)
		if err := os.Chtimes(filepath.Join(dir, "a.go"), now, now); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := WriteZip(&buf, dir, []string{"a.go"}, map[string][]byte{"gen.go": []byte("package gen\n")}); err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum(buf.Bytes())
		return hex.EncodeToString(sum[:])
	}
	a1, a2, b := write("package a\n"), write("package a\n"), write("package b\n")
	if a1 != a2 {
		t.Errorf("same content, different zips: %s vs %s", a1, a2)
	}
	if a1 == b {
		t.Error("different content, same zip")
	}
	if _, err := WriteZip(&bytes.Buffer{}, dir, []string{"a.go"}, map[string][]byte{"a.go": nil}); err == nil {
		t.Error("WriteZip accepted a generated entry that clashes with a source file")
	}
}

// TestPackage_BuildsLikeBuildpack_ServesEveryFunction unpacks the zip, builds it offline the
// way the Go functions buildpack does, and starts the binary once per function of the route
// table with FUNCTION_TARGET set, as Cloud Run does after deploy.
func TestPackage_BuildsLikeBuildpack_ServesEveryFunction(t *testing.T) {
	res := packageForTest(t)
	work := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, err := BuildLikeBuildpack(ctx, res.Path, work, BuildOptions{Env: []string{"GOFLAGS=-mod=mod", "GOPROXY=off"}})
	if err != nil {
		t.Fatalf("the zip does not build like the buildpack builds it: %v", err)
	}
	fns := httpapi.Functions()
	if len(fns) == 0 {
		t.Fatal("the route table has no functions")
	}
	for _, f := range fns {
		env := []string{
			"STRATA_STORAGE=local",
			"STRATA_DATA_DIR=" + t.TempDir(),
			"STRATA_AUTH_ENFORCE=false",
			// The private functions' callers, as Terraform sets them.
			"STRATA_PUSH_AUDIENCE=self",
			"STRATA_PUSH_SERVICE_ACCOUNT=push@my-project.iam.gserviceaccount.com",
			"STRATA_SCHEDULER_AUDIENCE=self",
			"STRATA_SCHEDULER_SERVICE_ACCOUNT=scheduler@my-project.iam.gserviceaccount.com",
		}
		status, err := ProbeFunction(ctx, bin, f.Name, env, 30*time.Second)
		if err != nil {
			t.Errorf("function %s: %v", f.Name, err)
			continue
		}
		// "/" is no route of the table: a public function answers objectstore's 404 (or 405).
		// A private one checks its caller's OIDC token before anything else, so a request
		// without one gets 401. Anything else (a 500: the runtime did not come up) means the
		// function did not really serve.
		if f.Exposure == httpapi.Private {
			if status != 401 {
				t.Errorf("function %s: GET / without a token answered %d, want 401 from the invoker check", f.Name, status)
			}
		} else if status != 404 && status != 405 {
			t.Errorf("function %s: GET / answered %d, want 404 or 405 from Strata's router", f.Name, status)
		}
		t.Logf("function %s serves (GET / answered %d)", f.Name, status)
	}
	// The probe must be able to fail: a target nobody registered stops the framework at start.
	if _, err := ProbeFunction(ctx, bin, "no-such-function", []string{"STRATA_AUTH_ENFORCE=false"}, 30*time.Second); err == nil || !strings.Contains(err.Error(), "exited before serving") {
		t.Errorf("an unregistered FUNCTION_TARGET was not detected: %v", err)
	}
}

func TestBuildLikeBuildpack_RejectsMainRootPackage(t *testing.T) {
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "bad.zip")
	var buf bytes.Buffer
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/bad\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteZip(&buf, root, []string{"go.mod"}, map[string][]byte{"main.go": []byte("package main\n\nfunc main() {}\n")}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zipPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := BuildLikeBuildpack(context.Background(), zipPath, filepath.Join(dir, "work"), BuildOptions{Env: []string{"GOPROXY=off"}})
	if err == nil || !strings.Contains(err.Error(), "root package is main") {
		t.Errorf("BuildLikeBuildpack accepted a main root package: %v", err)
	}
}
