package mcp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// forbiddingTools refuses the tool "gated" with an HTTPError, as an
// authorization layer refuses a token without the scope a tool needs.
type forbiddingTools struct{ *testTools }

const testChallenge = `Bearer error="insufficient_scope", scope="basic gated"`

func (f forbiddingTools) CallTool(ctx context.Context, name string, args json.RawMessage) (*CallToolResult, error) {
	if name == "gated" {
		return nil, &HTTPError{Status: http.StatusForbidden,
			Header: http.Header{"Www-Authenticate": {testChallenge}},
			RPC:    NewInvalidParams("invalid params: tool gated needs scope gated")}
	}
	return f.testTools.CallTool(ctx, name, args)
}

// An HTTPError from a tool reaches a Streamable HTTP client as the HTTP
// status and headers it names, with the JSON-RPC error as the body; the
// session goes on.
func TestHTTPErrorFromTool(t *testing.T) {
	_, ts := newTestServer(t, forbiddingTools{newTestTools()}, HTTPOptions{})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	resp := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"gated","arguments":{}}}`, nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("WWW-Authenticate") != testChallenge {
		t.Fatalf("status %d, WWW-Authenticate %q, body %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	var r rpcReply
	if err := json.Unmarshal(body, &r); err != nil || r.Error == nil || r.Error.Code != CodeInvalidParams || string(r.ID) != "7" {
		t.Fatalf("body %s", body)
	}
	if got := c.result("tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": "still here"}}); len(got) == 0 {
		t.Fatal("no result after the refusal")
	}
}

// Over HTTP+SSE the POST is answered 202 before the request runs, so the
// client gets the JSON-RPC error alone, on the stream.
func TestHTTPErrorOverSSE(t *testing.T) {
	_, ts := newTestServer(t, forbiddingTools{newTestTools()}, HTTPOptions{})
	c := openLegacy(t, ts.URL, "/sse", nil)
	c.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, "1")
	got := c.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"gated","arguments":{}}}`, "2")
	if last := got[len(got)-1]; last.Error == nil || last.Error.Code != CodeInvalidParams {
		t.Fatalf("answer %+v", got)
	}
}
