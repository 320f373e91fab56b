package mcp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// modernMeta is a valid 2026-07-28 _meta.
const modernMeta = `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`

// modernPost sends one modern request with the standard headers the body
// implies (Mcp-Name from name or uri), then applies mod.
func modernPost(t *testing.T, url string, id int, method, params string, mod func(*http.Request)) (*http.Response, []rpcReply) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", method)
	var p struct {
		Name string `json:"name"`
		URI  string `json:"uri"`
	}
	_ = json.Unmarshal([]byte(params), &p)
	if p.Name != "" {
		req.Header.Set("Mcp-Name", p.Name)
	} else if p.URI != "" {
		req.Header.Set("Mcp-Name", p.URI)
	}
	if mod != nil {
		mod(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp, decodeAnswer(t, resp)
}

func withMeta(extra string) string {
	if extra == "" {
		return `{"_meta":` + modernMeta + `}`
	}
	return `{"_meta":` + modernMeta + `,` + extra + `}`
}

func TestModernDiscover(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	resp, msgs := modernPost(t, ts.URL+"/mcp", 7, "server/discover", withMeta(""), nil)
	if resp.StatusCode != 200 || len(msgs) != 1 || msgs[0].Error != nil || string(msgs[0].ID) != "7" {
		t.Fatalf("discover: %d %+v", resp.StatusCode, msgs)
	}
	if resp.Header.Get("Mcp-Session-Id") != "" {
		t.Error("a modern response minted a session id")
	}
	var r struct {
		ResultType        string         `json:"resultType"`
		SupportedVersions []string       `json:"supportedVersions"`
		Capabilities      map[string]any `json:"capabilities"`
		Instructions      string         `json:"instructions"`
		TTL               *int           `json:"ttlMs"`
		Scope             string         `json:"cacheScope"`
		Meta              map[string]struct {
			Name, Version string
		} `json:"_meta"`
	}
	if err := json.Unmarshal(msgs[0].Result, &r); err != nil {
		t.Fatal(err)
	}
	if r.ResultType != "complete" || len(r.SupportedVersions) != 1 || r.SupportedVersions[0] != "2026-07-28" ||
		r.Capabilities["tools"] == nil || r.Instructions != "for tests" || r.TTL == nil || r.Scope != "public" ||
		r.Meta[MetaServerInfo].Name != "test-server" || r.Meta[MetaServerInfo].Version != "0.1" {
		t.Fatalf("discover result: %s", msgs[0].Result)
	}
}

// TestModernBadInput covers the revision's own errors for bad input, each
// with its HTTP status and the request's id echoed.
func TestModernBadInput(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	url := ts.URL + "/mcp"
	setHeader := func(k, v string) func(*http.Request) {
		return func(r *http.Request) {
			if v == "" {
				r.Header.Del(k)
			} else {
				r.Header.Set(k, v)
			}
		}
	}
	noInfo := `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}`
	cases := []struct {
		name, method, params string
		mod                  func(*http.Request)
		status, code         int
	}{
		{"missing _meta", "server/discover", `{}`, nil, 400, CodeInvalidParams},
		{"no params", "tools/list", `null`, nil, 400, CodeInvalidParams},
		{"_meta not an object", "server/discover", `{"_meta":[]}`, nil, 400, CodeInvalidParams},
		{"missing protocolVersion", "server/discover", `{"_meta":{"io.modelcontextprotocol/clientCapabilities":{}}}`, nil, 400, CodeInvalidParams},
		{"protocolVersion not a string", "server/discover", `{"_meta":{"io.modelcontextprotocol/protocolVersion":20260728,"io.modelcontextprotocol/clientCapabilities":{}}}`, nil, 400, CodeInvalidParams},
		{"missing clientCapabilities", "server/discover", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}`, nil, 400, CodeInvalidParams},
		{"clientCapabilities not an object", "server/discover", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":true}}`, nil, 400, CodeInvalidParams},
		{"bad logLevel", "server/discover", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"loud"}}`, nil, 400, CodeInvalidParams},
		{"clientInfo is optional", "server/discover", noInfo, nil, 200, 0},
		{"unknown version", "server/discover", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"v999","io.modelcontextprotocol/clientCapabilities":{}}}`, setHeader("MCP-Protocol-Version", "v999"), 400, CodeUnsupportedProtocolVersion},
		{"legacy version in _meta", "server/discover", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25","io.modelcontextprotocol/clientCapabilities":{}}}`, setHeader("MCP-Protocol-Version", ""), 400, CodeHeaderMismatch},
		{"version header missing", "server/discover", withMeta(""), setHeader("MCP-Protocol-Version", ""), 400, CodeHeaderMismatch},
		{"version header differs", "server/discover", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"v999","io.modelcontextprotocol/clientCapabilities":{}}}`, nil, 400, CodeHeaderMismatch},
		{"method header missing", "tools/list", withMeta(""), setHeader("Mcp-Method", ""), 400, CodeHeaderMismatch},
		{"method header differs", "tools/list", withMeta(""), setHeader("Mcp-Method", "tools/call"), 400, CodeHeaderMismatch},
		{"method header case", "tools/list", withMeta(""), setHeader("Mcp-Method", "TOOLS/LIST"), 400, CodeHeaderMismatch},
		{"name header missing", "tools/call", withMeta(`"name":"echo","arguments":{"text":"x"}`), setHeader("Mcp-Name", ""), 400, CodeHeaderMismatch},
		{"name header differs", "tools/call", withMeta(`"name":"echo","arguments":{"text":"x"}`), setHeader("Mcp-Name", "block"), 400, CodeHeaderMismatch},
		{"name header bad base64", "tools/call", withMeta(`"name":"echo","arguments":{"text":"x"}`), setHeader("Mcp-Name", "=?base64?ZW!!?="), 400, CodeHeaderMismatch},
		{"name header base64", "tools/call", withMeta(`"name":"echo","arguments":{"text":"x"}`), setHeader("Mcp-Name", "=?base64?ZWNobw==?="), 200, 0},
		{"name header with whitespace", "tools/call", withMeta(`"name":"echo","arguments":{"text":"x"}`), setHeader("Mcp-Name", " echo\t"), 200, 0},
		{"removed method ping", "ping", withMeta(""), nil, 404, CodeMethodNotFound},
		{"removed method initialize", "initialize", withMeta(""), nil, 404, CodeMethodNotFound},
		{"removed method logging/setLevel", "logging/setLevel", withMeta(`"level":"debug"`), nil, 404, CodeMethodNotFound},
		{"unknown method", "unknown/method", withMeta(""), nil, 404, CodeMethodNotFound},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, msgs := modernPost(t, url, 100+i, c.method, c.params, c.mod)
			if resp.StatusCode != c.status || len(msgs) != 1 {
				t.Fatalf("status %d (want %d), %+v", resp.StatusCode, c.status, msgs)
			}
			if string(msgs[0].ID) != fmt.Sprint(100+i) {
				t.Errorf("id %s, want %d", msgs[0].ID, 100+i)
			}
			switch {
			case c.code == 0 && msgs[0].Error != nil:
				t.Fatalf("unexpected error %+v", msgs[0].Error)
			case c.code != 0 && (msgs[0].Error == nil || msgs[0].Error.Code != c.code):
				t.Fatalf("error %+v, want code %d", msgs[0].Error, c.code)
			}
			if c.code == CodeUnsupportedProtocolVersion {
				var d struct {
					Supported []string `json:"supported"`
					Requested string   `json:"requested"`
				}
				if err := json.Unmarshal(msgs[0].Error.Data, &d); err != nil || len(d.Supported) == 0 || d.Supported[0] != "2026-07-28" || d.Requested != "v999" {
					t.Fatalf("data %s", msgs[0].Error.Data)
				}
			}
		})
	}
}

// TestModernToolCall checks the envelope of a hand-encoded result and that
// the session-era path is untouched beside it.
func TestModernToolCall(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	resp, msgs := modernPost(t, ts.URL+"/mcp", 1, "tools/call", withMeta(`"name":"echo","arguments":{"text":"hi"}`), nil)
	if resp.StatusCode != 200 || len(msgs) != 1 || msgs[0].Error != nil {
		t.Fatalf("%d %+v", resp.StatusCode, msgs)
	}
	want := `{"resultType":"complete","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"test-server","title":"Test","version":"0.1"}},"content":[{"type":"text","text":"hi"}]}`
	if string(msgs[0].Result) != want {
		t.Fatalf("result\n got %s\nwant %s", msgs[0].Result, want)
	}
	_, msgs = modernPost(t, ts.URL+"/mcp", 2, "tools/list", withMeta(""), nil)
	var r struct {
		Tools []Tool `json:"tools"`
		TTL   *int   `json:"ttlMs"`
		Scope string `json:"cacheScope"`
		Type  string `json:"resultType"`
	}
	if err := json.Unmarshal(msgs[0].Result, &r); err != nil || len(r.Tools) != 4 || r.TTL == nil || r.Scope != "public" || r.Type != "complete" {
		t.Fatalf("tools/list: %s", msgs[0].Result)
	}
	// The legacy era beside it: unchanged, no envelope.
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	res := c.result("tools/call", map[string]any{"name": "echo", "arguments": map[string]string{"text": "hi"}})
	if string(res) != `{"content":[{"type":"text","text":"hi"}]}` {
		t.Fatalf("legacy result %s", res)
	}
	if e := c.rpcError("server/discover", nil); e.Code != CodeMethodNotFound {
		t.Fatalf("server/discover in a legacy session: %+v", e)
	}
	// A version nobody serves, without _meta, is the legacy era's error,
	// as it was before the modern era existed.
	c.version = "1999-01-01"
	resp, ans := c.call("tools/list", nil)
	if resp.StatusCode != 400 || len(ans) != 1 || ans[0].Error == nil || ans[0].Error.Code != CodeInvalidRequest {
		t.Fatalf("unknown version header in a session: %d %+v", resp.StatusCode, ans)
	}
}

