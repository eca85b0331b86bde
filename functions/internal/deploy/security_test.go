package deploy

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/zclconf/go-cty/cty"

	"github.com/stratastore/strata/functions/internal/httpapi"
)

// Secure by default: TLS policy, Cloud Armor, load-balancer logging and the insecure opt-ins.
// README.md (Security) lists the defaults these tests hold.

// TestTerraform_HTTPSProxyHasModernTLSPolicy: the HTTPS proxy carries an SSL policy with
// TLS 1.2 or newer and the MODERN (default) or RESTRICTED profile.
func TestTerraform_HTTPSProxyHasModernTLSPolicy(t *testing.T) {
	fe := moduleNamed(t, "frontend")
	pol := fe.resource(t, "google_compute_ssl_policy.main")
	if got := literal(t, pol.Body.Attributes["min_tls_version"]).AsString(); got != "TLS_1_2" {
		t.Errorf("ssl policy min_tls_version = %s, want TLS_1_2", got)
	}
	if got := fe.exprText(pol.Body.Attributes["profile"]); got != "var.ssl_policy_profile" {
		t.Errorf("ssl policy profile = %s, want var.ssl_policy_profile", got)
	}
	if got := fe.variableDefault(t, "ssl_policy_profile").AsString(); got != "MODERN" {
		t.Errorf("ssl_policy_profile defaults to %s, want MODERN", got)
	}
	v := fe.variables["ssl_policy_profile"]
	if got := fe.exprText(nested(v, "validation.condition")); got != `contains(["MODERN", "RESTRICTED"], var.ssl_policy_profile)` {
		t.Errorf("ssl_policy_profile validation = %s; only MODERN and RESTRICTED refuse TLS 1.0-era ciphers", got)
	}
	proxy := fe.resource(t, "google_compute_target_https_proxy.main")
	if got := fe.exprText(proxy.Body.Attributes["ssl_policy"]); got != "google_compute_ssl_policy.main[0].id" {
		t.Errorf("https proxy ssl_policy = %q, want google_compute_ssl_policy.main[0].id", got)
	}
}

// bodyFunctions are the functions whose request body is object bytes.
var bodyFunctions = []string{httpapi.FnObjectPut, httpapi.FnObjectPost, httpapi.FnBatch, httpapi.FnMultipartPart}

// TestTerraform_CloudArmorWAFSparesObjectBodies: with Cloud Armor on, every backend gets the
// policy; its preconfigured WAF rules (at least SQLi, XSS, LFI, RCE, protocol attacks, at the
// lowest sensitivity) run before the per-IP rate limit, and skip exactly the requests of the
// route table whose body is object bytes.
func TestTerraform_CloudArmorWAFSparesObjectBodies(t *testing.T) {
	fe := moduleNamed(t, "frontend")
	sets := ctyStrings(fe.variableDefault(t, "waf_rule_sets"))
	for _, want := range []string{"sqli-", "xss-", "lfi-", "rce-", "protocolattack-"} {
		if !slices.ContainsFunc(sets, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("waf_rule_sets %v lacks %s*", sets, want)
		}
	}
	if got := fe.variableDefault(t, "waf_sensitivity"); !got.RawEquals(cty.NumberIntVal(1)) {
		t.Errorf("waf_sensitivity defaults to %#v, want 1 (object keys are arbitrary strings)", got)
	}
	methods := ctyStrings(literal(t, fe.locals["waf_body_methods"]))
	re, err := regexp.Compile(literal(t, fe.locals["waf_body_path_regex"]).AsString())
	if err != nil {
		t.Fatalf("waf_body_path_regex: %v", err)
	}
	for _, r := range httpapi.RouteRules() {
		skipped := slices.Contains(methods, r.Method) && re.MatchString(r.Prefix+"usecase/scope.1/key")
		if want := slices.Contains(bodyFunctions, r.Function); skipped != want {
			t.Errorf("route %s %s (%s): WAF skipped %v, want %v (skip exactly the requests whose body is object bytes)", r.Method, r.Prefix, r.Function, skipped, want)
		}
	}
	pol := fe.resource(t, "google_compute_security_policy.edge")
	var waf, rate string
	for _, b := range pol.Body.Blocks {
		switch {
		case b.Type == "dynamic" && b.Labels[0] == "rule":
			c := firstBlock(b.Body, "content")
			waf = fe.exprText(nested(c, "match.expr.expression"))
			if got := fe.exprText(b.Body.Attributes["for_each"]); got != "local.waf_rules" {
				t.Errorf("WAF rules for_each = %s", got)
			}
			if got := fe.exprText(c.Body.Attributes["priority"]); got != "rule.value" {
				t.Errorf("WAF rule priority = %s", got)
			}
		case b.Type == "rule" && b.Body.Attributes["rate_limit_options"] == nil && firstBlock(b.Body, "rate_limit_options") != nil:
			rate = fe.exprText(b.Body.Attributes["priority"])
		}
	}
	if !strings.Contains(waf, "evaluatePreconfiguredWaf('${rule.key}', {'sensitivity': ${var.waf_sensitivity}})") || !strings.Contains(waf, "&& !(${local.waf_skip_body})") {
		t.Errorf("WAF rule expression = %s", waf)
	}
	if got := fe.exprText(fe.locals["waf_rules"]); got != "{ for i, set in var.waf_rule_sets : set => 1000 + i }" {
		t.Errorf("local.waf_rules = %s", got)
	}
	// The rate-limit rule allows what conforms and so ends evaluation: it must come after
	// every WAF rule (at most 20 of them, priorities 1000-1019).
	if rate != "2000" {
		t.Errorf("rate-limit rule priority = %q, want 2000 (after the WAF rules)", rate)
	}
	if got := fe.exprText(nested(fe.variables["waf_rule_sets"], "validation.condition")); !strings.Contains(got, "length(var.waf_rule_sets) <= 20") {
		t.Errorf("waf_rule_sets validation must cap the list at 20 rules: %s", got)
	}
	be := fe.resource(t, "google_compute_backend_service.function")
	if got := fe.exprText(be.Body.Attributes["security_policy"]); got != "var.enable_cloud_armor ? google_compute_security_policy.edge[0].id : null" {
		t.Errorf("backend security_policy = %s", got)
	}
	wiring(t, "frontend", "enable_cloud_armor", "var.enable_cloud_armor")
}

