package mcp

// The Streamable HTTP transport (basic/transports, "Streamable HTTP",
// 2025-03-26 and later) at a single MCP endpoint: POST carries client
// messages, GET opens the session's standalone server-to-client stream,
// DELETE ends the session.
//
// A POSTed request is answered with application/json unless the handler
// sends something before its result (progress, a log message, a
// server-to-client request): at the first such message the response turns
// into an SSE stream (headers are not sent until then), carries the
// messages, then the response, and ends. So a plain tools/call costs one
// JSON write, and a streaming one needs no decision up front.

import (
	"context"
	"net/http"
	"sync"

	"remote-mcp-authkit/internal/jsonscan"
)

type streamableHandler struct {
	s       *Server
	opts    HTTPOptions
	keeper  *streamKeeper // hijacked GET streams (idle.go)
	adoptMu sync.Mutex    // one adoption of a shared session at a time (shared.go)
}

// StreamableHTTPHandler returns the Streamable HTTP transport for s, to be
// mounted at the MCP endpoint (/mcp).
func (s *Server) StreamableHTTPHandler(opts HTTPOptions) http.Handler {
	return &streamableHandler{s: s, opts: opts, keeper: s.newKeeper(&opts)}
}

const (
	headerSessionID       = "Mcp-Session-Id"
	headerProtocolVersion = "Mcp-Protocol-Version"
	headerLastEventID     = "Last-Event-Id"
)

func (h *streamableHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !checkOrigin(w, r, h.opts.AllowedOrigins) {
		return
	}
	switch r.Method {
	case http.MethodPost:
		h.post(w, r)
	case http.MethodGet:
		h.get(w, r)
	case http.MethodDelete:
		h.delete(w, r)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeError(w, http.StatusMethodNotAllowed, nil, NewInvalidRequest("method %s is not allowed; use POST, GET or DELETE", r.Method))
	}
}

// checkVersionHeader applies transports, "Protocol Version Header": an
// invalid or unsupported version is 400; an absent header means 2025-03-26.
// A supported version other than the negotiated one is accepted, as the
// spec asks 400 only for invalid or unsupported ones (and the official
// conformance suite sends 2025-03-26 on a 2025-11-25 session); the session
// keeps its negotiated behaviour.
func checkVersionHeader(w http.ResponseWriter, r *http.Request) bool {
	v := headerValue(r.Header, headerProtocolVersion)
	if v == "" {
		return true
	}
	if !supportedVersion(v) {
		writeError(w, http.StatusBadRequest, nil, NewInvalidRequest("bad request: unsupported MCP-Protocol-Version %q", truncate(v, maxEchoedName)))
		return false
	}
	return true
}

// lookup finds the session a request names and checks its owner: 400
// without an id, 404 for an unknown or ended one (the client then starts a
// new session), 403 for another owner's session.
func (h *streamableHandler) lookup(w http.ResponseWriter, r *http.Request) *Session {
	sid := headerValue(r.Header, headerSessionID)
	if sid == "" {
		writeError(w, http.StatusBadRequest, nil, NewInvalidRequest("bad request: missing Mcp-Session-Id header; only initialize may be sent without one"))
		return nil
	}
	sess := h.s.session(sid)
	if sess == nil {
		sess = h.adopt(r.Context(), sid) // opened by another process?
	}
	if sess == nil || sess.legacy || sess.listen != nil {
		writeError(w, http.StatusNotFound, nil, NewInvalidRequest("session not found: it ended or never existed; send initialize to start a new one"))
		return nil
	}
	if !ownerMatches(sess, h.opts.owner(r)) {
		writeError(w, http.StatusForbidden, nil, NewInvalidRequest("forbidden: the session belongs to another principal"))
		return nil
	}
	if !checkVersionHeader(w, r) {
		return nil
	}
	h.keepShared(r.Context(), sess)
	return sess
}

