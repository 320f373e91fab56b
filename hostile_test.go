package main

// Hostile input against the whole server, started with run exactly as main
// does: each case sends something malformed, oversized, forged or replayed,
// asserts the exact status and the error in the protocol's own form
// (JSON-RPC error object for MCP, RFC 6749 s5.2 JSON or an HTML page for
// OAuth), then proves that the server still serves and that nothing stored
// changed that should not have.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"remote-mcp-authkit/oauth/authkittest"
)

// hxRedirect is the registered redirect URI of test clients. Nothing listens
// there: browsers in these tests stop at the redirect and read its query.
const hxRedirect = "http://127.0.0.1:9/cb"

// RFC 7636 Appendix B.
const (
	hxVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	hxChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

// hxBrowser has a cookie jar and follows redirects except those leaving for
// a client's redirect URI (host 127.0.0.1:9) or when stop says so.
func hxBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "127.0.0.1:9" || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// hxNoFollow shares a browser's cookies but follows no redirect.
func hxNoFollow(b *http.Client) *http.Client {
	return &http.Client{Jar: b.Jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func hxBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

// do sends a request and returns status, headers and body.
func (s *testServer) do(req *http.Request) (int, http.Header, string) {
	s.t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, resp.Header, hxBody(s.t, resp)
}

func (s *testServer) postForm(path string, form url.Values) (int, http.Header, map[string]any) {
	s.t.Helper()
	req, _ := http.NewRequest("POST", s.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	st, h, body := s.do(req)
	var out map[string]any
	if body != "" {
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			s.t.Fatalf("POST %s: %d, body is not JSON: %q", path, st, body)
		}
	}
	return st, h, out
}

// register registers a public client with the given redirect URIs.
func (s *testServer) register(redirects ...string) string {
	s.t.Helper()
	if len(redirects) == 0 {
		redirects = []string{hxRedirect}
	}
	b, _ := json.Marshal(map[string]any{"redirect_uris": redirects, "token_endpoint_auth_method": "none", "client_name": "hostile"})
	req, _ := http.NewRequest("POST", s.base+"/register", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	st, _, body := s.do(req)
	if st != http.StatusCreated {
		s.t.Fatalf("register: %d %s", st, body)
	}
	var out struct {
		ClientID string `json:"client_id"`
	}
	json.Unmarshal([]byte(body), &out)
	return out.ClientID
}

func hxAuthParams(clientID string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {hxRedirect},
		"state": {"st-1"}, "code_challenge": {hxChallenge}, "code_challenge_method": {"S256"},
	}
}

var (
	hxPendingRe = regexp.MustCompile(`name="pending" value="([^"]+)"`)
	hxCSRFRe    = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// consent opens /authorize in browser b and returns the consent form's
// hidden fields.
func (s *testServer) consent(b *http.Client, params url.Values) (pending, csrf string) {
	s.t.Helper()
	resp, err := hxNoFollow(b).Get(s.base + "/authorize?" + params.Encode())
	if err != nil {
		s.t.Fatal(err)
	}
	body := hxBody(s.t, resp)
	p, c := hxPendingRe.FindStringSubmatch(body), hxCSRFRe.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || p == nil || c == nil {
		s.t.Fatalf("authorize: %d, no consent form: %s", resp.StatusCode, body)
	}
	return html.UnescapeString(p[1]), html.UnescapeString(c[1])
}

// approve posts the consent form with every scope box ticked (a box for a
// scope the request did not ask for counts for nothing) and returns the
// redirect to the sign-in page (the upstream authorization URL).
func (s *testServer) approve(b *http.Client, pending, csrf string) string {
	s.t.Helper()
	resp, err := hxNoFollow(b).PostForm(s.base+"/authorize", url.Values{"pending": {pending}, "csrf_token": {csrf}, "decision": {"approve"},
		"scope": {"tools:basic", "image_generation"}})
	if err != nil {
		s.t.Fatal(err)
	}
	body := hxBody(s.t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		s.t.Fatalf("consent approve: %d %s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// callbackURL plays the sign-in page for email and returns our /callback URL
// the sign-in page redirected to (not yet followed).
func (s *testServer) callbackURL(b *http.Client, signInURL, email string) string {
	s.t.Helper()
	resp, err := authkittest.SignIn(context.Background(), hxNoFollow(b), signInURL, email)
	if err != nil {
		s.t.Fatalf("sign-in: %v", err)
	}
	body := hxBody(s.t, resp)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), s.base+"/callback?") {
		s.t.Fatalf("sign-in page answered %d %q: %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return resp.Header.Get("Location")
}

// follow GETs u in browser b without following redirects and returns the
// response's status and parsed Location.
func (s *testServer) follow(b *http.Client, u string) (int, *url.URL, string) {
	s.t.Helper()
	resp, err := hxNoFollow(b).Get(u)
	if err != nil {
		s.t.Fatal(err)
	}
	body := hxBody(s.t, resp)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return resp.StatusCode, loc, body
}

// code runs the browser part of the flow for clientID as email and returns
// the authorization code.
func (s *testServer) code(clientID, email string) string {
	s.t.Helper()
	return s.codeWith(hxAuthParams(clientID), email)
}

// codeWith is code with the authorization request's parameters given.
func (s *testServer) codeWith(params url.Values, email string) string {
	s.t.Helper()
	b := newBrowser(s.t)
	q, err := b.authorize(context.Background(), s.base+"/authorize?"+params.Encode(), hxRedirect, email)
	if err != nil {
		s.t.Fatalf("sign-in: %v", err)
	}
	if !slices.Equal(b.seen, []string{"consent", "signin"}) {
		s.t.Fatalf("pages seen %v, want the consent page and the sign-in page", b.seen)
	}
	if q.Get("code") == "" || q.Get("state") != "st-1" || q.Get("iss") != s.base {
		s.t.Fatalf("authorization response %v", q)
	}
	return q.Get("code")
}

func hxCodeForm(clientID, code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {hxRedirect},
		"code_verifier": {hxVerifier}, "client_id": {clientID}}
}

// tokens signs email in through a fresh client and returns its client ID,
// access token and refresh token.
func (s *testServer) tokens(email string) (clientID, access, refresh string) {
	s.t.Helper()
	clientID = s.register()
	st, _, out := s.postForm("/token", hxCodeForm(clientID, s.code(clientID, email)))
	if st != http.StatusOK {
		s.t.Fatalf("token: %d %v", st, out)
	}
	return clientID, out["access_token"].(string), out["refresh_token"].(string)
}

// mcpReq builds a POST to /mcp with the headers a conforming client sends.
func (s *testServer) mcpReq(token, session, body string) *http.Request {
	req, _ := http.NewRequest("POST", s.base+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	return req
}

// hxRPC is a JSON-RPC response as the tests read it.
type hxRPC struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func hxDecodeRPC(t *testing.T, body string) hxRPC {
	t.Helper()
	var r hxRPC
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.JSONRPC != "2.0" {
		t.Fatalf("not a JSON-RPC response (%v): %q", err, hxTrunc(body))
	}
	return r
}

func hxTrunc(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// initialize starts an MCP session with token and returns its id.
func (s *testServer) initialize(token string) string {
	s.t.Helper()
	st, h, body := s.do(s.mcpReq(token, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"hostile","version":"1"}}}`))
	if st != http.StatusOK || h.Get("Mcp-Session-Id") == "" {
		s.t.Fatalf("initialize: %d %s", st, body)
	}
	sid := h.Get("Mcp-Session-Id")
	if st, _, body := s.do(s.mcpReq(token, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)); st != http.StatusAccepted {
		s.t.Fatalf("notifications/initialized: %d %s", st, body)
	}
	return sid
}

// serves proves the session still works: tools/list answers with tools.
func (s *testServer) serves(token, session string) {
	s.t.Helper()
	st, _, body := s.do(s.mcpReq(token, session, `{"jsonrpc":"2.0","id":"alive","method":"tools/list"}`))
	if st != http.StatusOK {
		s.t.Fatalf("follow-up tools/list: %d %s", st, body)
	}
	r := hxDecodeRPC(s.t, body)
	if r.Error != nil || !strings.Contains(string(r.Result), `"name":"add"`) {
		s.t.Fatalf("follow-up tools/list: %s", body)
	}
}

// rpcError asserts an HTTP status and a JSON-RPC error code, and returns the
// response.
func (s *testServer) rpcError(req *http.Request, status, code int) hxRPC {
	s.t.Helper()
	st, h, body := s.do(req)
	if st != status {
		s.t.Fatalf("status %d, want %d: %s", st, status, hxTrunc(body))
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.t.Fatalf("Content-Type %q, want application/json: %s", ct, hxTrunc(body))
	}
	r := hxDecodeRPC(s.t, body)
	if r.Error == nil || r.Error.Code != code || r.Error.Message == "" {
		s.t.Fatalf("want JSON-RPC error %d, got %s", code, hxTrunc(body))
	}
	return r
}

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

// hxPage asserts an HTML page (never a redirect) with status and text.
func hxPage(t *testing.T, name string, st int, h http.Header, body string, wantStatus int, wantText string) {
	t.Helper()
	if st != wantStatus || h.Get("Location") != "" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, wantText) {
		t.Errorf("%s: %d Location=%q Content-Type=%q, want a %d page saying %q:\n%s", name, st, h.Get("Location"), h.Get("Content-Type"), wantStatus, wantText, hxTrunc(body))
	}
}

// hxOAuthErr asserts an RFC 6749 s5.2 JSON error.
func hxOAuthErr(t *testing.T, name string, st int, out map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if st != wantStatus || out["error"] != wantCode || out["error_description"] == "" {
		t.Errorf("%s: %d %v, want %d %s", name, st, out, wantStatus, wantCode)
	}
}

func (s *testServer) get(path string) (int, http.Header, string) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	return s.do(req)
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
