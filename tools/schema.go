package tools

// JSON Schema 2020-12 for the schemas a tool declares for its arguments
// (inputSchema) and its structured result (outputSchema). MCP says schemas
// default to 2020-12 when they carry no "$schema" (basic, "JSON Schema
// Usage"), and 2026-07-28 lets a tool use the whole vocabulary (SEP-2106).
// Every keyword is kept and listed; the argument check enforces the subset
// with a field in Schema, each meaning what 2020-12 says it means.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"remote-mcp-authkit/internal/jsonscan"
)

// Schema is a JSON Schema 2020-12 document or subschema. Any keyword may be
// declared: the ones with a field are what the argument check enforces (the
// subset README's "Tool argument checks" lists), Extra holds every other
// keyword, shown to clients in tools/list and ignored by the check (if
// nothing else, a client's own validator may use it). It marshals to the
// JSON a client sees in tools/list, and ParseSchema reads one from JSON.
type Schema struct {
	// Dialect is "$schema" (Core section 8.1.1). Only 2020-12, the MCP
	// default ("JSON Schema Usage"), is accepted: another draft gives some
	// keywords other meanings the check would get wrong.
	Dialect string `json:"$schema,omitempty"`

	// Type is the one type an instance must have ("object", "array",
	// "string", "number", "integer", "boolean" or "null"); Types is the
	// array form of the same keyword (Validation section 6.1.1). Empty
	// means any type.
	Type        string   `json:"type,omitempty"`
	Types       []string `json:"-"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`

	// Object keywords (Core section 10.3.2, Validation section 6.5).
	Properties map[string]*Schema `json:"properties,omitempty"`
	Required   []string           `json:"required,omitempty"`
	// AdditionalProperties false refuses properties not named in
	// Properties. The schema-valued form is kept in Extra and not checked.
	AdditionalProperties *bool `json:"additionalProperties,omitempty"`
	MinProperties        *int  `json:"minProperties,omitempty"`
	MaxProperties        *int  `json:"maxProperties,omitempty"`

	// Array keywords (Core section 10.3.1, Validation section 6.4). Items
	// applies to the elements after those PrefixItems describes.
	PrefixItems []*Schema `json:"prefixItems,omitempty"`
	Items       *Schema   `json:"items,omitempty"`
	MinItems    *int      `json:"minItems,omitempty"`
	MaxItems    *int      `json:"maxItems,omitempty"`
	UniqueItems bool      `json:"uniqueItems,omitempty"`

	// Validation keywords for any type and for numbers and strings
	// (Validation sections 6.1 to 6.3). Const cannot be null here: nil
	// means absent. Pattern is checked with Go's RE2 engine, so a pattern
	// RE2 cannot run (lookaround, backreferences) is refused at
	// registration rather than silently ignored.
	Enum             []any    `json:"enum,omitempty"`
	Const            any      `json:"const,omitempty"`
	Minimum          *float64 `json:"minimum,omitempty"`
	Maximum          *float64 `json:"maximum,omitempty"`
	ExclusiveMinimum *float64 `json:"exclusiveMinimum,omitempty"`
	ExclusiveMaximum *float64 `json:"exclusiveMaximum,omitempty"`
	MinLength        *int     `json:"minLength,omitempty"`
	MaxLength        *int     `json:"maxLength,omitempty"`
	Pattern          string   `json:"pattern,omitempty"`
	// Format is an annotation only (Validation section 7.2.1, the 2020-12
	// default), as every validator without the format-assertion
	// vocabulary treats it.
	Format string `json:"format,omitempty"`

	// Applicators (Core section 10.2).
	AllOf []*Schema `json:"allOf,omitempty"`
	AnyOf []*Schema `json:"anyOf,omitempty"`
	OneOf []*Schema `json:"oneOf,omitempty"`
	Not   *Schema   `json:"not,omitempty"`
	If    *Schema   `json:"if,omitempty"`
	Then  *Schema   `json:"then,omitempty"`
	Else  *Schema   `json:"else,omitempty"`

	// Ref is "$ref" (Core section 8.2.3.1), resolved when the tool is
	// registered; only references into this schema's own $defs ("#/$defs/
	// name", nested $defs too) are followed. A cycle, or a schema whose
	// references expand past maxExpandedNodes subschemas or maxSchemaDepth
	// levels, is refused, so that checking an argument is bounded work.
	Ref  string             `json:"$ref,omitempty"`
	Defs map[string]*Schema `json:"$defs,omitempty"`

	// Default is filled in for an absent property before the handler runs
	// (an annotation in JSON Schema; MCP clients show it, we apply it).
	// Only a property's own default is used, not one behind its $ref or in
	// an applicator, where which default applies would be ambiguous.
	Default any `json:"default,omitempty"`

	// Extra holds every other keyword (if you like: $anchor, $comment,
	// examples, patternProperties, x-mcp-header), listed as given and not
	// checked. A key that has a field above is refused.
	Extra map[string]any `json:"-"`

	// Set by check, when the tool is registered; read-only afterwards.
	boolean *bool          // the schema was written as true or false
	re      *regexp.Regexp // Pattern, compiled
	target  *Schema        // what Ref names
	bare    bool           // nothing but (at most) $ref is checked here
	slow    bool           // the in-place check leaves this node to the decoding path
}

