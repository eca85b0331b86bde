package deploy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/stratastore/strata/functions/internal/httpapi"
	"github.com/stratastore/strata/tiered/gcsbackend"
)

// Where a function's grants apply. Each is one resource (or one condition on it); nothing is
// granted on the Bigtable instance, and on the project only the telemetry roles.
const (
	onObjectsTable   = "objects table"         // google_bigtable_table_iam_member.objects
	onChangeLogTable = "change-log table"      // google_bigtable_table_iam_member.changelog
	onEveryObject    = "data bucket"           // google_storage_bucket_iam_member.function, unconditioned
	onUploads        = "data bucket ~uploads/" // the same, conditioned on the ~uploads/ prefix
	onCleanupTopic   = "cleanup topic"         // google_pubsub_topic_iam_member.function_publisher
	onProject        = "project"               // google_project_iam_member.function_telemetry
	publishPerm      = "pubsub.topics.publish" // all roles/pubsub.publisher holds
	readRows         = "bigtable.tables.readRows"
	checkAndMutate   = "bigtable.tables.checkAndMutateRow"
	mutateRows       = "bigtable.tables.mutateRows"
	objectsGet       = "storage.objects.get"
	objectsUpdate    = "storage.objects.update"
	objectsCreate    = "storage.objects.create"
	objectsDelete    = "storage.objects.delete"
	objectsList      = "storage.objects.list"
	metricWriter     = "roles/monitoring.metricWriter" // monitoring.timeSeries.create (and descriptor reads)
	traceAgent       = "roles/cloudtrace.agent"        // cloudtrace.traces.patch
)

// telemetryNeeds is what every function needs on the project to export its telemetry: each
// one records strata.* metrics (requests, cold starts, or its own: cleanup, recovery) and
// traces through OpenTelemetry and, deployed, writes them to Cloud Monitoring and Cloud
// Trace as its own service account. Those APIs take writes per project only, so these are
// the one project-level grant of a function; they are predefined roles, compared by name.
var telemetryNeeds = []string{traceAgent, metricWriter}

// operationNeeds is what each function of the route table touches, read from the code, and so
// the most it may be granted (TestTerraform_LeastPrivilege also fails when a grant is
// narrower, since the function would then fail):
//
//   - objects table: every row read may bump a due TTI deadline (CheckAndMutateRow), and every
//     write of an object row is a CheckAndMutateRow (tiered/bigtablebackend/doc.go, "RPCs per
//     operation"); nothing writes object rows with a plain MutateRow.
//   - change-log table: Record, Update and Refresh are CheckAndMutateRow (+ ReadRows on a
//     mismatch), Get is ReadRows, Remove is MutateRow (tiered/change.go, tiered/recover.go).
//     Get and head log nothing; recover claims and rewrites entries but never removes one.
//   - data bucket: get reads metadata then media and PATCHes customTime for a TTI bump; a put
//     creates a fresh revision "{key}/{uuidv7}" and never overwrites; only cleanup deletes
//     revisions (tiered/change.go Cleanup); the multipart part operations touch only
//     "~uploads/{id}/..." (meta, parts, compose intermediates), whose listings always carry
//     that prefix; complete composes into the revision and heads it
//     (tiered/gcsbackend/doc.go, "Operations and their cost").
//   - cleanup topic: the operations that log a change dispatch its task when they end
//     (tiered/change.go), and recover dispatches what it claims; cleanup carries tasks out
//     and publishes none.
var operationNeeds = map[string]map[string][]string{
	// Listing makes a read of a missing object a 404 rather than a 403 (modules/iam/access.tf).
	httpapi.FnObjectGet:  {onObjectsTable: {readRows, checkAndMutate}, onEveryObject: {objectsGet, objectsUpdate, objectsList}},
	httpapi.FnObjectHead: {onObjectsTable: {readRows, checkAndMutate}, onEveryObject: {objectsGet, objectsUpdate, objectsList}},
	httpapi.FnObjectPut: {
		onObjectsTable: {readRows, checkAndMutate}, onChangeLogTable: {readRows, checkAndMutate, mutateRows},
		onEveryObject: {objectsCreate}, onCleanupTopic: {publishPerm},
	},
	httpapi.FnObjectPost: {
		onObjectsTable: {readRows, checkAndMutate}, onChangeLogTable: {readRows, checkAndMutate, mutateRows},
		onEveryObject: {objectsCreate}, onCleanupTopic: {publishPerm},
	},
	httpapi.FnObjectDelete: {
		onObjectsTable: {readRows, checkAndMutate}, onChangeLogTable: {readRows, checkAndMutate, mutateRows},
		onCleanupTopic: {publishPerm},
	},
	// A batch runs gets, heads, puts and deletes.
	httpapi.FnBatch: {
		onObjectsTable: {readRows, checkAndMutate}, onChangeLogTable: {readRows, checkAndMutate, mutateRows},
		onEveryObject: {objectsGet, objectsUpdate, objectsCreate, objectsList}, onCleanupTopic: {publishPerm},
	},
	httpapi.FnMultipartInitiate: {onUploads: {objectsCreate}},
	// A part uploaded again replaces the earlier one: an overwrite needs delete.
	httpapi.FnMultipartPart:  {onUploads: {objectsGet, objectsCreate, objectsDelete}},
	httpapi.FnMultipartList:  {onUploads: {objectsGet, objectsList}},
	httpapi.FnMultipartAbort: {onUploads: {objectsGet, objectsList, objectsDelete}},
	httpapi.FnMultipartComplete: {
		onObjectsTable: {readRows, checkAndMutate}, onChangeLogTable: {readRows, checkAndMutate, mutateRows},
		onEveryObject: {objectsGet, objectsCreate, objectsList}, onUploads: {objectsList, objectsDelete},
		onCleanupTopic: {publishPerm},
	},
	// Settling reads the row (a TTI bump there is refused and logged, by design); deleting a
	// revision, and aborting a leftover upload (meta read, listing, deletes).
	httpapi.FnCleanup: {
		onObjectsTable: {readRows}, onChangeLogTable: {readRows, checkAndMutate, mutateRows},
		onEveryObject: {objectsDelete, objectsList}, onUploads: {objectsGet, objectsList},
	},
	httpapi.FnRecover: {onChangeLogTable: {readRows, checkAndMutate}, onCleanupTopic: {publishPerm}},
}

