package mcp

// The index of the protocol: every method and notification this package
// knows, the eras it exists in, the capability it needs, the section of the
// specification that defines it, and the function that answers it. A reader
// starts here; the dispatcher (Server.call) reads nothing else.
//
// Two eras share the one /mcp endpoint (2026-07-28 basic/versioning,
// "Backward Compatibility with Initialization-Based Versions"):
//
//   - Legacy (2024-11-05 .. 2025-11-25): initialize opens a session; the
//     session fixes the version and the client's capabilities; the server
//     may send requests of its own (sampling, elicitation, roots, ping).
//   - Modern (2026-07-28): no handshake and no session; each request carries
//     its version, client capabilities and client info in params._meta, and
//     every result carries resultType and the server's identity in _meta.

import (
	"context"
	"encoding/json"
	"slices"
)

// Era is a set of protocol eras; a method exists in one or both.
type Era uint8

const (
	// EraLegacy is the initialize-based revisions, 2024-11-05 to 2025-11-25
	// (2026-07-28 basic/versioning, "Terminology": legacy).
	EraLegacy Era = 1 << iota
	// EraModern is the stateless revision 2026-07-28: per-request _meta,
	// no session (basic/index, "Statelessness").
	EraModern
	// BothEras is a method both eras define, with the same params.
	BothEras = EraLegacy | EraModern
)

// String names the era as the specification does.
func (e Era) String() string {
	switch e {
	case EraLegacy:
		return "legacy"
	case EraModern:
		return "modern"
	case BothEras:
		return "legacy and modern"
	}
	return "none"
}

// ModernProtocolVersions are the per-request-_meta revisions this package
// serves statelessly, newest first: the server/discover supportedVersions
// and the data.supported of UnsupportedProtocolVersionError. The legacy
// revisions (SupportedProtocolVersions) are reached through initialize.
var ModernProtocolVersions = []string{"2026-07-28"}

// direction says who sends a message and whether it is answered.
type direction uint8

const (
	clientRequest      direction = iota // answered by the server
	clientNotification                  // acted on, never answered
	serverRequest                       // sent by the server, answered by the client
	serverNotification                  // sent by the server
)

// handlerFunc answers one client request. p is what readParams read of the
// params in its one walk (progress token, tool name and arguments, _meta).
type handlerFunc func(s *Server, ctx context.Context, params json.RawMessage, p *requestParams) (any, error)

// cacheHint is what a modern CacheableResult carries (2026-07-28
// server/utilities/caching): ttlMs. The cacheScope is the server's to
// decide (Server.cacheMembers, by ServerOptions.ToolsVaryByCaller).
type cacheHint struct {
	ttlMs int64
}

// methodInfo is one row of the index.
type methodInfo struct {
	name string
	dir  direction
	eras Era
	// capability is the server capability (for client requests) that must
	// be declared for the method to be served, or the client capability a
	// server-to-client message needs; "" for the core protocol.
	capability string
	// spec names the defining section: revision, then page and heading.
	spec string
	// deprecated marks features 2026-07-28 deprecates (SEP-2577: roots,
	// sampling, logging); they keep working where their era has them.
	deprecated bool
	// cache, on modern CacheableResult methods, is the hint sent with
	// every complete result.
	cache *cacheHint
	// handle answers a client request; nil where it is answered before
	// dispatch (initialize, which makes the session's state:
	// Server.handleRequest; subscriptions/listen, whose response is a
	// stream: the transport) or for server-sent messages.
	handle handlerFunc
	// notify acts on a client notification of a legacy session; nil ones
	// go to a HandleMethod handler, if any, or are ignored.
	notify func(sess *Session, params json.RawMessage)
}

// listTTL is the freshness hint of the lists and reads: a minute, after
// which a client asks again; a list_changed notification (legacy stream or
// modern subscriptions/listen) invalidates sooner.
const listTTL = 60_000

