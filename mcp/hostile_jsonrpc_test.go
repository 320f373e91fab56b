package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// An id that is a string with invalid UTF-8 cannot be echoed: the response
// would not be JSON text (RFC 8259 s8.1). It is refused as an invalid
// request with a null id, and the error response is valid UTF-8.
func TestHostileInvalidUTF8ID(t *testing.T) {
	for _, body := range []string{
		"{\"jsonrpc\":\"2.0\",\"id\":\"a\xffb\",\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\x28\",\"method\":\"tools/call\",\"params\":7}",
	} {
		m, err := decodeMessage([]byte(body))
		if err == nil || err.Code != CodeInvalidRequest {
			t.Fatalf("%q: error %v, want %d", body, err, CodeInvalidRequest)
		}
		var id []byte
		if m != nil {
			id = m.ID
		}
		out := encodeResponse(id, nil, err)
		if !utf8.Valid(out) || string(id) != "" {
			t.Errorf("%q: response %q (id %q) is not valid UTF-8 with a null id", body, out, id)
		}
	}
	// Valid UTF-8 beyond ASCII is still echoed exactly.
	m, err := decodeMessage([]byte(`{"jsonrpc":"2.0","id":"é✓","method":"ping"}`))
	if err != nil || string(m.ID) != `"é✓"` {
		t.Errorf("UTF-8 id: %v %q", err, m.ID)
	}
}

// A batch is bounded in count, not only in bytes: past maxBatch it is
// refused whole, before any element is decoded or run.
func TestHostileBatchLimit(t *testing.T) {
	batch := func(n int) []byte {
		return []byte("[" + strings.TrimSuffix(strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"ping"},`, n), ",") + "]")
	}
	if d, _, err := decodeBody(batch(maxBatch)); err != nil || len(d.msgs) != maxBatch {
		t.Fatalf("batch of %d: %v", maxBatch, err)
	}
	if _, _, err := decodeBody(batch(maxBatch + 1)); err == nil || err.Code != CodeInvalidRequest {
		t.Fatalf("batch of %d: %v, want %d", maxBatch+1, err, CodeInvalidRequest)
	}
}

// A name a client sends is quoted in an error only up to a short prefix,
// whatever its length: an error's size must not be the client's to choose
// (issue 11: an unknown tool name of 2 MB used to come back whole, and
// each answer waiting for a slow reader held it).
func TestHostileEchoBounded(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	s.AddPrompt(Prompt{Name: "greet"}, func(ctx context.Context, args map[string]string) (*GetPromptResult, error) {
		return &GetPromptResult{}, nil
	})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	huge := strings.Repeat("é", 1<<20) // 2 MB, and a cut must not split a rune
	for _, tc := range []struct {
		method string
		params any
		quoted bool // the error quotes a prefix of the input
	}{
		{"tools/call", map[string]any{"name": huge}, true},
		{"prompts/get", map[string]any{"name": huge}, true},
		{"prompts/get", map[string]any{"name": "greet", "arguments": map[string]string{huge: "x"}}, true},
		{huge, nil, true},
		{"tools/list", map[string]any{"cursor": json.RawMessage(strings.Repeat("9", 2<<20))}, false},
	} {
		name := tc.method
		if len(name) > 20 {
			name = "a 2 MB method"
		}
		e := c.rpcError(tc.method, tc.params)
		b, _ := json.Marshal(e)
		if len(b) > 1024 || !utf8.Valid(b) {
			t.Errorf("%s: the error is %d bytes (valid UTF-8: %v), want at most 1 KiB: %.200s", name, len(b), utf8.Valid(b), b)
		}
		if tc.quoted && !strings.Contains(e.Message, "éé") {
			t.Errorf("%s: the error %q quotes no prefix of the input", name, e.Message)
		}
	}
}

// rawSSE opens an HTTP+SSE stream on a bare connection and reads it up to
// the endpoint event; the caller may then never read it again: a client
// that stops reading its stream.
func rawSSE(t *testing.T, ts *httptest.Server) (net.Conn, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET /sse HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	var line []byte
	var b [1]byte
	for { // a byte at a time: nothing past the endpoint event is read
		if _, err := c.Read(b[:]); err != nil {
			t.Fatalf("reading the endpoint event: %v", err)
		}
		if b[0] != '\n' {
			line = append(line, b[0])
			continue
		}
		if data, ok := strings.CutPrefix(string(line), "data: "); ok {
			return c, data
		}
		line = line[:0]
	}
}

// postRaw POSTs body and returns the response with its body read.
func postRaw(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// legacyFlood opens an HTTP+SSE session whose client stops reading its
// stream after initialize, and returns it with its message URL.
func legacyFlood(t *testing.T, s *Server, ts *httptest.Server) (*Session, string, net.Conn) {
	t.Helper()
	conn, endpoint := rawSSE(t, ts)
	url := ts.URL + endpoint
	for _, m := range []string{
		`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
	} {
		if resp, body := postRaw(t, url, m); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %d %s", m, resp.StatusCode, body)
		}
	}
	sess := s.session(queryValue(endpoint[strings.IndexByte(endpoint, '?')+1:], "sessionId"))
	if sess == nil {
		t.Fatal("no session")
	}
	waitFor(t, "initialize", sess.initialized)
	return sess, url, conn
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

// The same bound on Streamable HTTP, where each request holds its own
// connection until its answer is written: past MaxRequestsPerSession a
// request gets 429 with Retry-After; notifications and responses still
// pass, and a freed slot serves again.
func TestHostileStreamableRequestBound(t *testing.T) {
	tools := newTestTools()
	_, ts := newTestServer(t, tools, HTTPOptions{MaxRequestsPerSession: 2})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-06-18")
	done := make(chan struct{})
	for i := range 2 {
		go func() {
			defer func() { done <- struct{}{} }()
			resp := c.do(http.MethodPost, fmt.Sprintf(`{"jsonrpc":"2.0","id":"b%d","method":"tools/call","params":{"name":"block"}}`, i), nil)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
		<-tools.started
	}
	resp := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":"third","method":"ping"}`, nil)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(body), `"id":"third"`) {
		t.Fatalf("a third request: %d, Retry-After %q, %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	resp = c.do(http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}`, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("a notification at the bound: %d", resp.StatusCode)
	}
	close(tools.release)
	<-done
	<-done
	if msgs := c.result("ping", nil); msgs == nil {
		t.Fatal("no ping result after the slots were freed")
	}
}

// A socket write blocked by a client that never reads does not hold the
// locks other operations need: another message is queued, a POST is
// answered, and the session ends (cutting the blocked write short), each
// at once rather than after the write timeout.
func TestHostileBlockedWriteHoldsNoLock(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{WriteTimeout: time.Hour, MaxQueuedBytes: 64 << 20})
	sess, url, _ := legacyFlood(t, s, ts)
	big := strings.Repeat("b", 32<<20) // far more than the socket buffers take
	sw := sess.standalone.w
	if err := sess.Notify(context.Background(), "test/big", map[string]string{"data": big}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the big write to start", func() bool {
		if !sw.mu.TryLock() {
			return true // held by a writer, were writes made under it
		}
		defer sw.mu.Unlock()
		return sw.inWrite > len(big)
	})
	within := func(what string, f func()) {
		t.Helper()
		ok := make(chan struct{})
		go func() { f(); close(ok) }()
		select {
		case <-ok:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s waited for the blocked write", what)
		}
	}
	within("another notification", func() {
		if err := sess.Notify(context.Background(), "test/small", nil); err != nil {
			t.Errorf("notify: %v", err)
		}
	})
	within("a POSTed request", func() {
		if resp, body := postRaw(t, url, `{"jsonrpc":"2.0","id":7,"method":"ping"}`); resp.StatusCode != http.StatusAccepted {
			t.Errorf("ping: %d %s", resp.StatusCode, body)
		}
	})
	waitFor(t, "the ping's answer to be queued", func() bool { return sess.admitted.Load() == 0 })
	within("the session's end", sess.Close)
	within("the blocked write", sw.writers.Wait)
}

