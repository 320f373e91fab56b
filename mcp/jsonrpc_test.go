package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeMessage(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantCode int    // 0: valid
		wantMsg  string // substring of the error message
		wantID   string // id kept for the error response ("" none)
		kind     string // request, notification, response (when valid)
	}{
		{name: "request with number id", in: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, kind: "request"},
		{name: "request with string id", in: `{"jsonrpc":"2.0","id":"abc","method":"ping","params":{}}`, kind: "request"},
		{name: "notification", in: `{"jsonrpc":"2.0","method":"notifications/initialized"}`, kind: "notification"},
		{name: "result response", in: `{"jsonrpc":"2.0","id":7,"result":{}}`, kind: "response"},
		{name: "error response", in: `{"jsonrpc":"2.0","id":7,"error":{"code":-1,"message":"no"}}`, kind: "response"},
		{name: "null params are absent params", in: `{"jsonrpc":"2.0","id":1,"method":"ping","params":null}`, kind: "request"},
		{name: "unknown fields ignored", in: `{"jsonrpc":"2.0","id":1,"method":"ping","extra":[1,2]}`, kind: "request"},
		{name: "not JSON", in: `{"jsonrpc":`, wantCode: CodeParseError, wantMsg: "parse error"},
		{name: "garbage", in: `hello`, wantCode: CodeParseError, wantMsg: "parse error"},
		{name: "empty body", in: ``, wantCode: CodeParseError, wantMsg: "parse error"},
		{name: "not an object", in: `"ping"`, wantCode: CodeInvalidRequest, wantMsg: "must be a JSON object"},
		{name: "number at top level", in: `42`, wantCode: CodeInvalidRequest, wantMsg: "must be a JSON object"},
		{name: "missing jsonrpc", in: `{"id":1,"method":"ping"}`, wantCode: CodeInvalidRequest, wantMsg: `"jsonrpc" must be "2.0"`, wantID: "1"},
		{name: "wrong jsonrpc", in: `{"jsonrpc":"1.0","id":1,"method":"ping"}`, wantCode: CodeInvalidRequest, wantMsg: `"jsonrpc"`, wantID: "1"},
		{name: "jsonrpc not a string", in: `{"jsonrpc":2,"id":1,"method":"ping"}`, wantCode: CodeInvalidRequest, wantMsg: `"jsonrpc"`, wantID: "1"},
		{name: "null id", in: `{"jsonrpc":"2.0","id":null,"method":"ping"}`, wantCode: CodeInvalidRequest, wantMsg: `"id" must be a string or a number`},
		{name: "object id", in: `{"jsonrpc":"2.0","id":{},"method":"ping"}`, wantCode: CodeInvalidRequest, wantMsg: `"id" must be a string or a number`},
		{name: "bool id", in: `{"jsonrpc":"2.0","id":true,"method":"ping"}`, wantCode: CodeInvalidRequest, wantMsg: `"id" must be a string or a number`},
		{name: "method not a string", in: `{"jsonrpc":"2.0","id":3,"method":5}`, wantCode: CodeInvalidRequest, wantMsg: `"method"`, wantID: "3"},
		{name: "params array", in: `{"jsonrpc":"2.0","id":4,"method":"ping","params":[1]}`, wantCode: CodeInvalidParams, wantMsg: `"params" must be a JSON object`, wantID: "4"},
		{name: "params string", in: `{"jsonrpc":"2.0","id":4,"method":"ping","params":"x"}`, wantCode: CodeInvalidParams, wantMsg: `"params"`, wantID: "4"},
		{name: "request with result", in: `{"jsonrpc":"2.0","id":5,"method":"ping","result":{}}`, wantCode: CodeInvalidRequest, wantMsg: "must not carry", wantID: "5"},
		{name: "no method no result", in: `{"jsonrpc":"2.0","id":6}`, wantCode: CodeInvalidRequest, wantMsg: `no "method"`, wantID: "6"},
		{name: "result and error", in: `{"jsonrpc":"2.0","id":6,"result":{},"error":{"code":1,"message":"x"}}`, wantCode: CodeInvalidRequest, wantMsg: "both", wantID: "6"},
		{name: "response without id", in: `{"jsonrpc":"2.0","result":{}}`, wantCode: CodeInvalidRequest, wantMsg: `"id"`},
		{name: "error not an object", in: `{"jsonrpc":"2.0","id":8,"error":"bad"}`, wantCode: CodeInvalidRequest, wantMsg: `"error"`, wantID: "8"},
		{name: "error field of the wrong type", in: `{"jsonrpc":"2.0","id":8,"error":{"code":"x","message":"m"}}`, wantCode: CodeInvalidRequest, wantMsg: `field "error.code" must not be string`, wantID: "8"},
		{name: "last duplicate wins", in: `{"jsonrpc":"1.0","jsonrpc":"2.0","id":{},"id":9,"method":5,"method":"ping"}`, kind: "request"},
		{name: "escaped member names are the names", in: `{"\u006asonrpc":"2.0","\u0069d":1,"m\u0065thod":"ping"}`, kind: "request"},
		{name: "null message", in: `null`, wantCode: CodeInvalidRequest, wantMsg: `"jsonrpc" must be "2.0"`},
		// JSON-RPC member names are case-sensitive: "METHOD" is an unknown
		// member (encoding/json, which this decoder replaced, matched it).
		{name: "member names are case-sensitive", in: `{"jsonrpc":"2.0","id":1,"METHOD":"ping"}`, wantCode: CodeInvalidRequest, wantMsg: `no "method"`, wantID: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := decodeMessage([]byte(tt.in))
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				kind := map[bool]string{true: "request"}[m.isRequest()]
				if m.isNotification() {
					kind = "notification"
				} else if m.isResponse() {
					kind = "response"
				}
				if kind != tt.kind {
					t.Fatalf("kind = %q, want %q", kind, tt.kind)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want code %d", tt.wantCode)
			}
			if err.Code != tt.wantCode || !strings.Contains(err.Message, tt.wantMsg) {
				t.Fatalf("error = %d %q, want %d containing %q", err.Code, err.Message, tt.wantCode, tt.wantMsg)
			}
			var gotID string
			if m != nil {
				gotID = string(m.ID)
			}
			if gotID != tt.wantID {
				t.Fatalf("id kept = %q, want %q", gotID, tt.wantID)
			}
		})
	}
}

