package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"remote-mcp-authkit/internal/jsonscan"
)

// colorName is a named string type: its enum members are left to the decoding
// path, which re-encodes them.
type colorName string

// richSchema adds what testSchema lacks: enums of every scalar kind, nested
// arrays, arrays of objects with defaults, a repeated required name, a
// non-ASCII property name.
func richSchema() *Schema {
	return &Schema{
		Type: "object",
		Properties: map[string]*Schema{
			"n":    {Type: "integer", Minimum: Ptr(-3.0), Maximum: Ptr(1e6)},
			"odd":  {Type: "integer", Enum: []any{1, 3, 5.0, 9}},
			"x":    {Type: "number", Enum: []any{0.1, -2.5, 1e21, 4}},
			"on":   {Type: "boolean", Enum: []any{true}},
			"word": {Type: "string", Enum: []any{"é", "<b>", "a\"b", "\u2028", ""}},
			"name": {Type: "string", MinLength: Ptr(2), MaxLength: Ptr(4)},
			"é":    {Type: "string", MaxLength: Ptr(1)},
			"grid": {Type: "array", Items: &Schema{Type: "array", Items: &Schema{Type: "integer", Maximum: Ptr(9.0)}}},
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

// untrustedSchema has enum members whose JSON form the fast path does not
// work out (a named type, a float32, invalid UTF-8), and an invalid UTF-8
// property name.
func untrustedSchema() *Schema {
	return &Schema{
		Type: "object",
		Properties: map[string]*Schema{
			"hue":    {Type: "string", Enum: []any{colorName("red"), "blue"}},
			"odd":    {Type: "integer", Enum: []any{1, 3, float32(7), 9}},
			"word":   {Type: "string", Enum: []any{"z", "x\xffy", "y"}},
			"a\xffb": {Type: "boolean"},
		},
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

// refSchema reaches its properties through $ref: bare references the fast
// path follows, one with keywords of its own beside it, a default behind a
// reference, and an empty schema.
func refSchema() *Schema {
	return &Schema{
		Dialect: dialect2020,
		Type:    "object",
		Properties: map[string]*Schema{
			"p":    {Ref: "#/$defs/point"},
			"list": {Type: "array", Items: &Schema{Ref: "#/$defs/point"}},
			"any":  {Description: "anything", Extra: map[string]any{"x-mcp-header": "Any"}},
			"id":   {Ref: "#/$defs/id", Description: "an id"},
			"both": {Ref: "#/$defs/id", Type: "string", MaxLength: Ptr(3)},
			"free": {Type: "array"},
		},
		Defs: map[string]*Schema{
			"point": {Type: "object", Properties: map[string]*Schema{
				"x": {Type: "integer", Default: 0},
				"y": {Type: "number", Maximum: Ptr(10.0)},
			}, Required: []string{"y"}},
			"id": {Type: "string", MinLength: Ptr(1), Enum: []any{"a", "bb", "ccc", "dddd"}},
		},
	}
}

// mixedSchema uses the keywords the fast path leaves to the decoding path
// (applicators, const, pattern, prefixItems, the array form of type,
// boolean schemas), so that the fuzzer drives them too.
func mixedSchema(tb testing.TB) *Schema {
	s, err := ParseSchema([]byte(`{
		"type": "object",
		"properties": {
			"kind": {"const": "k"},
			"code": {"type": "string", "pattern": "^[a-z]+$"},
			"pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": false, "uniqueItems": true},
			"maybe": {"type": ["integer", "null"], "exclusiveMinimum": 0},
			"alt": {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "integer", "default": 1}]},
			"one": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 10}]},
			"neg": {"not": {"type": "string"}},
			"cond": {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"maxProperties": 1},
				"properties": {"a": {"type": "integer", "default": 2}, "b": {"type": "string"}}},
			"all": {"allOf": [{"$ref": "#/$defs/n"}, {"minimum": 2}]}
		},
		"$defs": {"n": {"type": "integer", "maximum": 5, "examples": [3]}},
		"minProperties": 1
	}`))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// validatedSchemas are the schemas the differential fuzz runs against: the
// product's own and the test ones.
func validatedSchemas(tb testing.TB) []*Schema {
	ss := []*Schema{
		Add().InputSchema, WhoAmI().InputSchema, WhoAmI().OutputSchema,
		GenerateImage(OfflineRenderer{}).InputSchema, testSchema(), richSchema(), strictSchema(), untrustedSchema(),
		refSchema(), mixedSchema(tb),
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
	add, whoami, image, rich, strict, untrusted, ref, mixed := ss[0], ss[1], ss[3], ss[5], ss[6], ss[7], ss[8], ss[9]
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
		{"rich enum", rich, `{"n":0,"name":"ab","flag":true,"odd":5,"x":1e21,"word":"\u003cb>"}`, true},
		{"rich not in enum", rich, `{"n":0,"name":"ab","flag":true,"odd":7}`, false},
		{"enum of a named type", untrusted, `{"hue":"blue"}`, false},
		{"enum past a float32", untrusted, `{"odd":9}`, false},
		{"enum before a float32", untrusted, `{"odd":3}`, true},
		{"enum before invalid UTF-8", untrusted, `{"word":"z"}`, true},
		{"enum past invalid UTF-8", untrusted, `{"word":"y"}`, false},
		{"invalid UTF-8 name", untrusted, "{\"a\xffb\":true}", false},
		{"rich nested default", rich, `{"n":0,"name":"ab","flag":true,"people":[{"id":"x"}]}`, false},
		{"rich required repeated", rich, `{"n":0,"name":"ab","flag":true,"people":[{"age":1}]}`, false},
		{"rich top default", rich, `{"n":0,"name":"ab"}`, false},
		{"strict", strict, `{"q":"abc","list":[0.5,2]}`, true},
		{"strict invalid UTF-8 name", strict, "{\"a\xffb\":1}", false},
		{"strict unknown name", strict, `{"q":"abc","r":1}`, false},
		{"ref", ref, `{"p":{"x":1,"y":2},"list":[{"x":0,"y":-1}],"any":[null],"id":"bb","both":"ccc","free":[1,"a"]}`, true},
		{"ref default behind it", ref, `{"p":{"y":2}}`, false},
		{"ref broken rule behind it", ref, `{"p":{"x":1,"y":11}}`, false},
		{"ref own keyword beside it", ref, `{"both":"dddd"}`, false},
		{"ref enum behind it", ref, `{"id":"e"}`, false},
		{"mixed is left to the decoding path", mixed, `{"kind":"k"}`, false},
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
// it accepts it accepts again unchanged. Each input is tried twice: as the
// document itself, and as the choices of genValue, which writes documents
// shaped by the schema (mostly valid JSON, often valid arguments, with
// values at the schema's bounds) that byte mutation alone seldom reaches.
// Run with -v to see how often the fast path answered, so that a fast path
// that never answers cannot pass for a correct one.
func FuzzValidate(f *testing.F) {
	ss := validatedSchemas(f)
	seeds := []string{
		`{}`, `null`, ``, `[`, `{"a":1.5,"b":2.25}`, `{"a":1,"b":-0,"c":null}`, `{"a":1,"b":2,"a":"x"}`,
		`{"prompt":"a","steps":4}`, `{"prompt":"a \"b\"","steps":8}`, `{"prompt":"a"}`, `{"steps":-0.0}`,
		`{"tags":["a",1]}`, `{"inner":{"n":1e400}}`, `{"prompt":"ééééé","steps":5,"mode":"slow","inner":{"n":2}}`,
		`{"n":-3,"name":"ab","flag":false,"odd":3,"x":-2.5,"on":true,"word":"\u00e9","é":"\u2028","grid":[[1,9],[]],"people":[{"id":"x","age":0}],"opt":{"q":1},"big":1}`,
		`{"n":1000000,"name":"\ud83d\ude00\ud800x","flag":true,"word":"a\"b","x":1e21}`, `{"n":0,"name":"ab","flag":true,"people":[{"id":"\u0000","age":3,"id":""}]}`,
		`{"q":"abc","list":[0.5,2]}`, "{\"a\xffb\":1}", `{"a":1,"b":2}}`, `{"q":"a"} ]`, `{"user":{"id":"u"},"permissions":["a"]}`,
		`{"user":{"id":"u","email":"e"},"organization":{"id":"o"},"role":"r","permissions":[]}`,
		`{"p":{"x":1,"y":2},"list":[{"y":-1}],"any":{},"id":"a","both":"bb","free":[]}`, `{"p":{"x":1.0,"y":2}}`,
		`{"kind":"k","code":"abc","pair":[1,"a"],"maybe":null,"alt":"ab","one":10.5,"neg":1,"cond":{"a":1,"b":"x"},"all":3}`,
		`{"pair":[1,"a",2],"alt":7,"cond":{"b":"x","c":1},"all":6}`,
		"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8",
	}
	for i := range ss {
		for _, seed := range seeds {
			f.Add(uint8(i), seed)
		}
	}
	type tally struct{ runs, valid, fast int }
	var literal, generated tally
	f.Cleanup(func() {
		for _, c := range []struct {
			what string
			tally
		}{{"literal", literal}, {"generated", generated}} {
			f.Logf("%s documents: the fast path answered %d of %d (%d of them valid for their schema)", c.what, c.fast, c.runs, c.valid)
		}
	})
	check := func(t *testing.T, which uint8, doc []byte, n *tally) {
		s := ss[int(which)%len(ss)]
		out, err := s.Validate(doc)
		want, wantErr := s.validateDecoded(doc)
		if !bytes.Equal(out, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("schema %d: Validate(%q) = %s, %v; the decoding path says %s, %v", which, doc, out, err, want, wantErr)
		}
		n.runs++
		if fastPath(s, doc) {
			n.fast++
			if wantErr != nil || !bytes.Equal(want, bytes.TrimSpace(doc)) {
				t.Fatalf("schema %d: fast path accepted %q, but the decoding path says %s, %v", which, doc, want, wantErr)
			}
		}
		if err != nil {
			return
		}
		n.valid++
		if !json.Valid(out) {
			t.Fatalf("schema %d: accepted %q as %q, which is not JSON", which, doc, out)
		}
		again, err := s.Validate(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("schema %d: accepted %q as %s, but not again: %s, %v", which, doc, out, again, err)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, doc string) {
		check(t, which, []byte(doc), &literal)
		c := &choices{[]byte(doc)}
		check(t, which, genValue(nil, ss[int(which)%len(ss)], c, 0), &generated)
	})
}

// choices hands out the fuzzer's bytes as decisions; past the end every
// decision is 0, which genValue takes as the ordinary choice (a valid
// value), so that short inputs still make whole documents.
type choices struct{ b []byte }

func (c *choices) next(n int) int {
	if len(c.b) == 0 {
		return 0
	}
	v := int(c.b[0])
	c.b = c.b[1:]
	return v % n
}

// Values of every kind, for a property given the wrong type or an unknown
// name.
var atoms = []string{`null`, `true`, `false`, `0`, `-1.5`, `"x"`, `[]`, `{}`, `6.0`, `1e400`, `"\u00e9"`, `-0`, `[1]`, `{"a":1}`, `7E0`}

// String pieces: plain and multi-byte characters, escapes, an unpaired
// surrogate, invalid UTF-8.
var stringPieces = []string{"a", "é", "😀", `\n`, `\u00e9`, `\ud800`, "\xff", `\"`, `\ud83d\ude00`, "\u2028", `\/`}

// genValue appends a JSON value for s, each decision taken from c: mostly
// a valid one near the schema's bounds, sometimes one just past them or of
// another kind.
func genValue(dst []byte, s *Schema, c *choices, depth int) []byte {
	if s == nil || s.boolean != nil || c.next(24) == 23 || depth > 4 {
		return append(dst, atoms[c.next(len(atoms))]...)
	}
	if s.target != nil && (s.bare || c.next(2) == 0) {
		return genValue(dst, s.target, c, depth)
	}
	if len(s.Enum) > 0 && c.next(4) != 3 {
		m, _ := json.Marshal(s.Enum[c.next(len(s.Enum))])
		return append(dst, m...)
	}
	if s.Const != nil && c.next(4) != 3 {
		m, _ := json.Marshal(s.Const)
		return append(dst, m...)
	}
	var alts []*Schema
	for _, l := range [][]*Schema{s.AllOf, s.AnyOf, s.OneOf} {
		alts = append(alts, l...)
	}
	if len(alts) > 0 && c.next(2) == 0 {
		return genValue(dst, alts[c.next(len(alts))], c, depth)
	}
	typ := s.Type
	if len(s.Types) > 0 {
		typ = s.Types[c.next(len(s.Types))]
	}
	if typ == "" && s.Properties != nil {
		typ = "object"
	}
	switch typ {
	case "object":
		dst = append(dst, '{')
		n := 0
		member := func(name string, escape bool) {
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = genSpace(dst, c)
			dst = append(dst, '"')
			if escape && name != "" && name[0] < utf8.RuneSelf {
				dst = fmt.Appendf(dst, `\u%04x`, name[0])
				name = name[1:]
			}
			dst = append(dst, name...)
			dst = append(dst, `":`...)
			dst = genSpace(dst, c)
			if p := s.Properties[name]; p != nil && !escape {
				dst = genValue(dst, p, c, depth+1)
			} else {
				dst = append(dst, atoms[c.next(len(atoms))]...)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
			switch c.next(16) {
			case 13: // absent
			case 14:
				member(name, true)
			case 15: // twice
				member(name, false)
				member(name, false)
			default:
				member(name, false)
			}
		}
		if c.next(8) == 7 {
			member("zz", false)
		}
		return append(genSpace(dst, c), '}')
	case "array":
		dst = append(dst, '[')
		for i := range c.next(4) {
			if i > 0 {
				dst = append(dst, ',')
			}
			item := s.Items
			if i < len(s.PrefixItems) {
				item = s.PrefixItems[i]
			}
			dst = genValue(genSpace(dst, c), item, c, depth+1)
		}
		return append(dst, ']')
	case "string":
		lo, hi := 1, 8
		if s.MinLength != nil {
			lo = *s.MinLength
		}
		if s.MaxLength != nil {
			hi = *s.MaxLength
		}
		n := lo + c.next(min(hi, lo+8)-lo+1)
		switch c.next(16) {
		case 13:
			n = hi
		case 14:
			n = hi + 1
		case 15:
			n = max(0, lo-1)
		}
		dst = append(dst, '"')
		for range n {
			dst = append(dst, stringPieces[c.next(len(stringPieces))]...)
		}
		return append(dst, '"')
	case "number", "integer":
		lo, hi := -1e6, 1e6
		if s.Minimum != nil {
			lo = *s.Minimum
		}
		if s.Maximum != nil {
			hi = *s.Maximum
		}
		var f float64
		switch c.next(8) {
		case 0, 1, 2, 3:
			f = lo + math.Round(float64(c.next(256))/255*(hi-lo))
		case 4:
			f = lo
		case 5:
			f = hi
		case 6:
			f = []float64{lo - 1, hi + 1, lo - 0.5, hi + 0.5, 1 << 53, 1e21, math.Copysign(0, -1), 0.1}[c.next(8)]
		case 7:
			f = lo + float64(c.next(256))/7
		}
		switch c.next(8) {
		case 6:
			return strconv.AppendFloat(dst, f, 'e', -1, 64)
		case 7:
			dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
			if f == math.Trunc(f) {
				dst = append(dst, ".0"...)
			}
			return dst
		default:
			return strconv.AppendFloat(dst, f, 'f', -1, 64)
		}
	case "boolean":
		return append(dst, atoms[1+c.next(2)]...)
	}
	return append(dst, `null`...)
}

func genSpace(dst []byte, c *choices) []byte {
	if c.next(8) == 7 {
		dst = append(dst, " \n\t"[:1+c.next(3)]...)
	}
	return dst
}

// smallInteger gives what strconv gives, or hands the number to it: every
// literal it takes is a plain integer whose value ParseFloat reads exactly
// and ParseInt accepts.
func TestSmallIntegerAgreesWithStrconv(t *testing.T) {
	nums := []string{"0", "-0", "7", "-7", "42", "999999999999999", "-999999999999999", "1000000000000000",
		"9007199254740993", "1.5", "1e3", "-1E-2", "6.0", "0.1", "-", ""}
	for i := int64(1); i < 1e15; i = i*7 + 3 {
		nums = append(nums, strconv.FormatInt(i, 10), strconv.FormatInt(-i, 10))
	}
	for _, n := range nums {
		f, ok := smallInteger([]byte(n))
		want, err := strconv.ParseFloat(n, 64)
		if !ok {
			if len(strings.TrimPrefix(n, "-")) <= 15 && err == nil && !strings.ContainsAny(n, ".eE") {
				t.Errorf("%q: refused a plain integer of at most 15 digits", n)
			}
			continue
		}
		if _, ierr := strconv.ParseInt(n, 10, 64); err != nil || ierr != nil || f != want {
			t.Errorf("%q: smallInteger %v, ParseFloat %v (%v)", n, f, want, err)
		}
	}
}