// Ptr returns a pointer to v, for the optional keywords of a Schema and the
// optional hints of mcp.ToolAnnotations.
func Ptr[T any](v T) *T { return &v }

// Bounds on a schema, checked at registration. maxExpandedNodes bounds the
// subschemas a $ref-expanded schema would have (a few $defs that each refer
// to the previous one twice otherwise expand exponentially);
// maxSchemaDepth bounds its nesting, and so the check's recursion.
const (
	maxExpandedNodes = 4096
	maxSchemaDepth   = 48
)

// dialect2020 is the meta-schema URI of JSON Schema 2020-12.
const dialect2020 = "https://json-schema.org/draft/2020-12/schema"

// Schema types of 2020-12 (Validation section 6.1.1).
var schemaTypes = []string{"object", "string", "integer", "number", "boolean", "array", "null"}

// ParseSchema reads a JSON Schema from JSON, for a schema written as a
// document rather than a Go literal. Keywords without a field go to Extra.
// It does not check the schema: NewTable does, when the tool is registered.
func ParseSchema(doc []byte) (*Schema, error) {
	s := new(Schema)
	if err := json.Unmarshal(doc, s); err != nil {
		return nil, fmt.Errorf("tools: schema: %v", err)
	}
	return s, nil
}

// knownKeywords maps each keyword that has a field to nothing, for
// UnmarshalJSON and the Extra check.
var knownKeywords = func() map[string]bool {
	m := map[string]bool{"type": true}
	t := reflect.TypeFor[Schema]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			m[name] = true
		}
	}
	return m
}()

