package tools

// End to end through the real Streamable HTTP transport: the table served by
// mcp.Server, an identity put into the request context by a middleware the
// way the bearer check does, and a local server standing in for Workers AI.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
)

// mcpClient is the least client that speaks Streamable HTTP to our server.
type mcpClient struct {
	t       *testing.T
	url     string
	session string
}

// rpcMessage is any JSON-RPC message the server sends.
type rpcMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
}

// serveTable starts the MCP endpoint for table, with every request signed in
// as id.
func serveTable(t *testing.T, table *Table, id *oauth.Identity) *mcpClient {
	t.Helper()
	srv := mcp.NewServer(mcp.ServerOptions{Info: mcp.Implementation{Name: "tools-test", Version: "1"}, Tools: table})
	h := srv.StreamableHTTPHandler(mcp.HTTPOptions{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(oauth.WithIdentity(r.Context(), id)))
	}))
	t.Cleanup(hs.Close)
	c := &mcpClient{t: t, url: hs.URL}
	resp := c.post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`)
	c.session = resp.Header.Get("Mcp-Session-Id")
	msgs := readMessages(t, resp)
	if len(msgs) != 1 || msgs[0].Result == nil || c.session == "" {
		t.Fatalf("initialize: session %q, messages %+v", c.session, msgs)
	}
	if resp := c.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("initialized: HTTP %d", resp.StatusCode)
	} else {
		resp.Body.Close()
	}
	return c
}

func (c *mcpClient) post(body string) *http.Response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.session != "" {
		req.Header.Set("Mcp-Session-Id", c.session)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// readMessages reads a whole response: one JSON message, or every message
// of an SSE stream until it ends.
func readMessages(t *testing.T, resp *http.Response) []rpcMessage {
	t.Helper()
	defer resp.Body.Close()
	var out []rpcMessage
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var m rpcMessage
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("decoding the JSON response: %v", err)
		}
		return append(out, m)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("HTTP %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	var data bytes.Buffer
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "data:"):
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		case line == "" && data.Len() > 0:
			var m rpcMessage
			if err := json.Unmarshal(data.Bytes(), &m); err != nil {
				t.Fatalf("SSE event is not JSON: %q", data.String())
			}
			out = append(out, m)
			data.Reset()
		}
	}
	return out
}

func imageIdentity() *oauth.Identity {
	return &oauth.Identity{Subject: "user_1", Permissions: []string{"image_generation"}}
}

func TestTransportProgress(t *testing.T) {
	old := progressInterval
	progressInterval = 20 * time.Millisecond
	t.Cleanup(func() { progressInterval = old })

	jpg := testJPEG(t)
	f := newFakeService(t)
	f.set(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(150 * time.Millisecond)
		replyJSON(200, `{"result":{"image":"`+base64.StdEncoding.EncodeToString(jpg)+`"},"success":true,"errors":[],"messages":[]}`)(w, r)
	})
	table := defaultTable(t, &WorkersAI{AccountID: "acc", APIToken: "tok", BaseURL: f.URL})
	c := serveTable(t, table, imageIdentity())

	msgs := readMessages(t, c.post(`{"jsonrpc":"2.0","id":"call-1","method":"tools/call","params":{"name":"generateImage","arguments":{"prompt":"a lighthouse","steps":8},"_meta":{"progressToken":"tok-7"}}}`))
	if len(msgs) < 4 {
		t.Fatalf("got %d messages, want progress notifications then the result: %+v", len(msgs), msgs)
	}
	var last float64 = -1
	var progress []map[string]any
	for _, m := range msgs[:len(msgs)-1] {
		if m.Method != "notifications/progress" {
			t.Fatalf("unexpected message before the result: %+v", m)
		}
		var p map[string]any
		if err := json.Unmarshal(m.Params, &p); err != nil {
			t.Fatal(err)
		}
		if p["progressToken"] != "tok-7" {
			t.Errorf("progressToken %v, want tok-7", p["progressToken"])
		}
		if v := p["progress"].(float64); v <= last {
			t.Errorf("progress went from %v to %v", last, v)
		} else {
			last = v
		}
		progress = append(progress, p)
	}
	if _, ok := progress[0]["total"]; ok || !strings.Contains(fmt.Sprint(progress[0]["message"]), "Workers AI") {
		t.Errorf("first progress %v: want no total yet and a message naming the service", progress[0])
	}
	if end := progress[len(progress)-1]; end["total"] != end["progress"] || end["message"] != "image ready" {
		t.Errorf("last progress %v does not complete", end)
	}
	final := msgs[len(msgs)-1]
	if string(final.ID) != `"call-1"` || final.Result == nil {
		t.Fatalf("final message %+v", final)
	}
	var res mcp.CallToolResult
	if err := json.Unmarshal(final.Result, &res); err != nil {
		t.Fatal(err)
	}
	if res.IsError || len(res.Content) != 1 || res.Content[0].Type != "image" || res.Content[0].MimeType != "image/jpeg" ||
		res.Content[0].Data != base64.StdEncoding.EncodeToString(jpg) {
		t.Fatalf("result %+v", res)
	}

	// Without a progress token the same call sends no notification.
	msgs = readMessages(t, c.post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"generateImage","arguments":{"prompt":"a lighthouse"}}}`))
	if len(msgs) != 1 || msgs[0].Result == nil {
		t.Fatalf("without a progress token: %+v", msgs)
	}
}