// accessLine is one function's line of local.access in modules/iam/access.tf.
type accessLine struct {
	objectsTable, changelogTable string // custom role keys, "" for none
	objects, uploads             []string
	publish, telemetry           bool
}

// iamAccess reads local.access and local.custom_roles of modules/iam; both must be literals.
func iamAccess(t *testing.T) (map[string]accessLine, map[string][]string) {
	t.Helper()
	iam := moduleNamed(t, "iam")
	for _, name := range []string{"access", "custom_roles"} {
		if iam.locals[name] == nil {
			t.Fatalf("modules/iam: no local.%s", name)
		}
	}
	roles := map[string][]string{}
	if iam.locals["telemetry_roles"] == nil {
		t.Fatal("modules/iam: no local.telemetry_roles")
	}
	roles[onProject] = ctyStrings(literal(t, iam.locals["telemetry_roles"]))
	for k, v := range literal(t, iam.locals["custom_roles"]).AsValueMap() {
		roles[k] = ctyStrings(v.GetAttr("permissions"))
	}
	access := map[string]accessLine{}
	for fn, v := range literal(t, iam.locals["access"]).AsValueMap() {
		str := func(attr string) string {
			if a := v.GetAttr(attr); !a.IsNull() {
				return a.AsString()
			}
			return ""
		}
		access[fn] = accessLine{
			objectsTable: str("objects_table"), changelogTable: str("changelog_table"),
			objects: ctyStrings(v.GetAttr("objects")), uploads: ctyStrings(v.GetAttr("uploads")),
			publish: v.GetAttr("publish").True(), telemetry: v.GetAttr("telemetry").True(),
		}
	}
	return access, roles
}

func ctyStrings(v cty.Value) []string {
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	return out
}

