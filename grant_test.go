package main

// End-to-end: one user, several grants. A user who signs in with two MCP
// clients holds two grants, each with its own tokens and its own snapshot
// of her identity (RFC 6749 s1.3: a grant is one client's authorization).
// MCP sessions are owned by the user, but they are opened with one grant's
// token, and what happens to that grant concerns them alone: a refresh
// that brings new permissions tells only that grant's sessions their tool
// list changed (server/tools, "List Changed Notification"), and revoking
// the grant (RFC 7009) ends its sessions and their open streams at once,
// while the user's other sessions go on.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// waitEnd waits for the server to end a stream, and checks that it ended
// as a complete HTTP response (EOF after the last chunk), not a cut
// connection.
func (s *sseStream) waitEnd(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s.done:
		if !errors.Is(s.err, io.EOF) {
			t.Fatalf("%s ended uncleanly: %v", what, s.err)
		}
	case <-time.After(eventWait):
		t.Fatalf("%s still open %v after its grant was revoked", what, eventWait)
	}
}

// pingFirst sends ping over HTTP+SSE and checks that its answer is the
// next message on the stream: nothing was sent to the session before it.
func (c *legacySSE) pingFirst(t *testing.T, what string) {
	t.Helper()
	c.next++
	if st := c.send(t, map[string]any{"jsonrpc": "2.0", "id": c.next, "method": "ping"}); st != http.StatusAccepted {
		t.Fatalf("%s: ping: %d, want 202", what, st)
	}
	m := c.stream.waitMessage(t, func(*rpcMessage) bool { return true })
	if m.Method != "" || string(m.ID) != fmt.Sprint(c.next) {
		t.Fatalf("%s was sent %+v before the answer to ping", what, m)
	}
}

