package tools

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// testSchema exercises every keyword the validator supports.
func testSchema() *Schema {
	return &Schema{
		Type: "object",
		Properties: map[string]*Schema{
			"prompt": {Type: "string", MinLength: Ptr(1), MaxLength: Ptr(5)},
			"steps":  {Type: "integer", Minimum: Ptr(4.0), Maximum: Ptr(8.0), Default: 4},
			"ratio":  {Type: "number", Minimum: Ptr(-1.5)},
			"flag":   {Type: "boolean"},
			"mode":   {Type: "string", Enum: []any{"fast", "slow"}, Default: "fast"},
			"tags":   {Type: "array", Items: &Schema{Type: "string", MaxLength: Ptr(3)}},
			"inner": {
				Type:                 "object",
				Properties:           map[string]*Schema{"n": {Type: "integer", Default: 7}},
				AdditionalProperties: Ptr(false),
			},
		},
		Required:             []string{"prompt"},
		AdditionalProperties: Ptr(false),
	}
}

func TestSchemaValidate(t *testing.T) {
	s := testSchema()
	if err := s.check("inputSchema"); err != nil {
		t.Fatalf("test schema is not well formed: %v", err)
	}
	cases := []struct {
		name string
		args string
		// want is the normalized JSON on success; wantErr lists substrings of
		// the error ("path: ... (rule)") on failure.
		want    string
		wantErr []string
	}{
		{"defaults applied", `{"prompt":"cat"}`, `{"mode":"fast","prompt":"cat","steps":4}`, nil},
		{"given values kept", `{"prompt":"cat","steps":8,"mode":"slow"}`, `{"mode":"slow","prompt":"cat","steps":8}`, nil},
		{"nested default", `{"prompt":"cat","inner":{}}`, `{"inner":{"n":7},"mode":"fast","prompt":"cat","steps":4}`, nil},
		{"integer written as 6.0", `{"prompt":"cat","steps":6.0}`, `{"mode":"fast","prompt":"cat","steps":6}`, nil},
		{"integer written as 7e0", `{"prompt":"cat","steps":7e0}`, `{"mode":"fast","prompt":"cat","steps":7}`, nil},
		{"characters not bytes", `{"prompt":"ééééé"}`, `{"mode":"fast","prompt":"ééééé","steps":4}`, nil},
		{"all kinds", `{"prompt":"a","ratio":-1.5,"flag":true,"tags":["x","yz"]}`, `{"flag":true,"mode":"fast","prompt":"a","ratio":-1.5,"steps":4,"tags":["x","yz"]}`, nil},

		{"missing required", `{}`, "", []string{"prompt: is required (required)"}},
		{"null arguments are an empty object", `null`, "", []string{"prompt: is required (required)"}},
		{"absent arguments are an empty object", ``, "", []string{"prompt: is required (required)"}},
		{"wrong type string", `{"prompt":5}`, "", []string{"prompt: must be a string, got the number 5 (type)"}},
		{"wrong type integer", `{"prompt":"a","steps":4.5}`, "", []string{"steps: must be an integer, got the number 4.5 (type)"}},
		{"integer as string", `{"prompt":"a","steps":"6"}`, "", []string{"steps: must be an integer, got a string (type)"}},
		{"wrong type boolean", `{"prompt":"a","flag":"yes"}`, "", []string{"flag: must be a boolean, got a string (type)"}},
		{"null is not a string", `{"prompt":null}`, "", []string{"prompt: must be a string, got null (type)"}},
		{"below minimum", `{"prompt":"a","steps":3}`, "", []string{"steps: must be at least 4, got 3 (minimum)"}},
		{"above maximum", `{"prompt":"a","steps":9}`, "", []string{"steps: must be at most 8, got 9 (maximum)"}},
		{"fractional minimum", `{"prompt":"a","ratio":-2}`, "", []string{"ratio: must be at least -1.5, got -2 (minimum)"}},
		{"too short", `{"prompt":""}`, "", []string{"prompt: must be at least 1 characters long, got 0 (minLength)"}},
		{"too long", `{"prompt":"abcdef"}`, "", []string{"prompt: must be at most 5 characters long, got 6 (maxLength)"}},
		{"not in enum", `{"prompt":"a","mode":"medium"}`, "", []string{`mode: must be one of ["fast","slow"] (enum)`}},
		{"unknown property", `{"prompt":"a","colour":"red"}`, "", []string{"colour: is not a known property (additionalProperties)"}},
		{"nested unknown property", `{"prompt":"a","inner":{"m":1}}`, "", []string{"inner.m: is not a known property (additionalProperties)"}},
		{"array item", `{"prompt":"a","tags":["ok","long"]}`, "", []string{"tags[1]: must be at most 3 characters long, got 4 (maxLength)"}},
		{"not an object", `[1,2]`, "", []string{"arguments: must be an object, got an array (type)"}},
		{"several errors, all named", `{"steps":9,"extra":1}`, "", []string{"prompt: is required", "extra: is not a known property", "steps: must be at most 8"}},
		{"not JSON", `{"prompt":`, "", []string{"not valid JSON"}},
		{"trailing data", `{"prompt":"a"} {}`, "", []string{"not valid JSON"}},
		{"trailing brace", `{"prompt":"a","steps":4,"mode":"fast"}}`, "", []string{"not valid JSON"}},
		{"trailing bracket", `{"prompt":"a"} ]`, "", []string{"not valid JSON"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := testSchema().Validate(json.RawMessage(c.args))
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate(%s) = %v, want success", c.args, err)
				}
				// Key order is not part of the answer: unchanged arguments
				// come back as sent, filled-in ones re-encoded.
				var g, w any
				if json.Unmarshal(got, &g) != nil || json.Unmarshal([]byte(c.want), &w) != nil || !reflect.DeepEqual(g, w) {
					t.Fatalf("Validate(%s) = %s, want %s", c.args, got, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%s) = %s, want an error", c.args, got)
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate(%s) error %q does not contain %q", c.args, err, w)
				}
			}
		})
	}
}

