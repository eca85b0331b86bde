package local

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stratastore/strata/e2e/internal/harness"
	"github.com/stratastore/strata/tiered/object"
	"github.com/stratastore/strata/tiered/tieredtest"
)

// README markers around the curl examples.
const (
	curlBegin   = "<!-- e2e:curl-examples -->"
	curlEnd     = "<!-- /e2e:curl-examples -->"
	readmeAddr  = "127.0.0.1:8888"
	readmeUUIDv = `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`
)

// readmeScript extracts the ```sh block between the curl-examples markers of readme.
func readmeScript(readme string) (string, error) {
	_, rest, ok := strings.Cut(readme, curlBegin)
	if !ok {
		return "", fmt.Errorf("README.md has no %s marker", curlBegin)
	}
	block, _, ok := strings.Cut(rest, curlEnd)
	if !ok {
		return "", fmt.Errorf("README.md has no %s marker after %s", curlEnd, curlBegin)
	}
	block = strings.TrimSpace(block)
	body, ok := strings.CutPrefix(block, "```sh\n")
	if !ok {
		return "", fmt.Errorf("the curl examples are not one ```sh block: %q", clip([]byte(block)))
	}
	script, ok := strings.CutSuffix(body, "```")
	if !ok || strings.Contains(script, "```") {
		return "", fmt.Errorf("the curl examples are not exactly one ```sh block")
	}
	if !strings.Contains(script, readmeAddr) {
		return "", fmt.Errorf("the curl examples do not address %s", readmeAddr)
	}
	return script, nil
}

// readmeOutput is what the examples print, in order: the PUT's JSON, the object, its first
// five bytes, HEAD's headers (status line 204, then x-sn-* headers), the POST's JSON with a
// generated key, the DELETE's empty answer and the final GET's 404.
var readmeOutput = regexp.MustCompile(`^\{"key":"hello\.txt"\}` +
	`hello, strata` +
	`hello` +
	`HTTP/1\.1 204 No Content\r\n(?:[A-Za-z0-9-]+: [^\r\n]*\r\n)+\r\n` +
	`\{"key":"` + readmeUUIDv + `"\}` +
	`404\n$`)

// TestLocal_READMECurlExamples_WorkVerbatim runs the README's curl examples, exactly as
// written except for the server address, with bash -euo pipefail against the binary
// started like `make run` (auth not enforced), and checks their combined output: a broken
// example fails the script or changes the output.
func TestLocal_READMECurlExamples_WorkVerbatim(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	script, err := readmeScript(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base, stop := startMakeRun(t, dir)
	script = strings.ReplaceAll(script, readmeAddr, strings.TrimPrefix(base, "http://"))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README examples failed: %v\nstdout:\n%s\nstderr:\n%s\nscript:\n%s", err, stdout.String(), stderr.String(), script)
	}
	out := stdout.String()
	if !readmeOutput.MatchString(out) {
		t.Fatalf("the README examples printed\n%q\nwant, in order: {\"key\":\"hello.txt\"}, hello, strata, hello, HEAD's 204, {\"key\":\"<uuid>\"}, 404", out)
	}
	head := regexp.MustCompile(`(?s)HTTP/1\.1 204 No Content\r\n.*?\r\n\r\n`).FindString(out)
	for _, h := range []string{"content-type: text/plain\r\n", "x-sn-expiration: ttl:1h\r\n", "x-sn-time-created: ", "x-sn-time-expires: ", "accept-ranges: bytes\r\n"} {
		if !strings.Contains(head, h) {
			t.Errorf("HEAD's headers lack %q:\n%s", h, head)
		}
	}
	if logs, err := stop(); err != nil || !strings.Contains(logs, "AUTH IS NOT ENFORCED") {
		t.Errorf("strata exited with %v after SIGTERM (want 0), or did not warn that auth is off:\n%s", err, tail(logs, 3000))
	}
	// The POSTed 2 MiB object is the only long-term blob, and it is that key's target. (The
	// change log is not checked here: under make run's 30 s grace period a stop leaves the
	// POST's entry for recovery; see TestLocal_GracefulStop_NewLargeObject_LeavesNoEntry.)
	posted := regexp.MustCompile(`\{"key":"(` + readmeUUIDv + `)"\}`).FindStringSubmatch(out)[1]
	id := object.NewID("attachments", []object.Scope{{Name: "org", Value: "17"}}, posted)
	if st := inspect(t, dir); st.Blobs != 1 {
		t.Errorf("after the examples: %d blobs, want 1", st.Blobs)
	}
	b, closeFn := openDir(t, dir)
	tieredtest.CheckNoOrphans(t, backends(b), []object.ID{id})
	closeFn()
}

// TestLocal_READMEScript_Extraction checks that the extraction refuses READMEs whose
// examples moved or lost their markers, so the examples test cannot silently run nothing.
func TestLocal_READMEScript_Extraction(t *testing.T) {
	good := "x\n" + curlBegin + "\n```sh\ncurl http://" + readmeAddr + "/health\n```\n" + curlEnd + "\n"
	if s, err := readmeScript(good); err != nil || s != "curl http://"+readmeAddr+"/health\n" {
		t.Fatalf("readmeScript(good) = %q, %v", s, err)
	}
	for name, bad := range map[string]string{
		"no markers":      "```sh\ncurl http://" + readmeAddr + "/\n```\n",
		"no end marker":   curlBegin + "\n```sh\ncurl http://" + readmeAddr + "/\n```\n",
		"not sh":          curlBegin + "\n```console\ncurl http://" + readmeAddr + "/\n```\n" + curlEnd,
		"two blocks":      curlBegin + "\n```sh\ncurl a\n```\n```sh\ncurl http://" + readmeAddr + "/\n```\n" + curlEnd,
		"another address": curlBegin + "\n```sh\ncurl http://localhost:9999/\n```\n" + curlEnd,
	} {
		if _, err := readmeScript(bad); err == nil {
			t.Errorf("%s: extracted a script", name)
		}
	}
}
