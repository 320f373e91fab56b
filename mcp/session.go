package mcp

// A session (transports, "Session Management"; lifecycle) and what a
// handler can do with it: notify the client, log to it
// (server/utilities/logging), report progress (basic/utilities/progress),
// and send it requests of its own.

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// LoggingLevel is a syslog severity (RFC 5424 section 6.2.1), the levels of
// server/utilities/logging.
type LoggingLevel string

// The eight levels, from least to most severe.
const (
	LevelDebug     LoggingLevel = "debug"
	LevelInfo      LoggingLevel = "info"
	LevelNotice    LoggingLevel = "notice"
	LevelWarning   LoggingLevel = "warning"
	LevelError     LoggingLevel = "error"
	LevelCritical  LoggingLevel = "critical"
	LevelAlert     LoggingLevel = "alert"
	LevelEmergency LoggingLevel = "emergency"
)

var levelOrder = []LoggingLevel{LevelDebug, LevelInfo, LevelNotice, LevelWarning, LevelError, LevelCritical, LevelAlert, LevelEmergency}

// severity is the level's rank, or -1 for a name that is not a level.
func (l LoggingLevel) severity() int { return slices.Index(levelOrder, l) }

// defaultLogLevel is the threshold of a session whose client never sent
// logging/setLevel. The spec leaves it to the server; info keeps debug
// chatter away from clients that did not ask for it.
const defaultLogLevel = LevelInfo

// ErrSessionClosed is returned when a message is sent to, or a request
// waits on, a session that has ended.
var ErrSessionClosed = errors.New("mcp: session closed")

// Session is one client's conversation with the server, from initialize to
// DELETE, idle expiry, a closed legacy stream, or Shutdown.
type Session struct {
	server *Server
	id     string
	owner  string
	legacy bool // HTTP+SSE (2024-11-05) rather than Streamable HTTP
	// listen, when set, makes the session a 2026-07-28
	// subscriptions/listen stream (listen.go) that no request can name.
	listen *listener

	// cred is what HTTPOptions.SessionCredential said when the session
	// was created; see credential.go.
	cred string

	// standalone carries messages not related to a client request: the GET
	// stream of Streamable HTTP, or the one stream of HTTP+SSE.
	standalone *stream

	mu         sync.Mutex
	version    string
	clientInfo Implementation
	clientCaps json.RawMessage
	ready      bool
	inflight   map[string]*requestState
	pending    map[string]chan *message
	nextID     int64
	streams    map[int64]*stream // resumable streams by id
	order      []int64           // finished POST streams, oldest first
	nextStream int64
	attached   int // open stream connections
	closed     bool
	done       chan struct{}

	// admitted counts the requests in progress through the transports,
	// within HTTPOptions.MaxRequestsPerSession (admit).
	admitted atomic.Int32

	level      atomic.Int32
	lastActive atomic.Int64
	// dir holds the session's shared record (shared.go), nil when the
	// session is this process's alone; saved is when it was last saved.
	dir   SessionDirectory
	saved atomic.Int64
	relay Relay // with dir: where responses for other processes go
	// sseOpts are the options of the HTTP+SSE handler that opened a shared
	// legacy session, whose bounds apply to messages forwarded to it.
	sseOpts *HTTPOptions
	idle    time.Duration // ended by the server's sweepIdle past this
}

func (s *Server) newSession(id, owner string, legacy bool, idle time.Duration) *Session {
	sess := &Session{
		server:   s,
		id:       id,
		owner:    owner,
		legacy:   legacy,
		inflight: make(map[string]*requestState),
		pending:  make(map[string]chan *message),
		streams:  make(map[int64]*stream),
		done:     make(chan struct{}),
		idle:     idle,
	}
	sess.level.Store(int32(defaultLogLevel.severity()))
	sess.standalone = sess.newStream(!legacy)
	sess.touch()
	return sess
}

// ID returns the session id (the Mcp-Session-Id header, or the sessionId
// query parameter of HTTP+SSE).
func (s *Session) ID() string { return s.id }

// Owner returns the owner given by HTTPOptions.SessionOwner when the
// session was created.
func (s *Session) Owner() string { return s.owner }

// ProtocolVersion returns the negotiated version, or "" before initialize.
func (s *Session) ProtocolVersion() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// ClientInfo returns the clientInfo the client sent in initialize.
func (s *Session) ClientInfo() Implementation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clientInfo
}

