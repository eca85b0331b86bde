package deploy

import (
	"strings"
	"testing"
)

func TestSettingsFromEnv(t *testing.T) {
	root := repoRoot(t)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    Settings
		wantErr []string
	}{
		{
			name: "google names",
			env:  map[string]string{"GOOGLE_CLOUD_PROJECT": "my-project", "GOOGLE_CLOUD_REGION": "europe-west1"},
			want: Settings{Project: "my-project", Region: "europe-west1", Environment: "dev", RepoRoot: root, Terraform: "terraform", StateBucket: "my-project-strata-tfstate"},
		},
		{
			name: "strata names, prod, own terraform",
			env:  map[string]string{"STRATA_PROJECT": "other-project", "STRATA_REGION": "us-central1", "STRATA_ENV": "prod", "TERRAFORM": "/opt/tf", "STRATA_TF_STATE_BUCKET": "team-tfstate"},
			want: Settings{Project: "other-project", Region: "us-central1", Environment: "prod", RepoRoot: root, Terraform: "/opt/tf", StateBucket: "team-tfstate"},
		},
		{
			name: "first name wins",
			env:  map[string]string{"GOOGLE_CLOUD_PROJECT": "first-project", "STRATA_PROJECT": "second-project", "STRATA_REGION": "asia-east1", "GOOGLE_CLOUD_REGION": "us-east1"},
			want: Settings{Project: "first-project", Region: "asia-east1", Environment: "dev", RepoRoot: root, Terraform: "terraform", StateBucket: "first-project-strata-tfstate"},
		},
		{
			name: "domain-scoped project",
			env:  map[string]string{"GOOGLE_CLOUD_PROJECT": "example.com:my-project", "STRATA_REGION": "europe-west1"},
			want: Settings{Project: "example.com:my-project", Region: "europe-west1", Environment: "dev", RepoRoot: root, Terraform: "terraform", StateBucket: "example-com-my-project-strata-tfstate"},
		},
		{
			name:    "malformed state bucket",
			env:     map[string]string{"GOOGLE_CLOUD_PROJECT": "my-project", "STRATA_REGION": "europe-west1", "STRATA_TF_STATE_BUCKET": "Bad Bucket"},
			wantErr: []string{`STRATA_TF_STATE_BUCKET="Bad Bucket" is not a bucket name`},
		},
		{
			name:    "nothing set names every variable",
			env:     map[string]string{},
			wantErr: []string{"GOOGLE_CLOUD_PROJECT (or STRATA_PROJECT)", "STRATA_REGION (or GOOGLE_CLOUD_REGION)"},
		},
		{
			name:    "only region missing",
			env:     map[string]string{"GOOGLE_CLOUD_PROJECT": "my-project"},
			wantErr: []string{"STRATA_REGION (or GOOGLE_CLOUD_REGION)"},
		},
		{
			name:    "malformed values and unknown environment",
			env:     map[string]string{"STRATA_PROJECT": "My_Project", "STRATA_REGION": "Europe West", "STRATA_ENV": "staging"},
			wantErr: []string{`STRATA_PROJECT="My_Project"`, `STRATA_REGION="Europe West"`, `STRATA_ENV="staging": there is no terraform/environments/staging`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SettingsFromEnv(func(k string) string { return tc.env[k] }, root)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("no error, settings %+v", got)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not mention %q:\n%v", w, err)
					}
				}
				if tc.env["GOOGLE_CLOUD_PROJECT"] != "" && strings.Contains(err.Error(), "project is not set") {
					t.Errorf("error complains about the project, which is set:\n%v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestFormatOutputs(t *testing.T) {
	got := FormatOutputs(map[string]any{
		"bucket":    "b",
		"url":       "https://objects.example.com",
		"functions": map[string]any{"object-get": "strata-object-get"},
	})
	want := "url = https://objects.example.com\nbucket = b\nfunctions = {\"object-get\":\"strata-object-get\"}\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDeployer_Vars(t *testing.T) {
	d := &Deployer{Settings: Settings{Project: "p-123456", Region: "europe-west1"}, SourceArchive: "/tmp/f.zip", Vars: []string{"domain=x.example.com"}}
	got := strings.Join(d.vars(), " ")
	want := "project_id=p-123456 region=europe-west1 source_archive_path=/tmp/f.zip domain=x.example.com"
	if got != want {
		t.Errorf("vars %q, want %q", got, want)
	}
}
