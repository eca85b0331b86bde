package admission

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stratastore/strata/tiered/object"
)

func ctxOf(usecase string, kv ...string) object.Context {
	c := object.Context{Usecase: usecase}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Scopes = append(c.Scopes, object.Scope{Name: kv[i], Value: kv[i+1]})
	}
	return c
}

// specKillswitches is the example of functions/API.md §12.1.
const specKillswitches = `[
  {"usecase": "broken_usecase"},
  {"scopes": {"org": "42"}},
  {"service": "test-*"},
  {"usecase": "attachments", "scopes": {"org": "42"}, "service": "test-*"}
]`

func TestParseKillswitches(t *testing.T) {
	got, err := ParseKillswitches(specKillswitches)
	if err != nil {
		t.Fatal(err)
	}
	want := Killswitches{
		{Usecase: "broken_usecase"},
		{Scopes: map[string]string{"org": "42"}},
		{Service: "test-*"},
		{Usecase: "attachments", Scopes: map[string]string{"org": "42"}, Service: "test-*"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	for _, blank := range []string{"", " \n\t"} {
		if ks, err := ParseKillswitches(blank); err != nil || ks != nil {
			t.Fatalf("ParseKillswitches(%q) = %v, %v", blank, ks, err)
		}
	}
	if ks, err := ParseKillswitches(`[{}, {"scopes": {}}]`); err != nil || len(ks) != 2 || ks[1].Scopes != nil {
		t.Fatalf("empty rules: %#v, %v", ks, err)
	}
}

func TestParseKillswitches_Errors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"not JSON", `[{`, "killswitches"},
		{"object instead of array", `{"usecase": "x"}`, "cannot unmarshal"},
		{"null", `null`, "got null"},
		{"trailing data", `[] []`, "trailing"},
		{"trailing bracket", `[] ]`, "trailing"},
		{"unknown field", `[{"usecases": "x"}]`, `$[0]: unknown key "usecases"`},
		{"field in other case", `[{}, {"Usecase": "x"}]`, `$[1]: unknown key "Usecase"`},
		{"repeated field", `[{"usecase": "a", "usecase": "b"}]`, `repeated key "usecase"`},
		{"repeated scope", `[{"scopes": {"org": "1", "org": "2"}}]`, `$[0].scopes: repeated key "org"`},
		{"empty usecase", `[{"usecase": ""}]`, "killswitches[0]: usecase is empty"},
		{"empty service", `[{}, {"service": ""}]`, "killswitches[1]: service is empty"},
		{"empty scope value", `[{"scopes": {"org": ""}}]`, "non-empty"},
		{"empty scope name", `[{"scopes": {"": "1"}}]`, "non-empty"},
		{"scope value not a string", `[{"scopes": {"org": 42}}]`, "cannot unmarshal"},
		{"unclosed class", `[{"service": "relay[ab"}]`, "unclosed '['"},
		{"unclosed brace", `[{"service": "{a,b"}]`, "unclosed '{'"},
		{"unopened brace", `[{"service": "a}"}]`, "unopened '}'"},
		{"dangling escape", `[{"service": "a\\"}]`, "dangling"},
		{"reversed range", `[{"service": "[z-a]"}]`, "invalid range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := ParseKillswitches(tc.text)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want an error containing %q", ks, err, tc.want)
			}
		})
	}
}

func TestKillswitches_Blocked(t *testing.T) {
	ks, err := ParseKillswitches(specKillswitches)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ctx     object.Context
		service string
		want    bool
	}{
		{"usecase rule", ctxOf("broken_usecase"), "", true},
		{"usecase rule with scopes and service", ctxOf("broken_usecase", "org", "1"), "relay", true},
		{"scope rule", ctxOf("any", "org", "42"), "", true},
		{"scope rule ignores extra request scopes", ctxOf("any", "project", "7", "org", "42"), "", true},
		{"scope value differs", ctxOf("any", "org", "43"), "", false},
		{"scope name differs", ctxOf("any", "organization", "42"), "", false},
		{"service rule", ctxOf("any"), "test-runner", true},
		{"service rule after pod suffix strip", ctxOf("any"), "test-runner-7d8f9c5b6d-abc12", true},
		{"service rule needs the header", ctxOf("any"), "", false},
		{"service glob misses", ctxOf("any"), "relay", false},
		{"glob needs the dash", ctxOf("any"), "test", false},
		{"nothing matches", ctxOf("attachments", "org", "1"), "relay", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ks.Blocked(tc.ctx, tc.service); got != tc.want {
				t.Fatalf("Blocked = %v, want %v", got, tc.want)
			}
			_, matched := ks.Match(tc.ctx, tc.service)
			if matched != tc.want {
				t.Fatalf("Match = %v, want %v", matched, tc.want)
			}
		})
	}

	// A rule with every condition needs all of them.
	full := Killswitches{{Usecase: "attachments", Scopes: map[string]string{"org": "42"}, Service: "test-*"}}
	for _, tc := range []struct {
		ctx     object.Context
		service string
		want    bool
	}{
		{ctxOf("attachments", "org", "42"), "test-a", true},
		{ctxOf("other", "org", "42"), "test-a", false},
		{ctxOf("attachments", "org", "9"), "test-a", false},
		{ctxOf("attachments", "org", "42"), "prod-a", false},
		{ctxOf("attachments", "org", "42"), "", false},
	} {
		if got := full.Blocked(tc.ctx, tc.service); got != tc.want {
			t.Errorf("full rule, %v %q: got %v", tc.ctx, tc.service, got)
		}
	}
	// An empty rule blocks everything; no rules block nothing.
	if !(Killswitches{{}}).Blocked(ctxOf("x"), "") {
		t.Error("empty rule did not block")
	}
	if (Killswitches(nil)).Blocked(ctxOf("x"), "s") {
		t.Error("no rules blocked")
	}
	// The first matching rule is reported.
	k, ok := ks.Match(ctxOf("broken_usecase", "org", "42"), "")
	if !ok || k.Usecase != "broken_usecase" {
		t.Errorf("Match = %+v, %v", k, ok)
	}
	// An invalid glob in a hand-built rule never matches.
	if (Killswitches{{Service: "[oops"}}).Blocked(ctxOf("x"), "[oops") {
		t.Error("invalid glob matched")
	}
}