// TestModernLogLevel: no notifications/message without _meta logLevel; with
// it, only messages at or above it, on the request's own stream.
func TestModernLogLevel(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	resp, msgs := modernPost(t, ts.URL+"/mcp", 1, "tools/call", withMeta(`"name":"logs","arguments":{}`), nil)
	if len(msgs) != 1 || msgs[0].Error != nil || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("without logLevel: %s %+v", resp.Header.Get("Content-Type"), msgs)
	}
	params := `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"critical","progressToken":"p"},"name":"logs","arguments":{}}`
	_, msgs = modernPost(t, ts.URL+"/mcp", 2, "tools/call", params, nil)
	var levels []string
	for _, m := range msgs[:len(msgs)-1] {
		var p struct {
			Level string `json:"level"`
		}
		_ = json.Unmarshal(m.Params, &p)
		if m.Method != "notifications/message" {
			t.Fatalf("unexpected %+v", m)
		}
		levels = append(levels, p.Level)
	}
	if strings.Join(levels, ",") != "critical,alert,emergency" || msgs[len(msgs)-1].Error != nil {
		t.Fatalf("levels %v, last %+v", levels, msgs[len(msgs)-1])
	}
	_, msgs = modernPost(t, ts.URL+"/mcp", 3, "tools/call", `{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"progressToken":7},"name":"progress","arguments":{}}`, nil)
	if len(msgs) != 3 || msgs[0].Method != "notifications/progress" || msgs[2].Result == nil {
		t.Fatalf("progress: %+v", msgs)
	}
}

