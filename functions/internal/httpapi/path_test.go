package httpapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stratastore/strata/tiered/object"
)

func TestPercentDecode(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "a%2Fb", want: "a/b"},
		{in: "a%2fb", want: "a/b"},
		{in: "a+b", want: "a+b"},
		{in: "with%20space", want: "with space"},
		{in: "looks%2520encoded", want: "looks%20encoded"},
		{in: "%C3%A9t%C3%A9", want: "été"},
		{in: "%F0%9F%98%80", want: "😀"},
		{in: "%25", want: "%"},
		{in: "a;b=c:d@e&f", want: "a;b=c:d@e&f"},
		{in: "%", err: "Invalid URL: invalid percent-encoding in `key`"},
		{in: "%2", err: "Invalid URL: invalid percent-encoding in `key`"},
		{in: "%zz", err: "Invalid URL: invalid percent-encoding in `key`"},
		{in: "%FF", err: "Invalid URL: Invalid UTF-8 in `key`"},
		{in: "%C3", err: "Invalid URL: Invalid UTF-8 in `key`"},
		{in: "\xff", err: "Invalid URL: Invalid UTF-8 in `key`"},
	}
	for _, tt := range tests {
		got, herr := percentDecode(tt.in, "key")
		switch {
		case tt.err != "":
			if herr == nil || herr.detail != tt.err || herr.status != 400 || !herr.text {
				t.Errorf("percentDecode(%q) error = %+v, want 400 text %q", tt.in, herr, tt.err)
			}
		case herr != nil || got != tt.want:
			t.Errorf("percentDecode(%q) = %q, %v; want %q", tt.in, got, herr, tt.want)
		}
	}
}

func TestParseScopes(t *testing.T) {
	tests := []struct {
		in   string
		want []object.Scope
		err  string
	}{
		{in: "_", want: nil},
		{in: "org=1", want: []object.Scope{{Name: "org", Value: "1"}}},
		{in: "org=1;project=2", want: []object.Scope{{Name: "org", Value: "1"}, {Name: "project", Value: "2"}}},
		{in: "project=2;org=1", want: []object.Scope{{Name: "project", Value: "2"}, {Name: "org", Value: "1"}}},
		{in: "a=1;a=2", want: []object.Scope{{Name: "a", Value: "1"}, {Name: "a", Value: "2"}}},
		{in: "A-z_0()$!+'=x", want: []object.Scope{{Name: "A-z_0()$!+'", Value: "x"}}},
		{in: "org", err: "Invalid URL: scope must be 'key=value'"},
		{in: "org=1;", err: "Invalid URL: scope must be 'key=value'"},
		{in: "=1", err: "Invalid URL: key and value must be non-empty"},
		{in: "org=", err: "Invalid URL: key and value must be non-empty"},
		{in: "org=a b", err: "Invalid URL: invalid character ' '"},
		{in: "org=a.b", err: "Invalid URL: invalid character '.'"},
		{in: "org=a=b", err: "Invalid URL: invalid character '='"},
		{in: "org=a/b", err: "Invalid URL: invalid character '/'"},
		{in: "org=é", err: "Invalid URL: invalid character 'é'"},
		{in: "o*g=1", err: "Invalid URL: invalid character '*'"},
	}
	for _, tt := range tests {
		got, herr := parseScopes(tt.in)
		switch {
		case tt.err != "":
			if herr == nil || herr.detail != tt.err {
				t.Errorf("parseScopes(%q) error = %v, want %q", tt.in, herr, tt.err)
			}
		case herr != nil || len(got) != len(tt.want):
			t.Errorf("parseScopes(%q) = %v, %v; want %v", tt.in, got, herr, tt.want)
		default:
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("parseScopes(%q)[%d] = %v, want %v", tt.in, i, got[i], tt.want[i])
				}
			}
		}
	}
}