func TestTransportCancellation(t *testing.T) {
	arrived := make(chan struct{})
	abandoned := make(chan struct{})
	f := newFakeService(t)
	f.set(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
			close(abandoned) // our client gave up the upstream request
		case <-time.After(10 * time.Second):
		}
	})
	table := defaultTable(t, &WorkersAI{AccountID: "acc", APIToken: "tok", BaseURL: f.URL})
	c := serveTable(t, table, imageIdentity())

	type outcome struct{ msgs []rpcMessage }
	done := make(chan outcome, 1)
	go func() {
		resp := c.post(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"generateImage","arguments":{"prompt":"x"},"_meta":{"progressToken":1}}}`)
		done <- outcome{readMessages(t, resp)}
	}()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the image request never reached the upstream")
	}
	resp := c.post(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"changed my mind"}}`)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("notifications/cancelled: HTTP %d", resp.StatusCode)
	}
	select {
	case <-abandoned:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request was not abandoned after notifications/cancelled")
	}
	select {
	case o := <-done:
		// The receiver of a cancellation sends no response for it
		// (basic/utilities/cancellation).
		for _, m := range o.msgs {
			if string(m.ID) == "7" {
				t.Errorf("got a response for the cancelled request: %+v", m)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the tools/call stream did not end after the cancellation")
	}
}

func TestTransportGating(t *testing.T) {
	table := defaultTable(t, OfflineRenderer{})
	c := serveTable(t, table, &oauth.Identity{Subject: "user_2"})
	msgs := readMessages(t, c.post(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	var list struct{ Tools []mcp.Tool }
	if err := json.Unmarshal(msgs[0].Result, &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range list.Tools {
		names = append(names, tool.Name)
	}
	if strings.Join(names, ",") != "add,whoami" {
		t.Fatalf("tools/list shows %v to a caller without image_generation", names)
	}
	msgs = readMessages(t, c.post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"generateImage","arguments":{"prompt":"x"}}}`))
	if len(msgs) != 1 || msgs[0].Error == nil || msgs[0].Error.Code != -32602 {
		t.Fatalf("calling a hidden tool: %+v, want JSON-RPC -32602", msgs)
	}
	want := `invalid params: tool "generateImage" is not available to this caller: it requires the "image_generation" permission, which this account does not have`
	if msgs[0].Error.Message != want {
		t.Errorf("refusal\n got %q\nwant %q", msgs[0].Error.Message, want)
	}
	if string(msgs[0].Error.Data) != `{"tool":"generateImage","missingPermissions":["image_generation"]}` {
		t.Errorf("refusal data %s", msgs[0].Error.Data)
	}
	msgs = readMessages(t, c.post(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"paint","arguments":{}}}`))
	if len(msgs) != 1 || msgs[0].Error == nil || msgs[0].Error.Code != -32602 || !strings.Contains(msgs[0].Error.Message, "unknown tool: paint") {
		t.Fatalf("calling an unknown tool: %+v, want JSON-RPC -32602", msgs)
	}
	// A tool's own failure is a result the model sees, not a protocol error.
	msgs = readMessages(t, c.post(`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"add","arguments":{"a":1}}}`))
	var res mcp.CallToolResult
	if len(msgs) != 1 || msgs[0].Result == nil || json.Unmarshal(msgs[0].Result, &res) != nil || !res.IsError ||
		res.Content[0].Text != "invalid arguments: b: is required (required)" {
		t.Fatalf("add with a missing argument: %+v", msgs)
	}
}

func TestTransportUpstreamFailure(t *testing.T) {
	f := newFakeService(t)
	f.set(replyJSON(429, `{"success":false,"errors":[{"code":3040,"message":"Capacity temporarily exceeded"}]}`, "Retry-After", "20"))
	table := defaultTable(t, &WorkersAI{AccountID: "acc", APIToken: "cf-secret-token", BaseURL: f.URL})
	c := serveTable(t, table, imageIdentity())
	msgs := readMessages(t, c.post(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"generateImage","arguments":{"prompt":"x"}}}`))
	want := `could not generate the image: Workers AI is rate limiting this server (HTTP 429); retry after 20s: 3040: Capacity temporarily exceeded`
	var logged, result bool
	for _, m := range msgs {
		if strings.Contains(string(m.Params)+string(m.Result), "cf-secret-token") {
			t.Errorf("the token reached the client: %s %s", m.Params, m.Result)
		}
		switch {
		case m.Method == "notifications/message":
			var p struct {
				Level, Logger string
				Data          map[string]string
			}
			if err := json.Unmarshal(m.Params, &p); err != nil || p.Level != "warning" || p.Logger != "generateImage" || p.Data["error"] != want {
				t.Errorf("log message %s", m.Params)
			}
			logged = true
		case string(m.ID) == "5":
			var res mcp.CallToolResult
			if err := json.Unmarshal(m.Result, &res); err != nil || !res.IsError || res.Content[0].Text != want {
				t.Errorf("result %s, want isError with %q", m.Result, want)
			}
			result = true
		}
	}
	if !logged || !result {
		t.Fatalf("want a warning log and an isError result, got %+v", msgs)
	}
}

// TestModernElicitIsInputRequired: a table tool that asks through
// mcp.Elicit answers a 2026-07-28 call with an InputRequiredResult (the
// table passes the request for input through, rather than making it an
// isError result), and the retry with the response completes.
func TestModernElicitIsInputRequired(t *testing.T) {
	table, err := NewTable(Diagnostics()...)
	if err != nil {
		t.Fatal(err)
	}
	c := serveTable(t, table, nil)
	c.session = ""
	call := func(extra string) rpcMessage {
		body := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_streaming_elicitation","arguments":{}` + extra +
			`,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}}}`
		req, _ := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("MCP-Protocol-Version", "2026-07-28")
		req.Header.Set("Mcp-Method", "tools/call")
		req.Header.Set("Mcp-Name", "test_streaming_elicitation")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msgs := readMessages(t, resp)
		for _, m := range msgs {
			if m.Method != "" && !strings.HasPrefix(m.Method, "notifications/") {
				t.Fatalf("a request on the response stream: %+v", m)
			}
		}
		return msgs[len(msgs)-1]
	}
	first := call("")
	if first.Error != nil || !strings.Contains(string(first.Result), `"resultType":"input_required"`) || !strings.Contains(string(first.Result), `"elicitation-create-1"`) {
		t.Fatalf("first round: %s %+v", first.Result, first.Error)
	}
	done := call(`,"inputResponses":{"elicitation-create-1":{"action":"decline"}}`)
	if done.Error != nil || !strings.Contains(string(done.Result), `"text":"elicitation: decline"`) {
		t.Fatalf("retry: %s %+v", done.Result, done.Error)
	}
}

