package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestLifecycleEveryVersion(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	cases := []struct{ ask, want string }{
		{"2025-11-25", "2025-11-25"},
		{"2025-06-18", "2025-06-18"},
		{"2025-03-26", "2025-03-26"},
		{"2024-11-05", "2024-11-05"},
		{"2023-01-01", LatestProtocolVersion}, // unsupported: the server offers its latest
	}
	for _, tc := range cases {
		t.Run(tc.ask, func(t *testing.T) {
			c := newHTTPClient(t, ts.URL+"/mcp")
			raw := c.initialize(tc.ask)
			var res struct {
				ProtocolVersion string                     `json:"protocolVersion"`
				Capabilities    map[string]json.RawMessage `json:"capabilities"`
				ServerInfo      Implementation             `json:"serverInfo"`
				Instructions    string                     `json:"instructions"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				t.Fatal(err)
			}
			if res.ProtocolVersion != tc.want {
				t.Fatalf("protocolVersion = %q, want %q", res.ProtocolVersion, tc.want)
			}
			if string(res.Capabilities["tools"]) != `{"listChanged":true}` || res.Capabilities["logging"] == nil {
				t.Fatalf("capabilities = %v", res.Capabilities)
			}
			if _, ok := res.Capabilities["resources"]; ok {
				t.Fatal("resources declared but not served")
			}
			if res.ServerInfo.Name != "test-server" || res.Instructions != "for tests" {
				t.Fatalf("serverInfo/instructions = %+v %q", res.ServerInfo, res.Instructions)
			}
			wantTitle := "Test"
			if tc.want == "2024-11-05" || tc.want == "2025-03-26" {
				wantTitle = "" // Implementation.title is a 2025-06-18 field
			}
			if res.ServerInfo.Title != wantTitle {
				t.Fatalf("title = %q, want %q", res.ServerInfo.Title, wantTitle)
			}
			if len(c.sid) < 16 || strings.ContainsFunc(c.sid, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
				t.Fatalf("session id %q", c.sid)
			}
			if got := string(c.result("ping", nil)); got != "{}" {
				t.Fatalf("ping = %s", got)
			}
			var call CallToolResult
			_ = json.Unmarshal(c.result("tools/call", map[string]any{"name": "echo", "arguments": map[string]string{"text": "hi"}}), &call)
			if len(call.Content) != 1 || call.Content[0].Text != "hi" || call.IsError {
				t.Fatalf("echo = %+v", call)
			}
			if e := c.rpcError("initialize", map[string]any{"protocolVersion": tc.ask, "capabilities": map[string]any{}, "clientInfo": map[string]string{"name": "x", "version": "1"}}); e.Code != CodeInvalidRequest {
				t.Fatalf("second initialize: %v", e)
			}
		})
	}
}

func TestInitializeErrors(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	tests := []struct {
		name, body string
		status     int
		code       int
		msg        string
	}{
		{"no params", `{"jsonrpc":"2.0","id":1,"method":"initialize"}`, 200, CodeInvalidParams, "requires params"},
		{"no version", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{},"clientInfo":{"name":"a","version":"1"}}}`, 200, CodeInvalidParams, "params.protocolVersion"},
		{"version not a string", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":5,"capabilities":{},"clientInfo":{"name":"a","version":"1"}}}`, 200, CodeInvalidParams, "params.protocolVersion"},
		{"no clientInfo", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}`, 200, CodeInvalidParams, "params.clientInfo"},
		{"not initialize", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, 400, CodeInvalidRequest, "Mcp-Session-Id"},
		{"batched initialize", `[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}]`, 400, CodeInvalidRequest, "Mcp-Session-Id"},
		{"parse error", `{"jsonrpc":`, 400, CodeParseError, "parse error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newHTTPClient(t, ts.URL+"/mcp")
			resp := c.do(http.MethodPost, tt.body, nil)
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if resp.Header.Get("Mcp-Session-Id") != "" {
				t.Fatal("a failed initialize must not create a session")
			}
			msgs := decodeAnswer(t, resp)
			if len(msgs) != 1 || msgs[0].Error == nil || msgs[0].Error.Code != tt.code || !strings.Contains(msgs[0].Error.Message, tt.msg) {
				t.Fatalf("answer %+v, want code %d with %q", msgs, tt.code, tt.msg)
			}
		})
	}
}

func TestToolsCallErrors(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	tests := []struct {
		name   string
		params any
		code   int
		msg    string
	}{
		{"unknown tool", map[string]any{"name": "nope"}, CodeInvalidParams, "unknown tool: nope"},
		{"missing name", map[string]any{}, CodeInvalidParams, "params.name is required"},
		{"name not a string", map[string]any{"name": 3}, CodeInvalidParams, "params.name"},
		{"arguments not an object", map[string]any{"name": "echo", "arguments": []int{1}}, CodeInvalidParams, "params.arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := c.rpcError("tools/call", tt.params)
			if e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("error %v, want %d %q", e, tt.code, tt.msg)
			}
		})
	}
	// Invalid arguments are the tool's business: an isError result.
	var res CallToolResult
	_ = json.Unmarshal(c.result("tools/call", map[string]any{"name": "echo", "arguments": map[string]int{"text": 1}}), &res)
	if !res.IsError || !strings.Contains(res.Content[0].Text, "invalid arguments") {
		t.Fatalf("result %+v", res)
	}
	if e := c.rpcError("no/such/method", nil); e.Code != CodeMethodNotFound || !strings.Contains(e.Message, "no/such/method") {
		t.Fatalf("unknown method: %v", e)
	}
}

func TestNoToolsCapability(t *testing.T) {
	_, ts := newTestServer(t, nil, HTTPOptions{})
	c := newHTTPClient(t, ts.URL+"/mcp")
	raw := c.initialize("2025-06-18")
	if strings.Contains(string(raw), `"tools"`) {
		t.Fatalf("tools declared without a ToolSet: %s", raw)
	}
	if e := c.rpcError("tools/list", nil); e.Code != CodeMethodNotFound {
		t.Fatalf("tools/list: %v", e)
	}
}

func TestPagination(t *testing.T) {
	tools := newTestTools()
	tools.extra = 7 // 13 tools, pages of 4
	_, ts := newTestServer(t, tools, HTTPOptions{})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	var names []string
	var params any
	pages := 0
	for {
		var page struct {
			Tools      []Tool `json:"tools"`
			NextCursor string `json:"nextCursor"`
		}
		if err := json.Unmarshal(c.result("tools/list", params), &page); err != nil {
			t.Fatal(err)
		}
		pages++
		for _, tool := range page.Tools {
			names = append(names, tool.Name)
		}
		if page.NextCursor == "" {
			break
		}
		params = map[string]string{"cursor": page.NextCursor}
	}
	want := []string{}
	for _, tool := range tools.ListTools(context.Background()) {
		want = append(want, tool.Name)
	}
	if pages != 4 || !slices.Equal(names, want) {
		t.Fatalf("pages %d, names %v, want %v", pages, names, want)
	}
	for _, bad := range []any{"garbage", EncodeCursor("prompts", 4), 12} {
		if e := c.rpcError("tools/list", map[string]any{"cursor": bad}); e.Code != CodeInvalidParams || !strings.Contains(e.Message, "cursor") {
			t.Fatalf("cursor %v: %v", bad, e)
		}
	}
}

func TestProgressStreamsBeforeResult(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	for _, version := range []string{"2025-11-25", "2025-03-26"} {
		t.Run(version, func(t *testing.T) {
			c := newHTTPClient(t, ts.URL+"/mcp")
			c.initialize(version)
			resp, msgs := c.call("tools/call", map[string]any{"name": "progress", "_meta": map[string]any{"progressToken": "tok-1"}})
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Fatalf("content type %q", ct)
			}
			if resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("X-Accel-Buffering") != "no" {
				t.Fatalf("stream headers %v", resp.Header)
			}
			if len(msgs) != 3 || msgs[0].Method != "notifications/progress" || msgs[1].Method != "notifications/progress" || msgs[2].Result == nil {
				t.Fatalf("messages %+v", msgs)
			}
			var p struct {
				ProgressToken string  `json:"progressToken"`
				Progress      float64 `json:"progress"`
				Total         float64 `json:"total"`
				Message       string  `json:"message"`
			}
			_ = json.Unmarshal(msgs[1].Params, &p)
			if p.ProgressToken != "tok-1" || p.Progress != 2 || p.Total != 2 || p.Message != "step 2" {
				t.Fatalf("progress %+v", p)
			}
			if string(msgs[2].ID) != fmt.Sprint(c.nextID) {
				t.Fatalf("response id %s", msgs[2].ID)
			}
			// Without a progress token nothing is streamed: plain JSON.
			resp, msgs = c.call("tools/call", map[string]any{"name": "progress"})
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" || len(msgs) != 1 {
				t.Fatalf("no token: %q %+v", ct, msgs)
			}
		})
	}
}

// The priming event of 2025-11-25 carries an id and retry, and no data.
func TestPrimingEvent(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	resp := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"progress","_meta":{"progressToken":1}}}`, nil)
	defer resp.Body.Close()
	evs := readEvents(resp.Body, nil)
	if len(evs) != 4 || evs[0].ID == "" || evs[0].Data != "" || evs[0].Retry == "" {
		t.Fatalf("events %+v", evs)
	}
	ids := map[string]bool{}
	for _, ev := range evs {
		if ev.ID == "" || ids[ev.ID] {
			t.Fatalf("event ids must be present and unique: %+v", evs)
		}
		ids[ev.ID] = true
	}
}

func TestLoggingLevels(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-06-18")
	levels := func() []string {
		_, msgs := c.call("tools/call", map[string]any{"name": "logs"})
		var got []string
		for _, m := range msgs {
			if m.Method == "notifications/message" {
				var p struct {
					Level  string `json:"level"`
					Logger string `json:"logger"`
				}
				_ = json.Unmarshal(m.Params, &p)
				got = append(got, p.Level)
			}
		}
		if msgs[len(msgs)-1].Result == nil {
			t.Fatalf("no result: %+v", msgs)
		}
		return got
	}
	if got := levels(); len(got) != 7 || got[0] != "info" {
		t.Fatalf("default threshold: %v", got)
	}
	c.result("logging/setLevel", map[string]string{"level": "error"})
	if got := levels(); !slices.Equal(got, []string{"error", "critical", "alert", "emergency"}) {
		t.Fatalf("after setLevel error: %v", got)
	}
	c.result("logging/setLevel", map[string]string{"level": "debug"})
	if got := levels(); len(got) != 8 {
		t.Fatalf("after setLevel debug: %v", got)
	}
	if e := c.rpcError("logging/setLevel", map[string]string{"level": "loud"}); e.Code != CodeInvalidParams || !strings.Contains(e.Message, "params.level") {
		t.Fatalf("bad level: %v", e)
	}
	if e := c.rpcError("logging/setLevel", nil); e.Code != CodeInvalidParams {
		t.Fatalf("no level: %v", e)
	}
}

func TestCancellation(t *testing.T) {
	tools := newTestTools()
	_, ts := newTestServer(t, tools, HTTPOptions{})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	type answer struct {
		resp *http.Response
		msgs []rpcReply
	}
	done := make(chan answer, 1)
	go func() {
		resp := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":"call-7","method":"tools/call","params":{"name":"block"}}`, nil)
		defer resp.Body.Close()
		done <- answer{resp, decodeAnswer(t, resp)}
	}()
	<-tools.started
	n := c.do(http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"call-7","reason":"user"}}`, nil)
	n.Body.Close()
	if n.StatusCode != http.StatusAccepted {
		t.Fatalf("cancel: %d", n.StatusCode)
	}
	select {
	case <-tools.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("handler context was not cancelled")
	}
	a := <-done
	if len(a.msgs) != 0 {
		t.Fatalf("a cancelled request must get no response, got %+v", a.msgs)
	}
	// The session goes on.
	c.result("ping", nil)
}

func TestDuplicateInFlightID(t *testing.T) {
	tools := newTestTools()
	_, ts := newTestServer(t, tools, HTTPOptions{})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	done := make(chan []rpcReply, 1)
	go func() {
		resp := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"block"}}`, nil)
		defer resp.Body.Close()
		done <- decodeAnswer(t, resp)
	}()
	<-tools.started
	resp := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":99,"method":"ping"}`, nil)
	msgs := decodeAnswer(t, resp)
	resp.Body.Close()
	if len(msgs) != 1 || msgs[0].Error == nil || msgs[0].Error.Code != CodeInvalidRequest || !strings.Contains(msgs[0].Error.Message, "99") {
		t.Fatalf("duplicate id: %+v", msgs)
	}
	close(tools.release)
	first := <-done
	if len(first) != 1 || first[0].Result == nil || string(first[0].ID) != "99" {
		t.Fatalf("first request: %+v", first)
	}
	// Once finished, the id may be used again.
	resp = c.do(http.MethodPost, `{"jsonrpc":"2.0","id":99,"method":"ping"}`, nil)
	msgs = decodeAnswer(t, resp)
	resp.Body.Close()
	if len(msgs) != 1 || msgs[0].Error != nil {
		t.Fatalf("reuse after completion: %+v", msgs)
	}
}

