package mcp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// legacyClient speaks HTTP+SSE (2024-11-05 transports).
type legacyClient struct {
	t        *testing.T
	base     string
	endpoint string
	events   chan clientEvent
	resp     *http.Response
	cancel   context.CancelFunc
	header   http.Header
}

func openLegacy(t *testing.T, base, path string, header http.Header) *legacyClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	c := &legacyClient{t: t, base: base, events: make(chan clientEvent, 64), resp: resp, cancel: cancel, header: header}
	go func() {
		defer close(c.events)
		readEvents(resp.Body, func(ev clientEvent) bool { c.events <- ev; return false })
	}()
	ev := c.next()
	if ev.Event != "endpoint" {
		t.Fatalf("first event %+v", ev)
	}
	c.endpoint = ev.Data
	t.Cleanup(c.close)
	return c
}

func (c *legacyClient) close() {
	c.cancel()
	c.resp.Body.Close()
}

func (c *legacyClient) next() clientEvent {
	c.t.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			c.t.Fatal("stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		c.t.Fatal("no event")
	}
	return clientEvent{}
}

func (c *legacyClient) post(body string, mod func(*http.Request)) *http.Response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+c.endpoint, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range c.header {
		req.Header[k] = v
	}
	if mod != nil {
		mod(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// send POSTs a message (202 expected) and returns the messages on the
// stream up to and including the response with that id.
func (c *legacyClient) send(body string, id string) []rpcReply {
	c.t.Helper()
	resp := c.post(body, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		c.t.Fatalf("POST: %d", resp.StatusCode)
	}
	var out []rpcReply
	for {
		ev := c.next()
		if ev.Event != "message" {
			c.t.Fatalf("event %+v", ev)
		}
		var m rpcReply
		if err := json.Unmarshal([]byte(ev.Data), &m); err != nil {
			c.t.Fatalf("bad message %q", ev.Data)
		}
		out = append(out, m)
		if m.Method == "" && string(m.ID) == id {
			return out
		}
	}
}

func TestSSEEveryVersion(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	for _, version := range SupportedProtocolVersions {
		t.Run(version, func(t *testing.T) {
			c := openLegacy(t, ts.URL, "/sse", nil)
			if !strings.HasPrefix(c.endpoint, "/sse/message?sessionId=") {
				t.Fatalf("endpoint %q", c.endpoint)
			}
			if c.resp.Header.Get("Content-Type") != "text/event-stream" || c.resp.Header.Get("X-Accel-Buffering") != "no" || c.resp.Header.Get("Cache-Control") != "no-cache" {
				t.Fatalf("headers %v", c.resp.Header)
			}
			// Before initialize only ping is answered.
			if got := c.send(`{"jsonrpc":"2.0","id":1,"method":"ping"}`, "1"); got[0].Error != nil {
				t.Fatalf("ping before initialize: %+v", got)
			}
			got := c.send(`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, "2")
			if got[0].Error == nil || got[0].Error.Code != CodeInvalidRequest || !strings.Contains(got[0].Error.Message, "initialize") {
				t.Fatalf("tools/list before initialize: %+v", got)
			}
			got = c.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"old","version":"1"}}}`, version), `"init"`)
			if !strings.Contains(string(got[0].Result), `"protocolVersion":"`+version+`"`) {
				t.Fatalf("initialize: %s", got[0].Result)
			}
			r := c.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil)
			r.Body.Close()
			if r.StatusCode != http.StatusAccepted {
				t.Fatalf("notification: %d", r.StatusCode)
			}
			got = c.send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"progress","_meta":{"progressToken":7}}}`, "3")
			if len(got) != 3 || got[0].Method != "notifications/progress" || !strings.Contains(string(got[2].Result), "done") {
				t.Fatalf("progress: %+v", got)
			}
			got = c.send(`{"jsonrpc":"2.0","id":12345678901234567890,"method":"tools/call","params":{"name":"nope"}}`, "12345678901234567890")
			if got[0].Error == nil || got[0].Error.Code != CodeInvalidParams {
				t.Fatalf("unknown tool: %+v", got)
			}
			batch := `[{"jsonrpc":"2.0","id":4,"method":"ping"}]`
			if version == "2025-03-26" {
				resp := c.post(batch, nil)
				resp.Body.Close()
				ev := c.next()
				if resp.StatusCode != http.StatusAccepted || !strings.HasPrefix(ev.Data, `[{"jsonrpc":"2.0","id":4`) {
					t.Fatalf("batch: %d %+v", resp.StatusCode, ev)
				}
			} else {
				resp := c.post(batch, nil)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "2025-03-26") {
					t.Fatalf("batch: %d %s", resp.StatusCode, body)
				}
			}
		})
	}
}

func TestSSEToolListChanged(t *testing.T) {
	owner := func(r *http.Request) string { return r.Header.Get("X-User") }
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{SessionOwner: owner})
	c := openLegacy(t, ts.URL, "/sse", http.Header{"X-User": {"alice"}})
	c.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"old","version":"1"}}}`, "1")
	s.NotifyToolListChanged("bob")
	s.NotifyToolListChanged("alice")
	if ev := c.next(); !strings.Contains(ev.Data, "notifications/tools/list_changed") {
		t.Fatalf("event %+v", ev)
	}
}

func TestSSEChecks(t *testing.T) {
	owner := func(r *http.Request) string { return r.Header.Get("X-User") }
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{SessionOwner: owner, MaxBodyBytes: 512})
	c := openLegacy(t, ts.URL, "/sse", http.Header{"X-User": {"alice"}})
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	tests := []struct {
		name   string
		body   string
		mod    func(*http.Request)
		status int
	}{
		{"other owner", ping, func(r *http.Request) { r.Header.Set("X-User", "bob") }, 403},
		{"foreign origin", ping, func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, 403},
		{"body too large", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 600) + `"}}`, nil, 413},
		{"parse error", `{`, nil, 400},
		{"unknown session", ping, func(r *http.Request) { r.URL.RawQuery = "sessionId=nope" }, 404},
		{"missing session", ping, func(r *http.Request) { r.URL.RawQuery = "" }, 400},
		{"wrong content type", ping, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := c.post(tt.body, tt.mod)
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			msgs := decodeAnswer(t, resp)
			if len(msgs) != 1 || msgs[0].Error == nil {
				t.Fatalf("body %+v", msgs)
			}
		})
	}
	// A Streamable HTTP session id is not a legacy session.
	hc := newHTTPClient(t, ts.URL+"/mcp")
	hc.header.Set("X-User", "alice")
	hc.initialize("2025-11-25")
	resp := c.post(ping, func(r *http.Request) { r.URL.RawQuery = "sessionId=" + hc.sid })
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("cross-transport session: %d", resp.StatusCode)
	}
}

