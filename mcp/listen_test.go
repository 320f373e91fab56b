package mcp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// openListener opens subscriptions/listen over a bare TCP connection read
// through a tiny buffer, so that the test's own side adds little to the
// heap the test measures.
func openListener(t *testing.T, ts *httptest.Server, id int, filter string, header map[string]string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"subscriptions/listen","params":{"_meta":%s,"notifications":%s}}`, id, modernMeta, filter)
	var b strings.Builder
	fmt.Fprintf(&b, "POST /mcp HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"+
		"MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: subscriptions/listen\r\nContent-Length: %d\r\n", len(body))
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n" + body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(conn, 16)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("listen: %q %v", status, err)
	}
	for { // the head, then the acknowledgment
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(l, "notifications/subscriptions/acknowledged") {
			break
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, br
}

// nextData returns the data of the next event on a listener.
func nextData(t *testing.T, conn net.Conn, br *bufio.Reader) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer conn.SetReadDeadline(time.Time{})
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("listener ended: %v", err)
		}
		if d, ok := strings.CutPrefix(strings.TrimRight(l, "\r\n"), "data: "); ok {
			return d
		}
	}
}

// liveHeap is the heap still allocated after two collections, once the
// process has settled.
func liveHeap() uint64 {
	// Connections a test closed a moment ago may still be tearing down on
	// a loaded machine, their buffers live: wait until the goroutine count
	// holds still before reading.
	last, still := runtime.NumGoroutine(), 0
	for deadline := time.Now().Add(2 * time.Second); still < 5 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		if g := runtime.NumGoroutine(); g == last {
			still++
		} else {
			last, still = g, 0
		}
	}
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// rawInitialize opens a legacy session over a bare connection and returns
// its id; the connection is closed.
func rawInitialize(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	fmt.Fprintf(conn, "POST /mcp HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatalf("initialize: %s", resp.Status)
	}
	return sid
}

// openRawGET opens a legacy session's GET stream over a bare connection
// read through a tiny buffer, as openListener does for a listener.
func openRawGET(t *testing.T, ts *httptest.Server, sid string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /mcp HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\nMcp-Session-Id: %s\r\nMCP-Protocol-Version: 2025-11-25\r\n\r\n", sid)
	br := bufio.NewReaderSize(conn, 16)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("GET: %q %v", status, err)
	}
	for { // the head, then the priming event
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(l, "retry:") {
			break
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn
}

// Idle listeners are hijacked as idle GET streams are: no goroutine each,
// and no more memory than a legacy session with its idle GET stream,
// measured the same way in the same process; closing them releases both.
func TestIdleListenersCostLikeIdleStreams(t *testing.T) {
	// Enough streams that a one-off allocation during either phase (a
	// table growing, a buffer not yet released) is small per stream.
	const n = 400
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{KeepAlive: time.Hour, MaxSessionsPerOwner: 1000})
	// One of each first, so that one-time costs (the keeper goroutines,
	// the envelope, pools) are not counted per stream.
	c0, _ := openListener(t, ts, 0, `{"toolsListChanged":true}`, nil)
	defer c0.Close()
	g0 := openRawGET(t, ts, rawInitialize(t, ts))
	defer g0.Close()
	time.Sleep(20 * time.Millisecond)

	goroutines, heap := runtime.NumGoroutine(), liveHeap()
	gets := make([]net.Conn, n)
	for i := range gets {
		gets[i] = openRawGET(t, ts, rawInitialize(t, ts))
	}
	perGET := (int64(liveHeap()) - int64(heap)) / n
	if got := runtime.NumGoroutine(); got > goroutines+3 {
		t.Fatalf("%d idle GET streams hold %d goroutines", n, got-goroutines)
	}

	goroutines, heap = runtime.NumGoroutine(), liveHeap()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i], _ = openListener(t, ts, i+1, `{"toolsListChanged":true}`, nil)
	}
	perListener := (int64(liveHeap()) - int64(heap)) / n
	t.Logf("heap per idle stream, server and test client: legacy session with its GET stream %d bytes, listener %d bytes", perGET, perListener)
	if got := runtime.NumGoroutine(); got > goroutines+3 {
		t.Fatalf("%d idle listeners hold %d goroutines", n, got-goroutines)
	}
	if perListener > perGET+512 { // the acknowledgment is longer than a priming event
		t.Fatalf("an idle listener costs %d bytes of heap, a legacy session with its idle GET stream %d", perListener, perGET)
	}
	if got := len(s.Sessions()); got != 2*n+2 {
		t.Fatalf("%d sessions and listeners registered, want %d", got, 2*n+2)
	}
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "listeners to end with their connections", func() bool { return len(s.Sessions()) == n+2 })
	waitFor(t, fmt.Sprintf("goroutines back to %d", goroutines), func() bool { return runtime.NumGoroutine() <= goroutines })
	for _, c := range gets {
		c.Close()
	}
}

// Listeners count against the owner's session limit: the least recently
// active one (here, the oldest) ends when a new one would pass it.
func TestListenersCountAgainstSessionLimit(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{MaxSessionsPerOwner: 2,
		SessionOwner: func(r *http.Request) string { return r.Header.Get("X-User") }})
	alice := map[string]string{"X-User": "alice"}
	c1, br1 := openListener(t, ts, 1, `{"toolsListChanged":true}`, alice)
	defer c1.Close()
	time.Sleep(5 * time.Millisecond)
	c2, _ := openListener(t, ts, 2, `{"toolsListChanged":true}`, alice)
	defer c2.Close()
	time.Sleep(5 * time.Millisecond)
	c3, _ := openListener(t, ts, 3, `{"toolsListChanged":true}`, alice)
	defer c3.Close()
	cb, _ := openListener(t, ts, 4, `{"toolsListChanged":true}`, map[string]string{"X-User": "bob"})
	defer cb.Close()
	_ = c1.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(br1); err != nil {
		t.Fatalf("the oldest listener should have ended: %v", err)
	}
	if got := len(s.sessionsOf("alice")); got != 2 {
		t.Fatalf("alice has %d listeners, want 2", got)
	}
}

// What a credential's refresh or revocation does to the legacy sessions it
// opened, it does to its listeners: a changed identity is told
// toolsListChanged, a revoked one's streams end; other credentials' are
// untouched.
func TestListenersFollowTheirCredential(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{
		SessionOwner:      func(r *http.Request) string { return "alice" },
		SessionCredential: func(r *http.Request) string { return r.Header.Get("X-Grant") },
	})
	ca, bra := openListener(t, ts, 1, `{"toolsListChanged":true}`, map[string]string{"X-Grant": "g1"})
	defer ca.Close()
	cb, brb := openListener(t, ts, 2, `{"toolsListChanged":true}`, map[string]string{"X-Grant": "g2"})
	defer cb.Close()
	s.NotifyToolListChangedByCredential("g1")
	if d := nextData(t, ca, bra); d != `{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":1}}}` {
		t.Fatalf("g1 listener got %s", d)
	}
	s.CloseSessionsByCredential("g1")
	// It ends gracefully: the listen request's response, then EOF.
	if d := nextData(t, ca, bra); d != `{"jsonrpc":"2.0","id":1,"result":{"resultType":"complete","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"test-server","title":"Test","version":"0.1"},"io.modelcontextprotocol/subscriptionId":1}}}` {
		t.Fatalf("closing response: %s", d)
	}
	_ = ca.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(bra); err != nil {
		t.Fatalf("the revoked credential's listener should have ended: %v", err)
	}
	// g2's listener saw neither: the next thing on it is its own news.
	s.NotifyToolListChangedByCredential("g2")
	if d := nextData(t, cb, brb); !strings.Contains(d, `list_changed`) || !strings.Contains(d, `subscriptionId":2}`) {
		t.Fatalf("g2 listener got %s", d)
	}
}

// resourceSubscriptions replaces resources/subscribe: a listener hears of
// the URIs it named and no others; prompts it did not opt in to stay away.
func TestListenerResourceSubscriptions(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	s.AddResource(Resource{URI: "test://a", Name: "a"}, staticText("a"))
	s.AddResource(Resource{URI: "test://b", Name: "b"}, staticText("b"))
	c, br := openListener(t, ts, 7, `{"resourceSubscriptions":["test://a"],"toolsListChanged":true}`, nil)
	defer c.Close()
	s.NotifyResourceUpdated("test://b")
	s.AddPrompt(Prompt{Name: "p"}, func(context.Context, map[string]string) (*GetPromptResult, error) { return &GetPromptResult{}, nil })
	s.NotifyResourceUpdated("test://a")
	if d := nextData(t, c, br); d != `{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":7},"uri":"test://a"}}` {
		t.Fatalf("got %s", d)
	}
}
