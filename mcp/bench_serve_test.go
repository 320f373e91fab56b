package mcp

// A whole-server benchmark of tools/call in both eras: net/http's request
// parsing and response writing included, over an in-memory connection, and
// with the server configured as the product configures it (a tool table
// that answers per caller, the tasks extension on, an observer, an owner
// per request), so that what differs between the eras under a load
// generator shows in a profile of one process.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// callerKey is the context key of the caller a middleware authenticated,
// as a bearer check puts an identity there.
type callerKey struct{}

// tableTools is a ToolSet shaped like the product's tool table: a map from
// name to tool, an access check against the caller in the context for
// every lookup, and the ToolLookup and TaskSupporter answers derived from
// the same entry.
type tableTools struct {
	byName map[string]*tableTool
}

type tableTool struct {
	tool    Tool
	allowed string // the caller who may call it; "" means anyone
}

func newTableTools() *tableTools {
	t := &tableTools{byName: map[string]*tableTool{}}
	for _, tt := range []tableTool{
		{tool: Tool{Name: "add", Description: "adds two numbers", InputSchema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]}`)}},
		{tool: Tool{Name: "whoami", Description: "says who you are", InputSchema: objSchema}},
		{tool: Tool{Name: "generateImage", Description: "slow", InputSchema: objSchema, Execution: &ToolExecution{TaskSupport: TaskOptional}}, allowed: "admin"},
	} {
		t.byName[tt.tool.Name] = &tt
	}
	return t
}

func (t *tableTools) find(ctx context.Context, name string) *tableTool {
	e := t.byName[name]
	if e == nil {
		return nil
	}
	if caller, _ := ctx.Value(callerKey{}).(string); e.allowed != "" && e.allowed != caller {
		return nil
	}
	return e
}

func (t *tableTools) ListTools(ctx context.Context) []Tool {
	var out []Tool
	for _, name := range []string{"add", "whoami", "generateImage"} {
		if e := t.find(ctx, name); e != nil {
			out = append(out, e.tool)
		}
	}
	return out
}

func (t *tableTools) LookupTool(ctx context.Context, name string) (Tool, bool) {
	if e := t.find(ctx, name); e != nil {
		return e.tool, true
	}
	return Tool{}, false
}

func (t *tableTools) TaskSupport(ctx context.Context, name string) string {
	if e := t.find(ctx, name); e != nil && e.tool.Execution != nil {
		return e.tool.Execution.TaskSupport
	}
	return TaskForbidden
}

var addResult = CallToolResult{Content: []Content{TextContent("5")}}

func (t *tableTools) CallTool(ctx context.Context, name string, _ json.RawMessage) (*CallToolResult, error) {
	if t.find(ctx, name) == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownTool, name)
	}
	return &addResult, nil
}

// feedConn is a net.Conn that feeds an http.Server the same request left
// times, pipelined, and counts the responses it is sent; once every
// request has been fed, a read waits for the connection to be closed (a
// read that ended the stream would cancel the last request's context) or
// for a read deadline in the past (how net/http stops its background read).
type feedConn struct {
	req     []byte
	mu      sync.Mutex
	left    int
	off     int
	expired bool          // the read deadline is in the past
	kick    chan struct{} // wakes a waiting read when it is set so
	closed  chan struct{}
	once    sync.Once

	got     chan struct{} // closed when want responses have arrived
	want    int
	answers int
	bad     []byte // the first response that is not 200
}

func (c *feedConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	for c.left == 0 || c.expired {
		if c.expired {
			c.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		c.mu.Unlock()
		select {
		case <-c.closed:
			return 0, io.EOF
		case <-c.kick:
		}
		c.mu.Lock()
	}
	n := 0
	for n < len(p) && c.left > 0 {
		k := copy(p[n:], c.req[c.off:])
		n += k
		if c.off += k; c.off == len(c.req) {
			c.off = 0
			c.left--
		}
	}
	c.mu.Unlock()
	return n, nil
}

func (c *feedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for rest := p; ; {
		i := bytes.Index(rest, []byte("HTTP/1.1 "))
		if i < 0 {
			break
		}
		if !bytes.HasPrefix(rest[i:], []byte("HTTP/1.1 200 ")) && c.bad == nil {
			c.bad = bytes.Clone(p)
		}
		rest = rest[i+9:]
		if c.answers++; c.answers == c.want {
			close(c.got)
		}
	}
	return len(p), nil
}

func (c *feedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *feedConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (c *feedConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *feedConn) SetDeadline(t time.Time) error      { return c.SetReadDeadline(t) }
func (c *feedConn) SetWriteDeadline(t time.Time) error { return nil }

func (c *feedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.expired = !t.IsZero() && !t.After(time.Now())
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return nil
}

// oneConnListener accepts one connection, then waits to be closed.
type oneConnListener struct {
	conn   chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conn:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

// serveN serves n copies of req on one connection through a fresh
// http.Server with handler h, and fails b unless each got a 200.
func serveN(b *testing.B, h http.Handler, req []byte, n int) {
	conn := &feedConn{req: req, left: n, want: n, closed: make(chan struct{}), got: make(chan struct{}), kick: make(chan struct{}, 1)}
	l := &oneConnListener{conn: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.conn <- conn
	srv := &http.Server{Handler: h}
	done := make(chan error, 1)
	cpu0 := processCPU()
	go func() { done <- srv.Serve(l) }()
	if n > 0 {
		<-conn.got
	}
	b.StopTimer()
	if n > 0 {
		reportCPU(b, cpu0)
	}
	conn.Close()
	srv.Close()
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		b.Fatal(err)
	}
	if conn.bad != nil {
		b.Fatalf("response: %s", conn.bad)
	}
	b.StartTimer()
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time since since per op, as
// cpu-ns/op: as bench/wrk.sh reports the server's, steadier than wall time
// on a shared machine, and it counts the runtime's work besides the
// benchmark's goroutine (the garbage collector's, the goroutines net/http
// starts).
func reportCPU(b *testing.B, since time.Duration) {
	b.ReportMetric(float64(processCPU()-since)/float64(b.N), "cpu-ns/op")
}

// wrkRequest is the HTTP request a load generator sends: a bearer token,
// the body's length, and headers.
func wrkRequest(body string, headers ...string) []byte {
	var b strings.Builder
	b.WriteString("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:18913\r\n")
	for i := 0; i < len(headers); i += 2 {
		b.WriteString(headers[i] + ": " + headers[i+1] + "\r\n")
	}
	fmt.Fprintf(&b, "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s", strings.Repeat("t", 43), len(body), body)
	return []byte(b.String())
}

// BenchmarkServeToolsCall is tools/call add through a whole http.Server,
// as a load generator (bench/wrk.sh) sends it, once in a legacy session and
// once in the 2026-07-28 era, the server configured as the product's. Per
// op: one request parsed by net/http, served, and its response written.
func BenchmarkServeToolsCall(b *testing.B) {
	s := NewServer(ServerOptions{
		Info:              Implementation{Name: "remote-mcp-authkit", Title: "Remote MCP with AuthKit", Version: "1.0.0"},
		Tools:             newTableTools(),
		ToolsVaryByCaller: true,
		Tasks:             &TaskOptions{},
		Logger:            quietLogger(),
		Observe:           func(context.Context, RequestInfo) {},
	})
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	mcpHandler := s.StreamableHTTPHandler(HTTPOptions{
		SessionOwner: func(r *http.Request) string { c, _ := r.Context().Value(callerKey{}).(string); return c },
	})
	// The bearer check's part: the caller goes into the context.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mcpHandler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, "user")))
	})

	const accept, jsonType = "application/json, text/event-stream", "application/json"
	const call = `{"jsonrpc":"2.0","id":1000000001,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}`
	b.Run("legacy", func(b *testing.B) {
		rec := &benchWriter{h: make(http.Header)}
		init, _ := http.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"wrk","version":"1"}}}`))
		init.Header.Set("Accept", accept)
		init.Header.Set("Content-Type", jsonType)
		h.ServeHTTP(rec, init)
		sid := rec.h.Get(headerSessionID)
		if sid == "" {
			b.Fatalf("initialize: %d %s", rec.status, rec.body.String())
		}
		req := wrkRequest(call+`}}`, "Content-Type", jsonType, "Accept", accept, "MCP-Protocol-Version", "2025-06-18", "Mcp-Session-Id", sid)
		b.ReportAllocs()
		serveN(b, h, req, b.N)
	})
	b.Run("modern", func(b *testing.B) {
		meta := `,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"wrk","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
		req := wrkRequest(call+meta+`}}`, "Content-Type", jsonType, "Accept", accept, "MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "add")
		b.ReportAllocs()
		serveN(b, h, req, b.N)
	})
}
