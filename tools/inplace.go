package tools

// The fast path of Schema.Validate: the same JSON Schema keywords, checked
// on the argument bytes themselves (internal/jsonscan) instead of on a decoded
// map[string]any. It answers only one question with certainty: "these
// arguments are valid and Validate would hand them back unchanged". Anything
// else (a default to fill in, an integer to rewrite, a broken rule, a name
// it would have to unescape) is "not sure", and Validate takes the decoding
// path, which owns every error message and every default. So the two paths
// cannot disagree about an answer; FuzzValidate holds them to that.

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"remote-mcp-authkit/internal/jsonscan"
)

// conforms reports whether v, one JSON value that jsonscan.Valid accepted
// with no whitespace around it, is valid for s and needs no change.
func (s *Schema) conforms(v []byte) bool {
	if s.boolean != nil {
		return *s.boolean
	}
	// $ref applies beside the other keywords (Core section 8.2.3.1).
	if s.target != nil && !s.target.conforms(v) {
		return false
	}
	if s.bare {
		return true
	}
	if s.slow {
		return false
	}
	k := jsonscan.KindOf(v)
	switch s.Type {
	case "object":
		return k == jsonscan.Object && s.objectConforms(v)
	case "array":
		// An enum of arrays is compared as re-encoded JSON: left to the
		// decoding path.
		if k != jsonscan.Array || len(s.Enum) > 0 {
			return false
		}
		for e := range jsonscan.Elements(v) {
			if s.Items != nil && !s.Items.conforms(e) {
				return false
			}
		}
		return true
	case "string":
		return k == jsonscan.String && s.stringConforms(v)
	case "number", "integer":
		return k == jsonscan.Number && s.numberConforms(v)
	case "boolean":
		return (k == jsonscan.True || k == jsonscan.False) && s.inEnum(v)
	}
	return false
}

// objectConforms checks properties, required, additionalProperties and
// default (2020-12 section 10.3.2, Validation section 6.5.3).
func (s *Schema) objectConforms(obj []byte) bool {
	if len(s.Enum) > 0 || len(s.Required) > 64 {
		return false
	}
	var seen uint64 // bit i set: Required[i] is present
	for name, v := range jsonscan.Members(obj) {
		key := name[1 : len(name)-1]
		// The decoding path sees the name unescaped, with invalid UTF-8
		// replaced; only a name that is its own text is looked up here.
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			return false
		}
		p, known := s.Properties[string(key)]
		if !known {
			if s.AdditionalProperties != nil && !*s.AdditionalProperties {
				return false
			}
			continue
		}
		// A repeated name is checked every time; the decoding path keeps
		// only the last, so ok here is ok there.
		if !p.conforms(v) {
			return false
		}
		for i, r := range s.Required {
			if r == string(key) {
				seen |= 1 << i
			}
		}
	}
	if seen != 1<<len(s.Required)-1 {
		return false
	}
	// Every property required and present: none is absent to be given its
	// default, and the map need not be walked.
	if len(s.Properties) == len(s.Required) && allDistinct(s.Required) {
		return true
	}
	// An absent property with a default would be filled in.
	for name, p := range s.Properties {
		if p.Default != nil && !hasMember(obj, name) {
			return false
		}
	}
	return true
}

// allDistinct reports whether no name appears twice in names.
func allDistinct(names []string) bool {
	for i, n := range names {
		if slices.Contains(names[i+1:], n) {
			return false
		}
	}
	return true
}

func hasMember(obj []byte, name string) bool {
	for n := range jsonscan.Members(obj) {
		if jsonscan.Equal(n, name) {
			return true
		}
	}
	return false
}

// stringConforms checks minLength and maxLength (Validation section 6.3),
// counting characters of the decoded string as the decoding path does.
func (s *Schema) stringConforms(str []byte) bool {
	if s.MinLength != nil || s.MaxLength != nil {
		n := decodedRuneCount(str)
		if s.MinLength != nil && n < *s.MinLength || s.MaxLength != nil && n > *s.MaxLength {
			return false
		}
	}
	return s.inEnum(str)
}

// decodedRuneCount counts the characters of the JSON string str once
// decoded. Without escapes that is the raw count: encoding/json turns each
// byte of invalid UTF-8 into one U+FFFD, and utf8.RuneCount counts each such
// byte as one rune.
func decodedRuneCount(str []byte) int {
	inner := str[1 : len(str)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return utf8.RuneCount(inner)
	}
	var buf [256]byte
	u, _ := jsonscan.Unquote(buf[:0], str)
	return utf8.RuneCount(u)
}

// numberConforms checks type number or integer, minimum and maximum
// (Validation section 6.2) with the same float64 reading as the decoding
// path.
func (s *Schema) numberConforms(num []byte) bool {
	f, ok := smallInteger(num)
	if !ok {
		var err error
		f, err = strconv.ParseFloat(string(num), 64)
		if err != nil || math.IsInf(f, 0) {
			return false
		}
		// 6.0 and 6e0 are integers that the decoding path rewrites as 6,
		// and a huge one it may keep or rewrite: only the plain form is
		// certain.
		if s.Type == "integer" {
			if _, err := strconv.ParseInt(string(num), 10, 64); err != nil {
				return false
			}
		}
	}
	if s.Minimum != nil && f < *s.Minimum || s.Maximum != nil && f > *s.Maximum {
		return false
	}
	return s.inEnum(num)
}

// smallInteger reads a JSON number (already validated) that is a plain
// integer of at most 15 digits, the common argument: its value is exact in
// a float64, as ParseFloat would give it, and ParseInt accepts it. Any
// other number reports false, for strconv. Besides being quicker, it keeps
// strconv's deep frames off the stack of the common call (see
// Table.callTool on stack depth).
func smallInteger(num []byte) (float64, bool) {
	d := num
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if len(d) < len(num) {
		n = -n
	}
	return float64(n), true
}

// inEnum reports whether the scalar v equals a member of s.Enum (Validation
// section 6.1.2), or s has no enum. Members of Go types whose JSON form it
// cannot be sure of (float32, named types, invalid UTF-8) make it answer
// false, leaving them to the decoding path.
func (s *Schema) inEnum(v []byte) bool {
	if len(s.Enum) == 0 {
		return true
	}
	k := jsonscan.KindOf(v)
	for _, e := range s.Enum {
		switch e := e.(type) {
		case string:
			if !utf8.ValidString(e) {
				return false
			}
			if k == jsonscan.String && jsonscan.Equal(v, e) {
				return true
			}
		case bool:
			if e && k == jsonscan.True || !e && k == jsonscan.False {
				return true
			}
		case float64:
			if k == jsonscan.Number && parseFloat(v) == e {
				return true
			}
		case int:
			if k == jsonscan.Number && parseFloat(v) == float64(e) {
				return true
			}
		case json.Number: // from ParseSchema
			f, err := strconv.ParseFloat(string(e), 64)
			if err != nil {
				return false
			}
			if k == jsonscan.Number && parseFloat(v) == f {
				return true
			}
		default:
			return false
		}
	}
	return false
}

func parseFloat(num []byte) float64 {
	f, _ := strconv.ParseFloat(string(num), 64)
	return f
}