func TestGrantsOfOneUser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv := startServer(t, serverConfig{external: true})
	mcpURL, sseURL := srv.base+"/mcp", srv.base+"/sse"
	browser := newBrowser(t)
	isListChanged := func(m *rpcMessage) bool { return m.Method == "notifications/tools/list_changed" }

	// Ada signs in with two MCP clients, A and B; each holds a grant for
	// /mcp and one for /sse, and opens a session with a standalone stream
	// on each transport.
	type client struct {
		name             string
		mcpAuth, sseAuth *oauthClient
		mcpTok, sseTok   tokenSet
		mcp              *streamable
		mcpStream        *sseStream
		sse              *legacySSE
	}
	signIn := func(name string) *client {
		c := &client{name: name}
		c.mcpAuth = discover(ctx, t, mcpURL)
		c.mcpAuth.register(ctx, t, "Ada's client "+name)
		c.mcpTok = c.mcpAuth.authorize(ctx, t, browser, "ada@example.com")
		c.sseAuth = discover(ctx, t, sseURL)
		c.sseAuth.clientID, c.sseAuth.redirectURI = c.mcpAuth.clientID, c.mcpAuth.redirectURI
		c.sseTok = c.sseAuth.authorize(ctx, t, browser, "ada@example.com")
		c.mcp = newStreamable(ctx, mcpURL, c.mcpTok.AccessToken)
		c.mcp.initialize(t)
		c.mcpStream = c.mcp.listen(t)
		c.sse = openLegacySSE(ctx, t, sseURL, c.sseTok.AccessToken)
		c.sse.initialize(t)
		if got, want := toolNames(t, c.mcp), []string{"add", "whoami", "generateImage"}; !sameSet(got, want) {
			t.Fatalf("client %s: Ada's tools %v, want %v", name, got, want)
		}
		return c
	}
	a, b := signIn("A"), signIn("B")

	// Both grants are Ada's: the owner check lets one of her tokens use a
	// session another of her tokens opened.
	borrowed := newStreamable(ctx, mcpURL, b.mcpTok.AccessToken)
	borrowed.sessionID, borrowed.version = a.mcp.sessionID, a.mcp.version
	mustCall(t, borrowed, "ping", map[string]any{})

	// An administrator takes image_generation away from Ada. Client A
	// refreshes its /mcp grant: that grant's stream hears list_changed and
	// its list shrinks. Ada's other grants still carry the permissions they
	// were issued with, so their sessions are told nothing.
	if err := srv.emu.SetPermissions("ada@example.com", nil); err != nil {
		t.Fatal(err)
	}
	a.mcpTok = a.mcpAuth.refresh(ctx, t, a.mcpTok.RefreshToken)
	a.mcpStream.waitMessage(t, isListChanged)
	a.mcp.token = a.mcpTok.AccessToken
	if got, want := toolNames(t, a.mcp), []string{"add", "whoami"}; !sameSet(got, want) {
		t.Fatalf("client A's tools after its refresh %v, want %v", got, want)
	}
	a.sse.pingFirst(t, "client A's /sse session (another grant)")
	b.sse.pingFirst(t, "client B's /sse session")
	b.mcpStream.quiet(t, 300*time.Millisecond)
	if got, want := toolNames(t, b.mcp), []string{"add", "whoami", "generateImage"}; !sameSet(got, want) {
		t.Fatalf("client B's tools before its refresh %v, want %v (its grant was not refreshed)", got, want)
	}

	// Client A's grants are revoked: the /mcp one through RFC 7009
	// revocation of its refresh token, the /sse one because its refresh
	// token is replayed after two rotations (reuse: RFC 9700 s4.14.2).
	// Each grant's open stream ends at once.
	a.mcpAuth.revoke(ctx, t, a.mcpTok.RefreshToken, "refresh_token")
	a.mcpStream.waitEnd(t, "client A's /mcp GET stream")
	old := a.sseTok.RefreshToken
	a.sseTok = a.sseAuth.refresh(ctx, t, old)
	a.sse.stream.waitMessage(t, isListChanged) // this refresh brought the change to it
	a.sseTok = a.sseAuth.refresh(ctx, t, a.sseTok.RefreshToken)
	if _, status, body := a.sseAuth.token(ctx, t, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {old}, "client_id": {a.sseAuth.clientID}, "resource": {sseURL},
	}); status != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
		t.Fatalf("replayed refresh token: %d %s, want 400 invalid_grant", status, body)
	}
	a.sse.stream.waitEnd(t, "client A's /sse stream")

	// Their sessions are gone, not merely unreachable with A's tokens:
	// Ada's other token, which could use them before, now gets 404.
	res := borrowed.post(t, map[string]any{"jsonrpc": "2.0", "id": 2, "method": "ping"})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("client A's closed /mcp session with client B's token: %s, want 404", res.Status)
	}
	borrowedSSE := &legacySSE{ctx: ctx, hc: &http.Client{}, token: b.sseTok.AccessToken, endpoint: a.sse.endpoint}
	if st := borrowedSSE.send(t, map[string]any{"jsonrpc": "2.0", "id": 2, "method": "ping"}); st != http.StatusNotFound {
		t.Fatalf("client A's closed /sse session with client B's token: %d, want 404", st)
	}

	// Client B's sessions and streams are open and working: its calls are
	// answered, and when it refreshes, its streams hear list_changed.
	checkAdd(t, b.mcp)
	checkWhoami(t, b.mcp, "ada@example.com")
	checkAdd(t, b.sse)
	b.mcpTok = b.mcpAuth.refresh(ctx, t, b.mcpTok.RefreshToken)
	b.mcpStream.waitMessage(t, isListChanged)
	b.mcp.token = b.mcpTok.AccessToken
	if got, want := toolNames(t, b.mcp), []string{"add", "whoami"}; !sameSet(got, want) {
		t.Fatalf("client B's tools after its refresh %v, want %v", got, want)
	}
	b.sseTok = b.sseAuth.refresh(ctx, t, b.sseTok.RefreshToken)
	b.sse.stream.waitMessage(t, isListChanged)
	b.sse.token = b.sseTok.AccessToken
	if got, want := toolNames(t, b.sse), []string{"add", "whoami"}; !sameSet(got, want) {
		t.Fatalf("client B's tools over /sse after its refresh %v, want %v", got, want)
	}
}
