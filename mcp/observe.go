package mcp

// What an operator's metrics and request log see of the method layer: one
// RequestInfo per answered request (ServerOptions.Observe), and the live
// sessions, streams and listeners (Server.Stats). Neither carries a
// request's arguments or results.

import (
	"bytes"
	"context"

	"remote-mcp-authkit/internal/jsonscan"
)

// RequestInfo describes one request the server answered, for
// ServerOptions.Observe.
type RequestInfo struct {
	// Method is the JSON-RPC method as the client sent it (a caller that
	// labels metrics with it must bound it: see ErrorCode
	// CodeMethodNotFound).
	Method string
	// Era is the protocol era the request was served in: "legacy" or
	// "modern" (Era.String's words are the specification's; these are
	// label values).
	Era string
	// Tool is the tool named by a tools/call, as the client sent it.
	Tool string
	// ErrorCode is the JSON-RPC error code answered, 0 for a result.
	ErrorCode int
	// Cancelled is set when the client cancelled the request and no
	// response was sent.
	Cancelled bool
	// TraceParent is params._meta.traceparent of a 2026-07-28 request
	// (the W3C trace context, which that revision carries in _meta), as
	// the client sent it: unchecked.
	TraceParent string
}

// observeModern tells ServerOptions.Observe of one answered 2026-07-28
// request.
func (s *Server) observeModern(ctx context.Context, m *message, p *requestParams, rpcErr *JSONRPCError) {
	info := RequestInfo{Method: string(m.Method), Era: "modern"}
	if rpcErr != nil {
		info.ErrorCode = rpcErr.Code
	}
	if p != nil && p.x != nil && p.x.traceparent != nil {
		info.TraceParent = string(p.x.traceparent[1 : len(p.x.traceparent)-1])
	}
	if p != nil && len(p.name) >= 2 && info.Method == "tools/call" {
		info.Tool = observedTool(p)
	}
	s.opts.Observe(ctx, info)
}

// reportableTraceparent reports whether a params._meta.traceparent value
// is one RequestInfo.TraceParent carries: a string without escapes, at
// most 128 bytes quoted.
func reportableTraceparent(value []byte) bool {
	return jsonscan.KindOf(value) == jsonscan.String && len(value) >= 2 && len(value) <= 128 && !bytes.Contains(value, []byte(`\`))
}

// observedTool is the tool name a tools/call sent, as written between its
// quotes, or "" when it has escapes (no tool's name needs them); the copy
// toolName made for the call is reused when it is the same text.
func observedTool(p *requestParams) string {
	raw := p.name[1 : len(p.name)-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		return ""
	}
	if p.nameText != "" && string(raw) == p.nameText {
		return p.nameText
	}
	return string(raw)
}

// observe tells ServerOptions.Observe of one answered request.
func (s *Server) observe(ctx context.Context, m *message, p *requestParams, rpcErr *JSONRPCError, cancelled bool) {
	info := RequestInfo{Method: string(m.Method), Era: "legacy", Cancelled: cancelled}
	if rpcErr != nil {
		info.ErrorCode = rpcErr.Code
	}
	if p != nil && len(p.name) >= 2 && info.Method == "tools/call" {
		info.Tool = observedTool(p)
	}
	s.opts.Observe(ctx, info)
}

// Stats counts what the server holds open now.
type Stats struct {
	Sessions       int // live sessions, both transports
	LegacySessions int // of which HTTP+SSE (2024-11-05)
	Streams        int // open SSE connections (GET and POST streams, HTTP+SSE streams)
	// Listeners are sessions with their standalone stream open: the GET
	// stream of Streamable HTTP, or the stream of HTTP+SSE, on which the
	// server sends what no request asked for (list_changed, ...).
	Listeners int
}

// Stats returns what the server holds open now. It visits every session,
// so call it at a scrape, not per request.
func (s *Server) Stats() Stats {
	var st Stats
	for _, sess := range s.Sessions() {
		st.Sessions++
		if sess.legacy {
			st.LegacySessions++
		}
		sess.mu.Lock()
		st.Streams += sess.attached
		sess.mu.Unlock()
		if sa := sess.standalone; sa != nil {
			sa.mu.Lock()
			if sa.w != nil {
				st.Listeners++
			}
			sa.mu.Unlock()
		}
	}
	return st
}
