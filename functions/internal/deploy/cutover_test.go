package deploy

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"
)

// A cutover from objectstore points a new deployment at objectstore's Bigtable instance,
// objects table and bucket (the existing_* variables; terraform/README.md, Cutover). Those
// are shared with objectstore, so Strata must never manage them: no plan may change them and
// `make destroy` must not delete them. These tests plan the mocked copy of each environment
// (mockTree), where every google_* resource is a module whose terraform_data records the
// resource's arguments.

// Cutover names used in the tests.
const (
	cutoverInstance = "objectstore-bt"
	cutoverTable    = "objectstore-objects"
	cutoverBucket   = "objectstore-data-bucket"
)

var cutoverVars = []string{
	"existing_bigtable_instance=" + cutoverInstance,
	"existing_objects_table=" + cutoverTable,
	"existing_bucket=" + cutoverBucket,
}

// sharedStorage are the mocked addresses of the resources a cutover shares with objectstore.
var sharedStorage = []string{
	"module.strata.module.storage.module.google_bigtable_instance__main",
	"module.strata.module.storage.module.google_bigtable_table__objects",
	"module.strata.module.storage.module.google_bigtable_gc_policy__objects_fg",
	"module.strata.module.storage.module.google_storage_bucket__data",
}

// sharedAddress returns the shared resource addr belongs to, or "".
func sharedAddress(addr string) string {
	for _, s := range sharedStorage {
		if strings.HasPrefix(addr, s+"[") || strings.HasPrefix(addr, s+".") {
			return s
		}
	}
	return ""
}

// mockArgs returns the arguments the configuration gives the mocked resource of rc (its
// terraform_data's input) as planned; unknown values are absent.
func mockArgs(rc *tfjson.ResourceChange) map[string]any {
	after, _ := rc.Change.After.(map[string]any)
	in, _ := after["input"].(map[string]any)
	return in
}

// cutoverEnv inits the mocked copy of env and returns a plan function that plans with the
// given extra variables into a plan file and returns the plan (or the error and output).
func cutoverEnv(t *testing.T, env string) (tf *tfexec.Terraform, plan func(ctx context.Context, destroy bool, vars ...string) (*tfjson.Plan, error), vars func(extra ...string) []string) {
	t.Helper()
	dir := filepath.Join(mockTree(t), "environments", env)
	tf = offlineTerraform(t, dir)
	var out bytes.Buffer
	tf.SetStderr(&out)
	tf.SetStdout(&out)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tf.Init(ctx); err != nil {
		t.Fatalf("init: %v\n%s", err, out.String())
	}
	zip := filepath.Join(t.TempDir(), "not-built.zip")
	vars = func(extra ...string) []string {
		return append([]string{"project_id=x", "region=y", "source_archive_path=" + zip}, extra...)
	}
	plan = func(ctx context.Context, destroy bool, extra ...string) (*tfjson.Plan, error) {
		out.Reset()
		opts := []tfexec.PlanOption{tfexec.Refresh(false), tfexec.Destroy(destroy), tfexec.Out("cutover.tfplan")}
		for _, v := range vars(extra...) {
			opts = append(opts, tfexec.Var(v))
		}
		if _, err := tf.Plan(ctx, opts...); err != nil {
			return nil, &planError{err, out.String()}
		}
		return tf.ShowPlanFile(ctx, "cutover.tfplan")
	}
	return tf, plan, vars
}

type planError struct {
	err    error
	output string
}

func (e *planError) Error() string { return e.err.Error() + "\n" + e.output }

// TestEnvironments_Cutover_SharedStorageNeverManaged: with the existing_* variables set,
// the plan creates none of the shared resources (and so never has them in state), creates
// Strata's change-log table in objectstore's instance, grants on objectstore's table and
// bucket, and configures the functions with them; after an apply, plan -destroy (what
// `make destroy` runs) deletes none of them. Without the variables the same addresses are
// planned, so the check cannot pass by a rename.
func TestEnvironments_Cutover_SharedStorageNeverManaged(t *testing.T) {
	for _, env := range environments {
		t.Run(env, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			tf, plan, vars := cutoverEnv(t, env)

			own, err := plan(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			planned := map[string]bool{}
			for _, rc := range own.ResourceChanges {
				if s := sharedAddress(rc.Address); s != "" && rc.Change.Actions.Create() {
					planned[s] = true
				}
			}
			for _, s := range sharedStorage {
				if !planned[s] {
					t.Errorf("without existing_*, %s is not created (renamed? update sharedStorage)", s)
				}
			}

			p, err := plan(ctx, false, cutoverVars...)
			if err != nil {
				t.Fatal(err)
			}
			for _, rc := range p.ResourceChanges {
				if s := sharedAddress(rc.Address); s != "" {
					t.Errorf("with existing_*, the plan manages %s (%s: %v)", s, rc.Address, rc.Change.Actions)
				}
			}
			checkCutoverWiring(t, p)

			var out bytes.Buffer
			tf.SetStderr(&out)
			applyOpts := []tfexec.ApplyOption{}
			for _, v := range vars(cutoverVars...) {
				applyOpts = append(applyOpts, tfexec.Var(v))
			}
			if err := tf.Apply(ctx, applyOpts...); err != nil {
				t.Fatalf("apply: %v\n%s", err, out.String())
			}
			d, err := plan(ctx, true, cutoverVars...)
			if err != nil {
				t.Fatal(err)
			}
			deleted := 0
			changelog := false
			for _, rc := range d.ResourceChanges {
				if !rc.Change.Actions.Delete() {
					continue
				}
				deleted++
				if s := sharedAddress(rc.Address); s != "" {
					t.Errorf("destroy deletes shared %s", rc.Address)
				}
				changelog = changelog || strings.HasPrefix(rc.Address, "module.strata.module.storage.module.google_bigtable_table__changelog.")
			}
			if deleted == 0 || !changelog {
				t.Errorf("plan -destroy deletes %d resources (Strata's change-log table: %v); want Strata's own, change log included", deleted, changelog)
			}
			t.Logf("environment %s: with existing_*, %d resources planned; destroy deletes %d", env, len(p.ResourceChanges), deleted)
		})
	}
}

