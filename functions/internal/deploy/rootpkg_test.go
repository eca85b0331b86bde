package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootPackageName_RequiresWhatTheBuildpackNeeds: the buildpack picks its declarative
// main only when the root package imports the framework's functions package.
func TestRootPackageName_RequiresWhatTheBuildpackNeeds(t *testing.T) {
	for name, tc := range map[string]struct {
		files   map[string]string
		wantErr string
	}{
		"generated root file": {files: map[string]string{RootFileName: string(RootFile())}},
		"no framework import": {files: map[string]string{"a.go": "package strata\nimport _ \"" + FunctionsPackage + "\"\n"}, wantErr: "does not import"},
		"main package":        {files: map[string]string{"a.go": "package main\n"}, wantErr: "is main"},
		"no go files":         {files: map[string]string{}, wantErr: "no Go package"},
		"mixed packages":      {files: map[string]string{"a.go": "package a\n", "b.go": "package b\n"}, wantErr: "mix packages"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for f, src := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := rootPackageName(dir)
			if tc.wantErr == "" {
				if err != nil || got != RootPackage {
					t.Fatalf("rootPackageName = %q, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("rootPackageName error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
