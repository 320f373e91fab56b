package mcp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
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

// wire is an MCP server over real HTTP for byte-level requests, with a
// session owner per caller as the command gives it (there the bearer
// token's user; here the owner is named by the Authorization header).
type wire struct {
	t    *testing.T
	base string
}

// newWire starts the server of newTestServer with the test tools.
func newWire(t *testing.T) *wire {
	t.Helper()
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{SessionOwner: func(r *http.Request) string {
		return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}})
	return &wire{t: t, base: ts.URL}
}

// in is the same server, for a subtest's t.
func (w *wire) in(t *testing.T) *wire { return &wire{t: t, base: w.base} }

// req builds a POST to /mcp with the headers a conforming client sends,
// as owner (the Authorization header) in session (none if empty).
func (w *wire) req(owner, session, body string) *http.Request {
	req, _ := http.NewRequest("POST", w.base+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if owner != "" {
		req.Header.Set("Authorization", "Bearer "+owner)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	return req
}

// do sends a request and returns status, headers and body.
func (w *wire) do(req *http.Request) (int, http.Header, string) {
	w.t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		w.t.Fatalf("reading body: %v", err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// wireRPC is a JSON-RPC response as the tests read it.
type wireRPC struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeWireRPC(t *testing.T, body string) wireRPC {
	t.Helper()
	var r wireRPC
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.JSONRPC != "2.0" {
		t.Fatalf("not a JSON-RPC response (%v): %q", err, trunc(body))
	}
	return r
}

func trunc(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// initialize starts a 2025-11-25 session for owner and returns its id.
func (w *wire) initialize(owner string) string {
	w.t.Helper()
	st, h, body := w.do(w.req(owner, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"hostile","version":"1"}}}`))
	if st != http.StatusOK || h.Get("Mcp-Session-Id") == "" {
		w.t.Fatalf("initialize: %d %s", st, body)
	}
	sid := h.Get("Mcp-Session-Id")
	if st, _, body := w.do(w.req(owner, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)); st != http.StatusAccepted {
		w.t.Fatalf("notifications/initialized: %d %s", st, body)
	}
	return sid
}

// serves proves the session still works: tools/list answers with tools.
func (w *wire) serves(owner, session string) {
	w.t.Helper()
	st, _, body := w.do(w.req(owner, session, `{"jsonrpc":"2.0","id":"alive","method":"tools/list"}`))
	if st != http.StatusOK {
		w.t.Fatalf("follow-up tools/list: %d %s", st, body)
	}
	r := decodeWireRPC(w.t, body)
	if r.Error != nil || !strings.Contains(string(r.Result), `"name":"echo"`) {
		w.t.Fatalf("follow-up tools/list: %s", body)
	}
}

// rpcError asserts an HTTP status and a JSON-RPC error code, and returns the
// response.
func (w *wire) rpcError(req *http.Request, status, code int) wireRPC {
	w.t.Helper()
	st, h, body := w.do(req)
	if st != status {
		w.t.Fatalf("status %d, want %d: %s", st, status, trunc(body))
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		w.t.Fatalf("Content-Type %q, want application/json: %s", ct, trunc(body))
	}
	r := decodeWireRPC(w.t, body)
	if r.Error == nil || r.Error.Code != code || r.Error.Message == "" {
		w.t.Fatalf("want JSON-RPC error %d, got %s", code, trunc(body))
	}
	return r
}

// rawSSE opens an HTTP+SSE stream on a bare connection and reads it up to
// the endpoint event; the caller may then never read it again: a client
// that stops reading its stream.
func rawSSE(t *testing.T, ts *httptest.Server) (net.Conn, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET /sse HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	var line []byte
	var b [1]byte
	for { // a byte at a time: nothing past the endpoint event is read
		if _, err := c.Read(b[:]); err != nil {
			t.Fatalf("reading the endpoint event: %v", err)
		}
		if b[0] != '\n' {
			line = append(line, b[0])
			continue
		}
		if data, ok := strings.CutPrefix(string(line), "data: "); ok {
			return c, data
		}
		line = line[:0]
	}
}

// postRaw POSTs body and returns the response with its body read.
func postRaw(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// legacyFlood opens an HTTP+SSE session whose client stops reading its
// stream after initialize, and returns it with its message URL.
func legacyFlood(t *testing.T, s *Server, ts *httptest.Server) (*Session, string, net.Conn) {
	t.Helper()
	conn, endpoint := rawSSE(t, ts)
	url := ts.URL + endpoint
	for _, m := range []string{
		`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
	} {
		if resp, body := postRaw(t, url, m); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %d %s", m, resp.StatusCode, body)
		}
	}
	sess := s.session(queryValue(endpoint[strings.IndexByte(endpoint, '?')+1:], "sessionId"))
	if sess == nil {
		t.Fatal("no session")
	}
	waitFor(t, "initialize", sess.initialized)
	return sess, url, conn
}

func isDead(sw *sseWriter) bool {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.dead
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// vmRSS is the process's resident set as /proc tells it ("?" elsewhere).
func vmRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
