package mcp

// The response encoder for the results the server answers most: a
// tools/call result made of text blocks (schema: CallToolResult,
// TextContent) and the empty result of ping and logging/setLevel (schema:
// EmptyResult), with or without an error object (JSON-RPC 2.0 section 5.1).
//
// It writes the response object of JSON-RPC 2.0 section 5 by appending to
// one right-sized buffer, where json.Marshal would reflect over
// wireResponse, call Content.MarshalJSON for each block and then validate
// and compact that block's output a second time. The bytes are exactly
// those json.Marshal writes (the differential test and FuzzEncodeResponse
// hold it to that): member order of wireResponse, "result" omitted when nil,
// and strings escaped as encoding/json escapes them, HTML-sensitive
// characters included. Anything the encoder does not know for certain how
// json.Marshal would spell (another result type, structured content,
// annotations, error data, an id in an unusual form) is reported with ok ==
// false, and the caller uses json.Marshal.

import (
	"encoding/json"
	"strconv"
)

// appendResponse appends the response to id carrying result and rpcErr,
// as json.Marshal would encode the wireResponse holding them, and reports
// whether it could. id must not be nil; a nil result is omitted, as
// "omitempty" omits it.
func appendResponse(b []byte, id json.RawMessage, result any, rpcErr *JSONRPCError) (_ []byte, ok bool) {
	if !plainID(id) {
		return b, false
	}
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	if result != nil {
		b = append(b, `,"result":`...)
		switch r := result.(type) {
		case *CallToolResult:
			if b, ok = r.appendJSON(b); !ok {
				return b, false
			}
		case struct{}: // emptyResult
			b = append(b, '{', '}')
		default:
			return b, false
		}
	}
	if rpcErr != nil {
		if len(rpcErr.Data) > 0 {
			return b, false // raw JSON that json.Marshal would compact
		}
		b = append(b, `,"error":{"code":`...)
		b = strconv.AppendInt(b, int64(rpcErr.Code), 10)
		b = append(b, `,"message":`...)
		b = appendHTMLSafeString(b, rpcErr.Message)
		b = append(b, '}')
	}
	return append(b, '}'), true
}

// responseSize is a capacity for the response to id carrying result and
// rpcErr, so that the buffer is allocated once and wastes little. Text
// gets an eighth more room for escapes: prose and code escape a quote or
// a newline every few dozen characters, and a buffer only a few bytes short
// would be allocated twice over.
func responseSize(id json.RawMessage, result any, rpcErr *JSONRPCError) int {
	n := len(`{"jsonrpc":"2.0","id":}`) + len(id)
	switch r := result.(type) {
	case *CallToolResult:
		if r != nil {
			n += len(`,"result":{"content":[],"isError":true}`)
			for i := range r.Content {
				n += len(`{"type":"text","text":""},`) + len(r.Content[i].Text) + len(r.Content[i].Text)/8
			}
		}
	case struct{}:
		n += len(`,"result":{}`)
	}
	if rpcErr != nil {
		n += len(`,"error":{"code":-32603,"message":""}`) + len(rpcErr.Message)
	}
	return n
}

// appendJSON appends the result as json.Marshal writes it when every block
// is a text block without annotations and there is no structured content,
// and reports false, having appended garbage, otherwise. A nil Content is
// written as null, as json.Marshal writes a nil slice (callTool never
// hands one over: the schema requires the array).
func (r *CallToolResult) appendJSON(b []byte) (_ []byte, ok bool) {
	if r == nil || r.StructuredContent != nil {
		return b, false
	}
	b = append(b, `{"content":`...)
	if r.Content == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Content {
			c := &r.Content[i]
			// What Content.MarshalJSON writes for a text block; the
			// other fields of the struct do not belong to TextContent.
			if c.Type != "text" || len(c.Annotations) > 0 {
				return b, false
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":"text","text":`...)
			b = appendHTMLSafeString(b, c.Text)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if r.IsError {
		b = append(b, `,"isError":true`...)
	}
	return append(b, '}'), true
}

// plainID reports whether id is null, an integer without leading zeros, or
// a string of printable ASCII with no backslash and none of <, >, &: the
// forms that json.Marshal, which validates and compacts a RawMessage and
// escapes HTML-sensitive characters in it, writes unchanged. Clients'
// ids are almost always of these forms; any other goes through
// json.Marshal.
func plainID(id json.RawMessage) bool {
	if len(id) == 0 {
		return false
	}
	switch c := id[0]; {
	case c == '"':
		if len(id) < 2 || id[len(id)-1] != '"' {
			return false
		}
		for _, c := range id[1 : len(id)-1] {
			if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return false
			}
		}
		return true
	case c == 'n':
		return string(id) == "null"
	default:
		digits := id
		if c == '-' {
			digits = id[1:]
		}
		if len(digits) == 0 || (digits[0] == '0' && len(digits) > 1) {
			return false
		}
		for _, c := range digits {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
}