func (h *streamableHandler) post(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, "application/json") || !accepts(r, "text/event-stream") {
		writeError(w, http.StatusNotAcceptable, nil, NewInvalidRequest("not acceptable: a POST must accept both application/json and text/event-stream"))
		return
	}
	body, ok := readBody(w, r, h.opts.maxBody())
	if !ok {
		return
	}
	version := headerValue(r.Header, headerProtocolVersion)
	if modernVersion(version) && jsonscan.KindOf(trimLeadingSpace(body)) != jsonscan.Array {
		// A modern request (modernRequest's first case), read in one walk
		// into the one allocation that serves it.
		h.postModernBody(w, r, version, body)
		return
	}
	d, m, rpcErr := decodeBody(body)
	if rpcErr != nil && (m == nil || m.ID == nil || !m.isRequest()) {
		writeError(w, http.StatusBadRequest, nil, rpcErr)
		return
	}
	if rpcErr != nil && !d.batch && modernVersion(version) {
		// A modern request that is not valid JSON-RPC: 400, with its id
		// (2026-07-28 basic/index, "Error Responses").
		writeError(w, http.StatusBadRequest, m.ID, rpcErr)
		return
	}
	var p requestParams
	parsed := false
	if !d.batch && rpcErr == nil && modernRequest(r, m, &p, &parsed) {
		c := new(modernCall)
		if parsed {
			c.p = p
		} else {
			c.p.x = &c.px
			c.p.read(m.Params)
		}
		h.postModern(w, r, version, m, c)
		return
	}
	if headerValue(r.Header, headerSessionID) == "" && !d.batch && rpcErr == nil && m.Method == "initialize" && m.isRequest() {
		h.initialize(w, r, m)
		return
	}
	sess := h.lookup(w, r)
	if sess == nil {
		return
	}
	if rpcErr != nil { // invalid, but with an id we can answer
		writeError(w, http.StatusBadRequest, m.ID, rpcErr)
		return
	}
	base := context.WithoutCancel(r.Context())
	if d.batch {
		if !admit(w, sess, &h.opts, nil, nil) {
			return
		}
		defer sess.leave()
		resp, err := h.s.handleBatch(base, sess, d)
		switch {
		case err != nil:
			writeError(w, http.StatusBadRequest, nil, err)
		case resp == nil:
			w.WriteHeader(http.StatusAccepted)
		default:
			writeJSON(w, resp)
		}
		return
	}
	if !m.isRequest() {
		// Notifications and responses: 202, no body (transports, "Sending
		// Messages to the Server" 4).
		h.s.handleMessage(base, sess, m, nil)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	if !admit(w, sess, &h.opts, m, nil) {
		return
	}
	x := &postExchange{h: h, sess: sess, w: w, r: r}
	if !x.startAsync() {
		defer sess.leave()
		x.finish(h.s.handleRequest(base, sess, m, x))
		return
	}
	// On a session that may poll (polling.go) the request runs in its own
	// goroutine, so that CloseSSEStream can end this response while the
	// request goes on. Until released (by the response written, or by
	// CloseSSEStream) this handler waits; after that nothing touches w.
	go func() {
		defer sess.leave()
		x.run(base, m)
	}()
	x.release.Wait()
}

// initialize starts a session: the response to an initialize request
// without Mcp-Session-Id carries the new session's id.
func (h *streamableHandler) initialize(w http.ResponseWriter, r *http.Request, m *message) {
	if !checkVersionHeader(w, r) {
		return
	}
	sess := h.s.sessionFor(r, &h.opts, false)
	resp := h.s.handleRequest(context.WithoutCancel(r.Context()), sess, m, nil)
	if !sess.initialized() {
		sess.close() // a failed initialize leaves no session behind
		writeJSON(w, resp)
		return
	}
	if err := h.s.addSession(sess, h.opts.localMaxSessions()); err != nil {
		sess.close()
		writeError(w, http.StatusServiceUnavailable, m.ID, NewInternalError("server is shutting down"))
		return
	}
	h.share(r.Context(), sess)
	w.Header().Set(headerSessionID, sess.id)
	writeJSON(w, resp)
}

// get opens the standalone stream, or resumes a stream named by
// Last-Event-ID (transports, "Listening for Messages from the Server" and
// "Resumability and Redelivery"). One connection per stream: a second
// concurrent GET gets 409, so no message is sent on two streams.
func (h *streamableHandler) get(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, "text/event-stream") {
		writeError(w, http.StatusNotAcceptable, nil, NewInvalidRequest("not acceptable: a GET must accept text/event-stream"))
		return
	}
	sess := h.lookup(w, r)
	if sess == nil {
		return
	}
	st, after, resume := sess.standalone, uint64(0), false
	if last := r.Header.Get(headerLastEventID); last != "" {
		if rs, seq, ok := sess.streamByEventID(last); ok {
			st, after, resume = rs, seq, true
		}
	}
	if !h.s.addWorker() {
		writeError(w, http.StatusServiceUnavailable, nil, NewInternalError("server is shutting down"))
		return
	}
	sw := newSSEWriter(w, &h.opts)
	sess.streamOpened()
	release := func() {
		st.detachIf(sw)
		sess.streamClosed()
		h.s.wg.Done()
	}
	// An idle stream should cost no goroutine: over HTTP/1.x attach hijacks
	// the connection (idle.go) and this handler returns at once, leaving
	// release to run when the connection ends.
	sw.handOff(h.keeper, release)
	err := st.attach(r, sw, after, resume, !resume && sess.primed())
	if err == nil {
		err = sw.flush()
	}
	if sw.isHijacked() {
		sw.killIfEnded(sess)
		return
	}
	defer release()
	if err != nil {
		sw.stop()
		if err == errStreamBusy {
			h := w.Header()
			delete(h, "Cache-Control")
			delete(h, "X-Accel-Buffering")
			writeError(w, http.StatusConflict, nil, NewInvalidRequest("conflict: this stream already has an open connection"))
		}
		return
	}
	sw.holdOpen(r.Context(), sess)
}

