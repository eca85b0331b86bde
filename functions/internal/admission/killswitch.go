package admission

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/stratastore/strata/tiered/object"
)

// Killswitch is one rule that blocks matching requests. An empty field is not a condition.
type Killswitch struct {
	// Usecase, when set, must equal the request's usecase.
	Usecase string `json:"usecase,omitempty"`
	// Scopes lists names that must appear among the request's scopes with these values.
	Scopes map[string]string `json:"scopes,omitempty"`
	// Service, when set, is a glob the downstream service (x-downstream-service, pod suffix
	// stripped) must match; requests without the header never match.
	Service string `json:"service,omitempty"`
}

// Killswitches is a list of rules; a request is blocked when any rule matches.
type Killswitches []Killswitch

// ParseKillswitches parses STRATA_KILLSWITCHES, a JSON array of rules such as
//
//	[{"usecase": "broken_usecase"}, {"scopes": {"org": "42"}}, {"service": "test-*"},
//	 {"usecase": "attachments", "scopes": {"org": "42"}, "service": "test-*"}]
//
// Empty or blank text means no killswitches. Unknown fields, empty strings (omit a field to
// leave it unset) and invalid globs are errors, so a typo cannot silently block all traffic
// or none.
func ParseKillswitches(jsonText string) (Killswitches, error) {
	if strings.TrimSpace(jsonText) == "" {
		return nil, nil
	}
	var raw []struct {
		Usecase *string           `json:"usecase"`
		Scopes  map[string]string `json:"scopes"`
		Service *string           `json:"service"`
	}
	if err := checkKeys(jsonText, killswitchSchema); err != nil {
		return nil, fmt.Errorf("killswitches: %w", err)
	}
	if err := decodeStrict(jsonText, &raw); err != nil {
		return nil, fmt.Errorf("killswitches: %w", err)
	}
	if raw == nil {
		return nil, errors.New("killswitches: want a JSON array, got null")
	}
	ks := make(Killswitches, 0, len(raw))
	for i, r := range raw {
		var k Killswitch
		if r.Usecase != nil {
			if *r.Usecase == "" {
				return nil, fmt.Errorf("killswitches[%d]: usecase is empty; omit it to match any usecase", i)
			}
			k.Usecase = *r.Usecase
		}
		for name, value := range r.Scopes {
			if name == "" || value == "" {
				return nil, fmt.Errorf("killswitches[%d]: scope %q=%q: names and values must be non-empty", i, name, value)
			}
		}
		if len(r.Scopes) > 0 {
			k.Scopes = r.Scopes
		}
		if r.Service != nil {
			if *r.Service == "" {
				return nil, fmt.Errorf("killswitches[%d]: service is empty; omit it to match any service", i)
			}
			if _, err := compileGlob(*r.Service); err != nil {
				return nil, fmt.Errorf("killswitches[%d]: service glob %q: %w", i, *r.Service, err)
			}
			k.Service = *r.Service
		}
		ks = append(ks, k)
	}
	return ks, nil
}

// Blocked reports whether any rule matches a request for ctx from downstreamService (the
// x-downstream-service header; "" when absent).
func (k Killswitches) Blocked(ctx object.Context, downstreamService string) bool {
	if len(k) == 0 {
		return false
	}
	service := StripPodSuffix(downstreamService)
	for i := range k {
		if k[i].matches(ctx, service) {
			return true
		}
	}
	return false
}

// Match returns the first rule that matches, for logging, and whether there is one.
func (k Killswitches) Match(ctx object.Context, downstreamService string) (Killswitch, bool) {
	service := StripPodSuffix(downstreamService)
	for i := range k {
		if k[i].matches(ctx, service) {
			return k[i], true
		}
	}
	return Killswitch{}, false
}

func (k *Killswitch) matches(ctx object.Context, service string) bool {
	if k.Usecase != "" && k.Usecase != ctx.Usecase {
		return false
	}
	for name, value := range k.Scopes {
		if v, ok := scopeValue(ctx, name); !ok || v != value {
			return false
		}
	}
	if k.Service != "" {
		if service == "" {
			return false
		}
		re, err := compileGlob(k.Service)
		if err != nil || !re.MatchString(service) {
			return false
		}
	}
	return true
}