// granted is what local.access gives each function: scope => sorted permissions.
func granted(t *testing.T, access map[string]accessLine, roles map[string][]string) map[string]map[string][]string {
	t.Helper()
	perms := func(fn string, keys ...string) []string {
		var out []string
		for _, k := range keys {
			if k == "" {
				continue
			}
			p, ok := roles[k]
			if !ok {
				t.Errorf("local.access[%q] uses role %q, which local.custom_roles does not define", fn, k)
			}
			out = append(out, p...)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	got := map[string]map[string][]string{}
	for fn, a := range access {
		g := map[string][]string{
			onObjectsTable:   perms(fn, a.objectsTable),
			onChangeLogTable: perms(fn, a.changelogTable),
			onEveryObject:    perms(fn, a.objects...),
			onUploads:        perms(fn, a.uploads...),
		}
		if a.publish {
			g[onCleanupTopic] = []string{publishPerm}
		}
		if a.telemetry {
			g[onProject] = slices.Sorted(slices.Values(roles[onProject]))
		}
		for k, v := range g {
			if len(v) == 0 {
				delete(g, k)
			}
		}
		got[fn] = g
	}
	return got
}

// TestTerraform_LeastPrivilege: every function is granted exactly what its operation needs
// (operationNeeds), on single resources, through custom roles that hold only data-plane
// permissions; nothing is granted on the Bigtable instance, the project (except the build
// role) or the bucket as a whole beyond objects.
func TestTerraform_LeastPrivilege(t *testing.T) {
	access, roles := iamAccess(t)
	got := granted(t, access, roles)
	for _, f := range httpapi.Functions() {
		if _, ok := operationNeeds[f.Name]; !ok {
			t.Errorf("function %s is in the route table but not in operationNeeds: read what its operation touches and add it", f.Name)
		}
		if _, ok := access[f.Name]; !ok {
			t.Errorf("function %s is in the route table but has no line in local.access (modules/iam/access.tf)", f.Name)
		}
	}
	for fn := range access {
		if !httpapi.IsFunction(fn) {
			t.Errorf("local.access has a line for %s, which the route table does not deploy", fn)
		}
	}
	for _, fn := range sortedKeys(operationNeeds) {
		need := map[string][]string{onProject: telemetryNeeds}
		for scope, ps := range operationNeeds[fn] {
			need[scope] = ps
		}
		have := got[fn]
		for _, scope := range []string{onObjectsTable, onChangeLogTable, onEveryObject, onUploads, onCleanupTopic, onProject} {
			want := slices.Sorted(slices.Values(need[scope]))
			if extra := minus(have[scope], want); len(extra) > 0 {
				t.Errorf("%s is granted %v on the %s: wider than its operation needs (%v)", fn, extra, scope, want)
			}
			if missing := minus(want, have[scope]); len(missing) > 0 {
				t.Errorf("%s lacks %v on the %s, which its operation needs: it would fail", fn, missing, scope)
			}
		}
	}
	// Custom roles hold data-plane permissions only, each one some operation needs.
	needed := map[string]bool{}
	for _, scopes := range operationNeeds {
		for _, ps := range scopes {
			for _, p := range ps {
				needed[p] = true
			}
		}
	}
	for name, ps := range roles {
		if name == onProject {
			continue // the telemetry roles, compared above
		}
		for _, p := range ps {
			if !needed[p] {
				t.Errorf("custom role %s holds %s, which no operation needs", name, p)
			}
		}
	}
	checkGrantResources(t, access)
	checkNoWideGrants(t)
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// checkGrantResources: the grant resources of modules/iam carry out local.access faithfully.
// It evaluates the locals they iterate over (with the route table's functions) and reads how
// each resource uses them.
func checkGrantResources(t *testing.T, access map[string]accessLine) {
	t.Helper()
	iam := moduleNamed(t, "iam")
	accessVal := literal(t, iam.locals["access"])
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var": cty.ObjectVal(map[string]cty.Value{
				"functions":      cty.ObjectVal(routeFunctions()),
				"data_bucket":    cty.StringVal("b"),
				"account_prefix": cty.StringVal("strata-"),
			}),
			"local": cty.ObjectVal(map[string]cty.Value{"access": accessVal, "telemetry_roles": literal(t, iam.locals["telemetry_roles"])}),
		},
		Functions: map[string]function.Function{
			"flatten": stdlib.FlattenFunc, "merge": stdlib.MergeFunc, "toset": terraformFunctions["toset"],
			"keys": stdlib.KeysFunc, "contains": stdlib.ContainsFunc, "replace": stdlib.ReplaceFunc,
			"setproduct": stdlib.SetProductFunc,
		},
	}
	evalLocal := func(name string) cty.Value {
		a := iam.locals[name]
		if a == nil {
			t.Fatalf("modules/iam: no local.%s", name)
		}
		v, diags := a.Expr.Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("modules/iam: local.%s: %v", name, diags)
		}
		return v
	}
	want := map[string]string{}
	for fn, a := range access {
		if a.objectsTable != "" {
			want[fn] = a.objectsTable
		}
	}
	checkMap(t, "local.objects_table_grants", evalLocal("objects_table_grants"), want)
	want = map[string]string{}
	for fn, a := range access {
		if a.changelogTable != "" {
			want[fn] = a.changelogTable
		}
	}
	checkMap(t, "local.changelog_table_grants", evalLocal("changelog_table_grants"), want)
	want = map[string]string{}
	for fn, a := range access {
		for _, r := range a.objects {
			want[fn+"/"+r] = fmt.Sprintf("%s %s everywhere", fn, r)
		}
		for _, r := range a.uploads {
			want[fn+"/"+r+"/uploads"] = fmt.Sprintf("%s %s uploads", fn, r)
		}
	}
	bucket := map[string]string{}
	for k, v := range evalLocal("bucket_grants").AsValueMap() {
		where := "everywhere"
		if v.GetAttr("uploads_only").True() {
			where = "uploads"
		}
		bucket[k] = fmt.Sprintf("%s %s %s", v.GetAttr("function").AsString(), v.GetAttr("role").AsString(), where)
	}
	checkMapStrings(t, "local.bucket_grants", bucket, want)
	var pubs []string
	for it := evalLocal("publishers").ElementIterator(); it.Next(); {
		_, v := it.Element()
		pubs = append(pubs, v.AsString())
	}
	var wantPubs []string
	for fn, a := range access {
		if a.publish {
			wantPubs = append(wantPubs, fn)
		}
	}
	sort.Strings(pubs)
	sort.Strings(wantPubs)
	if !slices.Equal(pubs, wantPubs) {
		t.Errorf("local.publishers = %v, want %v", pubs, wantPubs)
	}
	telemetry := map[string]string{}
	for k, v := range evalLocal("telemetry_grants").AsValueMap() {
		telemetry[k] = v.GetAttr("function").AsString() + " " + v.GetAttr("role").AsString()
	}
	want = map[string]string{}
	for fn, a := range access {
		if a.telemetry {
			for _, r := range telemetryNeeds {
				want[fn+"/"+r] = fn + " " + r
			}
		}
	}
	checkMapStrings(t, "local.telemetry_grants", telemetry, want)
	cond := evalLocal("uploads_condition").AsString()
	for _, s := range []string{`"projects/_/buckets/b/objects/` + gcsbackend.UploadsPrefix + `"`, `api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("` + gcsbackend.UploadsPrefix + `")`} {
		if !strings.Contains(cond, s) {
			t.Errorf("local.uploads_condition = %s; it must contain %s", cond, s)
		}
	}

	for addr, attrs := range map[string]map[string]string{
		"google_project_iam_custom_role.strata": {"for_each": "local.custom_roles", "permissions": "each.value.permissions", "project": "var.project_id"},
		"google_bigtable_table_iam_member.objects": {
			"for_each": "local.objects_table_grants", "instance_name": "var.bigtable_instance", "table": "var.objects_table",
			"role": "google_project_iam_custom_role.strata[each.value].id", "member": "google_service_account.function[each.key].member",
		},
		"google_bigtable_table_iam_member.changelog": {
			"for_each": "local.changelog_table_grants", "instance_name": "var.bigtable_instance", "table": "var.changelog_table",
			"role": "google_project_iam_custom_role.strata[each.value].id", "member": "google_service_account.function[each.key].member",
		},
		"google_storage_bucket_iam_member.function": {
			"for_each": "local.bucket_grants", "bucket": "var.data_bucket",
			"role": "google_project_iam_custom_role.strata[each.value.role].id", "member": "google_service_account.function[each.value.function].member",
		},
		"google_project_iam_member.function_telemetry": {
			"for_each": "local.telemetry_grants", "project": "var.project_id", "role": "each.value.role",
			"member": "google_service_account.function[each.value.function].member",
		},
		"google_pubsub_topic_iam_member.function_publisher": {
			"for_each": "local.publishers", "topic": "var.cleanup_topic", "role": `"roles/pubsub.publisher"`,
			"member": "google_service_account.function[each.key].member",
		},
	} {
		r := iam.resource(t, addr)
		for attr, want := range attrs {
			if got := iam.exprText(r.Body.Attributes[attr]); got != want {
				t.Errorf("modules/iam %s: %s = %q, want %q", addr, attr, got, want)
			}
		}
	}
	b := iam.resource(t, "google_storage_bucket_iam_member.function")
	var cond2 = ""
	for _, d := range b.Body.Blocks {
		if d.Type == "dynamic" && d.Labels[0] == "condition" {
			if got := iam.exprText(d.Body.Attributes["for_each"]); got != "each.value.uploads_only ? [1] : []" {
				t.Errorf("bucket grant condition for_each = %q", got)
			}
			cond2 = iam.exprText(nested(firstBlock(d.Body, "content"), "expression"))
		}
	}
	if cond2 != "local.uploads_condition" {
		t.Errorf("bucket grants under ~uploads/ must carry local.uploads_condition; the condition expression is %q", cond2)
	}
	wiring(t, "iam", "objects_table", "module.storage.objects_table")
	wiring(t, "iam", "changelog_table", "module.storage.changelog_table")
	wiring(t, "iam", "data_bucket", "module.storage.bucket")
	wiring(t, "iam", "cleanup_topic", "module.messaging.cleanup_topic")
	wiring(t, "iam", "functions", "module.routing.functions")
}

