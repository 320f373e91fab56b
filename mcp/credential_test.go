package mcp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// credentialOptions take the owner from X-User and the credential from
// X-Grant, as an authorization layer would from a bearer token's user and
// grant.
var credentialOptions = HTTPOptions{
	SessionOwner:      func(r *http.Request) string { return r.Header.Get("X-User") },
	SessionCredential: func(r *http.Request) string { return r.Header.Get("X-Grant") },
}

// getStream is an open GET stream of Streamable HTTP, read in the
// background: its events, and its end (nil for a clean end of the body).
type getStream struct {
	t      *testing.T
	events chan clientEvent
	ended  chan error
}

func openGetStream(t *testing.T, c *httpClient) *getStream {
	t.Helper()
	resp := c.do(http.MethodGet, "", nil)
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("GET: %d", resp.StatusCode)
	}
	g := &getStream{t: t, events: make(chan clientEvent, 64), ended: make(chan error, 1)}
	go func() {
		defer resp.Body.Close()
		readEvents(resp.Body, func(ev clientEvent) bool {
			if ev.Data != "" { // skip the priming event
				g.events <- ev
			}
			return false
		})
		// readEvents stops at EOF or a read error; tell them apart.
		_, err := io.ReadAll(resp.Body)
		g.ended <- err
	}()
	return g
}

func (g *getStream) next() clientEvent {
	g.t.Helper()
	select {
	case ev := <-g.events:
		return ev
	case <-time.After(5 * time.Second):
		g.t.Fatal("no event on the GET stream")
	}
	return clientEvent{}
}

func (g *getStream) waitEnd() {
	g.t.Helper()
	select {
	case err := <-g.ended:
		if err != nil {
			g.t.Fatalf("the GET stream did not end cleanly: %v", err)
		}
	case <-time.After(5 * time.Second):
		g.t.Fatal("the GET stream did not end")
	}
}

// sessionsOfTwoGrants opens, for alice, a Streamable HTTP session with a
// GET stream and an HTTP+SSE session under grant A, the same under grant B,
// and a Streamable HTTP session with no credential.
type grantSessions struct {
	a, b, none       *httpClient
	aGet, bGet       *getStream
	aLegacy, bLegacy *legacyClient
}

func openGrantSessions(t *testing.T, base string) *grantSessions {
	t.Helper()
	var gs grantSessions
	streamable := func(grant string) *httpClient {
		c := newHTTPClient(t, base+"/mcp")
		c.header.Set("X-User", "alice")
		if grant != "" {
			c.header.Set("X-Grant", grant)
		}
		c.initialize("2025-11-25")
		return c
	}
	legacy := func(grant string) *legacyClient {
		c := openLegacy(t, base, "/sse", http.Header{"X-User": {"alice"}, "X-Grant": {grant}})
		c.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"old","version":"1"}}}`, "1")
		return c
	}
	gs.a, gs.b, gs.none = streamable("A"), streamable("B"), streamable("")
	gs.aGet, gs.bGet = openGetStream(t, gs.a), openGetStream(t, gs.b)
	gs.aLegacy, gs.bLegacy = legacy("A"), legacy("B")
	return &gs
}

// mark sends a notification of its own to a session: whatever the session
// was sent before it arrives first, so reading up to the mark shows all.
func mark(t *testing.T, s *Server, sid string) {
	t.Helper()
	sess := s.session(sid)
	if sess == nil {
		t.Fatalf("session %s is gone", sid)
	}
	if err := sess.Notify(context.Background(), "notifications/mark", nil); err != nil {
		t.Fatal(err)
	}
}

func legacySessionID(c *legacyClient) string {
	_, sid, _ := strings.Cut(c.endpoint, "sessionId=")
	return sid
}

func TestSessionCredentialRecorded(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), credentialOptions)
	gs := openGrantSessions(t, ts.URL)
	for _, tc := range []struct {
		name, sid, want string
	}{
		{"streamable A", gs.a.sid, "A"},
		{"streamable B", gs.b.sid, "B"},
		{"streamable none", gs.none.sid, ""},
		{"legacy A", legacySessionID(gs.aLegacy), "A"},
		{"legacy B", legacySessionID(gs.bLegacy), "B"},
	} {
		sess := s.session(tc.sid)
		if sess == nil {
			t.Fatalf("%s: no session %q", tc.name, tc.sid)
		}
		if got := sess.Credential(); got != tc.want {
			t.Errorf("%s: Credential() = %q, want %q", tc.name, got, tc.want)
		}
		if sess.Owner() != "alice" {
			t.Errorf("%s: Owner() = %q", tc.name, sess.Owner())
		}
	}
	// A later request of the same owner with another credential does not
	// retag the session: it belongs to the credential that opened it.
	gs.a.header.Set("X-Grant", "B")
	gs.a.result("ping", nil)
	if got := s.session(gs.a.sid).Credential(); got != "A" {
		t.Fatalf("after a request with grant B: Credential() = %q", got)
	}
}

func TestNotifyToolListChangedByCredential(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), credentialOptions)
	gs := openGrantSessions(t, ts.URL)

	s.NotifyToolListChangedByCredential("A")
	s.NotifyToolListChangedByCredential("") // matches nothing, not the untagged session
	if ev := gs.aGet.next(); !strings.Contains(ev.Data, `"notifications/tools/list_changed"`) {
		t.Fatalf("grant A GET stream: %+v", ev)
	}
	if ev := gs.aLegacy.next(); !strings.Contains(ev.Data, `"notifications/tools/list_changed"`) {
		t.Fatalf("grant A legacy stream: %+v", ev)
	}
	// The other sessions of the same owner got nothing before the mark.
	mark(t, s, gs.b.sid)
	if ev := gs.bGet.next(); !strings.Contains(ev.Data, `"notifications/mark"`) {
		t.Fatalf("grant B GET stream got %+v before the mark", ev)
	}
	mark(t, s, legacySessionID(gs.bLegacy))
	if ev := gs.bLegacy.next(); !strings.Contains(ev.Data, `"notifications/mark"`) {
		t.Fatalf("grant B legacy stream got %+v before the mark", ev)
	}
	none := s.session(gs.none.sid)
	none.standalone.mu.Lock()
	queued := len(none.standalone.events)
	none.standalone.mu.Unlock()
	if queued != 0 {
		t.Fatalf("the session without a credential was sent %d messages", queued)
	}
}

func TestCloseSessionsByCredential(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), credentialOptions)
	gs := openGrantSessions(t, ts.URL)
	aLegacySID := legacySessionID(gs.aLegacy)

	s.CloseSessionsByCredential("") // matches nothing
	gs.none.result("ping", nil)

	s.CloseSessionsByCredential("A")
	// Grant A's streams end, both transports.
	gs.aGet.waitEnd()
	legacyEnded := make(chan struct{})
	go func() {
		for range gs.aLegacy.events {
		}
		close(legacyEnded)
	}()
	select {
	case <-legacyEnded:
	case <-time.After(5 * time.Second):
		t.Fatal("grant A's legacy stream did not end")
	}
	// Grant A's sessions are gone: 404 for every later request.
	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		body := ""
		if method == http.MethodPost {
			body = `{"jsonrpc":"2.0","id":9,"method":"ping"}`
		}
		resp := gs.a.do(method, body, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s with grant A's closed session: %d, want 404", method, resp.StatusCode)
		}
	}
	resp := gs.aLegacy.post(`{"jsonrpc":"2.0","id":9,"method":"ping"}`, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST to grant A's closed legacy session: %d, want 404", resp.StatusCode)
	}
	if s.session(aLegacySID) != nil {
		t.Error("grant A's legacy session is still registered")
	}

	// Grant B's sessions, same owner, are untouched and still carry
	// messages on their open streams.
	gs.b.result("ping", nil)
	s.NotifyToolListChangedByCredential("B")
	if ev := gs.bGet.next(); !strings.Contains(ev.Data, `"notifications/tools/list_changed"`) {
		t.Fatalf("grant B GET stream: %+v", ev)
	}
	if ev := gs.bLegacy.next(); !strings.Contains(ev.Data, `"notifications/tools/list_changed"`) {
		t.Fatalf("grant B legacy stream: %+v", ev)
	}
	gs.bLegacy.send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`, "2")
	gs.none.result("ping", nil)
}

