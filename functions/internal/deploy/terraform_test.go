package deploy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/zclconf/go-cty/cty"

	"github.com/stratastore/strata/functions/internal/config"
	"github.com/stratastore/strata/functions/internal/httpapi"
	"github.com/stratastore/strata/tiered/bigtablebackend"
)

// Terraform checks that need no provider: formatting, structure (hcl/v2 and
// terraform-config-inspect), and init/validate/plan of the provider-free routing module.

const (
	wantCoreConstraint     = ">= 1.5.0, < 2.0.0"
	wantProviderConstraint = ">= 7.0"
)

// terraformBinary returns the terraform binary; CI machines have it at /usr/local/bin.
func terraformBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(EnvTerraformBin); p != "" {
		return p
	}
	if p, err := exec.LookPath("terraform"); err == nil {
		return p
	}
	const p = "/usr/local/bin/terraform"
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("terraform not found on PATH or at %s (set %s)", p, EnvTerraformBin)
	}
	return p
}

// skipUnderShort skips, under -short (make check), a test that runs a tool or a build: the
// terraform binary, or a build of the function zip. make test runs it.
func skipUnderShort(t *testing.T, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("skipped under -short: it %s; make test runs it", what)
	}
}

// offlineTerraform returns a terraform-exec handle on dir with the CLI configuration
// disabled (TF_CLI_CONFIG_FILE=/dev/null), as the checks run offline. Under -short it skips
// the test.
func offlineTerraform(t *testing.T, dir string) *tfexec.Terraform {
	t.Helper()
	skipUnderShort(t, "runs terraform")
	tf, err := tfexec.NewTerraform(dir, terraformBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	env = tfexec.CleanEnv(env)
	env["TF_CLI_CONFIG_FILE"] = os.DevNull
	env["CHECKPOINT_DISABLE"] = "1"
	if err := tf.SetEnv(env); err != nil {
		t.Fatal(err)
	}
	return tf
}

func moduleNamed(t *testing.T, name string) *tfModule {
	t.Helper()
	return loadModule(t, terraformDir(t, "modules/"+name))
}

func envNamed(t *testing.T, name string) *tfModule {
	t.Helper()
	return loadModule(t, terraformDir(t, "environments/"+name))
}

// stackModule returns modules/strata, the whole deployment that every environment calls.
func stackModule(t *testing.T) *tfModule {
	t.Helper()
	return moduleNamed(t, "strata")
}

var environments = []string{"dev", "prod"}

func TestTerraform_Formatted(t *testing.T) {
	tf := offlineTerraform(t, terraformDir(t, ""))
	ok, files, err := tf.FormatCheck(context.Background(), tfexec.Recursive(true))
	if err != nil {
		t.Fatalf("terraform fmt -check: %v", err)
	}
	if !ok {
		t.Errorf("terraform fmt -check -recursive terraform: unformatted files %v (run terraform fmt -recursive terraform)", files)
	}
}

func TestTerraform_ModuleLayout(t *testing.T) {
	modules, envs := moduleDirs(t)
	for _, dir := range append(modules, envs...) {
		m := loadModule(t, dir)
		name := strings.TrimPrefix(dir, terraformDir(t, "")+string(filepath.Separator))
		required := []string{"main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"}
		for _, f := range required {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%s: missing %s", name, f)
			}
		}
		readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
		for _, v := range sortedKeys(m.variables) {
			b := m.variables[v]
			if b.Body.Attributes["description"] == nil || b.Body.Attributes["type"] == nil {
				t.Errorf("%s: variable %s needs a description and a type", name, v)
			}
			if !bytes.Contains(readme, []byte("`"+v+"`")) {
				t.Errorf("%s: README.md does not list input `%s`", name, v)
			}
		}
		for _, o := range sortedKeys(m.outputs) {
			if m.outputs[o].Body.Attributes["description"] == nil {
				t.Errorf("%s: output %s needs a description", name, o)
			}
			if !bytes.Contains(readme, []byte("`"+o+"`")) {
				t.Errorf("%s: README.md does not list output `%s`", name, o)
			}
		}
	}
}

func TestTerraform_VersionConstraints(t *testing.T) {
	modules, envs := moduleDirs(t)
	for _, dir := range append(modules, envs...) {
		m := loadModule(t, dir)
		if !slices.Equal(m.inspect.RequiredCore, []string{wantCoreConstraint}) {
			t.Errorf("%s: required_version = %q, want %q", dir, m.inspect.RequiredCore, wantCoreConstraint)
		}
		for name, req := range m.inspect.RequiredProviders {
			switch name {
			case "google", "google-beta":
				if req.Source != "hashicorp/"+name {
					t.Errorf("%s: provider %s has source %q", dir, name, req.Source)
				}
				if !slices.Equal(req.VersionConstraints, []string{wantProviderConstraint}) {
					t.Errorf("%s: provider %s constraint %q, want %q", dir, name, req.VersionConstraints, wantProviderConstraint)
				}
			default:
				t.Errorf("%s: unexpected provider %s", dir, name)
			}
		}
		if len(m.inspect.ManagedResources) > 0 && m.inspect.RequiredProviders["google"] == nil {
			t.Errorf("%s: declares resources but does not require hashicorp/google", dir)
		}
	}
	routing := moduleNamed(t, "routing")
	if len(routing.inspect.RequiredProviders) > 0 || len(routing.inspect.ManagedResources) > 0 || len(routing.inspect.DataResources) > 0 {
		t.Error("the routing module must stay provider-free (no providers, resources or data sources) so it can be planned offline")
	}
}

// TestTerraform_NoDataSources: plan must not need live API calls, and data sources are read
// at plan time even with -refresh=false.
func TestTerraform_NoDataSources(t *testing.T) {
	modules, envs := moduleDirs(t)
	for _, dir := range append(modules, envs...) {
		m := loadModule(t, dir)
		for _, d := range m.data {
			t.Errorf("%s: data source %s.%s needs an API call at plan time", d.DefRange(), d.Labels[0], d.Labels[1])
		}
		if len(m.inspect.DataResources) != len(m.data) {
			t.Errorf("%s: terraform-config-inspect sees %d data sources", dir, len(m.inspect.DataResources))
		}
	}
}

