package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"cloud.google.com/go/storage"
)

// StateBucket describes the GCS bucket that holds Terraform state.
type StateBucket struct {
	// Project owns the bucket when it is created.
	Project string
	// Name is the bucket's name.
	Name string
	// Location is where a new bucket is created (the deployment's region).
	Location string
}

// StateStore is what the deploy tool needs from Cloud Storage to keep Terraform state. GCS is
// the implementation; tests use a fake.
type StateStore interface {
	// BucketExists must report (true, nil) when the bucket exists and (false, nil) only when
	// it does not. Anything else, such as a permission error, must be an error: the caller
	// creates the bucket on (false, nil).
	BucketExists(ctx context.Context, name string) (bool, error)
	// CreateBucket must create b.Name in b.Project and b.Location with object versioning (old
	// state versions stay recoverable), uniform bucket-level access and public access
	// prevention enforced. It must fail if the bucket cannot be created as asked.
	CreateBucket(ctx context.Context, b StateBucket) error
}

// BackendConfig returns the -backend-config assignments of the environments' partial
// `backend "gcs" {}` block: the state bucket, and the prefix strata/<environment>.
func (s Settings) BackendConfig() []string {
	return []string{"bucket=" + s.StateBucket, "prefix=" + s.StatePrefix()}
}

// StatePrefix returns where the environment's state lives in the state bucket.
func (s Settings) StatePrefix() string {
	return "strata/" + s.Environment
}

// EnsureStateBucket makes sure the settings' state bucket exists. When it does not and create
// is true, it creates it (see StateStore.CreateBucket), says so on w, and reports created =
// true; when create is false, a missing bucket is an error, because there is no state to act
// on. It never changes an existing bucket.
func EnsureStateBucket(ctx context.Context, store StateStore, s Settings, create bool, w io.Writer) (created bool, err error) {
	exists, err := store.BucketExists(ctx, s.StateBucket)
	if err != nil {
		return false, fmt.Errorf("deploy: looking up state bucket gs://%s (set %s to use another): %w", s.StateBucket, EnvStateBucket, err)
	}
	if exists {
		return false, nil
	}
	if !create {
		return false, fmt.Errorf("deploy: state bucket gs://%s does not exist, so environment %s has no remote state (set %s if it lives elsewhere)", s.StateBucket, s.Environment, EnvStateBucket)
	}
	b := StateBucket{Project: s.Project, Name: s.StateBucket, Location: s.Region}
	if err := store.CreateBucket(ctx, b); err != nil {
		return false, fmt.Errorf("deploy: creating state bucket gs://%s in project %s (set %s to use an existing one): %w", b.Name, b.Project, EnvStateBucket, err)
	}
	if w != nil {
		fmt.Fprintf(w, "created state bucket gs://%s in %s (versioning on, uniform access, public access prevented)\n", b.Name, b.Location)
	}
	return true, nil
}

// hasLocalState reports whether dir holds a non-empty terraform.tfstate: state of a
// deployment from before the GCS backend. Terraform empties the file once it has copied the
// state to a new backend (keeping terraform.tfstate.backup).
func hasLocalState(dir string) (bool, error) {
	st, err := os.Stat(filepath.Join(dir, "terraform.tfstate"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return st.Size() > 0, nil
}

// GCSStateStore is the StateStore on Cloud Storage, with Application Default Credentials (the
// identity Terraform uses).
type GCSStateStore struct {
	client *storage.Client
}

var _ StateStore = (*GCSStateStore)(nil)

// NewGCSStateStore connects to Cloud Storage; Close releases the client.
func NewGCSStateStore(ctx context.Context) (*GCSStateStore, error) {
	c, err := storage.NewClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("deploy: Cloud Storage client (needs Application Default Credentials): %w", err)
	}
	return &GCSStateStore{client: c}, nil
}

// Close closes the client.
func (g *GCSStateStore) Close() error { return g.client.Close() }

// BucketExists implements StateStore.
func (g *GCSStateStore) BucketExists(ctx context.Context, name string) (bool, error) {
	_, err := g.client.Bucket(name).Attrs(ctx)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, storage.ErrBucketNotExist):
		return false, nil
	default:
		return false, err
	}
}

// CreateBucket implements StateStore.
func (g *GCSStateStore) CreateBucket(ctx context.Context, b StateBucket) error {
	return g.client.Bucket(b.Name).Create(ctx, b.Project, &storage.BucketAttrs{
		Location:                 b.Location,
		VersioningEnabled:        true,
		UniformBucketLevelAccess: storage.UniformBucketLevelAccess{Enabled: true},
		PublicAccessPrevention:   storage.PublicAccessPreventionEnforced,
		Labels:                   map[string]string{"app": "strata", "purpose": "terraform-state"},
	})
}
