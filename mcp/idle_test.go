package mcp

import (
	"bufio"
	"context"
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
)

// rawStream is a GET stream opened over a bare TCP connection, so the
// test's client side costs no goroutine either.
type rawStream struct {
	conn net.Conn
	resp *http.Response
	br   *bufio.Reader
}

func openRaw(t *testing.T, ts *httptest.Server, path string, header map[string]string) *rawStream {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n", path)
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return &rawStream{conn: conn, resp: resp, br: br}
}

// next reads one event (or comment block) as raw text, up to the blank line.
func (rs *rawStream) next(t *testing.T) (string, error) {
	t.Helper()
	_ = rs.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	for {
		l, err := readLine(rs.resp.Body)
		if err != nil {
			return b.String(), err
		}
		if l == "" {
			return b.String(), nil
		}
		b.WriteString(l + "\n")
	}
}

func readLine(r io.Reader) (string, error) {
	var out []byte
	var c [1]byte
	for {
		if _, err := io.ReadFull(r, c[:]); err != nil {
			return string(out), err
		}
		if c[0] == '\n' {
			return string(out), nil
		}
		out = append(out, c[0])
	}
}

func sessionHeaders(c *httpClient) map[string]string {
	return map[string]string{"Mcp-Session-Id": c.sid, "Mcp-Protocol-Version": c.version}
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// An idle GET stream holds no goroutine on the server: 100 of them add only
// the keep-alive goroutine. Once their clients leave, the keep-alives fail
// and goroutines and file descriptors return to where they were.
func TestIdleStreamsCostNoGoroutine(t *testing.T) {
	const n = 100
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{KeepAlive: 60 * time.Millisecond})
	clients := make([]*httpClient, n)
	for i := range clients {
		clients[i] = newHTTPClient(t, ts.URL+"/mcp")
		clients[i].initialize("2025-11-25")
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	time.Sleep(50 * time.Millisecond)
	baseline, baseFDs := runtime.NumGoroutine(), openFDs()

	streams := make([]*rawStream, n)
	for i, c := range clients {
		streams[i] = openRaw(t, ts, "/mcp", sessionHeaders(c))
		if streams[i].resp.StatusCode != http.StatusOK {
			t.Fatalf("GET: %d", streams[i].resp.StatusCode)
		}
		if ev, err := streams[i].next(t); err != nil || !strings.Contains(ev, "id: ") {
			t.Fatalf("priming event: %q %v", ev, err)
		}
	}
	// The keeper goroutine, and at times one of its workers.
	if got := runtime.NumGoroutine(); got > baseline+3 {
		t.Fatalf("%d idle streams hold %d goroutines", n, got-baseline)
	}
	for _, c := range clients {
		sess := s.session(c.sid)
		sess.mu.Lock()
		attached := sess.attached
		sess.mu.Unlock()
		if attached != 1 {
			t.Fatalf("session %s has %d streams attached", c.sid, attached)
		}
	}

	for _, rs := range streams {
		rs.conn.Close()
	}
	waitFor(t, "every stream to be released", func() bool {
		for _, c := range clients {
			sess := s.session(c.sid)
			sess.mu.Lock()
			attached := sess.attached
			sess.mu.Unlock()
			if attached != 0 {
				return false
			}
		}
		return true
	})
	waitFor(t, fmt.Sprintf("goroutines back to %d", baseline), func() bool { return runtime.NumGoroutine() <= baseline })
	if baseFDs >= 0 {
		waitFor(t, fmt.Sprintf("open files back to %d", baseFDs), func() bool { return openFDs() <= baseFDs })
	}
}

// The hand-written response head carries what the handler and middleware
// set, the stream closes its connection to end, keep-alives arrive on an
// idle stream, and messages reach it.
func TestHijackedStreamHeadAndKeepAlive(t *testing.T) {
	s := NewServer(ServerOptions{Tools: newTestTools(), Logger: quietLogger()})
	h := s.StreamableHTTPHandler(HTTPOptions{KeepAlive: 40 * time.Millisecond})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()
	defer s.Shutdown(context.Background())
	c := newHTTPClient(t, ts.URL)
	c.initialize("2025-11-25")
	rs := openRaw(t, ts, "/", sessionHeaders(c))
	defer rs.conn.Close()
	for k, want := range map[string]string{
		"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
		"Access-Control-Allow-Origin": "*",
	} {
		if got := rs.resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if rs.resp.StatusCode != 200 || rs.resp.ContentLength != -1 || len(rs.resp.TransferEncoding) != 0 || !rs.resp.Close {
		t.Fatalf("want a close-delimited 200, got %d, length %d, %v, close %v", rs.resp.StatusCode, rs.resp.ContentLength, rs.resp.TransferEncoding, rs.resp.Close)
	}
	if ev, err := rs.next(t); err != nil || !strings.Contains(ev, "retry: ") {
		t.Fatalf("priming event: %q %v", ev, err)
	}
	for range 3 {
		if ev, err := rs.next(t); err != nil || ev != ": keep-alive\n" {
			t.Fatalf("want a keep-alive, got %q %v", ev, err)
		}
	}
	s.NotifyToolListChanged("")
	for {
		ev, err := rs.next(t)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ev, "notifications/tools/list_changed") {
			break
		}
	}
}

// A client whose stream connection dropped can reconnect at once: the GET
// finds the old connection dead by probing it, instead of refusing with
// 409. A live one is still refused, and messages go to the new stream only.
func TestHijackedStreamReconnect(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{KeepAlive: time.Hour})
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	first := openRaw(t, ts, "/mcp", sessionHeaders(c))
	if _, err := first.next(t); err != nil {
		t.Fatal(err)
	}
	first.conn.Close()
	second := openRaw(t, ts, "/mcp", sessionHeaders(c))
	defer second.conn.Close()
	if second.resp.StatusCode != http.StatusOK {
		t.Fatalf("reconnecting GET: %d, want 200", second.resp.StatusCode)
	}
	if _, err := second.next(t); err != nil {
		t.Fatal(err)
	}
	third := openRaw(t, ts, "/mcp", sessionHeaders(c))
	third.conn.Close()
	if third.resp.StatusCode != http.StatusConflict {
		t.Fatalf("GET while a live stream is open: %d, want 409", third.resp.StatusCode)
	}
	s.NotifyToolListChanged("")
	if ev, err := second.next(t); err != nil || !strings.Contains(ev, "list_changed") {
		t.Fatalf("the new stream did not get the message: %q %v", ev, err)
	}
}