// TestTerraform_References is an offline stand-in for terraform validate, which needs the
// provider: every var., local., module. and resource reference resolves, and every module
// call passes exactly the callee's variables, all required ones included.
func TestTerraform_References(t *testing.T) {
	modules, envs := moduleDirs(t)
	builtin := []string{"each", "count", "path", "self", "terraform"}
	for _, dir := range append(modules, envs...) {
		m := loadModule(t, dir)
		var iterators []string
		for _, body := range m.files {
			iterators = append(iterators, dynamicIterators(body)...)
		}
		for fname, body := range m.files {
			for _, tr := range traversalRoots(body) {
				root := tr.RootName()
				where := fmt.Sprintf("%s/%s:%d", filepath.Base(dir), fname, tr.SourceRange().Start.Line)
				attr := func(i int) string {
					if len(tr) <= i {
						return ""
					}
					return stepName(tr[i])
				}
				switch {
				case slices.Contains(builtin, root), slices.Contains(iterators, root):
				case root == "var":
					if _, ok := m.variables[attr(1)]; !ok {
						t.Errorf("%s: undeclared variable var.%s", where, attr(1))
					}
				case root == "local":
					if _, ok := m.locals[attr(1)]; !ok {
						t.Errorf("%s: undefined local.%s", where, attr(1))
					}
				case root == "module":
					call, ok := m.modules[attr(1)]
					if !ok {
						t.Errorf("%s: no module %s", where, attr(1))
						continue
					}
					callee := loadModule(t, filepath.Join(dir, literal(t, call.Body.Attributes["source"]).AsString()))
					if out := attr(2); out != "" {
						if _, ok := callee.outputs[out]; !ok {
							t.Errorf("%s: module %s has no output %s", where, attr(1), out)
						}
					}
				case root == "data":
					t.Errorf("%s: data source reference %s", where, attr(1))
				default:
					if _, ok := m.resources[root+"."+attr(1)]; !ok {
						t.Errorf("%s: no resource %s.%s in this module", where, root, attr(1))
					}
				}
			}
		}
		for name, call := range m.modules {
			callee := loadModule(t, filepath.Join(dir, literal(t, call.Body.Attributes["source"]).AsString()))
			for arg := range call.Body.Attributes {
				if slices.Contains([]string{"source", "depends_on", "providers", "count", "for_each", "version"}, arg) {
					continue
				}
				if _, ok := callee.variables[arg]; !ok {
					t.Errorf("%s: module %s passes %s, which %s does not declare", dir, name, arg, callee.dir)
				}
			}
			for v, meta := range callee.inspect.Variables {
				if meta.Required {
					if _, ok := call.Body.Attributes[v]; !ok {
						t.Errorf("%s: module %s does not pass required variable %s", dir, name, v)
					}
				}
			}
		}
	}
}

// stepName returns the attribute name, or the string index, of one traversal step.
func stepName(step hcl.Traverser) string {
	switch x := step.(type) {
	case hcl.TraverseRoot:
		return x.Name
	case hcl.TraverseAttr:
		return x.Name
	case hcl.TraverseIndex:
		if x.Key.Type() == cty.String {
			return x.Key.AsString()
		}
	}
	return ""
}

func TestTerraform_EnvironmentsRequireOnlyProjectAndRegion(t *testing.T) {
	for _, env := range environments {
		m := envNamed(t, env)
		var required []string
		for name, v := range m.inspect.Variables {
			if v.Required {
				required = append(required, name)
			}
		}
		slices.Sort(required)
		if !slices.Equal(required, []string{"project_id", "region"}) {
			t.Errorf("environment %s requires %v, want only [project_id region]", env, required)
		}
	}
}

// TestTerraform_EnvironmentDefaults: what dev and prod decide differently. The stack module
// leaves these without a default, so every environment must choose them. The insecure
// opt-ins are off in both environments and in the stack module.
func TestTerraform_EnvironmentDefaults(t *testing.T) {
	want := map[string]map[string]cty.Value{
		"dev": {
			"name":                          cty.StringVal("strata-dev"),
			"account_prefix":                cty.StringVal("strata-dev-"),
			"enable_cloud_armor":            cty.False,
			"log_level":                     cty.StringVal("debug"),
			"deletion_protection":           cty.False,
			"force_destroy":                 cty.True,
			"soft_delete_retention_seconds": cty.NumberIntVal(0),
			"busy_function_min_instances":   cty.NumberIntVal(0),
			"slo_availability_goal":         cty.MustParseNumberVal("0.99"),
			"slo_latency_goal":              cty.MustParseNumberVal("0.95"),
			"bigtable_autoscaling":          autoscaling(1, 2, 60, 2560),
		},
		"prod": {
			"name":                          cty.StringVal("strata"),
			"account_prefix":                cty.StringVal("strata-"),
			"enable_cloud_armor":            cty.True,
			"log_level":                     cty.StringVal("info"),
			"deletion_protection":           cty.True,
			"force_destroy":                 cty.False,
			"soft_delete_retention_seconds": cty.NumberIntVal(604800),
			"busy_function_min_instances":   cty.NumberIntVal(1),
			"slo_availability_goal":         cty.MustParseNumberVal("0.999"),
			"slo_latency_goal":              cty.MustParseNumberVal("0.99"),
			// Sized in environments/prod/variables.tf: 6 nodes hold 250 writes/s of 32 KiB for
			// 30 days at 3,584 GiB per node; 24 hold 1,000/s.
			"bigtable_autoscaling": autoscaling(6, 24, 60, 3584),
		},
	}
	secure := map[string]cty.Value{
		"allow_plain_http":      cty.False,
		"allow_unauthenticated": cty.False,
		"lb_log_sample_rate":    cty.NumberIntVal(0),
	}
	maxInstances := map[string]string{"dev": "max_instances = optional(number, 5)", "prod": "max_instances = optional(number, 100)"}
	stack := stackModule(t)
	for env, vars := range want {
		m := envNamed(t, env)
		for name, v := range vars {
			if got := m.variableDefault(t, name); !got.RawEquals(v) {
				t.Errorf("environment %s: %s defaults to %#v, want %#v", env, name, got, v)
			}
			if _, ok := stack.variables[name].Body.Attributes["default"]; ok {
				t.Errorf("modules/strata gives %s a default; the environments decide it", name)
			}
		}
		for name, v := range secure {
			if got := m.variableDefault(t, name); !got.RawEquals(v) {
				t.Errorf("environment %s: %s defaults to %#v; only an explicit opt-in may change it from %#v", env, name, got, v)
			}
		}
		if typ := m.exprText(m.variables["function_defaults"].Body.Attributes["type"]); !strings.Contains(typ, maxInstances[env]) {
			t.Errorf("environment %s: function_defaults type %s, want %s", env, typ, maxInstances[env])
		}
	}
	for name, v := range secure {
		if got := stack.variableDefault(t, name); !got.RawEquals(v) {
			t.Errorf("modules/strata: %s defaults to %#v, want %#v", name, got, v)
		}
		if got := stack.exprText(stack.variables[name].Body.Attributes["nullable"]); got != "false" {
			t.Errorf("modules/strata: %s must not be nullable (null would not mean the secure default)", name)
		}
	}
	if _, ok := stack.variables["auth_enforce"]; ok {
		t.Error("modules/strata still has auth_enforce; authentication is opted out of with allow_unauthenticated")
	}
}