// protocol is the index. Sections are written "<revision> <page>, \"<heading>\"";
// for methods both eras define, the newer text is cited.
var protocol = []methodInfo{
	// Lifecycle and discovery.
	{name: "initialize", dir: clientRequest, eras: EraLegacy,
		spec: "2025-11-25 basic/lifecycle, \"Initialization\""}, // answered by Server.handleRequest: it sets up the session
	{name: "notifications/initialized", dir: clientNotification, eras: EraLegacy,
		spec: "2025-11-25 basic/lifecycle, \"Initialization\"", notify: func(sess *Session, _ json.RawMessage) { sess.markReady() }},
	{name: "server/discover", dir: clientRequest, eras: EraModern,
		spec: "2026-07-28 server/discover", cache: &cacheHint{ttlMs: listTTL},
		handle: (*Server).discover},
	{name: "ping", dir: clientRequest, eras: EraLegacy,
		spec:   "2025-11-25 basic/utilities/ping (removed in 2026-07-28)",
		handle: func(*Server, context.Context, json.RawMessage, *requestParams) (any, error) { return emptyResult, nil }},
	{name: "ping", dir: serverRequest, eras: EraLegacy,
		spec: "2025-11-25 basic/utilities/ping"},
	{name: "notifications/cancelled", dir: clientNotification, eras: EraLegacy,
		spec: "2025-11-25 basic/utilities/cancellation (2026-07-28 HTTP: closing the response stream cancels)", notify: cancelled},
	{name: "notifications/progress", dir: serverNotification, eras: BothEras,
		spec: "2026-07-28 basic/patterns/progress"},

	// Subscriptions (modern) and the legacy resource subscriptions they replace.
	{name: "subscriptions/listen", dir: clientRequest, eras: EraModern,
		spec: "2026-07-28 basic/patterns/subscriptions"}, // the transport answers it: its response is a stream
	{name: "notifications/subscriptions/acknowledged", dir: serverNotification, eras: EraModern,
		spec: "2026-07-28 basic/patterns/subscriptions, \"Acknowledgment\""},

	// Tools.
	{name: "tools/list", dir: clientRequest, eras: BothEras, capability: "tools",
		spec: "2026-07-28 server/tools, \"Listing Tools\"", cache: &cacheHint{ttlMs: listTTL},
		handle: func(s *Server, ctx context.Context, params json.RawMessage, _ *requestParams) (any, error) {
			return s.listTools(ctx, params)
		}},
	{name: "tools/call", dir: clientRequest, eras: BothEras, capability: "tools",
		spec: "2026-07-28 server/tools, \"Calling Tools\"",
		handle: func(s *Server, ctx context.Context, _ json.RawMessage, p *requestParams) (any, error) {
			return s.callTool(ctx, p)
		}},
	// The tasks extension (io.modelcontextprotocol/tasks, tasks.go): a
	// tools/call may answer with a task, polled, updated and cancelled
	// through these. The capability is the extension's, on when
	// ServerOptions.Tasks is set; the client must declare it per request.
	{name: "tasks/get", dir: clientRequest, eras: EraModern, capability: "tasks",
		spec: "2026-07-28 extension io.modelcontextprotocol/tasks (SEP-2663), \"Task Polling\"", handle: (*Server).tasksGet},
	{name: "tasks/update", dir: clientRequest, eras: EraModern, capability: "tasks",
		spec: "2026-07-28 extension io.modelcontextprotocol/tasks (SEP-2663), \"Task Update Requests\"", handle: (*Server).tasksUpdate},
	{name: "tasks/cancel", dir: clientRequest, eras: EraModern, capability: "tasks",
		spec: "2026-07-28 extension io.modelcontextprotocol/tasks (SEP-2663), \"Task Cancellation\"", handle: (*Server).tasksCancel},
	{name: "notifications/tools/list_changed", dir: serverNotification, eras: BothEras, capability: "tools",
		spec: "2026-07-28 server/tools, \"List Changed Notification\""},

	// Resources.
	{name: "resources/list", dir: clientRequest, eras: BothEras, capability: "resources",
		spec: "2026-07-28 server/resources, \"Listing Resources\"", cache: &cacheHint{ttlMs: listTTL},
		handle: withResources(func(t *resourceTable, s *Server, _ context.Context, params json.RawMessage) (any, error) {
			return t.list(params, s.PageSize())
		})},
	{name: "resources/templates/list", dir: clientRequest, eras: BothEras, capability: "resources",
		spec: "2026-07-28 server/resources, \"Resource Templates\"", cache: &cacheHint{ttlMs: listTTL},
		handle: withResources(func(t *resourceTable, s *Server, _ context.Context, params json.RawMessage) (any, error) {
			return t.listTemplates(params, s.PageSize())
		})},
	{name: "resources/read", dir: clientRequest, eras: BothEras, capability: "resources",
		spec: "2026-07-28 server/resources, \"Reading Resources\"", cache: &cacheHint{ttlMs: listTTL},
		handle: withResources(func(t *resourceTable, _ *Server, ctx context.Context, params json.RawMessage) (any, error) {
			return t.read(ctx, params)
		})},
	{name: "resources/subscribe", dir: clientRequest, eras: EraLegacy, capability: "resources",
		spec:   "2025-11-25 server/resources, \"Subscriptions\" (2026-07-28: subscriptions/listen)",
		handle: withResources(subscribeResource)},
	{name: "resources/unsubscribe", dir: clientRequest, eras: EraLegacy, capability: "resources",
		spec:   "2025-11-25 server/resources, \"Subscriptions\"",
		handle: withResources(unsubscribeResource)},
	{name: "notifications/resources/list_changed", dir: serverNotification, eras: BothEras, capability: "resources",
		spec: "2026-07-28 server/resources, \"List Changed Notification\""},
	{name: "notifications/resources/updated", dir: serverNotification, eras: BothEras, capability: "resources",
		spec: "2026-07-28 basic/patterns/subscriptions (legacy: after resources/subscribe)"},

	// Prompts.
	{name: "prompts/list", dir: clientRequest, eras: BothEras, capability: "prompts",
		spec: "2026-07-28 server/prompts, \"Listing Prompts\"", cache: &cacheHint{ttlMs: listTTL},
		handle: withPrompts(func(t *promptTable, s *Server, _ context.Context, params json.RawMessage) (any, error) {
			return t.list(params, s.PageSize())
		})},
	{name: "prompts/get", dir: clientRequest, eras: BothEras, capability: "prompts",
		spec: "2026-07-28 server/prompts, \"Getting a Prompt\"",
		handle: withPrompts(func(t *promptTable, _ *Server, ctx context.Context, params json.RawMessage) (any, error) {
			return t.get(ctx, params)
		})},
	{name: "notifications/prompts/list_changed", dir: serverNotification, eras: BothEras, capability: "prompts",
		spec: "2026-07-28 server/prompts, \"List Changed Notification\""},

	// Completion.
	{name: "completion/complete", dir: clientRequest, eras: BothEras, capability: "completions",
		spec: "2026-07-28 server/utilities/completion", handle: (*Server).complete},

	// Logging (deprecated by 2026-07-28, SEP-2577). Legacy: a session level
	// set by logging/setLevel; modern: _meta io.modelcontextprotocol/logLevel
	// per request, and no message without it.
	{name: "logging/setLevel", dir: clientRequest, eras: EraLegacy, capability: "logging", deprecated: true,
		spec: "2025-11-25 server/utilities/logging (2026-07-28: _meta logLevel)",
		handle: func(s *Server, ctx context.Context, params json.RawMessage, _ *requestParams) (any, error) {
			return s.setLevel(ctx, params)
		}},
	{name: "notifications/message", dir: serverNotification, eras: BothEras, capability: "logging", deprecated: true,
		spec: "2026-07-28 server/utilities/logging"},

	// Server-to-client requests: legacy sessions only. The modern era asks
	// through an InputRequiredResult instead (2026-07-28
	// basic/patterns/mrtr).
	{name: "sampling/createMessage", dir: serverRequest, eras: EraLegacy, capability: "sampling", deprecated: true,
		spec: "2025-11-25 client/sampling"},
	{name: "elicitation/create", dir: serverRequest, eras: EraLegacy, capability: "elicitation",
		spec: "2025-11-25 client/elicitation"},
	{name: "roots/list", dir: serverRequest, eras: EraLegacy, capability: "roots", deprecated: true,
		spec: "2025-11-25 client/roots"},
	{name: "notifications/roots/list_changed", dir: clientNotification, eras: EraLegacy, capability: "roots", deprecated: true,
		spec: "2025-11-25 client/roots (removed in 2026-07-28)"},
}

