package mcp

// The MCP method layer, shared by both transports and both eras: the legacy
// lifecycle (basic/lifecycle), cancellation, logging (server/utilities/logging),
// tools (server/tools), and the dispatcher that answers every method of the
// index (protocol.go), plus those callers add with HandleMethod.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"

	"remote-mcp-authkit/internal/jsonscan"
)

// MethodHandler answers one request method. params is the request's params
// object (nil when absent). Returning a *JSONRPCError chooses the error code;
// any other error becomes -32603 and is logged. For a notification method
// the result is ignored.
type MethodHandler func(ctx context.Context, params json.RawMessage) (result any, err error)

// Server is an MCP server: the method table and the set of live sessions.
// One Server may be served by both transports at once.
type Server struct {
	opts   ServerOptions
	logger *slog.Logger

	mu       sync.RWMutex
	handlers map[string]MethodHandler
	caps     map[string]any
	sessions map[string]*Session
	// byOwner indexes sessions by owner, so that admitting a session, or
	// finding an owner's sessions to notify or close, costs the owner's
	// session count, not the server's.
	byOwner map[string]map[*Session]struct{}
	closed  bool
	// keepers hold the hijacked streams of the server's handlers
	// (idle.go), for Shutdown to close.
	keepers []*streamKeeper

	wg sync.WaitGroup // stream handlers and legacy message goroutines

	// The high-water marks of sessions and byOwner (under mu), so that
	// both are rebuilt once most of their entries are gone (shrink.go).
	sessionsPeak, ownersPeak mapPeak

	sweep idleSweep // of idle sessions, under mu (session.go)
	// leases renews what this server holds for other processes (lease.go).
	leases leases

	// extensions are the modern capabilities.extensions (AddExtension).
	extensions map[string]any
	// tasks runs the tasks extension (tasks.go); nil when it is off.
	tasks *taskRunner
	// stateKey seals multi round-trip requestStates (mrtr.go).
	stateKey []byte
	// env and metaMember are the modern result envelope, written once
	// (modern.go).
	envOnce    sync.Once
	env        []byte
	metaMember []byte

	// features holds the resources, prompts and completion tables
	// (resources.go), which exist only once something is registered.
	features *serverFeatures

	// tag marks the ids of this process's server-to-client requests on
	// shared sessions, so that a response relayed from another process
	// finds its way back here (shared.go).
	tag string
}

// NewServer returns a Server that serves opts.Tools (when non-nil) and the
// lifecycle methods every MCP server answers.
func NewServer(opts ServerOptions) *Server {
	if opts.PageSize <= 0 {
		opts.PageSize = 50
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{
		opts:     opts,
		logger:   logger,
		handlers: make(map[string]MethodHandler),
		caps:     make(map[string]any),
		sessions: make(map[string]*Session),
		byOwner:  make(map[string]map[*Session]struct{}),
		features: &serverFeatures{},
		tag:      rand.Text()[:10],
	}
	s.leases.done = make(chan struct{})
	s.stateKey = opts.StateKey
	if len(s.stateKey) == 0 {
		s.stateKey = newStateKey()
	}
	if opts.Tasks != nil {
		s.tasks = newTaskRunner(s, opts.Tasks)
		s.AddExtension(TasksExtension, struct{}{})
	}
	return s
}

// HandleMethod adds (or replaces) the handler of a method that the index
// (protocol.go) does not list: a vendor method, served in both eras. A
// method whose name starts with "notifications/" is a notification handler
// (legacy sessions only: 2026-07-28 defines no client notifications over
// HTTP). The index's own methods cannot be replaced.
func (s *Server) HandleMethod(method string, h MethodHandler) {
	s.mu.Lock()
	s.handlers[method] = h
	s.mu.Unlock()
}

// AddCapability declares a server capability in the initialize result, for
// example AddCapability("resources", map[string]bool{"subscribe": true}).
// Declare only what is served (lifecycle, "Capability Negotiation").
func (s *Server) AddCapability(name string, value any) {
	s.mu.Lock()
	s.caps[name] = value
	s.mu.Unlock()
}

// PageSize is the page size of every paginated list the server answers.
func (s *Server) PageSize() int { return s.opts.PageSize }

// Sessions returns a snapshot of the live sessions, for code that notifies
// some of them (resources/updated to subscribers, for instance).
func (s *Server) Sessions() []*Session {
	s.mu.RLock()
	out := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		out = append(out, sess)
	}
	s.mu.RUnlock()
	return out
}