func checkMap(t *testing.T, what string, v cty.Value, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for k, e := range v.AsValueMap() {
		got[k] = e.AsString()
	}
	checkMapStrings(t, what, got, want)
}

func checkMapStrings(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for _, k := range sortedKeys(want) {
		if got[k] != want[k] {
			t.Errorf("%s[%q] = %q, want %q", what, k, got[k], want[k])
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s has %q = %q, which local.access does not grant", what, k, got[k])
		}
	}
}

// checkNoWideGrants: across every module and environment, no IAM resource is on the
// project, folder, organisation or Bigtable instance (except the build account's builder
// role and the functions' telemetry roles, local.telemetry_roles), none replaces a policy or a binding wholesale, and no function grant uses a
// predefined role.
func checkNoWideGrants(t *testing.T) {
	t.Helper()
	modules, envs := moduleDirs(t)
	for _, dir := range append(modules, envs...) {
		m := loadModule(t, dir)
		for addr, r := range m.resources {
			typ := strings.SplitN(addr, ".", 2)[0]
			if !strings.Contains(typ, "_iam_") || typ == "google_project_iam_custom_role" {
				continue
			}
			switch {
			case !strings.HasSuffix(typ, "_iam_member"):
				t.Errorf("%s: %s replaces a policy or binding wholesale; use _iam_member", dir, addr)
			case strings.HasPrefix(typ, "google_project_iam") || strings.HasPrefix(typ, "google_folder_iam") || strings.HasPrefix(typ, "google_organization_iam"):
				telemetry := addr == "google_project_iam_member.function_telemetry" && m.exprText(r.Body.Attributes["role"]) == "each.value.role" &&
					slices.Equal(slices.Sorted(slices.Values(ctyStrings(literal(t, m.locals["telemetry_roles"])))), telemetryNeeds)
				build := addr == "google_project_iam_member.build_builder" && m.exprText(r.Body.Attributes["role"]) == `"roles/cloudbuild.builds.builder"`
				if !telemetry && !build {
					t.Errorf("%s: %s grants %s on the whole project", dir, addr, m.exprText(r.Body.Attributes["role"]))
				}
			case strings.HasPrefix(typ, "google_bigtable_instance_iam"):
				t.Errorf("%s: %s grants on the whole Bigtable instance; grant on a table", dir, addr)
			}
		}
	}
	iam := moduleNamed(t, "iam")
	for addr, r := range iam.resources {
		role := iam.exprText(r.Body.Attributes["role"])
		if strings.Contains(addr, "_iam_member") && strings.HasPrefix(role, `"roles/`) &&
			!slices.Contains([]string{`"roles/pubsub.publisher"`, `"roles/run.invoker"`, `"roles/cloudbuild.builds.builder"`}, role) {
			t.Errorf("modules/iam %s grants the predefined role %s; use a custom role from local.custom_roles", addr, role)
		}
	}
}