func TestPanicBecomesInternalError(t *testing.T) {
	logs := &logBuffer{}
	s := NewServer(ServerOptions{Tools: newTestTools(), Logger: slogTo(logs)})
	h := s.StreamableHTTPHandler(HTTPOptions{})
	ts := newHTTPTestServer(t, h)
	c := newHTTPClient(t, ts.URL)
	c.initialize("2025-11-25")
	e := c.rpcError("tools/call", map[string]any{"name": "panic"})
	if e.Code != CodeInternalError || strings.Contains(e.Message, "exploded") {
		t.Fatalf("panic: %v", e)
	}
	if !strings.Contains(logs.String(), "tool exploded") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
	c.result("ping", nil) // still serving
}

func TestBatchesPerVersion(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	batch := `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/progress","params":{}},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"b"}}},{"jsonrpc":"2.0","id":3,"method":"initialize","params":{}},{"jsonrpc":"2.0","id":4}]`
	for _, version := range SupportedProtocolVersions {
		t.Run(version, func(t *testing.T) {
			c := newHTTPClient(t, ts.URL+"/mcp")
			c.initialize(version)
			resp := c.do(http.MethodPost, batch, nil)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if version != "2025-03-26" {
				if resp.StatusCode != 400 || !strings.Contains(string(body), "only accepted with protocol version 2025-03-26") {
					t.Fatalf("batch in %s: %d %s", version, resp.StatusCode, body)
				}
				return
			}
			var replies []rpcReply
			if err := json.Unmarshal(body, &replies); err != nil || resp.StatusCode != 200 {
				t.Fatalf("batch: %d %s", resp.StatusCode, body)
			}
			if len(replies) != 4 {
				t.Fatalf("want 4 replies (ping, call, initialize refused, invalid element), got %s", body)
			}
			if string(replies[0].ID) != "1" || replies[0].Result == nil || string(replies[1].ID) != "2" || !strings.Contains(string(replies[1].Result), `"b"`) {
				t.Fatalf("replies %s", body)
			}
			if replies[2].Error == nil || !strings.Contains(replies[2].Error.Message, "batch") || replies[3].Error == nil {
				t.Fatalf("initialize in batch / invalid element: %s", body)
			}
			// A batch of notifications only: 202.
			resp = c.do(http.MethodPost, `[{"jsonrpc":"2.0","method":"notifications/initialized"}]`, nil)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("notification batch: %d", resp.StatusCode)
			}
		})
	}
}

