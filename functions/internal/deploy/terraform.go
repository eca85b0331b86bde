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

// Init runs terraform init in the environment.
func (d *Deployer) Init(ctx context.Context) (*tfexec.Terraform, error) {
	tf, err := d.terraform()
	if err != nil {
		return nil, err
	}
	if err := tf.Init(ctx, tfexec.Upgrade(false)); err != nil {
		return nil, fmt.Errorf("deploy: terraform init in %s: %w", d.Settings.EnvironmentDir(), err)
	}
	return tf, nil
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
	return d.Outputs(ctx)
}

// Destroy runs init and destroy (without asking; the caller confirms).
func (d *Deployer) Destroy(ctx context.Context) error {
	tf, err := d.Init(ctx)
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

// Outputs returns the environment's outputs, decoded.
func (d *Deployer) Outputs(ctx context.Context) (map[string]any, error) {
	tf, err := d.terraform()
	if err != nil {
		return nil, err
	}
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
