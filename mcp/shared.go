package mcp

// Streamable HTTP sessions shared between processes (HTTPOptions.Sessions):
// several servers behind one load balancer, no stickiness. The process that
// answers initialize records what the session negotiated; a process that
// gets a request naming a session it does not hold loads that record and
// adopts the session, so the request is served rather than answered 404.
//
// What is shared is what initialize decided (owner, credential, protocol
// version, client info and capabilities). A client's response to a
// server-to-client request, POSTed to another process than the one whose
// handler waits, is relayed there (HTTPOptions.Relay); such requests on a
// shared session carry string ids tagged with their process. A message for
// the session's GET stream sent by a process where that stream is not
// connected is relayed to the one where it is (shared_notify.go), and the
// owner's bound on sessions holds across processes when the directory is
// an OwnerIndex (shared_owners.go). What lives in one process stays there:
// open streams, requests in flight (cancellation reaches them only on their
// own process) and logging/setLevel (per process). An HTTP+SSE session is
// not adopted (its stream is where every answer goes): a message POSTed for
// it to another process is forwarded to the one holding the stream,
// through Relay as well. Its record is a lease the holder renews
// (lease.go), so one left by a process that died lapses.

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// SessionDirectory keeps session records where every process serving one
// endpoint can read them. Records are opaque bytes to it; ids are the
// Mcp-Session-Id values, which a directory should store only as hashes
// since they let their owner's requests resume a session. Methods are
// called from request goroutines concurrently.
type SessionDirectory interface {
	// Save stores record under id for ttl, replacing any earlier one.
	Save(ctx context.Context, id string, record []byte, ttl time.Duration) error
	// Load returns the record under id, or nil and no error if there is
	// none (never saved, deleted or expired).
	Load(ctx context.Context, id string) ([]byte, error)
	// Delete removes the record under id; an absent one is not an error.
	Delete(ctx context.Context, id string) error
}

// sessionRecord is a session's stored form.
type sessionRecord struct {
	// SSE marks an HTTP+SSE session, whose stream stays on the process
	// that opened it: other processes forward POSTed messages there.
	SSE        bool            `json:"s,omitempty"`
	Owner      string          `json:"o"`
	Credential string          `json:"c,omitempty"`
	Version    string          `json:"v"`
	ClientInfo Implementation  `json:"i"`
	ClientCaps json.RawMessage `json:"k,omitempty"`
}

// dirTimeout bounds one call to the directory from a request.
const dirTimeout = 5 * time.Second

// share saves a freshly initialized session's record. A failure is logged
// and the session stays local: served by this process only, as without a
// directory.
func (h *streamableHandler) share(ctx context.Context, sess *Session) {
	if h.opts.Sessions == nil {
		return
	}
	sess.dir, sess.relay = h.opts.Sessions, h.opts.Relay
	h.save(ctx, sess)
}

func (h *streamableHandler) save(ctx context.Context, sess *Session) {
	sess.mu.Lock()
	rec := sessionRecord{Owner: sess.owner, Credential: sess.cred, Version: sess.version, ClientInfo: sess.clientInfo, ClientCaps: sess.clientCaps}
	sess.mu.Unlock()
	b, err := json.Marshal(rec)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dirTimeout)
		err = h.opts.Sessions.Save(ctx, sess.id, b, h.opts.idleTimeout())
		cancel()
	}
	if err != nil {
		h.s.logger.Warn("mcp: saving a shared session record", "err", err)
		return
	}
	now := time.Now()
	sess.saved.Store(now.UnixNano())
	h.s.admit(ctx, sess, now.Add(h.opts.idleTimeout()), h.opts.maxSessions())
}

// keepShared renews a shared session's record once a quarter of the idle
// timeout has passed since it was last saved, so that a session in use on
// any process outlives the idle timeout everywhere. It runs beside the
// request.
func (h *streamableHandler) keepShared(ctx context.Context, sess *Session) {
	if sess.dir == nil {
		return
	}
	saved := sess.saved.Load()
	now := time.Now().UnixNano()
	if now-saved < int64(h.opts.idleTimeout()/4) || !sess.saved.CompareAndSwap(saved, now) {
		return
	}
	go h.save(ctx, sess)
}

