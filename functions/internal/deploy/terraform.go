package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"
)

// PlanFile is where Deployer writes the plan, relative to the environment's directory (inside
// .terraform/, which is not committed).
const PlanFile = ".terraform/strata.tfplan"

// Deployer runs Terraform for one environment.
type Deployer struct {
	// Settings name the project, region and environment.
	Settings Settings
	// Vars are extra -var assignments ("name=value").
	Vars []string
	// SourceArchive is the zip passed as source_archive_path; empty keeps the environment's
	// default (dist/functions.zip).
	SourceArchive string
	// Stdout and Stderr receive Terraform's output; nil discards it.
	Stdout, Stderr io.Writer
	// State looks up and creates the state bucket; nil means Cloud Storage with Application
	// Default Credentials (NewGCSStateStore).
	State StateStore
}

// terraform returns a terraform-exec handle on the environment's directory.
func (d *Deployer) terraform() (*tfexec.Terraform, error) {
	bin, err := exec.LookPath(d.Settings.Terraform)
	if err != nil {
		return nil, fmt.Errorf("deploy: terraform binary %q not found (set %s): %w", d.Settings.Terraform, EnvTerraformBin, err)
	}
	tf, err := tfexec.NewTerraform(d.Settings.EnvironmentDir(), bin)
	if err != nil {
		return nil, err
	}
	out, errw := d.Stdout, d.Stderr
	if out == nil {
		out = io.Discard
	}
	if errw == nil {
		errw = io.Discard
	}
	tf.SetStdout(out)
	tf.SetStderr(errw)
	return tf, nil
}

// vars returns the -var assignments: project, region, the source zip and the extra ones.
func (d *Deployer) vars() []string {
	v := []string{"project_id=" + d.Settings.Project, "region=" + d.Settings.Region}
	if d.SourceArchive != "" {
		v = append(v, "source_archive_path="+d.SourceArchive)
	}
	return append(v, d.Vars...)
}

// Init bootstraps the remote state and runs terraform init in the environment: it creates the
// state bucket when it does not exist yet (see EnsureStateBucket), then runs
// terraform init -backend-config=bucket=<bucket> -backend-config=prefix=strata/<env>.
func (d *Deployer) Init(ctx context.Context) (*tfexec.Terraform, error) {
	return d.init(ctx, true)
}

// init runs terraform init against the state bucket, creating the bucket first when
// bootstrap is true (plan, apply); otherwise a missing bucket is an error (destroy, outputs).
//
// A non-empty terraform.tfstate in the environment is state from before the GCS backend.
// When the bucket was just created, nothing can be overwritten, so init copies that state
// into it (-force-copy; Terraform keeps terraform.tfstate.backup). Otherwise init stops and
// prints the command that migrates it, because the prefix may already hold state.
func (d *Deployer) init(ctx context.Context, bootstrap bool) (*tfexec.Terraform, error) {
	tf, err := d.terraform()
	if err != nil {
		return nil, err
	}
	store := d.State
	if store == nil {
		gcs, err := NewGCSStateStore(ctx)
		if err != nil {
			return nil, err
		}
		defer gcs.Close()
		store = gcs
	}
	created, err := EnsureStateBucket(ctx, store, d.Settings, bootstrap, d.Stdout)
	if err != nil {
		return nil, err
	}
	dir := d.Settings.EnvironmentDir()
	opts := []tfexec.InitOption{tfexec.Upgrade(false)}
	for _, bc := range d.Settings.BackendConfig() {
		opts = append(opts, tfexec.BackendConfig(bc))
	}
	local, err := hasLocalState(dir)
	if err != nil {
		return nil, err
	}
	if local {
		if !created {
			return nil, fmt.Errorf("deploy: %s holds local state from before the GCS backend, and gs://%s already exists, so it is not copied automatically (it could overwrite state under %s/). Check gs://%s/%s/, then copy it with\n  terraform -chdir=%s init -migrate-state %s",
				filepath.Join(dir, "terraform.tfstate"), d.Settings.StateBucket, d.Settings.StatePrefix(), d.Settings.StateBucket, d.Settings.StatePrefix(), dir, backendFlags(d.Settings))
		}
		if d.Stdout != nil {
			fmt.Fprintf(d.Stdout, "copying the local state of environment %s to gs://%s/%s/ (terraform.tfstate.backup keeps a local copy)\n", d.Settings.Environment, d.Settings.StateBucket, d.Settings.StatePrefix())
		}
		opts = append(opts, tfexec.ForceCopy(true))
	}
	if err := tf.Init(ctx, opts...); err != nil {
		return nil, fmt.Errorf("deploy: terraform init %s in %s: %w", backendFlags(d.Settings), dir, err)
	}
	return tf, nil
}

