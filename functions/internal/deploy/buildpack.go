package deploy

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Layout of the Go functions buildpack (GoogleCloudPlatform/buildpacks,
// cmd/go/functions_framework): the uploaded source moves into SourceDir, and the generated
// main package lives in SourceDir/AppDir, inside the function's own module.
const (
	// SourceDir is where the buildpack moves the uploaded source.
	SourceDir = "serverless_function_source_code"
	// AppDir is the generated main package's directory inside SourceDir.
	AppDir = "functions.local/app"
)

// frameworkModule is the functions framework's module; the buildpack injects an old version
// when go.mod does not require it.
const frameworkModule = "github.com/GoogleCloudPlatform/functions-framework-go"

// mainTemplate is the buildpack's main for declaratively registered functions, with one
// deviation: the listen host comes from BUILDCHECK_HOST (empty, as deployed, means every
// interface) so that checks can stay on the loopback interface.
const mainTemplate = `// Binary main is generated the way the Go functions buildpack generates it.
package main

import (
	"log"
	"net/http"
	"os"

	_ "%s"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)

	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.StartHostPort(os.Getenv("BUILDCHECK_HOST"), port); err != nil {
		log.Fatalf("Function failed to start: %%v\n", err)
	}
}
`

// BuildOptions configures BuildLikeBuildpack.
type BuildOptions struct {
	// Go is the go command. Empty means "go".
	Go string
	// Env is added to the go commands' environment, e.g. GOFLAGS=-mod=mod and GOPROXY=off
	// for an offline build from a warm module cache.
	Env []string
}

// BuildLikeBuildpack unpacks the zip into workDir/SourceDir and builds it as the buildpack
// does: it requires Go files at the source root whose package is not main, a go.mod whose
// module path has a dot in its first element and that requires the functions framework;
// it generates the main package in AppDir, runs go mod tidy (-e, since offline it cannot
// resolve test-only imports of dependencies) and builds. It returns the
// binary's path.
func BuildLikeBuildpack(ctx context.Context, zipPath, workDir string, opts BuildOptions) (string, error) {
	goCmd := opts.Go
	if goCmd == "" {
		goCmd = "go"
	}
	src := filepath.Join(workDir, SourceDir)
	if err := unzip(zipPath, src); err != nil {
		return "", err
	}
	if _, err := rootPackageName(src); err != nil {
		return "", err
	}
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, goCmd, args...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), opts.Env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String())
			if strings.Contains(msg, "GOPROXY=off") {
				msg += "\n(the module cache lacks a module the buildpack would download online; " +
					"e.g. the functions framework's funcframework needs cloud.google.com/go/functions: " +
					"run `go mod download <module>@<version>` once with network access)"
			}
			return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, msg)
		}
		return strings.TrimSpace(stdout.String()), nil
	}
	mod, err := run("list", "-m")
	if err != nil {
		return "", err
	}
	if first, _, _ := strings.Cut(mod, "/"); !strings.Contains(first, ".") {
		return "", fmt.Errorf("deploy: module path %q has no dot in its first element; the buildpack rejects it", mod)
	}
	modJSON, err := run("mod", "edit", "-json")
	if err != nil {
		return "", err
	}
	var gomod struct {
		Require []struct{ Path, Version string }
	}
	if err := json.Unmarshal([]byte(modJSON), &gomod); err != nil {
		return "", fmt.Errorf("deploy: reading go.mod: %w", err)
	}
	required := false
	for _, r := range gomod.Require {
		required = required || r.Path == frameworkModule
	}
	if !required {
		return "", fmt.Errorf("deploy: go.mod does not require %s; the buildpack would inject an old version", frameworkModule)
	}
	app := filepath.Join(src, filepath.FromSlash(AppDir))
	if err := os.MkdirAll(app, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(app, "main.go"), fmt.Appendf(nil, mainTemplate, mod), 0o644); err != nil {
		return "", err
	}
	// The buildpack runs go mod tidy online. Offline, tidy cannot resolve test-only imports of
	// old dependencies that are not in go.sum (e.g. go.opencensus.io's tests); -e keeps going,
	// and the build below still fails on anything the binary really needs.
	if _, err := run("mod", "tidy", "-e"); err != nil {
		return "", err
	}
	bin := filepath.Join(workDir, "bin", "main")
	if _, err := run("build", "-o", bin, "./"+AppDir); err != nil {
		return "", err
	}
	return bin, nil
}

