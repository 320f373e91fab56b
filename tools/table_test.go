package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
)

// echoTool returns a tool whose handler reports its arguments and caller,
// so that tests see exactly what reached the handler.
func echoTool(name string, perms, orgs []string) Tool {
	return Tool{
		Name:          name,
		InputSchema:   &Schema{Type: "object", Properties: map[string]*Schema{"n": {Type: "integer", Default: 1}}},
		Permissions:   perms,
		Organizations: orgs,
		Handler: func(_ context.Context, id *oauth.Identity, args json.RawMessage) (*mcp.CallToolResult, error) {
			who := "<nil>"
			if id != nil {
				who = id.Subject
			}
			return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(who + " " + string(args))}}, nil
		},
	}
}

func gatedTable(t *testing.T) *Table {
	t.Helper()
	tb, err := NewTable(
		echoTool("open", nil, nil),
		echoTool("images", []string{"image_generation"}, nil),
		echoTool("admin", []string{"image_generation", "admin"}, nil),
		echoTool("acme_only", nil, []string{"org_acme"}),
		echoTool("acme_images", []string{"image_generation"}, []string{"org_acme", "org_beta"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestGating(t *testing.T) {
	tb := gatedTable(t)
	alice := &oauth.Identity{Subject: "alice", OrganizationID: "org_acme", Permissions: []string{"image_generation"}}
	bob := &oauth.Identity{Subject: "bob", OrganizationID: "org_acme"}
	carol := &oauth.Identity{Subject: "carol", OrganizationID: "org_other", Permissions: []string{"image_generation", "admin"}}
	dave := &oauth.Identity{Subject: "dave", Permissions: []string{"image_generation"}} // no organization

	cases := []struct {
		name    string
		id      *oauth.Identity
		visible []string
		// refused maps a hidden tool to a substring of its refusal.
		refused map[string]string
	}{
		{"with the permission, in the allowed org", alice,
			[]string{"open", "images", "acme_only", "acme_images"},
			map[string]string{"admin": `requires the "admin" permission`}},
		{"without the permission", bob,
			[]string{"open", "acme_only"},
			map[string]string{
				"images":      `requires the "image_generation" permission`,
				"admin":       `requires the permissions "image_generation", "admin"`,
				"acme_images": `requires the "image_generation" permission`,
			}},
		{"another organization", carol,
			[]string{"open", "images", "admin"},
			map[string]string{
				"acme_only":   `organization "org_other" is not one of them`,
				"acme_images": `organization "org_other" is not one of them`,
			}},
		{"no organization", dave,
			[]string{"open", "images"},
			map[string]string{"acme_only": "belongs to none"}},
		{"nil identity", nil,
			[]string{"open"},
			map[string]string{"images": "requires a signed-in user", "acme_only": "requires a signed-in user"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := tb.Visible(c.id); !slices.Equal(got, c.visible) {
				t.Errorf("Visible = %v, want %v", got, c.visible)
			}
			ctx := context.Background()
			if c.id != nil {
				ctx = oauth.WithIdentity(ctx, c.id)
			}
			var listed []string
			for _, tool := range tb.ListTools(ctx) {
				listed = append(listed, tool.Name)
			}
			if !slices.Equal(listed, c.visible) {
				t.Errorf("ListTools = %v, want %v", listed, c.visible)
			}
			for _, name := range c.visible {
				if err := tb.Allowed(c.id, name); err != nil {
					t.Errorf("Allowed(%s) = %v, want nil", name, err)
				}
				res, err := tb.CallTool(ctx, name, nil)
				if err != nil || res.IsError {
					t.Errorf("CallTool(%s) = %+v, %v; want success", name, res, err)
				}
			}
			for name, want := range c.refused {
				for _, err := range []error{tb.Allowed(c.id, name), callErr(tb, ctx, name)} {
					var ae *AccessError
					var je *mcp.JSONRPCError
					if !errors.As(err, &ae) || !errors.As(err, &je) || je.Code != mcp.CodeInvalidParams {
						t.Fatalf("%s: got %v, want an *AccessError answered as JSON-RPC -32602", name, err)
					}
					if !strings.Contains(je.Message, want) {
						t.Errorf("%s: JSON-RPC message %q does not contain %q", name, je.Message, want)
					}
					if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `"`+name+`"`) {
						t.Errorf("%s: refusal %q does not name the tool and %q", name, err, want)
					}
				}
			}
		})
	}
}

func callErr(tb *Table, ctx context.Context, name string) error {
	res, err := tb.CallTool(ctx, name, json.RawMessage(`{}`))
	if res != nil {
		return errors.New("got a result, want an error")
	}
	return err
}

func TestGatingFollowsPermissionChanges(t *testing.T) {
	tb := gatedTable(t)
	id := &oauth.Identity{Subject: "u", OrganizationID: "org_beta"}
	ctx := oauth.WithIdentity(context.Background(), id)
	names := func() []string {
		var out []string
		for _, tool := range tb.ListTools(ctx) {
			out = append(out, tool.Name)
		}
		return out
	}
	if got := names(); !slices.Equal(got, []string{"open"}) {
		t.Fatalf("before the grant: %v", got)
	}
	// The authorization server replaces the identity's permissions after a
	// refresh; the next list must follow.
	id.Permissions = []string{"image_generation"}
	if got := names(); !slices.Equal(got, []string{"open", "images", "acme_images"}) {
		t.Fatalf("after the grant: %v", got)
	}
	if res, err := tb.CallTool(ctx, "acme_images", nil); err != nil || res.IsError {
		t.Fatalf("call after the grant: %+v, %v", res, err)
	}
	id.Permissions = nil
	if got := names(); !slices.Equal(got, []string{"open"}) {
		t.Fatalf("after the removal: %v", got)
	}
	var ae *AccessError
	if _, err := tb.CallTool(ctx, "acme_images", nil); !errors.As(err, &ae) {
		t.Fatalf("call after the removal: %v, want a refusal", err)
	}
}

func TestCallTool(t *testing.T) {
	tb := gatedTable(t)
	ctx := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "alice"})

	_, err := tb.CallTool(ctx, "nope", nil)
	var ae *AccessError
	if !errors.Is(err, mcp.ErrUnknownTool) || errors.As(err, &ae) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown tool: %v, want a plain unknown-tool error naming it", err)
	}

	res, err := tb.CallTool(ctx, "open", json.RawMessage(`{"n":5}`))
	if err != nil || res.IsError || res.Content[0].Text != `alice {"n":5}` {
		t.Fatalf("call: %+v, %v", res, err)
	}
	res, _ = tb.CallTool(ctx, "open", nil)
	if res.Content[0].Text != `alice {"n":1}` {
		t.Fatalf("default not applied: %q", res.Content[0].Text)
	}
	res, err = tb.CallTool(ctx, "open", json.RawMessage(`{"n":"five"}`))
	if err != nil || !res.IsError || !strings.Contains(res.Content[0].Text, "n: must be an integer") {
		t.Fatalf("invalid arguments: %+v, %v; want an isError result naming n", res, err)
	}
	big := json.RawMessage(`{"x":"` + strings.Repeat("a", MaxArgumentBytes) + `"}`)
	res, err = tb.CallTool(ctx, "open", big)
	if err != nil || !res.IsError || !strings.Contains(res.Content[0].Text, "the limit is") {
		t.Fatalf("oversize arguments: %+v, %v", res, err)
	}
}