// Ids are echoed byte for byte: a 25-digit integer would lose digits in a
// float64, and an escaped string must come back in the same spelling.
func TestIDEchoedExactly(t *testing.T) {
	for _, id := range []string{`12345678901234567890123`, `-0`, `1e3`, `"a\u00e9\"b"`, `""`, `0.5`} {
		m, err := decodeMessage([]byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"ping"}`))
		if err != nil {
			t.Fatalf("id %s: %v", id, err)
		}
		out := encodeResponse(m.ID, nil, nil)
		want := `{"jsonrpc":"2.0","id":` + id + `,"result":{}}`
		if string(out) != want {
			t.Errorf("response = %s, want %s", out, want)
		}
	}
}

func TestDecodeBody(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		batch     bool
		n         int
		wantCode  int
		elemCodes []int
	}{
		{name: "single", in: ` {"jsonrpc":"2.0","id":1,"method":"ping"}`, n: 1},
		{name: "batch", in: "\n[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":\"2.0\",\"method\":\"x\"}]", batch: true, n: 2, elemCodes: []int{0, 0}},
		{name: "batch with invalid elements", in: `[1,{"jsonrpc":"2.0","id":2,"method":"ping"},{"id":3}]`, batch: true, n: 3, elemCodes: []int{CodeInvalidRequest, 0, CodeInvalidRequest}},
		{name: "empty batch", in: `[]`, wantCode: CodeInvalidRequest},
		{name: "broken batch", in: `[{"jsonrpc":"2.0"`, wantCode: CodeParseError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, single, err := decodeBody([]byte(tt.in))
			if tt.wantCode != 0 {
				if err == nil || err.Code != tt.wantCode {
					t.Fatalf("err = %v, want code %d", err, tt.wantCode)
				}
				return
			}
			if !tt.batch {
				if single == nil || err != nil || d.batch {
					t.Fatalf("single: %v %v", single, err)
				}
				return
			}
			if err != nil || d.batch != tt.batch || len(d.msgs) != tt.n {
				t.Fatalf("got batch=%v n=%d err=%v", d.batch, len(d.msgs), err)
			}
			for i, c := range tt.elemCodes {
				got := 0
				if d.errs[i] != nil {
					got = d.errs[i].Code
				}
				if got != c {
					t.Errorf("element %d: code %d, want %d", i, got, c)
				}
			}
		})
	}
}

func TestErrorConstructors(t *testing.T) {
	tests := []struct {
		err  *JSONRPCError
		code int
		msg  string
	}{
		{NewParseError("bad %s", "json"), -32700, "bad json"},
		{NewInvalidRequest("no"), -32600, "no"},
		{NewMethodNotFound("m %d", 1), -32601, "m 1"},
		{NewInvalidParams("params.%s is required", "name"), -32602, "params.name is required"},
		{NewInternalError("oops 100%"), -32603, "oops 100%"},
	}
	for _, tt := range tests {
		if tt.err.Code != tt.code || tt.err.Message != tt.msg {
			t.Errorf("got %d %q, want %d %q", tt.err.Code, tt.err.Message, tt.code, tt.msg)
		}
		b, _ := json.Marshal(tt.err)
		if !strings.Contains(string(b), `"code":`) || strings.Contains(string(b), `"data"`) {
			t.Errorf("encoding %s", b)
		}
		if !strings.Contains(tt.err.Error(), tt.msg) {
			t.Errorf("Error() = %q", tt.err.Error())
		}
	}
}

func TestCursor(t *testing.T) {
	c := EncodeCursor("tools", 50)
	if off, err := DecodeCursor("tools", c, 100); err != nil || off != 50 {
		t.Fatalf("round trip: %d %v", off, err)
	}
	for _, bad := range []string{"xyz", "!!!", EncodeCursor("prompts", 1), EncodeCursor("tools", 101), EncodeCursor("tools", -1), "dG9vbHM6MDAx"} {
		if _, err := DecodeCursor("tools", bad, 100); !isRPCCode(err, CodeInvalidParams) {
			t.Errorf("cursor %q: err = %v, want -32602", bad, err)
		}
	}
}

// isRPCCode reports whether err carries a JSON-RPC error with code.
func isRPCCode(err error, code int) bool {
	rpcErr, ok := errors.AsType[*JSONRPCError](err)
	return ok && rpcErr.Code == code
}

// TestDecodeReturnsPlainError: a handler written
// "return v, DecodeParams(params, &v)" must answer v, so success is a nil
// error interface, not a nil *JSONRPCError inside one; a failure still
// carries the -32602 for errors.As.
func TestDecodeReturnsPlainError(t *testing.T) {
	handler := func(params json.RawMessage) (any, error) {
		var v struct {
			N int `json:"n"`
		}
		return v, DecodeParams(params, &v)
	}
	for _, params := range []string{``, `{"n":1}`} {
		if _, err := handler(json.RawMessage(params)); err != nil {
			t.Errorf("DecodeParams(%q) = %#v, want a nil error", params, err)
		}
	}
	if _, err := handler(json.RawMessage(`{"n":"x"}`)); !isRPCCode(err, CodeInvalidParams) {
		t.Errorf("DecodeParams of a mistyped field = %v, want -32602", err)
	}
	cursor := func(c string) error {
		_, err := DecodeCursor("tools", c, 10)
		return err
	}
	if err := cursor(""); err != nil {
		t.Errorf("DecodeCursor of the first page = %#v, want a nil error", err)
	}
	if err := cursor(EncodeCursor("tools", 5)); err != nil {
		t.Errorf("DecodeCursor of a page = %#v, want a nil error", err)
	}
	if err := cursor("xyz"); !isRPCCode(err, CodeInvalidParams) {
		t.Errorf("DecodeCursor of a forged cursor = %v, want -32602", err)
	}
}

// An id that is a string with invalid UTF-8 cannot be echoed: the response
// would not be JSON text (RFC 8259 s8.1). It is refused as an invalid
// request with a null id, and the error response is valid UTF-8.
func TestHostileInvalidUTF8ID(t *testing.T) {
	for _, body := range []string{
		"{\"jsonrpc\":\"2.0\",\"id\":\"a\xffb\",\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\x28\",\"method\":\"tools/call\",\"params\":7}",
	} {
		m, err := decodeMessage([]byte(body))
		if err == nil || err.Code != CodeInvalidRequest {
			t.Fatalf("%q: error %v, want %d", body, err, CodeInvalidRequest)
		}
		var id []byte
		if m != nil {
			id = m.ID
		}
		out := encodeResponse(id, nil, err)
		if !utf8.Valid(out) || string(id) != "" {
			t.Errorf("%q: response %q (id %q) is not valid UTF-8 with a null id", body, out, id)
		}
	}
	// Valid UTF-8 beyond ASCII is still echoed exactly.
	m, err := decodeMessage([]byte(`{"jsonrpc":"2.0","id":"é✓","method":"ping"}`))
	if err != nil || string(m.ID) != `"é✓"` {
		t.Errorf("UTF-8 id: %v %q", err, m.ID)
	}
}

// A batch is bounded in count, not only in bytes: past maxBatch it is
// refused whole, before any element is decoded or run.
func TestHostileBatchLimit(t *testing.T) {
	batch := func(n int) []byte {
		return []byte("[" + strings.TrimSuffix(strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"ping"},`, n), ",") + "]")
	}
	if d, _, err := decodeBody(batch(maxBatch)); err != nil || len(d.msgs) != maxBatch {
		t.Fatalf("batch of %d: %v", maxBatch, err)
	}
	if _, _, err := decodeBody(batch(maxBatch + 1)); err == nil || err.Code != CodeInvalidRequest {
		t.Fatalf("batch of %d: %v, want %d", maxBatch+1, err, CodeInvalidRequest)
	}
}