// frameworkFunctionsPackage is the package whose import, by the root package itself, makes
// the buildpack choose its declarative main template. Without it the buildpack generates a
// main that calls a function named after the entry point, which does not exist in Strata.
const frameworkFunctionsPackage = frameworkModule + "/functions"

// rootPackageName returns the package of the Go files at dir's root; there must be some, all
// in one package, it must not be main, and (so that the buildpack picks the declarative
// template, whose main BuildLikeBuildpack generates) one of them must import
// frameworkFunctionsPackage.
func rootPackageName(dir string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return "", err
	}
	name, declarative := "", false
	for _, m := range matches {
		if strings.HasSuffix(m, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), m, nil, parser.ImportsOnly)
		if err != nil {
			return "", fmt.Errorf("deploy: %w", err)
		}
		if name != "" && f.Name.Name != name {
			return "", fmt.Errorf("deploy: root Go files mix packages %s and %s", name, f.Name.Name)
		}
		name = f.Name.Name
		for _, imp := range f.Imports {
			if strings.Trim(imp.Path.Value, "`\"") == frameworkFunctionsPackage {
				declarative = true
			}
		}
	}
	switch {
	case name == "":
		return "", errors.New("deploy: no Go package at the root of the source; the buildpack needs one next to go.mod")
	case name == "main":
		return "", errors.New("deploy: the root package is main; the buildpack needs a non-main package")
	case !declarative:
		return "", fmt.Errorf("deploy: the root package does not import %s; the buildpack would generate a main for a function named after the entry point", frameworkFunctionsPackage)
	}
	return name, nil
}

// unzip extracts zipPath into dir, refusing entries that would land outside it.
func unzip(zipPath, dir string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("deploy: %w", err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		target := filepath.Join(dir, filepath.FromSlash(f.Name))
		if rel, err := filepath.Rel(dir, target); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("deploy: zip entry %q escapes the target directory", f.Name)
		}
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("deploy: reading %s: %w", f.Name, err)
		}
		// Writable, as the buildpack needs go.mod to be.
		if err := os.WriteFile(target, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ProbeFunction starts binary (built by BuildLikeBuildpack) as Cloud Run would for one
// function: FUNCTION_TARGET=target and PORT set, listening on 127.0.0.1 only, with env added
// to the process environment minus its STRATA_* variables.
// It succeeds once the server answers an HTTP request, which the functions framework does
// only after it found target among the registered functions; it fails if the process exits
// first (an unregistered target, or a start-up configuration error) or nothing answers
// within timeout. The process is killed before ProbeFunction returns.
func ProbeFunction(ctx context.Context, binary, target string, env []string, timeout time.Duration) (status int, err error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command(binary)
	cmd.Env = append(append(inheritedEnv(), env...), "FUNCTION_TARGET="+target, "PORT="+port, "BUILDCHECK_HOST=127.0.0.1")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	client := &http.Client{Timeout: time.Second}
	url := "http://127.0.0.1:" + port + "/"
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case werr := <-exited:
			exited <- werr // let the deferred cleanup see that the process is gone
			return 0, fmt.Errorf("deploy: function %s exited before serving (%v): %s", target, werr, strings.TrimSpace(output.String()))
		case <-ctx.Done():
			return 0, fmt.Errorf("deploy: function %s did not answer on port %s: %w: %s", target, port, ctx.Err(), strings.TrimSpace(output.String()))
		case <-tick.C:
			resp, err := client.Get(url)
			if err != nil {
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode, nil
		}
	}
}

// inheritedEnv is the process environment without STRATA_* variables (the functions refuse
// unknown ones, and the deploy tool's own STRATA_REGION or STRATA_ENV may be set) and without
// the variables ProbeFunction sets itself.
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "STRATA_") || name == "FUNCTION_TARGET" || name == "PORT" || name == "BUILDCHECK_HOST" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}
