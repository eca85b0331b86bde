package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runDeploy(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestRun_Usage(t *testing.T) {
	if code, _, stderr := runDeploy(t, nil, ""); code != 2 || !strings.Contains(stderr, "usage: deploy") {
		t.Errorf("no command: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runDeploy(t, nil, "", "launch"); code != 2 || !strings.Contains(stderr, `unknown command "launch"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runDeploy(t, nil, "", "plan", "-var", "novalue"); code != 2 || !strings.Contains(stderr, "not name=value") {
		t.Errorf("bad -var: exit %d, stderr %q", code, stderr)
	}
}

func TestRun_MissingTargetNamesTheVariables(t *testing.T) {
	for _, cmd := range []string{"plan", "apply", "destroy", "outputs"} {
		code, _, stderr := runDeploy(t, map[string]string{}, "", cmd)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2", cmd, code)
		}
		for _, v := range []string{"GOOGLE_CLOUD_PROJECT", "STRATA_PROJECT", "STRATA_REGION", "GOOGLE_CLOUD_REGION"} {
			if !strings.Contains(stderr, v) {
				t.Errorf("%s: the error does not name %s:\n%s", cmd, v, stderr)
			}
		}
	}
}

func TestRun_DestroyNeedsConfirmation(t *testing.T) {
	env := map[string]string{"GOOGLE_CLOUD_PROJECT": "my-project", "STRATA_REGION": "europe-west1", "TERRAFORM": "/nonexistent/terraform"}
	code, stdout, stderr := runDeploy(t, env, "not-my-project\n", "destroy")
	if code != 1 || !strings.Contains(stderr, "not confirmed") || !strings.Contains(stdout, "Type the project id") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestRun_Package(t *testing.T) {
	out := filepath.Join(t.TempDir(), "functions.zip")
	code, stdout, stderr := runDeploy(t, nil, "", "package", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "packaged "+out) || !strings.Contains(stdout, "md5 ") {
		t.Errorf("stdout %q", stdout)
	}
}