// A Streamable HTTP GET stream whose client stops reading: notifications
// queue up to MaxQueuedBytes, and the one that would pass it ends the
// connection instead (the client may resume with Last-Event-ID); the
// queue never holds more than the bound.
func TestHostileStreamableGETQueueBound(t *testing.T) {
	const maxQueued = 1 << 20
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{MaxQueuedBytes: maxQueued, WriteTimeout: time.Hour})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	sess := s.session(c.sid)
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /mcp HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nMcp-Session-Id: %s\r\nMcp-Protocol-Version: 2025-11-25\r\n\r\n", c.sid)
	waitFor(t, "the GET stream", func() bool {
		sess.standalone.mu.Lock()
		defer sess.standalone.mu.Unlock()
		return sess.standalone.w != nil
	})
	sw := sess.standalone.w
	chunk := map[string]string{"data": strings.Repeat("n", 256<<10)}
	most := 0
	for i := 0; i < 400 && !isDead(sw); i++ {
		if err := sess.Notify(context.Background(), "test/chunk", chunk); err != nil {
			t.Fatalf("notify %d: %v", i, err)
		}
		most = max(most, sw.queued())
	}
	if !isDead(sw) {
		t.Fatal("100 MB of notifications to a stream never read did not end its connection")
	}
	if most > maxQueued+len(chunk["data"])+1024 {
		t.Fatalf("%d bytes queued, past the bound of %d", most, maxQueued)
	}
	// The stream keeps its replay log for a resuming GET.
	sess.standalone.mu.Lock()
	kept := sess.standalone.size
	sess.standalone.mu.Unlock()
	if kept == 0 || kept > maxReplayBytes+len(chunk["data"])+64 {
		t.Fatalf("replay log of %d bytes", kept)
	}
}

func isDead(sw *sseWriter) bool {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.dead
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// vmRSS is the process's resident set as /proc tells it ("?" elsewhere).
func vmRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
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
