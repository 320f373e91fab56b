package tools

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
)

// The per-request cost of the table: listing for a caller, and a call whose
// arguments are validated and defaulted before the handler runs.

func BenchmarkListTools(b *testing.B) {
	tb, err := Default(OfflineRenderer{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "u", Permissions: []string{"image_generation"}})
	b.ReportAllocs()
	for b.Loop() {
		if len(tb.ListTools(ctx)) != 3 {
			b.Fatal("wrong list")
		}
	}
}

// BenchmarkListToolsScoped is BenchmarkListTools for a token limited by
// scopes (every token a scoped server issues): the scope check per tool.
func BenchmarkListToolsScoped(b *testing.B) {
	tb, err := Default(OfflineRenderer{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "u", Permissions: []string{"image_generation"},
		Scopes: []string{BaselineScope, "image_generation", oauth.ScopeOfflineAccess}})
	b.ReportAllocs()
	for b.Loop() {
		if len(tb.ListTools(ctx)) != 3 {
			b.Fatal("wrong list")
		}
	}
}

func BenchmarkCallToolAdd(b *testing.B) {
	tb, err := Default(OfflineRenderer{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "u"})
	args := json.RawMessage(`{"a":1.5,"b":2.25}`)
	b.ReportAllocs()
	for b.Loop() {
		res, err := tb.CallTool(ctx, "add", args)
		if err != nil || res.Content[0].Text != "3.75" {
			b.Fatal(res, err)
		}
	}
}

func BenchmarkValidateGenerateImageArgs(b *testing.B) {
	s := GenerateImage(OfflineRenderer{}).InputSchema
	args := json.RawMessage(`{"prompt":"a lighthouse at dusk, oil painting"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Validate(args); err != nil {
			b.Fatal(err)
		}
	}
}

// The same arguments with every property given: nothing to fill in, so
// Validate can answer from the bytes alone.
func BenchmarkValidateGenerateImageArgsComplete(b *testing.B) {
	s := GenerateImage(OfflineRenderer{}).InputSchema
	args := json.RawMessage(`{"prompt":"a lighthouse at dusk, oil painting","steps":8}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Validate(args); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateAddArgs(b *testing.B) {
	s := Add().InputSchema
	args := json.RawMessage(`{"a":1.5,"b":2.25}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Validate(args); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkToolsCallEras is tools/call add through the MCP handler and this
// table, signed in, once in a legacy session and once in the 2026-07-28
// era (no session; _meta, headers and the result envelope), so that the
// two eras' per-call cost is compared on the product's own tool table.
func BenchmarkToolsCallEras(b *testing.B) {
	tb, err := Default(OfflineRenderer{})
	if err != nil {
		b.Fatal(err)
	}
	id := &oauth.Identity{Subject: "u", Permissions: []string{"image_generation"}}
	srv := mcp.NewServer(mcp.ServerOptions{Tools: tb, ToolsVaryByCaller: true, Tasks: &mcp.TaskOptions{}})
	h := srv.StreamableHTTPHandler(mcp.HTTPOptions{SessionOwner: func(*http.Request) string { return "u" }})
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r.WithContext(oauth.WithIdentity(r.Context(), id)))
		return w
	}
	post := func(body string, headers ...string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		for i := 0; i < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		return r
	}
	init := serve(post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}`))
	sid := init.Header().Get("Mcp-Session-Id")
	serve(post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, "Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-11-25"))
	run := func(b *testing.B, body string, headers ...string) {
		b.ReportAllocs()
		for b.Loop() {
			if w := serve(post(body, headers...)); w.Code != 200 || !strings.Contains(w.Body.String(), `"text":"5"`) {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	}
	b.Run("legacy", func(b *testing.B) {
		run(b, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}`,
			"Mcp-Session-Id", sid, "Mcp-Protocol-Version", "2025-11-25")
	})
	b.Run("modern", func(b *testing.B) {
		run(b, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"wrk","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}`,
			"MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "add")
	})
}
