package mcp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// mrtrTools: "ask" asks through Elicit; "sealed" returns its own
// InputRequired with a state and answers with the state it got back;
// "sample" asks for sampling explicitly.
type mrtrTools struct{}

func (mrtrTools) ListTools(context.Context) []Tool {
	return []Tool{{Name: "ask", InputSchema: objSchema}, {Name: "sealed", InputSchema: objSchema}, {Name: "sample", InputSchema: objSchema}}
}

func (mrtrTools) CallTool(ctx context.Context, name string, _ json.RawMessage) (*CallToolResult, error) {
	switch name {
	case "ask":
		res, err := Elicit(ctx, &ElicitParams{Message: "Name?", RequestedSchema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}}}`)})
		if err != nil {
			return nil, err
		}
		return &CallToolResult{Content: []Content{TextContent(res.Action + " " + res.Content["name"].(string))}}, nil
	case "sealed":
		if _, ok := InputResponses(ctx)["k"]; ok && RequestState(ctx) != nil {
			return &CallToolResult{Content: []Content{TextContent("state " + string(RequestState(ctx)))}}, nil
		}
		return nil, &InputRequired{Requests: map[string]InputRequest{"k": ElicitInput(&ElicitParams{Message: "ok?"})}, State: []byte("s1")}
	case "sample":
		return nil, &InputRequired{Requests: map[string]InputRequest{"q": SamplingInput(&CreateMessageParams{MaxTokens: 5})}}
	}
	return nil, ErrUnknownTool
}

// newMRTRServer serves mrtrTools on /mcp; the owner is the X-User header.
func newMRTRServer(t *testing.T) (*Server, string) {
	t.Helper()
	s := NewServer(ServerOptions{Info: Implementation{Name: "mrtr", Version: "1"}, Tools: mrtrTools{}, Logger: quietLogger(), StateKey: []byte("0123456789abcdef0123456789abcdef")})
	ts := httptest.NewServer(s.StreamableHTTPHandler(HTTPOptions{SessionOwner: func(r *http.Request) string { return r.Header.Get("X-User") }}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		ts.Close()
	})
	return s, ts.URL
}

type irResult struct {
	ResultType    string                     `json:"resultType"`
	InputRequests map[string]json.RawMessage `json:"inputRequests"`
	RequestState  string                     `json:"requestState"`
	Content       []Content                  `json:"content"`
}

func decodeIR(t *testing.T, r rpcReply) irResult {
	t.Helper()
	if r.Error != nil {
		t.Fatalf("error %d %s", r.Error.Code, r.Error.Message)
	}
	var v irResult
	if err := json.Unmarshal(r.Result, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

const elicitCaps = `{"elicitation":{}}`

// TestInputRequiredThroughElicit: in the 2026-07-28 era Elicit does not
// send a request; the call answers input_required, and the retry with the
// response completes it.
func TestInputRequiredThroughElicit(t *testing.T) {
	_, url := newMRTRServer(t)
	first := decodeIR(t, taskCall(t, url, "ada", elicitCaps, "tools/call", `"name":"ask","arguments":{}`))
	req, ok := first.InputRequests["elicitation-create-1"]
	if first.ResultType != "input_required" || !ok || !strings.Contains(string(req), `"method":"elicitation/create"`) || !strings.Contains(string(req), `"message":"Name?"`) {
		t.Fatalf("first round: %+v", first)
	}
	done := decodeIR(t, taskCall(t, url, "ada", elicitCaps, "tools/call",
		`"name":"ask","arguments":{},"inputResponses":{"elicitation-create-1":{"action":"accept","content":{"name":"Ada"}}}`))
	if done.ResultType != "complete" || len(done.Content) != 1 || done.Content[0].Text != "accept Ada" {
		t.Fatalf("retry: %+v", done)
	}
}

// TestRequestStateTampered: a requestState changed in any byte, or sent
// back by another user or for another tool, is refused with -32602 before
// the handler runs; the genuine one is accepted.
func TestRequestStateTampered(t *testing.T) {
	_, url := newMRTRServer(t)
	first := decodeIR(t, taskCall(t, url, "ada", elicitCaps, "tools/call", `"name":"sealed","arguments":{}`))
	if first.RequestState == "" {
		t.Fatalf("no requestState: %+v", first)
	}
	retry := func(user, tool, state string) rpcReply {
		return taskCall(t, url, user, elicitCaps, "tools/call", `"name":"`+tool+`","arguments":{},"inputResponses":{"k":{"action":"accept"}},"requestState":`+mustJSON(state))
	}
	flipped := []byte(first.RequestState)
	flipped[3] ^= 1
	for name, r := range map[string]rpcReply{
		"changed":                retry("ada", "sealed", string(flipped)),
		"appended":               retry("ada", "sealed", first.RequestState+"-TAMPERED"),
		"another user":           retry("grace", "sealed", first.RequestState),
		"another tool":           retry("ada", "ask", first.RequestState),
		"not a state":            retry("ada", "sealed", "hello"),
		"a number, not a string": taskCall(t, url, "ada", elicitCaps, "tools/call", `"name":"sealed","arguments":{},"requestState":7`),
	} {
		if r.Error == nil || r.Error.Code != CodeInvalidParams || !strings.Contains(r.Error.Message, "requestState") || string(r.ID) != "1" {
			t.Errorf("%s: %s %+v, want -32602 about requestState", name, r.Result, r.Error)
		}
	}
	ok := decodeIR(t, retry("ada", "sealed", first.RequestState))
	if ok.ResultType != "complete" || ok.Content[0].Text != "state s1" {
		t.Fatalf("genuine state: %+v", ok)
	}
}

func TestRequestStateExpires(t *testing.T) {
	s, _ := newMRTRServer(t)
	now := time.Now()
	v := s.sealState([]byte("x"), "ada", "tools/call", "t", now.Add(time.Minute))
	if got, err := s.openState(v, "ada", "tools/call", "t", now); err != nil || string(got) != "x" {
		t.Fatalf("fresh state: %q, %v", got, err)
	}
	if _, err := s.openState(v, "ada", "tools/call", "t", now.Add(2*time.Minute)); err != errStateExpired {
		t.Fatalf("old state: %v", err)
	}
	// Owner, method and target are length-prefixed: moving a byte from one
	// to the next is a different binding.
	if _, err := s.openState(v, "ad", "atools/call", "t", now); err != errStateTampered {
		t.Fatalf("shifted binding: %v", err)
	}
}

// TestInputRequiredChecks: the revision's own errors for bad input and
// for asking what the client cannot answer.
func TestInputRequiredChecks(t *testing.T) {
	_, url := newMRTRServer(t)
	for name, c := range map[string]struct {
		caps, params string
		code         int
		msg          string
	}{
		"inputResponses not an object": {elicitCaps, `"name":"ask","arguments":{},"inputResponses":12`, CodeInvalidParams, "inputResponses must be an object"},
		"inputResponses null":          {elicitCaps, `"name":"ask","arguments":{},"inputResponses":null`, CodeInvalidParams, "inputResponses must be an object"},
		"a response not an object":     {elicitCaps, `"name":"ask","arguments":{},"inputResponses":{"elicitation-create-1":12345}`, CodeInvalidParams, `inputResponses["elicitation-create-1"] must be an object`},
		"sampling not declared":        {elicitCaps, `"name":"sample","arguments":{}`, CodeMissingRequiredClientCapability, "sampling"},
	} {
		r := taskCall(t, url, "ada", c.caps, "tools/call", c.params)
		if r.Error == nil || r.Error.Code != c.code || !strings.Contains(r.Error.Message, c.msg) {
			t.Errorf("%s: %s %+v, want %d %q", name, r.Result, r.Error, c.code, c.msg)
		}
	}
}

// TestInputRequiredIsModernOnly: a legacy session's handler that returns
// InputRequired gets -32603 (the legacy revisions have no such result);
// Elicit there stays a server-to-client request (client_requests_test.go).
func TestInputRequiredIsModernOnly(t *testing.T) {
	_, url := newMRTRServer(t)
	c := newHTTPClient(t, url)
	c.initialize("2025-11-25")
	_, msgs := c.call("tools/call", map[string]any{"name": "sealed", "arguments": map[string]any{}})
	last := msgs[len(msgs)-1]
	if last.Error == nil || last.Error.Code != CodeInternalError || !strings.Contains(last.Error.Message, "2026-07-28") {
		t.Fatalf("legacy InputRequired: %+v", last)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