func TestSessionEnd(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	resp := c.do(http.MethodDelete, "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		resp = c.do(method, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s after DELETE: %d", method, resp.StatusCode)
		}
	}
	c.sid = "no-such-session"
	resp = c.do(http.MethodPost, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown session: %d", resp.StatusCode)
	}
	c.sid = ""
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		resp = c.do(method, "", nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s without session id: %d", method, resp.StatusCode)
		}
	}
	resp = c.do(http.MethodPut, "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
}

func TestIdleSessionExpires(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{SessionIdleTimeout: 400 * time.Millisecond})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	// A request in time keeps the session alive.
	time.Sleep(250 * time.Millisecond)
	c.result("ping", nil)
	time.Sleep(250 * time.Millisecond)
	c.result("ping", nil)
	waitFor(t, "idle expiry", func() bool { return s.session(c.sid) == nil })
	resp := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after expiry: %d", resp.StatusCode)
	}
}

func TestHTTPChecks(t *testing.T) {
	owner := func(r *http.Request) string { return r.Header.Get("X-User") }
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{SessionOwner: owner, AllowedOrigins: []string{"https://app.example"}, MaxBodyBytes: 1024})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.header.Set("X-User", "alice")
	c.initialize("2025-11-25")
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	tests := []struct {
		name   string
		method string
		body   string
		mod    func(*http.Request)
		status int
	}{
		{"foreign origin", "POST", ping, func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, 403},
		{"null origin", "POST", ping, func(r *http.Request) { r.Header.Set("Origin", "null") }, 403},
		{"allowed origin", "POST", ping, func(r *http.Request) { r.Header.Set("Origin", "https://app.example") }, 200},
		{"loopback origin", "POST", ping, func(r *http.Request) { r.Header.Set("Origin", "http://localhost:6274") }, 200},
		{"own host origin", "POST", ping, func(r *http.Request) { r.Header.Set("Origin", "http://"+r.Host) }, 200},
		{"rebinding host and origin", "POST", ping, func(r *http.Request) {
			r.Host = "evil.example.com"
			r.Header.Set("Origin", "http://evil.example.com")
		}, 403},
		{"foreign origin on GET", "GET", "", func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") }, 403},
		{"other owner", "POST", ping, func(r *http.Request) { r.Header.Set("X-User", "bob") }, 403},
		{"other owner GET", "GET", "", func(r *http.Request) { r.Header.Set("X-User", "bob") }, 403},
		{"other owner DELETE", "DELETE", "", func(r *http.Request) { r.Header.Set("X-User", "bob") }, 403},
		{"body too large", "POST", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 2000) + `"}}`, nil, 413},
		{"body too large, unknown length", "POST", "", func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Repeat(" ", 2000) + ping))
			r.ContentLength = -1
		}, 413},
		{"no accept", "POST", ping, func(r *http.Request) { r.Header.Del("Accept") }, 406},
		{"json only accept", "POST", ping, func(r *http.Request) { r.Header.Set("Accept", "application/json") }, 406},
		{"wildcard accept", "POST", ping, func(r *http.Request) { r.Header.Set("Accept", "*/*") }, 200},
		{"GET without event-stream", "GET", "", func(r *http.Request) { r.Header.Set("Accept", "application/json") }, 406},
		{"wrong content type", "POST", ping, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, 415},
		{"unsupported version header", "POST", ping, func(r *http.Request) { r.Header.Set("MCP-Protocol-Version", "2030-01-01") }, 400},
		{"supported version other than negotiated", "POST", ping, func(r *http.Request) { r.Header.Set("MCP-Protocol-Version", "2025-03-26") }, 200},
		{"missing version header", "POST", ping, func(r *http.Request) { r.Header.Del("MCP-Protocol-Version") }, 200},
		{"invalid message with id", "POST", `{"jsonrpc":"1.0","id":5,"method":"ping"}`, nil, 400},
		{"notification", "POST", `{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}`, nil, 202},
		{"unrequested response", "POST", `{"jsonrpc":"2.0","id":12345,"result":{}}`, nil, 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp := c.do(tt.method, tt.body, func(r *http.Request) {
				*r = *r.WithContext(ctx)
				if tt.mod != nil {
					tt.mod(r)
				}
			})
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				body, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status >= 400 {
				msgs := decodeAnswer(t, resp)
				if len(msgs) != 1 || msgs[0].Error == nil || msgs[0].Error.Message == "" {
					t.Fatalf("error body %+v", msgs)
				}
			}
		})
	}
}