func TestSSEClosedStreamEndsSession(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	c := openLegacy(t, ts.URL, "/sse", nil)
	c.close()
	waitFor(t, "the session to end", func() bool { return len(s.Sessions()) == 0 })
	resp := c.post(`{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST after close: %d", resp.StatusCode)
	}
}

// The endpoint event follows wherever the handler is mounted.
func TestSSEEndpointFollowsMount(t *testing.T) {
	s := NewServer(ServerOptions{Logger: quietLogger()})
	mux := http.NewServeMux()
	h := s.SSEHandler(HTTPOptions{})
	mux.Handle("/v1/events", h)
	mux.Handle("/v1/events/message", h)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	c := openLegacy(t, ts.URL, "/v1/events", nil)
	if !strings.HasPrefix(c.endpoint, "/v1/events/message?sessionId=") {
		t.Fatalf("endpoint %q", c.endpoint)
	}
	if got := c.send(`{"jsonrpc":"2.0","id":1,"method":"ping"}`, "1"); got[0].Result == nil {
		t.Fatalf("%+v", got)
	}
	c.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSSEKeepAlive(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{KeepAlive: 20 * time.Millisecond})
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/sse", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 0, 512)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(string(buf), ": keep-alive\n\n: keep-alive\n\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no keep-alive comments: %q", buf)
		}
		tmp := make([]byte, 128)
		n, err := resp.Body.Read(tmp)
		if err != nil {
			t.Fatal(err)
		}
		buf = append(buf, tmp[:n]...)
	}
}

func TestCloseSessionsOfOwner(t *testing.T) {
	owner := func(r *http.Request) string { return r.Header.Get("X-User") }
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{SessionOwner: owner})
	legacy := openLegacy(t, ts.URL, "/sse", http.Header{"X-User": {"alice"}})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.header.Set("X-User", "alice")
	c.initialize("2025-11-25")
	bob := newHTTPClient(t, ts.URL+"/mcp")
	bob.header.Set("X-User", "bob")
	bob.initialize("2025-11-25")
	s.CloseSessions("alice")
	ended := make(chan struct{})
	go func() {
		for range legacy.events {
		}
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the legacy stream did not end")
	}
	resp := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("alice after CloseSessions: %d", resp.StatusCode)
	}
	bob.result("ping", nil)
}

// ---------------------------------------------------------------------------
// Hostile input over real HTTP (moved from the root package's
// hostile_test.go: none of it needs more than this package).

// TestHostileLegacySSE: the HTTP+SSE transport (2024-11-05) refuses the
// same hostile input at /sse/message, and its stream keeps working.
func TestHostileLegacySSE(t *testing.T) {
	t.Parallel()
	s := newWire(t)
	ada, grace := "ada", "grace" // the session owners
	req, _ := http.NewRequest("GET", s.base+"/sse", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+ada)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func(want string) string {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("stream ended waiting for %q", want)
				}
				if strings.Contains(l, want) {
					return l
				}
			case <-timeout:
				t.Fatalf("no %q on the stream", want)
			}
		}
	}
	endpoint := strings.TrimPrefix(next("data: /sse/message?sessionId="), "data: ")
	post := func(token, path, ct, body string) *http.Request {
		r, _ := http.NewRequest("POST", s.base+path, strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	}
	const js = "application/json"
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	s.rpcError(post(grace, endpoint, js, ping), 403, -32600)
	s.rpcError(post(ada, "/sse/message?sessionId=NOSUCH", js, ping), 404, -32600)
	s.rpcError(post(ada, "/sse/message", js, ping), 400, -32600)
	s.rpcError(post(ada, endpoint, "text/plain", ping), 415, -32600)
	s.rpcError(post(ada, endpoint, js, `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"p":"`+strings.Repeat("x", 4<<20)+`"}}`), 413, -32600)
	s.rpcError(post(ada, endpoint, js, strings.Repeat("[", 100000)), 400, -32700)
	s.rpcError(post(ada, endpoint, js, `{"jsonrpc":"2.0","id":null,"method":"ping"}`), 400, -32600)
	// The stream still answers.
	init := `{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"old","version":"1"}}}`
	if st, _, body := s.do(post(ada, endpoint, js, init)); st != 202 {
		t.Fatalf("initialize: %d %s", st, body)
	}
	next(`"id":"init"`)
	if st, _, body := s.do(post(ada, endpoint, js, `{"jsonrpc":"2.0","id":"alive","method":"tools/list"}`)); st != 202 {
		t.Fatalf("tools/list: %d %s", st, body)
	}
	if l := next(`"id":"alive"`); !strings.Contains(l, `"name":"echo"`) {
		t.Errorf("tools/list over the stream: %s", l)
	}
	// An unknown tool name of 2 MB is quoted in its error by a short
	// prefix only (issue 11), not echoed whole onto the stream.
	huge := `{"jsonrpc":"2.0","id":"huge","method":"tools/call","params":{"name":"` + strings.Repeat("x", 2<<20) + `"}}`
	if st, _, body := s.do(post(ada, endpoint, js, huge)); st != 202 {
		t.Fatalf("tools/call with a 2 MB name: %d %s", st, body)
	}
	if l := next(`"id":"huge"`); len(l) > 1024 || !strings.Contains(l, "unknown tool: xxx") {
		t.Errorf("the error for a 2 MB tool name is %d bytes: %.300s", len(l), l)
	}
}

// One HTTP+SSE session whose client stops reading its stream, POSTing
// requests with large answers: past the bounds (MaxRequestsPerSession,
// MaxQueuedBytes) the POSTs get 429 with Retry-After and a JSON-RPC error
// naming their id, and what the server holds for the session stays under
// MaxQueuedBytes plus one answer per request slot. Once the client reads
// again, the session serves.
func TestHostileSSEBoundsSlowReader(t *testing.T) {
	const (
		slots     = 4
		maxQueued = 1 << 20
		answer    = 256 << 10
	)
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{MaxRequestsPerSession: slots, MaxQueuedBytes: maxQueued, WriteTimeout: time.Minute})
	sess, url, conn := legacyFlood(t, s, ts)
	// An answer's event: the text, the JSON around it, the event's lines.
	bound := maxQueued + slots*(answer+1024)
	text := strings.Repeat("a", answer)
	statuses := map[int]int{}
	most := 0
	for i := range 300 {
		resp, body := postRaw(t, url, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":%q}}}`, i+1, text))
		statuses[resp.StatusCode]++
		switch resp.StatusCode {
		case http.StatusAccepted:
		case http.StatusTooManyRequests:
			var r rpcReply
			if err := json.Unmarshal([]byte(body), &r); err != nil || r.Error == nil || r.Error.Code != codeServerBusy || string(r.ID) != fmt.Sprint(i+1) {
				t.Fatalf("429 body %s", body)
			}
			if ra := resp.Header.Get("Retry-After"); ra != "1" {
				t.Fatalf("429 with Retry-After %q", ra)
			}
		default:
			t.Fatalf("POST %d: %d %s", i, resp.StatusCode, body)
		}
		most = max(most, sess.standalone.queued())
	}
	// All but one: the request whose goroutine is writing the queue
	// while the client does not read.
	waitFor(t, "the admitted requests to end", func() bool { return sess.admitted.Load() <= 1 })
	most = max(most, sess.standalone.queued())
	t.Logf("statuses %v; at most %d bytes queued (bound %d)", statuses, most, bound)
	if statuses[http.StatusTooManyRequests] == 0 {
		t.Fatal("no POST was refused")
	}
	if most > bound {
		t.Fatalf("%d bytes queued for the session, past the bound of %d", most, bound)
	}
	// The client reads again: what was queued drains, and the session serves.
	go func() { _, _ = io.Copy(io.Discard, conn) }()
	waitFor(t, "the queue to drain", func() bool { return sess.standalone.queued() == 0 })
	if resp, body := postRaw(t, url, `{"jsonrpc":"2.0","id":"again","method":"ping"}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("after draining: %d %s", resp.StatusCode, body)
	}
}

// The attack of issue 11, measured: one HTTP+SSE session whose client
// never reads its stream POSTs 300 tools/call requests naming an unknown
// tool of 2 MB. The largest live heap seen over the next two seconds (so
// answers still being computed count) stays within a few MiB of where it
// started; it used to grow by some 600 MiB, every answer echoing the name
// whole and waiting in memory for the stream.
func TestHostileSSEFloodHeap(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{WriteTimeout: time.Minute})
	_, url, _ := legacyFlood(t, s, ts)
	before, rssBefore := heapInUse(), vmRSS()
	name := strings.Repeat("x", 2<<20)
	statuses := map[int]int{}
	for i := range 300 {
		resp, _ := postRaw(t, url, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q}}`, i+1, name))
		statuses[resp.StatusCode]++
	}
	peak := uint64(0)
	for range 20 {
		peak = max(peak, heapInUse())
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("300 POSTs of a 2 MB unknown tool name, stream unread: statuses %v; heap in use %.1f MiB before, %.1f MiB at most after; RSS %s before, %s after",
		statuses, float64(before)/(1<<20), float64(peak)/(1<<20), rssBefore, vmRSS())
	if grew := int64(peak) - int64(before); grew > 64<<20 {
		t.Errorf("the heap grew by %d MiB; want at most 64 MiB", grew>>20)
	}
}
