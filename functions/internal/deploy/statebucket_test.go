package deploy

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeStateStore is an in-memory StateStore with injectable errors.
type fakeStateStore struct {
	buckets   map[string]bool
	created   []StateBucket
	lookups   int
	existsErr error
	createErr error
}

var _ StateStore = (*fakeStateStore)(nil)

func (f *fakeStateStore) BucketExists(_ context.Context, name string) (bool, error) {
	f.lookups++
	if f.existsErr != nil {
		return false, f.existsErr
	}
	return f.buckets[name], nil
}

func (f *fakeStateStore) CreateBucket(_ context.Context, b StateBucket) error {
	if f.createErr != nil {
		return f.createErr
	}
	if f.buckets == nil {
		f.buckets = map[string]bool{}
	}
	f.buckets[b.Name] = true
	f.created = append(f.created, b)
	return nil
}

func stateSettings(root string) Settings {
	return Settings{Project: "my-project", Region: "europe-west1", Environment: "dev", RepoRoot: root, StateBucket: "my-project-strata-tfstate"}
}

func TestEnsureStateBucket(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name        string
		store       *fakeStateStore
		create      bool
		wantCreated bool
		wantErr     []string
		wantOut     string
	}{
		{name: "exists", store: &fakeStateStore{buckets: map[string]bool{"my-project-strata-tfstate": true}}, create: true},
		{name: "missing is created and said", store: &fakeStateStore{}, create: true, wantCreated: true,
			wantOut: "created state bucket gs://my-project-strata-tfstate in europe-west1"},
		{name: "missing without create is an error", store: &fakeStateStore{}, create: false,
			wantErr: []string{"gs://my-project-strata-tfstate does not exist", "STRATA_TF_STATE_BUCKET"}},
		{name: "lookup error is not a missing bucket", store: &fakeStateStore{existsErr: boom}, create: true,
			wantErr: []string{"looking up state bucket gs://my-project-strata-tfstate", "STRATA_TF_STATE_BUCKET", "boom"}},
		{name: "create error", store: &fakeStateStore{createErr: boom}, create: true,
			wantErr: []string{"creating state bucket gs://my-project-strata-tfstate in project my-project", "boom"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			created, err := EnsureStateBucket(context.Background(), tc.store, stateSettings(""), tc.create, &out)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if created != tc.wantCreated {
				t.Errorf("created = %v, want %v", created, tc.wantCreated)
			}
			var want []StateBucket
			if tc.wantCreated {
				want = []StateBucket{{Project: "my-project", Name: "my-project-strata-tfstate", Location: "europe-west1"}}
			}
			if !slices.Equal(tc.store.created, want) {
				t.Errorf("created buckets %+v, want %+v", tc.store.created, want)
			}
			if !strings.Contains(out.String(), tc.wantOut) || (tc.wantOut == "" && out.Len() > 0) {
				t.Errorf("output %q, want %q", out.String(), tc.wantOut)
			}
		})
	}
}

func TestSettings_BackendConfig(t *testing.T) {
	s := Settings{Environment: "prod", StateBucket: "b-strata-tfstate"}
	if got := strings.Join(s.BackendConfig(), " "); got != "bucket=b-strata-tfstate prefix=strata/prod" {
		t.Errorf("backend config %q", got)
	}
}

// fakeTerraform writes a terraform stand-in that logs its arguments, one call per line, and
// answers `version -json` as Terraform 1.11 does; it returns the binary and the log.
func fakeTerraform(t *testing.T) (bin, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "calls.log")
	bin = filepath.Join(dir, "terraform")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >>'" + log + "'\n" +
		"if [ \"$1\" = version ]; then echo '{\"terraform_version\":\"1.11.4\",\"platform\":\"linux_amd64\",\"provider_selections\":{},\"terraform_outdated\":false}'; fi\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, log
}

// initCalls returns the logged terraform init command lines.
func initCalls(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var calls []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "init ") {
			calls = append(calls, l)
		}
	}
	return calls
}