// ClientCapabilities returns the capabilities object the client sent in
// initialize, for example to see whether it offers sampling.
func (s *Session) ClientCapabilities() json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clientCaps
}

// Done is closed when the session ends.
func (s *Session) Done() <-chan struct{} { return s.done }

func (s *Session) initialized() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version != ""
}

func (s *Session) setInitialized(version string, info Implementation, caps json.RawMessage) *JSONRPCError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version != "" {
		return NewInvalidRequest("invalid request: the session is already initialized")
	}
	s.version, s.clientInfo, s.clientCaps = version, info, caps
	return nil
}

func (s *Session) markReady() {
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
}

func (s *Session) touch() { s.lastActive.Store(time.Now().UnixNano()) }

// startRequest records an in-flight request; an id already in flight is
// refused (basic/index, "Requests": the id "MUST NOT have been previously
// used by the requestor within the same session").
func (s *Session) startRequest(rs *requestState) *JSONRPCError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return NewInvalidRequest("invalid request: the session has ended")
	}
	if _, dup := s.inflight[rs.key]; dup {
		return NewInvalidRequest("invalid request: id %s is already used by a request in progress", truncate(rs.id, 64))
	}
	s.inflight[rs.key] = rs
	return nil
}

func (s *Session) endRequest(rs *requestState) {
	s.mu.Lock()
	if s.inflight[rs.key] == rs {
		delete(s.inflight, rs.key)
	}
	s.mu.Unlock()
	s.touch()
}

// enter takes a request slot, if fewer than limit are taken.
func (s *Session) enter(limit int) bool {
	if int(s.admitted.Add(1)) > limit {
		s.admitted.Add(-1)
		return false
	}
	return true
}

// leave gives back the slot enter took.
func (s *Session) leave() { s.admitted.Add(-1) }

// cancelRequest implements basic/utilities/cancellation for an id the
// client names: the handler's context is cancelled and no response is sent.
// Unknown or finished ids are ignored, as the spec allows.
func (s *Session) cancelRequest(key string) {
	s.mu.Lock()
	rs := s.inflight[key]
	s.mu.Unlock()
	if rs == nil {
		return
	}
	rs.mu.Lock()
	rs.cancelled = true
	rs.mu.Unlock()
	rs.cancel()
}

// Idle sessions are ended by one sweep per server, not by a timer per
// session: every live timer sits in the runtime's per-P timer heaps, which
// grow to the most timers ever live at once and never shrink, so 10,000
// sessions would leave some 180 KiB behind them for good (and a timer
// each while they live). The price is precision: a session ends between
// its idle timeout and a sixteenth of it (at most a minute) later.

// idleSweep runs Server.sweepIdle every period while sessions exist
// (running).
type idleSweep struct {
	timer   *time.Timer
	period  time.Duration
	running bool
}

// idleSweepEvery is the sweep period for sessions with the idle timeout
// idle.
func idleSweepEvery(idle time.Duration) time.Duration {
	return min(max(idle/16, 10*time.Millisecond), time.Minute)
}

// armIdleSweepLocked makes sure the sweep runs, at least as often as a
// session with the idle timeout idle needs. Called with s.mu held, when a
// session is added.
func (s *Server) armIdleSweepLocked(idle time.Duration) {
	w := &s.sweep
	every := idleSweepEvery(idle)
	switch {
	case w.timer == nil:
		w.period = every
		w.timer = time.AfterFunc(every, s.sweepIdle)
	case !w.running:
		w.period = every
		w.timer.Reset(every)
	case every < w.period:
		w.period = every
		w.timer.Reset(every)
	}
	w.running = true
}

// sweepIdle ends the sessions idle past their timeout, then runs again
// while any session is left.
func (s *Server) sweepIdle() {
	now := time.Now().UnixNano()
	var idle []*Session
	s.mu.RLock()
	for _, sess := range s.sessions {
		if time.Duration(now-sess.lastActive.Load()) >= sess.idle {
			idle = append(idle, sess)
		}
	}
	s.mu.RUnlock()
	for _, sess := range idle {
		if sess.idleExpired() {
			s.logger.Debug("mcp: session expired", "session", sess.id)
			sess.close()
		}
	}
	s.mu.Lock()
	if len(s.sessions) > 0 && !s.closed {
		s.sweep.timer.Reset(s.sweep.period)
	} else {
		s.sweep.running = false // addSession arms it again
	}
	s.mu.Unlock()
}