func TestStripPodSuffix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"getsentry-incinerator-7d8f9c5b6d-abc12", "getsentry-incinerator"},
		{"service-7d8f9c5-abcde", "service"},                       // 7-char hash
		{"service-7d8f9c5b6d-abcde", "service"},                    // 10-char hash
		{"service-7d8f9c-abcde", "service-7d8f9c-abcde"},           // 6-char hash
		{"service-7d8f9c5b6d1-abcde", "service-7d8f9c5b6d1-abcde"}, // 11-char hash
		{"svc-7d8f9c5b6d-abcd", "svc-7d8f9c5b6d-abcd"},             // 4-char suffix
		{"svc-7d8f9c5b6d-abcdef", "svc-7d8f9c5b6d-abcdef"},         // 6-char suffix
		{"my-svc-7d8f9c5b6d-ABC12", "my-svc-7d8f9c5b6d-ABC12"},     // upper case
		{"my-svc-7D8F9C5B6D-abc12", "my-svc-7D8F9C5B6D-abc12"},
		{"-7d8f9c5b6d-abcde", "-7d8f9c5b6d-abcde"}, // empty name
		{"relay-0", "relay"},                       // StatefulSet
		{"relay-12", "relay"},
		{"kafka-broker-3", "kafka-broker"},
		{"-3", "-3"},
		{"relay-", "relay-"},
		{"relay", "relay"},
		{"my-service", "my-service"},
		{"getsentry-incinerator", "getsentry-incinerator"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := StripPodSuffix(tc.in); got != tc.want {
			t.Errorf("StripPodSuffix(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern string
		yes, no []string
	}{
		{"relay", []string{"relay"}, []string{"relay2", "xrelay", "Relay", ""}},
		{"relay*", []string{"relay", "relay-abc", "relay/x"}, []string{"rela", "xrelay"}},
		{"*-worker", []string{"a-worker", "-worker"}, []string{"worker", "a-workers"}},
		{"test-?", []string{"test-a", "test-é"}, []string{"test-", "test-ab"}},
		{"*", []string{"", "anything"}, nil},
		{"a**b", []string{"ab", "axxb"}, []string{"a"}},
		{"[abc]x", []string{"ax", "cx"}, []string{"dx", "x"}},
		{"[!abc]x", []string{"dx"}, []string{"ax"}},
		{"[^abc]x", []string{"dx"}, []string{"bx"}},
		{"[a-c0-1]", []string{"b", "0"}, []string{"d", "2"}},
		{"[]a]", []string{"]", "a"}, []string{"b"}},
		{"[a-]", []string{"a", "-"}, []string{"b"}},
		{"{relay,sentry}-*", []string{"relay-1", "sentry-2"}, []string{"snuba-1"}},
		{"{a,{b,c}}", []string{"a", "c"}, []string{"d"}},
		{"a,b", []string{"a,b"}, []string{"a"}},
		{`a\*`, []string{"a*"}, []string{"ab"}},
		{`a.b(c)+$`, []string{"a.b(c)+$"}, []string{"axb(c)+$", "a.bcc"}},
	}
	for _, tc := range tests {
		re, err := compileGlob(tc.pattern)
		if err != nil {
			t.Errorf("compileGlob(%q): %v", tc.pattern, err)
			continue
		}
		for _, s := range tc.yes {
			if !re.MatchString(s) {
				t.Errorf("%q should match %q", tc.pattern, s)
			}
		}
		for _, s := range tc.no {
			if re.MatchString(s) {
				t.Errorf("%q should not match %q", tc.pattern, s)
			}
		}
	}
}
