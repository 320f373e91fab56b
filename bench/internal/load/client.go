// Package load drives an MCP server over HTTP for measurement: it opens
// sessions over the Streamable HTTP transport (MCP 2025-06-18,
// basic/transports, "Streamable HTTP") or the older HTTP+SSE transport
// (2024-11-05, "HTTP with SSE"), calls a tool from many workers, verifies
// every answer, and records latency and errors by kind. It also holds many
// idle streams open cheaply, and samples a server's memory, goroutines and
// file descriptors.
package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Target says where and how to reach the server under test.
type Target struct {
	URL             string // the MCP endpoint: .../mcp (streamable) or .../sse (legacy)
	Transport       string // "streamable" or "sse"
	Token           string // bearer token; empty sends no Authorization header
	ProtocolVersion string // requested in initialize and sent in MCP-Protocol-Version
	Timeout         time.Duration
}

// Error is a failed call, classified so a report can count failures by kind:
// "transport", "timeout", "http_401", "jsonrpc_-32602", "tool_error",
// "bad_result", "bad_response", "stream_closed".
type Error struct {
	Kind string
	Err  error
}

func (e *Error) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func failf(kind, format string, a ...any) *Error {
	return &Error{Kind: kind, Err: fmt.Errorf(format, a...)}
}

// Kind returns the error kind of err, "other" for an unclassified error.
func Kind(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "other"
}

// NewHTTPClient returns a client whose transport keeps up to conns idle
// connections to the one host under test, so C workers reuse C keep-alive
// connections instead of dialing per request.
func NewHTTPClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil, // loopback only; ignore proxy environment
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// rpcResponse is a JSON-RPC 2.0 response with the result left raw.
type rpcResponse struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"` // set when the message is a request or notification instead
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Session is one initialized MCP session.
type Session interface {
	// Call sends a JSON-RPC request whose id is id and whose body is body,
	// and returns the matching response's result.
	Call(ctx context.Context, id int64, body []byte) (json.RawMessage, error)
	// Close ends the session (DELETE for Streamable HTTP, closing the stream
	// for SSE).
	Close()
}

// Open initializes one session: initialize, then notifications/initialized
// (lifecycle, "Initialization").
func Open(ctx context.Context, c *http.Client, t Target, seq *atomic.Int64) (Session, error) {
	switch t.Transport {
	case "", "streamable":
		return openStreamable(ctx, c, t, seq)
	case "sse":
		return openSSE(ctx, c, t, seq)
	}
	return nil, fmt.Errorf("unknown transport %q", t.Transport)
}

