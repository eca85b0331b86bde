package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// tfModule is one Terraform module read twice: by terraform-config-inspect (versions,
// variables, resources, module calls) and by hcl/v2 (attribute expressions).
type tfModule struct {
	dir       string
	inspect   *tfconfig.Module
	files     map[string]*hclsyntax.Body // by file name
	src       map[string][]byte
	resources map[string]*hclsyntax.Block // "type.name"
	variables map[string]*hclsyntax.Block
	outputs   map[string]*hclsyntax.Block
	modules   map[string]*hclsyntax.Block
	locals    map[string]*hclsyntax.Attribute
	checks    map[string]*hclsyntax.Block
	data      []*hclsyntax.Block
}

// terraformDir returns <repo>/terraform/<rel>.
func terraformDir(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "terraform", filepath.FromSlash(rel))
}

var moduleCache = map[string]*tfModule{}

// loadModule reads every .tf file of dir; parse errors fail the test.
func loadModule(t *testing.T, dir string) *tfModule {
	t.Helper()
	if m, ok := moduleCache[dir]; ok {
		return m
	}
	insp, diags := tfconfig.LoadModule(dir)
	if diags.HasErrors() {
		t.Fatalf("terraform-config-inspect %s: %v", dir, diags.Err())
	}
	m := &tfModule{
		dir: dir, inspect: insp,
		files: map[string]*hclsyntax.Body{}, src: map[string][]byte{},
		resources: map[string]*hclsyntax.Block{}, variables: map[string]*hclsyntax.Block{},
		outputs: map[string]*hclsyntax.Block{}, modules: map[string]*hclsyntax.Block{},
		locals: map[string]*hclsyntax.Attribute{}, checks: map[string]*hclsyntax.Block{},
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .tf files in %s (%v)", dir, err)
	}
	parser := hclparse.NewParser()
	for _, p := range paths {
		f, diags := parser.ParseHCLFile(p)
		if diags.HasErrors() {
			t.Fatalf("parsing %s: %v", p, diags)
		}
		body := f.Body.(*hclsyntax.Body)
		name := filepath.Base(p)
		m.files[name] = body
		m.src[name] = f.Bytes
		for _, b := range body.Blocks {
			switch b.Type {
			case "resource":
				m.resources[b.Labels[0]+"."+b.Labels[1]] = b
			case "data":
				m.data = append(m.data, b)
			case "variable":
				m.variables[b.Labels[0]] = b
			case "output":
				m.outputs[b.Labels[0]] = b
			case "module":
				m.modules[b.Labels[0]] = b
			case "check":
				m.checks[b.Labels[0]] = b
			case "locals":
				for n, a := range b.Body.Attributes {
					m.locals[n] = a
				}
			}
		}
	}
	moduleCache[dir] = m
	return m
}

// resource returns the resource block "type.name" or fails.
func (m *tfModule) resource(t *testing.T, addr string) *hclsyntax.Block {
	t.Helper()
	b, ok := m.resources[addr]
	if !ok {
		t.Fatalf("%s: no resource %s (have %v)", m.dir, addr, sortedKeys(m.resources))
	}
	return b
}

// resourcesOfType returns the resources of one type, sorted by name.
func (m *tfModule) resourcesOfType(typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, addr := range sortedKeys(m.resources) {
		if strings.HasPrefix(addr, typ+".") {
			out = append(out, m.resources[addr])
		}
	}
	return out
}

// text returns the source text of a range of this module.
func (m *tfModule) text(r hcl.Range) string {
	return string(r.SliceBytes(m.src[filepath.Base(r.Filename)]))
}

// exprText returns an attribute's expression source, whitespace-normalised; "" if absent.
func (m *tfModule) exprText(a *hclsyntax.Attribute) string {
	if a == nil {
		return ""
	}
	return strings.Join(strings.Fields(m.text(a.Expr.Range())), " ")
}

// nested returns the attribute at path ("block.block.attr") inside b, following the first
// block of each type; nil if absent.
func nested(b *hclsyntax.Block, path string) *hclsyntax.Attribute {
	parts := strings.Split(path, ".")
	body := b.Body
	for _, p := range parts[:len(parts)-1] {
		next := firstBlock(body, p)
		if next == nil {
			return nil
		}
		body = next.Body
	}
	return body.Attributes[parts[len(parts)-1]]
}

// nestedBlocks returns every block at path ("block.block") inside b.
func nestedBlocks(b *hclsyntax.Block, path string) []*hclsyntax.Block {
	bodies := []*hclsyntax.Body{b.Body}
	var found []*hclsyntax.Block
	for _, p := range strings.Split(path, ".") {
		found = nil
		for _, body := range bodies {
			for _, c := range body.Blocks {
				if c.Type == p {
					found = append(found, c)
				}
			}
		}
		bodies = nil
		for _, f := range found {
			bodies = append(bodies, f.Body)
		}
	}
	return found
}

func firstBlock(body *hclsyntax.Body, typ string) *hclsyntax.Block {
	for _, c := range body.Blocks {
		if c.Type == typ {
			return c
		}
	}
	return nil
}

