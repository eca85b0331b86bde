package object

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestObjectID_StoragePath(t *testing.T) {
	for _, tc := range []struct {
		id   ID
		want string
	}{
		{NewID("attachments", []Scope{{"org", "17"}, {"project", "42"}}, "abc123"), "attachments/org.17/project.42/objects/abc123"},
		{NewID("testing", nil, "foo/bar"), "testing/objects/foo/bar"},
		{NewID("u", []Scope{{"a", "b"}}, "objects/x"), "u/a.b/objects/objects/x"},
	} {
		if got := tc.id.StoragePath(); got != tc.want {
			t.Errorf("StoragePath() = %q, want %q", got, tc.want)
		}
		back, err := ParseStoragePath(tc.want)
		if err != nil || !back.Equal(tc.id) {
			t.Errorf("ParseStoragePath(%q) = %+v, %v", tc.want, back, err)
		}
	}
}

func TestParseStoragePath_Invalid(t *testing.T) {
	for _, p := range []string{"", "noslash", "/objects/k", "u/objects/", "u/org.1/k", "u/org/objects/k", "u/.1/objects/k", "u/org./objects/k"} {
		if _, err := ParseStoragePath(p); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ParseStoragePath(%q) error = %v", p, err)
		}
	}
}

func TestValidateKey(t *testing.T) {
	ok := []string{"a", "a/b", "with space", "ünïcödé", "%25", "a+b", "a;b=c", "x:y@z&w", "...", ".a", "a.", "a/.../b"}
	for _, k := range ok {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v", k, err)
		}
	}
	bad := []string{"", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", "./a", "a/..", "a\x00b", "a\nb", "\x7f", string([]byte{0xff})}
	for _, k := range bad {
		if err := ValidateKey(k); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidArgument", k, err)
		}
	}
}

func TestObjectContext_Validate(t *testing.T) {
	good := Context{Usecase: "attachments", Scopes: []Scope{{"org", "17"}, {"A_-()$!+'z", "9"}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Context{
		{Usecase: ""},
		{Usecase: "a.b"},
		{Usecase: "a/b"},
		{Usecase: strings.Repeat("u", MaxUsecaseLen+1)},
		{Usecase: "u", Scopes: []Scope{{"", "1"}}},
		{Usecase: "u", Scopes: []Scope{{"org", ""}}},
		{Usecase: "u", Scopes: []Scope{{"o.rg", "1"}}},
		{Usecase: "u", Scopes: []Scope{{"org", "1;2"}}},
		{Usecase: "u", Scopes: []Scope{{"org", "ü"}}},
		{Usecase: "u", Scopes: []Scope{{"org", "a b"}}},
		{Usecase: "u", Scopes: []Scope{{"org", "a=b"}}},
	} {
		if err := c.Validate(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
}

func TestObjectID_Validate_LengthLimit(t *testing.T) {
	base := NewID("u", nil, "")
	prefix := len(base.StoragePath())
	fits := NewID("u", nil, strings.Repeat("k", MaxStoragePathLen-prefix))
	if err := fits.Validate(); err != nil {
		t.Fatalf("key at the limit: %v", err)
	}
	over := NewID("u", nil, strings.Repeat("k", MaxStoragePathLen-prefix+1))
	if err := over.Validate(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("key over the limit: %v", err)
	}
	// The revision name of the longest key still fits GCS's 1024 bytes.
	if n := MaxStoragePathLen + 37; n > 1024 {
		t.Fatalf("longest long-term name is %d bytes", n)
	}
}

func TestObjectID_Equal(t *testing.T) {
	a := NewID("u", []Scope{{"org", "1"}, {"p", "2"}}, "k")
	b := NewID("u", []Scope{{"p", "2"}, {"org", "1"}}, "k")
	if a.Equal(b) {
		t.Fatal("scope order must matter")
	}
	if !a.Equal(NewID("u", []Scope{{"org", "1"}, {"p", "2"}}, "k")) {
		t.Fatal("equal ids differ")
	}
	if a.Equal(NewID("u", []Scope{{"org", "1"}}, "k")) {
		t.Fatal("different scope counts are equal")
	}
}

func TestObjectID_Problems(t *testing.T) {
	long := strings.Repeat("k", MaxStoragePathLen)
	for _, tc := range []struct {
		id   ID
		want []Rule
	}{
		{NewID("u", []Scope{{"org", "1"}}, "a/b.c/...d"), nil},
		{NewID("u", nil, ""), []Rule{RuleKeyEmpty}},
		{NewID("u", nil, "/a"), []Rule{RuleKeyEmptySegment}},
		{NewID("u", nil, "a//b"), []Rule{RuleKeyEmptySegment}},
		{NewID("u", nil, "a/"), []Rule{RuleKeyTrailingSlash}},
		{NewID("u", nil, "a//b/"), []Rule{RuleKeyEmptySegment, RuleKeyTrailingSlash}},
		{NewID("u", nil, "./a/../b/."), []Rule{RuleKeyDotSegment}},
		{NewID("u", nil, "a\nb\x7f"), []Rule{RuleKeyControl}},
		{NewID("u", nil, string([]byte{'a', 0xff})), []Rule{RuleKeyUTF8}},
		{NewID("u", nil, long), []Rule{RuleStoragePathLength}},
		{NewID("a.b", nil, "k"), []Rule{RuleUsecaseChar}},
		{NewID(strings.Repeat("u", MaxUsecaseLen+1), nil, "k"), []Rule{RuleUsecaseLength}},
		{NewID(strings.Repeat(".", MaxUsecaseLen+1), nil, "k/"), []Rule{RuleUsecaseLength, RuleUsecaseChar, RuleKeyTrailingSlash}},
		{NewID("", nil, "k"), []Rule{RuleUsecaseEmpty}},
		{NewID("u", []Scope{{"o", ""}}, "k"), []Rule{RuleScope}},
		{NewID("u.v", nil, "a/./"+long), []Rule{RuleUsecaseChar, RuleKeyDotSegment, RuleStoragePathLength}},
	} {
		var got []Rule
		for _, p := range tc.id.Problems() {
			if !errors.Is(p.Err, ErrInvalidArgument) {
				t.Errorf("%q: %s: error %v is not ErrInvalidArgument", tc.id.StoragePath(), p.Rule, p.Err)
			}
			got = append(got, p.Rule)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Problems(%q) = %v, want %v", tc.id.StoragePath(), got, tc.want)
		}
		// Validate returns the first problem's error.
		err := tc.id.Validate()
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("Validate(%q) = %v", tc.id.StoragePath(), err)
			}
		} else if ps := tc.id.Problems(); err == nil || err.Error() != ps[0].Err.Error() {
			t.Errorf("Validate(%q) = %v, want the first problem", tc.id.StoragePath(), err)
		}
	}
}

func TestRule_DeployedPath(t *testing.T) {
	path := map[Rule]bool{RuleKeyEmpty: true, RuleKeyEmptySegment: true, RuleKeyDotSegment: true}
	for _, r := range []Rule{RuleUsecaseEmpty, RuleUsecaseLength, RuleUsecaseChar, RuleScope, RuleKeyEmpty,
		RuleKeyUTF8, RuleKeyControl, RuleKeyEmptySegment, RuleKeyTrailingSlash, RuleKeyDotSegment, RuleStoragePathLength} {
		if r.DeployedPath() != path[r] {
			t.Errorf("%s.DeployedPath() = %v", r, r.DeployedPath())
		}
	}
}
