package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/tools"
)

// How to add a tool and gate it: declare its schema, the permissions a
// caller must hold (and, optionally, the organizations allowed), and a
// handler that receives validated arguments with defaults filled in.
func ExampleNewTable() {
	shout := tools.Tool{
		Name:        "shout",
		Description: "Repeat a word in capitals.",
		InputSchema: &tools.Schema{
			Type: "object",
			Properties: map[string]*tools.Schema{
				"word":  {Type: "string", MinLength: tools.Ptr(1), MaxLength: tools.Ptr(100)},
				"times": {Type: "integer", Minimum: tools.Ptr(1.0), Maximum: tools.Ptr(5.0), Default: 2},
			},
			Required:             []string{"word"},
			AdditionalProperties: tools.Ptr(false),
		},
		Permissions: []string{"shouting"}, // every one of these is required
		// Organizations: []string{"org_01H..."}, // optional allow-list
		Handler: func(ctx context.Context, id *oauth.Identity, args json.RawMessage) (*mcp.CallToolResult, error) {
			var in struct {
				Word  string `json:"word"`
				Times int    `json:"times"`
			}
			if err := json.Unmarshal(args, &in); err != nil {
				return nil, err
			}
			text := strings.TrimSpace(strings.Repeat(strings.ToUpper(in.Word)+" ", in.Times))
			return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(text)}}, nil
		},
	}
	table, err := tools.NewTable(tools.Add(), tools.WhoAmI(), shout)
	if err != nil {
		panic(err) // a duplicate name or a malformed schema
	}

	loud := &oauth.Identity{Subject: "user_1", Permissions: []string{"shouting"}}
	quiet := &oauth.Identity{Subject: "user_2"}
	fmt.Println("loud sees:", table.Visible(loud))
	fmt.Println("quiet sees:", table.Visible(quiet))

	// The bearer middleware puts the identity into the request context; the
	// MCP server passes that context to ListTools and CallTool.
	res, _ := table.CallTool(oauth.WithIdentity(context.Background(), loud), "shout", json.RawMessage(`{"word":"hey"}`))
	fmt.Println(res.Content[0].Text)
	res, _ = table.CallTool(oauth.WithIdentity(context.Background(), loud), "shout", json.RawMessage(`{"word":"hey","times":9}`))
	fmt.Println(res.IsError, res.Content[0].Text)
	_, err = table.CallTool(oauth.WithIdentity(context.Background(), quiet), "shout", json.RawMessage(`{"word":"hey"}`))
	fmt.Println(err)
	// Output:
	// loud sees: [add whoami shout]
	// quiet sees: [add whoami]
	// HEY HEY
	// true invalid arguments: times: must be at most 5, got 9 (maximum)
	// tool "shout" is not available to this caller: it requires the "shouting" permission, which this account does not have
}