func TestParseContext(t *testing.T) {
	tests := []struct {
		usecase, scopes string
		err             string
	}{
		{usecase: "attachments", scopes: "_"},
		{usecase: "at%74achments", scopes: "org%3D1"},
		{usecase: "a.b", scopes: "_", err: "Invalid URL: invalid character '.' in usecase"},
		{usecase: strings.Repeat("u", object.MaxUsecaseLen+1), scopes: "_", err: "Invalid URL: usecase is longer than 64 bytes"},
		{usecase: "u", scopes: "%FF", err: "Invalid URL: Invalid UTF-8 in `scopes`"},
		{usecase: "%FF", scopes: "_", err: "Invalid URL: Invalid UTF-8 in `usecase`"},
	}
	for _, tt := range tests {
		_, herr := parseContext(target{usecase: tt.usecase, scopes: tt.scopes})
		got := ""
		if herr != nil {
			got = herr.detail
		}
		if got != tt.err {
			t.Errorf("parseContext(%q, %q) error = %q, want %q", tt.usecase, tt.scopes, got, tt.err)
		}
	}
}

func TestParseKey(t *testing.T) {
	ctx := object.Context{Usecase: "u", Scopes: []object.Scope{{Name: "org", Value: "1"}}}
	long := strings.Repeat("k", object.MaxStoragePathLen)
	tests := []struct {
		raw, want, err string
	}{
		{raw: "k", want: "k"},
		{raw: "1/shard-0.json", want: "1/shard-0.json"},
		{raw: "a%2Fb", want: "a/b"},
		{raw: "a+b", want: "a+b"},
		{raw: "%25", want: "%"},
		{raw: "sp%20ace", want: "sp ace"},
		{raw: "a;b=c:d@e&f,g$h!i'j(k)l*m", want: "a;b=c:d@e&f,g$h!i'j(k)l*m"},
		{raw: "caf%C3%A9/%E2%9C%93", want: "café/✓"},
		{raw: "dots.in.name/..x/x..", want: "dots.in.name/..x/x.."},
		{raw: "a//b", err: "Invalid URL: key has an empty path segment"},
		{raw: "a/", err: "Invalid URL: key has an empty path segment"},
		{raw: "a%2F%2Fb", err: "Invalid URL: key has an empty path segment"},
		{raw: "a%2F", err: "Invalid URL: key has an empty path segment"},
		{raw: "%2Fa", err: "Invalid URL: key has an empty path segment"},
		{raw: "./a", err: `Invalid URL: key has a "." path segment`},
		{raw: "a/.", err: `Invalid URL: key has a "." path segment`},
		{raw: "a/%2E/b", err: `Invalid URL: key has a "." path segment`},
		{raw: "..", err: `Invalid URL: key has a ".." path segment`},
		{raw: "a/%2E%2E/b", err: `Invalid URL: key has a ".." path segment`},
		{raw: "a%2F..%2Fb", err: `Invalid URL: key has a ".." path segment`},
		{raw: "tab%09", err: `Invalid URL: key contains control character '\t'`},
		{raw: "nul%00", err: `Invalid URL: key contains control character '\x00'`},
		{raw: "del%7F", err: `Invalid URL: key contains control character '\x7f'`},
		{raw: "%FF", err: "Invalid URL: Invalid UTF-8 in `key`"},
		{raw: long, err: fmt.Sprintf("Invalid URL: storage path is %d bytes, longer than the limit of %d", len("u/org.1/objects/")+len(long), object.MaxStoragePathLen)},
	}
	for _, tt := range tests {
		id, herr := parseKey(ctx, tt.raw)
		switch {
		case tt.err != "":
			if herr == nil || herr.detail != tt.err || herr.status != 400 || !herr.text {
				t.Errorf("parseKey(%q) error = %+v, want 400 text %q", tt.raw, herr, tt.err)
			}
		case herr != nil || id.Key != tt.want || id.Context.Usecase != "u":
			t.Errorf("parseKey(%q) = %+v, %v; want key %q", tt.raw, id, herr, tt.want)
		}
	}
}
