package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"remote-mcp-authkit/mcp/jsonscan"
)

// colorName is a named string type: its enum members are left to the decoding
// path, which re-encodes them.
type colorName string

// richSchema adds what testSchema lacks: enums of every scalar kind and of Go
// types the fast path does not trust, nested arrays, arrays of objects with
// defaults, a repeated required name, non-ASCII and invalid UTF-8 property
// names.
func richSchema() *Schema {
	return &Schema{
		Type: "object",
		Properties: map[string]*Schema{
			"n":      {Type: "integer", Minimum: Ptr(-3.0), Maximum: Ptr(1e6)},
			"odd":    {Type: "integer", Enum: []any{1, 3, 5.0, float32(7), 9}},
			"x":      {Type: "number", Enum: []any{0.1, -2.5, 1e21, 4}},
			"on":     {Type: "boolean", Enum: []any{true}},
			"word":   {Type: "string", Enum: []any{"é", "<b>", "a\"b", "\u2028", "", "x\xffy", "z"}},
			"hue":    {Type: "string", Enum: []any{colorName("red"), "blue"}},
			"name":   {Type: "string", MinLength: Ptr(2), MaxLength: Ptr(4)},
			"é":      {Type: "string", MaxLength: Ptr(1)},
			"a\xffb": {Type: "boolean"},
			"grid":   {Type: "array", Items: &Schema{Type: "array", Items: &Schema{Type: "integer", Maximum: Ptr(9.0)}}},
			"people": {Type: "array", Items: &Schema{
				Type: "object",
				Properties: map[string]*Schema{
					"id":  {Type: "string", MinLength: Ptr(1)},
					"age": {Type: "integer", Minimum: Ptr(0.0), Default: 30},
				},
				Required:             []string{"id", "id"},
				AdditionalProperties: Ptr(false),
			}},
			"opt":  {Type: "object", Properties: map[string]*Schema{"k": {Type: "boolean"}}},
			"flag": {Type: "boolean", Default: false},
			"big":  {Type: "number", Minimum: Ptr(-1e308)},
		},
		Required: []string{"n", "name", "flag"},
	}
}

// strictSchema refuses unknown names, among them the decoded form of an
// invalid UTF-8 name it declares.
func strictSchema() *Schema {
	return &Schema{
		Type: "object",
		Properties: map[string]*Schema{
			"a\xffb": {Type: "integer"},
			"q":      {Type: "string", MaxLength: Ptr(3)},
			"list":   {Type: "array", Items: &Schema{Type: "number", Minimum: Ptr(0.5)}},
		},
		AdditionalProperties: Ptr(false),
	}
}

// validatedSchemas are the schemas the differential fuzz runs against: the
// product's own and the test ones.
func validatedSchemas(tb testing.TB) []*Schema {
	ss := []*Schema{
		Add().InputSchema, WhoAmI().InputSchema, WhoAmI().OutputSchema,
		GenerateImage(OfflineRenderer{}).InputSchema, testSchema(), richSchema(), strictSchema(),
	}
	for i, s := range ss {
		if err := s.check("s"); err != nil {
			tb.Fatalf("schema %d is not well formed: %v", i, err)
		}
	}
	return ss
}

// fastPath reports whether Validate answers doc without decoding it.
func fastPath(s *Schema, doc []byte) bool {
	t := bytes.TrimSpace(doc)
	return len(t) > 0 && jsonscan.Valid(t) && s.conforms(t)
}