// TestTerraform_LoadBalancerLogsOffByDefault: the request log would keep every URL with its
// query (tokens, signatures), and log_config cannot drop it, so it is off unless asked for.
func TestTerraform_LoadBalancerLogsOffByDefault(t *testing.T) {
	fe := moduleNamed(t, "frontend")
	if got := fe.variableDefault(t, "log_sample_rate"); !got.RawEquals(cty.NumberIntVal(0)) {
		t.Errorf("frontend log_sample_rate defaults to %#v, want 0", got)
	}
	be := fe.resource(t, "google_compute_backend_service.function")
	if got := fe.exprText(nested(be, "log_config.enable")); got != "var.log_sample_rate > 0" {
		t.Errorf("backend log_config.enable = %s", got)
	}
	wiring(t, "frontend", "log_sample_rate", "var.lb_log_sample_rate")
}

// TestTerraform_InsecureOptInsWarn: each insecure opt-in has a check that fails (a warning in
// plan) while it is on, and authentication maps to STRATA_AUTH_ENFORCE.
func TestTerraform_InsecureOptInsWarn(t *testing.T) {
	stack := stackModule(t)
	for name, cond := range map[string]string{
		"authentication_enforced":                "!var.allow_unauthenticated",
		"plain_http_disabled":                    "!var.allow_plain_http",
		"load_balancer_logs_keep_no_credentials": "var.lb_log_sample_rate == 0",
		"auth_configured":                        "var.allow_unauthenticated || length(var.auth_keys) > 0",
	} {
		c, ok := stack.checks[name]
		if !ok {
			t.Errorf("modules/strata: no check %s", name)
			continue
		}
		if got := stack.exprText(nested(c, "assert.condition")); got != cond {
			t.Errorf("check %s: condition %s, want %s", name, got, cond)
		}
	}
	if got := stack.exprText(nested(stack.modules["frontend"], "allow_plain_http")); got != "var.allow_plain_http" {
		t.Errorf("frontend allow_plain_http = %s", got)
	}
	if src := stack.text(stack.locals["environment"].Expr.Range()); !strings.Contains(src, "STRATA_AUTH_ENFORCE             = tostring(!var.allow_unauthenticated)") {
		t.Errorf("STRATA_AUTH_ENFORCE must be tostring(!var.allow_unauthenticated):\n%s", src)
	}
}

// TestEnvironments_InsecureOptInsWarnInPlan plans every environment on the mocked copy twice:
// as shipped, the plan prints none of the insecure warnings; with every opt-in on, it prints
// each of them (and still succeeds: they are warnings).
func TestEnvironments_InsecureOptInsWarnInPlan(t *testing.T) {
	skipUnderShort(t, "plans the environments")
	tree := mockTree(t)
	warnings := []string{
		"INSECURE: allow_unauthenticated = true",
		"INSECURE: allow_plain_http = true",
		"CREDENTIALS IN LOGS: lb_log_sample_rate > 0",
	}
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
			plan := func(extra ...string) string {
				var stdout bytes.Buffer
				tf.SetStdout(&stdout)
				opts := []tfexec.PlanOption{tfexec.Refresh(false), tfexec.Var("project_id=x"), tfexec.Var("region=y")}
				for _, v := range extra {
					opts = append(opts, tfexec.Var(v))
				}
				if _, err := tf.Plan(ctx, opts...); err != nil {
					t.Fatalf("plan %v: %v\n%s\n%s", extra, err, stderr.String(), stdout.String())
				}
				return strings.Join(strings.Fields(stdout.String()), " ")
			}
			shipped := plan()
			for _, w := range warnings {
				if strings.Contains(shipped, w) {
					t.Errorf("the plan as shipped warns %q", w)
				}
			}
			insecure := plan("allow_unauthenticated=true", "allow_plain_http=true", "lb_log_sample_rate=0.5")
			for _, w := range warnings {
				if !strings.Contains(insecure, w) {
					t.Errorf("the plan with every insecure opt-in on does not warn %q:\n%s", w, insecure)
				}
			}
		})
	}
}
