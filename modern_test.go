package main

// End-to-end in the stateless revision (MCP 2026-07-28): a client signed
// in through the whole OAuth flow talks to /mcp with no initialize and no
// session, each request carrying its _meta and the headers that mirror it,
// and listens for changes with subscriptions/listen. Its listener follows
// its grant as a legacy session's GET stream does: a refresh that changes
// the user's permissions sends toolsListChanged, and revoking the grant
// ends the stream.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// modernClient sends 2026-07-28 requests: _meta in params, the standard
// headers beside them.
type modernClient struct {
	ctx   context.Context
	hc    *http.Client
	url   string
	token string
	next  int
}

var modernMeta = map[string]any{
	"io.modelcontextprotocol/protocolVersion":    "2026-07-28",
	"io.modelcontextprotocol/clientCapabilities": map[string]any{},
	"io.modelcontextprotocol/clientInfo":         map[string]string{"name": "e2e", "version": "1"},
}

func (c *modernClient) post(t *testing.T, method string, params map[string]any) *http.Response {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	params["_meta"] = modernMeta
	c.next++
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": c.next, "method": method, "params": params})
	req, _ := http.NewRequestWithContext(c.ctx, http.MethodPost, c.url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", method)
	if name, ok := params["name"].(string); ok {
		req.Header.Set("Mcp-Name", name)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (c *modernClient) call(t *testing.T, method string, params any) (json.RawMessage, *rpcError) {
	t.Helper()
	p, _ := params.(map[string]any)
	if p == nil && params != nil {
		b, _ := json.Marshal(params)
		_ = json.Unmarshal(b, &p)
	}
	res := c.post(t, method, p)
	defer res.Body.Close()
	if res.Header.Get("Mcp-Session-Id") != "" {
		t.Fatalf("%s: a modern response named a session", method)
	}
	var m rpcMessage
	switch ct := res.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "text/event-stream"):
		st := newSSEStream(res)
		m = *st.waitMessage(t, func(m *rpcMessage) bool { return string(m.ID) == fmt.Sprint(c.next) })
	default:
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
			t.Fatalf("%s: %s: %v", method, res.Status, err)
		}
	}
	if m.Error != nil {
		return nil, m.Error
	}
	var env struct {
		ResultType string                     `json:"resultType"`
		Meta       map[string]json.RawMessage `json:"_meta"`
	}
	if err := json.Unmarshal(m.Result, &env); err != nil || env.ResultType != "complete" || env.Meta["io.modelcontextprotocol/serverInfo"] == nil {
		t.Fatalf("%s: result without the modern envelope: %s", method, m.Result)
	}
	return m.Result, nil
}

func TestModernEraSignedIn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv := startServer(t, serverConfig{external: true})
	mcpURL := srv.base + "/mcp"
	auth := discover(ctx, t, mcpURL)
	auth.register(ctx, t, "Ada's modern client")
	tok := auth.authorize(ctx, t, newBrowser(t), "ada@example.com")
	c := &modernClient{ctx: ctx, hc: &http.Client{}, url: mcpURL, token: tok.AccessToken}

	var disc struct {
		SupportedVersions []string `json:"supportedVersions"`
		Capabilities      struct {
			Tools *struct{} `json:"tools"`
		} `json:"capabilities"`
	}
	if err := json.Unmarshal(mustCall(t, c, "server/discover", nil), &disc); err != nil || len(disc.SupportedVersions) == 0 ||
		disc.SupportedVersions[0] != "2026-07-28" || disc.Capabilities.Tools == nil {
		t.Fatalf("server/discover: %+v %v", disc, err)
	}
	var list struct {
		Scope string `json:"cacheScope"`
	}
	if err := json.Unmarshal(mustCall(t, c, "tools/list", nil), &list); err != nil || list.Scope != "private" {
		t.Fatalf("tools/list cacheScope %q: it depends on the caller", list.Scope)
	}
	if got, want := toolNames(t, c), []string{"add", "whoami", "generateImage"}; !sameSet(got, want) {
		t.Fatalf("Ada's tools %v, want %v", got, want)
	}
	checkAdd(t, c)
	checkWhoami(t, c, "ada@example.com")

	// The listener: acknowledged first, with what the server will send.
	res := c.post(t, "subscriptions/listen", map[string]any{"notifications": map[string]any{"toolsListChanged": true, "promptsListChanged": true}})
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("subscriptions/listen: %s", res.Status)
	}
	listener := newSSEStream(res)
	t.Cleanup(listener.close)
	listenID := fmt.Sprint(c.next)
	ack := listener.waitMessage(t, func(*rpcMessage) bool { return true })
	if ack.Method != "notifications/subscriptions/acknowledged" || !strings.Contains(string(ack.Params), `"io.modelcontextprotocol/subscriptionId":`+listenID) {
		t.Fatalf("first message %+v %s", ack, ack.Params)
	}

	// Ada loses image_generation; her client refreshes: the listener
	// opened with this grant hears it, tagged, and the list shrinks.
	if err := srv.emu.SetPermissions("ada@example.com", nil); err != nil {
		t.Fatal(err)
	}
	tok = auth.refresh(ctx, t, tok.RefreshToken)
	changed := listener.waitMessage(t, func(m *rpcMessage) bool { return m.Method == "notifications/tools/list_changed" })
	if !strings.Contains(string(changed.Params), `"io.modelcontextprotocol/subscriptionId":`+listenID) {
		t.Fatalf("list_changed without its subscriptionId: %s", changed.Params)
	}
	c.token = tok.AccessToken
	if got, want := toolNames(t, c), []string{"add", "whoami"}; !sameSet(got, want) {
		t.Fatalf("Ada's tools after the refresh %v, want %v", got, want)
	}

	// The grant is revoked: the listener ends, after the listen request's
	// response (graceful closure).
	auth.revoke(ctx, t, tok.RefreshToken, "refresh_token")
	end := listener.waitMessage(t, func(m *rpcMessage) bool { return m.Method == "" })
	if string(end.ID) != listenID || end.Result == nil {
		t.Fatalf("closing message %+v", end)
	}
	listener.waitEnd(t, "the revoked grant's listener")
}
