package mcp

// subscriptions/listen (2026-07-28 basic/patterns/subscriptions): one
// long-lived POST response per listener carrying the change notifications
// the client opted in to, the first of them
// notifications/subscriptions/acknowledged, each tagged in _meta with the
// listen request's id.
//
// A listener is kept as a Session that no request can name: it has an
// owner and a credential, so it counts against HTTPOptions.
// MaxSessionsPerOwner and is reached by CloseSessions,
// CloseSessionsByCredential and the NotifyToolListChanged methods exactly
// as a legacy session's GET stream is; its one stream is not resumable
// (2026-07-28 has no Last-Event-ID) and, over HTTP/1.x, is hijacked like
// an idle GET stream (idle.go), so an idle listener costs what an idle GET
// stream does. When its connection ends, so does the listener.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"remote-mcp-authkit/internal/jsonscan"
)

// subscriptionFilter is SubscriptionFilter (schema.ts): the notification
// types a listener opted in to.
type subscriptionFilter struct {
	ToolsListChanged      bool     `json:"toolsListChanged,omitempty"`
	PromptsListChanged    bool     `json:"promptsListChanged,omitempty"`
	ResourcesListChanged  bool     `json:"resourcesListChanged,omitempty"`
	ResourceSubscriptions []string `json:"resourceSubscriptions,omitempty"`
}

// maxResourceSubscriptions bounds one listener's resourceSubscriptions.
const maxResourceSubscriptions = 256

// listener is what makes a Session a subscriptions/listen stream.
type listener struct {
	id     json.RawMessage // the listen request's id: the subscriptionId
	filter subscriptionFilter
}

// readListenParams reads params.notifications, which the schema requires.
func readListenParams(params json.RawMessage) (subscriptionFilter, error) {
	var p struct {
		Notifications *subscriptionFilter `json:"notifications"`
	}
	if err := DecodeParams(params, &p); err != nil {
		return subscriptionFilter{}, err
	}
	if p.Notifications == nil {
		return subscriptionFilter{}, NewInvalidParams("invalid params: params.notifications is required (SubscriptionFilter)")
	}
	if len(p.Notifications.ResourceSubscriptions) > maxResourceSubscriptions {
		return subscriptionFilter{}, NewInvalidParams("invalid params: params.notifications.resourceSubscriptions lists more than %d URIs", maxResourceSubscriptions)
	}
	return *p.Notifications, nil
}

// honored is the subset of f the server agrees to ("Acknowledgment": types
// the server does not support are omitted).
func (s *Server) honored(f subscriptionFilter) subscriptionFilter {
	var out subscriptionFilter
	out.ToolsListChanged = f.ToolsListChanged && s.serves("tools")
	out.PromptsListChanged = f.PromptsListChanged && s.serves("prompts")
	out.ResourcesListChanged = f.ResourcesListChanged && s.serves("resources")
	if s.serves("resources") {
		out.ResourceSubscriptions = f.ResourceSubscriptions
	}
	return out
}

