package mcp

// This file is the package's public contract: the types the rest of the
// product (tools/, main.go, the conformance fixture) programs against.
// Their JSON field names are those of the normative schema,
// schema/2025-11-25/schema.ts in the specification repository.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Protocol versions this package negotiates, newest first. The first entry is
// the one offered when a client asks for a version we do not support
// (lifecycle, "Version Negotiation").
var SupportedProtocolVersions = []string{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

// LatestProtocolVersion is the version answered to a client whose requested
// version is not supported.
const LatestProtocolVersion = "2025-11-25"

// Implementation names a client or server in initialize (schema: Implementation).
type Implementation struct {
	Name    string `json:"name"`
	Title   string `json:"title,omitempty"`
	Version string `json:"version"`
}

// Tool describes one tool in tools/list (schema: Tool).
type Tool struct {
	Name         string           `json:"name"`
	Title        string           `json:"title,omitempty"`
	Description  string           `json:"description,omitempty"`
	InputSchema  json.RawMessage  `json:"inputSchema"`
	OutputSchema json.RawMessage  `json:"outputSchema,omitempty"`
	Annotations  *ToolAnnotations `json:"annotations,omitempty"`
	// Execution says whether a call may run as a task of the tasks
	// extension (tasks.go); the server reads it through TaskSupporter.
	Execution *ToolExecution `json:"execution,omitempty"`
}

// ToolAnnotations are hints about a tool's behaviour (schema: ToolAnnotations).
// Pointers, because an absent hint means "use the spec's default", which is
// not the same as false.
type ToolAnnotations struct {
	Title           string `json:"title,omitempty"`
	ReadOnlyHint    *bool  `json:"readOnlyHint,omitempty"`
	DestructiveHint *bool  `json:"destructiveHint,omitempty"`
	IdempotentHint  *bool  `json:"idempotentHint,omitempty"`
	OpenWorldHint   *bool  `json:"openWorldHint,omitempty"`
}

// Content is one block of a tool result or prompt message (schema:
// ContentBlock: TextContent, ImageContent, AudioContent, ResourceLink,
// EmbeddedResource). Type selects which other fields are meaningful.
type Content struct {
	Type     string            `json:"type"`
	Text     string            `json:"text,omitempty"`
	Data     string            `json:"data,omitempty"`     // base64, for image and audio
	MimeType string            `json:"mimeType,omitempty"` // image, audio, resource_link
	Resource *ResourceContents `json:"resource,omitempty"` // embedded resource
	// ResourceLink fields.
	URI         string `json:"uri,omitempty"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Annotations as the schema defines them (audience, priority, lastModified).
	Annotations json.RawMessage `json:"annotations,omitempty"`
}

// TextContent returns a text content block.
func TextContent(text string) Content { return Content{Type: "text", Text: text} }

// ImageContent returns an image content block; data is base64.
func ImageContent(data, mimeType string) Content {
	return Content{Type: "image", Data: data, MimeType: mimeType}
}

// CallToolResult is the result of tools/call (schema: CallToolResult).
// A tool's own failure is reported here with IsError, not as a JSON-RPC
// error, so that the model can see it and correct itself (tools, "Error
// Handling").
type CallToolResult struct {
	Content           []Content `json:"content"`
	StructuredContent any       `json:"structuredContent,omitempty"`
	IsError           bool      `json:"isError,omitempty"`
}

// ToolSet is what a Server serves in tools/list and tools/call. The context
// carries whatever the caller's HTTP middleware put there (an identity), so
// an implementation can answer per caller.
type ToolSet interface {
	// ListTools returns the tools the caller may see, in a stable order.
	ListTools(ctx context.Context) []Tool
	// CallTool runs a tool. For a name the caller cannot call it returns
	// either an error wrapping ErrUnknownTool (answered as JSON-RPC -32602
	// "unknown tool") or a *JSONRPCError of its own, so that a refusal can
	// say why (which permission is missing). Every other failure should be
	// a result with IsError set, which the model can see and act on.
	CallTool(ctx context.Context, name string, arguments json.RawMessage) (*CallToolResult, error)
}

// ToolLookup is implemented by a ToolSet that can find one tool as the
// caller in ctx would see it in tools/list, without listing all of them:
// the 2026-07-28 binding reads a called tool's inputSchema on every
// tools/call (x-mcp-header, param_headers.go), and a list per call would
// cost an allocation and a permission check per tool. That one lookup,
// with the request's context (as CallTool gets it), also tells the tasks
// extension whether the tool is listed with task support (TaskSupporter).
type ToolLookup interface {
	LookupTool(ctx context.Context, name string) (Tool, bool)
}

// ErrUnknownTool is wrapped by ToolSet.CallTool for a name the caller cannot
// call; the server answers it with JSON-RPC -32602, as the tools page of the
// specification shows.
var ErrUnknownTool = errors.New("unknown tool")

// ServerOptions configure a Server. The zero value of every field is usable.
type ServerOptions struct {
	// Info is returned as serverInfo in initialize.
	Info Implementation
	// Instructions is returned in initialize; clients may add it to the
	// model's system prompt, so say here what the server is for.
	Instructions string
	// Tools, when non-nil, makes the server declare the tools capability.
	Tools ToolSet
	// ToolsVaryByCaller says that Tools answers ListTools per caller (by
	// permission, say): modern tools/list results then carry cacheScope
	// "private", so that no shared cache serves one user's list to
	// another (2026-07-28 server/utilities/caching, "Cache Scope Field").
	// Without it they are "public".
	ToolsVaryByCaller bool
	// Tasks, when non-nil, serves the tasks extension
	// (io.modelcontextprotocol/tasks, tasks.go) in the 2026-07-28 era:
	// tools whose ToolSet says so (TaskSupporter) may run as tasks the
	// client polls.
	Tasks *TaskOptions
	// Relay, for servers in several processes sharing one endpoint, makes
	// NotifyResourceUpdated reach every process: Send(ctx, "", msg) must
	// deliver msg to DeliverRelayed("", msg) of every process, this one
	// included, and each tells its own listeners (subscriptions/listen)
	// and subscribed sessions. Nil: this process only.
	Relay Relay
	// Lease is how long what this process holds for other processes to see
	// (an HTTP+SSE session's shared record and its place in the owner
	// index, a shared task's liveness) stays valid unless renewed; one
	// sweep renews all of it every third of the lease, so a process that
	// dies leaves none of it valid past the lease (lease.go). 0 means 90 s.
	Lease time.Duration
	// StateKey keys the HMAC that seals the requestState of a multi
	// round-trip request (2026-07-28 basic/patterns/mrtr; mrtr.go), so a
	// client can neither read nor change it and it binds the user and the
	// request. Give every process of one deployment the same key (derived
	// from the server secret), or a retry that reaches another process is
	// refused; nil means a random key for this process. At least 32 bytes.
	StateKey []byte
	// PageSize bounds every paginated list; 0 means 50.
	PageSize int
	// Logger receives the server's own diagnostics (panics in handlers,
	// transport failures). Nil means slog.Default().
	Logger *slog.Logger
	// Observe, when set, is called once for each request the server
	// answers (not for notifications), after its response is made, on the
	// request's goroutine, with the request's context (which carries what
	// the HTTP middleware put there). It is for metrics and request logs:
	// keep it quick.
	Observe func(ctx context.Context, r RequestInfo)
}

// HTTPOptions configure the two HTTP transports.
type HTTPOptions struct {
	// SessionOwner names the principal behind a request, typically the
	// authenticated user's subject. A session remembers the owner that
	// created it and answers 403 to any request with another owner, so a
	// session id leaked to another user is useless. Nil means every request
	// has the owner "".
	SessionOwner func(r *http.Request) string
	// SessionCredential names the credential behind a request, typically
	// the OAuth grant its access token was issued from. A session records
	// the credential of the request that created it (initialize on
	// Streamable HTTP, the GET of HTTP+SSE), and keeps it for life. The
	// owner is right for access checks, but one user may hold several
	// credentials (one per client): when one of them is revoked, or the
	// identity behind it changes, only the sessions it opened should be
	// closed or told, which Server.CloseSessionsByCredential and
	// Server.NotifyToolListChangedByCredential do. Nil means every session
	// has the credential "", which those methods never match.
	SessionCredential func(r *http.Request) string
	// AllowedOrigins lists origins (scheme://host[:port]) accepted in the
	// Origin header besides loopback origins; a request with any other
	// Origin gets 403 (transports, "Security Warning": DNS rebinding).
	AllowedOrigins []string
	// MaxBodyBytes caps a POST body; 0 means 4 MiB. Past it: 413.
	MaxBodyBytes int64
	// KeepAlive is the interval of SSE comment lines that keep idle streams
	// open through proxies; 0 means 15 s. A GET stream served over HTTP/1.x
	// (hijacked, see idle.go) is pinged when it carried nothing for half
	// of it, and a client that left is noticed when such a ping fails.
	KeepAlive time.Duration
	// Polling lets a request handler on a session that negotiated
	// 2025-11-25 close its request's SSE connection mid-request with
	// CloseSSEStream; the client resumes the stream with GET and
	// Last-Event-ID (transports, "Resumability and Redelivery"). It costs
	// a goroutine hand-off per POSTed request on such sessions, so it is
	// off unless a handler needs it; without it CloseSSEStream returns
	// ErrStreamNotClosable.
	Polling bool
	// SessionIdleTimeout ends a session that has seen no request and has no
	// open stream for this long (checked every sixteenth of it, at most
	// every minute); 0 means 30 minutes.
	SessionIdleTimeout time.Duration
	// WriteTimeout bounds each write to an SSE stream (a deadline set per
	// write on the connection), so a client that stops reading is dropped
	// while healthy streams may stay open for hours; 0 means 10 s.
	WriteTimeout time.Duration
	// MaxRequestsPerSession bounds the requests of one session in
	// progress at once: received, and their answer not yet written to the
	// connection. Each holds its body and then its answer, and an HTTP+SSE
	// POST is answered 202 at once while its answer waits on the
	// session's stream, so without a bound a client that stops reading
	// its stream could make the server hold any number of answers. Past
	// it, a POSTed request (or batch) gets 429 Too Many Requests with
	// Retry-After and a JSON-RPC error -32000 with the request's id;
	// notifications and responses are always taken. 0 means 16.
	MaxRequestsPerSession int
	// MaxQueuedBytes bounds the server messages waiting for the reader of
	// one stream (an HTTP+SSE stream, a Streamable HTTP GET stream or a
	// POST's SSE response) that reads slower than the server writes. An
	// HTTP+SSE POST arriving while its session's stream holds this much
	// gets 429 with Retry-After, as above. The answers to requests
	// already admitted are always queued, so a stream holds at most this
	// plus MaxRequestsPerSession answers; any other message (a
	// notification, a log message, a server's request) that would take a
	// stream past it ends the connection instead, as a failed write
	// would: a Streamable HTTP client resumes with Last-Event-ID, an
	// HTTP+SSE session ends with its stream. 0 means 4 MiB.
	MaxQueuedBytes int
	// MaxSessionsPerOwner bounds the live sessions of one owner; a new
	// session beyond it ends that owner's least recently active one (its
	// client gets 404 and starts afresh). 0 means 100.
	MaxSessionsPerOwner int
	// Sessions, when set, shares Streamable HTTP sessions between
	// processes serving one endpoint behind a load balancer with no
	// stickiness: a request naming a session another process opened is
	// served here (shared.go says what is and is not shared). Nil: sessions
	// live in this process only.
	Sessions SessionDirectory
	// Relay, with Sessions, carries a client's response to a
	// server-to-client request (sampling, elicitation, roots/list) to the
	// process whose handler waits for it, when the client POSTs it to
	// another. The receiving process hands it to Server.DeliverRelayed.
	Relay Relay
}

// ResourceContents is the content of one resource (schema:
// TextResourceContents and BlobResourceContents): exactly one of Text and
// Blob (base64) is meaningful.
type ResourceContents struct {
	URI      string          `json:"uri"`
	MimeType string          `json:"mimeType,omitempty"`
	Text     string          `json:"text,omitempty"`
	Blob     string          `json:"blob,omitempty"`
	Meta     json.RawMessage `json:"_meta,omitempty"`
}