func initializeBody(id int64, version string) []byte {
	return fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"mcpload","version":"1"}}}`, id, version)
}

var initializedBody = []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)

// streamable is a session over Streamable HTTP: every message is a POST to
// the one endpoint, carrying Mcp-Session-Id and MCP-Protocol-Version
// (transports, "Session Management" and "Protocol Version Header").
type streamable struct {
	c       *http.Client
	t       Target
	session string
	version string
}

func openStreamable(ctx context.Context, c *http.Client, t Target, seq *atomic.Int64) (Session, error) {
	s := &streamable{c: c, t: t}
	id := seq.Add(1)
	resp, err := s.post(ctx, initializeBody(id, t.ProtocolVersion))
	if err != nil {
		return nil, err
	}
	s.session = resp.Header.Get("Mcp-Session-Id")
	res, err := s.read(resp, id)
	if err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	var ir struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if err := json.Unmarshal(res, &ir); err != nil || ir.ProtocolVersion == "" {
		return nil, failf("bad_response", "initialize result has no protocolVersion: %.200s", res)
	}
	s.version = ir.ProtocolVersion
	resp, err = s.post(ctx, initializedBody)
	if err != nil {
		return nil, fmt.Errorf("notifications/initialized: %w", err)
	}
	drain(resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return nil, failf("http_"+strconv.Itoa(resp.StatusCode), "notifications/initialized answered %s", resp.Status)
	}
	return s, nil
}

// ID returns the session id the server assigned ("" for none).
func (s *streamable) ID() string { return s.session }

func (s *streamable) header(h http.Header) {
	h["Content-Type"] = []string{"application/json"}
	h["Accept"] = []string{"application/json, text/event-stream"}
	if s.session != "" {
		h["Mcp-Session-Id"] = []string{s.session}
	}
	if s.version != "" {
		h["Mcp-Protocol-Version"] = []string{s.version}
	}
	if s.t.Token != "" {
		h["Authorization"] = []string{"Bearer " + s.t.Token}
	}
}

func (s *streamable) post(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.t.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	s.header(req.Header)
	resp, err := s.c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &Error{Kind: "timeout", Err: err}
		}
		return nil, &Error{Kind: "transport", Err: err}
	}
	return resp, nil
}

func (s *streamable) Call(ctx context.Context, id int64, body []byte) (json.RawMessage, error) {
	resp, err := s.post(ctx, body)
	if err != nil {
		return nil, err
	}
	return s.read(resp, id)
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// read returns the result of the response with id from either answer form
// a server may choose: one JSON object, or an SSE stream that carries it
// (transports, "Sending Messages to the Server", item 5).
func (s *streamable) read(resp *http.Response, id int64) (json.RawMessage, error) {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, failf("http_"+strconv.Itoa(resp.StatusCode), "%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	ct := resp.Header.Get("Content-Type")
	if len(ct) >= 17 && ct[:17] == "text/event-stream" {
		br := readerPool.Get().(*bufio.Reader)
		br.Reset(resp.Body)
		defer func() { br.Reset(nil); readerPool.Put(br) }()
		for range 1000 { // bounded: a server may interleave notifications
			ev, err := readEvent(br)
			if err != nil {
				return nil, &Error{Kind: "stream_closed", Err: err}
			}
			if ev.Name != "" && ev.Name != "message" {
				continue
			}
			if res, ok, err := match(ev.Data, id); ok {
				return res, err
			}
		}
		return nil, failf("bad_response", "no response with id %d in 1000 events", id)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxEventBytes))
	if err != nil {
		return nil, &Error{Kind: "transport", Err: err}
	}
	res, ok, err := match(body, id)
	if !ok {
		return nil, failf("bad_response", "response is not for id %d: %.200s", id, body)
	}
	return res, err
}

// match decodes msg and, when it is the response to id, returns its result
// or its error.
func match(msg []byte, id int64) (json.RawMessage, bool, error) {
	var r rpcResponse
	if err := json.Unmarshal(msg, &r); err != nil {
		return nil, true, failf("bad_response", "invalid JSON-RPC message: %v", err)
	}
	if r.Method != "" || string(r.ID) != strconv.FormatInt(id, 10) {
		return nil, false, nil
	}
	if r.Error != nil {
		return nil, true, failf("jsonrpc_"+strconv.Itoa(r.Error.Code), "%s", r.Error.Message)
	}
	return r.Result, true, nil
}

func (s *streamable) Close() {
	if s.session == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.t.URL, nil)
	if err != nil {
		return
	}
	s.header(req.Header)
	if resp, err := s.c.Do(req); err == nil {
		drain(resp.Body)
	}
}

func drain(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	body.Close()
}

// legacy is a session over the 2024-11-05 HTTP+SSE transport: one GET
// stream that first names the endpoint for POSTs, then carries every
// response; each POST is answered 202 Accepted.
type legacy struct {
	c        *http.Client
	t        Target
	endpoint string
	body     io.ReadCloser

	mu      sync.Mutex
	pending map[int64]chan result
	err     error // why the stream ended; set once
}

type result struct {
	res json.RawMessage
	err error
}

func openSSE(ctx context.Context, c *http.Client, t Target, seq *atomic.Int64) (Session, error) {
	// The stream outlives ctx (which bounds only the setup), so it gets its
	// own context, ended by Close.
	req, err := http.NewRequest(http.MethodGet, t.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if t.Token != "" {
		req.Header.Set("Authorization", "Bearer "+t.Token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, &Error{Kind: "transport", Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		drain(resp.Body)
		return nil, failf("http_"+strconv.Itoa(resp.StatusCode), "GET %s: %s", t.URL, resp.Status)
	}
	s := &legacy{c: c, t: t, body: resp.Body, pending: make(map[int64]chan result)}
	br := bufio.NewReaderSize(resp.Body, 4096)
	endpoint := make(chan error, 1)
	go func() {
		// The first event must be "endpoint" (2024-11-05 transports, "HTTP
		// with SSE"); its data is the URI for POSTs, relative to the stream.
		ev, err := readEvent(br)
		if err == nil && ev.Name != "endpoint" {
			err = failf("bad_response", "first SSE event is %q, want endpoint", ev.Name)
		}
		if err == nil {
			var u *url.URL
			if u, err = resp.Request.URL.Parse(string(ev.Data)); err == nil {
				s.endpoint = u.String()
			}
		}
		endpoint <- err
		if err == nil {
			s.readLoop(br)
		}
	}()
	select {
	case err := <-endpoint:
		if err != nil {
			resp.Body.Close()
			return nil, err
		}
	case <-ctx.Done():
		resp.Body.Close()
		return nil, &Error{Kind: "timeout", Err: errors.New("no endpoint event")}
	}
	id := seq.Add(1)
	res, err := s.Call(ctx, id, initializeBody(id, t.ProtocolVersion))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("initialize: %w", err)
	}
	var ir struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if err := json.Unmarshal(res, &ir); err != nil || ir.ProtocolVersion == "" {
		s.Close()
		return nil, failf("bad_response", "initialize result has no protocolVersion: %.200s", res)
	}
	if err := s.send(ctx, initializedBody); err != nil {
		s.Close()
		return nil, fmt.Errorf("notifications/initialized: %w", err)
	}
	return s, nil
}

// readLoop hands each response on the stream to the call waiting for its id.
func (s *legacy) readLoop(br *bufio.Reader) {
	var err error
	for {
		var ev event
		if ev, err = readEvent(br); err != nil {
			break
		}
		if ev.Name != "" && ev.Name != "message" {
			continue
		}
		var r rpcResponse
		if json.Unmarshal(ev.Data, &r) != nil || r.Method != "" {
			continue
		}
		id, perr := strconv.ParseInt(string(r.ID), 10, 64)
		if perr != nil {
			continue
		}
		var out result
		if r.Error != nil {
			out.err = failf("jsonrpc_"+strconv.Itoa(r.Error.Code), "%s", r.Error.Message)
		} else {
			out.res = r.Result
		}
		s.mu.Lock()
		ch := s.pending[id]
		delete(s.pending, id)
		s.mu.Unlock()
		if ch != nil {
			ch <- out
		}
	}
	s.mu.Lock()
	s.err = err
	for id, ch := range s.pending {
		ch <- result{err: &Error{Kind: "stream_closed", Err: err}}
		delete(s.pending, id)
	}
	s.mu.Unlock()
}

func (s *legacy) send(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header["Content-Type"] = []string{"application/json"}
	if s.t.Token != "" {
		req.Header["Authorization"] = []string{"Bearer " + s.t.Token}
	}
	resp, err := s.c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return &Error{Kind: "timeout", Err: err}
		}
		return &Error{Kind: "transport", Err: err}
	}
	drain(resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return failf("http_"+strconv.Itoa(resp.StatusCode), "POST %s: %s", s.endpoint, resp.Status)
	}
	return nil
}

func (s *legacy) Call(ctx context.Context, id int64, body []byte) (json.RawMessage, error) {
	ch := make(chan result, 1)
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return nil, &Error{Kind: "stream_closed", Err: s.err}
	}
	s.pending[id] = ch
	s.mu.Unlock()
	if err := s.send(ctx, body); err != nil {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
		return nil, err
	}
	select {
	case r := <-ch:
		return r.res, r.err
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
		return nil, &Error{Kind: "timeout", Err: ctx.Err()}
	}
}

func (s *legacy) Close() { s.body.Close() }