// listen serves subscriptions/listen: it opens the listener, acknowledges
// it, and leaves the stream open until the client closes it or the server
// ends the listener (revocation, the owner's session limit, Shutdown).
func (h *streamableHandler) listen(w http.ResponseWriter, r *http.Request, m *message, _ *requestParams, meta *RequestMeta) {
	filter, err := readListenParams(m.Params)
	if err != nil {
		rpcErr, ok := errors.AsType[*JSONRPCError](err)
		if !ok {
			rpcErr = NewInvalidParams("invalid params: %v", err)
		}
		writeError(w, http.StatusBadRequest, m.ID, rpcErr)
		return
	}
	filter = h.s.honored(filter)
	sess := h.s.newSession(newSessionID(), h.opts.owner(r), false, h.opts.idleTimeout())
	sess.cred = h.opts.credential(r)
	// The id is copied: a slice of the request body would keep the whole
	// body alive as long as the listener.
	sess.becomeListener(&listener{id: bytes.Clone(m.ID), filter: filter})
	if err := h.s.addSession(sess, h.opts.maxSessions()); err != nil {
		sess.close()
		writeError(w, http.StatusServiceUnavailable, m.ID, NewInternalError("server is shutting down"))
		return
	}
	if !h.s.addWorker() {
		sess.close()
		writeError(w, http.StatusServiceUnavailable, m.ID, NewInternalError("server is shutting down"))
		return
	}
	st := sess.standalone
	sw := newSSEWriter(w, &h.opts)
	sess.streamOpened()
	release := func() {
		st.detachIf(sw)
		sess.streamClosed()
		sess.close() // a listener lives as long as its stream
		h.s.wg.Done()
	}
	sw.handOff(h.keeper, release)
	err = st.attach(r, sw, 0, false, false)
	if err == nil {
		ack, _ := json.Marshal(&wireRequest{JSONRPC: "2.0", Method: "notifications/subscriptions/acknowledged",
			Params: &ackParams{Meta: subscriptionMeta{ID: m.ID}, Notifications: filter}})
		// The acknowledgment is the first message ("Acknowledgment"): the
		// listener becomes visible to change notifications (a version)
		// while the stream's lock holds them back until it is sent.
		st.mu.Lock()
		sess.mu.Lock()
		sess.version, sess.ready = meta.ProtocolVersion, true
		sess.mu.Unlock()
		var w *sseWriter
		w, err = st.sendLocked(ack, true)
		st.mu.Unlock()
		if err == nil {
			err = w.flush() // once no lock is held (stream.go)
		}
	}
	if sw.isHijacked() {
		if err != nil {
			sw.kill()
		}
		sw.killIfEnded(sess)
		return
	}
	defer release()
	if err != nil {
		sw.kill()
		return
	}
	sw.holdOpen(r.Context(), sess)
}

type subscriptionMeta struct {
	ID json.RawMessage `json:"io.modelcontextprotocol/subscriptionId"`
}

type ackParams struct {
	Meta          subscriptionMeta   `json:"_meta"`
	Notifications subscriptionFilter `json:"notifications"`
}

// encode returns a change notification as this listener sends it, tagged
// with its subscriptionId, or nil when the listener did not opt in to it
// ("The server MUST NOT send notification types the client has not
// explicitly requested"). Request-scoped notifications never travel here.
func (l *listener) encode(method string, params any) ([]byte, error) {
	switch method {
	case "notifications/tools/list_changed":
		if !l.filter.ToolsListChanged {
			return nil, nil
		}
	case "notifications/prompts/list_changed":
		if !l.filter.PromptsListChanged {
			return nil, nil
		}
	case "notifications/resources/list_changed":
		if !l.filter.ResourcesListChanged {
			return nil, nil
		}
	case "notifications/resources/updated":
		u, ok := params.(resourceUpdatedParams)
		if !ok || !slices.Contains(l.filter.ResourceSubscriptions, u.URI) {
			return nil, nil
		}
	default:
		return nil, nil
	}
	tag, _ := json.Marshal(subscriptionMeta{ID: l.id})
	var body []byte
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return nil, err
		}
		body = b
	}
	p := []byte(`{"_meta":`)
	p = append(p, tag...)
	if inner := trimLeadingSpace(body); jsonscan.KindOf(inner) == jsonscan.Object && len(inner) > 2 {
		p = append(p, ',')
		p = append(p, inner[1:]...)
	} else {
		p = append(p, '}')
	}
	return json.Marshal(&wireRequest{JSONRPC: "2.0", Method: method, Params: json.RawMessage(p)})
}

// notifyListeners sends a change notification to every listener that opted
// in to it, for what concerns all clients (resources and prompts).
func (s *Server) notifyListeners(method string, params any) {
	for _, sess := range s.Sessions() {
		if sess.listen != nil && sess.ProtocolVersion() != "" {
			_ = sess.Notify(context.Background(), method, params)
		}
	}
}

// becomeListener turns a fresh session into a listener: its standalone
// stream keeps no replay log, since 2026-07-28 streams are not resumable.
func (s *Session) becomeListener(l *listener) {
	s.mu.Lock()
	s.listen = l
	delete(s.streams, s.standalone.id)
	s.standalone.resumable = false
	s.mu.Unlock()
}

// closing is the response to the listen request that ends the
// subscription gracefully: SubscriptionsListenResult, whose _meta names the
// subscription beside the server.
func (l *listener) closing(s *Server) []byte {
	return s.encodeModernResponse(l.id, &struct {
		Meta subscriptionMeta `json:"_meta"`
	}{subscriptionMeta{ID: l.id}}, nil, nil)
}
