package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/stratastore/strata/functions/internal/httpapi"
)

// The environments cannot be validated or planned here: the google provider cannot be
// downloaded. mockTree rewrites a copy of terraform/ so that every google_* resource becomes
// a call of one mock module whose computed attributes stay unknown until apply, like the
// provider's; everything else (variables and their validations, locals, module wiring and
// types, for_each keys, preconditions, checks, moved blocks, the dependency graph) is
// Terraform's own and is planned for real, offline, with exactly the reviewer's command line.
//
// The environments keep their state in GCS (backend.tf). The copy keeps that backend block
// and adds backendOverride to each environment, as scripts/tf-plan-real.sh does: init
// -backend=false would leave the backend uninitialised, and plan then fails.

// mockModule stands in for every google_* resource. It accepts the resource's arguments
// (nested blocks as lists of objects), records them as its terraform_data's input (so a test
// can read from the plan what a resource would be given: mockArgs), and exposes the computed
// attributes the configuration reads; a reference to any other attribute fails the plan, so
// extend this list (with the provider's real attribute names) when the configuration starts
// reading a new one.
const mockModule = `variable "args" {
  type = any
}

resource "terraform_data" "computed" {
  input = var.args
}

locals {
  unknown = terraform_data.computed.id
}

output "id" {
  value = local.unknown
}

output "name" {
  value = try(var.args.name, local.unknown)
}

output "email" {
  value = "${local.unknown}@mock.iam.gserviceaccount.com"
}

output "member" {
  value = "serviceAccount:${local.unknown}@mock.iam.gserviceaccount.com"
}

output "project_number" {
  value = length(local.unknown)
}

output "service_id" {
  value = try(var.args.service_id, local.unknown)
}

output "address" {
  value = local.unknown
}

output "service_config" {
  value = [{ uri = "https://${local.unknown}.a.run.app" }]
}
`

// backendOverride swaps an environment's GCS backend for a local one in an offline copy.
const backendOverride = `terraform {
  backend "local" {}
}
`

var googleRef = regexp.MustCompile(`\b(google_[a-z0-9_]+)\.([a-z0-9_]+)\b`)

// rewriteRefs turns google_T.N references into module.google_T__N.
func rewriteRefs(s string) string {
	return googleRef.ReplaceAllString(s, "module.${1}__${2}")
}