// DELETE, Shutdown and the end of a legacy session close hijacked streams.
func TestHijackedStreamsClosed(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{KeepAlive: time.Hour})
	expectEOF := func(rs *rawStream, what string) {
		t.Helper()
		for {
			ev, err := rs.next(t)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				t.Fatalf("%s: want the stream closed, got %v", what, err)
			}
			_ = ev
		}
	}

	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")
	rs := openRaw(t, ts, "/mcp", sessionHeaders(c))
	defer rs.conn.Close()
	resp := c.do(http.MethodDelete, "", nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	expectEOF(rs, "after DELETE")

	legacy := openRaw(t, ts, "/sse", nil)
	defer legacy.conn.Close()
	if ev, err := legacy.next(t); err != nil || !strings.Contains(ev, "event: endpoint") {
		t.Fatalf("endpoint event: %q %v", ev, err)
	}
	sid := s.Sessions()[0].ID()
	s.session(sid).Close()
	expectEOF(legacy, "after the legacy session ended")

	c2 := newHTTPClient(t, ts.URL+"/mcp")
	c2.initialize("2025-11-25")
	rs2 := openRaw(t, ts, "/mcp", sessionHeaders(c2))
	defer rs2.conn.Close()
	legacy2 := openRaw(t, ts, "/sse", nil)
	defer legacy2.conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	expectEOF(rs2, "after Shutdown")
	expectEOF(legacy2, "legacy after Shutdown")
}

// Over HTTP/2 there is no connection to hijack: the stream keeps its
// goroutine and works as before.
func TestStreamOverHTTP2(t *testing.T) {
	s := NewServer(ServerOptions{Tools: newTestTools(), Logger: quietLogger()})
	ts := httptest.NewUnstartedServer(s.StreamableHTTPHandler(HTTPOptions{}))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()
	defer s.Shutdown(context.Background())
	client := ts.Client()
	post := func(body, sid string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, ts.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, "")
	resp.Body.Close()
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.ProtoMajor != 2 || sid == "" {
		t.Fatalf("initialize over HTTP/%d, session %q", resp.ProtoMajor, sid)
	}
	post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, sid).Body.Close()
	req, _ := http.NewRequest(http.MethodGet, ts.URL, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	g, err := client.Do(req)
	if err != nil || g.StatusCode != 200 {
		t.Fatalf("GET: %v %v", err, g)
	}
	defer g.Body.Close()
	go func() {
		time.Sleep(50 * time.Millisecond)
		s.NotifyToolListChanged("")
	}()
	evs := readEvents(g.Body, func(ev clientEvent) bool { return strings.Contains(ev.Data, "list_changed") })
	if len(evs) == 0 || !strings.Contains(evs[len(evs)-1].Data, "list_changed") {
		t.Fatalf("HTTP/2 stream: %+v", evs)
	}
}

// The keep-alive goroutine runs only while there are hijacked streams: the
// last one leaving ends it at once, not at the next tick.
func TestKeeperExitsWhenEmpty(t *testing.T) {
	k := newStreamKeeper(time.Hour)
	a, b := net.Pipe()
	defer b.Close()
	released := make(chan struct{})
	sw := &sseWriter{gone: make(chan struct{}), timeout: time.Second}
	sw.handOff(k, func() { close(released) })
	sw.sink = &connSink{conn: a}
	k.add(sw)
	running := func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.running
	}
	if !running() {
		t.Fatal("no keep-alive goroutine for a hijacked stream")
	}
	sw.kill()
	<-released
	waitFor(t, "the keep-alive goroutine to end", func() bool { return !running() })
}

// The keeper's sweep notices a client that left well before a keep-alive
// would fail: here the legacy session (which lives as long as its stream)
// ends within a sweep or two, with keep-alives 10 s apart.
func TestSweepNoticesDepartedClient(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no non-blocking socket probe on this platform")
	}
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{KeepAlive: 10 * time.Second})
	legacy := openRaw(t, ts, "/sse", nil)
	if ev, err := legacy.next(t); err != nil || !strings.Contains(ev, "endpoint") {
		t.Fatalf("endpoint event: %q %v", ev, err)
	}
	if len(s.Sessions()) != 1 {
		t.Fatal("no legacy session")
	}
	start := time.Now()
	legacy.conn.Close()
	waitFor(t, "the legacy session to end", func() bool { return len(s.Sessions()) == 0 })
	if d := time.Since(start); d > 3*sweepEvery {
		t.Fatalf("noticed after %v", d)
	}
}

func TestPeerGone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if gone, ok := peerGone(server); !ok {
		t.Skip("no non-blocking socket probe on this platform")
	} else if gone {
		t.Fatal("an open, silent connection reported gone")
	}
	client.Close()
	waitFor(t, "the close to be seen", func() bool { gone, _ := peerGone(server); return gone })
}