func TestHandlerFailuresBecomeErrorResults(t *testing.T) {
	failing := echoTool("fails", nil, nil)
	failing.Handler = func(context.Context, *oauth.Identity, json.RawMessage) (*mcp.CallToolResult, error) {
		return nil, errors.New("the disk is on fire")
	}
	empty := echoTool("empty", nil, nil)
	empty.Handler = func(context.Context, *oauth.Identity, json.RawMessage) (*mcp.CallToolResult, error) {
		return nil, nil
	}
	liar := echoTool("liar", nil, nil)
	liar.OutputSchema = &Schema{Type: "object", Properties: map[string]*Schema{"n": {Type: "integer"}}, Required: []string{"n"}}
	liar.Handler = func(context.Context, *oauth.Identity, json.RawMessage) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("x")}, StructuredContent: map[string]any{"n": "not a number"}}, nil
	}
	tb, err := NewTable(failing, empty, liar)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"fails": "the disk is on fire",
		"empty": "returned no result",
		"liar":  "does not match its outputSchema: n: must be an integer",
	} {
		res, err := tb.CallTool(context.Background(), name, nil)
		if err != nil || !res.IsError || !strings.Contains(res.Content[0].Text, want) {
			t.Errorf("%s: %+v, %v; want an isError result containing %q", name, res, err, want)
		}
	}
}

