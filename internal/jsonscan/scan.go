// Package jsonscan reads JSON text (RFC 8259) in place. Valid checks a
// document in one pass; Members and Elements then walk an object or an array
// of that document as byte slices, and Unquote and Equal read a string
// member without building a Go string.
//
// It exists because a JSON-RPC request is nested envelopes (the message, its
// params, a tool's arguments), and decoding each level with encoding/json
// scans the inner bytes once per level and again for the reflection pass. A
// server that validates the body once and then only slices it does the same
// work in a fraction of the time and allocates nothing for the envelopes.
// Values a caller does want as Go values it still decodes with
// encoding/json, from the slice this package hands it.
//
// It is internal to the module: plumbing shared by the protocol (mcp) and
// the tools' argument checks (tools), not an API. It sits at the module
// root rather than under mcp/internal because tools/ validates arguments
// with it too, and Go lets only the subtree of an internal directory's
// parent import it.
//
// The accepted language is exactly encoding/json's: json.Valid and Valid
// agree on every input (a fuzz test holds them to it), including its nesting
// limit and its tolerance of invalid UTF-8 inside strings, which Unquote
// replaces with U+FFFD as json.Unmarshal does.
package jsonscan

import (
	"encoding/binary"
	"iter"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is encoding/json's nesting limit, kept so that the two accept the
// same documents; deeper input is refused rather than recursed into.
const maxDepth = 10000

// Valid reports whether data is one JSON value with optional whitespace
// around it (RFC 8259 section 2, "JSON-text = ws value ws").
func Valid(data []byte) bool {
	end, ok := scanValue(data, skipSpace(data, 0))
	return ok && skipSpace(data, end) == len(data)
}

// skipSpace returns the index of the first byte at or after i that is not
// insignificant whitespace (RFC 8259 section 2: space, tab, LF, CR).
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanValue scans the value starting at data[i] and returns the index just
// past it. Containers are tracked on an explicit stack, not by recursion,
// so hostile nesting costs a byte per level and no goroutine stack.
func scanValue(data []byte, i int) (int, bool) {
	return scanValueLimit(data, i, maxDepth)
}

// scanValueLimit is scanValue for a value that may open at most limit
// containers: one inside others (a Cursor's) has the rest of the limit.
func scanValueLimit(data []byte, i, limit int) (int, bool) {
	var fixed [64]byte
	stack := fixed[:0] // '{' or '[' per open container
	for {
		// A value is expected at i.
		if i >= len(data) {
			return 0, false
		}
		switch c := data[i]; {
		case c == '{' || c == '[':
			if len(stack) >= limit {
				return 0, false
			}
			i = skipSpace(data, i+1)
			if i < len(data) && data[i] == c+2 { // '}' is '{'+2, ']' is '['+2
				i++
				break
			}
			stack = append(stack, c)
			if c == '{' {
				var ok bool
				if i, ok = scanMemberName(data, i); !ok {
					return 0, false
				}
			}
			continue
		case c == '"':
			var ok bool
			if i, ok = scanString(data, i); !ok {
				return 0, false
			}
		case c == '-' || (c >= '0' && c <= '9'):
			var ok bool
			if i, ok = scanNumber(data, i); !ok {
				return 0, false
			}
		case c == 't':
			if !hasLiteral(data, i, "true") {
				return 0, false
			}
			i += 4
		case c == 'f':
			if !hasLiteral(data, i, "false") {
				return 0, false
			}
			i += 5
		case c == 'n':
			if !hasLiteral(data, i, "null") {
				return 0, false
			}
			i += 4
		default:
			return 0, false
		}
		// A value ended at i: close containers until one goes on.
		for {
			if len(stack) == 0 {
				return i, true
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return 0, false
			}
			open := stack[len(stack)-1]
			if data[i] == open+2 {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if data[i] != ',' {
				return 0, false
			}
			i = skipSpace(data, i+1)
			if open == '{' {
				var ok bool
				if i, ok = scanMemberName(data, i); !ok {
					return 0, false
				}
			}
			break
		}
	}
}

// scanMemberName scans `string ws : ws` (RFC 8259 section 4, "member") and
// returns the index of the member's value.
func scanMemberName(data []byte, i int) (int, bool) {
	if i >= len(data) || data[i] != '"' {
		return 0, false
	}
	i, ok := scanString(data, i)
	if !ok {
		return 0, false
	}
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return 0, false
	}
	return skipSpace(data, i+1), true
}

func hasLiteral(data []byte, i int, lit string) bool {
	return len(data)-i >= len(lit) && string(data[i:i+len(lit)]) == lit
}

// scanString scans the string whose opening quote is data[i] (RFC 8259
// section 7): no unescaped control characters, only the escapes the grammar
// lists. Bytes at or above 0x80 pass unchecked, as in encoding/json.
func scanString(data []byte, i int) (int, bool) {
	for i = skipPlain(data, i+1); i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			i++
			if i >= len(data) {
				return 0, false
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(data)-i <= 4 {
					return 0, false
				}
				for _, h := range data[i+1 : i+5] {
					if hexVal(h) < 0 {
						return 0, false
					}
				}
				i += 4
			default:
				return 0, false
			}
		}
	}
	return 0, false
}

