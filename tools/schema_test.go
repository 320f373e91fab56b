package tools

import (
	"encoding/json"
	"errors"
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
		{"unknown type", &Schema{Type: "null"}, `type "null" is not one of`},
		{"no type", &Schema{}, `type "" is not one of`},
		{"required not declared", &Schema{Type: "object", Required: []string{"x"}}, `required property "x" is not declared`},
		{"min above max", &Schema{Type: "integer", Minimum: Ptr(5.0), Maximum: Ptr(1.0)}, "minimum 5 is above maximum 1"},
		{"minLength above maxLength", &Schema{Type: "string", MinLength: Ptr(3), MaxLength: Ptr(2)}, "minLength 3 is above maxLength 2"},
		{"negative length", &Schema{Type: "string", MaxLength: Ptr(-1)}, "must not be negative"},
		{"length on number", &Schema{Type: "number", MaxLength: Ptr(3)}, "apply only to strings"},
		{"minimum on string", &Schema{Type: "string", Minimum: Ptr(1.0)}, "apply only to numbers"},
		{"properties on string", &Schema{Type: "string", Properties: map[string]*Schema{}}, "apply only to type object"},
		{"array without items", &Schema{Type: "array"}, "needs items"},
		{"additionalProperties true", &Schema{Type: "object", AdditionalProperties: Ptr(true)}, "only additionalProperties false"},
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