// backendFlags renders the settings' backend configuration as terraform init flags.
func backendFlags(s Settings) string {
	var b strings.Builder
	for i, bc := range s.BackendConfig() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("-backend-config=" + bc)
	}
	return b.String()
}

// Plan runs init and plan, writing PlanFile. It reports whether the plan changes anything.
func (d *Deployer) Plan(ctx context.Context) (bool, error) {
	tf, err := d.Init(ctx)
	if err != nil {
		return false, err
	}
	opts := []tfexec.PlanOption{tfexec.Out(PlanFile)}
	for _, v := range d.vars() {
		opts = append(opts, tfexec.Var(v))
	}
	changes, err := tf.Plan(ctx, opts...)
	if err != nil {
		return false, fmt.Errorf("deploy: terraform plan: %w", err)
	}
	return changes, nil
}

// Apply runs init, plan and apply of that plan, and returns the outputs.
func (d *Deployer) Apply(ctx context.Context) (map[string]any, error) {
	if _, err := d.Plan(ctx); err != nil {
		return nil, err
	}
	tf, err := d.terraform()
	if err != nil {
		return nil, err
	}
	planPath := filepath.Join(d.Settings.EnvironmentDir(), PlanFile)
	defer os.Remove(planPath)
	if err := tf.Apply(ctx, tfexec.DirOrPlan(PlanFile)); err != nil {
		return nil, fmt.Errorf("deploy: terraform apply: %w", err)
	}
	return readOutputs(ctx, tf)
}

// Destroy runs init against the existing state bucket (it never creates one) and destroy
// (without asking; the caller confirms).
func (d *Deployer) Destroy(ctx context.Context) error {
	tf, err := d.init(ctx, false)
	if err != nil {
		return err
	}
	var opts []tfexec.DestroyOption
	for _, v := range d.vars() {
		opts = append(opts, tfexec.Var(v))
	}
	if err := tf.Destroy(ctx, opts...); err != nil {
		return fmt.Errorf("deploy: terraform destroy: %w", err)
	}
	return nil
}

// Outputs runs init against the existing state bucket and returns the environment's outputs,
// decoded.
func (d *Deployer) Outputs(ctx context.Context) (map[string]any, error) {
	tf, err := d.init(ctx, false)
	if err != nil {
		return nil, err
	}
	return readOutputs(ctx, tf)
}

// readOutputs returns the outputs of an initialised environment, decoded.
func readOutputs(ctx context.Context, tf *tfexec.Terraform) (map[string]any, error) {
	raw, err := tf.Output(ctx)
	if err != nil {
		return nil, fmt.Errorf("deploy: terraform output: %w", err)
	}
	out := make(map[string]any, len(raw))
	for name, meta := range raw {
		var v any
		if err := json.Unmarshal(meta.Value, &v); err != nil {
			return nil, fmt.Errorf("deploy: output %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// FormatOutputs renders outputs one per line, sorted, with url first.
func FormatOutputs(outputs map[string]any) string {
	names := make([]string, 0, len(outputs))
	for n := range outputs {
		if n != "url" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if _, ok := outputs["url"]; ok {
		names = append([]string{"url"}, names...)
	}
	var b []byte
	for _, n := range names {
		v, err := json.Marshal(outputs[n])
		if err != nil {
			v = fmt.Appendf(nil, "%v", outputs[n])
		}
		if s, ok := outputs[n].(string); ok {
			v = []byte(s)
		}
		b = fmt.Appendf(b, "%s = %s\n", n, v)
	}
	return string(b)
}
