package main

// Hostile input against the whole server, started with run exactly as main
// does: each case sends something malformed, oversized, forged or replayed,
// asserts the exact status and the error in the protocol's own form
// (JSON-RPC error object for MCP, RFC 6749 s5.2 JSON or an HTML page for
// OAuth), then proves that the server still serves and that nothing stored
// changed that should not have.
//
// What stays here needs the whole server: a session's owner is the bearer
// token's user (oauth and mcp wired together), the read and header
// timeouts and header limit are the http.Server's, and the floods cross
// both. Hostile input that one package answers alone is tested in that
// package: oauth/authorize_e2e_test.go, oauth/token_e2e_test.go,
// mcp/streamable_test.go, mcp/sse_test.go.

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestHostileMCPSessions: ended sessions, another user's session, and
// tokens that are revoked, malformed, for another resource or in the URL.
func TestHostileMCPSessions(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverConfig{})
	adaClient, ada, adaRefresh := s.tokens("ada@example.com")
	_, grace, _ := s.tokens("grace@example.com")
	adaSID := s.initialize(ada)
	graceSID := s.initialize(grace)

	// Another user's session id: 403, and neither session is harmed.
	s.rpcError(s.mcpReq(grace, adaSID, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), 403, -32600)
	req, _ := http.NewRequest("DELETE", s.base+"/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+grace)
	req.Header.Set("Mcp-Session-Id", adaSID)
	if st, _, body := s.do(req); st != 403 {
		t.Fatalf("DELETE of another user's session: %d %s", st, body)
	}
	s.serves(ada, adaSID)
	s.serves(grace, graceSID)

	// An ended session: 404 for POST, GET and DELETE alike.
	ended := s.initialize(grace)
	req, _ = http.NewRequest("DELETE", s.base+"/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+grace)
	req.Header.Set("Mcp-Session-Id", ended)
	if st, _, body := s.do(req); st != 204 {
		t.Fatalf("DELETE: %d %s", st, body)
	}
	s.rpcError(s.mcpReq(grace, ended, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), 404, -32600)
	get, _ := http.NewRequest("GET", s.base+"/mcp", nil)
	get.Header.Set("Accept", "text/event-stream")
	get.Header.Set("Authorization", "Bearer "+grace)
	get.Header.Set("Mcp-Session-Id", ended)
	s.rpcError(get, 404, -32600)
	s.serves(grace, graceSID)

	// Bearer failures: RFC 6750 s3 challenges.
	bearer := func(name string, req *http.Request, status int, errCode string) {
		t.Helper()
		st, h, body := s.do(req)
		wa := h.Get("WWW-Authenticate")
		if st != status || !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, `resource_metadata="`) {
			t.Errorf("%s: %d %q %s", name, st, wa, body)
		}
		if errCode != "" && !strings.Contains(wa, `error="`+errCode+`"`) {
			t.Errorf("%s: WWW-Authenticate %q lacks error=%q", name, wa, errCode)
		}
	}
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	bearer("no token", s.mcpReq("", "", init), 401, "")
	bearer("unknown token", s.mcpReq("mcp_at_"+strings.Repeat("A", 43), "", init), 401, "invalid_token")
	bearer("oversized token", s.mcpReq(strings.Repeat("A", 5000), "", init), 401, "invalid_token")
	q, _ := http.NewRequest("POST", s.base+"/mcp?access_token="+url.QueryEscape(ada), strings.NewReader(init))
	q.Header.Set("Content-Type", "application/json")
	q.Header.Set("Accept", "application/json, text/event-stream")
	bearer("token in the query string", q, 400, "invalid_request")
	two := s.mcpReq(ada, "", init)
	two.Header.Add("Authorization", "Bearer "+grace)
	bearer("two Authorization headers", two, 400, "invalid_request")
	// A token issued for /mcp is refused at /sse (RFC 8707 audience).
	sse, _ := http.NewRequest("GET", s.base+"/sse", nil)
	sse.Header.Set("Accept", "text/event-stream")
	sse.Header.Set("Authorization", "Bearer "+ada)
	bearer("token for another resource", sse, 401, "invalid_token")
	// A rebinding page has a forged Host and a matching Origin, but no
	// token: it gets no further than the bearer check.
	rb := s.mcpReq("", "", init)
	rb.Host = "evil.example"
	rb.Header.Set("Origin", "http://evil.example")
	bearer("rebinding without token", rb, 401, "")

	// Revocation: the revoked access token is refused at once, with
	// invalid_token; the grant's refresh token still works (RFC 7009 s2.1:
	// revoking an access token need not revoke the grant).
	if st, _, out := s.postForm("/revoke", url.Values{"token": {ada}, "client_id": {adaClient}}); st != 200 {
		t.Fatalf("revoke: %d %v", st, out)
	}
	bearer("revoked token", s.mcpReq(ada, adaSID, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), 401, "invalid_token")
	st, _, out := s.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {adaRefresh}, "client_id": {adaClient}})
	if st != 200 {
		t.Fatalf("refresh after access revocation: %d %v", st, out)
	}
	// The session belongs to the user, not the token: the new token of
	// the same user continues it.
	s.serves(out["access_token"].(string), adaSID)
	s.serves(grace, graceSID)
}

