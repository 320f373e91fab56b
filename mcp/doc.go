// Package mcp is a server-side implementation of the Model Context Protocol
// (https://modelcontextprotocol.io/specification), written against the
// standard library only so that it can be read beside the specification.
//
// It serves two eras of the protocol side by side on one endpoint (2026-07-28
// basic/versioning, "Backward Compatibility with Initialization-Based
// Versions"):
//
//   - the legacy era, 2024-11-05, 2025-03-26, 2025-06-18 and 2025-11-25:
//     initialize opens a session that fixes the version and the client's
//     capabilities; the server may send requests of its own (sampling,
//     elicitation, roots);
//   - the modern era, 2026-07-28: no handshake and no session; every request
//     carries its version, client capabilities and client info in
//     params._meta, every result carries resultType and the server's identity
//     in _meta, server/discover describes the server, and long-lived
//     notifications travel on the response of subscriptions/listen.
//
// A request whose MCP-Protocol-Version header names a modern revision, or
// whose _meta names a protocol version, is served statelessly; an initialize
// selects a legacy session, exactly as before the modern era existed.
// HTTP+SSE (/sse) is legacy only.
//
// # Where to read
//
// Start with protocol.go: one table lists every method and notification,
// the eras it exists in, the capability it needs, the section of the
// specification that defines it, and its handler. Then:
//
//   - api.go: the public types (Tool, CallToolResult, ToolSet, the options).
//   - protocol.go: the index above, and the Era type.
//   - modern.go: the modern era's per-request _meta (RequestMeta, EraOf,
//     ClientHasCapability), its error codes (-32020, -32021, -32022), the
//     result envelope (resultType, serverInfo, ttlMs and cacheScope) and
//     server/discover.
//   - server.go: the dispatcher (Server.call) and the legacy lifecycle
//     (initialize), tools/list and tools/call, pagination.
//   - session.go: legacy sessions, cancellation, logging (Log, deprecated by
//     2026-07-28), progress (NotifyProgress), in both eras.
//   - client_requests.go: server-to-client requests of legacy sessions
//     (sampling, deprecated by 2026-07-28; elicitation). Elicit and
//     CreateMessage are the one API a handler uses in every era.
//   - mrtr.go: multi round-trip requests (2026-07-28
//     basic/patterns/mrtr): InputRequired and InputRequiredResult instead
//     of server-to-client requests, the HMAC-sealed requestState.
//   - tasks.go: the tasks extension (io.modelcontextprotocol/tasks,
//     SEP-2663): CreateTaskResult, tasks/get, tasks/update, tasks/cancel,
//     tasks bound to their owner, and the TaskStore seam with its contract.
//   - resources.go, prompts.go, completion.go: the server features.
//   - listen.go: subscriptions/listen (modern).
//   - credential.go: closing or notifying what one credential opened
//     (legacy sessions and modern listeners alike).
//   - The transports: streamable.go (Streamable HTTP, legacy sessions, GET
//     and DELETE), streamable_modern.go (the 2026-07-28 binding: header
//     checks, JSON-or-SSE per request, no resumability), param_headers.go
//     (x-mcp-header), sse.go (HTTP+SSE, 2024-11-05, deprecated), polling.go
//     (2025-11-25 SSE polling), httputil.go (Origin, Accept, bodies).
//   - The plumbing that keeps the hot path cheap, behind small seams:
//     jsonrpc.go (one-pass decoding over internal/jsonscan), response_json.go
//     and content_json.go (hand-written encoders, checked byte for byte
//     against encoding/json), stream.go (SSE streams and their replay log;
//     sseWriter writes through an sseSink), idle.go (the hijacked sink that
//     lets an idle stream cost no goroutine), shrink.go (maps that give
//     memory back).
//
// Design choices the specification leaves open:
//
//   - A POSTed request is answered with application/json unless its handler
//     sends a message (progress, a log message, a server-to-client request)
//     before the result; the first such message turns the response into an
//     SSE stream, which ends after the result. Both eras.
//   - Legacy Streamable HTTP streams are resumable (2025-11-25 transports,
//     "Resumability and Redelivery"): event ids are "<stream>-<seq>", a GET
//     with Last-Event-ID replays only what that stream had not delivered,
//     from a bounded log. For 2025-11-25 sessions each new stream starts with
//     a priming event. Modern streams have no ids and no replay (2026-07-28
//     removed resumability).
//   - With HTTPOptions.Polling, a handler on a 2025-11-25 session may close
//     its request's connection mid-request (CloseSSEStream, polling.go).
//   - Legacy messages not related to a request (tools/list_changed) go to
//     the session's standalone GET stream; while none is open they wait,
//     within the same bounds, for the next GET. Modern change notifications
//     go only to listeners that opted in, tagged with their subscriptionId.
//   - A dropped connection does not cancel a legacy request (2025-11-25
//     transports: disconnection "SHOULD NOT be interpreted as the client
//     cancelling its request"); it does cancel a modern one (2026-07-28
//     streamable-http, "Cancellation").
//   - Legacy logging: until a client sends logging/setLevel, messages below
//     info are not sent. Modern: no notifications/message unless the
//     request's _meta sets io.modelcontextprotocol/logLevel.
//   - JSON-RPC batches are accepted only in sessions that negotiated
//     2025-03-26, the one revision that had them.
//   - A modern listener is kept as a session nobody can name, so it counts
//     against HTTPOptions.MaxSessionsPerOwner and is reached by the same
//     owner and credential operations as a legacy session's GET stream.
//
// Authentication is the caller's business: a transport is an http.Handler that
// a caller wraps with its own middleware, putting whatever identity it likes
// into the request's context. The transport asks HTTPOptions.SessionOwner for
// an opaque owner string and refuses a session to any request whose owner
// differs from the one that created it. It also records
// HTTPOptions.SessionCredential, the credential the session (or listener)
// was opened with, so that the caller can close or notify what one revoked
// or changed credential opened (Server.CloseSessionsByCredential,
// Server.NotifyToolListChangedByCredential).
package mcp