func TestValidationErrorIsStructured(t *testing.T) {
	_, err := testSchema().Validate(json.RawMessage(`{"prompt":"a","steps":2}`))
	var ve ValidationError
	if !errors.As(err, &ve) || len(ve) != 1 {
		t.Fatalf("error %v is not a ValidationError with one entry", err)
	}
	if ve[0].Path != "steps" || ve[0].Rule != "minimum" {
		t.Fatalf("got path %q rule %q, want steps/minimum", ve[0].Path, ve[0].Rule)
	}
}

func TestValidationErrorsAreBounded(t *testing.T) {
	args := map[string]any{}
	for i := range 50 {
		args[strings.Repeat("x", i+1)] = i
	}
	b, _ := json.Marshal(args)
	_, err := testSchema().Validate(b)
	var ve ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a ValidationError", err)
	}
	if len(ve) != maxReportedErrors {
		t.Fatalf("got %d errors, want the cap %d", len(ve), maxReportedErrors)
	}
}

func TestSchemaCheckRefusesWhatItCannotEnforce(t *testing.T) {
	cases := []struct {
		name string
		s    *Schema
		want string
	}{
		{"unknown type", &Schema{Type: "int"}, `type "int" is not one of`},
		{"unknown type in the array form", &Schema{Types: []string{"string", "nil"}}, `type "nil" is not one of`},
		{"both type forms", &Schema{Type: "string", Types: []string{"null"}}, "not both"},
		{"required refused by additionalProperties", &Schema{Type: "object", Required: []string{"x"}, AdditionalProperties: Ptr(false)}, `required property "x" is not declared`},
		{"min above max", &Schema{Type: "integer", Minimum: Ptr(5.0), Maximum: Ptr(1.0)}, "minimum 5 is above maximum 1"},
		{"minLength above maxLength", &Schema{Type: "string", MinLength: Ptr(3), MaxLength: Ptr(2)}, "minLength 3 is above maxLength 2"},
		{"negative length", &Schema{Type: "string", MaxLength: Ptr(-1)}, "must not be negative"},
		{"length on number", &Schema{Type: "number", MaxLength: Ptr(3)}, "apply only to strings"},
		{"minimum on string", &Schema{Type: "string", Minimum: Ptr(1.0)}, "apply only to numbers"},
		{"properties on string", &Schema{Type: "string", Properties: map[string]*Schema{}}, "apply only to type object"},
		{"pattern on number", &Schema{Type: "number", Pattern: "x"}, "apply only to strings"},
		{"minItems above maxItems", &Schema{Type: "array", MinItems: Ptr(2), MaxItems: Ptr(1)}, "minItems 2 is above maxItems 1"},
		{"infinite bound", &Schema{Type: "number", ExclusiveMaximum: Ptr(math.Inf(1))}, "finite"},
		{"pattern RE2 cannot run", &Schema{Type: "string", Pattern: `^(?!admin)`}, "not one this server can check"},
		{"other dialect", &Schema{Dialect: "http://json-schema.org/draft-07/schema#", Type: "object"}, "is not supported"},
		{"extra shadows a field", &Schema{Type: "object", Extra: map[string]any{"minimum": 1}}, `keyword "minimum" is in Extra`},
		{"const of another type", &Schema{Type: "string", Enum: []any{"a"}, AllOf: []*Schema{{Const: "b"}}}, "enum[0] is not valid"},
		{"ref outside the schema", &Schema{Ref: "https://example.com/s"}, "only references within the same schema"},
		{"ref to an anchor", &Schema{Ref: "#addressDef"}, "no anchors"},
		{"ref through properties", &Schema{Ref: "#/properties/a"}, "only pointers through $defs"},
		{"ref to a missing def", &Schema{Type: "object", Properties: map[string]*Schema{"a": {Ref: "#/$defs/b"}}}, `no $defs entry "b"`},
		{"ref to the root", &Schema{Type: "object", Properties: map[string]*Schema{"self": {Ref: "#"}}}, "$ref cycle"},
		{"ref cycle through defs", &Schema{Type: "object", Properties: map[string]*Schema{"a": {Ref: "#/$defs/a"}},
			Defs: map[string]*Schema{"a": {Ref: "#/$defs/b"}, "b": {AnyOf: []*Schema{{Type: "string"}, {Ref: "#/$defs/a"}}}}}, "$ref cycle"},
		{"ref cycle in an unused def", &Schema{Type: "object", Defs: map[string]*Schema{"a": {Items: &Schema{Ref: "#/$defs/a"}}}}, "$ref cycle"},
		{"ref expansion", doublingSchema(14), "expands to more than 4096 subschemas"},
		{"ref depth", chainSchema(60), "nested more than 48 levels"},
		{"nil subschema", &Schema{AnyOf: []*Schema{nil}}, "s.anyOf[0]: missing schema"},
		{"default out of range", &Schema{Type: "integer", Maximum: Ptr(8.0), Default: 9}, "default is not valid"},
		{"default of wrong type", &Schema{Type: "integer", Default: "four"}, "default is not valid"},
		{"enum member of wrong type", &Schema{Type: "string", Enum: []any{"a", 1}}, "enum[1] is not valid"},
		{"nested bad property", &Schema{Type: "object", Properties: map[string]*Schema{"p": {Type: "int"}}}, `s.p: type "int"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.s.check("s")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("check() = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestSchemaMarshalsAsJSONSchema(t *testing.T) {
	b, err := json.Marshal(&Schema{
		Type:       "object",
		Properties: map[string]*Schema{"steps": {Type: "integer", Minimum: Ptr(4.0), Maximum: Ptr(8.0), Default: 4, Description: "d"}},
		Required:   []string{"steps"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"object","properties":{"steps":{"type":"integer","description":"d","minimum":4,"maximum":8,"default":4}},"required":["steps"]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

// normalize skips the JSON round trip for the common kinds of a schema
// literal; it must give what the round trip gives.
func TestNormalizeAgreesWithRoundTrip(t *testing.T) {
	for _, v := range []any{
		true, false, 0, -7, 1 << 62, -1 << 63, "", "fast", "<b>&amp;", "é\u2028", "x\xffy", "\xed\xa0\x80",
		4.0, 0.1, json.Number("6.0"), []any{1, "a"}, map[string]any{"k": 1}, nil,
	} {
		got, err := normalize(v)
		want, wantErr := roundTrip(v)
		if !reflect.DeepEqual(got, want) || (err == nil) != (wantErr == nil) {
			t.Errorf("normalize(%#v) = %#v, %v; the round trip gives %#v, %v", v, got, err, want, wantErr)
		}
	}
}

// doublingSchema has n $defs, each referring to the one before twice: it is
// small as written and 2^n subschemas once expanded.
func doublingSchema(n int) *Schema {
	defs := map[string]*Schema{"d0": {Type: "string"}}
	for i := 1; i < n; i++ {
		prev := fmt.Sprintf("#/$defs/d%d", i-1)
		defs[fmt.Sprintf("d%d", i)] = &Schema{AnyOf: []*Schema{{Ref: prev}, {Items: &Schema{Ref: prev}}}}
	}
	return &Schema{Type: "object", Properties: map[string]*Schema{"x": {Ref: fmt.Sprintf("#/$defs/d%d", n-1)}}, Defs: defs}
}

// chainSchema has n $defs, each referring to the next: no cycle, but deep.
func chainSchema(n int) *Schema {
	defs := map[string]*Schema{fmt.Sprintf("d%d", n): {Type: "string"}}
	for i := range n {
		defs[fmt.Sprintf("d%d", i)] = &Schema{Ref: fmt.Sprintf("#/$defs/d%d", i+1)}
	}
	return &Schema{Type: "object", Properties: map[string]*Schema{"x": {Ref: "#/$defs/d0"}}, Defs: defs}
}

// conformanceFixture is the focal inputSchema of the MCP conformance
// scenario json-schema-2020-12 (SEP-1613, SEP-2106), with two keywords
// this server does not check ($anchor and a vendor keyword) and a pattern.
const conformanceFixture = `{
	"$schema": "https://json-schema.org/draft/2020-12/schema",
	"type": "object",
	"$defs": {"address": {"$anchor": "addressDef", "type": "object",
		"properties": {"street": {"type": "string"}, "city": {"type": "string", "pattern": "^[A-Z]"}}}},
	"properties": {
		"name": {"type": "string", "x-vendor": {"ui": "wide"}},
		"address": {"$ref": "#/$defs/address"},
		"contactMethod": {"type": "string", "enum": ["phone", "email"]},
		"phone": {"type": "string"},
		"email": {"type": "string", "format": "email"}
	},
	"allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
	"if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
	"then": {"required": ["phone"]},
	"else": {"required": ["email"]},
	"additionalProperties": false
}`

// TestParseSchemaKeepsEveryKeyword: what a tool declares is what tools/list
// shows, keywords the check ignores included.
func TestParseSchemaKeepsEveryKeyword(t *testing.T) {
	s, err := ParseSchema([]byte(conformanceFixture))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.check("inputSchema"); err != nil {
		t.Fatalf("check: %v", err)
	}
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(conformanceFixture), &w)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("tools/list would show\n%s\nbut the tool declared\n%s", got, conformanceFixture)
	}
	again, _ := json.Marshal(s)
	if string(again) != string(got) {
		t.Fatalf("marshalling is not deterministic:\n%s\n%s", got, again)
	}
	// Boolean schemas, the array form of type and a schema-valued
	// additionalProperties survive too.
	const odd = `{"type":["string","null"],"items":false,"not":true,"additionalProperties":{"type":"string"}}`
	s2, err := ParseSchema([]byte(odd))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s2)
	var g2, w2 any
	json.Unmarshal(b, &g2)
	json.Unmarshal([]byte(odd), &w2)
	if !reflect.DeepEqual(g2, w2) {
		t.Fatalf("got %s, want %s", b, odd)
	}
	if _, err := ParseSchema([]byte(`[1]`)); err == nil {
		t.Fatal("an array was accepted as a schema")
	}
}

// TestSchemaValidate2020 checks the keywords beyond the original subset,
// through the conformance scenario's schema and small ones.
func TestSchemaValidate2020(t *testing.T) {
	fixture, err := ParseSchema([]byte(conformanceFixture))
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.check("inputSchema"); err != nil {
		t.Fatal(err)
	}
	tuple := &Schema{Type: "object", Properties: map[string]*Schema{
		"point": {Type: "array", PrefixItems: []*Schema{{Type: "number"}, {Type: "number"}}, Items: &Schema{Type: "string"}, MinItems: Ptr(2), MaxItems: Ptr(3)},
		"tags":  {Type: "array", UniqueItems: true},
		"code":  {Type: "string", Pattern: `^[a-z]{3}-\d+$`},
		"ratio": {Type: "number", ExclusiveMinimum: Ptr(0.0), ExclusiveMaximum: Ptr(1.0)},
		"kind":  {Const: "fixed"},
		"maybe": {Types: []string{"integer", "null"}},
		"one":   {OneOf: []*Schema{{Type: "integer"}, {Type: "number", Minimum: Ptr(10.0)}}},
		"notx":  {Not: &Schema{Const: "x"}},
		"never": {boolean: Ptr(false)},
		"bag":   {Type: "object", MinProperties: Ptr(1), MaxProperties: Ptr(2)},
		"deep":  {Ref: "#/$defs/n"},
	}, Defs: map[string]*Schema{"n": {Type: "integer", Maximum: Ptr(5.0)}}}
	if err := tuple.check("s"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		s       *Schema
		args    string
		wantErr string // "" for valid
	}{
		{"fixture phone", fixture, `{"name":"Ada","contactMethod":"phone","phone":"1"}`, ""},
		{"fixture email", fixture, `{"email":"a@b","address":{"street":"x","city":"London"}}`, ""},
		{"fixture neither", fixture, `{"name":"Ada"}`, "must match at least one of the 2 schemas in anyOf"},
		{"fixture if/then", fixture, `{"contactMethod":"phone","email":"a@b"}`, "phone: is required (required)"},
		{"fixture else", fixture, `{"contactMethod":"email","phone":"1"}`, "email: is required (required)"},
		{"fixture ref", fixture, `{"contactMethod":"phone","phone":"1","address":{"city":5}}`, "address.city: must be a string"},
		{"fixture pattern in ref", fixture, `{"contactMethod":"phone","phone":"1","address":{"city":"london"}}`, `address.city: must match the pattern "^[A-Z]" (pattern)`},
		{"fixture additional", fixture, `{"contactMethod":"phone","phone":"1","fax":"2"}`, "fax: is not a known property"},
		{"fixture format is an annotation", fixture, `{"email":"not an address"}`, ""},
		{"prefixItems", tuple, `{"point":[1,2,"z"]}`, ""},
		{"prefixItems type", tuple, `{"point":["1",2]}`, "point[0]: must be a number"},
		{"items after prefix", tuple, `{"point":[1,2,3]}`, "point[2]: must be a string"},
		{"minItems", tuple, `{"point":[1]}`, "must have at least 2 items, got 1 (minItems)"},
		{"maxItems", tuple, `{"point":[1,2,"a","b"]}`, "must have at most 3 items, got 4 (maxItems)"},
		{"uniqueItems", tuple, `{"tags":[1,{"a":[1]},1.0]}`, "tags[2]: repeats item 0 (uniqueItems)"},
		{"uniqueItems objects", tuple, `{"tags":[{"a":1,"b":2},{"b":2,"a":1}]}`, "repeats item 0"},
		{"uniqueItems distinct", tuple, `{"tags":[1,"1",[1],{"1":1},true,null]}`, ""},
		{"pattern", tuple, `{"code":"abc-12"}`, ""},
		{"pattern not anchored by default", tuple, `{"code":"ab-12"}`, "must match the pattern"},
		{"exclusiveMinimum", tuple, `{"ratio":0}`, "must be more than 0, got 0 (exclusiveMinimum)"},
		{"exclusiveMaximum", tuple, `{"ratio":1}`, "must be less than 1, got 1 (exclusiveMaximum)"},
		{"const", tuple, `{"kind":"moving"}`, `kind: must be "fixed" (const)`},
		{"type array", tuple, `{"maybe":null}`, ""},
		{"type array refuses", tuple, `{"maybe":"1"}`, "must be one of integer, null, got a string (type)"},
		{"oneOf none", tuple, `{"one":1.5}`, "matches 0 (oneOf)"},
		{"oneOf both", tuple, `{"one":12}`, "matches 2 (oneOf)"},
		{"oneOf one", tuple, `{"one":10.5}`, ""},
		{"not", tuple, `{"notx":"x"}`, "must not match the schema in not"},
		{"false schema", tuple, `{"never":1}`, "never: is not allowed here"},
		{"minProperties", tuple, `{"bag":{}}`, "at least 1 properties"},
		{"maxProperties", tuple, `{"bag":{"a":1,"b":2,"c":3}}`, "at most 2 properties"},
		{"ref to defs", tuple, `{"deep":6}`, "deep: must be at most 5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.s.Validate(json.RawMessage(c.args))
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%s) = %v, want success", c.args, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Validate(%s) = %v, want an error containing %q", c.args, err, c.wantErr)
			}
		})
	}
}

// TestDefaultsThroughRef: a property reached through $ref gets the
// defaults of the target's own properties, and an integer written 6.0 is
// still handed over as 6.
func TestDefaultsThroughRef(t *testing.T) {
	s := &Schema{Type: "object", Properties: map[string]*Schema{"opts": {Ref: "#/$defs/opts"}},
		Defs: map[string]*Schema{"opts": {Type: "object", Properties: map[string]*Schema{
			"n": {Type: "integer", Default: 3}, "m": {Type: "integer"}}}}}
	if err := s.check("s"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Validate(json.RawMessage(`{"opts":{"m":6.0}}`))
	if err != nil || string(got) != `{"opts":{"m":6,"n":3}}` {
		t.Fatalf("got %s, %v", got, err)
	}
}

// TestRefPointers: $ref follows JSON Pointers through nested $defs, with
// RFC 6901's escapes (~1 for "/", ~0 for "~").
func TestRefPointers(t *testing.T) {
	s := &Schema{Type: "object",
		Properties: map[string]*Schema{
			"a": {Ref: "#/$defs/outer/$defs/inner"},
			"b": {Ref: "#/$defs/x~1y~0z"},
		},
		Defs: map[string]*Schema{
			"outer": {Defs: map[string]*Schema{"inner": {Type: "integer"}}},
			"x/y~z": {Type: "string"},
		}}
	if err := s.check("s"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Validate(json.RawMessage(`{"a":1,"b":"x"}`)); err != nil {
		t.Fatalf("valid: %v", err)
	}
	_, err := s.Validate(json.RawMessage(`{"a":"1","b":2}`))
	if err == nil || !strings.Contains(err.Error(), "a: must be an integer") || !strings.Contains(err.Error(), "b: must be a string") {
		t.Fatalf("invalid: %v", err)
	}
}