// TestModernListen opens subscriptions/listen, checks the acknowledgment
// comes first and that list changes reach it tagged, filtered by opt-in.
func TestModernListen(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{SessionOwner: func(r *http.Request) string { return r.Header.Get("X-User") }})
	open := func(id int, filter string) (*bufio.Reader, func()) {
		body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"subscriptions/listen","params":{"_meta":%s,"notifications":%s}}`, id, modernMeta, filter)
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/mcp", strings.NewReader(body))
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("MCP-Protocol-Version", "2026-07-28")
		req.Header.Set("Mcp-Method", "subscriptions/listen")
		req.Header.Set("X-User", "alice")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("listen: %v %v", err, resp)
		}
		return bufio.NewReader(resp.Body), func() { resp.Body.Close() }
	}
	next := func(br *bufio.Reader) rpcReply {
		t.Helper()
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			if data, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "data: "); ok {
				var r rpcReply
				if err := json.Unmarshal([]byte(data), &r); err != nil {
					t.Fatal(err)
				}
				return r
			}
		}
	}
	tools, closeTools := open(41, `{"toolsListChanged":true,"promptsListChanged":true}`)
	defer closeTools()
	ack := next(tools)
	if ack.Method != "notifications/subscriptions/acknowledged" ||
		string(ack.Params) != `{"_meta":{"io.modelcontextprotocol/subscriptionId":41},"notifications":{"toolsListChanged":true}}` {
		t.Fatalf("ack %+v %s", ack, ack.Params)
	}
	other, closeOther := open(42, `{"resourcesListChanged":true}`)
	defer closeOther()
	if a := next(other); a.Method != "notifications/subscriptions/acknowledged" || string(a.Params) != `{"_meta":{"io.modelcontextprotocol/subscriptionId":42},"notifications":{}}` {
		t.Fatalf("ack %s", a.Params)
	}
	s.NotifyToolListChanged("alice")
	got := next(tools)
	if got.Method != "notifications/tools/list_changed" || string(got.Params) != `{"_meta":{"io.modelcontextprotocol/subscriptionId":41}}` {
		t.Fatalf("got %+v %s", got, got.Params)
	}
	// The second listener did not opt in: closing the owner's sessions is
	// what it sees next (its stream ends), not a tools notification.
	s.CloseSessions("alice")
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(other)
		done <- err
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("listener stream did not end after CloseSessions")
	}
}

// headerTools has one tool whose inputSchema mirrors parameters into
// headers (x-mcp-header), one of them nested.
type headerTools struct{ testTools }

func (h *headerTools) ListTools(ctx context.Context) []Tool {
	return append(h.testTools.ListTools(ctx), Tool{Name: "sql", InputSchema: json.RawMessage(
		`{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},"limit":{"type":"integer","x-mcp-header":"Limit"},"opts":{"type":"object","properties":{"dry":{"type":"boolean","x-mcp-header":"Dry"}}},"query":{"type":"string"}}}`)})
}

func (h *headerTools) CallTool(ctx context.Context, name string, args json.RawMessage) (*CallToolResult, error) {
	if name == "sql" {
		return &CallToolResult{Content: []Content{TextContent("ran")}}, nil
	}
	return h.testTools.CallTool(ctx, name, args)
}

func TestModernParamHeaders(t *testing.T) {
	_, ts := newTestServer(t, &headerTools{*newTestTools()}, HTTPOptions{})
	headers := func(kv ...string) func(*http.Request) {
		return func(r *http.Request) {
			for i := 0; i < len(kv); i += 2 {
				r.Header.Set(kv[i], kv[i+1])
			}
		}
	}
	cases := []struct {
		name, args string
		mod        func(*http.Request)
		ok         bool
	}{
		{"all present", `{"region":"us-west1","limit":42,"opts":{"dry":true},"query":"q"}`, headers("Mcp-Param-Region", "us-west1", "Mcp-Param-Limit", "42", "Mcp-Param-Dry", "true"), true},
		{"absent and null arguments need no header", `{"region":null,"query":"q"}`, nil, true},
		{"integer compared as a number", `{"limit":42}`, headers("Mcp-Param-Limit", "42.0"), true},
		{"base64 value", `{"region":"Hello, 世界"}`, headers("Mcp-Param-Region", "=?base64?SGVsbG8sIOS4lueVjA==?="), true},
		{"header name is case-insensitive", `{"region":"eu"}`, headers("mcp-param-region", "eu"), true},
		{"missing header", `{"region":"us-west1"}`, nil, false},
		{"missing nested header", `{"opts":{"dry":false}}`, nil, false},
		{"mismatch", `{"region":"us-west1"}`, headers("Mcp-Param-Region", "eu-west1"), false},
		{"boolean mismatch", `{"opts":{"dry":false}}`, headers("Mcp-Param-Dry", "true"), false},
		{"bad base64 padding", `{"region":"Hello"}`, headers("Mcp-Param-Region", "=?base64?SGVsbG8?="), false},
		{"bad base64 alphabet", `{"region":"Hello"}`, headers("Mcp-Param-Region", "=?base64?SGVs!!!bG8=?="), false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, msgs := modernPost(t, ts.URL+"/mcp", i+1, "tools/call", withMeta(`"name":"sql","arguments":`+c.args), c.mod)
			if c.ok {
				if resp.StatusCode != 200 || len(msgs) != 1 || msgs[0].Error != nil {
					t.Fatalf("want success: %d %+v", resp.StatusCode, msgs)
				}
				return
			}
			if resp.StatusCode != 400 || len(msgs) != 1 || msgs[0].Error == nil || msgs[0].Error.Code != CodeHeaderMismatch {
				t.Fatalf("want 400 -32020: %d %+v", resp.StatusCode, msgs)
			}
		})
	}
}

// TestResourceNotFoundByEra: -32002 for a legacy session, -32602 for a
// modern request (2026-07-28 changelog, minor change 6).
func TestResourceNotFoundByEra(t *testing.T) {
	s, ts := newTestServer(t, nil, HTTPOptions{})
	s.AddResource(Resource{URI: "test://a", Name: "a"}, func(context.Context, string, map[string]string) ([]ResourceContents, error) {
		return []ResourceContents{{Text: "a"}}, nil
	})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	if e := c.rpcError("resources/read", map[string]string{"uri": "test://nope"}); e.Code != CodeResourceNotFound {
		t.Fatalf("legacy: %+v", e)
	}
	resp, msgs := modernPost(t, ts.URL+"/mcp", 1, "resources/read", withMeta(`"uri":"test://nope"`), nil)
	if len(msgs) != 1 || msgs[0].Error == nil || msgs[0].Error.Code != CodeInvalidParams || string(msgs[0].Error.Data) != `{"uri":"test://nope"}` {
		t.Fatalf("modern: %d %+v", resp.StatusCode, msgs)
	}
	_, msgs = modernPost(t, ts.URL+"/mcp", 2, "resources/read", withMeta(`"uri":"test://a"`), nil)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Result), `"ttlMs":60000,"cacheScope":"public"`) {
		t.Fatalf("read: %+v", msgs)
	}
}