// sessionsOf returns a snapshot of owner's live sessions, from the owner
// index rather than a scan of every session.
func (s *Server) sessionsOf(owner string) []*Session {
	s.mu.RLock()
	mine := s.byOwner[owner]
	out := make([]*Session, 0, len(mine))
	for sess := range mine {
		out = append(out, sess)
	}
	s.mu.RUnlock()
	return out
}

// NotifyToolListChanged sends notifications/tools/list_changed (server/tools,
// "List Changed Notification") to every initialized session whose owner is
// owner, on either transport. Call it when a user's permissions change.
func (s *Server) NotifyToolListChanged(owner string) {
	for _, sess := range s.sessionsOf(owner) {
		s.notifyToolListChanged(sess)
	}
}

// notifyToolListChanged tells one session, if initialized, that its tool
// list changed.
func (s *Server) notifyToolListChanged(sess *Session) {
	if sess.ProtocolVersion() == "" {
		return
	}
	// Local only: a shared cause (a permission change) reaches every
	// process, and each tells the sessions it holds.
	if err := sess.Notify(localOnly, "notifications/tools/list_changed", nil); err != nil {
		s.logger.Debug("mcp: list_changed not delivered", "session", sess.id, "err", err)
	}
}

// CloseSessions ends every session of owner, on either transport; their
// clients get 404 (or a closed stream) and must start again. Call it when
// the owner's access is revoked.
func (s *Server) CloseSessions(owner string) {
	for _, sess := range s.sessionsOf(owner) {
		sess.close()
	}
}

// Shutdown ends every session: in-flight handlers see their context
// cancelled, open streams are closed so their HTTP handlers return. It waits
// for those handlers until ctx ends. Call it before http.Server.Shutdown,
// which would otherwise wait for streams that never end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	sessions := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	keepers := slices.Clone(s.keepers)
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.close()
	}
	for _, k := range keepers {
		k.closeAll() // any stream no session still held
	}
	if s.tasks != nil {
		s.tasks.cancelAll() // their work fails; the stored state stays
	}
	s.stopLeases()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errServerClosed = errors.New("mcp: server is shutting down")

// addSession registers a new session. When its owner already has limit
// sessions, the least recently active one ends: clients often drop sessions
// without DELETE, and one principal must not be able to fill the server.
func (s *Server) addSession(sess *Session, limit int) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errServerClosed
	}
	mine := s.byOwner[sess.owner]
	if mine == nil {
		mine = make(map[*Session]struct{})
		s.byOwner[sess.owner] = mine
		s.ownersPeak.grew(len(s.byOwner))
	}
	var oldest *Session
	n := len(mine)
	if n >= limit {
		// Only this owner's sessions are scanned, and only when one must go.
		for other := range mine {
			if oldest == nil || other.lastActive.Load() < oldest.lastActive.Load() {
				oldest = other
			}
		}
	}
	s.sessions[sess.id] = sess
	s.sessionsPeak.grew(len(s.sessions))
	mine[sess] = struct{}{}
	s.armIdleSweepLocked(sess.idle)
	s.mu.Unlock()
	if n >= limit && oldest != nil {
		s.logger.Info("mcp: session limit reached, ending the least recently active session", "session", oldest.id)
		// A shared session ends everywhere: closed here only, another
		// process would adopt it again, and its owner's index would still
		// count it.
		oldest.forget()
	}
	return nil
}

func (s *Server) session(id string) *Session {
	s.mu.RLock()
	sess := s.sessions[id]
	s.mu.RUnlock()
	return sess
}

func (s *Server) removeSession(sess *Session) {
	s.mu.Lock()
	if s.sessions[sess.id] == sess {
		delete(s.sessions, sess.id)
		s.sessions = shrunk(s.sessions, &s.sessionsPeak)
	}
	// An owner's own set is bounded by the session limit and goes with its
	// last session; the index of owners is as large as the crowd was.
	if mine := s.byOwner[sess.owner]; mine != nil {
		delete(mine, sess)
		if len(mine) == 0 {
			delete(s.byOwner, sess.owner)
			s.byOwner = shrunk(s.byOwner, &s.ownersPeak)
		}
	}
	s.mu.Unlock()
}