// TestCancelTasksByCredential: revoking a credential cancels the tasks it
// created, and only those: the same user's task from another credential
// runs on.
func TestCancelTasksByCredential(t *testing.T) {
	tt := &taskTools{release: make(chan struct{}), cancelled: make(chan struct{}, 8)}
	s := NewServer(ServerOptions{Info: Implementation{Name: "task-server", Version: "1"}, Tools: tt, Logger: quietLogger(), Tasks: &TaskOptions{}})
	ts := httptest.NewServer(s.StreamableHTTPHandler(credentialOptions))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		ts.Close()
	})
	start := func(grant string) string {
		meta := `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":` + tasksCaps + `}`
		_, msgs := modernPost(t, ts.URL, 1, "tools/call", `{"name":"job","arguments":{},"_meta":`+meta+`}`, func(r *http.Request) {
			r.Header.Set("X-User", "ada")
			r.Header.Set("X-Grant", grant)
		})
		if len(msgs) != 1 {
			t.Fatalf("tools/call: %d messages", len(msgs))
		}
		return decodeTask(t, msgs[0]).TaskID
	}
	revoked, kept := start("grant-1"), start("grant-2")

	s.CancelTasksByCredential("") // matches nothing
	s.CancelTasksByCredential("grant-1")
	select {
	case <-tt.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked credential's task was not cancelled")
	}
	w := waitStatus(t, ts.URL, "ada", revoked, "cancelled")
	if w.Result != nil || w.Error != nil {
		t.Fatalf("cancelled task carries an outcome: %+v", w)
	}
	var msg struct {
		StatusMessage string `json:"statusMessage"`
	}
	r := taskCall(t, ts.URL, "ada", tasksCaps, "tasks/get", `"taskId":"`+revoked+`"`)
	if json.Unmarshal(r.Result, &msg); !strings.Contains(msg.StatusMessage, "revoked") {
		t.Fatalf("statusMessage %q does not say why", msg.StatusMessage)
	}

	// The other credential's task was not touched: it completes.
	if w := decodeTask(t, taskCall(t, ts.URL, "ada", tasksCaps, "tasks/get", `"taskId":"`+kept+`"`)); w.Status != "working" {
		t.Fatalf("the other credential's task: %s", w.Status)
	}
	close(tt.release)
	if w := waitStatus(t, ts.URL, "ada", kept, "completed"); w.Result == nil {
		t.Fatalf("completed task without a result: %+v", w)
	}
	select {
	case <-tt.cancelled:
		t.Fatal("the other credential's task was cancelled")
	default:
	}
}
