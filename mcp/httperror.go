package mcp

// An error answered at the HTTP level as well as in JSON-RPC: the seam for
// MCP 2026-07-28 "Runtime Insufficient Scope Errors" (a tool call needing
// scopes its token lacks is answered 403 with a WWW-Authenticate
// challenge, RFC 6750 s3.1), which the authorization layer knows and this
// package does not.

import (
	"errors"
	"net/http"
)

// HTTPError is an error a ToolSet or MethodHandler returns when the answer
// must reach the client's HTTP layer, not only its JSON-RPC layer. Over
// Streamable HTTP, a POST carrying that one request is answered with
// Status, Header and the JSON-RPC error RPC as its body. Where no status of
// its own can be sent (HTTP+SSE, a batch, a response already streaming
// because the handler sent messages first) the client gets RPC alone, as
// for any JSON-RPC error.
type HTTPError struct {
	Status int
	Header http.Header
	RPC    *JSONRPCError
}

// Error is the JSON-RPC error's text.
func (e *HTTPError) Error() string { return e.RPC.Error() }

// Unwrap lets errors.As find the JSON-RPC error.
func (e *HTTPError) Unwrap() error { return e.RPC }

// httpResponder is an outbox whose request has an HTTP response of its
// own, not yet begun, that can carry an HTTPError's status and headers.
type httpResponder interface {
	failHTTP(*HTTPError)
}

// noteHTTPError tells the transport serving ctx's request about err's
// HTTPError, if it has one, and returns its JSON-RPC error; nil when err
// carries none.
func noteHTTPError(ctx interface{ Value(any) any }, err error) *JSONRPCError {
	var he *HTTPError
	if !errors.As(err, &he) || he.RPC == nil {
		return nil
	}
	if rs, _ := ctx.Value(requestKey{}).(*requestState); rs != nil {
		if h, ok := rs.out.(httpResponder); ok {
			h.failHTTP(he)
		}
	}
	return he.RPC
}
