package mcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"remote-mcp-authkit/mcp"
)

// greeter is a ToolSet with a single tool.
type greeter struct{}

func (greeter) ListTools(context.Context) []mcp.Tool {
	return []mcp.Tool{{
		Name:        "greet",
		Description: "Greets someone by name.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`),
	}}
}

func (greeter) CallTool(ctx context.Context, name string, args json.RawMessage) (*mcp.CallToolResult, error) {
	if name != "greet" {
		return nil, fmt.Errorf("%w: %s", mcp.ErrUnknownTool, name)
	}
	var in struct{ Name string }
	if err := json.Unmarshal(args, &in); err != nil || in.Name == "" {
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("name is required")}, IsError: true}, nil
	}
	return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("Hello, " + in.Name + "!")}}, nil
}

func Example() {
	server := mcp.NewServer(mcp.ServerOptions{
		Info:         mcp.Implementation{Name: "greeter", Version: "1.0.0"},
		Instructions: "Greets people.",
		Tools:        greeter{},
	})
	mux := http.NewServeMux()
	mux.Handle("/mcp", server.StreamableHTTPHandler(mcp.HTTPOptions{}))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer server.Shutdown(context.Background())

	// What an MCP client does: initialize, then call a tool in the session.
	post := func(sessionID, body string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", ts.URL+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if sessionID != "" {
			req.Header.Set("Mcp-Session-Id", sessionID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := post("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"example","version":"1"}}}`)
	fmt.Println(body)
	session := resp.Header.Get("Mcp-Session-Id")
	post(session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	_, body = post(session, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"greet","arguments":{"name":"Ada"}}}`)
	fmt.Println(body)
	// Output:
	// {"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25","capabilities":{"logging":{},"tools":{"listChanged":true}},"serverInfo":{"name":"greeter","version":"1.0.0"},"instructions":"Greets people."}}
	// {"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"Hello, Ada!"}]}}
}