// requestState is what a handler's context knows about the request it
// serves: where related messages go, and its progress token. It is that
// context itself: the embedded Context is the request's cancellable one,
// and Value answers requestKey with the state, which spares a
// context.WithValue per request.
type requestState struct {
	context.Context

	sess *Session // nil in the modern era: there is no session
	// owner is HTTPOptions.SessionOwner of a modern request (the legacy
	// era's is the session's): whose tasks it may see.
	owner string
	// mrtr is what the retry of a modern tools/call, prompts/get or
	// resources/read brought (mrtr.go), nil on a first round; mrtrOK says
	// the request may answer input_required. mrtr is guarded by mu.
	mrtr *mrtrInput
	// meta is the request's 2026-07-28 per-request _meta; nil in the
	// legacy era, whose session holds the same facts.
	meta          *RequestMeta
	id            json.RawMessage
	key           string // string(id), the in-flight table key
	progressToken json.RawMessage
	out           outbox
	cancel        context.CancelFunc

	mu           sync.Mutex
	lastProgress float64
	cancelled    bool
	sentProgress bool
	mrtrOK       bool // see mrtr
}

type requestKey struct{}

// Value makes the state its own context's value for requestKey.
func (rs *requestState) Value(key any) any {
	if key == (requestKey{}) {
		return rs
	}
	return rs.Context.Value(key)
}

func requestFromContext(ctx context.Context) *requestState {
	rs, _ := ctx.Value(requestKey{}).(*requestState)
	return rs
}

// SessionFromContext returns the session of the request a handler serves,
// or nil outside a handler.
func SessionFromContext(ctx context.Context) *Session {
	if rs := requestFromContext(ctx); rs != nil {
		return rs.sess
	}
	return nil
}

// outbox carries messages a server sends while it serves a request: to the
// request's own SSE stream when the transport has one, else to the
// session's stream.
type outbox interface {
	send(msg []byte) error
}

// handleRequest runs one request and returns its encoded response, or nil
// when the request was cancelled (cancellation: "Not send a response for
// the cancelled request"). base carries the HTTP request's values (the
// caller's identity) but not its cancellation: a dropped connection is not
// a cancellation (transports, "Sending Messages to the Server").
func (s *Server) handleRequest(base context.Context, sess *Session, m *message, out outbox) []byte {
	sess.touch()
	if m.Method == "initialize" {
		res, err := s.initialize(sess, m.Params)
		if s.opts.Observe != nil {
			s.observe(base, m, nil, err, false)
		}
		return encodeResponse(m.ID, res, err)
	}
	if m.Method != "ping" && !sess.initialized() {
		err := NewInvalidRequest("invalid request: the session is not initialized; send initialize first (lifecycle, \"Initialization\")")
		if s.opts.Observe != nil {
			s.observe(base, m, nil, err, false)
		}
		return encodeResponse(m.ID, nil, err)
	}
	p := readParams(m.Params)
	rs := &requestState{sess: sess, id: m.ID, key: string(m.ID), out: out, progressToken: p.progressToken}
	rs.Context, rs.cancel = context.WithCancel(base)
	defer rs.cancel()
	if err := sess.startRequest(rs); err != nil {
		if s.opts.Observe != nil {
			s.observe(base, m, &p, err, false)
		}
		return encodeResponse(m.ID, nil, err)
	}
	defer sess.endRequest(rs)

	result, rpcErr := s.call(rs, string(m.Method), m.Params, &p)

	rs.mu.Lock()
	cancelled := rs.cancelled
	rs.mu.Unlock()
	if s.opts.Observe != nil {
		s.observe(rs, m, &p, rpcErr, cancelled)
	}
	if cancelled {
		return nil
	}
	return encodeResponse(m.ID, result, rpcErr)
}

// requestParams is what the server itself reads from a request's params,
// in one walk of their members: the progress token any request may carry
// (basic/utilities/progress: params._meta.progressToken), and for
// tools/call the tool's name and arguments (server/tools, "Calling Tools").
// As with message, the values are slices of the body, and member names
// match exactly (after unescaping), as the schema spells them.
type requestParams struct {
	progressToken json.RawMessage // a string or number, else nil
	name          []byte          // the last "name" that is a string, still quoted
	nameType      string          // the type of the first "name" that is neither a string nor null
	arguments     json.RawMessage
	nameText      string // name unquoted, once toolName asked for it
	// x holds what only the modern era reads, allocated when the params
	// have a uri or a _meta, so that a legacy call's params stay small.
	x *modernParams
}

