package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchTools is a trivial ToolSet, so a benchmark measures the protocol
// and not the tool.
type benchTools struct{ result CallToolResult }

func (b *benchTools) ListTools(context.Context) []Tool {
	return []Tool{{Name: "noop", InputSchema: objSchema}}
}

// LookupTool makes benchTools a ToolLookup, as the server's own tool table
// (tools.Table) is, so that a modern call's Mcp-Param-* check finds the
// schema as it does in production rather than by listing every tool.
func (b *benchTools) LookupTool(_ context.Context, name string) (Tool, bool) {
	if name != "noop" {
		return Tool{}, false
	}
	return Tool{Name: "noop", InputSchema: objSchema}, true
}

func (b *benchTools) CallTool(_ context.Context, name string, _ json.RawMessage) (*CallToolResult, error) {
	if name != "noop" {
		return nil, ErrUnknownTool
	}
	return &b.result, nil
}

// benchWriter is a reusable ResponseWriter, so that the harness adds no
// allocations of its own to the round trip.
type benchWriter struct {
	h       http.Header
	status  int
	body    bytes.Buffer
	wrote   chan struct{} // when non-nil, signalled after each write
	discard bool          // count nothing: a long stream must not grow a buffer
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(s int)   { w.status = s }
func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	n, err := len(p), error(nil)
	if !w.discard {
		n, err = w.body.Write(p)
	}
	if w.wrote != nil {
		select {
		case w.wrote <- struct{}{}:
		default:
		}
	}
	return n, err
}
func (w *benchWriter) Flush() {}

func (w *benchWriter) reset() {
	clear(w.h)
	w.status = 0
	w.body.Reset()
}

const benchCall = `{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"noop","arguments":{"a":1}}}`

var benchCallBytes = []byte(benchCall)

// BenchmarkStreamableToolsCall is one tools/call round trip through the
// Streamable HTTP handler: body read, decode, session lookup, dispatch,
// encode, write. Target: at most 30 allocs and 8 KiB per op.
func BenchmarkStreamableToolsCall(b *testing.B) { benchStreamable(b, HTTPOptions{}) }

// BenchmarkStreamableToolsCallPolling is the same with HTTPOptions.Polling,
// which runs each request apart from its HTTP handler: the price of
// letting handlers close their connection (CloseSSEStream).
func BenchmarkStreamableToolsCallPolling(b *testing.B) {
	benchStreamable(b, HTTPOptions{Polling: true})
}

func benchStreamable(b *testing.B, opts HTTPOptions) {
	s := NewServer(ServerOptions{Tools: &benchTools{result: CallToolResult{Content: []Content{TextContent("ok")}}}, Logger: quietLogger()})
	h := s.StreamableHTTPHandler(opts)
	init := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}`))
	init.Header.Set("Accept", "application/json, text/event-stream")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, init)
	sid := rec.Header().Get("Mcp-Session-Id")
	if sid == "" {
		b.Fatalf("initialize: %s", rec.Body)
	}

	body := bytes.NewReader([]byte(benchCall))
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	req.ContentLength = int64(len(benchCall))
	rc := io.NopCloser(body)
	w := &benchWriter{h: make(http.Header)}

	b.ReportAllocs()
	b.SetBytes(int64(len(benchCall)))
	cpu := processCPU()
	for b.Loop() {
		body.Reset(benchCallBytes)
		req.Body = rc
		w.reset()
		h.ServeHTTP(w, req)
		if w.status != 200 {
			b.Fatalf("status %d: %s", w.status, w.body.String())
		}
	}
	reportCPU(b, cpu)
	if !strings.Contains(w.body.String(), `"id":42,"result":{"content":[{"type":"text","text":"ok"}]}`) {
		b.Fatalf("response %s", w.body.String())
	}
}

// BenchmarkStreamableToolsCallModern is the same tools/call in the
// 2026-07-28 era: no session, the version and capabilities in the request's
// _meta (validated, with the headers they must agree with), resultType and
// serverInfo in the result's _meta.
func BenchmarkStreamableToolsCallModern(b *testing.B) {
	s := NewServer(ServerOptions{Tools: &benchTools{result: CallToolResult{Content: []Content{TextContent("ok")}}}, Logger: quietLogger()})
	h := s.StreamableHTTPHandler(HTTPOptions{})
	call := []byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"noop","arguments":{"a":1},"_meta":` + modernMeta + `}}`)
	body := bytes.NewReader(call)
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("MCP-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "tools/call")
	req.Header.Set("Mcp-Name", "noop")
	req.ContentLength = int64(len(call))
	rc := io.NopCloser(body)
	w := &benchWriter{h: make(http.Header)}

	b.ReportAllocs()
	b.SetBytes(int64(len(call)))
	cpu := processCPU()
	for b.Loop() {
		body.Reset(call)
		req.Body = rc
		w.reset()
		h.ServeHTTP(w, req)
		if w.status != 200 {
			b.Fatalf("status %d: %s", w.status, w.body.String())
		}
	}
	reportCPU(b, cpu)
	if !strings.Contains(w.body.String(), `"id":42,"result":{"resultType":"complete"`) || !strings.Contains(w.body.String(), `"content":[{"type":"text","text":"ok"}]`) {
		b.Fatalf("response %s", w.body.String())
	}
}