func TestValidateInPlace(t *testing.T) {
	ss := validatedSchemas(t)
	add, whoami, image, rich, strict := ss[0], ss[1], ss[3], ss[5], ss[6]
	cases := []struct {
		name string
		s    *Schema
		doc  string
		fast bool
	}{
		{"add", add, `{"a":1.5,"b":2.25}`, true},
		{"add with space and extra names", add, " \n{ \"b\" : -1e3 , \"a\":0, \"c\":[{}] }\t", true},
		{"add missing b", add, `{"a":1}`, false},
		{"add with a string", add, `{"a":"1","b":2}`, false},
		{"add past float64", add, `{"a":1e400,"b":2}`, false},
		{"add as null", add, `null`, false},
		{"add absent", add, ``, false},
		{"add not JSON", add, `{"a":1,"b":2`, false},
		{"add escaped name", add, `{"\u0061":1,"b":2}`, false},
		{"whoami empty", whoami, `{}`, true},
		{"whoami unknown name", whoami, `{"x":1}`, false},
		{"image complete", image, `{"prompt":"a cat","steps":8}`, true},
		{"image escaped prompt", image, `{"prompt":"a \"cat\"\n","steps":4}`, true},
		{"image default to fill in", image, `{"prompt":"a cat"}`, false},
		{"image integer to rewrite", image, `{"prompt":"a cat","steps":6.0}`, false},
		{"image empty prompt", image, `{"prompt":"","steps":4}`, false},
		{"image steps out of range", image, `{"prompt":"a","steps":9}`, false},
		{"rich", rich, `{"n":-3,"name":"ab","flag":false,"odd":3,"x":-2.5,"on":true,"word":"\u00e9","é":"\u2028",` +
			`"grid":[[1,9],[]],"people":[{"id":"x","age":0},{"id":"y","age":1,"id":"z"}],"opt":{"q":1},"big":1}`, true},
		{"rich characters not bytes", rich, `{"n":0,"name":"éééé","flag":true}`, true},
		{"rich too long", rich, `{"n":0,"name":"ééééé","flag":true}`, false},
		{"rich enum of a named type", rich, `{"n":0,"name":"ab","flag":true,"hue":"blue"}`, false},
		{"rich enum past a float32", rich, `{"n":0,"name":"ab","flag":true,"odd":9}`, false},
		{"rich enum before a float32", rich, `{"n":0,"name":"ab","flag":true,"odd":1}`, true},
		{"rich enum past invalid UTF-8", rich, `{"n":0,"name":"ab","flag":true,"word":"z"}`, false},
		{"rich nested default", rich, `{"n":0,"name":"ab","flag":true,"people":[{"id":"x"}]}`, false},
		{"rich required repeated", rich, `{"n":0,"name":"ab","flag":true,"people":[{"age":1}]}`, false},
		{"rich top default", rich, `{"n":0,"name":"ab"}`, false},
		{"strict", strict, `{"q":"abc","list":[0.5,2]}`, true},
		{"strict invalid UTF-8 name", strict, "{\"a\xffb\":1}", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := fastPath(c.s, []byte(c.doc)); got != c.fast {
				t.Errorf("fast path taken: %v, want %v", got, c.fast)
			}
			got, err := c.s.Validate(json.RawMessage(c.doc))
			want, wantErr := c.s.validateDecoded(json.RawMessage(c.doc))
			if !bytes.Equal(got, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Errorf("Validate = %s, %v; the decoding path says %s, %v", got, err, want, wantErr)
			}
		})
	}
}

// FuzzValidate holds the fast path to its promise: when it accepts a
// document, the decoding path accepts it too and changes nothing, so
// Validate answers every document exactly as the decoding path alone would.
// It also checks that no document makes the validator panic, and that what
// it accepts it accepts again unchanged. Run with -v to see how often the
// fast path answered, so that a fast path that never answers cannot pass
// for a correct one.
func FuzzValidate(f *testing.F) {
	ss := validatedSchemas(f)
	seeds := []string{
		`{}`, `null`, ``, `[`, `{"a":1.5,"b":2.25}`, `{"a":1,"b":-0,"c":null}`, `{"a":1,"b":2,"a":"x"}`,
		`{"prompt":"a","steps":4}`, `{"prompt":"a \"b\"","steps":8}`, `{"prompt":"a"}`, `{"steps":-0.0}`,
		`{"tags":["a",1]}`, `{"inner":{"n":1e400}}`, `{"prompt":"ééééé","steps":5,"mode":"slow","inner":{"n":2}}`,
		`{"n":-3,"name":"ab","flag":false,"odd":3,"x":-2.5,"on":true,"word":"\u00e9","é":"\u2028","grid":[[1,9],[]],"people":[{"id":"x","age":0}],"opt":{"q":1},"big":1}`,
		`{"n":1000000,"name":"\ud83d\ude00\ud800x","flag":true,"word":"a\"b","x":1e21}`, `{"n":0,"name":"ab","flag":true,"people":[{"id":"\u0000","age":3,"id":""}]}`,
		`{"q":"abc","list":[0.5,2]}`, "{\"a\xffb\":1}", `{"user":{"id":"u"},"permissions":["a"]}`,
		`{"user":{"id":"u","email":"e"},"organization":{"id":"o"},"role":"r","permissions":[]}`,
	}
	for i := range ss {
		for _, seed := range seeds {
			f.Add(uint8(i), seed)
		}
	}
	var runs, valid, fast int
	f.Cleanup(func() {
		f.Logf("fast path answered %d of %d documents (%d of them valid for their schema)", fast, runs, valid)
	})
	f.Fuzz(func(t *testing.T, which uint8, doc string) {
		s := ss[int(which)%len(ss)]
		out, err := s.Validate(json.RawMessage(doc))
		want, wantErr := s.validateDecoded(json.RawMessage(doc))
		if !bytes.Equal(out, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("schema %d: Validate(%q) = %s, %v; the decoding path says %s, %v", which, doc, out, err, want, wantErr)
		}
		runs++
		if fastPath(s, []byte(doc)) {
			fast++
			if wantErr != nil || !bytes.Equal(want, bytes.TrimSpace([]byte(doc))) {
				t.Fatalf("schema %d: fast path accepted %q, but the decoding path says %s, %v", which, doc, want, wantErr)
			}
		}
		if err != nil {
			return
		}
		valid++
		again, err := s.Validate(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("schema %d: accepted %q as %s, but not again: %s, %v", which, doc, out, again, err)
		}
	})
}