func TestStandaloneStream(t *testing.T) {
	owner := func(r *http.Request) string { return r.Header.Get("X-User") }
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{SessionOwner: owner})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.header.Set("X-User", "alice")
	c.initialize("2025-11-25")
	other := newHTTPClient(t, ts.URL+"/mcp")
	other.header.Set("X-User", "bob")
	other.initialize("2025-11-25")

	// Sent while no stream is open: kept for the first GET.
	s.NotifyToolListChanged("alice")
	resp := c.do(http.MethodGet, "", nil)
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET: %d %v", resp.StatusCode, resp.Header)
	}
	second := c.do(http.MethodGet, "", nil)
	second.Body.Close()
	if second.StatusCode != http.StatusConflict {
		t.Fatalf("second GET: %d", second.StatusCode)
	}
	s.NotifyToolListChanged("alice")
	s.NotifyToolListChanged("carol")
	n := 0
	evs := readEvents(resp.Body, func(ev clientEvent) bool {
		if strings.Contains(ev.Data, "list_changed") {
			n++
		}
		return n == 2
	})
	if evs[0].Data != "" || evs[0].ID == "" {
		t.Fatalf("first event should prime: %+v", evs)
	}
	if n != 2 {
		t.Fatalf("events %+v", evs)
	}
	// bob's session got nothing; its queue holds no list_changed.
	bob := s.session(other.sid)
	bob.standalone.mu.Lock()
	queued := len(bob.standalone.events)
	bob.standalone.mu.Unlock()
	if queued != 0 {
		t.Fatalf("bob received %d messages", queued)
	}
}

