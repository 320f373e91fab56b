package main

// The operator's view of the whole product, through its real listeners:
// rate limits reached by real calls, the metrics endpoint held to promtool,
// the request log and the audit trail.

import (
	"context"
	"strings"
	"testing"
)

// signedIn starts a development-mode server with extra flags and returns an
// initialized Streamable HTTP session signed in as email.
func signedIn(ctx context.Context, t *testing.T, email string, extra ...string) (*testServer, *streamable) {
	t.Helper()
	srv := startServerArgs(t, false, "", extra...)
	c := discover(ctx, t, srv.base+"/mcp")
	c.register(ctx, t, "ops client")
	tok := c.authorize(ctx, t, newBrowser(t), email)
	m := newStreamable(ctx, srv.base+"/mcp", tok.AccessToken)
	m.initialize(t)
	return srv, m
}

// An operator's limit is reached by real calls: the third add within the
// minute is an isError result that says when to retry.
func TestToolRateLimitReached(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	_, m := signedIn(ctx, t, "grace@example.com", "-tool-rate-limits", "add=2/1m")
	for i := range 2 {
		r, rerr := callTool(t, m, "add", map[string]any{"a": 1, "b": i})
		if rerr != nil || r.IsError {
			t.Fatalf("call %d within the limit: %+v %v", i, r, rerr)
		}
	}
	r, rerr := callTool(t, m, "add", map[string]any{"a": 1, "b": 2})
	if rerr != nil || !r.IsError || !strings.Contains(r.Content[0].Text, "rate limited: add may be called 2 times per 1m0s by each user; retry after 30 seconds") {
		t.Fatalf("past the limit: %+v %v", r, rerr)
	}
}