// modernParams are the members of params that the 2026-07-28 binding
// checks (modern.go, streamable_modern.go): the _meta object and its
// per-request fields, as found, the uri and taskId that Mcp-Name mirrors,
// and a multi round-trip retry's inputResponses and requestState (mrtr.go).
type modernParams struct {
	uri    []byte // the last "uri" that is a string, still quoted
	taskID []byte // the last "taskId" that is a string, still quoted (Mcp-Name of tasks/*)
	// inputResponses and requestState of a multi round-trip retry
	// (mrtr.go), as sent.
	inputResponses json.RawMessage
	requestState   json.RawMessage

	// The per-request fields of the last _meta object, as sent: version
	// and log level here, capabilities and client info in meta, which
	// readRequestMeta then checks and completes in place (so a modern
	// request holds its RequestMeta without a copy).
	metaVersion, metaLevel json.RawMessage
	meta                   RequestMeta
	// traceparent is the first _meta.traceparent that RequestInfo can
	// carry (reportableTraceparent), still quoted: read in this walk so
	// that observing a request does not walk its params again.
	traceparent json.RawMessage

	metaType          jsonscan.Kind // the kind of _meta when present
	hasMeta           bool
	hasInputResponses bool
	hasRequestState   bool
	// listing is what the called tool's tools/list entry says of task
	// support, as the lookup for its Mcp-Param-* headers found it
	// (checkParamHeaders), so that taskDecision need not look again.
	listing toolListing
}

// toolListing is what a tools/call learnt of the called tool's
// execution.taskSupport from its tools/list entry (tasks.go).
type toolListing uint8

const (
	listingUnknown toolListing = iota // not looked up, or not listed for the caller
	listedSync                        // listed without task support (none, or forbidden)
	listedTasks                       // listed with optional or required task support
)

// listingOf is what t's entry says of task support.
func listingOf(t *Tool) toolListing {
	if t.Execution != nil && (t.Execution.TaskSupport == TaskOptional || t.Execution.TaskSupport == TaskRequired) {
		return listedTasks
	}
	return listedSync
}

// ext returns p.x, allocating it on first use.
func (p *requestParams) ext() *modernParams {
	if p.x == nil {
		p.x = new(modernParams)
	}
	return p.x
}

// readParams reads params, which validate left absent or an object. Where
// names repeat, the last value counts, a null one counting for nothing, as
// encoding/json would decode them into a struct; a _meta that is neither an
// object nor null carries no token, as it carried none when _meta was
// decoded with encoding/json.
func readParams(params json.RawMessage) requestParams {
	var p requestParams
	p.read(params)
	return p
}

// read is readParams into the empty p, whose x may be given beforehand,
// empty too (a modern request's, allocated with the rest of its state), to
// be filled in place.
func (p *requestParams) read(params json.RawMessage) {
	c := jsonscan.NewCursor(params)
	if c.Kind() == jsonscan.Object {
		p.readFrom(&c)
	}
}

// reset empties p for another params object, keeping x's storage.
func (p *requestParams) reset() {
	x := p.x
	*p = requestParams{}
	if x != nil {
		*x = modernParams{}
		p.x = x
	}
}

