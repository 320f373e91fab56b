package mcp

// Streamable HTTP as 2026-07-28 binds it (basic/transports/streamable-http):
// no session, every request a POST that carries its own version in both the
// MCP-Protocol-Version header and params._meta, standard headers mirrored
// from the body (Mcp-Method, Mcp-Name) and checked against it, a response
// that is JSON or an SSE stream scoped to the request, and closing that
// stream is cancellation. Long-lived notifications travel on the response
// of subscriptions/listen (listen.go).
//
// Which era a POST belongs to is decided before anything is read twice
// (modernRequest): an MCP-Protocol-Version header naming a modern revision
// is modern; so is a request whose _meta names a protocol version.
// Everything else keeps the legacy path, unchanged.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
)

// Standard request headers (2026-07-28 basic/transports/streamable-http,
// "Standard Request Headers"); net/http canonicalizes names, so lookups are
// case-insensitive as RFC 9110 section 5.1 asks.
const (
	headerMcpMethod = "Mcp-Method"
	headerMcpName   = "Mcp-Name"
	headerMcpParam  = "Mcp-Param-"
)

// modernRequest reports whether a POST that is not a batch is in the modern
// era (2026-07-28 basic/versioning, "Backward Compatibility": "A request
// carrying modern per-request _meta is served statelessly"): its
// MCP-Protocol-Version header names a modern revision, or its _meta names a
// protocol version. The params are read only when the header leaves the
// question open (absent without a session, or a version nobody serves), so
// a legacy session's request is never read twice; p is filled when they
// were.
func modernRequest(r *http.Request, m *message, p *requestParams, parsed *bool) bool {
	v := headerValue(r.Header, headerProtocolVersion)
	switch {
	case modernVersion(v):
		return true
	case legacyVersion(v), m.Method == "initialize":
		return false
	case v == "" && headerValue(r.Header, headerSessionID) != "":
		return false // 2024-11-05 and 2025-03-26 sessions send no version header
	}
	*p, *parsed = readParams(m.Params), true
	return p.x != nil && p.x.metaVersion != nil
}