func TestServerToClientRequest(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	resp := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ask"}}`, nil)
	defer resp.Body.Close()
	var final rpcReply
	readEvents(resp.Body, func(ev clientEvent) bool {
		if ev.Data == "" {
			return false
		}
		var m rpcReply
		_ = json.Unmarshal([]byte(ev.Data), &m)
		if m.Method == "roots/list" {
			answer := fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"roots":[{"uri":"file:///x"}]}}`, m.ID)
			r := c.do(http.MethodPost, answer, nil)
			r.Body.Close()
			if r.StatusCode != http.StatusAccepted {
				t.Errorf("response POST: %d", r.StatusCode)
			}
			return false
		}
		final = m
		return true
	})
	if !strings.Contains(string(final.Result), "file:///x") {
		t.Fatalf("final %+v", final)
	}
}

// A stream interrupted by a dropped connection is resumed with GET and
// Last-Event-ID: what it missed is replayed, and nothing from other
// streams.
func TestResumeAfterDisconnect(t *testing.T) {
	tools := newTestTools()
	s, ts := newTestServer(t, tools, HTTPOptions{})
	s.HandleMethod("test/slow", func(ctx context.Context, params json.RawMessage) (any, error) {
		_ = NotifyProgress(ctx, 1, 0, "first")
		<-tools.release
		_ = NotifyProgress(ctx, 2, 0, "second")
		return map[string]string{"ok": "yes"}, nil
	})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	ctx, cancel := context.WithCancel(context.Background())
	resp := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":1,"method":"test/slow","params":{"_meta":{"progressToken":"p"}}}`, func(r *http.Request) { *r = *r.WithContext(ctx) })
	var lastID string
	readEvents(resp.Body, func(ev clientEvent) bool {
		lastID = ev.ID
		return strings.Contains(ev.Data, "first")
	})
	cancel() // the connection drops; the request goes on
	resp.Body.Close()
	s.NotifyToolListChanged("") // goes to the standalone stream, not to this one
	close(tools.release)
	waitFor(t, "the request to finish", func() bool {
		sess := s.session(c.sid)
		sess.mu.Lock()
		defer sess.mu.Unlock()
		return len(sess.inflight) == 0
	})
	r := c.do(http.MethodGet, "", func(r *http.Request) { r.Header.Set("Last-Event-ID", lastID) })
	defer r.Body.Close()
	evs := readEvents(r.Body, nil)
	var data []string
	for _, ev := range evs {
		data = append(data, ev.Data)
	}
	if len(evs) != 2 || !strings.Contains(data[0], "second") || !strings.Contains(data[1], `"ok":"yes"`) {
		t.Fatalf("replayed %q", data)
	}
	// The standalone stream still has its own message.
	g := c.do(http.MethodGet, "", nil)
	defer g.Body.Close()
	got := readEvents(g.Body, func(ev clientEvent) bool { return strings.Contains(ev.Data, "list_changed") })
	if !strings.Contains(got[len(got)-1].Data, "list_changed") {
		t.Fatalf("standalone %+v", got)
	}
}

// Dropping stream connections frees their goroutines while the session
// stays alive.
func TestGoroutinesFreedAfterDisconnect(t *testing.T) {
	tools := newTestTools()
	s, ts := newTestServer(t, tools, HTTPOptions{})
	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	tr.CloseIdleConnections()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	time.Sleep(20 * time.Millisecond)
	baseline := runtime.NumGoroutine()

	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/mcp", nil)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Mcp-Session-Id", c.sid)
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET: %v %v", err, resp)
		}
		readEvents(resp.Body, func(clientEvent) bool { return true }) // priming
		ctx2, cancel2 := context.WithCancel(context.Background())
		sreq, _ := http.NewRequestWithContext(ctx2, http.MethodGet, ts.URL+"/sse", nil)
		sresp, err := client.Do(sreq)
		if err != nil || sresp.StatusCode != 200 {
			t.Fatalf("SSE GET: %v %v", err, sresp)
		}
		readEvents(sresp.Body, func(clientEvent) bool { return true }) // endpoint
		cancel()
		cancel2()
		resp.Body.Close()
		sresp.Body.Close()
		// The next GET is accepted once the server has seen this one go.
		waitFor(t, "the stream to be released", func() bool {
			sess := s.session(c.sid)
			sess.mu.Lock()
			defer sess.mu.Unlock()
			return sess.attached == 0
		})
	}
	tr.CloseIdleConnections()
	waitFor(t, fmt.Sprintf("goroutines back to %d", baseline), func() bool {
		return runtime.NumGoroutine() <= baseline
	})
	if s.session(c.sid) == nil {
		t.Fatal("the Streamable HTTP session must outlive its stream connection")
	}
	if n := len(s.Sessions()); n != 1 {
		t.Fatalf("legacy sessions must end with their stream: %d sessions", n)
	}
}