// readFrom reads the params object at c, in the walk that validates it
// (readMessage's, for a body not yet validated).
func (p *requestParams) readFrom(c *jsonscan.Cursor) {
	var token json.RawMessage
	metaOK := true
	var buf [maxEscapedName]byte
	for name := range c.Members() {
		switch string(memberName(buf[:0], name)) {
		case "name":
			switch value := c.Value(); jsonscan.KindOf(value) {
			case jsonscan.String:
				p.name = value
			case jsonscan.Null, jsonscan.Invalid:
			default:
				if p.nameType == "" {
					p.nameType = kindName(jsonscan.KindOf(value))
				}
			}
		case "arguments":
			p.arguments = c.Value()
		case "uri":
			if value := c.Value(); jsonscan.KindOf(value) == jsonscan.String {
				p.ext().uri = value
			}
		case "taskId":
			if value := c.Value(); jsonscan.KindOf(value) == jsonscan.String {
				p.ext().taskID = value
			}
		case "inputResponses":
			x := p.ext()
			x.inputResponses, x.hasInputResponses = c.Value(), true
		case "requestState":
			x := p.ext()
			x.requestState, x.hasRequestState = c.Value(), true
		case "_meta":
			x := p.ext()
			again := x.hasMeta
			x.hasMeta, x.metaType = true, c.Kind()
			switch x.metaType {
			case jsonscan.Object:
				if again { // the last _meta counts; a first one finds these zero
					x.metaVersion, x.metaLevel, x.meta = nil, nil, RequestMeta{}
				}
				for name := range c.Members() {
					switch string(memberName(buf[:0], name)) {
					case "progressToken":
						token = c.Value()
					case MetaProtocolVersion:
						x.metaVersion = c.Value()
					case MetaClientCapabilities:
						x.meta.ClientCapabilities = c.Value()
					case MetaClientInfo:
						x.meta.clientInfo = c.Value()
					case MetaLogLevel:
						x.metaLevel = c.Value()
					case "traceparent":
						if value := c.Value(); x.traceparent == nil && reportableTraceparent(value) {
							x.traceparent = value
						}
					}
				}
			case jsonscan.Null:
			default:
				metaOK = false
			}
		}
	}
	if metaOK && validID(token) {
		p.progressToken = token
	}
}

// call dispatches one request method through the index (protocol.go),
// turning a handler panic into -32603. A method of the index outside the
// request's era, or whose capability the server does not declare, is
// -32601; so is a name neither the index nor HandleMethod knows.
func (s *Server) call(ctx context.Context, method string, params json.RawMessage, p *requestParams) (result any, rpcErr *JSONRPCError) {
	return s.dispatch(ctx, clientMethods[method], method, params, p)
}

// dispatch is call for a caller that has already found the method's entry
// in the index, m (nil for a name the index does not know).
func (s *Server) dispatch(ctx context.Context, m *methodInfo, method string, params json.RawMessage, p *requestParams) (result any, rpcErr *JSONRPCError) {
	defer func() {
		if p := recover(); p != nil {
			s.logger.Error("mcp: panic in method handler", "method", method, "panic", p, "stack", string(debug.Stack()))
			result, rpcErr = nil, NewInternalError("internal error while handling %s", method)
		}
	}()
	var err error
	if m != nil {
		era := EraOf(ctx)
		if era == EraModern && mrtrMethod(method) {
			in, rpcErr := s.readMRTR(ctx, method, p)
			if rpcErr != nil {
				return nil, rpcErr
			}
			if rs := requestFromContext(ctx); rs != nil {
				rs.mu.Lock()
				rs.mrtr, rs.mrtrOK = in, true
				rs.mu.Unlock()
			}
		}
		switch {
		case m.eras&era == 0:
			return nil, eraMethodNotFound(m, era)
		case m.handle == nil:
			return nil, NewInvalidRequest("invalid request: %s cannot be answered here (%s)", method, m.spec)
		case !s.serves(m.capability):
			return nil, NewMethodNotFound("method not found: %s (this server does not declare the %s capability)", method, m.capability)
		}
		result, err = m.handle(s, ctx, params, p)
	} else {
		s.mu.RLock()
		h := s.handlers[method]
		s.mu.RUnlock()
		if h == nil || strings.HasPrefix(method, "notifications/") {
			return nil, NewMethodNotFound("method not found: %s", truncate(method, maxEchoedName))
		}
		result, err = h(ctx, params)
	}
	if err != nil {
		var je *JSONRPCError
		if errors.As(err, &je) {
			return nil, je
		}
		var ir *InputRequired
		if errors.As(err, &ir) {
			return s.answerInputRequired(ctx, method, p, ir)
		}
		s.logger.Error("mcp: method handler failed", "method", method, "err", err)
		return nil, NewInternalError("internal error while handling %s", method)
	}
	return result, nil
}

