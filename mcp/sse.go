package mcp

// The HTTP+SSE transport of protocol version 2024-11-05 (2024-11-05
// basic/transports, "HTTP with SSE"), kept for clients that predate
// Streamable HTTP. GET opens the session's one SSE stream, whose first
// event, "endpoint", names the URL for POSTing messages; every server
// message, responses included, travels on that stream as an event named
// "message". The session lives exactly as long as the stream.
//
// Deprecated since 2025-03-26 and classified Deprecated by 2026-07-28
// (SEP-2596): still served, legacy era only; a request here never enters
// the modern era.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

type sseHandler struct {
	s      *Server
	opts   HTTPOptions
	keeper *streamKeeper // hijacked streams (idle.go)
}

// SSEHandler returns the HTTP+SSE transport for s. Mount it at both "/sse"
// (GET opens the stream) and "/sse/message" (POST, ?sessionId=...): the
// endpoint event is derived from the GET's path, so another mount point
// works as long as the message path is the stream path plus "/message".
func (s *Server) SSEHandler(opts HTTPOptions) http.Handler {
	return &sseHandler{s: s, opts: opts, keeper: s.newKeeper(&opts)}
}

func (h *sseHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !checkOrigin(w, r, h.opts.AllowedOrigins) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		h.open(w, r)
	case http.MethodPost:
		h.message(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, nil, NewInvalidRequest("method %s is not allowed; use GET or POST", r.Method))
	}
}

func (h *sseHandler) open(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, "text/event-stream") && r.Header.Get("Accept") != "" {
		writeError(w, http.StatusNotAcceptable, nil, NewInvalidRequest("not acceptable: the SSE stream requires Accept: text/event-stream"))
		return
	}
	if !h.s.addWorker() {
		writeError(w, http.StatusServiceUnavailable, nil, NewInternalError("server is shutting down"))
		return
	}
	sess := h.s.sessionFor(r, &h.opts, true)
	limit := h.opts.maxSessions()
	if h.sharesSSE(sess) {
		limit = h.opts.localMaxSessions() // the owner index bounds them (shared_owners.go)
	}
	if err := h.s.addSession(sess, limit); err != nil {
		sess.close()
		h.s.wg.Done()
		writeError(w, http.StatusServiceUnavailable, nil, NewInternalError("server is shutting down"))
		return
	}
	h.shareSSE(r.Context(), sess)
	sw := newSSEWriter(w, &h.opts)
	sess.streamOpened()
	release := func() {
		sess.standalone.detachIf(sw)
		sess.streamClosed()
		sess.forget() // a closed legacy stream ends its session, everywhere
		h.s.wg.Done()
	}
	// As for Streamable HTTP's GET, the stream is hijacked over HTTP/1.x
	// (idle.go) and this handler returns once the endpoint is announced.
	sw.handOff(h.keeper, release)
	// Attach before announcing the endpoint: a client may POST the moment
	// it reads the endpoint, and the answer needs the stream in place.
	err := sess.standalone.attach(r, sw, 0, false, false)
	if err == nil {
		endpoint := strings.TrimSuffix(r.URL.Path, "/") + "/message?sessionId=" + sess.id
		err = sw.event("endpoint", "", []byte(endpoint), 0)
	}
	if sw.isHijacked() {
		sw.killIfEnded(sess)
		return
	}
	defer release()
	if err != nil {
		sw.stop()
		return
	}
	sw.holdOpen(r.Context(), sess)
}

// message takes one POSTed message: 202 at once, the response later on the
// stream.
func (h *sseHandler) message(w http.ResponseWriter, r *http.Request) {
	sid := queryValue(r.URL.RawQuery, "sessionId")
	if sid == "" {
		writeError(w, http.StatusBadRequest, nil, NewInvalidRequest("bad request: missing sessionId query parameter"))
		return
	}
	sess := h.s.session(sid)
	if sess == nil && h.forward(w, r, sid) {
		return // held by another process (shared.go)
	}
	if sess == nil || !sess.legacy {
		writeError(w, http.StatusNotFound, nil, NewInvalidRequest("session not found: its stream closed or it never existed; open a new one with GET"))
		return
	}
	if !ownerMatches(sess, h.opts.owner(r)) {
		writeError(w, http.StatusForbidden, nil, NewInvalidRequest("forbidden: the session belongs to another principal"))
		return
	}
	body, ok := readBody(w, r, h.opts.maxBody())
	if !ok {
		return
	}
	d, m, rpcErr := decodeBody(body)
	if rpcErr != nil {
		var id []byte
		if m != nil {
			id = m.ID
		}
		writeError(w, http.StatusBadRequest, id, rpcErr)
		return
	}
	if d.batch {
		// Refused here, while the answer can still be a 400.
		if err := batchRefused(sess); err != nil {
			writeError(w, http.StatusBadRequest, nil, err)
			return
		}
	}
	base := context.WithoutCancel(r.Context())
	if !d.batch && !m.isRequest() {
		// Notifications and responses produce no answer: handled here,
		// as Streamable HTTP does, they cost no goroutine and no slot,
		// so a cancellation or the answer to a server's request always
		// gets through to a session at its bound.
		h.s.handleMessage(base, sess, m, sess.standalone)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	// Every answer waits on the session's stream, so a client that stops
	// reading it would otherwise make the server hold them all.
	if !admit(w, sess, &h.opts, m, sess.standalone) {
		return
	}
	if !h.s.addWorker() {
		sess.leave()
		writeError(w, http.StatusServiceUnavailable, nil, NewInternalError("server is shutting down"))
		return
	}
	w.WriteHeader(http.StatusAccepted)
	go func() {
		defer h.s.wg.Done()
		defer sess.leave()
		var resp []byte
		if d.batch {
			resp, _ = h.s.handleBatch(base, sess, d)
		} else {
			resp = h.s.handleMessage(base, sess, m, sess.standalone)
		}
		if resp != nil {
			if err := sess.standalone.reply(resp); err != nil {
				h.s.logger.Debug("mcp: response not delivered", "session", sess.id, "err", err)
			}
		}
	}()
}

// queryValue returns the first value of key in a raw query, without
// building the url.Values map that r.URL.Query would.
func queryValue(rawQuery, key string) string {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k != key {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			if u, err := url.QueryUnescape(v); err == nil {
				return u
			}
		}
		return v
	}
	return ""
}
