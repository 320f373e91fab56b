package mcp

// The modern era, 2026-07-28: what a request carries in params._meta
// instead of a session (basic/index, "_meta", per-request protocol
// fields), the errors the revision adds (basic/index, "Error Codes"), the
// envelope every modern result wears (resultType, serverInfo in _meta, the
// caching hints of server/utilities/caching), and server/discover.

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"

	"remote-mcp-authkit/internal/jsonscan"
)

// The reserved _meta keys of 2026-07-28 (basic/index, "_meta", "Reserved
// keys").
const (
	MetaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	MetaClientInfo         = "io.modelcontextprotocol/clientInfo"
	MetaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
	MetaLogLevel           = "io.modelcontextprotocol/logLevel"
	MetaServerInfo         = "io.modelcontextprotocol/serverInfo"
	MetaSubscriptionID     = "io.modelcontextprotocol/subscriptionId"
)

// The error codes 2026-07-28 allocates from the range it reserves,
// -32020..-32099 (basic/index, "Error Codes"; schema.ts HEADER_MISMATCH,
// MISSING_REQUIRED_CLIENT_CAPABILITY, UNSUPPORTED_PROTOCOL_VERSION). On
// HTTP each is answered with 400 Bad Request.
const (
	CodeHeaderMismatch                  = -32020
	CodeMissingRequiredClientCapability = -32021
	CodeUnsupportedProtocolVersion      = -32022
)

// NewHeaderMismatch returns a -32020 error: an HTTP header disagrees with
// the body, or a required header is missing or malformed
// (basic/transports/streamable-http, "Server Validation").
func NewHeaderMismatch(format string, args ...any) *JSONRPCError {
	return newError(CodeHeaderMismatch, format, args)
}

// NewMissingRequiredClientCapability returns the -32021 error of a request
// that needs client capabilities its _meta did not declare; required is a
// ClientCapabilities object naming them, for example
// map[string]any{"sampling": struct{}{}} (schema:
// MissingRequiredClientCapabilityError, data.requiredCapabilities).
func NewMissingRequiredClientCapability(required map[string]any) *JSONRPCError {
	names := make([]string, 0, len(required))
	for k := range required {
		names = append(names, k)
	}
	slices.Sort(names)
	return errorWithData(&JSONRPCError{Code: CodeMissingRequiredClientCapability,
		Message: "Missing required client capability: " + joinNames(names)},
		map[string]any{"requiredCapabilities": required})
}

// newUnsupportedProtocolVersion is UnsupportedProtocolVersionError
// (basic/versioning, "Protocol Version Negotiation"): the versions served
// through per-request _meta, and the one asked for.
func newUnsupportedProtocolVersion(requested string) *JSONRPCError {
	msg := "Unsupported protocol version"
	if legacyVersion(requested) {
		msg += ": " + requested + " is served through initialize (the legacy era), not per-request _meta"
	}
	return errorWithData(&JSONRPCError{Code: CodeUnsupportedProtocolVersion, Message: msg},
		map[string]any{"supported": ModernProtocolVersions, "requested": truncate(requested, 64)})
}

func joinNames(names []string) string {
	b := []byte{}
	for i, n := range names {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, n...)
	}
	return string(b)
}

// RequestMeta is what a modern request says about itself in params._meta
// (basic/index, "Per-request protocol fields"). Servers must not infer any
// of it from earlier requests (basic/index, "Statelessness").
type RequestMeta struct {
	// ProtocolVersion is io.modelcontextprotocol/protocolVersion.
	ProtocolVersion string
	// ClientCapabilities is io.modelcontextprotocol/clientCapabilities, an
	// object ("{}" declares none).
	ClientCapabilities json.RawMessage
	// LogLevel is io.modelcontextprotocol/logLevel; "" means the request
	// asked for no notifications/message (server/utilities/logging).
	LogLevel LoggingLevel

	clientInfo json.RawMessage // io.modelcontextprotocol/clientInfo, when an object
}

// ClientInfo returns io.modelcontextprotocol/clientInfo, self-reported and
// for display only; the zero Implementation when the client sent none
// (it SHOULD, but servers must serve requests without it).
func (m *RequestMeta) ClientInfo() Implementation {
	var info Implementation
	if m.clientInfo != nil {
		_ = json.Unmarshal(m.clientInfo, &info)
	}
	return info
}