// checkCutoverWiring: everything that names the storage names objectstore's.
func checkCutoverWiring(t *testing.T, p *tfjson.Plan) {
	t.Helper()
	for name, want := range map[string]string{"bigtable_instance": cutoverInstance, "objects_table": cutoverTable, "bucket": cutoverBucket} {
		if oc := p.OutputChanges[name]; oc == nil || oc.After != want {
			t.Errorf("output %s = %v, want %q", name, oc, want)
		}
	}
	counts := map[string]int{}
	for _, rc := range p.ResourceChanges {
		if rc.Type != "terraform_data" {
			continue
		}
		args := mockArgs(rc)
		mod := rc.ModuleAddress
		check := func(arg, want string) {
			if got, _ := args[arg].(string); got != want {
				t.Errorf("%s: %s = %q, want %q", mod, arg, got, want)
			}
		}
		switch {
		case mod == "module.strata.module.storage.module.google_bigtable_table__changelog",
			mod == "module.strata.module.storage.module.google_bigtable_gc_policy__changelog_c":
			check("instance_name", cutoverInstance)
			counts["changelog"]++
		case strings.HasPrefix(mod, "module.strata.module.iam.module.google_bigtable_table_iam_member__objects["):
			check("instance_name", cutoverInstance)
			check("table", cutoverTable)
			counts["objects grants"]++
		case strings.HasPrefix(mod, "module.strata.module.iam.module.google_bigtable_table_iam_member__changelog["):
			check("instance_name", cutoverInstance)
			counts["change-log grants"]++
		case strings.HasPrefix(mod, "module.strata.module.iam.module.google_storage_bucket_iam_member__function["):
			check("bucket", cutoverBucket)
			if conds, _ := args["condition"].([]any); len(conds) == 1 {
				expr, _ := conds[0].(map[string]any)["expression"].(string)
				if !strings.Contains(expr, "buckets/"+cutoverBucket+"/objects/~uploads/") {
					t.Errorf("%s: condition %q is not on %s's ~uploads/", mod, expr, cutoverBucket)
				}
			}
			counts["bucket grants"]++
		case strings.HasPrefix(mod, "module.strata.module.functions.module.google_cloudfunctions2_function__function["):
			sc, _ := args["service_config"].([]any)
			if len(sc) != 1 {
				t.Errorf("%s: service_config %v", mod, args["service_config"])
				continue
			}
			envVars, _ := sc[0].(map[string]any)["environment_variables"].(map[string]any)
			for k, want := range map[string]string{"STRATA_BIGTABLE_INSTANCE": cutoverInstance, "STRATA_BIGTABLE_TABLE": cutoverTable, "STRATA_GCS_BUCKET": cutoverBucket} {
				if envVars[k] != want {
					t.Errorf("%s: %s = %v, want %q", mod, k, envVars[k], want)
				}
			}
			counts["functions"]++
		}
	}
	for _, what := range []string{"changelog", "objects grants", "change-log grants", "bucket grants", "functions"} {
		if counts[what] == 0 {
			t.Errorf("the plan has no %s", what)
		}
	}
	if counts["changelog"] != 2 {
		t.Errorf("the plan has %d change-log table resources, want the table and its GC policy", counts["changelog"])
	}
}

// TestEnvironments_Cutover_InstanceAndTableTogether: objectstore's instance without its
// objects table (or the other way round) is refused at plan time.
func TestEnvironments_Cutover_InstanceAndTableTogether(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, plan, _ := cutoverEnv(t, "dev")
	for _, vars := range [][]string{
		{"existing_bigtable_instance=" + cutoverInstance},
		{"existing_objects_table=" + cutoverTable},
		{"existing_bigtable_instance=" + cutoverInstance, "existing_objects_table=objectstore_changelog"},
	} {
		_, err := plan(ctx, false, vars...)
		if err == nil {
			t.Errorf("plan with %v succeeds", vars)
			continue
		}
		if msg := strings.Join(strings.Fields(err.Error()), " "); !strings.Contains(msg, "existing_bigtable_instance and existing_objects_table together") && !strings.Contains(msg, "must not be changelog_table_name") {
			t.Errorf("plan with %v fails for another reason: %v", vars, err)
		}
	}
}