// modernCall posts one 2026-07-28 request (no session) to c's endpoint.
func (c *mcpClient) modernCall(method, name, params string) rpcMessage {
	c.t.Helper()
	body := `{"jsonrpc":"2.0","id":3,"method":"` + method + `","params":{` + params +
		`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	req, _ := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", method)
	if name != "" {
		req.Header.Set("Mcp-Name", name)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	msgs := readMessages(c.t, resp)
	return msgs[len(msgs)-1]
}

// TestNonObjectStructuredContentByEra: since 2026-07-28 structuredContent
// may be any JSON value; the legacy revisions allow only an object, so a
// legacy caller sees the tool without its array outputSchema, and its
// result without structuredContent (the text carries the value).
func TestNonObjectStructuredContentByEra(t *testing.T) {
	list := echoTool("list", nil, nil)
	list.OutputSchema = &Schema{Type: "array", Items: &Schema{Type: "string"}}
	list.Handler = func(context.Context, *oauth.Identity, json.RawMessage) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(`["a","b"]`)}, StructuredContent: []string{"a", "b"}}, nil
	}
	table, err := NewTable(list)
	if err != nil {
		t.Fatal(err)
	}
	c := serveTable(t, table, nil)
	legacyList := readMessages(t, c.post(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`))
	legacyCall := readMessages(t, c.post(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list","arguments":{}}}`))
	if strings.Contains(string(legacyList[0].Result), "outputSchema") || strings.Contains(string(legacyCall[0].Result), "structuredContent") ||
		!strings.Contains(string(legacyCall[0].Result), `[\"a\",\"b\"]`) {
		t.Errorf("legacy: list %s, call %s", legacyList[0].Result, legacyCall[0].Result)
	}
	modernList := c.modernCall("tools/list", "", "")
	modernCall := c.modernCall("tools/call", "list", `"name":"list","arguments":{},`)
	if !strings.Contains(string(modernList.Result), `"outputSchema":{"type":"array"`) || !strings.Contains(string(modernCall.Result), `"structuredContent":["a","b"]`) {
		t.Errorf("modern: list %s, call %s", modernList.Result, modernCall.Result)
	}
}

// TestParamHeaderThroughTable: an x-mcp-header a tool declares (a keyword
// the argument check keeps in Extra) is enforced on a 2026-07-28 call
// through the table's LookupTool.
func TestParamHeaderThroughTable(t *testing.T) {
	region := echoTool("region", nil, nil)
	region.InputSchema = &Schema{Type: "object", Properties: map[string]*Schema{
		"region": {Type: "string", Extra: map[string]any{"x-mcp-header": "Region"}},
	}}
	table, err := NewTable(region)
	if err != nil {
		t.Fatal(err)
	}
	c := serveTable(t, table, nil)
	call := func(header string) rpcMessage {
		body := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"region","arguments":{"region":"eu"},` +
			`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
		req, _ := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("MCP-Protocol-Version", "2026-07-28")
		req.Header.Set("Mcp-Method", "tools/call")
		req.Header.Set("Mcp-Name", "region")
		if header != "" {
			req.Header.Set("Mcp-Param-Region", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msgs := readMessages(t, resp)
		return msgs[len(msgs)-1]
	}
	if m := call(""); m.Error == nil || m.Error.Code != mcp.CodeHeaderMismatch {
		t.Errorf("without Mcp-Param-Region: %s %+v", m.Result, m.Error)
	}
	if m := call("us"); m.Error == nil || m.Error.Code != mcp.CodeHeaderMismatch {
		t.Errorf("with a different Mcp-Param-Region: %s %+v", m.Result, m.Error)
	}
	if m := call("eu"); m.Error != nil {
		t.Errorf("with the right Mcp-Param-Region: %+v", m.Error)
	}
}
