package tools

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
)

func TestTableScopes(t *testing.T) {
	tb := defaultTable(t, OfflineRenderer{})
	got := tb.Scopes()
	want := []oauth.Scope{
		{Name: "tools:basic", Description: "Use the basic tools: Add two numbers, Who am I."},
		{Name: "image_generation", Description: "Use the tools that need your image_generation permission: Generate an image.", Permission: "image_generation"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Scopes() = %+v\nwant %+v", got, want)
	}
	// A new gated tool brings its scope.
	extra := Add()
	extra.Name, extra.Permissions = "sum_admin", []string{"admin:sum"}
	tb2, err := NewTable(Add(), extra)
	if err != nil {
		t.Fatal(err)
	}
	if got := tb2.Scopes(); len(got) != 2 || got[1].Name != "admin:sum" || got[1].Permission != "admin:sum" {
		t.Errorf("gated tool's scope: %+v", got)
	}
	for _, bad := range []string{BaselineScope, oauth.ScopeOfflineAccess, "with space", `q"`} {
		extra.Permissions = []string{bad}
		if _, err := NewTable(extra); err == nil {
			t.Errorf("NewTable accepted permission %q", bad)
		}
	}
}

func listed(tb *Table, id *oauth.Identity) string {
	var names []string
	for _, tool := range tb.ListTools(oauth.WithIdentity(context.Background(), id)) {
		names = append(names, tool.Name)
	}
	return strings.Join(names, ",")
}

// tools/list shows what both the token's scopes and the person's
// permissions allow.
func TestScopesLimitTools(t *testing.T) {
	tb := defaultTable(t, OfflineRenderer{})
	perm := []string{"image_generation"}
	for _, tc := range []struct {
		name   string
		id     *oauth.Identity
		listed string
	}{
		{"not limited by scopes", &oauth.Identity{Subject: "u", Permissions: perm}, "add,whoami,generateImage"},
		{"baseline only", &oauth.Identity{Subject: "u", Permissions: perm, Scopes: []string{"tools:basic"}}, "add,whoami"},
		{"both scopes", &oauth.Identity{Subject: "u", Permissions: perm, Scopes: []string{"tools:basic", "image_generation"}}, "add,whoami,generateImage"},
		{"scope without the permission", &oauth.Identity{Subject: "u", Scopes: []string{"tools:basic", "image_generation"}}, "add,whoami"},
		{"image scope only", &oauth.Identity{Subject: "u", Permissions: perm, Scopes: []string{"image_generation"}}, "generateImage"},
		{"no scope at all", &oauth.Identity{Subject: "u", Permissions: perm, Scopes: []string{}}, ""},
	} {
		if got := listed(tb, tc.id); got != tc.listed {
			t.Errorf("%s: listed %q, want %q", tc.name, got, tc.listed)
		}
	}
}

// Calling a tool the person may use but the token's scopes do not cover
// is a step-up: 403 insufficient_scope naming the scopes held plus the
// one needed. Without the permission it stays -32602 naming the
// permission, since no step-up can help.
func TestScopeErrorIsStepUp(t *testing.T) {
	tb := defaultTable(t, OfflineRenderer{})
	args := json.RawMessage(`{"prompt":"a fox"}`)
	id := &oauth.Identity{Subject: "u", Permissions: []string{"image_generation"}, Scopes: []string{"tools:basic", oauth.ScopeOfflineAccess},
		Resource: "http://127.0.0.1:8788/mcp"}
	_, err := tb.CallTool(oauth.WithIdentity(context.Background(), id), "generateImage", args)
	var se *ScopeError
	if !errors.As(err, &se) || !slices.Equal(se.MissingScopes, []string{"image_generation"}) {
		t.Fatalf("err %v", err)
	}
	var he *mcp.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Fatalf("HTTP answer %+v", he)
	}
	want := `Bearer error="insufficient_scope", scope="tools:basic image_generation", resource_metadata="http://127.0.0.1:8788/.well-known/oauth-protected-resource/mcp", error_description="tool generateImage needs the scope image_generation"`
	if got := he.Header.Get("WWW-Authenticate"); got != want {
		t.Errorf("challenge\n got %s\nwant %s", got, want)
	}
	var je *mcp.JSONRPCError
	if !errors.As(err, &je) || je.Code != mcp.CodeInvalidParams || !strings.Contains(je.Message, "image_generation") || !strings.Contains(string(je.Data), `"missingScopes":["image_generation"]`) {
		t.Errorf("JSON-RPC error %+v", je)
	}

	noPerm := &oauth.Identity{Subject: "u", Scopes: []string{"tools:basic"}}
	_, err = tb.CallTool(oauth.WithIdentity(context.Background(), noPerm), "generateImage", args)
	var ae *AccessError
	if !errors.As(err, &ae) || errors.As(err, &se) || errors.As(err, &he) {
		t.Errorf("without the permission: %v", err)
	}

	imageOnly := &oauth.Identity{Subject: "u", Permissions: []string{"image_generation"}, Scopes: []string{"image_generation"}}
	if _, err := tb.CallTool(oauth.WithIdentity(context.Background(), imageOnly), "add", json.RawMessage(`{"a":1,"b":2}`)); !errors.As(err, &se) || se.MissingScopes[0] != BaselineScope {
		t.Errorf("add without the baseline scope: %v", err)
	}
	full := &oauth.Identity{Subject: "u", Permissions: []string{"image_generation"}, Scopes: []string{"tools:basic", "image_generation"}}
	if res, err := tb.CallTool(oauth.WithIdentity(context.Background(), full), "generateImage", args); err != nil || res.IsError {
		t.Errorf("with the scope: %v %+v", err, res)
	}
}

// whoami shows the token's scopes beside the permissions, so a person can
// see why a tool they may use is not listed.
func TestWhoAmIShowsScopes(t *testing.T) {
	tb := defaultTable(t, OfflineRenderer{})
	id := &oauth.Identity{Subject: "u", Permissions: []string{"image_generation"}, Scopes: []string{"tools:basic"}}
	res, err := tb.CallTool(oauth.WithIdentity(context.Background(), id), "whoami", nil)
	if err != nil || res.IsError {
		t.Fatalf("whoami: %+v %v", res, err)
	}
	got, _ := json.Marshal(res.StructuredContent)
	if !strings.Contains(string(got), `"permissions":["image_generation"],"scopes":["tools:basic"]`) {
		t.Errorf("whoami %s", got)
	}
}