// hxRawConn dials the server for byte-level requests.
func (s *testServer) rawConn() net.Conn {
	s.t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

// hxCutOff reads from c until the server closes it, failing the test if
// that takes longer than a generous bound. It returns what was read.
func hxCutOff(t *testing.T, name string, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("%s: the server kept a stalled connection open for 20s", name)
	}
	return string(b)
}

// TestHostileSlowClients: a client sending headers byte by byte slower than
// the header timeout is disconnected, and one that stalls mid-body is cut
// off by the body deadline, on the MCP and the OAuth endpoints alike. The
// server keeps serving others meanwhile.
func TestHostileSlowClients(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverConfig{args: []string{"-read-timeout", "1s"}})
	_, access, _ := s.tokens("ada@example.com")
	sid := s.initialize(access)
	host := strings.TrimPrefix(s.base, "http://")

	t.Run("headers byte by byte", func(t *testing.T) {
		c := s.rawConn()
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			head := "POST /mcp HTTP/1.1\r\nHost: " + host + "\r\nX-Slow: " + strings.Repeat("a", 200)
			for i := range len(head) {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				if _, err := c.Write([]byte{head[i]}); err != nil {
					return
				}
			}
		}()
		if got := hxCutOff(t, "slow headers", c); got != "" && !strings.HasPrefix(got, "HTTP/1.1 400") {
			t.Errorf("slow headers: answered %q", hxTrunc(got))
		}
	})
	stall := func(name, head, wantStatus string) {
		t.Run(name, func(t *testing.T) {
			c := s.rawConn()
			if _, err := io.WriteString(c, head); err != nil {
				t.Fatal(err)
			}
			got := hxCutOff(t, name, c)
			if got != "" && !strings.HasPrefix(got, "HTTP/1.1 "+wantStatus) {
				t.Errorf("%s: answered %q", name, hxTrunc(got))
			}
		})
	}
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	stall("MCP body stalls", "POST /mcp HTTP/1.1\r\nHost: "+host+"\r\nAuthorization: Bearer "+access+
		"\r\nMcp-Session-Id: "+sid+"\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"+
		"Content-Length: 1000\r\n\r\n"+body[:10], "400")
	stall("MCP chunked body stalls", "POST /mcp HTTP/1.1\r\nHost: "+host+"\r\nAuthorization: Bearer "+access+
		"\r\nMcp-Session-Id: "+sid+"\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"+
		"Transfer-Encoding: chunked\r\n\r\na\r\n"+body[:10]+"\r\n", "400")
	stall("token body stalls", "POST /token HTTP/1.1\r\nHost: "+host+
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=", "400")
	stall("registration body stalls", "POST /register HTTP/1.1\r\nHost: "+host+
		"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"redirect_uris\":", "400")
	stall("consent body stalls", "POST /authorize HTTP/1.1\r\nHost: "+host+
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\npending=", "400")
	s.serves(access, sid)
}

// TestHostileReadTimeoutSparesStreams: the read timeout ends with the
// body. A tools/call whose answer streams (progress, then the result) for
// longer than the read timeout still delivers its result.
func TestHostileReadTimeoutSparesStreams(t *testing.T) {
	t.Parallel()
	png := "\x89PNG\r\n\x1a\n" + strings.Repeat("\x00", 32)
	images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(2500 * time.Millisecond): // longer than -read-timeout
		case <-r.Context().Done():
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": []map[string]string{{"b64_json": base64.StdEncoding.EncodeToString([]byte(png))}}})
	}))
	defer images.Close()
	s := startServer(t, serverConfig{env: map[string]string{"OPENAI_BASE_URL": images.URL, "OPENAI_API_KEY": "sk-test"}, args: []string{"-read-timeout", "1s"}})
	_, access, _ := s.tokens("ada@example.com") // ada may generate images
	sid := s.initialize(access)
	st, h, body := s.do(s.mcpReq(access, sid, `{"jsonrpc":"2.0","id":"img","method":"tools/call","params":{"name":"generateImage","arguments":{"prompt":"a lighthouse"},"_meta":{"progressToken":"p1"}}}`))
	if st != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("tools/call: %d %q %s", st, h.Get("Content-Type"), hxTrunc(body))
	}
	if !strings.Contains(body, `"method":"notifications/progress"`) || !strings.Contains(body, `"id":"img","result"`) || !strings.Contains(body, `"type":"image"`) {
		t.Fatalf("the stream lost its result: %s", hxTrunc(body))
	}
	s.serves(access, sid)
}

