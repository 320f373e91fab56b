package mcp

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// marshalResponse is the encoder the hand-written one replaces, kept as
// the reference its output must match byte for byte: json.Marshal of the
// wireResponse, and nil when that fails.
func marshalResponse(id json.RawMessage, result any, rpcErr *JSONRPCError) []byte {
	if id == nil {
		id = nullID
	}
	if rpcErr == nil && result == nil {
		result = emptyResult
	}
	b, err := json.Marshal(&wireResponse{JSONRPC: "2.0", ID: id, Result: result, Error: rpcErr})
	if err != nil {
		return nil
	}
	return b
}

// The hand-written encoder writes what json.Marshal writes, for the
// results it takes (fast) and, through json.Marshal, for the rest.
func TestEncodeResponseMatchesMarshal(t *testing.T) {
	text := func(s ...string) *CallToolResult {
		r := &CallToolResult{Content: []Content{}}
		for _, s := range s {
			r.Content = append(r.Content, TextContent(s))
		}
		return r
	}
	tricky := "quote \" backslash \\ slash / <script>&amp;</script> \x00\x01\x1f\x7f \n\r\t\b\f \u2028\u2029 \xff\xfe caf\xc3 ü€😀"
	cases := []struct {
		name   string
		id     string
		result any
		err    *JSONRPCError
		path   string // who answers: "fast" (hand-written), "marshal", or "none" (json.Marshal fails too)
	}{
		{"add", `42`, text("3"), nil, "fast"},
		{"string id", `"req-7 a"`, text("ok"), nil, "fast"},
		{"negative id", `-12345678901234567890123`, text("ok"), nil, "fast"},
		{"zero id", `0`, text("ok"), nil, "fast"},
		{"minus zero id", `-0`, text("ok"), nil, "fast"},
		{"empty string id", `""`, text("ok"), nil, "fast"},
		{"no id", ``, nil, NewParseError("parse error: x"), "fast"},
		{"tool error", `1`, &CallToolResult{Content: []Content{TextContent("boom")}, IsError: true}, nil, "fast"},
		{"empty text", `1`, text(""), nil, "fast"},
		{"no blocks", `1`, text(), nil, "fast"},
		{"nil content", `1`, &CallToolResult{}, nil, "fast"},
		{"escapes", `1`, text(tricky, "second <b>"), nil, "fast"},
		{"text ignores other variants' fields", `1`, &CallToolResult{Content: []Content{{Type: "text", Text: "x", URI: "test://u", Data: "AA=="}}}, nil, "fast"},
		{"empty result", `"p"`, nil, nil, "fast"},
		{"empty result value", `9`, emptyResult, nil, "fast"},
		{"error", `3`, nil, NewInvalidParams("invalid params: unknown tool: <%s>", "x&y\u2028"), "fast"},
		{"error with escapes", `3`, nil, &JSONRPCError{Code: -1, Message: tricky}, "fast"},
		{"result and error", `3`, text("a"), NewInternalError("b"), "fast"},

		{"error data", `3`, nil, &JSONRPCError{Code: 1, Message: "m", Data: json.RawMessage(`{ "k" : "<" }`)}, "marshal"},
		{"structured content", `1`, &CallToolResult{Content: []Content{TextContent("{}")}, StructuredContent: map[string]int{"a": 1}}, nil, "marshal"},
		{"annotations", `1`, &CallToolResult{Content: []Content{{Type: "text", Text: "a", Annotations: json.RawMessage(`{"priority": 1}`)}}}, nil, "marshal"},
		{"image", `1`, &CallToolResult{Content: []Content{TextContent("a"), ImageContent("AAEC", "image/png")}}, nil, "marshal"},
		{"nil result pointer", `1`, (*CallToolResult)(nil), nil, "marshal"},
		{"result value", `1`, CallToolResult{Content: []Content{TextContent("a")}}, nil, "marshal"},
		{"other result", `1`, map[string]string{"k": "<v>"}, nil, "marshal"},
		{"escaped string id", `"a\u00e9\"b"`, text("ok"), nil, "marshal"},
		{"html in string id", `"<a&b>"`, text("ok"), nil, "marshal"},
		{"unicode string id", `"é\u2028"`, text("ok"), nil, "marshal"},
		{"fraction id", `1.5`, text("ok"), nil, "marshal"},
		{"exponent id", `1e3`, text("ok"), nil, "marshal"},
		{"leading zero id", `012`, text("ok"), nil, "none"},
		{"spaced id", ` 1`, text("ok"), nil, "marshal"},
		{"unterminated id", `"a`, text("ok"), nil, "none"},
		{"bare minus id", `-`, text("ok"), nil, "none"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var id json.RawMessage
			if c.id != "" {
				id = json.RawMessage(c.id)
			}
			got := encodeResponse(id, c.result, c.err)
			want := marshalResponse(id, c.result, c.err)
			if string(got) != string(want) {
				t.Fatalf("encoded\n %s\nwant\n %s", got, want)
			}
			if (want == nil) != (c.path == "none") {
				t.Fatalf("json.Marshal answered %s", want)
			}
			if id == nil {
				id = nullID
			}
			result := c.result
			if result == nil && c.err == nil {
				result = emptyResult
			}
			if _, fast := appendResponse(nil, id, result, c.err); fast != (c.path == "fast") {
				t.Fatalf("hand-written encoder answered: %v, want %s", fast, c.path)
			}
		})
	}
}