// skipPlain returns the index of the first group of eight bytes, from
// data[i] on, that holds a quote, a backslash or a control character, the
// only bytes scanString looks at; the rest of a string is passed eight at a
// time. Each test is the classic "has a byte less than n" word trick
// ((x - n*lsb) &^ x & msb, exact for n <= 0x80 as to whether any byte
// qualifies), with equality to c as "less than 1" after x ^ c*lsb.
func skipPlain(data []byte, i int) int {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	for ; len(data)-i >= 8; i += 8 {
		x := binary.LittleEndian.Uint64(data[i:])
		q, b := x^('"'*lsb), x^('\\'*lsb)
		if ((x-0x20*lsb)&^x|(q-lsb)&^q|(b-lsb)&^b)&msb != 0 {
			break
		}
	}
	return i
}

// scanNumber scans a number (RFC 8259 section 6):
// [ minus ] int [ frac ] [ exp ], int having no leading zeros.
func scanNumber(data []byte, i int) (int, bool) {
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		i = digits(data, i)
	default:
		return 0, false
	}
	if i < len(data) && data[i] == '.' {
		j := digits(data, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digits(data, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func digits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// A Kind is the type of a JSON value, named by the byte it starts with.
type Kind byte

// The kinds of RFC 8259 section 3. Number is '0' for every number, whatever
// its first digit or sign.
const (
	Invalid Kind = 0
	Object  Kind = '{'
	Array   Kind = '['
	String  Kind = '"'
	Number  Kind = '0'
	True    Kind = 't'
	False   Kind = 'f'
	Null    Kind = 'n'
)

// KindOf returns the kind of the value v, which Members or Elements
// returned (so it has no leading whitespace), or Invalid for empty input.
func KindOf(v []byte) Kind {
	if len(v) == 0 {
		return Invalid
	}
	switch c := v[0]; {
	case c == '-' || (c >= '0' && c <= '9'):
		return Number
	case c == '{', c == '[', c == '"', c == 't', c == 'f', c == 'n':
		return Kind(c)
	}
	return Invalid
}

// Members yields each member of the object obj as its name (still quoted
// and escaped, as in the document: see Equal and Unquote) and its value,
// in document order; duplicate names are all yielded, so a caller that
// keeps the last one behaves as encoding/json does. obj must be a value
// Valid accepted (or a part of one); on anything else iteration stops early
// rather than reading out of bounds.
func Members(obj []byte) iter.Seq2[[]byte, []byte] {
	return func(yield func(name, value []byte) bool) {
		i := skipSpace(obj, 0)
		if i >= len(obj) || obj[i] != '{' {
			return
		}
		i = skipSpace(obj, i+1)
		for i < len(obj) && obj[i] == '"' {
			end, ok := scanString(obj, i)
			if !ok {
				return
			}
			name := obj[i:end]
			i, ok = scanMemberName(obj, i)
			if !ok {
				return
			}
			end, ok = scanValue(obj, i)
			if !ok || !yield(name, obj[i:end]) {
				return
			}
			i = skipSpace(obj, end)
			if i >= len(obj) || obj[i] != ',' {
				return
			}
			i = skipSpace(obj, i+1)
		}
	}
}

// Elements yields each element of the array arr in order; arr must be a
// value Valid accepted, as for Members.
func Elements(arr []byte) iter.Seq[[]byte] {
	return func(yield func(value []byte) bool) {
		i := skipSpace(arr, 0)
		if i >= len(arr) || arr[i] != '[' {
			return
		}
		i = skipSpace(arr, i+1)
		for i < len(arr) && arr[i] != ']' {
			end, ok := scanValue(arr, i)
			if !ok || !yield(arr[i:end]) {
				return
			}
			i = skipSpace(arr, end)
			if i >= len(arr) || arr[i] != ',' {
				return
			}
			i = skipSpace(arr, i+1)
		}
	}
}

// Equal reports whether the JSON string str (quoted, possibly escaped)
// decodes to s. The common case, a name with no escapes, is a plain byte
// comparison; escaped names are compared after Unquote, so "\u0069d" is
// the name "id", as RFC 8259 section 7 makes it.
func Equal(str []byte, s string) bool {
	if len(str) < 2 || str[0] != '"' || str[len(str)-1] != '"' {
		return false
	}
	inner := str[1 : len(str)-1]
	if !hasEscapeOrNonASCII(inner) {
		return string(inner) == s
	}
	var buf [64]byte
	u, ok := Unquote(buf[:0], str)
	return ok && string(u) == s
}

func hasEscapeOrNonASCII(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// Unquote appends the text of the JSON string str (RFC 8259 section 7) to
// dst. Like json.Unmarshal into a string, it replaces invalid UTF-8 and
// unpaired surrogate escapes with U+FFFD. It reports false if str is not a
// well-formed JSON string.
func Unquote(dst, str []byte) ([]byte, bool) {
	if len(str) < 2 || str[0] != '"' || str[len(str)-1] != '"' {
		return dst, false
	}
	s := str[1 : len(str)-1]
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return dst, false
			}
			i++
			switch s[i] {
			case '"', '\\', '/':
				dst = append(dst, s[i])
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, ok := hex4(s, i+1)
				if !ok {
					return dst, false
				}
				i += 4
				if utf16.IsSurrogate(r) {
					// A high surrogate followed by an escaped low one is
					// one character; anything else is U+FFFD, and the
					// next escape is read on its own.
					if r2, ok := hex4(s, i+3); ok && i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							dst = utf8.AppendRune(dst, dec)
							i += 7
							continue
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
			default:
				return dst, false
			}
			i++
		case c < 0x20 || c == '"':
			return dst, false
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return dst, true
}

// hex4 reads the four hex digits at s[i:i+4] as a UTF-16 code unit.
func hex4(s []byte, i int) (rune, bool) {
	if i < 0 || len(s)-i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		v := hexVal(c)
		if v < 0 {
			return 0, false
		}
		r = r<<4 | v
	}
	return r, true
}
