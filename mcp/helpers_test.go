package mcp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testTools is a tiny ToolSet whose tools exercise the protocol features.
type testTools struct {
	extra int // extra tools t000..., for pagination

	started   chan string   // receives the name of a tool when it starts
	release   chan struct{} // "block" waits on it (or its context)
	cancelled chan string   // "block" reports a cancelled context here
}

func newTestTools() *testTools {
	return &testTools{started: make(chan string, 16), release: make(chan struct{}), cancelled: make(chan string, 16)}
}

var objSchema = json.RawMessage(`{"type":"object"}`)

func (tt *testTools) ListTools(ctx context.Context) []Tool {
	tools := []Tool{
		{Name: "echo", Description: "echoes text", InputSchema: json.RawMessage(`{"type":"object","properties":{"text":{"type":"string"}}}`)},
		{Name: "block", InputSchema: objSchema},
		{Name: "progress", InputSchema: objSchema},
		{Name: "logs", InputSchema: objSchema},
		{Name: "panic", InputSchema: objSchema},
		{Name: "ask", InputSchema: objSchema},
	}
	for i := range tt.extra {
		tools = append(tools, Tool{Name: fmt.Sprintf("t%03d", i), InputSchema: objSchema})
	}
	return tools
}

func (tt *testTools) CallTool(ctx context.Context, name string, args json.RawMessage) (*CallToolResult, error) {
	switch name {
	case "echo":
		var a struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(args, &a); err != nil {
			return &CallToolResult{Content: []Content{TextContent("invalid arguments: " + err.Error())}, IsError: true}, nil
		}
		return &CallToolResult{Content: []Content{TextContent(a.Text)}}, nil
	case "block":
		tt.started <- name
		select {
		case <-ctx.Done():
			tt.cancelled <- name
			return nil, ctx.Err()
		case <-tt.release:
			return &CallToolResult{Content: []Content{TextContent("released")}}, nil
		}
	case "progress":
		for i := 1; i <= 2; i++ {
			if err := NotifyProgress(ctx, float64(i), 2, fmt.Sprintf("step %d", i)); err != nil {
				return nil, err
			}
		}
		return &CallToolResult{Content: []Content{TextContent("done")}}, nil
	case "logs":
		for _, l := range levelOrder {
			if err := Log(ctx, l, "test", string(l)); err != nil {
				return nil, err
			}
		}
		return &CallToolResult{Content: []Content{TextContent("logged")}}, nil
	case "panic":
		panic("tool exploded")
	case "ask":
		res, err := SessionFromContext(ctx).Request(ctx, "roots/list", nil)
		if err != nil {
			return &CallToolResult{Content: []Content{TextContent("error: " + err.Error())}, IsError: true}, nil
		}
		return &CallToolResult{Content: []Content{TextContent(string(res))}}, nil
	}
	if strings.HasPrefix(name, "t") && len(name) == 4 {
		return &CallToolResult{Content: []Content{TextContent(name)}}, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownTool, name)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// logBuffer collects the server's diagnostics for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// sseEvent as a client sees it.
type clientEvent struct {
	ID, Event, Data string
	Retry           string
}

// readEvents parses an SSE body until EOF or until stop returns true.
func readEvents(r io.Reader, stop func(clientEvent) bool) []clientEvent {
	var out []clientEvent
	sc := bufio.NewScanner(r)
	var ev clientEvent
	seen := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if seen {
				out = append(out, ev)
				if stop != nil && stop(ev) {
					return out
				}
			}
			ev, seen = clientEvent{}, false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimPrefix(v, " ")
		seen = true
		switch k {
		case "id":
			ev.ID = v
		case "event":
			ev.Event = v
		case "data":
			ev.Data = v
		case "retry":
			ev.Retry = v
		}
	}
	return out
}

// rpcReply is a decoded JSON-RPC message as the client receives it.
type rpcReply struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *JSONRPCError   `json:"error"`
}

// httpClient speaks Streamable HTTP to one endpoint.
type httpClient struct {
	t       *testing.T
	url     string
	sid     string
	version string
	header  http.Header
	nextID  int
}

func newHTTPClient(t *testing.T, url string) *httpClient {
	return &httpClient{t: t, url: url, header: http.Header{}}
}

