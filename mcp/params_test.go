package mcp

import "testing"

// readParams and toolCall read tools/call params as encoding/json read them
// into {name string, arguments raw} (FuzzReadParams holds them to that), but
// with member names matched exactly, as the schema spells them.
func TestReadParams(t *testing.T) {
	tests := []struct {
		name   string
		params string
		tool   string // "" when toolCall fails
		args   string
		token  string
		errMsg string
	}{
		{name: "plain", params: `{"name":"add","arguments":{"a":2}}`, tool: "add", args: `{"a":2}`},
		{name: "absent params", params: ``, errMsg: "invalid params: params.name is required"},
		{name: "null arguments are passed on", params: `{"name":"add","arguments":null}`, tool: "add", args: `null`},
		{name: "escaped name", params: `{"n\u0061me":"a\u0064d"}`, tool: "add"},
		{name: "invalid UTF-8 becomes U+FFFD", params: "{\"name\":\"a\xffb\"}", tool: "a\uFFFDb"},
		{name: "last name wins", params: `{"name":"x","name":"add"}`, tool: "add"},
		{name: "a null name counts for nothing", params: `{"name":"add","name":null}`, tool: "add"},
		{name: "empty name", params: `{"name":""}`, errMsg: "invalid params: params.name is required"},
		{name: "a name of the wrong type is refused even if another follows", params: `{"name":[1],"name":"add"}`, errMsg: "invalid params: params.name must not be array"},
		{name: "number name", params: `{"name":7}`, errMsg: "invalid params: params.name must not be number"},
		{name: "arguments not an object", params: `{"name":"add","arguments":"x"}`, errMsg: "invalid params: params.arguments must be an object"},
		{name: "names are case-sensitive", params: `{"NAME":"add"}`, errMsg: "invalid params: params.name is required"},
		{name: "progress token", params: `{"name":"add","_meta":{"progressToken":"p1"}}`, tool: "add", token: `"p1"`},
		{name: "numeric token, escaped _meta", params: `{"name":"add","\u005fmeta":{"progressToken":7}}`, tool: "add", token: `7`},
		{name: "a null _meta keeps the token", params: `{"name":"a","_meta":{"progressToken":1},"_meta":null}`, tool: "a", token: `1`},
		{name: "a _meta of the wrong type drops it", params: `{"name":"a","_meta":{"progressToken":1},"_meta":5}`, tool: "a"},
		{name: "a token that is no id is none", params: `{"name":"a","_meta":{"progressToken":{}}}`, tool: "a"},
		{name: "a _meta inside arguments is the tool's", params: `{"name":"a","arguments":{"_meta":{"progressToken":1}}}`, tool: "a", args: `{"_meta":{"progressToken":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var params []byte
			if tt.params != "" {
				params = []byte(tt.params)
			}
			p := readParams(params)
			if string(p.progressToken) != tt.token {
				t.Errorf("progress token %q, want %q", p.progressToken, tt.token)
			}
			tool, args, err := p.toolCall()
			if tt.errMsg != "" {
				if err == nil || err.Code != CodeInvalidParams || err.Message != tt.errMsg {
					t.Fatalf("error %v, want -32602 %q", err, tt.errMsg)
				}
				return
			}
			if err != nil || tool != tt.tool || string(args) != tt.args {
				t.Fatalf("got %q %q %v, want %q %q", tool, args, err, tt.tool, tt.args)
			}
		})
	}
}