// TestHostileHugeHeaders: headers past MaxHeaderBytes get 431, and the
// server keeps serving.
func TestHostileHugeHeaders(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverConfig{})
	_, access, _ := s.tokens("ada@example.com")
	sid := s.initialize(access)
	c := s.rawConn()
	go func() {
		io.WriteString(c, "POST /mcp HTTP/1.1\r\nHost: "+strings.TrimPrefix(s.base, "http://")+"\r\nX-Pad: "+strings.Repeat("x", 200<<10)+"\r\n\r\n")
	}()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "HTTP/1.1 431 ") {
		t.Errorf("huge headers: %q", hxTrunc(string(got)))
	}
	s.serves(access, sid)
}

// TestHostileFloods: authorization requests past the per-address limit get
// a 429 page with Retry-After; sessions past the per-user limit end the
// least recently active one, never another user's; a forged Host changes
// nothing the server advertises.
func TestHostileFloods(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverConfig{})
	_, ada, _ := s.tokens("ada@example.com")
	_, grace, _ := s.tokens("grace@example.com")
	graceSID := s.initialize(grace)

	// Sessions: the first of 101 is ended (404), the last one works.
	first := s.initialize(ada)
	var last string
	for range 100 {
		last = s.initialize(ada)
	}
	s.rpcError(s.mcpReq(ada, first, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), 404, -32600)
	s.serves(ada, last)
	s.serves(grace, graceSID)

	// A forged Host: the metadata still names the configured issuer.
	req, _ := http.NewRequest("GET", s.base+"/.well-known/oauth-authorization-server", nil)
	req.Host = "evil.example"
	st, _, body := s.do(req)
	var meta map[string]any
	json.Unmarshal([]byte(body), &meta)
	if st != 200 || meta["issuer"] != s.base || meta["token_endpoint"] != s.base+"/token" || strings.Contains(body, "evil.example") {
		t.Errorf("metadata with a forged Host: %d %s", st, body)
	}
	req, _ = http.NewRequest("GET", s.base+"/.well-known/oauth-protected-resource/mcp", nil)
	req.Host = "evil.example"
	if st, _, body := s.do(req); st != 200 || strings.Contains(body, "evil.example") || !strings.Contains(body, s.base+"/mcp") {
		t.Errorf("resource metadata with a forged Host: %d %s", st, body)
	}

	// Authorization requests: a burst of 60, then 429.
	client := s.register()
	var st2 int
	var h http.Header
	n := 0
	for ; n < 100; n++ {
		st2, h, body = s.get("/authorize?" + hxAuthParams(client).Encode())
		if st2 != 200 {
			break
		}
	}
	if n < 50 || n > 61 {
		t.Errorf("the limit struck after %d authorization requests", n)
	}
	hxPage(t, "authorize flood", st2, h, body, 429, "Too many requests")
	if ra := h.Get("Retry-After"); ra == "" || strings.Trim(ra, "0123456789") != "" {
		t.Errorf("Retry-After %q", ra)
	}
	// Tokens and MCP are not limited with it.
	s.serves(grace, graceSID)
}
