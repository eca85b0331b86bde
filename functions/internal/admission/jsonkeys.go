package admission

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// keySchema describes which object keys a JSON configuration may use. encoding/json matches
// struct fields without regard to case and lets a repeated key win silently; configuration
// errors should not pass that quietly, so keys are checked exactly, against this schema,
// before decoding.
type keySchema struct {
	// fields lists the allowed keys and the schema of their values; nil allows any key.
	fields map[string]*keySchema
}

// anyKeys allows an object with arbitrary (but distinct) keys, whose values are not checked.
var anyKeys = &keySchema{}

// checkKeys walks one JSON value and reports the first unknown or repeated key, by path.
// Arrays apply their schema to every element; a nil schema skips the value.
func checkKeys(text string, s *keySchema) error {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if err := walkKeys(dec, s, "$"); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func walkKeys(dec *json.Decoder, s *keySchema, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walkKeys(dec, s, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			if seen[key] && s != nil {
				return fmt.Errorf("%s: repeated key %q", path, key)
			}
			seen[key] = true
			var child *keySchema
			if s != nil && s.fields != nil {
				c, ok := s.fields[key]
				if !ok {
					return fmt.Errorf("%s: unknown key %q (want one of %s)", path, key, s.names())
				}
				child = c
			}
			if err := walkKeys(dec, child, path+"."+key); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

func (s *keySchema) names() string {
	var names []string
	for n := range s.fields {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

var killswitchSchema = &keySchema{fields: map[string]*keySchema{
	"usecase": nil, "scopes": anyKeys, "service": nil,
}}

var rateLimitsSchema = &keySchema{fields: map[string]*keySchema{
	"throughput": {fields: map[string]*keySchema{
		"global_rps": nil, "burst": nil, "usecase_pct": nil, "scope_pct": nil,
		"rules": {fields: map[string]*keySchema{"usecase": nil, "scopes": nil, "rps": nil, "pct": nil}},
	}},
	"bandwidth": {fields: map[string]*keySchema{
		"global_bps": nil, "burst_ms": nil, "usecase_pct": nil, "scope_pct": nil, "report_only": nil,
	}},
}}