// EraOf reports the era of the request ctx belongs to: EraModern for a
// request served by its _meta, EraLegacy for one in a session (and outside
// any request).
func EraOf(ctx context.Context) Era {
	if rs := requestFromContext(ctx); rs != nil && rs.meta != nil {
		return EraModern
	}
	return EraLegacy
}

// RequestMetaFromContext returns the per-request _meta of the modern
// request ctx belongs to, or nil in the legacy era (where the session's
// ProtocolVersion, ClientInfo and ClientCapabilities hold the same facts).
func RequestMetaFromContext(ctx context.Context) *RequestMeta {
	if rs := requestFromContext(ctx); rs != nil {
		return rs.meta
	}
	return nil
}

// ClientCapabilitiesFromContext returns the capabilities the client
// declared for the request ctx belongs to, in either era: the request's
// _meta (modern) or the session's initialize (legacy); nil outside a
// request.
func ClientCapabilitiesFromContext(ctx context.Context) json.RawMessage {
	rs := requestFromContext(ctx)
	switch {
	case rs == nil:
		return nil
	case rs.meta != nil:
		return rs.meta.ClientCapabilities
	case rs.sess != nil:
		return rs.sess.ClientCapabilities()
	}
	return nil
}

// ClientHasCapability reports whether the client declared capability (a
// top-level member of ClientCapabilities, such as "elicitation") for the
// request ctx belongs to.
func ClientHasCapability(ctx context.Context, capability string) bool {
	for name, v := range jsonscan.Members(ClientCapabilitiesFromContext(ctx)) {
		if jsonscan.Equal(name, capability) && jsonscan.KindOf(v) == jsonscan.Object {
			return true
		}
	}
	return false
}

// readRequestMeta validates the per-request fields of a modern request's
// _meta, which the params walk left in p.x.meta and completes them there:
// protocolVersion (a string) and clientCapabilities (an object) are
// required, clientInfo and logLevel optional. A request missing a required
// field is malformed: -32602, and 400 on HTTP (basic/index, "Per-request
// protocol fields").
func readRequestMeta(p *requestParams) (*RequestMeta, *JSONRPCError) {
	x := p.x
	if x == nil {
		x = &modernParams{}
	}
	switch {
	case !x.hasMeta || x.metaType == jsonscan.Null:
		return nil, NewInvalidParams("invalid params: params._meta is required in protocol version 2026-07-28, with %s and %s (basic/index, \"_meta\"); legacy clients send initialize first", MetaProtocolVersion, MetaClientCapabilities)
	case x.metaType != jsonscan.Object:
		return nil, NewInvalidParams("invalid params: params._meta must be an object, not %s", kindName(x.metaType))
	}
	m := &x.meta
	switch k := jsonscan.KindOf(x.metaVersion); k {
	case jsonscan.Invalid:
		return nil, NewInvalidParams("invalid params: params._meta[%q] is required", MetaProtocolVersion)
	case jsonscan.String:
		m.ProtocolVersion = internVersion(x.metaVersion)
	default:
		return nil, NewInvalidParams("invalid params: params._meta[%q] must be a string, not %s", MetaProtocolVersion, kindName(k))
	}
	switch k := jsonscan.KindOf(m.ClientCapabilities); k {
	case jsonscan.Invalid:
		return nil, NewInvalidParams("invalid params: params._meta[%q] is required ({} declares none)", MetaClientCapabilities)
	case jsonscan.Object:
	default:
		return nil, NewInvalidParams("invalid params: params._meta[%q] must be an object, not %s", MetaClientCapabilities, kindName(k))
	}
	if m.clientInfo != nil {
		if k := jsonscan.KindOf(m.clientInfo); k != jsonscan.Object {
			return nil, NewInvalidParams("invalid params: params._meta[%q] must be an object (Implementation), not %s", MetaClientInfo, kindName(k))
		}
	}
	if level := x.metaLevel; level != nil {
		l, ok := internLevel(level)
		if !ok {
			return nil, NewInvalidParams("invalid params: params._meta[%q] must be one of debug, info, notice, warning, error, critical, alert, emergency", MetaLogLevel)
		}
		m.LogLevel = l
	}
	return m, nil
}