func TestShutdownEndsStreams(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	resp := c.do(http.MethodGet, "", nil)
	defer resp.Body.Close()
	readEvents(resp.Body, func(clientEvent) bool { return true })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatalf("stream did not end cleanly: %v", err)
	}
	r := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil)
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Fatalf("after shutdown: %d", r.StatusCode)
	}
	c.sid = ""
	r = c.do(http.MethodPost, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"a","version":"1"}}}`, nil)
	r.Body.Close()
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("initialize after shutdown: %d", r.StatusCode)
	}
}

// A client's JSON-RPC error to a server-to-client request comes back as
// *JSONRPCError; a request whose context ends is cancelled towards the
// client.
func TestServerToClientRequestErrors(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	s.HandleMethod("test/ask", func(ctx context.Context, params json.RawMessage) (any, error) {
		_, err := SessionFromContext(ctx).Request(ctx, "sampling/createMessage", map[string]any{"maxTokens": 1})
		var je *JSONRPCError
		if errors.As(err, &je) {
			return map[string]any{"code": je.Code, "message": je.Message}, nil
		}
		return nil, NewInvalidParams("want a JSONRPCError, got %v", err)
	})
	s.HandleMethod("test/timeout", func(ctx context.Context, params json.RawMessage) (any, error) {
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := SessionFromContext(ctx).Request(ctx, "roots/list", nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			return nil, NewInvalidParams("want DeadlineExceeded, got %v", err)
		}
		return map[string]string{"ok": "timed out"}, nil
	})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	resp := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":1,"method":"test/ask"}`, nil)
	defer resp.Body.Close()
	var final rpcReply
	readEvents(resp.Body, func(ev clientEvent) bool {
		var m rpcReply
		if ev.Data == "" || json.Unmarshal([]byte(ev.Data), &m) != nil {
			return false
		}
		if m.Method == "sampling/createMessage" {
			r := c.do(http.MethodPost, fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":-1,"message":"User rejected sampling request"}}`, m.ID), nil)
			r.Body.Close()
			return false
		}
		final = m
		return true
	})
	if final.Error != nil || !strings.Contains(string(final.Result), `"code":-1`) || !strings.Contains(string(final.Result), "User rejected") {
		t.Fatalf("final %+v %s", final, final.Result)
	}

	_, msgs := c.call("test/timeout", nil)
	if len(msgs) != 3 || msgs[0].Method != "roots/list" || msgs[1].Method != "notifications/cancelled" || msgs[2].Result == nil {
		t.Fatalf("messages %+v", msgs)
	}
	var p struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	_ = json.Unmarshal(msgs[1].Params, &p)
	if string(p.RequestID) != string(msgs[0].ID) {
		t.Fatalf("cancelled %s, sent %s", p.RequestID, msgs[0].ID)
	}
}

func TestSessionsPerOwnerBounded(t *testing.T) {
	owner := func(r *http.Request) string { return r.Header.Get("X-User") }
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{SessionOwner: owner, MaxSessionsPerOwner: 2})
	var alice []*httpClient
	for range 3 {
		c := newHTTPClient(t, ts.URL+"/mcp")
		c.header.Set("X-User", "alice")
		c.initialize("2025-11-25")
		alice = append(alice, c)
		time.Sleep(2 * time.Millisecond) // distinct activity times
	}
	bob := newHTTPClient(t, ts.URL+"/mcp")
	bob.header.Set("X-User", "bob")
	bob.initialize("2025-11-25")
	if s.session(alice[0].sid) != nil {
		t.Fatal("the least recently active session should have ended")
	}
	for _, c := range append(alice[1:], bob) {
		c.result("ping", nil)
	}
	if n := len(s.Sessions()); n != 3 {
		t.Fatalf("%d sessions", n)
	}
}

// Streams outlive http.Server.WriteTimeout: each write sets its own
// deadline through http.ResponseController.
func TestStreamOutlivesServerWriteTimeout(t *testing.T) {
	s := NewServer(ServerOptions{Tools: newTestTools(), Logger: quietLogger()})
	ts := httptest.NewUnstartedServer(s.StreamableHTTPHandler(HTTPOptions{KeepAlive: 40 * time.Millisecond}))
	ts.Config.WriteTimeout = 150 * time.Millisecond
	ts.Start()
	defer ts.Close()
	defer s.Shutdown(context.Background())
	c := newHTTPClient(t, ts.URL)
	c.initialize("2025-11-25")
	resp := c.do(http.MethodGet, "", nil)
	defer resp.Body.Close()
	go func() {
		time.Sleep(500 * time.Millisecond)
		s.NotifyToolListChanged("")
	}()
	evs := readEvents(resp.Body, func(ev clientEvent) bool { return strings.Contains(ev.Data, "list_changed") })
	if len(evs) == 0 || !strings.Contains(evs[len(evs)-1].Data, "list_changed") {
		t.Fatalf("stream cut before the notification: %+v", evs)
	}
}

// ---------------------------------------------------------------------------
// Hostile input over real HTTP (moved from the root package's
// hostile_test.go: none of it needs more than this package).