func (c *httpClient) do(method, body string, mod func(*http.Request)) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	} else {
		req.Header.Set("Accept", "text/event-stream")
	}
	if c.sid != "" {
		req.Header.Set("Mcp-Session-Id", c.sid)
	}
	if c.version != "" && c.version != "2024-11-05" && c.version != "2025-03-26" {
		req.Header.Set("MCP-Protocol-Version", c.version)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if mod != nil {
		mod(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// initialize runs the handshake for version and keeps the session id.
func (c *httpClient) initialize(version string) json.RawMessage {
	c.t.Helper()
	resp := c.do(http.MethodPost, fmt.Sprintf(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{"roots":{}},"clientInfo":{"name":"test","version":"1"}}}`, version), nil)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("initialize: %d %s", resp.StatusCode, body)
	}
	c.sid = resp.Header.Get("Mcp-Session-Id")
	var r rpcReply
	if err := json.Unmarshal(body, &r); err != nil || r.Error != nil {
		c.t.Fatalf("initialize: %s", body)
	}
	var res struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	_ = json.Unmarshal(r.Result, &res)
	c.version = res.ProtocolVersion
	n := c.do(http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil)
	n.Body.Close()
	if n.StatusCode != http.StatusAccepted {
		c.t.Fatalf("initialized notification: %d", n.StatusCode)
	}
	return r.Result
}

// call sends a request and returns every message of the answer: for a JSON
// answer just the response, for SSE all events' messages in order.
func (c *httpClient) call(method string, params any) (resp *http.Response, msgs []rpcReply) {
	c.t.Helper()
	c.nextID++
	p, _ := json.Marshal(params)
	if params == nil {
		p = []byte(`{}`)
	}
	resp = c.do(http.MethodPost, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, c.nextID, method, p), nil)
	defer resp.Body.Close()
	return resp, decodeAnswer(c.t, resp)
}

func decodeAnswer(t *testing.T, resp *http.Response) []rpcReply {
	t.Helper()
	var msgs []rpcReply
	switch ct := resp.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "text/event-stream"):
		for _, ev := range readEvents(resp.Body, nil) {
			if ev.Data == "" {
				continue // priming event
			}
			var r rpcReply
			if err := json.Unmarshal([]byte(ev.Data), &r); err != nil {
				t.Fatalf("bad event %q: %v", ev.Data, err)
			}
			msgs = append(msgs, r)
		}
	default:
		body, _ := io.ReadAll(resp.Body)
		if len(body) == 0 {
			return nil
		}
		var r rpcReply
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("bad JSON answer %q (status %d): %v", body, resp.StatusCode, err)
		}
		msgs = append(msgs, r)
	}
	return msgs
}

// result returns the final response of a call, failing on a JSON-RPC error.
func (c *httpClient) result(method string, params any) json.RawMessage {
	c.t.Helper()
	resp, msgs := c.call(method, params)
	if len(msgs) == 0 {
		c.t.Fatalf("%s: no answer (status %d)", method, resp.StatusCode)
	}
	last := msgs[len(msgs)-1]
	if last.Error != nil {
		c.t.Fatalf("%s: error %v", method, last.Error)
	}
	return last.Result
}

// rpcError returns the error of a call that must fail.
func (c *httpClient) rpcError(method string, params any) *JSONRPCError {
	c.t.Helper()
	_, msgs := c.call(method, params)
	if len(msgs) == 0 || msgs[len(msgs)-1].Error == nil {
		c.t.Fatalf("%s: want an error, got %+v", method, msgs)
	}
	return msgs[len(msgs)-1].Error
}

func newTestServer(t *testing.T, tools ToolSet, opts HTTPOptions) (*Server, *httptest.Server) {
	t.Helper()
	s := NewServer(ServerOptions{Info: Implementation{Name: "test-server", Title: "Test", Version: "0.1"}, Instructions: "for tests", Tools: tools, Logger: quietLogger(), PageSize: 4})
	mux := http.NewServeMux()
	mux.Handle("/mcp", s.StreamableHTTPHandler(opts))
	sse := s.SSEHandler(opts)
	mux.Handle("/sse", sse)
	mux.Handle("/sse/message", sse)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		ts.Close()
	})
	return s, ts
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func newHTTPTestServer(t *testing.T, h http.Handler) *httptest.Server {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}
