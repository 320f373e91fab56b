package app

// The server's guide: a resource, a resource template and a prompt that say
// how to use it. They are the same for every caller, so modern results
// carry cacheScope "public"; the tool list, which depends on the caller's
// permissions, is the one "private" list.

import (
	"context"
	"fmt"

	"remote-mcp-authkit/mcp"
)

const guideURI = "remote-mcp-authkit://guide"

// guideTopics are the sections of the guide, each readable on its own
// through the template remote-mcp-authkit://guide/{topic}.
var guideTopics = map[string]string{
	"tools": "Tools are gated by your AuthKit permissions: everyone may call add and whoami; " +
		"generateImage needs the image_generation permission. tools/list shows only what you may call.",
	"sign-in": "Clients sign in with OAuth 2.1 (PKCE S256): discovery from the 401's WWW-Authenticate " +
		"header, client ID metadata documents or dynamic registration, consent, then AuthKit.",
	"protocol": "/mcp serves MCP 2026-07-28 statelessly (per-request _meta, server/discover, " +
		"subscriptions/listen) beside the initialize-based revisions 2024-11-05 to 2025-11-25; " +
		"/sse serves the deprecated HTTP+SSE transport.",
}

// addGuide registers the guide with srv.
func addGuide(srv *mcp.Server) {
	srv.AddResource(mcp.Resource{URI: guideURI, Name: "guide", Title: "How to use this server", MimeType: "text/plain"},
		func(context.Context, string, map[string]string) ([]mcp.ResourceContents, error) {
			text := ""
			for _, k := range []string{"tools", "sign-in", "protocol"} {
				text += k + ": " + guideTopics[k] + "\n"
			}
			return []mcp.ResourceContents{{MimeType: "text/plain", Text: text}}, nil
		})
	srv.AddResourceTemplate(mcp.ResourceTemplate{URITemplate: guideURI + "/{topic}", Name: "guide-topic",
		Title: "One section of the guide (tools, sign-in, protocol)", MimeType: "text/plain"},
		func(_ context.Context, _ string, vars map[string]string) ([]mcp.ResourceContents, error) {
			text, ok := guideTopics[vars["topic"]]
			if !ok {
				return nil, mcp.ErrResourceNotFound
			}
			return []mcp.ResourceContents{{MimeType: "text/plain", Text: text}}, nil
		})
	srv.AddPrompt(mcp.Prompt{Name: "draw", Title: "Draw something",
		Description: "Ask the model to draw a subject with the generateImage tool",
		Arguments:   []mcp.PromptArgument{{Name: "subject", Description: "What to draw", Required: true}}},
		func(_ context.Context, args map[string]string) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{{Role: "user",
				Content: mcp.TextContent(fmt.Sprintf("Use the generateImage tool to draw %s.", args["subject"]))}}}, nil
		})
}