// idleExpired reports whether the session, found idle by its last
// activity, has no running handler and no open stream either.
func (s *Session) idleExpired() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && len(s.inflight) == 0 && s.attached == 0
}

// Close ends the session as DELETE would: handlers are cancelled, waiting
// requests fail, open streams end, and later requests naming it get 404.
func (s *Session) Close() { s.close() }

func (s *Session) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	for _, rs := range s.inflight {
		rs.cancel()
	}
	streams := make([]*stream, 0, len(s.streams)+1)
	streams = append(streams, s.standalone)
	for _, st := range s.streams {
		if st != s.standalone {
			streams = append(streams, st)
		}
	}
	s.mu.Unlock()
	s.server.removeSession(s)
	if s.listen != nil {
		// The server ends the subscription: it says so with the listen
		// request's response ("Graceful Closure"), which a client whose
		// connection already went never reads, and the stream ends.
		s.standalone.finish(s.listen.closing(s.server))
	}
	for _, st := range streams {
		st.detach()
	}
}

// outFor picks where a message sent under ctx goes: the stream of the
// request ctx belongs to, if it belongs to this session, else the session's
// standalone stream (transports: messages "SHOULD relate to the
// originating client request").
func (s *Session) outFor(ctx context.Context) outbox {
	if rs := requestFromContext(ctx); rs != nil && rs.sess == s && rs.out != nil {
		return rs.out
	}
	return s.standalone
}

// Notify sends a notification to the client. Inside a handler it travels
// with the request's response; elsewhere on the session's standalone stream
// (kept there for the client's next GET when no stream is open).
func (s *Session) Notify(ctx context.Context, method string, params any) error {
	select {
	case <-s.done:
		return ErrSessionClosed
	default:
	}
	if s.listen != nil {
		b, err := s.listen.encode(method, params)
		if b == nil {
			return err
		}
		return s.standalone.send(b)
	}
	b, err := encodeNotification(method, params)
	if err != nil {
		return err
	}
	if out := s.outFor(ctx); out != outbox(s.standalone) {
		return out.send(b)
	}
	return s.sendStandalone(ctx, b)
}

// Request sends a server-to-client request (sampling/createMessage,
// elicitation/create, roots/list, ping) and waits for the client's
// response, which arrives in a later POST. A JSON-RPC error from the client
// is returned as *JSONRPCError. When ctx ends first the client is sent
// notifications/cancelled and ctx's error is returned.
func (s *Session) Request(ctx context.Context, method string, params any) (json.RawMessage, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrSessionClosed
	}
	s.nextID++
	id := json.RawMessage(strconv.AppendInt(nil, s.nextID, 10))
	if s.dir != nil {
		// Shared: the response may reach another process, which relays
		// it here by the tag (shared.go).
		id = json.RawMessage(strconv.Quote(s.server.tag + "-" + string(id)))
	}
	ch := make(chan *message, 1)
	s.pending[string(id)] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, string(id))
		s.mu.Unlock()
	}()
	b, err := json.Marshal(&wireRequest{JSONRPC: "2.0", ID: id, Method: method, Params: params})
	if err != nil {
		return nil, err
	}
	if out := s.outFor(ctx); out != outbox(s.standalone) {
		err = out.send(b)
	} else {
		err = s.sendStandalone(ctx, b)
	}
	if err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return nil, m.Error
		}
		return m.Result, nil
	case <-ctx.Done():
		// cancellation: the requester SHOULD tell the other side.
		_ = s.Notify(context.WithoutCancel(ctx), "notifications/cancelled", map[string]any{"requestId": id, "reason": ctx.Err().Error()})
		return nil, ctx.Err()
	case <-s.done:
		return nil, ErrSessionClosed
	}
}

// deliverResponse hands a client's response to the Request waiting for it;
// a response nobody waits for (late, after cancellation) is dropped.
func (s *Session) deliverResponse(m *message) {
	s.mu.Lock()
	ch := s.pending[string(m.ID)]
	delete(s.pending, string(m.ID))
	s.mu.Unlock()
	if ch != nil {
		ch <- m
		return
	}
	s.relayResponse(m)
}