// modernStatus is the HTTP status of a modern error response
// (basic/transports/streamable-http, "Protocol Version Header" and "Server
// Validation"): 404 for an unknown method, 400 for the revision's own
// errors, 200 for errors a method answers as part of its result.
func modernStatus(err *JSONRPCError) int {
	switch err.Code {
	case CodeMethodNotFound:
		return http.StatusNotFound
	case CodeHeaderMismatch, CodeMissingRequiredClientCapability, CodeUnsupportedProtocolVersion,
		CodeParseError, CodeInvalidRequest:
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// modernCall is what one modern request holds while it is served, in one
// allocation: a stateless request has no session to keep it in, and
// allocating its parts one by one cost a legacy call's allocations again.
type modernCall struct {
	m  message
	rs requestState
	x  modernExchange
	p  requestParams
	px modernParams // p.x, when the params were read for this call; holds the RequestMeta
}

// postModernBody serves a POST whose MCP-Protocol-Version header, version,
// names a modern revision and whose body is not a batch: the body is
// validated, decoded, and its params and _meta read in one walk
// (readMessage). Bad JSON-RPC is 400, with the request's id when it has
// one (2026-07-28 basic/index, "Error Responses").
func (h *streamableHandler) postModernBody(w http.ResponseWriter, r *http.Request, version string, body []byte) {
	c := new(modernCall)
	c.p.x = &c.px
	m, rpcErr := readMessage(body, &c.m, &c.p)
	if rpcErr != nil {
		var id json.RawMessage
		if m != nil && m.ID != nil && m.isRequest() {
			id = m.ID
		}
		writeError(w, http.StatusBadRequest, id, rpcErr)
		return
	}
	h.postModern(w, r, version, m, c)
}

// postModern serves one modern POST; version is its MCP-Protocol-Version
// header, as read to choose the era.
func (h *streamableHandler) postModern(w http.ResponseWriter, r *http.Request, version string, m *message, c *modernCall) {
	p := &c.p
	if !m.isRequest() {
		if m.isNotification() {
			// 2026-07-28 defines no client notification over HTTP
			// (cancellation is closing the stream); accept and ignore.
			w.WriteHeader(http.StatusAccepted)
			return
		}
		writeError(w, http.StatusBadRequest, nil, NewInvalidRequest("invalid request: a 2026-07-28 client sends no responses: the server sends it no requests"))
		return
	}
	meta, rpcErr := readRequestMeta(p)
	if rpcErr == nil {
		rpcErr = checkModernHeaders(r, version, m, p, meta)
	}
	if rpcErr == nil && !modernVersion(meta.ProtocolVersion) {
		rpcErr = newUnsupportedProtocolVersion(meta.ProtocolVersion)
	}
	if rpcErr != nil {
		h.refuseModern(r.Context(), w, m, p, rpcErr)
		return
	}
	method := string(m.Method)
	info := clientMethods[method]
	if method == "subscriptions/listen" {
		h.listen(w, r, m, p, meta)
		return
	}
	x := &c.x
	x.w, x.r, x.opts = w, r, &h.opts
	// rs.key stays empty: it names a request in a session's in-flight
	// table, and a modern request is in none.
	rs := &c.rs
	rs.meta, rs.id, rs.out, rs.progressToken = meta, m.ID, x, p.progressToken
	if h.opts.SessionOwner != nil {
		rs.owner = h.opts.SessionOwner(r)
	}
	// Closing the response stream cancels the request
	// (basic/transports/streamable-http, "Cancellation"), so the request's
	// context is the HTTP request's own, and no context of its own is
	// needed: nothing else cancels a modern request (it is in no in-flight
	// table, and the era has no notifications/cancelled), and net/http
	// cancels the HTTP request's context when this handler returns.
	rs.Context, rs.cancel = r.Context(), noCancel
	if method == "tools/call" && len(p.name) > 2 {
		// "Custom Headers from Tool Parameters": the called tool's
		// Mcp-Param-* headers, checked against its schema as the caller
		// sees it (the request's own context, as CallTool gets).
		if rpcErr = h.s.checkParamHeaders(rs, r, p); rpcErr != nil {
			h.refuseModern(rs, w, m, p, rpcErr)
			return
		}
	}
	result, err := h.s.dispatch(rs, info, method, m.Params, p)
	if h.s.opts.Observe != nil {
		h.s.observeModern(rs, m, p, err)
	}
	if err != nil {
		x.finish(modernStatus(err), encodeResponse(m.ID, nil, err))
		return
	}
	buf := responseBuffers.Get().(*[]byte)
	resp := h.s.appendModernResult(*buf, m.ID, result, info)
	x.finish(http.StatusOK, resp)
	if cap(resp) <= maxPooledResponse {
		*buf = resp[:0]
		responseBuffers.Put(buf)
	}
}

// responseBuffers hold the buffers modern answers are encoded in. Once
// written, an answer's buffer is free again: a ResponseWriter copies what
// it is given (io.Writer: Write must not retain p), and so does an SSE
// stream's queue. A stateless request has no session to keep a buffer in,
// and a fresh one per answer was a modern call's largest allocation after
// its own state.
var responseBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledResponse bounds the buffers kept for reuse: a large tool result
// is encoded into a buffer of its own size, which is left to the garbage
// collector rather than held by the pool.
const maxPooledResponse = 16 << 10

// refuseModern answers a modern request that failed its checks before its
// method ran: malformed _meta is -32602 with 400 (basic/index), and the
// header and version errors are 400 by their own rules.
func (h *streamableHandler) refuseModern(ctx context.Context, w http.ResponseWriter, m *message, p *requestParams, rpcErr *JSONRPCError) {
	if h.s.opts.Observe != nil {
		h.s.observeModern(ctx, m, p, rpcErr)
	}
	writeError(w, http.StatusBadRequest, m.ID, rpcErr)
}

// noCancel is the cancel function of a request whose context is the HTTP
// request's own.
func noCancel() {}

// checkModernHeaders applies "Server Validation": MCP-Protocol-Version and
// Mcp-Method are required on every request, Mcp-Name on tools/call,
// resources/read and prompts/get, and each must equal the body's value
// (Mcp-Name after decoding the Base64 sentinel form). Header values
// arrive with surrounding whitespace already trimmed (RFC 9110 section
// 5.5: it is not part of the value). v is the MCP-Protocol-Version header.
func checkModernHeaders(r *http.Request, v string, m *message, p *requestParams, meta *RequestMeta) *JSONRPCError {
	switch {
	case v == "":
		return NewHeaderMismatch("Header mismatch: the MCP-Protocol-Version header is required")
	case v != meta.ProtocolVersion:
		return NewHeaderMismatch("Header mismatch: MCP-Protocol-Version header value %q does not match body value %q", truncate(v, 64), truncate(meta.ProtocolVersion, 64))
	}
	method := headerValue(r.Header, headerMcpMethod)
	switch {
	case method == "":
		return NewHeaderMismatch("Header mismatch: the Mcp-Method header is required")
	case method != string(m.Method):
		return NewHeaderMismatch("Header mismatch: Mcp-Method header value %q does not match body value %q", truncate(method, 64), truncate(string(m.Method), 64))
	}
	var body []byte
	switch m.Method {
	case "tools/call", "prompts/get":
		body = p.name
	case "resources/read":
		if p.x != nil {
			body = p.x.uri
		}
	case "tasks/get", "tasks/update", "tasks/cancel":
		// The tasks extension routes by task (tasks.md, "Streamable
		// HTTP: Routing Headers").
		if p.x != nil {
			body = p.x.taskID
		}
	default:
		return nil
	}
	raw, present := r.Header[headerMcpName]
	if !present || len(raw) == 0 {
		return NewHeaderMismatch("Header mismatch: the Mcp-Name header is required for %s", m.Method)
	}
	name, ok := decodeHeaderValue(strings.TrimSpace(raw[0]))
	if !ok {
		return NewHeaderMismatch("Header mismatch: Mcp-Name header value is malformed (invalid characters or Base64)")
	}
	if body == nil || !unquotedEquals(body, name) {
		return NewHeaderMismatch("Header mismatch: Mcp-Name header value %q does not match body value %q", truncate(name, 64), truncate(string(body), 64))
	}
	return nil
}

// decodeHeaderValue returns the value an Mcp-Name or Mcp-Param-* header
// carries ("Value Encoding"): visible ASCII, space and tab as they are, or
// UTF-8 in the sentinel form =?base64?...?= (standard alphabet, padded).
// It reports false for characters RFC 9110 forbids in a field value or for
// a sentinel whose content is not Base64.
func decodeHeaderValue(v string) (string, bool) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c > 0x7e {
			return "", false
		}
	}
	inner, ok := strings.CutPrefix(v, "=?base64?")
	if !ok {
		return v, true
	}
	inner, ok = strings.CutSuffix(inner, "?=")
	if !ok {
		return v, true // no suffix: a literal, not the sentinel
	}
	b, err := base64.StdEncoding.Strict().DecodeString(inner)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// modernExchange is the response to one modern request: JSON, or an SSE
// stream from the first related notification (progress, a log message) on,
// ending with the response. There is no event id and no replay: 2026-07-28
// removed resumability ("A broken response stream loses the in-flight
// request").
type modernExchange struct {
	w    http.ResponseWriter
	r    *http.Request
	opts *HTTPOptions

	mu   sync.Mutex
	sw   *sseWriter
	done bool
}

// send carries a notification related to the request.
func (x *modernExchange) send(msg []byte) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done {
		return errStreamGone // the request is over; nothing outlives it
	}
	if x.sw == nil {
		x.sw = newSSEWriter(x.w, x.opts)
		if err := x.sw.start(x.r); err != nil {
			return err
		}
	}
	return x.sw.event("", "", msg, 0)
}

// finish writes the response: as JSON with status when nothing was
// streamed, else as the stream's last event (the status is then already
// 200: an error travels in the JSON-RPC body).
func (x *modernExchange) finish(status int, resp []byte) {
	x.mu.Lock()
	x.done = true
	sw := x.sw
	x.mu.Unlock()
	if sw == nil {
		x.w.Header()["Content-Type"] = jsonHeaderValue
		if status != http.StatusOK { // Write sends 200 itself, as writeJSON relies on
			x.w.WriteHeader(status)
		}
		_, _ = x.w.Write(resp)
		return
	}
	_ = sw.event("", "", resp, 0)
	sw.kill()
}
