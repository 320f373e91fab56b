package mcp

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// mapDirectory is a SessionDirectory in a map, shared by two servers in a
// test as a database would be by two processes.
type mapDirectory struct {
	mu      sync.Mutex
	records map[string][]byte
	loads   int
}

func (d *mapDirectory) Save(ctx context.Context, id string, rec []byte, ttl time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.records[id] = append([]byte(nil), rec...)
	return nil
}

func (d *mapDirectory) Load(ctx context.Context, id string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.loads++
	return d.records[id], nil
}

func (d *mapDirectory) Delete(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.records, id)
	return nil
}

func (d *mapDirectory) has(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.records[id] != nil
}

// A session opened on one server is served by another sharing its
// directory (as replicas behind a balancer with no stickiness): with the
// negotiated version, the owner check, and DELETE removing it for all.
func TestSharedSessionAcrossServers(t *testing.T) {
	dir := &mapDirectory{records: map[string][]byte{}}
	owner := func(r *http.Request) string { return r.Header.Get("X-Owner") }
	opts := HTTPOptions{SessionOwner: owner, Sessions: dir}
	_, a := newTestServer(t, newTestTools(), opts)
	sb, b := newTestServer(t, newTestTools(), opts)

	ca := newHTTPClient(t, a.URL+"/mcp")
	ca.header.Set("X-Owner", "ada")
	ca.initialize("2025-06-18")
	if !dir.has(ca.sid) {
		t.Fatal("initialize saved no shared record")
	}
	cb := newHTTPClient(t, b.URL+"/mcp")
	cb.header.Set("X-Owner", "ada")
	cb.sid, cb.version = ca.sid, ca.version
	res := cb.result("tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": "hi from b"}})
	if string(res) == "" {
		t.Fatal("empty result")
	}
	if got := sb.session(ca.sid).ProtocolVersion(); got != "2025-06-18" {
		t.Fatalf("adopted session's version %q", got)
	}
	// Adopted once: later requests use the copy.
	dir.mu.Lock()
	loads := dir.loads
	dir.mu.Unlock()
	cb.result("ping", nil)
	dir.mu.Lock()
	if dir.loads != loads {
		t.Errorf("a second request loaded the record again (%d loads, was %d)", dir.loads, loads)
	}
	dir.mu.Unlock()

	// Another owner holding the id gets 403 on a server that has not
	// adopted it yet, as on the one that opened it.
	_, c := newTestServer(t, newTestTools(), opts)
	eve := newHTTPClient(t, c.URL+"/mcp")
	eve.header.Set("X-Owner", "eve")
	eve.sid, eve.version = ca.sid, ca.version
	if resp, _ := eve.call("ping", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another owner: %d, want 403", resp.StatusCode)
	}

	// DELETE on b removes the record: a third server no longer adopts it.
	resp := cb.do(http.MethodDelete, "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	waitFor(t, "the shared record deleted", func() bool { return !dir.has(ca.sid) })
	_, d := newTestServer(t, newTestTools(), opts)
	cd := newHTTPClient(t, d.URL+"/mcp")
	cd.header.Set("X-Owner", "ada")
	cd.sid, cd.version = ca.sid, ca.version
	if resp, _ := cd.call("ping", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after DELETE: %d, want 404", resp.StatusCode)
	}
}

// Without a directory a session is its server's alone: 404 elsewhere.
func TestSessionsLocalWithoutDirectory(t *testing.T) {
	_, a := newTestServer(t, newTestTools(), HTTPOptions{})
	_, b := newTestServer(t, newTestTools(), HTTPOptions{})
	ca := newHTTPClient(t, a.URL+"/mcp")
	ca.initialize("2025-06-18")
	cb := newHTTPClient(t, b.URL+"/mcp")
	cb.sid, cb.version = ca.sid, ca.version
	if resp, _ := cb.call("ping", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another server: %d, want 404", resp.StatusCode)
	}
}

// Revocation (CloseSessionsByCredential) removes the shared record too, so
// no server adopts the session afterwards.
func TestSharedSessionClosedByCredential(t *testing.T) {
	dir := &mapDirectory{records: map[string][]byte{}}
	opts := HTTPOptions{Sessions: dir, SessionCredential: func(*http.Request) string { return "grant-1" }}
	sa, a := newTestServer(t, newTestTools(), opts)
	ca := newHTTPClient(t, a.URL+"/mcp")
	ca.initialize("2025-06-18")
	sa.CloseSessionsByCredential("grant-1")
	waitFor(t, "the shared record deleted", func() bool { return !dir.has(ca.sid) })
}

// relayTo delivers relayed responses to other servers, as the events bus
// would between processes.
type relayTo struct {
	mu    sync.Mutex
	peers []*Server
	sent  int
}