// A name a client sends is quoted in an error only up to a short prefix,
// whatever its length: an error's size must not be the client's to choose
// (issue 11: an unknown tool name of 2 MB used to come back whole, and
// each answer waiting for a slow reader held it).
func TestHostileEchoBounded(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	s.AddPrompt(Prompt{Name: "greet"}, func(ctx context.Context, args map[string]string) (*GetPromptResult, error) {
		return &GetPromptResult{}, nil
	})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	huge := strings.Repeat("é", 1<<20) // 2 MB, and a cut must not split a rune
	for _, tc := range []struct {
		method string
		params any
		quoted bool // the error quotes a prefix of the input
	}{
		{"tools/call", map[string]any{"name": huge}, true},
		{"prompts/get", map[string]any{"name": huge}, true},
		{"prompts/get", map[string]any{"name": "greet", "arguments": map[string]string{huge: "x"}}, true},
		{huge, nil, true},
		{"tools/list", map[string]any{"cursor": json.RawMessage(strings.Repeat("9", 2<<20))}, false},
	} {
		name := tc.method
		if len(name) > 20 {
			name = "a 2 MB method"
		}
		e := c.rpcError(tc.method, tc.params)
		b, _ := json.Marshal(e)
		if len(b) > 1024 || !utf8.Valid(b) {
			t.Errorf("%s: the error is %d bytes (valid UTF-8: %v), want at most 1 KiB: %.200s", name, len(b), utf8.Valid(b), b)
		}
		if tc.quoted && !strings.Contains(e.Message, "éé") {
			t.Errorf("%s: the error %q quotes no prefix of the input", name, e.Message)
		}
	}
}