// handleNotification acts on a notification from the client of a legacy
// session, through the index (protocol.go) or a HandleMethod handler;
// notifications are never answered (JSON-RPC section 4.1).
func (s *Server) handleNotification(base context.Context, sess *Session, m *message) {
	sess.touch()
	if n := clientNotifications[string(m.Method)]; n != nil && n.notify != nil {
		n.notify(sess, m.Params)
		return
	}
	s.mu.RLock()
	h := s.handlers[string(m.Method)]
	s.mu.RUnlock()
	if h == nil {
		return // unknown notifications are ignored
	}
	ctx := &requestState{Context: base, sess: sess}
	defer func() {
		if p := recover(); p != nil {
			s.logger.Error("mcp: panic in notification handler", "method", m.Method, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	if _, err := h(ctx, m.Params); err != nil {
		s.logger.Warn("mcp: notification handler failed", "method", m.Method, "err", err)
	}
}

// handleMessage routes one valid message: a request returns its response
// (nil when cancelled); notifications and responses return nil.
func (s *Server) handleMessage(base context.Context, sess *Session, m *message, out outbox) []byte {
	switch {
	case m.isRequest():
		return s.handleRequest(base, sess, m, out)
	case m.isNotification():
		s.handleNotification(base, sess, m)
	default:
		sess.touch()
		sess.deliverResponse(m)
	}
	return nil
}

// handleBatch answers a JSON-RPC batch (section 6). MCP allowed batches only
// in 2025-03-26 (the 2025-06-18 changelog removed them), and initialize must
// be alone. Requests run in order; their related messages go to the
// session's stream.
func (s *Server) handleBatch(base context.Context, sess *Session, d decodedBody) ([]byte, *JSONRPCError) {
	if err := batchRefused(sess); err != nil {
		return nil, err
	}
	var responses []json.RawMessage
	for i, m := range d.msgs {
		if err := d.errs[i]; err != nil {
			var id json.RawMessage
			if m != nil {
				id = m.ID
			}
			responses = append(responses, encodeResponse(id, nil, err))
			continue
		}
		if m.Method == "initialize" {
			if m.isRequest() {
				responses = append(responses, encodeResponse(m.ID, nil, NewInvalidRequest("invalid request: initialize must not be part of a JSON-RPC batch")))
			}
			continue
		}
		if resp := s.handleMessage(base, sess, m, sess.standalone); resp != nil {
			responses = append(responses, resp)
		}
	}
	if len(responses) == 0 {
		return nil, nil
	}
	b, _ := json.Marshal(responses)
	return b, nil
}

// batchRefused is the error for a batch on a session that may not send
// one, or nil when it may.
func batchRefused(sess *Session) *JSONRPCError {
	switch v := sess.ProtocolVersion(); v {
	case "2025-03-26":
		return nil
	case "":
		return NewInvalidRequest("invalid request: initialize must be sent alone, not in a JSON-RPC batch")
	default:
		return NewInvalidRequest("invalid request: JSON-RPC batches are only accepted with protocol version 2025-03-26; this session negotiated %s", v)
	}
}

// initialize implements lifecycle, "Initialization" and "Version
// Negotiation".
func (s *Server) initialize(sess *Session, params json.RawMessage) (any, *JSONRPCError) {
	var p struct {
		ProtocolVersion *string         `json:"protocolVersion"`
		Capabilities    json.RawMessage `json:"capabilities"`
		ClientInfo      *Implementation `json:"clientInfo"`
	}
	if params == nil {
		return nil, NewInvalidParams("invalid params: initialize requires params with protocolVersion, capabilities and clientInfo")
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, invalidParamsFrom(err)
	}
	if p.ProtocolVersion == nil || *p.ProtocolVersion == "" {
		return nil, NewInvalidParams("invalid params: params.protocolVersion is required")
	}
	if p.ClientInfo == nil {
		return nil, NewInvalidParams("invalid params: params.clientInfo is required")
	}
	if p.Capabilities != nil && p.Capabilities[0] != '{' {
		return nil, NewInvalidParams("invalid params: params.capabilities must be an object")
	}
	// "If the server supports the requested protocol version, it MUST
	// respond with the same version. Otherwise, the server MUST respond with
	// another protocol version it supports" - the latest.
	version := LatestProtocolVersion
	if supportedVersion(*p.ProtocolVersion) {
		version = *p.ProtocolVersion
	}
	if err := sess.setInitialized(version, *p.ClientInfo, p.Capabilities); err != nil {
		return nil, err
	}
	type result struct {
		ProtocolVersion string         `json:"protocolVersion"`
		Capabilities    map[string]any `json:"capabilities"`
		ServerInfo      Implementation `json:"serverInfo"`
		Instructions    string         `json:"instructions,omitempty"`
	}
	caps := s.capabilities(EraLegacy)
	info := s.opts.Info
	if info.Name == "" {
		info.Name = "mcp-server"
	}
	if version == "2024-11-05" || version == "2025-03-26" {
		info.Title = "" // Implementation.title arrived in 2025-06-18
	}
	return &result{ProtocolVersion: version, Capabilities: caps, ServerInfo: info, Instructions: s.opts.Instructions}, nil
}

// invalidParamsFrom turns a params decoding error into -32602 naming the
// field.
func invalidParamsFrom(err error) *JSONRPCError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		// Value holds a number's literal, which may be megabytes long.
		return NewInvalidParams("invalid params: params.%s must not be %s", truncate(te.Field, maxEchoedName), truncate(te.Value, maxEchoedName))
	}
	return NewInvalidParams("invalid params: %s", truncate(err.Error(), 4*maxEchoedName))
}

// DecodeParams decodes params into v, answering -32602 that names the field
// on a type mismatch. Absent params decode as an empty object. The result is
// a plain error (a *JSONRPCError inside, for errors.As), so a handler may
// return it as it is: "return v, mcp.DecodeParams(params, &v)" answers v.
func DecodeParams(params json.RawMessage, v any) error {
	if len(params) == 0 {
		return nil
	}
	if err := json.Unmarshal(params, v); err != nil {
		return invalidParamsFrom(err)
	}
	return nil
}

// Pagination (server/utilities/pagination). A cursor is opaque to clients;
// ours is the base64url of "<list>:<offset>", so a cursor from another list
// or a forged one is recognised and refused with -32602.

// EncodeCursor returns the cursor of the page of list that starts at offset.
func EncodeCursor(list string, offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(list + ":" + strconv.Itoa(offset)))
}