// internLevel reads a logLevel value (server/utilities/logging,
// LoggingLevel): one of the levels, found without a copy when written
// without escapes, as nearly every client writes it; ok is false for any
// other value.
func internLevel(v []byte) (level LoggingLevel, ok bool) {
	if jsonscan.KindOf(v) != jsonscan.String {
		return "", false
	}
	inner := v[1 : len(v)-1]
	for _, l := range levelOrder {
		if string(inner) == string(l) {
			return l, true
		}
	}
	level = LoggingLevel(unquote(v))
	return level, level.severity() >= 0
}

// internVersion is unquote for a protocol version, without a copy when it
// names a revision this package knows (the version of nearly every request).
func internVersion(v []byte) string {
	inner := v[1 : len(v)-1]
	for _, known := range ModernProtocolVersions {
		if string(inner) == known {
			return known
		}
	}
	return unquote(v)
}

// discoverResult is DiscoverResult (server/discover); resultType, _meta
// and the caching hints are added by the modern envelope.
type discoverResult struct {
	SupportedVersions []string       `json:"supportedVersions"`
	Capabilities      map[string]any `json:"capabilities"`
	Instructions      string         `json:"instructions,omitempty"`
}

// discover answers server/discover: the versions served per request, the
// capabilities (with extensions), and the instructions; the identity
// travels in _meta like every modern result's.
func (s *Server) discover(context.Context, json.RawMessage, *requestParams) (any, error) {
	return &discoverResult{SupportedVersions: ModernProtocolVersions, Capabilities: s.capabilities(EraModern), Instructions: s.opts.Instructions}, nil
}

// AddExtension declares an extension (2026-07-28 basic/versioning,
// "Extension Negotiation") in the modern era's capabilities.extensions,
// for example AddExtension("io.modelcontextprotocol/tasks", struct{}{}).
// The legacy initialize result does not carry extensions.
func (s *Server) AddExtension(id string, settings any) {
	s.mu.Lock()
	if s.extensions == nil {
		s.extensions = make(map[string]any)
	}
	s.extensions[id] = settings
	s.mu.Unlock()
}

// capabilities is the ServerCapabilities object of an era: the initialize
// result's (legacy, unchanged since 2025-11-25) or server/discover's
// (modern, with extensions).
func (s *Server) capabilities(era Era) map[string]any {
	caps := map[string]any{"logging": struct{}{}}
	if s.opts.Tools != nil {
		caps["tools"] = map[string]bool{"listChanged": true}
	}
	s.mu.RLock()
	for k, v := range s.caps {
		caps[k] = v
	}
	if era == EraModern && len(s.extensions) > 0 {
		ext := make(map[string]any, len(s.extensions))
		for k, v := range s.extensions {
			ext[k] = v
		}
		caps["extensions"] = ext
	}
	s.mu.RUnlock()
	return caps
}

// serverInfo is the Implementation the server names itself with.
func (s *Server) serverInfo() Implementation {
	info := s.opts.Info
	if info.Name == "" {
		info.Name = "mcp-server"
	}
	if info.Version == "" {
		info.Version = "0"
	}
	return info
}

// modernEnvelope is the members every modern complete result gains:
// resultType (basic/index, "ResultType") and _meta with serverInfo
// (basic/index, "Per-response protocol fields"), written once per server.
func (s *Server) modernEnvelope() []byte {
	s.envOnce.Do(func() {
		info, _ := json.Marshal(s.serverInfo())
		b := []byte(`"resultType":"complete","_meta":{"` + MetaServerInfo + `":`)
		b = append(b, info...)
		s.env = append(b, '}')
		s.metaMember = append([]byte(`"`+MetaServerInfo+`":`), info...)
	})
	return s.env
}

// cacheMembers are the CacheableResult members of m's results
// (server/utilities/caching): ttlMs and cacheScope, "private" where the
// result depends on who asks.
func (s *Server) cacheMembers(m *methodInfo) []byte {
	if m == nil || m.cache == nil {
		return nil
	}
	scope := "public"
	if m.name == "tools/list" && s.opts.ToolsVaryByCaller {
		scope = "private"
	}
	b := append([]byte(`,"ttlMs":`), strconv.FormatInt(m.cache.ttlMs, 10)...)
	return append(b, `,"cacheScope":"`+scope+`"`...)
}