// TestHostileMCP sends malformed and oversized bodies, odd ids and wrong
// headers to /mcp with a valid token and session; each gets its exact
// status and JSON-RPC error, and the session keeps working.
func TestHostileMCP(t *testing.T) {
	t.Parallel()
	s := newWire(t)
	access := "ada" // the session owner
	sid := s.initialize(access)
	s.serves(access, sid)

	const limit = 4 << 20 // mcp's default MaxBodyBytes
	big := `{"jsonrpc":"2.0","id":7,"method":"ping","params":{"pad":"` + strings.Repeat("x", limit) + `"}}`
	deepArray := strings.Repeat("[", 100000)
	deepObject := strings.Repeat(`{"a":`, 100000)
	deepParams := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"add","arguments":{"a":` + strings.Repeat("[", 100000) + `}}}`

	cases := []struct {
		name   string
		body   string
		mod    func(*http.Request)
		status int
		code   int
		id     string // the id the error must carry, byte for byte
	}{
		{"oversized body with Content-Length", big, nil, 413, -32600, "null"},
		{"oversized chunked body", big, func(r *http.Request) { r.ContentLength = -1; r.Body = io.NopCloser(strings.NewReader(big)) }, 413, -32600, "null"},
		{"100k nested arrays", deepArray, nil, 400, -32700, "null"},
		{"100k nested objects", deepObject, nil, 400, -32700, "null"},
		{"100k nested arrays in params", deepParams, nil, 400, -32700, "null"},
		{"truncated JSON", `{"jsonrpc":"2.0","id":3,"method":"pi`, nil, 400, -32700, "null"},
		{"not an object", `"ping"`, nil, 400, -32600, "null"},
		{"empty body", ``, nil, 400, -32700, "null"},
		{"empty batch", `[]`, nil, 400, -32600, "null"},
		{"null id", `{"jsonrpc":"2.0","id":null,"method":"ping"}`, nil, 400, -32600, "null"},
		{"object id", `{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}`, nil, 400, -32600, "null"},
		{"wrong jsonrpc version", `{"jsonrpc":"1.0","id":4,"method":"ping"}`, nil, 400, -32600, "4"},
		{"params not an object", `{"jsonrpc":"2.0","id":5,"method":"tools/list","params":[1]}`, nil, 400, -32602, "5"},
		{"unknown method, id 1e400", `{"jsonrpc":"2.0","id":1e400,"method":"no/such"}`, nil, 200, -32601, "1e400"},
		{"unknown method, id 10^30", `{"jsonrpc":"2.0","id":1000000000000000000000000000000,"method":"no/such"}`, nil, 200, -32601, "1000000000000000000000000000000"},
		{"unknown tool", `{"jsonrpc":"2.0","id":"t","method":"tools/call","params":{"name":"rm -rf"}}`, nil, 200, -32602, `"t"`},
		{"text/plain body", `{"jsonrpc":"2.0","id":6,"method":"ping"}`, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, 415, -32600, "null"},
		{"form body", `a=b`, func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, 415, -32600, "null"},
		{"Accept without event-stream", `{"jsonrpc":"2.0","id":6,"method":"ping"}`, func(r *http.Request) { r.Header.Set("Accept", "application/json") }, 406, -32600, "null"},
		{"unsupported protocol version header", `{"jsonrpc":"2.0","id":6,"method":"ping"}`, func(r *http.Request) { r.Header.Set("Mcp-Protocol-Version", "1999-01-01") }, 400, -32600, "null"},
		{"unknown session", `{"jsonrpc":"2.0","id":6,"method":"ping"}`, func(r *http.Request) { r.Header.Set("Mcp-Session-Id", "NOSUCHSESSION") }, 404, -32600, "null"},
		{"missing session", `{"jsonrpc":"2.0","id":6,"method":"ping"}`, func(r *http.Request) { r.Header.Del("Mcp-Session-Id") }, 400, -32600, "null"},
		{"forged Origin", `{"jsonrpc":"2.0","id":6,"method":"ping"}`, func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, 403, -32600, "null"},
		{"opaque Origin", `{"jsonrpc":"2.0","id":6,"method":"ping"}`, func(r *http.Request) { r.Header.Set("Origin", "null") }, 403, -32600, "null"},
		{"PUT", ``, func(r *http.Request) { r.Method = "PUT" }, 405, -32600, "null"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := s.in(t)
			req := s.req(access, sid, c.body)
			if c.mod != nil {
				c.mod(req)
			}
			start := time.Now()
			r := s.rpcError(req, c.status, c.code)
			if string(r.ID) != c.id {
				t.Errorf("error id %s, want %s", r.ID, c.id)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
			s.serves(access, sid)
		})
	}
}

// TestHostileMCPEncoding covers what encoding/json tolerates: invalid UTF-8
// and duplicate keys. Neither may crash the server, and the answer must be
// unambiguous.
func TestHostileMCPEncoding(t *testing.T) {
	t.Parallel()
	s := newWire(t)
	access := "ada" // the session owner
	sid := s.initialize(access)

	// Invalid UTF-8 inside a method name: decoded as U+FFFD, so the method
	// is unknown, and the response (which quotes nothing of it) is valid
	// UTF-8 JSON.
	st, _, body := s.do(s.req(access, sid, "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/\xff\xfe\"}"))
	r := decodeWireRPC(t, body)
	if st != 200 || r.Error == nil || r.Error.Code != -32601 || string(r.ID) != "11" {
		t.Errorf("invalid UTF-8 method: %d %s", st, body)
	}
	// Invalid UTF-8 inside tool arguments: the tool sees U+FFFD and answers.
	st, _, body = s.do(s.req(access, sid, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"\xc3\x28\"}}}"))
	r = decodeWireRPC(t, body)
	if st != 200 || string(r.ID) != "12" || r.Error != nil || !strings.Contains(string(r.Result), "\ufffd(") {
		t.Errorf("invalid UTF-8 argument: %d %s", st, body)
	}
	// Invalid UTF-8 inside a string id: it cannot be echoed as JSON text,
	// so the request is refused with a null id and a valid UTF-8 body.
	st, _, body = s.do(s.req(access, sid, "{\"jsonrpc\":\"2.0\",\"id\":\"a\xffb\",\"method\":\"ping\"}"))
	r = decodeWireRPC(t, body)
	if st != 400 || r.Error == nil || r.Error.Code != -32600 || string(r.ID) != "null" || !utf8.ValidString(body) {
		t.Errorf("invalid UTF-8 id: %d %q", st, body)
	}
	// Duplicate keys: encoding/json keeps the last value; the server must
	// answer the request it executed, with the id it used.
	st, _, body = s.do(s.req(access, sid, `{"jsonrpc":"2.0","id":13,"id":14,"method":"no/such","method":"ping"}`))
	r = decodeWireRPC(t, body)
	if st != 200 || r.Error != nil || string(r.ID) != "14" {
		t.Errorf("duplicate keys: %d %s", st, body)
	}
	s.serves(access, sid)
}