// DecodeCursor returns the offset a cursor of list points at, or -32602 for
// a cursor this server did not issue for that list. The empty cursor is the
// first page. The error is a *JSONRPCError inside a plain error, as with
// DecodeParams.
func DecodeCursor(list, cursor string, total int) (int, error) {
	if cursor == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	rest, ok := strings.CutPrefix(string(raw), list+":")
	if err != nil || !ok {
		return 0, NewInvalidParams("invalid params: params.cursor is not a cursor this server issued")
	}
	off, err := strconv.Atoi(rest)
	if err != nil || off < 0 || off > total || strconv.Itoa(off) != rest {
		return 0, NewInvalidParams("invalid params: params.cursor is not a cursor this server issued (or the list has shrunk)")
	}
	return off, nil
}

// listParams are the params of every list method (pagination,
// "Request Format").
type listParams struct {
	Cursor string `json:"cursor,omitempty"`
}

// listPage cuts one page of items at the cursor and says which cursor comes
// next; cursors are the package's (EncodeCursor), tagged with the list's
// name so that one list's cursor is refused by another. size is the
// server's PageSize, which NewServer makes positive.
func listPage[T any](list string, items []T, cursor string, size int) ([]T, string, error) {
	off, err := DecodeCursor(list, cursor, len(items))
	if err != nil {
		return nil, "", err
	}
	end := min(off+size, len(items))
	next := ""
	if end < len(items) {
		next = EncodeCursor(list, end)
	}
	return items[off:end], next, nil
}

// listTools answers tools/list (server/tools, "Listing Tools").
func (s *Server) listTools(ctx context.Context, params json.RawMessage) (any, error) {
	var p listParams
	if err := DecodeParams(params, &p); err != nil {
		return nil, err
	}
	tools, next, err := listPage("tools", s.opts.Tools.ListTools(ctx), p.Cursor, s.opts.PageSize)
	if err != nil {
		return nil, err
	}
	type result struct {
		Tools      []Tool `json:"tools"`
		NextCursor string `json:"nextCursor,omitempty"`
	}
	return &result{Tools: tools, NextCursor: next}, nil
}

// toolCall returns the name and arguments of a tools/call request, or the
// -32602 error that names the bad field, the error DecodeParams gives for
// {name string, arguments raw} followed by the checks of the schema
// (CallToolRequest: name required, arguments an object). Null arguments
// are passed on as null, meaning none.
func (p *requestParams) toolCall() (string, json.RawMessage, *JSONRPCError) {
	if p.nameType != "" {
		return "", nil, NewInvalidParams("invalid params: params.name must not be %s", p.nameType)
	}
	if len(p.name) <= 2 { // absent, null or ""
		return "", nil, NewInvalidParams("invalid params: params.name is required")
	}
	if len(p.arguments) > 0 && p.arguments[0] != '{' && string(p.arguments) != "null" {
		return "", nil, NewInvalidParams("invalid params: params.arguments must be an object")
	}
	return p.toolName(), p.arguments, nil
}