// setLevel answers logging/setLevel.
func (s *Server) setLevel(ctx context.Context, params json.RawMessage) (any, error) {
	var p struct {
		Level *LoggingLevel `json:"level"`
	}
	if err := DecodeParams(params, &p); err != nil {
		return nil, err
	}
	if p.Level == nil {
		return nil, NewInvalidParams("invalid params: params.level is required")
	}
	sev := p.Level.severity()
	if sev < 0 {
		// No need to echo a hostile client's megabyte back.
		return nil, NewInvalidParams("invalid params: params.level %q is not one of debug, info, notice, warning, error, critical, alert, emergency", truncate(*p.Level, 32))
	}
	SessionFromContext(ctx).level.Store(int32(sev))
	return emptyResult, nil
}

var errNoRequest = errors.New("mcp: not called from a request handler")

// Log sends notifications/message to the client of the request ctx belongs
// to (logging is deprecated by 2026-07-28, SEP-2577, and still served in
// both eras), when level is at or above the threshold the client chose with
// logging/setLevel (info until it chooses). data is any JSON value.
//
// In the modern era the threshold is the request's own
// io.modelcontextprotocol/logLevel, and a request without one gets no
// notifications/message at all (2026-07-28 server/utilities/logging).
func Log(ctx context.Context, level LoggingLevel, logger string, data any) error {
	rs := requestFromContext(ctx)
	if rs != nil && rs.meta != nil {
		sev := level.severity()
		if sev < 0 {
			return errors.New("mcp: unknown logging level " + strconv.Quote(string(level)))
		}
		if rs.meta.LogLevel == "" || sev < rs.meta.LogLevel.severity() {
			return nil
		}
		return rs.notify("notifications/message", &logParams{Level: level, Logger: logger, Data: data})
	}
	sess := SessionFromContext(ctx)
	if sess == nil {
		return errNoRequest
	}
	return sess.Log(ctx, level, logger, data)
}

// logParams are the params of notifications/message.
type logParams struct {
	Level  LoggingLevel `json:"level"`
	Logger string       `json:"logger,omitempty"`
	Data   any          `json:"data"`
}

// notify sends a notification related to the request: on its session's
// stream for that request (legacy), or on the request's own response
// stream (modern, which has no other).
func (rs *requestState) notify(method string, params any) error {
	if rs.sess != nil {
		return rs.sess.Notify(rs, method, params)
	}
	b, err := encodeNotification(method, params)
	if err != nil {
		return err
	}
	return rs.out.send(b)
}

// Log is the package Log for a session at hand, for messages not related to
// a request when ctx carries none.
func (s *Session) Log(ctx context.Context, level LoggingLevel, logger string, data any) error {
	sev := level.severity()
	if sev < 0 {
		return errors.New("mcp: unknown logging level " + strconv.Quote(string(level)))
	}
	if int32(sev) < s.level.Load() {
		return nil
	}
	return s.Notify(ctx, "notifications/message", &logParams{Level: level, Logger: logger, Data: data})
}

// NotifyProgress sends notifications/progress for the request ctx belongs
// to (basic/utilities/progress). It does nothing when the request carried
// no _meta.progressToken. progress must increase from call to call; total
// is omitted when 0 (unknown).
func NotifyProgress(ctx context.Context, progress, total float64, message string) error {
	if run := taskFromContext(ctx); run != nil {
		run.status(message) // a task has no stream; its statusMessage says it (tasks.go)
		return nil
	}
	rs := requestFromContext(ctx)
	if rs == nil || rs.progressToken == nil {
		return nil
	}
	rs.mu.Lock()
	if rs.sentProgress && progress <= rs.lastProgress {
		rs.mu.Unlock()
		return errors.New("mcp: progress must increase with each notification")
	}
	rs.sentProgress, rs.lastProgress = true, progress
	rs.mu.Unlock()
	type params struct {
		ProgressToken json.RawMessage `json:"progressToken"`
		Progress      float64         `json:"progress"`
		Total         float64         `json:"total,omitempty"`
		Message       string          `json:"message,omitempty"`
	}
	return rs.notify("notifications/progress", &params{ProgressToken: rs.progressToken, Progress: progress, Total: total, Message: message})
}

// streamOpened and streamClosed count open stream connections: a session
// with one is not idle.
func (s *Session) streamOpened() {
	s.mu.Lock()
	s.attached++
	s.mu.Unlock()
}

func (s *Session) streamClosed() {
	s.mu.Lock()
	s.attached--
	s.mu.Unlock()
	s.touch()
}
