package tools

// Diagnostic tools that the official MCP conformance suite calls by name
// when it tests a server (2026-07-28 scenario server-stateless). They are
// off unless the server is started with -conformance-diagnostics, for a
// conformance run against the real, signed-in /mcp; they need no
// permission and touch nothing.

import (
	"context"
	"encoding/json"
	"time"

	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
)

// Diagnostics returns the conformance suite's diagnostic tools.
func Diagnostics() []Tool {
	none := &Schema{Type: "object"}
	return []Tool{
		{
			Name:        "test_missing_capability",
			Description: "Conformance diagnostic: needs the client's sampling capability, and says so with MissingRequiredClientCapability (-32021) when a 2026-07-28 request did not declare it.",
			InputSchema: none,
			Handler: func(ctx context.Context, _ *oauth.Identity, _ json.RawMessage) (*mcp.CallToolResult, error) {
				if !mcp.ClientHasCapability(ctx, "sampling") {
					if mcp.EraOf(ctx) == mcp.EraModern {
						return nil, mcp.NewMissingRequiredClientCapability(map[string]any{"sampling": struct{}{}})
					}
					return ErrorResult("this tool needs the sampling capability"), nil
				}
				return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("the client declared sampling")}}, nil
			},
		},
		{
			Name:        "test_logging_tool",
			Description: "Conformance diagnostic: logs three messages at info, which a 2026-07-28 request sees only when its _meta sets a log level.",
			InputSchema: none,
			Handler: func(ctx context.Context, _ *oauth.Identity, _ json.RawMessage) (*mcp.CallToolResult, error) {
				for i, msg := range []string{"started", "working", "done"} {
					if i > 0 {
						select {
						case <-time.After(20 * time.Millisecond):
						case <-ctx.Done():
							return nil, ctx.Err()
						}
					}
					_ = mcp.Log(ctx, mcp.LevelInfo, "test_logging_tool", msg)
				}
				return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("logged")}}, nil
			},
		},
		{
			Name:        "test_streaming_elicitation",
			Description: "Conformance diagnostic: asks for a name through mcp.Elicit, a server-to-client request in a legacy session and an InputRequiredResult in 2026-07-28, never a request on the response stream.",
			InputSchema: none,
			Handler: func(ctx context.Context, _ *oauth.Identity, _ json.RawMessage) (*mcp.CallToolResult, error) {
				res, err := mcp.Elicit(ctx, &mcp.ElicitParams{Message: "What is your name?",
					RequestedSchema: json.RawMessage(`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`)})
				if err != nil {
					return nil, err
				}
				return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("elicitation: " + res.Action)}}, nil
			},
		},
	}
}