// scopeValue returns the value of the first scope of ctx named name.
func scopeValue(ctx object.Context, name string) (string, bool) {
	for _, s := range ctx.Scopes {
		if s.Name == name {
			return s.Value, true
		}
	}
	return "", false
}

// StripPodSuffix removes a Kubernetes pod suffix from a service name: a Deployment pod
// "<name>-<7 to 10 of [a-z0-9]>-<5 of [a-z0-9]>" and a StatefulSet pod "<name>-<digits>" both
// become "<name>". Other values are returned unchanged; name must be non-empty.
func StripPodSuffix(s string) string {
	rest, last, ok := cutLast(s, '-')
	if !ok || rest == "" || last == "" {
		return s
	}
	if allDigits(last) {
		return rest
	}
	if len(last) != 5 || !lowerAlnum(last) {
		return s
	}
	name, hash, ok := cutLast(rest, '-')
	if !ok || name == "" || len(hash) < 7 || len(hash) > 10 || !lowerAlnum(hash) {
		return s
	}
	return name
}

func cutLast(s string, sep byte) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func lowerAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// globCache holds compiled service globs by pattern; patterns come from configuration, so
// it stays small.
var globCache sync.Map // string -> *regexp.Regexp or error

// compileGlob translates a glob to an anchored regular expression. The syntax is that of the
// globset crate objectstore uses, without path separators: '*' matches any run of characters,
// '?' any one, "[...]" a class ("[!...]" or "[^...]" negated, "a-z" ranges, a leading ']' is
// literal), "{a,b}" alternatives, and '\' escapes the next character.
func compileGlob(pattern string) (*regexp.Regexp, error) {
	if v, ok := globCache.Load(pattern); ok {
		if re, ok := v.(*regexp.Regexp); ok {
			return re, nil
		}
		return nil, v.(error)
	}
	re, err := translateGlob(pattern)
	if err != nil {
		globCache.Store(pattern, err)
		return nil, err
	}
	globCache.Store(pattern, re)
	return re, nil
}

func translateGlob(pattern string) (*regexp.Regexp, error) {
	if !utf8.ValidString(pattern) {
		return nil, errors.New("pattern is not valid UTF-8")
	}
	var b strings.Builder
	b.WriteString(`(?s)^`)
	rs := []rune(pattern)
	depth := 0
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			for i+1 < len(rs) && rs[i+1] == '*' {
				i++
			}
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		case '\\':
			if i+1 == len(rs) {
				return nil, errors.New("dangling '\\' at the end")
			}
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case '{':
			depth++
			b.WriteString(`(?:`)
		case ',':
			if depth > 0 {
				b.WriteString(`|`)
			} else {
				b.WriteString(`,`)
			}
		case '}':
			if depth == 0 {
				return nil, errors.New("unopened '}'")
			}
			depth--
			b.WriteString(`)`)
		case '[':
			n, class, err := translateClass(rs[i+1:])
			if err != nil {
				return nil, err
			}
			i += n
			b.WriteString(class)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if depth != 0 {
		return nil, errors.New("unclosed '{'")
	}
	b.WriteString(`$`)
	return regexp.Compile(b.String())
}

// translateClass translates the class after a '[' and returns how many runes it used,
// including the closing ']'.
func translateClass(rs []rune) (int, string, error) {
	var b strings.Builder
	b.WriteString(`[`)
	i := 0
	if i < len(rs) && (rs[i] == '!' || rs[i] == '^') {
		b.WriteString(`^`)
		i++
	}
	first := true
	for ; i < len(rs); i++ {
		c := rs[i]
		if c == ']' && !first {
			b.WriteString(`]`)
			return i + 1, b.String(), nil
		}
		first = false
		if i+2 < len(rs) && rs[i+1] == '-' && rs[i+2] != ']' {
			hi := rs[i+2]
			if hi < c {
				return 0, "", fmt.Errorf("invalid range %c-%c", c, hi)
			}
			fmt.Fprintf(&b, `\x{%x}-\x{%x}`, c, hi)
			i += 2
			continue
		}
		fmt.Fprintf(&b, `\x{%x}`, c)
	}
	return 0, "", errors.New("unclosed '['")
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown fields.
func decodeStrict(text string, v any) error {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
