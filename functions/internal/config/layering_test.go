package config

import (
	"bufio"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestLayering_ConfigDoesNotImportHTTPAPI: config reads the environment and is read by
// runtime, which builds the HTTP server from it; the server's package must not be among
// config's imports, directly or through any package of this module. What both need (usecase
// policies, admission rules, auth keys) lives in packages below both.
func TestLayering_ConfigDoesNotImportHTTPAPI(t *testing.T) {
	const forbidden = "functions/internal/httpapi"
	root, module := moduleRoot(t)
	deps := moduleDeps(t, root, module, module+"/functions/internal/config")
	for pkg, via := range deps {
		if pkg == module+"/"+forbidden || strings.HasPrefix(pkg, module+"/"+forbidden+"/") {
			t.Errorf("config imports %s (through %s); move what it needs out of httpapi", pkg, strings.Join(via, " → "))
		}
	}
	// The walk must see what config does import, or it proves nothing.
	if _, ok := deps[module+"/functions/internal/usecase"]; !ok {
		t.Errorf("the import walk missed usecase, which config imports: %v", deps)
	}
}

// moduleRoot returns the directory of go.mod above the working directory and the module
// path it declares.
func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
					return dir, strings.Trim(strings.TrimSpace(m), `"`)
				}
			}
			t.Fatalf("%s/go.mod declares no module", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// moduleDeps returns every package of module that pkg imports, directly or transitively,
// each with the import chain that reaches it. It reads the non-test files' import clauses
// with go/parser, whatever their build constraints, so it errs towards finding an import.
func moduleDeps(t *testing.T, root, module, pkg string) map[string][]string {
	t.Helper()
	deps := map[string][]string{}
	var walk func(p string, via []string)
	walk = func(p string, via []string) {
		dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(p, module)))
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("package %s: no Go files in %s", p, dir)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				ip, _ := strconv.Unquote(imp.Path.Value)
				if ip != module && !strings.HasPrefix(ip, module+"/") {
					continue
				}
				if _, seen := deps[ip]; seen {
					continue
				}
				chain := append(slices.Clone(via), ip)
				deps[ip] = chain
				walk(ip, chain)
			}
		}
	}
	walk(pkg, []string{pkg})
	return deps
}
