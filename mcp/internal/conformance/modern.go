package main

// What the 2026-07-28 scenarios of the suite (0.2.0-alpha.12,
// `--requirements 2026-07-28`) need beyond the legacy ones, and answer
// here:
//
//   - server-stateless: test_missing_capability needs the client's sampling
//     capability and answers -32021 (MissingRequiredClientCapability) to a
//     request whose _meta did not declare it; test_logging_tool logs, which
//     a request without _meta logLevel must not see; test_trigger_tool_change
//     and test_trigger_prompt_change change the tool and prompt lists, which
//     subscriptions/listen streams that opted in must hear about.
//   - http-custom-header-server-validation: test_header_param mirrors its
//     region argument into the Mcp-Param-Region header (x-mcp-header), which
//     package mcp checks against the body.

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	"remote-mcp-authkit/mcp"
)

// fixtureToolSet is the fixture's tool table plus one tool that
// test_trigger_tool_change adds and removes, so that the list changes.
type fixtureToolSet struct {
	table   toolTable
	dynamic atomic.Bool
}

var dynamicTool = fixtureTool{mcp.Tool{Name: "test_dynamic_tool", Description: "Present while test_trigger_tool_change last added it", InputSchema: noArguments},
	fixed(mcp.TextContent("dynamic"))}

func (f *fixtureToolSet) ListTools(ctx context.Context) []mcp.Tool {
	tools := f.table.ListTools(ctx)
	if f.dynamic.Load() {
		tools = append(tools, dynamicTool.Tool)
	}
	return tools
}

func (f *fixtureToolSet) CallTool(ctx context.Context, name string, arguments json.RawMessage) (*mcp.CallToolResult, error) {
	if name == dynamicTool.Name && f.dynamic.Load() {
		return dynamicTool.run(ctx, arguments)
	}
	return f.table.CallTool(ctx, name, arguments)
}

// modernTools are the diagnostic tools the 2026-07-28 scenarios call; srv
// is the server they change, set once it exists.
func modernTools(f *fixtureToolSet, srv func() *mcp.Server) []fixtureTool {
	var promptMu sync.Mutex
	promptOn := false
	return []fixtureTool{
		{mcp.Tool{Name: "test_missing_capability", Description: "Needs the client's sampling capability; without it, answers MissingRequiredClientCapability", InputSchema: noArguments},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				if !mcp.ClientHasCapability(ctx, "sampling") {
					if mcp.EraOf(ctx) == mcp.EraModern {
						return nil, mcp.NewMissingRequiredClientCapability(map[string]any{"sampling": struct{}{}})
					}
					return failed("this tool needs the sampling capability"), nil
				}
				return text("the client declared sampling"), nil
			}},
		{mcp.Tool{Name: "test_logging_tool", Description: "Logs three messages at info; a modern request sees them only with _meta logLevel", InputSchema: noArguments},
			toolWithLogging},
		{mcp.Tool{Name: "test_trigger_tool_change", Description: "Adds or removes test_dynamic_tool and tells listeners the tool list changed", InputSchema: noArguments},
			func(context.Context, json.RawMessage) (*mcp.CallToolResult, error) {
				f.dynamic.Store(!f.dynamic.Load())
				srv().NotifyToolListChanged("")
				return text("tool list changed"), nil
			}},
		{mcp.Tool{Name: "test_trigger_prompt_change", Description: "Adds or removes test_dynamic_prompt, which tells listeners the prompt list changed", InputSchema: noArguments},
			func(context.Context, json.RawMessage) (*mcp.CallToolResult, error) {
				promptMu.Lock()
				defer promptMu.Unlock()
				if promptOn {
					srv().RemovePrompt("test_dynamic_prompt")
				} else {
					srv().AddPrompt(mcp.Prompt{Name: "test_dynamic_prompt", Description: "Present while test_trigger_prompt_change last added it"},
						func(context.Context, map[string]string) (*mcp.GetPromptResult, error) {
							return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{userText("dynamic")}}, nil
						})
				}
				promptOn = !promptOn
				return text("prompt list changed"), nil
			}},
		{mcp.Tool{Name: "test_header_param", Description: "Mirrors its region argument into the Mcp-Param-Region header (x-mcp-header)",
			InputSchema: json.RawMessage(`{"type":"object","properties":{"region":{"type":"string","description":"Where to run","x-mcp-header":"Region"},"query":{"type":"string"}},"required":["region"]}`)},
			func(_ context.Context, args json.RawMessage) (*mcp.CallToolResult, error) {
				var a struct {
					Region string `json:"region"`
				}
				_ = json.Unmarshal(args, &a)
				return text("region " + a.Region), nil
			}},
	}
}
