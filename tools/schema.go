package tools

// The JSON Schema subset a tool declares for its arguments (inputSchema) and
// its structured result (outputSchema). MCP 2025-11-25 says schemas default to
// JSON Schema 2020-12 when they carry no "$schema"; the keywords below mean
// what that draft says they mean, and no other keyword is accepted, so a tool
// author cannot declare a rule the server would silently not enforce.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"remote-mcp-authkit/internal/jsonscan"
)

// Schema is a JSON Schema restricted to what the validator enforces: the
// types object, string, integer, number, boolean and array, and the keywords
// properties, required, additionalProperties (false only), items, enum,
// default, minimum, maximum, minLength and maxLength. It marshals to the
// JSON a client sees in tools/list.
type Schema struct {
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`

	// Object keywords (JSON Schema 2020-12, section 10.3.2).
	Properties map[string]*Schema `json:"properties,omitempty"`
	Required   []string           `json:"required,omitempty"`
	// AdditionalProperties, when set to false, refuses properties not named
	// in Properties. Only false is supported: true is the default anyway.
	AdditionalProperties *bool `json:"additionalProperties,omitempty"`

	// Array keyword (2020-12 section 10.3.1.2).
	Items *Schema `json:"items,omitempty"`

	// Validation keywords (JSON Schema Validation 2020-12, section 6).
	Enum      []any    `json:"enum,omitempty"`
	Minimum   *float64 `json:"minimum,omitempty"`
	Maximum   *float64 `json:"maximum,omitempty"`
	MinLength *int     `json:"minLength,omitempty"`
	MaxLength *int     `json:"maxLength,omitempty"`

	// Default is filled in for an absent property before the handler runs
	// (an annotation in JSON Schema; MCP clients show it, we apply it).
	Default any `json:"default,omitempty"`
}

// Ptr returns a pointer to v, for the optional keywords of a Schema and the
// optional hints of mcp.ToolAnnotations.
func Ptr[T any](v T) *T { return &v }

// Schema types accepted in Schema.Type.
var schemaTypes = []string{"object", "string", "integer", "number", "boolean", "array"}

// check reports why s is not a schema the validator can enforce. path names
// the schema inside its tool, for the error message.
func (s *Schema) check(path string) error {
	if s == nil {
		return fmt.Errorf("%s: missing schema", path)
	}
	if !slices.Contains(schemaTypes, s.Type) {
		return fmt.Errorf("%s: type %q is not one of %s", path, s.Type, strings.Join(schemaTypes, ", "))
	}
	if s.Type != "object" && (s.Properties != nil || s.Required != nil || s.AdditionalProperties != nil) {
		return fmt.Errorf("%s: properties, required and additionalProperties apply only to type object", path)
	}
	if s.Type != "array" && s.Items != nil {
		return fmt.Errorf("%s: items applies only to type array", path)
	}
	if s.Type != "integer" && s.Type != "number" && (s.Minimum != nil || s.Maximum != nil) {
		return fmt.Errorf("%s: minimum and maximum apply only to numbers", path)
	}
	if s.Type != "string" && (s.MinLength != nil || s.MaxLength != nil) {
		return fmt.Errorf("%s: minLength and maxLength apply only to strings", path)
	}
	if s.AdditionalProperties != nil && *s.AdditionalProperties {
		return fmt.Errorf("%s: only additionalProperties false is supported (true is the default)", path)
	}
	if s.Minimum != nil && s.Maximum != nil && *s.Minimum > *s.Maximum {
		return fmt.Errorf("%s: minimum %v is above maximum %v", path, *s.Minimum, *s.Maximum)
	}
	if s.MinLength != nil && *s.MinLength < 0 || s.MaxLength != nil && *s.MaxLength < 0 {
		return fmt.Errorf("%s: minLength and maxLength must not be negative", path)
	}
	if s.MinLength != nil && s.MaxLength != nil && *s.MinLength > *s.MaxLength {
		return fmt.Errorf("%s: minLength %d is above maxLength %d", path, *s.MinLength, *s.MaxLength)
	}
	for _, r := range s.Required {
		if _, ok := s.Properties[r]; !ok {
			return fmt.Errorf("%s: required property %q is not declared in properties", path, r)
		}
	}
	for name, p := range s.Properties {
		if err := p.check(joinPath(path, name)); err != nil {
			return err
		}
	}
	if s.Type == "array" {
		if s.Items == nil {
			return fmt.Errorf("%s: an array needs items", path)
		}
		if err := s.Items.check(path + "[]"); err != nil {
			return err
		}
	}
	// Enum members and the default must themselves be valid instances, or
	// the schema promises values it would refuse.
	for i, e := range s.Enum {
		v, err := normalize(e)
		if err != nil {
			return fmt.Errorf("%s: enum[%d]: %v", path, i, err)
		}
		if err := s.withoutEnum().firstError(path, v); err != nil {
			return fmt.Errorf("%s: enum[%d] is not valid for the schema: %v", path, i, err)
		}
	}
	if s.Default != nil {
		v, err := normalize(s.Default)
		if err != nil {
			return fmt.Errorf("%s: default: %v", path, err)
		}
		if err := s.firstError(path, v); err != nil {
			return fmt.Errorf("%s: default is not valid for the schema: %v", path, err)
		}
	}
	return nil
}

func (s *Schema) withoutEnum() *Schema {
	c := *s
	c.Enum = nil
	return &c
}

// normalize turns a Go value (from a schema literal) into the shape the
// validator sees after decoding JSON with UseNumber. It runs for every
// default filled in and every enum checked, so the kinds schema literals
// usually hold skip the JSON round trip, which gives them back unchanged.
func normalize(v any) (any, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case int:
		return json.Number(strconv.Itoa(v)), nil
	case string:
		if utf8.ValidString(v) { // else encoding/json substitutes U+FFFD
			return v, nil
		}
	}
	return roundTrip(v)
}

// roundTrip encodes v as JSON and decodes it again as the validator does.
func roundTrip(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeJSON(b)
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	// Only whitespace may follow (RFC 8259 section 2). Decoder.More would
	// let a stray '}' or ']' through, and the caller's bytes with it.
	if len(bytes.TrimLeft(b[d.InputOffset():], " \t\r\n")) > 0 {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// ArgumentError is one rule an argument broke. Path names the argument
// ("steps", "user.email", "tags[2]"; "arguments" for the whole object) and
// Rule the JSON Schema keyword, so a model can fix exactly that.
type ArgumentError struct {
	Path    string
	Rule    string
	Message string
}

// Error reads "path: message (rule)".
func (e *ArgumentError) Error() string {
	return fmt.Sprintf("%s: %s (%s)", e.Path, e.Message, e.Rule)
}

// ValidationError lists every rule the arguments broke, in a stable order.
type ValidationError []*ArgumentError

// Error lists every broken rule after "invalid arguments: ".
func (v ValidationError) Error() string { return "invalid arguments: " + v.list() }

func (v ValidationError) list() string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// maxReportedErrors bounds how many broken rules one message lists, so that a
// large wrong argument cannot make a huge error.
const maxReportedErrors = 10

// Validate checks a JSON document against s, returning the document with
// defaults filled in. Absent or null arguments count as an empty object, as
// tools/call allows arguments to be omitted. The error is a ValidationError
// or, for bytes that are not JSON, a plain error.
func (s *Schema) Validate(doc json.RawMessage) (json.RawMessage, error) {
	// Most calls send valid arguments with nothing to fill in: check those
	// in place (inplace.go) and hand the caller's bytes back.
	if t := bytes.TrimSpace(doc); len(t) > 0 && jsonscan.Valid(t) && s.conforms(t) {
		return t, nil
	}
	return s.validateDecoded(doc)
}

// validateDecoded is Validate on the decoded document: it finds every
// broken rule and fills in defaults.
func (s *Schema) validateDecoded(doc json.RawMessage) (json.RawMessage, error) {
	var v any = map[string]any{}
	absent := true
	t := bytes.TrimSpace(doc)
	if len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		var err error
		if v, err = decodeJSON(t); err != nil {
			return nil, fmt.Errorf("arguments are not valid JSON: %v", err)
		}
		absent = false
	}
	var errs ValidationError
	changed := absent
	v = s.apply(v, &changed)
	s.validate("", v, &errs)
	if len(errs) > 0 {
		return nil, errs
	}
	if !changed {
		// Nothing was filled in or normalised: the caller's bytes are the
		// answer, and re-encoding them would cost a third of a small call.
		return t, nil
	}
	return json.Marshal(v)
}

// apply fills defaults into absent object properties, recursively, and
// sets *changed when it altered v.
func (s *Schema) apply(v any, changed *bool) any {
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		for name, p := range s.Properties {
			if cur, present := m[name]; present {
				m[name] = p.apply(cur, changed)
			} else if p.Default != nil {
				d, _ := normalize(p.Default) // checked in NewTable
				m[name] = d
				*changed = true
			}
		}
	case "array":
		if a, ok := v.([]any); ok {
			for i := range a {
				a[i] = s.Items.apply(a[i], changed)
			}
		}
	case "integer":
		// 6.0 and 6e0 are integers in JSON Schema but not to encoding/json's
		// int; hand the handler the plain form.
		if n, ok := v.(json.Number); ok {
			if _, err := n.Int64(); err != nil {
				if f, err := n.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
					*changed = true
					return json.Number(strconv.FormatInt(int64(f), 10))
				}
			}
		}
	}
	return v
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// validate records every rule v breaks in errs (up to maxReportedErrors).
func (s *Schema) validate(path string, v any, errs *ValidationError) {
	fail := func(at, rule, format string, args ...any) {
		if at == "" {
			at = "arguments"
		}
		if len(*errs) < maxReportedErrors {
			*errs = append(*errs, &ArgumentError{Path: at, Rule: rule, Message: fmt.Sprintf(format, args...)})
		}
	}
	if !hasType(v, s.Type) {
		fail(path, "type", "must be %s %s, got %s", article(s.Type), s.Type, describe(v))
		return
	}
	if len(s.Enum) > 0 {
		found := false
		for _, e := range s.Enum {
			if n, _ := normalize(e); equalJSON(n, v) {
				found = true
				break
			}
		}
		if !found {
			allowed, _ := json.Marshal(s.Enum)
			fail(path, "enum", "must be one of %s", allowed)
		}
	}
	switch s.Type {
	case "integer", "number":
		f, _ := strconv.ParseFloat(string(v.(json.Number)), 64)
		if s.Minimum != nil && f < *s.Minimum {
			fail(path, "minimum", "must be at least %s, got %s", fmtNum(*s.Minimum), clip(string(v.(json.Number))))
		}
		if s.Maximum != nil && f > *s.Maximum {
			fail(path, "maximum", "must be at most %s, got %s", fmtNum(*s.Maximum), clip(string(v.(json.Number))))
		}
	case "string":
		n := utf8.RuneCountInString(v.(string)) // 2020-12 counts characters, not bytes
		if s.MinLength != nil && n < *s.MinLength {
			fail(path, "minLength", "must be at least %d characters long, got %d", *s.MinLength, n)
		}
		if s.MaxLength != nil && n > *s.MaxLength {
			fail(path, "maxLength", "must be at most %d characters long, got %d", *s.MaxLength, n)
		}
	case "array":
		for i, item := range v.([]any) {
			s.Items.validate(fmt.Sprintf("%s[%d]", path, i), item, errs)
		}
	case "object":
		m := v.(map[string]any)
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				fail(joinPath(path, r), "required", "is required")
			}
		}
		names := make([]string, 0, len(m))
		for name := range m {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if p, ok := s.Properties[name]; ok {
				p.validate(joinPath(path, name), m[name], errs)
			} else if s.AdditionalProperties != nil && !*s.AdditionalProperties {
				fail(joinPath(path, name), "additionalProperties", "is not a known property")
			}
		}
	}
}

// firstError validates v and returns the first broken rule, for checking a
// schema's own enum members and default.
func (s *Schema) firstError(path string, v any) error {
	var errs ValidationError
	s.validate(path, v, &errs)
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// clip shortens a value quoted back in an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func hasType(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number", "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.IsInf(f, 0) {
			return false
		}
		// 2020-12: an integer is a number with a zero fractional part, so
		// 4.0 is an integer.
		return typ == "number" || f == math.Trunc(f)
	}
	return false
}

func equalJSON(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		af, _ := strconv.ParseFloat(string(an), 64)
		bf, _ := strconv.ParseFloat(string(bn), 64)
		return af == bf
	}
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	return bytes.Equal(ab, bb)
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + string(v)
	}
	return fmt.Sprintf("%T", v)
}

func article(typ string) string {
	if strings.IndexByte("aeiou", typ[0]) >= 0 {
		return "an"
	}
	return "a"
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