// encodeModernResponse encodes a modern response: an error as in the
// legacy era, a result inside the modern envelope. A result that already
// names its resultType (an InputRequiredResult, say) keeps it and gets no
// caching hints (caching: interim results are not cacheable); one that has
// a _meta of its own gets serverInfo added to it.
func (s *Server) encodeModernResponse(id json.RawMessage, result any, rpcErr *JSONRPCError, m *methodInfo) []byte {
	if rpcErr != nil {
		return encodeResponse(id, nil, rpcErr)
	}
	return s.appendModernResult(nil, id, result, m)
}

// appendModernResult is encodeModernResponse of a result, into dst's
// storage when it has room for what a hand-written result needs (a
// modern JSON answer is encoded into a pooled buffer: see
// responseBuffers).
func (s *Server) appendModernResult(dst []byte, id json.RawMessage, result any, m *methodInfo) []byte {
	if result == nil {
		result = emptyResult
	}
	env := s.modernEnvelope()
	cache := s.cacheMembers(m)
	b := dst[:0]
	if need := responseSize(id, result, nil) + len(env) + len(cache) + 2; cap(b) < need {
		b = make([]byte, 0, need)
	}
	if plainID(id) {
		b = append(b, `{"jsonrpc":"2.0","id":`...)
		b = append(b, id...)
	} else {
		enc, _ := json.Marshal(id)
		b = append(b, `{"jsonrpc":"2.0","id":`...)
		b = append(b, enc...)
	}
	b = append(b, `,"result":`...)
	mark := len(b)
	var ok bool
	switch r := result.(type) {
	case *CallToolResult:
		b, ok = r.appendJSON(b)
	case struct{}:
		b, ok = append(b, '{', '}'), true
	}
	if ok {
		// Results written by hand have neither resultType nor _meta: the
		// envelope's members go first in their object, in place.
		b = insertMembers(b, mark+1, env, cache)
		return append(b, '}')
	}
	b = b[:mark]
	rb, err := json.Marshal(result)
	if err != nil || jsonscan.KindOf(rb) != jsonscan.Object {
		return encodeResponse(id, nil, NewInternalError("internal error: result could not be encoded"))
	}
	b = s.appendEnveloped(b, rb, cache)
	return append(b, '}')
}

// insertMembers inserts the members env and cache at b[at], just after an
// object's opening brace, with the comma that separates them from the
// object's own members if it has any; b's spare capacity is used first.
func insertMembers(b []byte, at int, env, cache []byte) []byte {
	n := len(env) + len(cache)
	comma := b[at] != '}'
	if comma {
		n++
	}
	end := len(b)
	b = append(b, make([]byte, n)...)
	copy(b[at+n:], b[at:end])
	at += copy(b[at:], env)
	at += copy(b[at:], cache)
	if comma {
		b[at] = ','
	}
	return b
}

// appendEnveloped appends the result object rb with the modern envelope
// merged in.
func (s *Server) appendEnveloped(b, rb, cache []byte) []byte {
	var meta []byte
	hasType, complete := false, true
	for name, value := range jsonscan.Members(rb) {
		switch {
		case jsonscan.Equal(name, "resultType"):
			hasType = true
			complete = jsonscan.Equal(value, "complete")
		case jsonscan.Equal(name, "_meta") && jsonscan.KindOf(value) == jsonscan.Object:
			meta = value
		}
	}
	if !complete {
		cache = nil
	}
	b = append(b, '{')
	if !hasType {
		b = append(b, `"resultType":"complete",`...)
	}
	if meta == nil {
		b = append(b, `"_meta":{`...)
		b = append(b, s.metaMember...)
		b = append(b, "},"...)
	}
	n := 0
	for name, value := range jsonscan.Members(rb) {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, name...)
		b = append(b, ':')
		if meta != nil && jsonscan.Equal(name, "_meta") && &value[0] == &meta[0] {
			b = append(b, '{')
			b = append(b, s.metaMember...)
			if inner := trimLeadingSpace(value[1:]); len(inner) > 0 && inner[0] != '}' {
				b = append(b, ',')
				b = append(b, inner...)
			} else {
				b = append(b, '}')
			}
			continue
		}
		b = append(b, value...)
	}
	if n == 0 {
		b = b[:len(b)-1] // the comma after the envelope
	}
	b = append(b, cache...)
	return append(b, '}')
}