// autoscaling is a bigtable_autoscaling value.
func autoscaling(minNodes, maxNodes, cpuTarget, storageTarget int64) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"min_nodes": cty.NumberIntVal(minNodes), "max_nodes": cty.NumberIntVal(maxNodes),
		"cpu_target_percent": cty.NumberIntVal(cpuTarget), "storage_target_gib": cty.NumberIntVal(storageTarget),
	})
}

// TestTerraform_EnvironmentsAreThinCallsOfTheStack: an environment holds no resources of its
// own. Its main.tf calls modules/strata once, passing every variable it declares as itself;
// a variable that defaults to null goes to a stack variable with a default that is not
// nullable (so null means the stack's default); and it passes every stack output through.
func TestTerraform_EnvironmentsAreThinCallsOfTheStack(t *testing.T) {
	stack := stackModule(t)
	for _, env := range environments {
		m := envNamed(t, env)
		if len(m.resources) > 0 || len(m.locals) > 0 || len(m.checks) > 0 {
			t.Errorf("environment %s declares resources %v, locals or checks; they belong in modules/strata", env, sortedKeys(m.resources))
		}
		if got := sortedKeys(m.modules); !slices.Equal(got, []string{"strata"}) {
			t.Fatalf("environment %s calls modules %v, want only strata", env, got)
		}
		call := m.modules["strata"]
		if got := literal(t, call.Body.Attributes["source"]).AsString(); got != "../../modules/strata" {
			t.Errorf("environment %s: module strata source %q", env, got)
		}
		src, err := os.ReadFile(filepath.Join(m.dir, "main.tf"))
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(src, []byte("\n")); n >= 60 {
			t.Errorf("environments/%s/main.tf has %d lines; keep it under 60 (the stack belongs in modules/strata)", env, n)
		}
		for name, v := range m.variables {
			if got := m.exprText(call.Body.Attributes[name]); got != "var."+name {
				t.Errorf("environment %s: module strata gets %s = %q, want var.%s", env, name, got, name)
			}
			sv, ok := stack.variables[name]
			if !ok {
				t.Errorf("environment %s declares %s, which modules/strata does not", env, name)
				continue
			}
			d, hasDefault := v.Body.Attributes["default"]
			if !hasDefault || !literal(t, d).IsNull() {
				continue
			}
			if _, ok := sv.Body.Attributes["default"]; !ok {
				t.Errorf("environment %s: %s defaults to null, but modules/strata has no default for it", env, name)
			}
			if n := sv.Body.Attributes["nullable"]; n == nil || !literal(t, n).RawEquals(cty.False) {
				t.Errorf("environment %s: %s defaults to null, so modules/strata must declare it nullable = false (null then means its default)", env, name)
			}
			if et, st := m.exprText(v.Body.Attributes["type"]), stack.exprText(sv.Body.Attributes["type"]); et != st {
				t.Errorf("environment %s: %s has type %s, modules/strata %s", env, name, et, st)
			}
		}
		for arg := range call.Body.Attributes {
			if _, ok := m.variables[arg]; !ok && arg != "source" {
				t.Errorf("environment %s passes %s to modules/strata, which is not one of its variables", env, arg)
			}
		}
		for name := range stack.outputs {
			o, ok := m.outputs[name]
			if !ok {
				t.Errorf("environment %s does not pass output %s through", env, name)
				continue
			}
			if got := m.exprText(o.Body.Attributes["value"]); got != "module.strata."+name {
				t.Errorf("environment %s: output %s = %s, want module.strata.%s", env, name, got, name)
			}
		}
		if len(m.outputs) != len(stack.outputs) {
			t.Errorf("environment %s has outputs %v, modules/strata %v", env, sortedKeys(m.outputs), sortedKeys(stack.outputs))
		}
	}
}

// TestTerraform_EnvironmentsKeepStateInGCS: every environment has a partial `backend "gcs" {}`
// (bucket and prefix come from terraform init -backend-config, which `make deploy` passes).
func TestTerraform_EnvironmentsKeepStateInGCS(t *testing.T) {
	for _, env := range environments {
		m := envNamed(t, env)
		var backends []*hclsyntax.Block
		for _, body := range m.files {
			for _, tb := range body.Blocks {
				if tb.Type == "terraform" {
					backends = append(backends, nestedBlocks(tb, "backend")...)
				}
			}
		}
		if len(backends) != 1 {
			t.Fatalf("environment %s has %d backend blocks, want one", env, len(backends))
		}
		b := backends[0]
		if b.Labels[0] != "gcs" || filepath.Base(b.DefRange().Filename) != "backend.tf" {
			t.Errorf("environment %s: backend %q in %s, want gcs in backend.tf", env, b.Labels[0], b.DefRange().Filename)
		}
		if len(b.Body.Attributes) > 0 || len(b.Body.Blocks) > 0 {
			t.Errorf("environment %s: the backend block sets %v; bucket and prefix belong in -backend-config (Settings.BackendConfig)", env, sortedKeys(b.Body.Attributes))
		}
	}
}

// modulesAddedAfterTheStack are the module calls of modules/strata that came after the
// environments stopped declaring the stack themselves: no state of theirs can be at an old
// address, so they have no moved block.
var modulesAddedAfterTheStack = []string{"monitoring"}