// toolName is the unquoted name, copied once however often it is asked
// for (a modern call checks its Mcp-Param-* headers by it, then calls it).
func (p *requestParams) toolName() string {
	if p.nameText == "" {
		p.nameText = unquote(p.name)
	}
	return p.nameText
}

// callTool answers tools/call (server/tools, "Calling Tools").
func (s *Server) callTool(ctx context.Context, p *requestParams) (any, error) {
	name, args, rpcErr := p.toolCall()
	if rpcErr != nil {
		return nil, rpcErr
	}
	// The tasks extension (tasks.go): the server decides, per call, to
	// answer with a task the client polls.
	asTask, required, rpcErr := s.taskDecision(ctx, name, p)
	if rpcErr != nil {
		return nil, rpcErr
	}
	if asTask {
		res, err := s.tasks.start(ctx, name, func(ctx context.Context) (*CallToolResult, error) { return s.runTool(ctx, name, args) }, required)
		if res != nil || err != nil {
			return res, err
		}
	}
	res, err := s.runTool(ctx, name, args)
	if err != nil {
		// Only here may cat be taken by address: errors.As on every call
		// cost every call a heap allocation.
		var cat *ContinueAsTask
		if errors.As(err, &cat) {
			return s.continueAsTask(ctx, name, cat)
		}
		return nil, err
	}
	return res, nil
}

// runTool runs a tool synchronously: the ToolSet's answer, its errors
// mapped to the protocol's.
func (s *Server) runTool(ctx context.Context, name string, args json.RawMessage) (*CallToolResult, error) {
	return s.toolOutcome(ctx, name, func(ctx context.Context) (*CallToolResult, error) {
		return s.opts.Tools.CallTool(ctx, name, args)
	})
}

// toolOutcome runs call and maps its errors to the protocol's: unknown
// tool and JSON-RPC errors as errors, the handler's requests for
// input_required or a task passed on, any other failure an isError result.
func (s *Server) toolOutcome(ctx context.Context, name string, call func(context.Context) (*CallToolResult, error)) (*CallToolResult, error) {
	res, err := call(ctx)
	if err != nil {
		if errors.Is(err, ErrUnknownTool) {
			// The name is the client's, of any length up to the body's.
			return nil, NewInvalidParams("invalid params: unknown tool: %s", truncate(name, maxEchoedName))
		}
		if je := noteHTTPError(ctx, err); je != nil {
			return nil, je
		}
		var je *JSONRPCError
		if errors.As(err, &je) {
			return nil, je
		}
		var ir *InputRequired
		if errors.As(err, &ir) {
			return nil, ir // answered as input_required (mrtr.go)
		}
		var cat *ContinueAsTask
		if errors.As(err, &cat) {
			return nil, cat // answered with a task (tasks.go)
		}
		if ctx.Err() != nil {
			return nil, NewInternalError("tool %s was cancelled", name)
		}
		// The ToolSet contract reports failures as results; an error that
		// escapes it is still the tool's failure, so show it to the model.
		return &CallToolResult{Content: []Content{TextContent(err.Error())}, IsError: true}, nil
	}
	if res == nil {
		return nil, fmt.Errorf("tool %s returned no result", name)
	}
	if res.Content == nil {
		res.Content = []Content{} // the schema requires the array
	}
	return res, nil
}

// newKeeper returns a keep-alive goroutine's worth of hijacked streams for
// one handler, known to Shutdown.
func (s *Server) newKeeper(opts *HTTPOptions) *streamKeeper {
	k := newStreamKeeper(opts.keepAlive())
	s.mu.Lock()
	s.keepers = append(s.keepers, k)
	s.mu.Unlock()
	return k
}

// addWorker counts a stream handler or background message handler for
// Shutdown to wait on; it refuses once Shutdown has begun.
func (s *Server) addWorker() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// cancelled acts on notifications/cancelled (basic/utilities/cancellation):
// the named request's context ends, and it gets no response.
func cancelled(sess *Session, params json.RawMessage) {
	var p struct {
		RequestID json.RawMessage `json:"requestId"`
		Reason    string          `json:"reason"`
	}
	if json.Unmarshal(params, &p) == nil && p.RequestID != nil {
		sess.cancelRequest(string(p.RequestID))
	}
}