// BenchmarkSSEToolsCall is the same round trip through HTTP+SSE: POST to
// the message endpoint (202), response read from the open stream.
func BenchmarkSSEToolsCall(b *testing.B) {
	s := NewServer(ServerOptions{Tools: &benchTools{result: CallToolResult{Content: []Content{TextContent("ok")}}}, Logger: quietLogger()})
	h := s.SSEHandler(HTTPOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	stream := &benchWriter{h: make(http.Header), wrote: make(chan struct{}, 1)}
	get := httptest.NewRequest(http.MethodGet, "/sse", nil).WithContext(ctx)
	done := make(chan struct{})
	go func() { h.ServeHTTP(stream, get); close(done) }()
	<-stream.wrote
	endpoint := strings.TrimSpace(strings.Split(stream.body.String(), "data: ")[1])

	post := func(body string) {
		w := &benchWriter{h: make(http.Header)}
		r := httptest.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
		h.ServeHTTP(w, r)
		if w.status != http.StatusAccepted {
			b.Fatalf("POST %d %s", w.status, w.body.String())
		}
	}
	stream.discard = true
	post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}`)
	<-stream.wrote

	body := bytes.NewReader([]byte(benchCall))
	req := httptest.NewRequest(http.MethodPost, endpoint, nil)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = int64(len(benchCall))
	rc := io.NopCloser(body)
	w := &benchWriter{h: make(http.Header)}

	b.ReportAllocs()
	b.SetBytes(int64(len(benchCall)))
	for b.Loop() {
		body.Reset(benchCallBytes)
		req.Body = rc
		w.reset()
		h.ServeHTTP(w, req)
		<-stream.wrote
		if w.status != http.StatusAccepted {
			b.Fatalf("status %d", w.status)
		}
	}
	b.StopTimer()
	cancel()
	<-done
}

// BenchmarkEncodeCallToolResult is the encoding of a tools/call response
// alone: the answer of the add tool (one short text block), 4 KiB of
// lines of prose, and 4 KiB of text where a quarter of the characters
// need escaping.
func BenchmarkEncodeCallToolResult(b *testing.B) {
	id := json.RawMessage("42")
	prose := strings.Repeat("The \"add\" tool said: 3.\n", 4096/27)
	page := strings.Repeat("a <b> & \"c\"\n\u2028 ", 4096/16)
	for _, bc := range []struct {
		name string
		res  *CallToolResult
	}{
		{"add", &CallToolResult{Content: []Content{TextContent("3")}}},
		{"prose", &CallToolResult{Content: []Content{TextContent(prose)}}},
		{"escapes", &CallToolResult{Content: []Content{TextContent(page)}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(encodeResponse(id, bc.res, nil)) == 0 {
					b.Fatal("empty response")
				}
			}
		})
	}
}

// BenchmarkEncodeEmptyResult is the response of ping and
// logging/setLevel.
func BenchmarkEncodeEmptyResult(b *testing.B) {
	id := json.RawMessage(`"req-7"`)
	b.ReportAllocs()
	for b.Loop() {
		if len(encodeResponse(id, nil, nil)) == 0 {
			b.Fatal("empty response")
		}
	}
}

// BenchmarkDecodeToolsCall is the decoding of a tools/call body up to the
// tool's name, arguments and progress token: decodeBody and readParams,
// against the encoding/json decoding they replaced (refDecodeBody and
// refToolCall, in jsonrpc_ref_test.go).
func BenchmarkDecodeToolsCall(b *testing.B) {
	b.Run("jsonscan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, m, err := decodeBody(benchCallBytes)
			if err != nil {
				b.Fatal(err)
			}
			p := readParams(m.Params)
			if name, _, err := p.toolCall(); err != nil || name != "noop" {
				b.Fatal(name, err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, m, err := refDecodeBody(benchCallBytes)
			if err != nil {
				b.Fatal(err)
			}
			if name, _, _, err := refToolCall(m.Params); err != nil || name != "noop" {
				b.Fatal(name, err)
			}
		}
	})
}