// delete ends a session on the client's request (transports, "Session
// Management" 5).
func (h *streamableHandler) delete(w http.ResponseWriter, r *http.Request) {
	sess := h.lookup(w, r)
	if sess == nil {
		return
	}
	sess.forgetEverywhere(r.Context())
	w.WriteHeader(http.StatusNoContent)
}

// postExchange is the response to one POSTed request: JSON until the
// handler sends a message before its result, SSE from then on.
type postExchange struct {
	h    *streamableHandler
	sess *Session
	w    http.ResponseWriter
	r    *http.Request

	mu   sync.Mutex
	st   *stream
	sw   *sseWriter
	done bool

	// Polling (polling.go): async when the request runs apart from the
	// HTTP handler, which waits on release; detached once CloseSSEStream
	// ended the response, after which w is never touched again.
	async    bool
	detached bool
	release  sync.WaitGroup

	httpErr *HTTPError // the request's answer needs this status (httperror.go)
}

// failHTTP records that the request's JSON-RPC error is to be sent with
// an HTTP status and headers of its own; finish uses it if the response is
// still plain JSON then.
func (x *postExchange) failHTTP(e *HTTPError) {
	x.mu.Lock()
	x.httpErr = e
	x.mu.Unlock()
}

// send carries a message related to the request. After the response has
// been written the request's stream is over, and a straggling message
// (from a goroutine the handler left behind) goes to the session's stream.
func (x *postExchange) send(msg []byte) error {
	x.mu.Lock()
	if x.done {
		x.mu.Unlock()
		return x.sess.standalone.send(msg)
	}
	if x.st == nil {
		x.openStreamLocked()
	}
	w, err := x.st.queue(msg, false)
	x.mu.Unlock()
	_ = w.flush() // with no lock held: the client may be slow to read
	return err
}

// openStreamLocked turns the response into the request's SSE stream. The
// head (and priming event) are queued on x.sw, for the caller to flush.
func (x *postExchange) openStreamLocked() {
	x.st = x.sess.newStream(true)
	x.sw = newSSEWriter(x.w, &x.h.opts)
	x.sess.streamOpened()
	if err := x.st.attach(x.r, x.sw, 0, false, x.sess.primed()); err != nil {
		// The client is gone; the stream still records what follows
		// for a GET with Last-Event-ID.
		x.h.s.logger.Debug("mcp: POST stream lost", "session", x.sess.id, "err", err)
	}
}

// finish writes the response: as JSON when nothing was streamed, else as
// the stream's last event. A cancelled request (resp nil) gets no response
// (cancellation); its HTTP exchange ends as an empty event stream.
func (x *postExchange) finish(resp []byte) {
	x.mu.Lock()
	x.done = true
	st, sw, detached, he := x.st, x.sw, x.detached, x.httpErr
	x.mu.Unlock()
	if detached {
		// The handler has returned: the response goes to the stream, for
		// the connection that resumed it or the next one to.
		st.finish(resp)
		return
	}
	if x.async {
		defer x.release.Done()
	}
	if st == nil {
		if resp == nil {
			h := x.w.Header()
			h["Content-Type"] = sseHeaderValue
			h["Cache-Control"] = noCacheValue
			x.w.WriteHeader(http.StatusOK)
			return
		}
		if he != nil {
			h := x.w.Header()
			for k, v := range he.Header {
				h[k] = v
			}
			h["Content-Type"] = jsonHeaderValue
			x.w.WriteHeader(he.Status)
			_, _ = x.w.Write(resp)
			return
		}
		writeJSON(x.w, resp)
		return
	}
	st.finish(resp)
	sw.shut() // the ResponseWriter must not be touched after we return
	x.sess.streamClosed()
}