// clientMethods indexes the client requests of protocol by name.
var clientMethods = func() map[string]*methodInfo {
	m := make(map[string]*methodInfo)
	for i := range protocol {
		if protocol[i].dir == clientRequest {
			m[protocol[i].name] = &protocol[i]
		}
	}
	return m
}()

// clientNotifications indexes the client notifications of protocol.
var clientNotifications = func() map[string]*methodInfo {
	m := make(map[string]*methodInfo)
	for i := range protocol {
		if protocol[i].dir == clientNotification {
			m[protocol[i].name] = &protocol[i]
		}
	}
	return m
}()

// Methods lists the index for documentation and tests: each method or
// notification with its direction, eras, capability, section and whether
// 2026-07-28 deprecates it.
func Methods() []MethodDoc {
	out := make([]MethodDoc, 0, len(protocol))
	for _, m := range protocol {
		out = append(out, MethodDoc{Name: m.name, Direction: [...]string{"client request", "client notification", "server request", "server notification"}[m.dir],
			Eras: m.eras, Capability: m.capability, Spec: m.spec, Deprecated: m.deprecated})
	}
	return out
}

// MethodDoc is one row of the protocol index, as Methods reports it.
type MethodDoc struct {
	Name       string
	Direction  string
	Eras       Era
	Capability string
	Spec       string
	Deprecated bool
}