// adopt loads the record of a session another process opened and registers
// it here. It returns nil when there is no such record (the client then
// gets 404, as for any unknown session).
func (h *streamableHandler) adopt(ctx context.Context, id string) *Session {
	if h.opts.Sessions == nil || len(id) > maxSessionIDLen {
		return nil
	}
	h.adoptMu.Lock()
	defer h.adoptMu.Unlock()
	if sess := h.s.session(id); sess != nil {
		return sess // adopted by a concurrent request
	}
	lctx, cancel := context.WithTimeout(ctx, dirTimeout)
	b, err := h.opts.Sessions.Load(lctx, id)
	cancel()
	if err != nil {
		h.s.logger.Warn("mcp: loading a shared session record", "err", err)
		return nil
	}
	var rec sessionRecord
	if b == nil || json.Unmarshal(b, &rec) != nil || rec.Version == "" {
		return nil
	}
	sess := h.s.newSession(id, rec.Owner, false, h.opts.idleTimeout())
	sess.cred = rec.Credential
	sess.dir, sess.relay = h.opts.Sessions, h.opts.Relay
	sess.saved.Store(time.Now().UnixNano())
	sess.setInitialized(rec.Version, rec.ClientInfo, rec.ClientCaps)
	sess.markReady()
	if h.s.addSession(sess, h.opts.localMaxSessions()) != nil {
		sess.close()
		return nil
	}
	return sess
}

// maxSessionIDLen bounds an id looked up in the directory: ours are 26
// characters; anything much longer is not one of ours.
const maxSessionIDLen = 128

// forget ends a session everywhere: here, and its shared record, so no
// other process adopts it again. Used for DELETE and for the ends that
// every process applies on its own copy (revocation); not for idle expiry,
// which is per process (the client may be busy on another).
func (s *Session) forget() {
	s.close()
	if s.dir == nil {
		return
	}
	// Beside the caller: revocation ends sessions from an events
	// subscriber, which must stay quick.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), dirTimeout)
		defer cancel()
		if err := s.dir.Delete(ctx, s.id); err != nil {
			s.server.logger.Warn("mcp: deleting a shared session record", "err", err)
		}
		s.dropOwned(ctx)
	}()
}

// Relay carries a client's response to a server-to-client request between
// processes sharing sessions. Send must deliver msg to Server.DeliverRelayed
// of every other process (the one whose handler waits takes it, the others
// drop it); it may refuse a message too large for its transport, and the
// waiting handler then runs into its own deadline.
type Relay interface {
	Send(ctx context.Context, sessionID string, msg []byte) error
}

// relayResponse sends a response nobody here waits for to the process whose
// request it answers, when its id carries another process's tag.
func (s *Session) relayResponse(m *message) {
	if s.relay == nil {
		return
	}
	var id string
	if json.Unmarshal(m.ID, &id) != nil || strings.HasPrefix(id, s.server.tag+"-") || !strings.Contains(id, "-") {
		return // ours (late, after cancellation) or not one of our requests
	}
	b, err := json.Marshal(relayedResponse{ID: m.ID, Result: m.Result, Error: m.Error})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), dirTimeout)
		err = s.relay.Send(ctx, s.id, b)
		cancel()
	}
	if err != nil {
		s.server.logger.Warn("mcp: relaying a response to another process", "err", err)
	}
}

// relayedResponse is a response as relayed between processes, or, with
// SSE set, a message POSTed for an HTTP+SSE session held elsewhere.
type relayedResponse struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *JSONRPCError   `json:"error,omitempty"`
	SSE    json.RawMessage `json:"sse,omitempty"`
	// End, relayed with no session id, ends a session pushed out by its
	// owner's limit (shared_owners.go) wherever a copy of it is held.
	End *endedSession `json:"end,omitempty"`
	// Notify is a message for the session's standalone stream, for the
	// process where that stream is connected (shared_notify.go).
	Notify json.RawMessage `json:"notify,omitempty"`
	// Updated, relayed with no session id, is the URI of a resource that
	// changed (ServerOptions.Relay).
	Updated string `json:"updated,omitempty"`
}