// MarshalJSON writes the schema as JSON Schema: the fields, then Types as
// "type", then Extra in key order, so that tools/list is deterministic.
func (s *Schema) MarshalJSON() ([]byte, error) {
	if s.boolean != nil {
		return strconv.AppendBool(nil, *s.boolean), nil
	}
	type fields Schema // without this method
	b, err := json.Marshal((*fields)(s))
	if err != nil || len(s.Types) == 0 && len(s.Extra) == 0 {
		return b, err
	}
	b = b[:len(b)-1] // drop the '}'
	sep := func() {
		if len(b) > 1 {
			b = append(b, ',')
		}
	}
	if len(s.Types) > 0 {
		t, _ := json.Marshal(s.Types)
		sep()
		b = append(append(b, `"type":`...), t...)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Extra)) {
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(s.Extra[k])
		if err != nil {
			return nil, fmt.Errorf("keyword %s: %v", kb, err)
		}
		sep()
		b = append(append(append(b, kb...), ':'), vb...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads a schema: true and false are the boolean schemas
// (Core section 4.3.2), type may be a string or an array, a schema-valued
// additionalProperties and every keyword without a field go to Extra.
func (s *Schema) UnmarshalJSON(b []byte) error {
	t := bytes.TrimSpace(b)
	if string(t) == "true" || string(t) == "false" {
		*s = Schema{boolean: Ptr(string(t) == "true")}
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(t, &raw); err != nil {
		return fmt.Errorf("a schema must be an object or a boolean: %v", err)
	}
	*s = Schema{}
	known := map[string]json.RawMessage{}
	for k, v := range raw {
		v = bytes.TrimSpace(v)
		switch {
		case k == "type" && len(v) > 0 && v[0] == '[':
			if err := json.Unmarshal(v, &s.Types); err != nil {
				return fmt.Errorf("type: %v", err)
			}
		case k == "additionalProperties" && len(v) > 0 && v[0] == '{',
			!knownKeywords[k]:
			if s.Extra == nil {
				s.Extra = map[string]any{}
			}
			s.Extra[k] = v
		default:
			known[k] = v
		}
	}
	kb, _ := json.Marshal(known)
	d := json.NewDecoder(bytes.NewReader(kb))
	d.UseNumber()
	type fields Schema
	if err := d.Decode((*fields)(s)); err != nil {
		return err
	}
	return nil
}

// check reports why s is not a schema the validator can enforce, and
// prepares it for validation (resolves $ref, compiles patterns). path names
// the schema inside its tool, for the error message. It runs once per tool,
// in NewTable, before any concurrent use.
func (s *Schema) check(path string) error {
	if err := s.prepare(path, s, 0); err != nil {
		return err
	}
	memo := map[*Schema]int{}
	if _, err := s.expand(path, map[*Schema]bool{}, memo, 0); err != nil {
		return err
	}
	return s.checkValues(path, 0)
}

// subschemas calls yield for every subschema written inside s, with its path.
func (s *Schema) subschemas(path string, defs bool, yield func(string, *Schema) error) error {
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		if err := yield(joinPath(path, name), s.Properties[name]); err != nil {
			return err
		}
	}
	for i, p := range s.PrefixItems {
		if err := yield(fmt.Sprintf("%s.prefixItems[%d]", path, i), p); err != nil {
			return err
		}
	}
	if s.Items != nil {
		if err := yield(path+"[]", s.Items); err != nil {
			return err
		}
	}
	for _, l := range []struct {
		kw string
		ss []*Schema
	}{{"allOf", s.AllOf}, {"anyOf", s.AnyOf}, {"oneOf", s.OneOf}} {
		for i, p := range l.ss {
			if err := yield(fmt.Sprintf("%s.%s[%d]", path, l.kw, i), p); err != nil {
				return err
			}
		}
	}
	for _, o := range []struct {
		kw string
		s  *Schema
	}{{"not", s.Not}, {"if", s.If}, {"then", s.Then}, {"else", s.Else}} {
		if o.s != nil {
			if err := yield(path+"."+o.kw, o.s); err != nil {
				return err
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Defs)) {
		if !defs {
			break
		}
		if err := yield(path+".$defs."+name, s.Defs[name]); err != nil {
			return err
		}
	}
	return nil
}

// prepare checks the keywords of s and of every subschema as written, and
// resolves $ref against root.
func (s *Schema) prepare(path string, root *Schema, depth int) error {
	if s == nil {
		return fmt.Errorf("%s: missing schema", path)
	}
	if depth > maxSchemaDepth {
		return fmt.Errorf("%s: schema is nested more than %d levels deep", path, maxSchemaDepth)
	}
	if s.boolean != nil {
		return nil
	}
	if s.Dialect != "" && strings.TrimSuffix(s.Dialect, "#") != dialect2020 {
		return fmt.Errorf("%s: $schema %q is not supported; this server checks JSON Schema 2020-12 (%s)", path, s.Dialect, dialect2020)
	}
	if s.Type != "" && len(s.Types) > 0 {
		return fmt.Errorf("%s: set Type or Types, not both", path)
	}
	for _, t := range append([]string{s.Type}, s.Types...) {
		if t != "" && !slices.Contains(schemaTypes, t) {
			return fmt.Errorf("%s: type %q is not one of %s", path, t, strings.Join(schemaTypes, ", "))
		}
	}
	for k := range s.Extra {
		if knownKeywords[k] && k != "additionalProperties" || k == "additionalProperties" && s.AdditionalProperties != nil {
			return fmt.Errorf("%s: keyword %q is in Extra but has a field of its own", path, k)
		}
	}
	// A keyword for another type than the one declared can never apply:
	// 2020-12 allows it, but it is always an author's mistake.
	if s.Type != "" {
		if s.Type != "object" && (s.Properties != nil || s.Required != nil || s.AdditionalProperties != nil || s.MinProperties != nil || s.MaxProperties != nil) {
			return fmt.Errorf("%s: properties, required and additionalProperties apply only to type object", path)
		}
		if s.Type != "array" && (s.Items != nil || s.PrefixItems != nil || s.MinItems != nil || s.MaxItems != nil || s.UniqueItems) {
			return fmt.Errorf("%s: items applies only to type array", path)
		}
		if s.Type != "integer" && s.Type != "number" && (s.Minimum != nil || s.Maximum != nil || s.ExclusiveMinimum != nil || s.ExclusiveMaximum != nil) {
			return fmt.Errorf("%s: minimum and maximum apply only to numbers", path)
		}
		if s.Type != "string" && (s.MinLength != nil || s.MaxLength != nil || s.Pattern != "") {
			return fmt.Errorf("%s: minLength, maxLength and pattern apply only to strings", path)
		}
	}
	for _, f := range []*float64{s.Minimum, s.Maximum, s.ExclusiveMinimum, s.ExclusiveMaximum} {
		if f != nil && (math.IsInf(*f, 0) || math.IsNaN(*f)) {
			return fmt.Errorf("%s: a numeric bound must be a finite number", path)
		}
	}
	if s.Minimum != nil && s.Maximum != nil && *s.Minimum > *s.Maximum {
		return fmt.Errorf("%s: minimum %v is above maximum %v", path, *s.Minimum, *s.Maximum)
	}
	for _, b := range []struct {
		lo, hi *int
		kw     string
	}{{s.MinLength, s.MaxLength, "Length"}, {s.MinItems, s.MaxItems, "Items"}, {s.MinProperties, s.MaxProperties, "Properties"}} {
		if b.lo != nil && *b.lo < 0 || b.hi != nil && *b.hi < 0 {
			return fmt.Errorf("%s: min%s and max%s must not be negative", path, b.kw, b.kw)
		}
		if b.lo != nil && b.hi != nil && *b.lo > *b.hi {
			return fmt.Errorf("%s: min%s %d is above max%s %d", path, b.kw, *b.lo, b.kw, *b.hi)
		}
	}
	if s.AdditionalProperties != nil && !*s.AdditionalProperties && s.Ref == "" && s.AllOf == nil && s.AnyOf == nil && s.OneOf == nil && s.If == nil {
		for _, r := range s.Required {
			if _, ok := s.Properties[r]; !ok {
				return fmt.Errorf("%s: required property %q is not declared in properties, and additionalProperties false refuses it", path, r)
			}
		}
	}
	s.re = nil
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return fmt.Errorf("%s: pattern %q is not one this server can check (Go RE2 syntax; no lookaround or backreferences): %v", path, s.Pattern, err)
		}
		s.re = re
	}
	s.target = nil
	if s.Ref != "" {
		t, err := resolveRef(root, s.Ref)
		if err != nil {
			return fmt.Errorf("%s: $ref %q: %v", path, s.Ref, err)
		}
		s.target = t
	}
	s.bare = s.Type == "" && len(s.Types) == 0 && s.Properties == nil && s.Required == nil && s.AdditionalProperties == nil &&
		s.MinProperties == nil && s.MaxProperties == nil && s.PrefixItems == nil && s.Items == nil && s.MinItems == nil &&
		s.MaxItems == nil && !s.UniqueItems && s.Enum == nil && s.Const == nil && s.Minimum == nil && s.Maximum == nil &&
		s.ExclusiveMinimum == nil && s.ExclusiveMaximum == nil && s.MinLength == nil && s.MaxLength == nil && s.Pattern == "" &&
		s.AllOf == nil && s.AnyOf == nil && s.OneOf == nil && s.Not == nil && s.If == nil && s.Then == nil && s.Else == nil
	// The in-place check (inplace.go) knows the keywords of one declared
	// type; a node with any other keyword is left to the decoding path.
	s.slow = s.Type == "" || s.Type == "null" || len(s.Types) > 0 || s.Const != nil || s.Pattern != "" ||
		s.ExclusiveMinimum != nil || s.ExclusiveMaximum != nil || s.MinItems != nil || s.MaxItems != nil || s.UniqueItems ||
		s.MinProperties != nil || s.MaxProperties != nil || s.PrefixItems != nil ||
		s.AllOf != nil || s.AnyOf != nil || s.OneOf != nil || s.Not != nil || s.If != nil || s.Then != nil || s.Else != nil
	return s.subschemas(path, true, func(p string, sub *Schema) error { return sub.prepare(p, root, depth+1) })
}

// resolveRef finds the subschema a "#/$defs/a/$defs/b" reference names
// (Core section 8.2.3.1 with a JSON Pointer fragment, RFC 6901).
func resolveRef(root *Schema, ref string) (*Schema, error) {
	rest, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, errors.New("only references within the same schema (starting with #/$defs/) are followed")
	}
	s := root
	if rest == "" {
		return s, nil
	}
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	if !strings.HasPrefix(rest, "/") || len(parts)%2 != 0 {
		return nil, errors.New("only JSON Pointers to #/$defs/<name> are followed (no anchors)")
	}
	for i := 0; i < len(parts); i += 2 {
		if parts[i] != "$defs" {
			return nil, fmt.Errorf("only pointers through $defs are followed, not %q", parts[i])
		}
		name := strings.ReplaceAll(strings.ReplaceAll(parts[i+1], "~1", "/"), "~0", "~")
		next, ok := s.Defs[name]
		if !ok || next == nil {
			return nil, fmt.Errorf("no $defs entry %q", name)
		}
		s = next
	}
	return s, nil
}