// TestHostileMCPBatches: batches are refused outside 2025-03-26, and
// bounded in count inside it, so 4 MiB of tiny requests cannot make the
// server compute and buffer hundreds of megabytes of answers.
func TestHostileMCPBatches(t *testing.T) {
	t.Parallel()
	s := newWire(t)
	access := "ada" // the session owner
	batch := func(n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"tools/list"},`, n), ",") + "]"
	}
	sid := s.initialize(access) // 2025-11-25: no batches
	s.rpcError(s.req(access, sid, batch(2)), 400, -32600)
	s.serves(access, sid)

	st, h, body := s.do(s.req(access, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"old","version":"1"}}}`))
	old := h.Get("Mcp-Session-Id")
	if st != 200 || old == "" {
		t.Fatalf("initialize 2025-03-26: %d %s", st, body)
	}
	s.do(s.req(access, old, `{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	st, _, body = s.do(s.req(access, old, batch(100)))
	var answers []wireRPC
	if err := json.Unmarshal([]byte(body), &answers); st != 200 || err != nil || len(answers) != 100 {
		t.Fatalf("batch of 100: %d %v %s", st, err, trunc(body))
	}
	n := (4<<20 - 100) / len(`{"jsonrpc":"2.0","id":1,"method":"tools/list"},`)
	r := s.rpcError(s.req(access, old, batch(n)), 400, -32600)
	if !strings.Contains(r.Error.Message, "at most") {
		t.Errorf("oversized batch: %s", r.Error.Message)
	}
	s.serves(access, old)
}

// The same bound on Streamable HTTP, where each request holds its own
// connection until its answer is written: past MaxRequestsPerSession a
// request gets 429 with Retry-After; notifications and responses still
// pass, and a freed slot serves again.
func TestHostileStreamableRequestBound(t *testing.T) {
	tools := newTestTools()
	_, ts := newTestServer(t, tools, HTTPOptions{MaxRequestsPerSession: 2})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-06-18")
	done := make(chan struct{})
	for i := range 2 {
		go func() {
			defer func() { done <- struct{}{} }()
			resp := c.do(http.MethodPost, fmt.Sprintf(`{"jsonrpc":"2.0","id":"b%d","method":"tools/call","params":{"name":"block"}}`, i), nil)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
		<-tools.started
	}
	resp := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":"third","method":"ping"}`, nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(body), `"id":"third"`) {
		t.Fatalf("a third request: %d, Retry-After %q, %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp = c.do(http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}`, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("a notification at the bound: %d", resp.StatusCode)
	}
	close(tools.release)
	<-done
	<-done
	if msgs := c.result("ping", nil); msgs == nil {
		t.Fatal("no ping result after the slots were freed")
	}
}

// A Streamable HTTP GET stream whose client stops reading: notifications
// queue up to MaxQueuedBytes, and the one that would pass it ends the
// connection instead (the client may resume with Last-Event-ID); the
// queue never holds more than the bound.
func TestHostileStreamableGETQueueBound(t *testing.T) {
	const maxQueued = 1 << 20
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{MaxQueuedBytes: maxQueued, WriteTimeout: time.Hour})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	sess := s.session(c.sid)
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /mcp HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nMcp-Session-Id: %s\r\nMcp-Protocol-Version: 2025-11-25\r\n\r\n", c.sid)
	waitFor(t, "the GET stream", func() bool {
		sess.standalone.mu.Lock()
		defer sess.standalone.mu.Unlock()
		return sess.standalone.w != nil
	})
	sw := sess.standalone.w
	chunk := map[string]string{"data": strings.Repeat("n", 256<<10)}
	most := 0
	for i := 0; i < 400 && !isDead(sw); i++ {
		if err := sess.Notify(context.Background(), "test/chunk", chunk); err != nil {
			t.Fatalf("notify %d: %v", i, err)
		}
		most = max(most, sw.queued())
	}
	if !isDead(sw) {
		t.Fatal("100 MB of notifications to a stream never read did not end its connection")
	}
	if most > maxQueued+len(chunk["data"])+1024 {
		t.Fatalf("%d bytes queued, past the bound of %d", most, maxQueued)
	}
	// The stream keeps its replay log for a resuming GET.
	sess.standalone.mu.Lock()
	kept := sess.standalone.size
	sess.standalone.mu.Unlock()
	if kept == 0 || kept > maxReplayBytes+len(chunk["data"])+64 {
		t.Fatalf("replay log of %d bytes", kept)
	}
}
