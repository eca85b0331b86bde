package functions

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/stratastore/strata"

// importsOf returns, for every package directory below root, the import paths of its
// non-test Go files, keyed by the package's import path.
func importsOf(t *testing.T, root, rootPath string) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		pkg := path.Join(rootPath, filepath.ToSlash(rel))
		if out[pkg] == nil {
			out[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			out[pkg][ip] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImports_OnlyRuntimeBuildsBackends checks the layering go-cloud's blob has: the
// functions import the vocabulary (tiered/object) and the portable store (tiered). Only
// functions/internal/runtime, which builds the backends, imports the driver contracts; the
// backends themselves are imported by runtime and by testserver, which builds in-memory ones
// for tests.
func TestImports_OnlyRuntimeBuildsBackends(t *testing.T) {
	imports := importsOf(t, ".", module+"/functions")
	if len(imports) < 10 {
		t.Fatalf("found only %d packages under functions/; is the walk broken?", len(imports))
	}
	runtime := module + "/functions/internal/runtime"
	testserver := module + "/functions/internal/testserver"
	for pkg, imps := range imports {
		for imp := range imps {
			switch {
			case imp == module+"/tiered/driver" && pkg != runtime:
				t.Errorf("%s imports %s; only %s may", pkg, imp, runtime)
			case strings.HasPrefix(imp, module+"/tiered/") && strings.HasSuffix(imp, "backend") &&
				pkg != runtime && pkg != testserver:
				t.Errorf("%s imports the backend %s; only %s and %s may", pkg, imp, runtime, testserver)
			}
		}
	}
}

// TestImports_SDKIsLight checks that the Go SDK (and the wire package it shares with the
// server) import only the standard library, the vocabulary and each other (plus the SDK's
// zstd codec), so a client program does not pull in the storage backends or their cloud
// clients.
func TestImports_SDKIsLight(t *testing.T) {
	for _, dir := range []string{"client", "wire"} {
		imports := importsOf(t, dir, module+"/functions/"+dir)
		if len(imports) == 0 {
			t.Fatalf("no package found in functions/%s", dir)
		}
		for pkg, imps := range imports {
			for imp := range imps {
				first, _, _ := strings.Cut(imp, "/")
				std := !strings.Contains(first, ".")
				ok := std || imp == module+"/tiered/object" || imp == module+"/functions/wire" ||
					imp == module+"/functions/client" ||
					(dir == "client" && imp == "github.com/klauspost/compress/zstd")
				if !ok {
					t.Errorf("%s imports %s; the SDK may import only the standard library, tiered/object and functions/wire", pkg, imp)
				}
			}
		}
	}
}
