package mcp

// Wire encoding of content blocks and resource contents. The schema makes
// some fields required per variant (schema.ts: TextContent.text,
// ImageContent/AudioContent data and mimeType, EmbeddedResource.resource,
// ResourceLink uri and name, TextResourceContents.text,
// BlobResourceContents.blob), so "omitempty" on the shared Go structs
// would drop a required field whenever its value is empty: an empty text
// block, an empty embedded file. These encoders write each variant's
// required fields always and its optional ones when set.
//
// They append by hand instead of going through json.Marshal on a wire
// struct, because tool results are the hot path of the server: one
// allocation per block (the returned slice) is all they cost.

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// MarshalJSON writes the block with the fields its Type requires, even
// when empty: text for "text"; data and mimeType for "image" and "audio";
// resource for "resource"; uri and name for "resource_link". A block of
// another type writes every field that is set.
func (c Content) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 48+len(c.Text)+len(c.Data)+len(c.URI)+len(c.Name)+len(c.Description)+len(c.Annotations))
	b = append(b, `{"type":`...)
	b = appendJSONString(b, c.Type)
	switch c.Type {
	case "text":
		b = appendField(b, "text", c.Text)
	case "image", "audio":
		b = appendField(b, "data", c.Data)
		b = appendField(b, "mimeType", c.MimeType)
	case "resource":
		b = append(b, `,"resource":`...)
		if c.Resource != nil {
			b = c.Resource.appendJSON(b)
		} else {
			// The schema requires the object; an empty text resource
			// is the honest form of "nothing".
			b = ResourceContents{}.appendJSON(b)
		}
	case "resource_link":
		b = appendField(b, "uri", c.URI)
		b = appendField(b, "name", c.Name)
		b = appendOptional(b, "description", c.Description)
		b = appendOptional(b, "mimeType", c.MimeType)
	default:
		b = appendOptional(b, "text", c.Text)
		b = appendOptional(b, "data", c.Data)
		b = appendOptional(b, "mimeType", c.MimeType)
		if c.Resource != nil {
			b = append(b, `,"resource":`...)
			b = c.Resource.appendJSON(b)
		}
		b = appendOptional(b, "uri", c.URI)
		b = appendOptional(b, "name", c.Name)
		b = appendOptional(b, "description", c.Description)
	}
	b = appendRaw(b, "annotations", c.Annotations)
	return append(b, '}'), nil
}

// MarshalJSON writes the contents as the schema's BlobResourceContents
// when Blob is set and as TextResourceContents otherwise, with text even
// when empty (an empty file is still a text resource): exactly one of
// text and blob, never neither.
func (r ResourceContents) MarshalJSON() ([]byte, error) {
	return r.appendJSON(make([]byte, 0, 32+len(r.URI)+len(r.MimeType)+len(r.Text)+len(r.Blob)+len(r.Meta))), nil
}

func (r ResourceContents) appendJSON(b []byte) []byte {
	b = append(b, `{"uri":`...)
	b = appendJSONString(b, r.URI)
	b = appendOptional(b, "mimeType", r.MimeType)
	if r.Blob != "" {
		b = appendField(b, "blob", r.Blob)
	} else {
		b = appendField(b, "text", r.Text)
	}
	b = appendRaw(b, "_meta", r.Meta)
	return append(b, '}')
}

// appendField appends ,"name":"value".
func appendField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, value)
}

// appendOptional appends the field only when value is not empty, as
// omitempty would.
func appendOptional(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return appendField(b, name, value)
}

// appendRaw appends a field holding raw JSON, when there is any.
// encoding/json validates and compacts a MarshalJSON's output, so a
// malformed value is an encoding error, as it would be for a RawMessage
// field.
func appendRaw(b []byte, name string, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return append(b, raw...)
}

// appendJSONString appends s as a JSON string (RFC 8259 s7): quote,
// backslash and control characters escaped, invalid UTF-8 replaced by
// U+FFFD as encoding/json does. HTML-sensitive characters are left to
// encoding/json, which escapes them when it compacts a MarshalJSON result.
func appendJSONString(b []byte, s string) []byte { return appendString(b, s, false) }

// appendHTMLSafeString appends s exactly as json.Marshal writes a string:
// as appendJSONString does, and also <, > and & as \u003c, \u003e and
// \u0026 (so the text can sit in an HTML script element) and U+2028 and
// U+2029 as \u2028 and \u2029 (line terminators to JavaScript before
// ES2019). The response encoder writes text that json.Marshal never
// compacts afterwards, so it must escape them itself.
func appendHTMLSafeString(b []byte, s string) []byte { return appendString(b, s, true) }

// plainJSON and htmlSafeJSON tell, for each ASCII byte, whether it is
// written as itself inside a JSON string.
var plainJSON, htmlSafeJSON = asciiSafeSet(""), asciiSafeSet("<>&")

func asciiSafeSet(alsoEscaped string) (set [utf8.RuneSelf]bool) {
	for c := range set {
		set[c] = c >= 0x20 && c != '"' && c != '\\' && !strings.ContainsRune(alsoEscaped, rune(c))
	}
	return set
}

func appendString(b []byte, s string, html bool) []byte {
	const hex = "0123456789abcdef"
	safe := &plainJSON
	if html {
		safe = &htmlSafeJSON
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default: // other control characters, and <, >, & when html
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if html && (r == '\u2028' || r == '\u2029') {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