// serves reports whether the server answers the methods that need
// capability: tools when it has a ToolSet, logging always, the others once
// something registered declared them.
func (s *Server) serves(capability string) bool {
	switch capability {
	case "":
		return true
	case "tools":
		return s.opts.Tools != nil
	case "logging":
		return true
	case "tasks":
		return s.tasks != nil
	}
	s.mu.RLock()
	_, ok := s.caps[capability]
	s.mu.RUnlock()
	return ok
}

// withResources adapts a resource-table method to the index; the table
// exists once a resource or template was added, which also declared the
// capability the dispatcher checked.
func withResources(f func(t *resourceTable, s *Server, ctx context.Context, params json.RawMessage) (any, error)) handlerFunc {
	return func(s *Server, ctx context.Context, params json.RawMessage, _ *requestParams) (any, error) {
		s.features.mu.Lock()
		t := s.features.resources
		s.features.mu.Unlock()
		if t == nil {
			return nil, NewMethodNotFound("method not found: this server has no resources")
		}
		return f(t, s, ctx, params)
	}
}

// withPrompts is withResources for the prompt table.
func withPrompts(f func(t *promptTable, s *Server, ctx context.Context, params json.RawMessage) (any, error)) handlerFunc {
	return func(s *Server, ctx context.Context, params json.RawMessage, _ *requestParams) (any, error) {
		s.features.mu.Lock()
		t := s.features.prompts
		s.features.mu.Unlock()
		if t == nil {
			return nil, NewMethodNotFound("method not found: this server has no prompts")
		}
		return f(t, s, ctx, params)
	}
}

// eraMethodNotFound is -32601 for a method that exists, but not in the era
// of the request (2026-07-28 removed ping, logging/setLevel,
// resources/subscribe and initialize; legacy sessions have no
// server/discover).
func eraMethodNotFound(m *methodInfo, era Era) *JSONRPCError {
	return NewMethodNotFound("method not found: %s is a %s-era method (%s); this request is in the %s era", m.name, m.eras, m.spec, era)
}

// legacyVersion reports whether v is one of the initialize-era revisions.
func legacyVersion(v string) bool { return slices.Contains(SupportedProtocolVersions, v) }

// modernVersion reports whether v is a revision served statelessly.
func modernVersion(v string) bool { return slices.Contains(ModernProtocolVersions, v) }