// expand walks s as validation would, following $ref, and returns how many
// subschemas that visits; it refuses a cycle and the bounds.
func (s *Schema) expand(path string, onPath map[*Schema]bool, memo map[*Schema]int, depth int) (int, error) {
	if n, ok := memo[s]; ok {
		return n, nil
	}
	if onPath[s] {
		return 0, fmt.Errorf("%s: $ref cycle: the schema refers back to itself (recursive schemas are not supported)", path)
	}
	if depth > maxSchemaDepth {
		return 0, fmt.Errorf("%s: schema is nested more than %d levels deep once $ref is expanded", path, maxSchemaDepth)
	}
	onPath[s] = true
	defer delete(onPath, s)
	n := 1
	add := func(p string, sub *Schema) error {
		k, err := sub.expand(p, onPath, memo, depth+1)
		n += k
		if err == nil && n > maxExpandedNodes {
			err = fmt.Errorf("%s: schema expands to more than %d subschemas once $ref is expanded", path, maxExpandedNodes)
		}
		return err
	}
	if s.target != nil {
		if err := add(path+".$ref", s.target); err != nil {
			return 0, err
		}
	}
	// $defs count where they are used, not where they are declared.
	if err := s.subschemas(path, false, add); err != nil {
		return 0, err
	}
	for _, name := range slices.Sorted(maps.Keys(s.Defs)) { // unused ones must not cycle either
		if _, err := s.Defs[name].expand(path+".$defs."+name, onPath, memo, depth+1); err != nil {
			return 0, err
		}
	}
	memo[s] = n
	return n, nil
}

