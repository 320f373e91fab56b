// Package mcp is a server-side implementation of the Model Context Protocol
// (https://modelcontextprotocol.io/specification), written against the
// standard library only so that it can be read beside the specification.
//
// The package has three layers, each in its own files:
//
//   - jsonrpc.go: the JSON-RPC 2.0 codec (https://www.jsonrpc.org/specification).
//   - server.go and its neighbours: the MCP lifecycle (initialize, ping,
//     cancellation, progress, logging) and the method table (tools, resources,
//     prompts, completion, server-to-client requests).
//   - streamable.go and sse.go: the two HTTP transports, Streamable HTTP
//     (2025-03-26 and later) and the older HTTP+SSE transport (2024-11-05).
//
// Authentication is the caller's business: a transport is an http.Handler that
// a caller wraps with its own middleware, putting whatever identity it likes
// into the request's context. The transport asks HTTPOptions.SessionOwner for
// an opaque owner string and refuses a session to any request whose owner
// differs from the one that created it.
package mcp