func TestNewTableRefusesBadTools(t *testing.T) {
	ok := echoTool("ok", nil, nil)
	withName := func(n string) Tool { t := ok; t.Name = n; return t }
	noHandler := ok
	noHandler.Handler = nil
	noSchema := ok
	noSchema.InputSchema = nil
	stringSchema := ok
	stringSchema.InputSchema = &Schema{Type: "string"}
	badSchema := ok
	badSchema.InputSchema = &Schema{Type: "object", Required: []string{"ghost"}, AdditionalProperties: Ptr(false)}
	badOutput := ok
	badOutput.OutputSchema = &Schema{Type: "object", Properties: map[string]*Schema{"x": {Type: "float"}}}
	cases := []struct {
		name  string
		tools []Tool
		want  string
	}{
		{"duplicate", []Tool{ok, ok}, `"ok" is declared twice`},
		{"empty name", []Tool{withName("")}, "1 to 128 characters"},
		{"long name", []Tool{withName(strings.Repeat("a", 129))}, "1 to 128 characters"},
		{"space in name", []Tool{withName("my tool")}, "' ' is not allowed"},
		{"no handler", []Tool{noHandler}, "has no handler"},
		{"no input schema", []Tool{noSchema}, "inputSchema must be of type object"},
		{"string input schema", []Tool{stringSchema}, "inputSchema must be of type object"},
		{"malformed input schema", []Tool{badSchema}, `required property "ghost"`},
		{"malformed output schema", []Tool{badOutput}, `outputSchema.x: type "float"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewTable(c.tools...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("NewTable = %v, want an error containing %q", err, c.want)
			}
		})
	}
	if _, err := NewTable(withName("a-b_c.D9")); err != nil {
		t.Fatalf("a valid name was refused: %v", err)
	}
}

func TestListedToolShape(t *testing.T) {
	tb, err := Default(OfflineRenderer{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "u", Permissions: []string{"image_generation"}})
	b, err := json.Marshal(tb.ListTools(ctx))
	if err != nil {
		t.Fatal(err)
	}
	var tools []map[string]json.RawMessage
	if err := json.Unmarshal(b, &tools); err != nil {
		t.Fatal(err)
	}
	if len(tools) != 3 {
		t.Fatalf("got %d tools, want 3: %s", len(tools), b)
	}
	gen := tools[2]
	if string(gen["name"]) != `"generateImage"` {
		t.Fatalf("third tool is %s", gen["name"])
	}
	wantSchema := `{"type":"object","properties":{"prompt":{"type":"string","description":"A text description of the image you want to generate.","minLength":1,"maxLength":2048},"steps":{"type":"integer","description":"The number of diffusion steps, from 4 to 8, for image services that have such a parameter; higher values can improve quality but take longer. The offline renderer draws more shapes for more steps.","minimum":4,"maximum":8,"default":4}},"required":["prompt"],"additionalProperties":false}`
	if string(gen["inputSchema"]) != wantSchema {
		t.Errorf("generateImage inputSchema:\n got %s\nwant %s", gen["inputSchema"], wantSchema)
	}
	wantAnn := `{"readOnlyHint":true,"destructiveHint":false,"idempotentHint":false,"openWorldHint":true}`
	if string(gen["annotations"]) != wantAnn {
		t.Errorf("generateImage annotations: got %s want %s", gen["annotations"], wantAnn)
	}
	if _, ok := tools[1]["outputSchema"]; !ok {
		t.Errorf("whoami has no outputSchema: %s", b)
	}
}

// TestOutputSchemaOfAnyType: since MCP 2026-07-28 structuredContent may be
// any JSON value, checked against an outputSchema of any type.
func TestOutputSchemaOfAnyType(t *testing.T) {
	list := echoTool("list", nil, nil)
	list.OutputSchema = &Schema{Type: "array", Items: &Schema{Type: "string"}, MaxItems: Ptr(2)}
	var out any
	list.Handler = func(context.Context, *oauth.Identity, json.RawMessage) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("x")}, StructuredContent: out}, nil
	}
	tb, err := NewTable(list)
	if err != nil {
		t.Fatalf("NewTable refused an array outputSchema: %v", err)
	}
	if got := string(tb.ListTools(context.Background())[0].OutputSchema); got != `{"type":"array","items":{"type":"string"},"maxItems":2}` {
		t.Errorf("tools/list shows outputSchema %s", got)
	}
	out = []string{"a", "b"}
	if res, err := tb.CallTool(context.Background(), "list", nil); err != nil || res.IsError {
		t.Errorf("a conforming array: %+v, %v", res, err)
	}
	out = []string{"a", "b", "c"}
	res, err := tb.CallTool(context.Background(), "list", nil)
	if err != nil || !res.IsError || !strings.Contains(res.Content[0].Text, "at most 2 items") {
		t.Errorf("a long array: %+v, %v; want an isError result about maxItems", res, err)
	}
}

// TestTaskSupport: a tool's TaskSupport is listed as execution.taskSupport
// and answered to the server through mcp.TaskSupporter.
func TestTaskSupport(t *testing.T) {
	slow := echoTool("slow", nil, nil)
	slow.TaskSupport = mcp.TaskOptional
	plain := echoTool("plain", nil, nil)
	gated := echoTool("gated", []string{"image_generation"}, nil)
	gated.TaskSupport = mcp.TaskOptional
	tb, err := NewTable(slow, plain, gated)
	if err != nil {
		t.Fatal(err)
	}
	if got := tb.TaskSupport(context.Background(), "slow"); got != mcp.TaskOptional {
		t.Errorf("TaskSupport(slow) = %q", got)
	}
	if got := tb.TaskSupport(context.Background(), "plain") + tb.TaskSupport(context.Background(), "nope"); got != mcp.TaskForbidden+mcp.TaskForbidden {
		t.Errorf("TaskSupport(plain), (nope) = %q", got)
	}
	// A caller who may not call the tool is refused at once, not in a task.
	if got := tb.TaskSupport(context.Background(), "gated"); got != mcp.TaskForbidden {
		t.Errorf("TaskSupport(gated) without the permission = %q", got)
	}
	list := tb.ListTools(context.Background())
	if list[0].Execution == nil || list[0].Execution.TaskSupport != "optional" || list[1].Execution != nil {
		t.Errorf("listed execution: %+v, %+v", list[0].Execution, list[1].Execution)
	}
	if g := GenerateImage(OfflineRenderer{}); g.TaskSupport != mcp.TaskOptional {
		t.Errorf("generateImage TaskSupport %q", g.TaskSupport)
	}
	bad := echoTool("bad", nil, nil)
	bad.TaskSupport = "sometimes"
	if _, err := NewTable(bad); err == nil || !strings.Contains(err.Error(), `TaskSupport "sometimes"`) {
		t.Errorf("NewTable with a bad TaskSupport: %v", err)
	}
}

// A handler's *mcp.JSONRPCError is the protocol's answer (a missing client
// capability, say), passed through rather than turned into a result.
func TestHandlerJSONRPCErrorPassesThrough(t *testing.T) {
	tb, err := NewTable(Diagnostics()...)
	if err != nil {
		t.Fatal(err)
	}
	// Outside a modern request the diagnostic answers as a tool failure.
	res, err := tb.CallTool(context.Background(), "test_missing_capability", nil)
	if err != nil || !res.IsError {
		t.Fatalf("legacy: %+v, %v", res, err)
	}
	wrapped := echoTool("wrapped", nil, nil)
	wrapped.Handler = func(context.Context, *oauth.Identity, json.RawMessage) (*mcp.CallToolResult, error) {
		return nil, fmt.Errorf("needs: %w", mcp.NewMissingRequiredClientCapability(map[string]any{"elicitation": struct{}{}}))
	}
	tb, err = NewTable(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	res, err = tb.CallTool(context.Background(), "wrapped", nil)
	var rpcErr *mcp.JSONRPCError
	if res != nil || !errors.As(err, &rpcErr) || rpcErr.Code != mcp.CodeMissingRequiredClientCapability ||
		string(rpcErr.Data) != `{"requiredCapabilities":{"elicitation":{}}}` {
		t.Fatalf("got %+v, %v", res, err)
	}
}

// TestLookupTool: LookupTool finds what ListTools would show the caller,
// and nothing the caller may not see.
func TestLookupTool(t *testing.T) {
	tb, err := NewTable(echoTool("open", nil, nil), echoTool("gated", []string{"image_generation"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	listed := tb.ListTools(ctx)
	got, ok := tb.LookupTool(ctx, "open")
	if !ok || got.Name != "open" || string(got.InputSchema) != string(listed[0].InputSchema) {
		t.Errorf("LookupTool(open) = %+v, %v; listed %+v", got, ok, listed[0])
	}
	if _, ok := tb.LookupTool(ctx, "gated"); ok {
		t.Error("LookupTool found a tool the caller may not see")
	}
	if _, ok := tb.LookupTool(ctx, "nope"); ok {
		t.Error("LookupTool found a tool that does not exist")
	}
}