// FuzzEncodeResponse holds the hand-written encoder to json.Marshal's
// bytes for any text, id, isError flag and error message.
func FuzzEncodeResponse(f *testing.F) {
	for _, s := range []struct {
		id, text, msg string
		isError       bool
		blocks        uint8
	}{
		{`42`, "3", "", false, 1},
		{`"abc"`, "<script>&amp;</script>", "invalid params: <x>", true, 2},
		{`-0`, "\x00\x01\x1f\x7f\n\r\t\b\f\"\\/", "\u2028\u2029", false, 3},
		{`""`, "\xff\xfe bad caf\xc3 ü€😀 \u2028", "\xe2\x80", true, 0},
		{`"<"`, "", "", false, 4},
		{`1e3`, strings.Repeat("é", 40), "m", false, 1},
		{`null`, "x", "y", false, 1},
		{`{}`, "x", "y", false, 1},
	} {
		f.Add([]byte(s.id), s.text, s.msg, s.isError, s.blocks)
	}
	f.Fuzz(func(t *testing.T, id []byte, text, msg string, isError bool, blocks uint8) {
		var res *CallToolResult
		if blocks%5 == 4 {
			res = &CallToolResult{IsError: isError} // nil Content
		} else {
			res = &CallToolResult{Content: []Content{}, IsError: isError}
			for i := range int(blocks % 5) {
				res.Content = append(res.Content, TextContent(text[:len(text)*i/3]))
			}
		}
		for _, c := range []struct {
			result any
			err    *JSONRPCError
		}{
			{res, nil},
			{nil, nil},
			{nil, &JSONRPCError{Code: int(int8(blocks)) - 32600, Message: msg}},
		} {
			got := encodeResponse(id, c.result, c.err)
			want := marshalResponse(id, c.result, c.err)
			if string(got) != string(want) {
				t.Fatalf("id %q text %q msg %q:\n got %s\nwant %s", id, text, msg, got, want)
			}
		}
	})
}

// marshalModernResponse is the reference for a modern result's envelope
// (modern.go): json.Marshal of the response with resultType and
// _meta.serverInfo as the result's first members, then the result's own.
func marshalModernResponse(s *Server, id json.RawMessage, res *CallToolResult) []byte {
	type envelope struct {
		ResultType string                    `json:"resultType"`
		Meta       map[string]Implementation `json:"_meta"`
		*CallToolResult
	}
	result := envelope{"complete", map[string]Implementation{MetaServerInfo: s.serverInfo()}, res}
	b, err := json.Marshal(&wireResponse{JSONRPC: "2.0", ID: id, Result: &result})
	if err != nil {
		return nil
	}
	return b
}

// FuzzEncodeModernResponse holds the modern envelope, inserted by hand
// into the hand-written result, to json.Marshal's bytes; with caching
// hints it must mean what the json.Marshal path (appendEnveloped) means.
func FuzzEncodeModernResponse(f *testing.F) {
	f.Add([]byte(`42`), "3", "srv", "1.0", false, uint8(1))
	f.Add([]byte(`"a<b"`), "\x00\u2028\xff caf\xc3", "<n>", "\"v\\", true, uint8(3))
	f.Add([]byte(`-0`), "", "", "", false, uint8(4))
	f.Add([]byte(`7`), "x", "é😀", "", false, uint8(0))
	f.Fuzz(func(t *testing.T, id []byte, text, name, version string, isError bool, blocks uint8) {
		if !plainID(id) {
			return // encodeModernResponse re-encodes other ids; encodeResponse's fuzz covers them
		}
		s := NewServer(ServerOptions{Info: Implementation{Name: name, Version: version}, Logger: quietLogger()})
		var res *CallToolResult
		if blocks%5 == 4 {
			res = &CallToolResult{IsError: isError}
		} else {
			res = &CallToolResult{Content: []Content{}, IsError: isError}
			for i := range int(blocks % 5) {
				res.Content = append(res.Content, TextContent(text[:len(text)*i/3]))
			}
		}
		got := s.encodeModernResponse(id, res, nil, nil)
		want := marshalModernResponse(s, id, res)
		if string(got) != string(want) {
			t.Fatalf("id %q text %q info %q %q:\n got %s\nwant %s", id, text, name, version, got, want)
		}
		// A modern JSON answer is encoded into a pooled buffer, used before.
		if used := s.appendModernResult([]byte(strings.Repeat("#", 600)), id, res, nil); string(used) != string(got) {
			t.Fatalf("into a used buffer:\n got %s\nwant %s", used, got)
		}
		// With caching hints, the hand-written path and the json.Marshal
		// one (appendEnveloped) must decode to the same response.
		info := &methodInfo{name: "tools/call", cache: &cacheHint{ttlMs: int64(blocks) * 1000}}
		got = s.encodeModernResponse(id, res, nil, info)
		rb, _ := json.Marshal(res)
		ref := append([]byte(`{"jsonrpc":"2.0","id":`), id...)
		ref = append(s.appendEnveloped(append(ref, `,"result":`...), rb, s.cacheMembers(info)), '}')
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("invalid JSON %s: %v", got, err)
		}
		if err := json.Unmarshal(ref, &w); err != nil {
			t.Fatalf("invalid reference %s: %v", ref, err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("with caching hints:\n got %s\nwant %s", got, ref)
		}
	})
}