// mockTree copies terraform/ into a temporary directory with every google_* resource replaced
// by a mock module call, and returns the copy's terraform/ directory.
func mockTree(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "terraform")
	if err := os.MkdirAll(filepath.Join(dst, "mock"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "mock", "main.tf"), []byte(mockModule), 0o644); err != nil {
		t.Fatal(err)
	}
	modules, envs := moduleDirs(t)
	for _, dir := range append(modules, envs...) {
		rel, _ := filepath.Rel(terraformDir(t, ""), dir)
		out := filepath.Join(dst, rel)
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(envs, dir) {
			if err := os.WriteFile(filepath.Join(out, "backend_override.tf"), []byte(backendOverride), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(e.Name(), ".tf") {
				b = mockFile(t, loadModule(t, dir), e.Name())
			}
			if err := os.WriteFile(filepath.Join(out, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dst
}

// mockFile renders one .tf file of m with its resources mocked.
func mockFile(t *testing.T, m *tfModule, name string) []byte {
	t.Helper()
	body := m.files[name]
	var b bytes.Buffer
	for _, blk := range body.Blocks {
		switch {
		case blk.Type == "provider":
			// The mock needs no provider configuration.
		case blk.Type == "terraform":
			// Keep the version constraint and the backend; drop required_providers.
			var inner []string
			if rv := blk.Body.Attributes["required_version"]; rv != nil {
				inner = append(inner, "  required_version = "+m.text(rv.Expr.Range()))
			}
			for _, be := range nestedBlocks(blk, "backend") {
				inner = append(inner, "  "+m.text(be.Range()))
			}
			if len(inner) > 0 {
				fmt.Fprintf(&b, "terraform {\n%s\n}\n\n", strings.Join(inner, "\n"))
			}
		case blk.Type == "resource" && strings.HasPrefix(blk.Labels[0], "google_"):
			fmt.Fprintf(&b, "module %q {\n  source = \"../../mock\"\n", blk.Labels[0]+"__"+blk.Labels[1])
			for _, meta := range []string{"count", "for_each", "depends_on"} {
				if a := blk.Body.Attributes[meta]; a != nil {
					fmt.Fprintf(&b, "  %s = %s\n", meta, rewriteRefs(m.text(a.Expr.Range())))
				}
			}
			fmt.Fprintf(&b, "  args = %s\n}\n\n", mockBody(m, blk.Body, map[string]bool{"count": true, "for_each": true, "depends_on": true, "provider": true}))
		case blk.Type == "resource":
			t.Fatalf("%s: resource type %s is neither google_* nor mockable", blk.DefRange(), blk.Labels[0])
		default:
			b.WriteString(rewriteRefs(m.text(blk.Range())))
			b.WriteString("\n\n")
		}
	}
	return b.Bytes()
}

// mockBody renders a resource body as an object expression: attributes as they are (with
// references rewritten), nested blocks as lists of objects, dynamic blocks as for
// expressions whose iterator carries key and value, lifecycle blocks dropped.
func mockBody(m *tfModule, body *hclsyntax.Body, skip map[string]bool) string {
	var parts []string
	attrs := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].SrcRange.Start.Byte < attrs[j].SrcRange.Start.Byte })
	for _, a := range attrs {
		if !skip[a.Name] {
			parts = append(parts, fmt.Sprintf("%s = %s", a.Name, rewriteRefs(m.text(a.Expr.Range()))))
		}
	}
	groups := map[string][]string{}
	var order []string
	for _, blk := range body.Blocks {
		typ := blk.Type
		var item string
		switch typ {
		case "lifecycle", "provisioner", "connection":
			continue
		case "dynamic":
			typ = blk.Labels[0]
			iter := typ
			forEach := rewriteRefs(m.text(blk.Body.Attributes["for_each"].Expr.Range()))
			content := firstBlock(blk.Body, "content")
			item = fmt.Sprintf("[for %s in [for k, v in %s : { key = k, value = v }] : %s]", iter, forEach, mockBody(m, content.Body, nil))
		default:
			item = "[" + mockBody(m, blk.Body, nil) + "]"
		}
		if _, seen := groups[typ]; !seen {
			order = append(order, typ)
		}
		groups[typ] = append(groups[typ], item)
	}
	for _, typ := range order {
		if len(groups[typ]) == 1 {
			parts = append(parts, fmt.Sprintf("%s = %s", typ, groups[typ][0]))
		} else {
			parts = append(parts, fmt.Sprintf("%s = concat(%s)", typ, strings.Join(groups[typ], ", ")))
		}
	}
	return "{\n" + strings.Join(parts, "\n") + "\n}"
}

// TestEnvironments_PlanWithMockProvider runs, in every environment of the mocked copy,
// exactly what a reviewer runs: terraform init, terraform validate, and terraform plan
// -refresh=false -var project_id=x -var region=y, without a built zip.
func TestEnvironments_PlanWithMockProvider(t *testing.T) {
	tree := mockTree(t)
	for _, env := range environments {
		t.Run(env, func(t *testing.T) {
			dir := filepath.Join(tree, "environments", env)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			tf := offlineTerraform(t, dir)
			var stderr bytes.Buffer
			tf.SetStderr(&stderr)
			if err := tf.Init(ctx); err != nil {
				t.Fatalf("init: %v\n%s", err, stderr.String())
			}
			val, err := tf.Validate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !val.Valid {
				t.Fatalf("validate: %+v", val.Diagnostics)
			}
			var stdout bytes.Buffer
			tf.SetStdout(&stdout)
			_, err = tf.Plan(ctx, tfexec.Refresh(false), tfexec.Var("project_id=x"), tfexec.Var("region=y"),
				tfexec.Var("source_archive_path="+filepath.Join(t.TempDir(), "not-built.zip")), tfexec.Out("mock.tfplan"))
			if err != nil {
				t.Fatalf("plan -refresh=false -var project_id=x -var region=y: %v\n%s\n%s", err, stderr.String(), stdout.String())
			}
			// Without a zip the plan still works, but says that apply needs one.
			if !strings.Contains(stdout.String(), "make package") {
				t.Errorf("the plan does not warn that the source zip is missing:\n%s", stdout.String())
			}
			plan, err := tf.ShowPlanFile(ctx, "mock.tfplan")
			if err != nil {
				t.Fatal(err)
			}
			functions := 0
			for _, rc := range plan.ResourceChanges {
				if strings.HasPrefix(rc.Address, "module.strata.module.functions.module.google_cloudfunctions2_function__function[") && rc.Type == "terraform_data" {
					functions++
				}
			}
			if want := len(httpapi.Functions()); functions != want {
				t.Errorf("the plan deploys %d functions, the route table has %d", functions, want)
			}
			t.Logf("environment %s: %d resource changes planned with the mock provider", env, len(plan.ResourceChanges))
		})
	}
}

// TestEnvironments_MovedBlocksCarryStateFromBeforeTheStack: a deployment made when the
// environments declared the stack themselves has state at module.storage, ..., and
// google_project_service.required, and its storage had no count. The environments' moved
// blocks and those of modules/storage must carry all of it to module.strata.… so that plan
// changes nothing. On the mocked copy: apply, rewrite the state to the old addresses (drop
// the module.strata. prefix and the storage's [0]), and plan again.
func TestEnvironments_MovedBlocksCarryStateFromBeforeTheStack(t *testing.T) {
	tree := mockTree(t)
	for _, env := range environments {
		t.Run(env, func(t *testing.T) {
			dir := filepath.Join(tree, "environments", env)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			tf := offlineTerraform(t, dir)
			var stderr bytes.Buffer
			tf.SetStderr(&stderr)
			vars := []string{"project_id=x", "region=y", "source_archive_path=" + filepath.Join(t.TempDir(), "not-built.zip")}
			if err := tf.Init(ctx); err != nil {
				t.Fatalf("init: %v\n%s", err, stderr.String())
			}
			var applyOpts []tfexec.ApplyOption
			for _, v := range vars {
				applyOpts = append(applyOpts, tfexec.Var(v))
			}
			if err := tf.Apply(ctx, applyOpts...); err != nil {
				t.Fatalf("apply: %v\n%s", err, stderr.String())
			}
			unmoveState(t, filepath.Join(dir, "terraform.tfstate"))
			planOpts := []tfexec.PlanOption{tfexec.Out("moved.tfplan")}
			for _, v := range vars {
				planOpts = append(planOpts, tfexec.Var(v))
			}
			if _, err := tf.Plan(ctx, planOpts...); err != nil {
				t.Fatalf("plan: %v\n%s", err, stderr.String())
			}
			plan, err := tf.ShowPlanFile(ctx, "moved.tfplan")
			if err != nil {
				t.Fatal(err)
			}
			moved, later := 0, 0
			for _, rc := range plan.ResourceChanges {
				if !rc.Change.Actions.NoOp() {
					t.Errorf("%s: %v (previously %q)", rc.Address, rc.Change.Actions, rc.PreviousAddress)
				}
				switch {
				case rc.PreviousAddress != "":
					moved++
				case addedAfterTheStack(rc.Address):
					later++
				}
			}
			if moved == 0 || moved+later != len(plan.ResourceChanges) {
				t.Errorf("%d of %d resources moved (%d added after the stack stay where they are)", moved, len(plan.ResourceChanges), later)
			}
			t.Logf("environment %s: %d resources moved into module.strata, none changed", env, moved)
		})
	}
}

// addedAfterTheStack reports whether a state address belongs to one of
// modulesAddedAfterTheStack, which never had an address outside module.strata.
func addedAfterTheStack(addr string) bool {
	for _, m := range modulesAddedAfterTheStack {
		if strings.HasPrefix(addr, "module.strata.module."+m+".") {
			return true
		}
	}
	return false
}

// unmoveState rewrites a local state file as if the stack's resources were declared in the
// environment itself (those of modulesAddedAfterTheStack stay where they are, as if created
// after the move): every other resource under module.strata loses that prefix, and the shared
// storage (sharedStorage) loses its index [0], as before the cutover variables gave it a
// count (modules/storage/moved.tf moves it back).
func unmoveState(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]any
	if err := json.Unmarshal(b, &state); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range state["resources"].([]any) {
		res := r.(map[string]any)
		mod, _ := res["module"].(string)
		switch {
		case mod == "module.strata":
			delete(res, "module")
		case addedAfterTheStack(mod + "."):
			// Created after the move; it stays.
		case strings.HasPrefix(mod, "module.strata."):
			// Before the existing_* variables the shared storage had no count.
			mod = strings.TrimPrefix(mod, "module.strata.")
			for _, s := range sharedStorage {
				if short := strings.TrimPrefix(s, "module.strata."); mod == short+"[0]" {
					mod = short
				}
			}
			res["module"] = mod
		default:
			t.Fatalf("resource outside module.strata in state: %v", res)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no resources in state")
	}
	delete(state, "check_results")
	state["serial"] = state["serial"].(float64) + 1
	if b, err = json.Marshal(state); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