// fakeDeployment returns a Deployer on a temporary repository with an empty
// terraform/environments/dev, the fake terraform, and the store; localState, when not empty,
// is written as the environment's terraform.tfstate.
func fakeDeployment(t *testing.T, store StateStore, localState string) (*Deployer, *bytes.Buffer, string) {
	t.Helper()
	root := t.TempDir()
	env := filepath.Join(root, "terraform", "environments", "dev")
	if err := os.MkdirAll(env, 0o755); err != nil {
		t.Fatal(err)
	}
	if localState != "" {
		if err := os.WriteFile(filepath.Join(env, "terraform.tfstate"), []byte(localState), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin, log := fakeTerraform(t)
	s := stateSettings(root)
	s.Terraform = bin
	var out bytes.Buffer
	return &Deployer{Settings: s, State: store, Stdout: &out}, &out, log
}

const backendArgs = "-backend-config=bucket=my-project-strata-tfstate -backend-config=prefix=strata/dev"

func TestDeployer_Init_CreatesTheStateBucketAndInitsAgainstIt(t *testing.T) {
	store := &fakeStateStore{}
	d, out, log := fakeDeployment(t, store, "")
	if _, err := d.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(store.created) != 1 || store.created[0].Name != "my-project-strata-tfstate" {
		t.Errorf("created %+v", store.created)
	}
	if !strings.Contains(out.String(), "created state bucket gs://my-project-strata-tfstate") {
		t.Errorf("the tool does not say it created the bucket: %q", out.String())
	}
	calls := initCalls(t, log)
	if len(calls) != 1 || !strings.HasSuffix(calls[0], backendArgs) || strings.Contains(calls[0], "-force-copy") {
		t.Errorf("terraform calls %q, want one init ending in %s", calls, backendArgs)
	}
	// A second run finds the bucket and creates nothing.
	out.Reset()
	if _, err := d.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(store.created) != 1 || strings.Contains(out.String(), "created state bucket") {
		t.Errorf("second init created %+v, said %q", store.created, out.String())
	}
}

func TestDeployer_Init_CopiesLocalStateOnlyIntoANewBucket(t *testing.T) {
	// New bucket: nothing there to overwrite, so the local state is copied.
	d, out, log := fakeDeployment(t, &fakeStateStore{}, `{"version": 4}`)
	if _, err := d.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	calls := initCalls(t, log)
	if len(calls) != 1 || !strings.Contains(calls[0], "-force-copy") || !strings.Contains(calls[0], backendArgs) {
		t.Errorf("terraform calls %q, want init -force-copy %s", calls, backendArgs)
	}
	if !strings.Contains(out.String(), "copying the local state of environment dev to gs://my-project-strata-tfstate/strata/dev/") {
		t.Errorf("the tool does not say it copies the state: %q", out.String())
	}

	// Existing bucket: the prefix may hold state, so init stops and names the command.
	existing := &fakeStateStore{buckets: map[string]bool{"my-project-strata-tfstate": true}}
	d, _, log = fakeDeployment(t, existing, `{"version": 4}`)
	_, err := d.Init(context.Background())
	if err == nil || !strings.Contains(err.Error(), "init -migrate-state "+backendArgs) {
		t.Errorf("error %v, want the migrate command", err)
	}
	if calls := initCalls(t, log); len(calls) > 0 {
		t.Errorf("terraform ran: %q", calls)
	}

	// An emptied terraform.tfstate (what Terraform leaves after a copy) is not local state.
	d, _, log = fakeDeployment(t, existing, "")
	if err := os.WriteFile(filepath.Join(d.Settings.EnvironmentDir(), "terraform.tfstate"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls := initCalls(t, log); len(calls) != 1 || strings.Contains(calls[0], "-force-copy") {
		t.Errorf("terraform calls %q", calls)
	}
}

func TestDeployer_DestroyNeverCreatesTheStateBucket(t *testing.T) {
	store := &fakeStateStore{}
	d, _, log := fakeDeployment(t, store, "")
	err := d.Destroy(context.Background())
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("destroy without a state bucket: %v", err)
	}
	if len(store.created) > 0 || store.lookups != 1 {
		t.Errorf("destroy created %+v after %d lookups", store.created, store.lookups)
	}
	if calls := initCalls(t, log); len(calls) > 0 {
		t.Errorf("terraform ran: %q", calls)
	}
	// With the bucket there, destroy inits against it.
	store.buckets = map[string]bool{"my-project-strata-tfstate": true}
	if err := d.Destroy(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls := initCalls(t, log); len(calls) != 1 || !strings.HasSuffix(calls[0], backendArgs) {
		t.Errorf("terraform calls %q", calls)
	}
}