// DeliverRelayed hands a response relayed by another process (Relay) to the
// request of session sessionID waiting for it here, if any; anything else
// is dropped.
func (s *Server) DeliverRelayed(sessionID string, msg []byte) {
	if sessionID == "" {
		var r relayedResponse
		if json.Unmarshal(msg, &r) != nil {
			return
		}
		if r.End != nil {
			s.endSession(*r.End)
		}
		if r.Updated != "" {
			s.resourceUpdated(r.Updated)
		}
		return
	}
	sess := s.session(sessionID)
	if sess == nil {
		return
	}
	var r relayedResponse
	if json.Unmarshal(msg, &r) != nil {
		return
	}
	if r.SSE != nil {
		s.deliverSSE(sess, r.SSE)
		return
	}
	if r.Notify != nil {
		s.deliverNotify(sess, r.Notify)
		return
	}
	if r.ID == nil || (r.Result == nil && r.Error == nil) {
		return
	}
	m := &message{JSONRPC: true, ID: r.ID, Result: r.Result, Error: r.Error}
	sess.mu.Lock()
	ch := sess.pending[string(m.ID)]
	delete(sess.pending, string(m.ID))
	sess.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

// shareSSE records an HTTP+SSE session so that other processes forward
// messages POSTed for it here (needs Sessions and Relay). The record lives
// for a lease that this server renews while the stream lives (lease.go):
// the directory does not see the stream, and a process that dies with
// streams open cannot delete their records. The session counts in its
// owner's index as a Streamable HTTP session does.
func (h *sseHandler) shareSSE(ctx context.Context, sess *Session) {
	if sess.sseOpts == nil {
		return
	}
	h.s.saveSSE(ctx, sess, &h.opts) // a failure is retried by the sweep
	h.s.startLeases()
}

// sharesSSE reports whether HTTP+SSE sessions are shared, and if so
// readies sess for it before it is added (the lease sweep reads these
// fields once it is).
func (h *sseHandler) sharesSSE(sess *Session) bool {
	if h.opts.Sessions == nil || h.opts.Relay == nil {
		return false
	}
	sess.dir, sess.relay, sess.sseOpts = h.opts.Sessions, h.opts.Relay, &h.opts
	return true
}

// forward takes a message POSTed for an HTTP+SSE session this process
// does not hold: when the directory has it, the owner is checked and the
// message relayed to the process holding its stream, which answers there.
// It reports whether it answered w.
func (h *sseHandler) forward(w http.ResponseWriter, r *http.Request, sid string) bool {
	if h.opts.Sessions == nil || h.opts.Relay == nil || len(sid) > maxSessionIDLen {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), dirTimeout)
	b, err := h.opts.Sessions.Load(ctx, sid)
	cancel()
	var rec sessionRecord
	if err != nil || b == nil || json.Unmarshal(b, &rec) != nil || !rec.SSE {
		return false
	}
	if subtle.ConstantTimeCompare([]byte(rec.Owner), []byte(h.opts.owner(r))) != 1 {
		writeError(w, http.StatusForbidden, nil, NewInvalidRequest("forbidden: the session belongs to another principal"))
		return true
	}
	body, ok := readBody(w, r, h.opts.maxBody())
	if !ok {
		return true
	}
	if _, m, rpcErr := decodeBody(body); rpcErr != nil {
		var id []byte
		if m != nil {
			id = m.ID
		}
		writeError(w, http.StatusBadRequest, id, rpcErr)
		return true
	}
	msg, err := json.Marshal(relayedResponse{SSE: body})
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), dirTimeout)
		err = h.opts.Relay.Send(ctx, sid, msg)
		cancel()
	}
	if err != nil {
		h.s.logger.Warn("mcp: forwarding an HTTP+SSE message", "err", err)
		writeError(w, http.StatusServiceUnavailable, nil, NewInternalError("could not forward the message to the server holding this session's stream: %v", err))
		return true
	}
	w.WriteHeader(http.StatusAccepted)
	return true
}

// deliverSSE handles a message another process forwarded for an HTTP+SSE
// session held here, as sseHandler.message does for one POSTed here: the
// same bounds, with a refusal answered on the stream (the client reads its
// answers there; its POST got 202 elsewhere).
func (s *Server) deliverSSE(sess *Session, body []byte) {
	if !sess.legacy || sess.sseOpts == nil {
		return
	}
	d, m, rpcErr := decodeBody(body)
	if rpcErr != nil {
		return // checked by the forwarding process
	}
	if d.batch && batchRefused(sess) != nil {
		return
	}
	base := context.Background()
	if !d.batch && !m.isRequest() {
		s.handleMessage(base, sess, m, sess.standalone)
		return
	}
	opts := sess.sseOpts
	if q := sess.standalone.queued(); q >= opts.maxQueuedBytes() || !sess.enter(opts.maxRequests()) {
		if m != nil && m.ID != nil {
			if b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": m.ID, "error": &JSONRPCError{Code: codeServerBusy,
				Message: "server busy: this session has as many requests in progress, or as much unread on its stream, as it may; retry"}}); err == nil {
				sess.standalone.reply(b)
			}
		}
		return
	}
	if !s.addWorker() {
		sess.leave()
		return
	}
	go func() {
		defer s.wg.Done()
		defer sess.leave()
		var resp []byte
		if d.batch {
			resp, _ = s.handleBatch(base, sess, d)
		} else {
			resp = s.handleMessage(base, sess, m, sess.standalone)
		}
		if resp != nil {
			sess.standalone.reply(resp)
		}
	}()
}