// literal evaluates a constant attribute; it fails the test when the expression refers to
// anything.
func literal(t *testing.T, a *hclsyntax.Attribute) cty.Value {
	t.Helper()
	if a == nil {
		t.Fatal("attribute missing")
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("%s: %s is not a literal: %v", a.SrcRange, a.Name, diags)
	}
	return v
}

// variableDefault returns the literal default of variable name.
func (m *tfModule) variableDefault(t *testing.T, name string) cty.Value {
	t.Helper()
	v, ok := m.variables[name]
	if !ok {
		t.Fatalf("%s: no variable %s", m.dir, name)
	}
	d, ok := v.Body.Attributes["default"]
	if !ok {
		t.Fatalf("%s: variable %s has no default", m.dir, name)
	}
	return literal(t, d)
}

// eval evaluates an expression with the given top-level variables (e.g. "each", "var").
func eval(t *testing.T, e hclsyntax.Expression, vars map[string]cty.Value) cty.Value {
	t.Helper()
	v, diags := e.Value(&hcl.EvalContext{Variables: vars})
	if diags.HasErrors() {
		t.Fatalf("%s: evaluating: %v", e.Range(), diags)
	}
	return v
}

// terraformFunctions are the few Terraform functions the evaluated expressions use.
var terraformFunctions = map[string]function.Function{
	"tonumber": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType}},
		Type:   function.StaticReturnType(cty.Number),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return convert.Convert(args[0], cty.Number)
		},
	}),
	"toset": function.New(&function.Spec{
		Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType}},
		Type: func(args []cty.Value) (cty.Type, error) {
			return cty.Set(cty.String), nil
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if args[0].LengthInt() == 0 {
				return cty.SetValEmpty(cty.String), nil
			}
			return convert.Convert(args[0], cty.Set(cty.String))
		},
	}),
}

// evalFunc evaluates an expression with the given variables and terraformFunctions.
func evalFunc(t *testing.T, e hclsyntax.Expression, vars map[string]cty.Value) cty.Value {
	t.Helper()
	v, diags := e.Value(&hcl.EvalContext{Variables: vars, Functions: terraformFunctions})
	if diags.HasErrors() {
		t.Fatalf("%s: evaluating: %v", e.Range(), diags)
	}
	return v
}

// objectKeys returns the literal keys of an object-constructor expression, descending into
// merge(...) arguments.
func objectKeys(e hclsyntax.Expression) []string {
	var keys []string
	switch x := e.(type) {
	case *hclsyntax.ObjectConsExpr:
		for _, it := range x.Items {
			if k, diags := it.KeyExpr.Value(nil); !diags.HasErrors() && k.Type() == cty.String {
				keys = append(keys, k.AsString())
			}
		}
	case *hclsyntax.FunctionCallExpr:
		for _, a := range x.Args {
			keys = append(keys, objectKeys(a)...)
		}
	case *hclsyntax.ConditionalExpr:
		keys = append(keys, objectKeys(x.TrueResult)...)
		keys = append(keys, objectKeys(x.FalseResult)...)
	}
	return keys
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// moduleDirs returns every module under terraform/modules and every environment.
func moduleDirs(t *testing.T) (modules, environments []string) {
	t.Helper()
	for _, kind := range []string{"modules", "environments"} {
		entries, err := os.ReadDir(terraformDir(t, kind))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			d := terraformDir(t, kind+"/"+e.Name())
			if kind == "modules" {
				modules = append(modules, d)
			} else {
				environments = append(environments, d)
			}
		}
	}
	slices.Sort(modules)
	slices.Sort(environments)
	if len(modules) == 0 || len(environments) == 0 {
		t.Fatal("no Terraform modules or environments found")
	}
	return modules, environments
}

// traversalRoots lists every variable traversal of every expression in a body, recursively,
// leaving out type constraints of variable blocks (which read like traversals) and moved
// blocks (whose from and to are resource addresses, not values; the environments' test of
// moved blocks checks those).
func traversalRoots(body *hclsyntax.Body) []hcl.Traversal {
	var out []hcl.Traversal
	for _, a := range body.Attributes {
		out = append(out, hclsyntax.Variables(a.Expr)...)
	}
	for _, b := range body.Blocks {
		if b.Type == "moved" {
			continue
		}
		if b.Type == "variable" {
			for name, a := range b.Body.Attributes {
				if name != "type" {
					out = append(out, hclsyntax.Variables(a.Expr)...)
				}
			}
			for _, v := range b.Body.Blocks {
				out = append(out, traversalRoots(v.Body)...)
			}
			continue
		}
		out = append(out, traversalRoots(b.Body)...)
	}
	return out
}

// dynamicIterators returns the iterator names of every dynamic block in body.
func dynamicIterators(body *hclsyntax.Body) []string {
	var names []string
	for _, b := range body.Blocks {
		if b.Type == "dynamic" {
			name := b.Labels[0]
			if it, ok := b.Body.Attributes["iterator"]; ok {
				name = hcl.ExprAsKeyword(it.Expr)
			}
			names = append(names, name)
		}
		names = append(names, dynamicIterators(b.Body)...)
	}
	return names
}
