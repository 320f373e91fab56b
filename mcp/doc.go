// Package mcp is a server-side implementation of the Model Context Protocol
// (https://modelcontextprotocol.io/specification), written against the
// standard library only so that it can be read beside the specification.
// It negotiates protocol versions 2024-11-05, 2025-03-26, 2025-06-18 and
// 2025-11-25.
//
// The package has three layers, each in its own files:
//
//   - jsonrpc.go: the JSON-RPC 2.0 codec (https://www.jsonrpc.org/specification).
//     A body is decoded once into a small struct; ids and params stay raw JSON,
//     so ids are echoed byte for byte.
//   - server.go and session.go: the MCP lifecycle (initialize, ping,
//     cancellation, progress, logging), tools, and the method table that other
//     files extend with Server.HandleMethod and Server.AddCapability.
//   - streamable.go, sse.go and stream.go: the two HTTP transports, Streamable
//     HTTP (2025-03-26 and later) and the older HTTP+SSE transport
//     (2024-11-05), over one SSE stream implementation.
//
// Design choices the specification leaves open:
//
//   - A POSTed request is answered with application/json unless its handler
//     sends a message (progress, a log message, a server-to-client request)
//     before the result; the first such message turns the response into an
//     SSE stream, which ends after the result.
//   - Streamable HTTP streams are resumable (transports, "Resumability and
//     Redelivery"): event ids are "<stream>-<seq>", a GET with Last-Event-ID
//     replays only what that stream had not delivered, from a bounded log. For
//     2025-11-25 sessions each new stream starts with a priming event (an id,
//     a retry field, empty data).
//   - Messages not related to a request (tools/list_changed) go to the
//     session's standalone GET stream; while none is open they wait, within
//     the same bounds, for the next GET.
//   - A dropped connection does not cancel a request (transports: disconnection
//     "SHOULD NOT be interpreted as the client cancelling its request");
//     notifications/cancelled, the session's end or Server.Shutdown do.
//   - Until a client sends logging/setLevel, messages below info are not sent.
//   - JSON-RPC batches are accepted only in sessions that negotiated
//     2025-03-26, the one revision that had them.
//
// Authentication is the caller's business: a transport is an http.Handler that
// a caller wraps with its own middleware, putting whatever identity it likes
// into the request's context. The transport asks HTTPOptions.SessionOwner for
// an opaque owner string and refuses a session to any request whose owner
// differs from the one that created it.
package mcp