func (r *relayTo) Send(ctx context.Context, sid string, msg []byte) error {
	r.mu.Lock()
	r.sent++
	peers := append([]*Server(nil), r.peers...)
	r.mu.Unlock()
	for _, p := range peers {
		p.DeliverRelayed(sid, msg)
	}
	return nil
}

// A tool on server a asks the client something (roots/list); the client
// POSTs its answer to server b, which relays it to a, whose handler
// completes the call on the stream it opened.
func TestSharedSessionRelaysResponses(t *testing.T) {
	dir := &mapDirectory{records: map[string][]byte{}}
	relay := &relayTo{}
	opts := HTTPOptions{Sessions: dir, Relay: relay}
	sa, a := newTestServer(t, newTestTools(), opts)
	sb, b := newTestServer(t, newTestTools(), opts)
	relay.peers = []*Server{sa, sb}

	ca := newHTTPClient(t, a.URL+"/mcp")
	ca.initialize("2025-06-18")
	resp := ca.do(http.MethodPost, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"ask","arguments":{}}}`, nil)
	defer resp.Body.Close()
	var ask rpcReply
	readEvents(resp.Body, func(ev clientEvent) bool {
		if ev.Data == "" {
			return false
		}
		if err := json.Unmarshal([]byte(ev.Data), &ask); err != nil {
			t.Fatal(err)
		}
		return true
	})
	if ask.Method != "roots/list" {
		t.Fatalf("first message %+v, want the roots/list request", ask)
	}
	cb := newHTTPClient(t, b.URL+"/mcp")
	cb.sid, cb.version = ca.sid, ca.version
	answer := `{"jsonrpc":"2.0","id":` + string(ask.ID) + `,"result":{"roots":[{"uri":"file:///relayed"}]}}`
	r := cb.do(http.MethodPost, answer, nil)
	r.Body.Close()
	if r.StatusCode != http.StatusAccepted {
		t.Fatalf("response POSTed to b: %d", r.StatusCode)
	}
	done := make(chan []clientEvent, 1)
	go func() { done <- readEvents(resp.Body, nil) }()
	select {
	case evs := <-done:
		var got rpcReply
		for _, ev := range evs {
			if ev.Data != "" {
				json.Unmarshal([]byte(ev.Data), &got)
			}
		}
		if !strings.Contains(string(got.Result), "file:///relayed") {
			t.Fatalf("tool result %s, want the relayed roots", got.Result)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler on a never got the response POSTed to b")
	}
	if relay.sent != 1 {
		t.Errorf("%d relayed messages, want 1", relay.sent)
	}
}

// HTTP+SSE across servers: the stream stays on the server it reached, and
// a message POSTed to another is forwarded there and answered on it. Other
// owners get 403; once the stream closes the session is gone everywhere.
func TestSharedSSEForwardsMessages(t *testing.T) {
	dir := &mapDirectory{records: map[string][]byte{}}
	relay := &relayTo{}
	owner := func(r *http.Request) string { return r.Header.Get("X-Owner") }
	opts := HTTPOptions{SessionOwner: owner, Sessions: dir, Relay: relay}
	sa, a := newTestServer(t, newTestTools(), opts)
	sb, b := newTestServer(t, newTestTools(), opts)
	relay.peers = []*Server{sa, sb}

	c := openLegacy(t, a.URL, "/sse", http.Header{"X-Owner": {"ada"}})
	c.base = b.URL // every POST goes to the other server
	init := c.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"old","version":"1"}}}`, "1")
	if init[len(init)-1].Error != nil {
		t.Fatalf("initialize through the other server: %+v", init[len(init)-1].Error)
	}
	resp := c.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil)
	resp.Body.Close()
	out := c.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"via b"}}}`, "2")
	if last := out[len(out)-1]; last.Error != nil || !strings.Contains(string(last.Result), "via b") {
		t.Fatalf("tools/call through the other server: %+v", last)
	}
	if sb.session(strings.TrimPrefix(c.endpoint, "/sse/message?sessionId=")) != nil {
		t.Error("the other server adopted an HTTP+SSE session")
	}
	eve := c.post(`{"jsonrpc":"2.0","id":3,"method":"ping"}`, func(r *http.Request) { r.Header.Set("X-Owner", "eve") })
	eve.Body.Close()
	if eve.StatusCode != http.StatusForbidden {
		t.Fatalf("another owner through the other server: %d, want 403", eve.StatusCode)
	}
	c.close()
	sid := strings.TrimPrefix(c.endpoint, "/sse/message?sessionId=")
	waitFor(t, "the shared record deleted", func() bool { return !dir.has(sid) })
	gone := c.post(`{"jsonrpc":"2.0","id":4,"method":"ping"}`, nil)
	gone.Body.Close()
	if gone.StatusCode != http.StatusNotFound {
		t.Fatalf("after the stream closed: %d, want 404", gone.StatusCode)
	}
}