// TestTerraform_EnvironmentsMoveStateIntoTheStack: state from when the environments declared
// the stack themselves moves to module.strata: one moved block per module call and resource
// of modules/strata (but modulesAddedAfterTheStack), and no others.
func TestTerraform_EnvironmentsMoveStateIntoTheStack(t *testing.T) {
	stack := stackModule(t)
	var want []string
	for name := range stack.modules {
		if slices.Contains(modulesAddedAfterTheStack, name) {
			continue
		}
		want = append(want, "module."+name+" -> module.strata.module."+name)
	}
	for addr := range stack.resources {
		want = append(want, addr+" -> module.strata."+addr)
	}
	slices.Sort(want)
	for _, env := range environments {
		m := envNamed(t, env)
		var got []string
		for _, body := range m.files {
			for _, b := range body.Blocks {
				if b.Type == "moved" {
					got = append(got, m.exprText(b.Body.Attributes["from"])+" -> "+m.exprText(b.Body.Attributes["to"]))
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("environment %s moves\n  %s\nwant\n  %s", env, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
}

// TestTerraform_EnvironmentsReadTheRoutesFile: the stack, and so every environment, feeds the
// routing module the routes file the route table generates (httpapi's TestRoutesFileUpToDate
// keeps it current).
func TestTerraform_EnvironmentsReadTheRoutesFile(t *testing.T) {
	if _, err := os.Stat(filepath.Join(repoRoot(t), filepath.FromSlash(httpapi.RoutesFilePath))); err != nil {
		t.Fatalf("%v (run `make routes`)", err)
	}
	m := stackModule(t)
	routing, ok := m.modules["routing"]
	if !ok {
		t.Fatal("modules/strata has no routing module")
	}
	expr := m.exprText(routing.Body.Attributes["routes_json"])
	rel, _ := filepath.Rel(m.dir, filepath.Join(repoRoot(t), filepath.FromSlash(httpapi.RoutesFilePath)))
	if wantExpr := `file("${path.module}/` + filepath.ToSlash(rel) + `")`; expr != wantExpr {
		t.Errorf("modules/strata: routes_json = %s, want %s", expr, wantExpr)
	}
}

// wiring asserts that module call arg in modules/strata (which every environment calls) is
// exactly want.
func wiring(t *testing.T, module, arg, want string) {
	t.Helper()
	m := stackModule(t)
	call, ok := m.modules[module]
	if !ok {
		t.Errorf("modules/strata: no module %s", module)
		return
	}
	if got := m.exprText(call.Body.Attributes[arg]); got != want {
		t.Errorf("modules/strata: module %s: %s = %q, want %q", module, arg, got, want)
	}
}

// routeFunctions returns each function of the route table as the routing module describes it
// (the routing plan test checks that the module's output equals this).
func routeFunctions() map[string]cty.Value {
	out := map[string]cty.Value{}
	for _, f := range httpapi.Functions() {
		out[f.Name] = cty.ObjectVal(map[string]cty.Value{
			"entry_point": cty.StringVal(f.Name),
			"exposure":    cty.StringVal(string(f.Exposure)),
			"public":      cty.BoolVal(f.Exposure == httpapi.Public),
		})
	}
	return out
}

// TestTerraform_EveryFunctionDeployed: one google_cloudfunctions2_function per routing
// function, built from the shared zip with runtime go126 and entry point = the function's
// name, each with its own service account, and ingress by exposure.
func TestTerraform_EveryFunctionDeployed(t *testing.T) {
	fm := moduleNamed(t, "functions")
	fn := fm.resource(t, "google_cloudfunctions2_function.function")
	if got := fm.exprText(fn.Body.Attributes["for_each"]); got != "var.functions" {
		t.Errorf("functions are deployed for_each %q, want var.functions", got)
	}
	wiring(t, "functions", "functions", "module.routing.functions")
	if got := fm.variableDefault(t, "runtime"); !got.RawEquals(cty.StringVal("go126")) {
		t.Errorf("runtime defaults to %#v, want go126", got)
	}
	if got := fm.exprText(nested(fn, "build_config.runtime")); got != "var.runtime" {
		t.Errorf("build_config.runtime = %s", got)
	}
	if got := fm.exprText(nested(fn, "build_config.source.storage_source.object")); got != "google_storage_bucket_object.source.name" {
		t.Errorf("functions are built from %q, want the shared zip object", got)
	}
	obj := fm.resource(t, "google_storage_bucket_object.source")
	if name := fm.exprText(obj.Body.Attributes["name"]); !strings.Contains(name, "local.source_md5") {
		t.Errorf("the zip's object name %s does not carry its hash, so a new build would not redeploy", name)
	}
	for name, each := range routeFunctions() {
		vars := map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(name), "value": each})}
		if got := eval(t, nested(fn, "build_config.entry_point").Expr, vars); !got.RawEquals(cty.StringVal(name)) {
			t.Errorf("function %s: entry point %#v", name, got)
		}
		want := "ALLOW_INTERNAL_ONLY"
		if each.GetAttr("public").True() {
			want = "ALLOW_INTERNAL_AND_GCLB"
		}
		if got := eval(t, nested(fn, "service_config.ingress_settings").Expr, vars); !got.RawEquals(cty.StringVal(want)) {
			t.Errorf("function %s: ingress %#v, want %s", name, got, want)
		}
	}
	for _, name := range []string{httpapi.FnCleanup, httpapi.FnRecover} {
		if !httpapi.IsFunction(name) {
			t.Errorf("the route table lacks the internal function %s", name)
		}
	}
}

// TestTerraform_FunctionConcurrencyHasWholeCPU: more than one request per instance needs at
// least one vCPU.
func TestTerraform_FunctionConcurrencyHasWholeCPU(t *testing.T) {
	fm := moduleNamed(t, "functions")
	fn := fm.resource(t, "google_cloudfunctions2_function.function")
	if got := fm.exprText(nested(fn, "service_config.available_cpu")); got != "local.cpu[each.key]" {
		t.Fatalf("available_cpu = %s, want local.cpu[each.key]", got)
	}
	cpu := fm.locals["cpu"]
	for _, tc := range []struct {
		cpu         string
		concurrency int64
		want        string
	}{{"0.583", 80, "1"}, {"0.583", 1, "0.583"}, {"2", 80, "2"}, {"1", 1, "1"}} {
		settings := cty.MapVal(map[string]cty.Value{"f": cty.ObjectVal(map[string]cty.Value{
			"cpu": cty.StringVal(tc.cpu), "concurrency": cty.NumberIntVal(tc.concurrency),
		})})
		got := evalFunc(t, cpu.Expr, map[string]cty.Value{"local": cty.ObjectVal(map[string]cty.Value{"settings": settings})})
		if v := got.GetAttr("f"); !v.RawEquals(cty.StringVal(tc.want)) {
			t.Errorf("cpu %s with concurrency %d gives %#v, want %s", tc.cpu, tc.concurrency, v, tc.want)
		}
	}
}

// TestTerraform_EveryFunctionHasItsOwnServiceAccount: the iam module creates one account per
// function with the routing module's unique id, and each function runs as its own.
func TestTerraform_EveryFunctionHasItsOwnServiceAccount(t *testing.T) {
	iam := moduleNamed(t, "iam")
	sa := iam.resource(t, "google_service_account.function")
	if got := iam.exprText(sa.Body.Attributes["for_each"]); got != "var.functions" {
		t.Errorf("service accounts are created for_each %q, want var.functions", got)
	}
	if got := iam.exprText(sa.Body.Attributes["account_id"]); got != "each.value.account_id" {
		t.Errorf("account_id = %q, want each.value.account_id", got)
	}
	if got := iam.exprText(iam.outputs["function_service_account_emails"].Body.Attributes["value"]); got != "{ for name, sa in google_service_account.function : name => sa.email }" {
		t.Errorf("function_service_account_emails = %s", got)
	}
	fm := moduleNamed(t, "functions")
	fn := fm.resource(t, "google_cloudfunctions2_function.function")
	if got := fm.exprText(nested(fn, "service_config.service_account_email")); got != "var.service_account_emails[each.key]" {
		t.Errorf("functions run as %q, want var.service_account_emails[each.key]", got)
	}
	wiring(t, "iam", "functions", "module.routing.functions")
	wiring(t, "functions", "service_account_emails", "module.iam.function_service_account_emails")
}

// TestTerraform_InternalFunctionsInvokableOnlyByTheirCallers: the only invoker grants are the
// push account on cleanup, the scheduler account on recover, and allUsers on the request-path
// functions behind the load balancer (which carries no identity).
func TestTerraform_InternalFunctionsInvokableOnlyByTheirCallers(t *testing.T) {
	modules, envs := moduleDirs(t)
	type grant struct{ module, addr string }
	var grants []grant
	for _, dir := range append(modules, envs...) {
		m := loadModule(t, dir)
		for addr := range m.resources {
			typ := strings.SplitN(addr, ".", 2)[0]
			if (strings.HasPrefix(typ, "google_cloud_run") || strings.HasPrefix(typ, "google_cloudfunctions")) && strings.Contains(typ, "_iam_") {
				if !strings.HasSuffix(typ, "_iam_member") {
					t.Errorf("%s: %s replaces invoker policies wholesale; use _iam_member", dir, addr)
				}
				grants = append(grants, grant{filepath.Base(dir), addr})
			}
		}
	}
	want := []grant{
		{"frontend", "google_cloud_run_service_iam_member.public_invoker"},
		{"iam", "google_cloud_run_service_iam_member.cleanup_invoker"},
		{"iam", "google_cloud_run_service_iam_member.recover_invoker"},
	}
	slices.SortFunc(grants, func(a, b grant) int { return strings.Compare(a.module+a.addr, b.module+b.addr) })
	if !slices.Equal(grants, want) {
		t.Errorf("invoker grants %v, want %v", grants, want)
	}
	iam := moduleNamed(t, "iam")
	for addr, w := range map[string][2]string{
		"google_cloud_run_service_iam_member.cleanup_invoker": {"var.cleanup_service", "google_service_account.push.member"},
		"google_cloud_run_service_iam_member.recover_invoker": {"var.recover_service", "google_service_account.scheduler.member"},
	} {
		r := iam.resource(t, addr)
		if got := iam.exprText(r.Body.Attributes["service"]); got != w[0] {
			t.Errorf("%s: service %s, want %s", addr, got, w[0])
		}
		if got := iam.exprText(r.Body.Attributes["member"]); got != w[1] {
			t.Errorf("%s: member %s, want %s", addr, got, w[1])
		}
	}
	wiring(t, "iam", "cleanup_service", `module.functions.names["cleanup"]`)
	wiring(t, "iam", "recover_service", `module.functions.names["recover"]`)
	fe := moduleNamed(t, "frontend")
	pub := fe.resource(t, "google_cloud_run_service_iam_member.public_invoker")
	if got := fe.exprText(pub.Body.Attributes["for_each"]); got != "var.public_invoker ? var.public_functions : {}" {
		t.Errorf("public_invoker for_each = %s", got)
	}
	wiring(t, "frontend", "public_functions", "module.functions.public_names")
	fm := moduleNamed(t, "functions")
	if got := fm.exprText(fm.outputs["public_names"].Body.Attributes["value"]); got != "{ for name, f in google_cloudfunctions2_function.function : name => f.name if var.functions[name].public }" {
		t.Errorf("functions output public_names = %s; it must keep internal functions out", got)
	}
	// allUsers / allAuthenticatedUsers appear nowhere else.
	for _, dir := range append(modules, envs...) {
		m := loadModule(t, dir)
		for name, src := range m.src {
			for _, who := range []string{`"allUsers"`, `"allAuthenticatedUsers"`} {
				if n := bytes.Count(src, []byte(who)); n > 0 && !(filepath.Base(dir) == "frontend" && name == "backends.tf" && who == `"allUsers"` && n == 1) {
					t.Errorf("%s/%s grants %s", dir, name, who)
				}
			}
		}
	}
}

func TestTerraform_BucketsAreNotPublic(t *testing.T) {
	modules, envs := moduleDirs(t)
	buckets := 0
	for _, dir := range append(modules, envs...) {
		m := loadModule(t, dir)
		for _, b := range m.resourcesOfType("google_storage_bucket") {
			buckets++
			where := fmt.Sprintf("%s: %s", dir, b.Labels[1])
			if a := b.Body.Attributes["uniform_bucket_level_access"]; a == nil || !literal(t, a).True() {
				t.Errorf("%s: uniform_bucket_level_access is not true", where)
			}
			if a := b.Body.Attributes["public_access_prevention"]; a == nil || literal(t, a).AsString() != "enforced" {
				t.Errorf("%s: public_access_prevention is not \"enforced\"", where)
			}
		}
		for addr := range m.resources {
			if strings.HasPrefix(addr, "google_storage_") && (strings.Contains(addr, "_acl.") || strings.Contains(addr, "_access_control.") || strings.Contains(addr, "_iam_policy.") || strings.Contains(addr, "_iam_binding.")) {
				t.Errorf("%s: %s manages bucket ACLs or whole policies", dir, addr)
			}
		}
	}
	if buckets != 2 {
		t.Errorf("found %d buckets, want 2 (data, sources)", buckets)
	}
}

func TestTerraform_DataBucketLifecycle(t *testing.T) {
	st := moduleNamed(t, "storage")
	b := st.resource(t, "google_storage_bucket.data")
	rules := nestedBlocks(b, "lifecycle_rule")
	if len(rules) != 2 {
		t.Fatalf("the data bucket has %d lifecycle rules, want 2", len(rules))
	}
	var expiry, uploads bool
	for _, r := range rules {
		if got := literal(t, nested(r, "action.type")); got.AsString() != "Delete" {
			t.Errorf("lifecycle action %s, want Delete", got.AsString())
		}
		if a := nested(r, "condition.days_since_custom_time"); a != nil {
			expiry = literal(t, a).RawEquals(cty.NumberIntVal(1))
		}
		if a := nested(r, "condition.matches_prefix"); a != nil {
			uploads = st.exprText(a) == "[var.uploads_prefix]" && st.exprText(nested(r, "condition.age")) == "var.uploads_max_age_days"
		}
	}
	if !expiry {
		t.Error("no lifecycle rule deletes objects 1 day after their customTime")
	}
	if !uploads {
		t.Error("no lifecycle rule deletes leftover multipart parts under the uploads prefix")
	}
	if got := st.variableDefault(t, "uploads_prefix"); got.AsString() != "~uploads/" {
		t.Errorf("uploads_prefix defaults to %q", got.AsString())
	}
	if got := st.variableDefault(t, "uploads_max_age_days"); !got.RawEquals(cty.NumberIntVal(2)) {
		t.Errorf("uploads_max_age_days defaults to %#v", got)
	}
	if got := st.exprText(nested(b, "soft_delete_policy.retention_duration_seconds")); got != "var.soft_delete_retention_seconds" {
		t.Errorf("soft delete retention = %q", got)
	}
	if got := st.exprText(b.Body.Attributes["force_destroy"]); got != "var.force_destroy" {
		t.Errorf("force_destroy = %q", got)
	}
}

// TestTerraform_BigtableMatchesBackend: the tables' families and GC rules are those
// tiered/bigtablebackend writes (its CreateTables for the emulator): objects fg (max age 1s)
// and fm (no GC), change log c (one version). The family names are unexported there, so
// they are spelled out here; the default table names come from the package.
func TestTerraform_BigtableMatchesBackend(t *testing.T) {
	st := moduleNamed(t, "storage")
	families := func(addr string) []string {
		var fams []string
		for _, cf := range nestedBlocks(st.resource(t, addr), "column_family") {
			fams = append(fams, literal(t, cf.Body.Attributes["family"]).AsString())
		}
		slices.Sort(fams)
		return fams
	}
	if got := families("google_bigtable_table.objects"); !slices.Equal(got, []string{"fg", "fm"}) {
		t.Errorf("objects table families %v, want [fg fm]", got)
	}
	if got := families("google_bigtable_table.changelog"); !slices.Equal(got, []string{"c"}) {
		t.Errorf("change-log table families %v, want [c]", got)
	}
	policies := map[string]*hclsyntax.Block{}
	for _, p := range st.resourcesOfType("google_bigtable_gc_policy") {
		table := st.exprText(p.Body.Attributes["table"])
		fam := literal(t, p.Body.Attributes["column_family"]).AsString()
		policies[table+"/"+fam] = p
	}
	if len(policies) != 2 {
		t.Errorf("GC policies %v, want exactly objects/fg and changelog/c (fm has none)", sortedKeys(policies))
	}
	fg := policies["google_bigtable_table.objects[0].name/fg"]
	if fg == nil || literal(t, nested(fg, "max_age.duration")).AsString() != "1s" || len(nestedBlocks(fg, "max_version")) > 0 {
		t.Error("fg needs exactly a max_age of 1s")
	}
	if policies["google_bigtable_table.objects[0].name/fm"] != nil {
		t.Error("fm must have no GC policy")
	}
	c := policies["google_bigtable_table.changelog.name/c"]
	if c == nil || !literal(t, nested(c, "max_version.number")).RawEquals(cty.NumberIntVal(1)) {
		t.Error("the change log's family c needs max_version 1")
	}
	if got := st.variableDefault(t, "objects_table_name").AsString(); got != bigtablebackend.DefaultTable {
		t.Errorf("objects table defaults to %q, the backend to %q", got, bigtablebackend.DefaultTable)
	}
	if got := st.variableDefault(t, "changelog_table_name").AsString(); got != bigtablebackend.DefaultChangeLogTable {
		t.Errorf("change-log table defaults to %q, the backend to %q", got, bigtablebackend.DefaultChangeLogTable)
	}
	inst := st.resource(t, "google_bigtable_instance.main")
	if got := st.exprText(inst.Body.Attributes["deletion_protection"]); got != "var.deletion_protection" {
		t.Errorf("instance deletion_protection = %q", got)
	}
	for _, tbl := range []string{"google_bigtable_table.objects", "google_bigtable_table.changelog"} {
		if got := st.exprText(st.resource(t, tbl).Body.Attributes["deletion_protection"]); got != "local.table_deletion_protection" {
			t.Errorf("%s deletion_protection = %q", tbl, got)
		}
	}
	wiring(t, "storage", "deletion_protection", "var.deletion_protection")
	wiring(t, "storage", "force_destroy", "var.force_destroy")
}

func TestTerraform_SchedulerUsesOIDC(t *testing.T) {
	sc := moduleNamed(t, "scheduler")
	job := sc.resource(t, "google_cloud_scheduler_job.recover")
	for path, want := range map[string]string{
		"http_target.uri": "var.recover_uri",
		"http_target.oidc_token.service_account_email": "var.service_account_email",
		"http_target.oidc_token.audience":              "var.recover_uri",
		"schedule":                                     "var.schedule",
		"attempt_deadline":                             "var.attempt_deadline",
		"retry_config.retry_count":                     "var.retry_count",
	} {
		if got := sc.exprText(nested(job, path)); got != want {
			t.Errorf("scheduler %s = %q, want %q", path, got, want)
		}
	}
	if nested(job, "http_target.oauth_token.service_account_email") != nil {
		t.Error("the scheduler must use an OIDC token, not OAuth")
	}
	wiring(t, "scheduler", "recover_uri", `module.functions.uris["recover"]`)
	wiring(t, "scheduler", "service_account_email", "module.iam.scheduler_service_account_email")
}

func TestTerraform_CleanupSubscriptionPushesWithDeadLetter(t *testing.T) {
	ms := moduleNamed(t, "messaging")
	sub := ms.resource(t, "google_pubsub_subscription.cleanup_push")
	for path, want := range map[string]string{
		"topic":                     "google_pubsub_topic.cleanup.id",
		"push_config.push_endpoint": "var.cleanup_uri",
		"push_config.oidc_token.service_account_email": "var.push_service_account_email",
		"push_config.oidc_token.audience":              "var.cleanup_uri",
		"dead_letter_policy.dead_letter_topic":         "google_pubsub_topic.dead_letter.id",
		"dead_letter_policy.max_delivery_attempts":     "var.max_delivery_attempts",
		"retry_policy.minimum_backoff":                 "var.minimum_backoff",
		"retry_policy.maximum_backoff":                 "var.maximum_backoff",
		"ack_deadline_seconds":                         "var.ack_deadline_seconds",
	} {
		if got := ms.exprText(nested(sub, path)); got != want {
			t.Errorf("subscription %s = %q, want %q", path, got, want)
		}
	}
	if got := ms.variableDefault(t, "max_delivery_attempts"); got.LessThan(cty.NumberIntVal(5)).True() {
		t.Errorf("max_delivery_attempts defaults to %#v, want at least 5", got)
	}
	// The Pub/Sub service agent may publish to the dead-letter topic and ack on the source.
	for addr, target := range map[string][2]string{
		"google_pubsub_topic_iam_member.dead_letter_publisher":          {"topic", "google_pubsub_topic.dead_letter.name"},
		"google_pubsub_subscription_iam_member.cleanup_push_subscriber": {"subscription", "google_pubsub_subscription.cleanup_push.name"},
	} {
		r := ms.resource(t, addr)
		if got := ms.exprText(r.Body.Attributes[target[0]]); got != target[1] {
			t.Errorf("%s on %s, want %s", addr, got, target[1])
		}
		if got := ms.exprText(r.Body.Attributes["member"]); got != "local.pubsub_service_agent" {
			t.Errorf("%s member %s", addr, got)
		}
	}
	agent := ms.exprText(ms.locals["pubsub_service_agent"])
	if agent != `"serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"` {
		t.Errorf("Pub/Sub service agent = %s", agent)
	}
	wiring(t, "messaging", "cleanup_uri", `module.functions.uris["cleanup"]`)
	wiring(t, "messaging", "push_service_account_email", "module.iam.push_service_account_email")
	wiring(t, "messaging", "project_number", "local.project_number")
}

func TestTerraform_FrontendRoutesFromRouteRules(t *testing.T) {
	fe := moduleNamed(t, "frontend")
	um := fe.resource(t, "google_compute_url_map.main")
	pm := nestedBlocks(um, "path_matcher")
	if len(pm) != 1 {
		t.Fatalf("url map has %d path matchers, want 1", len(pm))
	}
	var dyn *hclsyntax.Block
	for _, b := range pm[0].Body.Blocks {
		if b.Type == "dynamic" && b.Labels[0] == "route_rules" {
			dyn = b
		}
	}
	if dyn == nil {
		t.Fatal("the path matcher has no dynamic route_rules")
	}
	if got := fe.exprText(dyn.Body.Attributes["for_each"]); got != "var.route_rules" {
		t.Errorf("route_rules for_each = %s", got)
	}
	content := firstBlock(dyn.Body, "content")
	for path, want := range map[string]string{
		"priority":                               "route_rules.value.priority",
		"service":                                "google_compute_backend_service.function[route_rules.value.function].id",
		"match_rules.prefix_match":               "route_rules.value.prefix",
		"match_rules.header_matches.header_name": `":method"`,
		"match_rules.header_matches.exact_match": "route_rules.value.method",
	} {
		if got := fe.exprText(nested(content, path)); got != want {
			t.Errorf("route rule %s = %q, want %q", path, got, want)
		}
	}
	wiring(t, "frontend", "route_rules", "module.routing.route_rules")
	wiring(t, "frontend", "default_function", "module.routing.default_function")
	for _, addr := range []string{"google_compute_backend_service.function", "google_compute_global_forwarding_rule.https", "google_compute_global_forwarding_rule.http"} {
		if got := literal(t, fe.resource(t, addr).Body.Attributes["load_balancing_scheme"]); got.AsString() != "EXTERNAL_MANAGED" {
			t.Errorf("%s: load_balancing_scheme %s", addr, got.AsString())
		}
	}
	for addr, want := range map[string]string{
		"google_compute_target_http_proxy.main":       "var.allow_plain_http ? 1 : 0",
		"google_compute_global_forwarding_rule.http":  "var.allow_plain_http ? 1 : 0",
		"google_compute_target_https_proxy.main":      "local.https_enabled ? 1 : 0",
		"google_compute_global_forwarding_rule.https": "local.https_enabled ? 1 : 0",
		"google_compute_managed_ssl_certificate.main": "local.https_enabled ? 1 : 0",
		"google_compute_ssl_policy.main":              "local.https_enabled ? 1 : 0",
		"google_compute_security_policy.edge":         "var.enable_cloud_armor ? 1 : 0",
	} {
		if got := fe.exprText(fe.resource(t, addr).Body.Attributes["count"]); got != want {
			t.Errorf("%s: count = %q, want %q", addr, got, want)
		}
	}
	if got := fe.variableDefault(t, "allow_plain_http"); !got.RawEquals(cty.False) {
		t.Error("plain HTTP must be off unless asked for")
	}
	for _, addr := range []string{"google_compute_region_network_endpoint_group.function", "google_compute_backend_service.function"} {
		if got := fe.exprText(fe.resource(t, addr).Body.Attributes["for_each"]); got != "var.public_functions" {
			t.Errorf("%s for_each = %s, want var.public_functions", addr, got)
		}
	}
}

// TestTerraform_FunctionsEnvironmentIsKnownToConfig: every STRATA_* variable the stack (so
// every environment) sets is one functions/internal/config reads (it refuses unknown ones at
// start up), and the generated set is accepted.
func TestTerraform_FunctionsEnvironmentIsKnownToConfig(t *testing.T) {
	known := config.Variables()
	m := stackModule(t)
	keys := objectKeys(m.locals["environment"].Expr)
	if len(keys) == 0 {
		t.Fatal("modules/strata: no STRATA_* keys in local.environment")
	}
	for _, k := range keys {
		if !slices.Contains(known, k) {
			t.Errorf("modules/strata sets %s, which functions/internal/config does not know: every function would refuse to start", k)
		}
	}
	wiring(t, "functions", "environment_variables", "local.environment")
	sample := map[string]string{
		"STRATA_STORAGE":                   "gcp",
		"STRATA_BIGTABLE_PROJECT":          "my-project",
		"STRATA_BIGTABLE_INSTANCE":         "strata-dev",
		"STRATA_BIGTABLE_TABLE":            "objectstore",
		"STRATA_BIGTABLE_CHANGELOG_TABLE":  "objectstore_changelog",
		"STRATA_GCS_BUCKET":                "my-project-strata-dev-data",
		"STRATA_CLEANUP_TOPIC":             "projects/my-project/topics/strata-dev-cleanup",
		"STRATA_AUTH_ENFORCE":              "true",
		"STRATA_LOG_LEVEL":                 "info",
		"STRATA_AUTH_KEYS":                 authKeysAsTerraformEncodesThem(t),
		"STRATA_PUSH_AUDIENCE":             "self",
		"STRATA_PUSH_SERVICE_ACCOUNT":      "strata-dev-push@my-project.iam.gserviceaccount.com",
		"STRATA_SCHEDULER_AUDIENCE":        "self",
		"STRATA_SCHEDULER_SERVICE_ACCOUNT": "strata-dev-scheduler@my-project.iam.gserviceaccount.com",
		"STRATA_TELEMETRY":                 "google",
		"STRATA_TRACE_SAMPLE_RATIO":        "0.01",
		"STRATA_CLEANUP_MAX_DELIVERIES":    "10",
	}
	// The functions module adds each function's memory model (its memory and concurrency).
	environ := []string{"STRATA_MEMORY_LIMIT=1Gi", "STRATA_REQUEST_CONCURRENCY=80"}
	for _, k := range keys {
		v, ok := sample[k]
		if !ok {
			t.Fatalf("no sample value for %s; add one", k)
		}
		environ = append(environ, k+"="+v)
	}
	if _, err := config.Load(environ); err != nil {
		t.Errorf("config rejects the environment Terraform sets: %v", err)
	}
}

// authKeysAsTerraformEncodesThem returns STRATA_AUTH_KEYS the way the stack builds it:
// jsonencode of the auth_keys variable, a map of {public_keys, max_permissions}.
func authKeysAsTerraformEncodesThem(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	key := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	b, err := json.Marshal(map[string]any{"relay": map[string]any{
		"max_permissions": []string{"object.read", "object.write", "object.delete"},
		"public_keys":     []string{key},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// The stack and the environments declare exactly these object attributes.
	for _, m := range []*tfModule{stackModule(t), envNamed(t, "dev"), envNamed(t, "prod")} {
		typ := m.exprText(m.variables["auth_keys"].Body.Attributes["type"])
		if !strings.Contains(typ, "public_keys = list(string)") || !strings.Contains(typ, "max_permissions = optional(list(string), [])") {
			t.Errorf("%s: auth_keys type %s no longer matches STRATA_AUTH_KEYS' fields", m.dir, typ)
		}
	}
	return string(b)
}

// planRouting runs init, validate and plan of the routing module offline on a copy, with
// routes as its input, and returns the planned outputs.
func planRouting(t *testing.T, routes []byte, extraVars ...string) (map[string]any, error) {
	t.Helper()
	dir := t.TempDir()
	src := terraformDir(t, "modules/routing")
	files, _ := filepath.Glob(filepath.Join(src, "*.tf"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vars, _ := json.Marshal(map[string]string{"routes_json": string(routes)})
	if err := os.WriteFile(filepath.Join(dir, "routes.auto.tfvars.json"), vars, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tf := offlineTerraform(t, dir)
	var stderr bytes.Buffer
	tf.SetStderr(&stderr)
	if err := tf.Init(ctx); err != nil {
		t.Fatalf("terraform init of the routing module (offline): %v", err)
	}
	val, err := tf.Validate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !val.Valid {
		t.Fatalf("terraform validate of the routing module: %+v", val.Diagnostics)
	}
	opts := []tfexec.PlanOption{tfexec.Out("routing.tfplan")}
	for _, v := range extraVars {
		opts = append(opts, tfexec.Var(v))
	}
	if _, err := tf.Plan(ctx, opts...); err != nil {
		return nil, fmt.Errorf("%w: %s", err, stderr.String())
	}
	plan, err := tf.ShowPlanFile(ctx, "routing.tfplan")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for name, o := range plan.PlannedValues.Outputs {
		out[name] = o.Value
	}
	return out, nil
}

func TestRoutingModule_PlanMatchesRouteTable(t *testing.T) {
	routes, err := httpapi.RoutesJSON()
	if err != nil {
		t.Fatal(err)
	}
	out, err := planRouting(t, routes)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	fns, _ := out["functions"].(map[string]any)
	var public, internal []string
	for _, f := range httpapi.Functions() {
		got, ok := fns[f.Name].(map[string]any)
		if !ok {
			t.Errorf("routing output lacks function %s", f.Name)
			continue
		}
		if got["entry_point"] != f.Name || got["exposure"] != string(f.Exposure) || got["public"] != (f.Exposure == httpapi.Public) {
			t.Errorf("function %s: %v", f.Name, got)
		}
		if got["deployed_name"] != "strata-"+f.Name {
			t.Errorf("function %s deployed as %v", f.Name, got["deployed_name"])
		}
		if f.Exposure == httpapi.Public {
			public = append(public, f.Name)
		} else {
			internal = append(internal, f.Name)
		}
	}
	if len(fns) != len(httpapi.Functions()) {
		t.Errorf("routing output has %d functions, the route table %d", len(fns), len(httpapi.Functions()))
	}
	slices.Sort(public)
	slices.Sort(internal)
	if got := toStrings(out["public_functions"]); !slices.Equal(got, public) {
		t.Errorf("public_functions %v, want %v", got, public)
	}
	if got := toStrings(out["internal_functions"]); !slices.Equal(got, internal) || !slices.Contains(got, httpapi.FnCleanup) || !slices.Contains(got, httpapi.FnRecover) {
		t.Errorf("internal_functions %v, want %v including cleanup and recover", got, internal)
	}
	rules, _ := out["route_rules"].([]any)
	want := httpapi.RouteRules()
	if len(rules) != len(want) || len(rules) == 0 {
		t.Fatalf("%d route rules, want %d", len(rules), len(want))
	}
	seen := map[float64]bool{}
	covered := map[string]bool{}
	for i, r := range rules {
		rule := r.(map[string]any)
		w := want[i]
		if rule["priority"] != float64(w.Priority) || rule["prefix"] != w.Prefix || rule["method"] != w.Method || rule["function"] != w.Function {
			t.Errorf("rule %d = %v, want %+v", i, rule, w)
		}
		p := rule["priority"].(float64)
		if seen[p] {
			t.Errorf("priority %v is used twice", p)
		}
		seen[p] = true
		covered[rule["function"].(string)] = true
	}
	for _, name := range public {
		if !covered[name] {
			t.Errorf("public function %s has no route rule", name)
		}
	}
	if out["default_function"] != httpapi.DefaultFunction {
		t.Errorf("default_function %v, want %s", out["default_function"], httpapi.DefaultFunction)
	}
}

func TestRoutingModule_LongAccountIDsStayValidAndUnique(t *testing.T) {
	routes, err := httpapi.RoutesJSON()
	if err != nil {
		t.Fatal(err)
	}
	out, err := planRouting(t, routes, "account_prefix=strata-prod-", "name_prefix=strata-prod-")
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	ids := map[string]bool{}
	for name, f := range out["functions"].(map[string]any) {
		id := f.(map[string]any)["account_id"].(string)
		if len(id) < 6 || len(id) > 30 || ids[id] {
			t.Errorf("function %s: account id %q is invalid or taken", name, id)
		}
		ids[id] = true
	}
}

// TestRoutingModule_RejectsBrokenRoutes: the module's preconditions fail a plan whose routes
// could not be deployed.
func TestRoutingModule_RejectsBrokenRoutes(t *testing.T) {
	base, err := httpapi.RoutesJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		mutate     func(doc map[string]any)
	}{
		{"duplicate priority", "priorities must be unique", func(doc map[string]any) {
			rules := doc["route_rules"].([]any)
			rules[1].(map[string]any)["priority"] = rules[0].(map[string]any)["priority"]
		}},
		{"rule to an internal function", "must send traffic to a public function", func(doc map[string]any) {
			doc["route_rules"].([]any)[0].(map[string]any)["function"] = httpapi.FnCleanup
		}},
		{"public function without rule", "needs at least one route rule", func(doc map[string]any) {
			doc["functions"] = append(doc["functions"].([]any), map[string]any{"name": "orphan", "exposure": "public", "methods": []any{"GET"}})
		}},
		{"internal default function", "default function must be a public function", func(doc map[string]any) {
			doc["default_function"] = httpapi.FnRecover
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(base, &doc); err != nil {
				t.Fatal(err)
			}
			tc.mutate(doc)
			b, _ := json.Marshal(doc)
			_, err := planRouting(t, b)
			if err == nil {
				t.Fatal("plan succeeded")
			}
			if !strings.Contains(strings.Join(strings.Fields(err.Error()), " "), tc.want) {
				t.Errorf("plan failed without %q: %v", tc.want, err)
			}
		})
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