// checkValues checks that enum members, const and defaults are valid
// instances, or the schema promises values it would refuse.
func (s *Schema) checkValues(path string, depth int) error {
	if s.boolean != nil {
		return nil
	}
	for i, e := range s.Enum {
		v, err := normalize(e)
		if err != nil {
			return fmt.Errorf("%s: enum[%d]: %v", path, i, err)
		}
		if err := s.withoutEnum().firstError(path, v); err != nil {
			return fmt.Errorf("%s: enum[%d] is not valid for the schema: %v", path, i, err)
		}
	}
	if s.Const != nil {
		if _, err := normalize(s.Const); err != nil {
			return fmt.Errorf("%s: const: %v", path, err)
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
	return s.subschemas(path, true, func(p string, sub *Schema) error { return sub.checkValues(p, depth+1) })
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
// defaults filled in. s must have been checked, as NewTable does: that is
// where $ref is resolved and patterns are compiled. Absent or null arguments count as an empty object, as
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

// apply fills defaults into absent object properties, recursively through
// properties, prefixItems, items and $ref, and sets *changed when it
// altered v. It does not enter allOf, anyOf, oneOf, not or if/then/else:
// which of their defaults would apply is not defined by 2020-12.
func (s *Schema) apply(v any, changed *bool) any {
	if s.boolean != nil {
		return v
	}
	if s.target != nil {
		v = s.target.apply(v, changed)
	}
	switch x := v.(type) {
	case map[string]any:
		for name, p := range s.Properties {
			if cur, present := x[name]; present {
				x[name] = p.apply(cur, changed)
			} else if p.Default != nil {
				d, _ := normalize(p.Default) // checked in NewTable
				x[name] = d
				*changed = true
			}
		}
	case []any:
		for i := range x {
			if i < len(s.PrefixItems) {
				x[i] = s.PrefixItems[i].apply(x[i], changed)
			} else if s.Items != nil {
				x[i] = s.Items.apply(x[i], changed)
			}
		}
	case json.Number:
		// 6.0 and 6e0 are integers in JSON Schema but not to encoding/json's
		// int; hand the handler the plain form.
		if s.Type == "integer" {
			if _, err := x.Int64(); err != nil {
				if f, err := x.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
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
// Keywords for one kind of value apply only to values of that kind (Core
// section 7.6.1); the type keyword says which kinds are allowed.
func (s *Schema) validate(path string, v any, errs *ValidationError) {
	fail := func(at, rule, format string, args ...any) {
		if at == "" {
			at = "arguments"
		}
		if len(*errs) < maxReportedErrors {
			*errs = append(*errs, &ArgumentError{Path: at, Rule: rule, Message: fmt.Sprintf(format, args...)})
		}
	}
	if s.boolean != nil {
		if !*s.boolean {
			fail(path, "false", "is not allowed here (the schema is false)")
		}
		return
	}
	if s.target != nil {
		s.target.validate(path, v, errs)
	}
	if s.Type != "" && !hasType(v, s.Type) {
		fail(path, "type", "must be %s %s, got %s", article(s.Type), s.Type, describe(v))
		return
	}
	if len(s.Types) > 0 && !slices.ContainsFunc(s.Types, func(t string) bool { return hasType(v, t) }) {
		fail(path, "type", "must be one of %s, got %s", strings.Join(s.Types, ", "), describe(v))
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
	if s.Const != nil {
		if c, _ := normalize(s.Const); !equalJSON(c, v) {
			want, _ := json.Marshal(s.Const)
			fail(path, "const", "must be %s", clip(string(want)))
		}
	}
	switch x := v.(type) {
	case json.Number:
		f, _ := strconv.ParseFloat(string(x), 64)
		if s.Minimum != nil && f < *s.Minimum {
			fail(path, "minimum", "must be at least %s, got %s", fmtNum(*s.Minimum), clip(string(x)))
		}
		if s.Maximum != nil && f > *s.Maximum {
			fail(path, "maximum", "must be at most %s, got %s", fmtNum(*s.Maximum), clip(string(x)))
		}
		if s.ExclusiveMinimum != nil && f <= *s.ExclusiveMinimum {
			fail(path, "exclusiveMinimum", "must be more than %s, got %s", fmtNum(*s.ExclusiveMinimum), clip(string(x)))
		}
		if s.ExclusiveMaximum != nil && f >= *s.ExclusiveMaximum {
			fail(path, "exclusiveMaximum", "must be less than %s, got %s", fmtNum(*s.ExclusiveMaximum), clip(string(x)))
		}
	case string:
		n := utf8.RuneCountInString(x) // 2020-12 counts characters, not bytes
		if s.MinLength != nil && n < *s.MinLength {
			fail(path, "minLength", "must be at least %d characters long, got %d", *s.MinLength, n)
		}
		if s.MaxLength != nil && n > *s.MaxLength {
			fail(path, "maxLength", "must be at most %d characters long, got %d", *s.MaxLength, n)
		}
		if s.re != nil && !s.re.MatchString(x) {
			fail(path, "pattern", "must match the pattern %s", clip(strconv.Quote(s.Pattern)))
		}
	case []any:
		if s.MinItems != nil && len(x) < *s.MinItems {
			fail(path, "minItems", "must have at least %d items, got %d", *s.MinItems, len(x))
		}
		if s.MaxItems != nil && len(x) > *s.MaxItems {
			fail(path, "maxItems", "must have at most %d items, got %d", *s.MaxItems, len(x))
		}
		if s.UniqueItems {
			seen := make(map[string]int, len(x))
			for i, item := range x {
				k := canonical(nil, item)
				if j, dup := seen[string(k)]; dup {
					fail(fmt.Sprintf("%s[%d]", path, i), "uniqueItems", "repeats item %d", j)
					break
				}
				seen[string(k)] = i
			}
		}
		for i, item := range x {
			if i < len(s.PrefixItems) {
				s.PrefixItems[i].validate(fmt.Sprintf("%s[%d]", path, i), item, errs)
			} else if s.Items != nil {
				s.Items.validate(fmt.Sprintf("%s[%d]", path, i), item, errs)
			}
		}
	case map[string]any:
		for _, r := range s.Required {
			if _, ok := x[r]; !ok {
				fail(joinPath(path, r), "required", "is required")
			}
		}
		if s.MinProperties != nil && len(x) < *s.MinProperties {
			fail(path, "minProperties", "must have at least %d properties, got %d", *s.MinProperties, len(x))
		}
		if s.MaxProperties != nil && len(x) > *s.MaxProperties {
			fail(path, "maxProperties", "must have at most %d properties, got %d", *s.MaxProperties, len(x))
		}
		names := make([]string, 0, len(x))
		for name := range x {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if p, ok := s.Properties[name]; ok {
				p.validate(joinPath(path, name), x[name], errs)
			} else if s.AdditionalProperties != nil && !*s.AdditionalProperties {
				fail(joinPath(path, name), "additionalProperties", "is not a known property")
			}
		}
	}
	// Applicators (Core section 10.2): allOf reports its members' errors as
	// they are; the others report one error naming the keyword.
	for _, sub := range s.AllOf {
		sub.validate(path, v, errs)
	}
	if len(s.AnyOf) > 0 {
		var first error
		matched := false
		for _, sub := range s.AnyOf {
			err := sub.firstError(path, v)
			if err == nil {
				matched = true
				break
			}
			if first == nil {
				first = err
			}
		}
		if !matched {
			fail(path, "anyOf", "must match at least one of the %d schemas in anyOf; the first says: %v", len(s.AnyOf), first)
		}
	}
	if len(s.OneOf) > 0 {
		n := 0
		for _, sub := range s.OneOf {
			if sub.firstError(path, v) == nil {
				n++
			}
		}
		if n != 1 {
			fail(path, "oneOf", "must match exactly one of the %d schemas in oneOf, matches %d", len(s.OneOf), n)
		}
	}
	if s.Not != nil && s.Not.firstError(path, v) == nil {
		fail(path, "not", "must not match the schema in not")
	}
	if s.If != nil {
		if s.If.firstError(path, v) == nil {
			if s.Then != nil {
				s.Then.validate(path, v, errs)
			}
		} else if s.Else != nil {
			s.Else.validate(path, v, errs)
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
	case "null":
		return v == nil
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

// equalJSON is JSON Schema equality (Validation section 4.2.2): numbers by
// value, objects regardless of member order.
func equalJSON(a, b any) bool {
	switch a := a.(type) { // the common cases, without encoding
	case string:
		bs, ok := b.(string)
		return ok && a == bs
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	}
	return bytes.Equal(canonical(nil, a), canonical(nil, b))
}

// canonical appends a form of v that is equal for equal JSON values:
// numbers as their float64 value (so 1, 1.0 and -0 are 0's and 1's), object
// members sorted by name.
func canonical(dst []byte, v any) []byte {
	switch x := v.(type) {
	case json.Number:
		f, _ := strconv.ParseFloat(string(x), 64)
		if f == 0 {
			f = 0 // -0 equals 0
		}
		return strconv.AppendFloat(append(dst, 'n'), f, 'g', -1, 64)
	case []any:
		dst = append(dst, '[')
		for _, e := range x {
			dst = append(canonical(dst, e), ',')
		}
		return append(dst, ']')
	case map[string]any:
		dst = append(dst, '{')
		for _, k := range slices.Sorted(maps.Keys(x)) {
			dst = strconv.AppendQuote(dst, k)
			dst = append(canonical(append(dst, ':'), x[k]), ',')
		}
		return append(dst, '}')
	}
	b, _ := json.Marshal(v)
	return append(dst, b...)
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
