package main

// The client side of the end-to-end harness (harness_test.go): an MCP
// client's OAuth steps as a conforming client takes them (discover,
// register, authorize, token, refresh, revoke), both MCP transports
// (Streamable HTTP and the 2024-11-05 HTTP+SSE), and the raw requests the
// hostile tests send step by step (consent, approve, callback, tokens).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// The OAuth side of an MCP client.

// oauthClient is one registered MCP client of one server.
type oauthClient struct {
	hc          *http.Client
	resource    string // the MCP endpoint, as the resource parameter
	issuer      string
	asMeta      map[string]any
	clientID    string
	redirectURI string
	scope       string // the scope parameter of authorization requests; "" for none
}

// tokenSet is a token endpoint response (RFC 6749 s5.1).
type tokenSet struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

func getJSON(ctx context.Context, hc *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, res.Status, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("GET %s: Content-Type %q", u, ct)
	}
	return json.Unmarshal(body, v)
}

var resourceMetadataRe = regexp.MustCompile(`resource_metadata="([^"]+)"`)

// discover does what a client does on its first request: it is refused,
// reads the protected resource metadata the challenge names, and the
// metadata of the authorization server that lists.
func discover(ctx context.Context, t *testing.T, resource string) *oauthClient {
	t.Helper()
	hc := &http.Client{Timeout: 15 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, resource, strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST %s without a token: %s, want 401", resource, res.Status)
	}
	challenge := res.Header.Get("WWW-Authenticate")
	m := resourceMetadataRe.FindStringSubmatch(challenge)
	if !strings.HasPrefix(challenge, "Bearer ") || m == nil {
		t.Fatalf("WWW-Authenticate %q: want Bearer with resource_metadata (RFC 9728 s5.1)", challenge)
	}

	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := getJSON(ctx, hc, m[1], &prm); err != nil {
		t.Fatal(err)
	}
	if prm.Resource != resource || len(prm.AuthorizationServers) != 1 {
		t.Fatalf("protected resource metadata %+v: want resource %s and one authorization server", prm, resource)
	}
	issuer := prm.AuthorizationServers[0]
	// RFC 8414 s3.1: the well-known path goes between host and issuer path.
	iu, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	wk := iu.Scheme + "://" + iu.Host + "/.well-known/oauth-authorization-server" + strings.TrimSuffix(iu.Path, "/")
	var meta map[string]any
	if err := getJSON(ctx, hc, wk, &meta); err != nil {
		t.Fatal(err)
	}
	if meta["issuer"] != issuer {
		t.Fatalf("authorization server metadata issuer %v, want %s (RFC 8414 s3.3)", meta["issuer"], issuer)
	}
	methods, _ := meta["code_challenge_methods_supported"].([]any)
	if !slices.Contains(methods, any("S256")) {
		t.Fatalf("code_challenge_methods_supported %v lacks S256", methods)
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint"} {
		if s, _ := meta[k].(string); !strings.HasPrefix(s, issuer+"/") {
			t.Fatalf("metadata %s = %v, want an endpoint under %s", k, meta[k], issuer)
		}
	}
	return &oauthClient{hc: hc, resource: resource, issuer: issuer, asMeta: meta}
}

func (c *oauthClient) endpoint(name string) string { return c.asMeta[name+"_endpoint"].(string) }

// register is dynamic client registration (RFC 7591 s3) of a public client
// with a loopback redirect URI, as desktop MCP clients register.
func (c *oauthClient) register(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	c.redirectURI = "http://127.0.0.1:1/callback/" + strings.ToLower(rand.Text()[:8])
	body, _ := json.Marshal(map[string]any{
		"client_name":                name,
		"redirect_uris":              []string{c.redirectURI},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint("registration"), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("register: %s: %s", res.Status, rb)
	}
	var out struct {
		ClientID     string   `json:"client_id"`
		RedirectURIs []string `json:"redirect_uris"`
	}
	if err := json.Unmarshal(rb, &out); err != nil || out.ClientID == "" || !slices.Equal(out.RedirectURIs, []string{c.redirectURI}) {
		t.Fatalf("register: %s (%v)", rb, err)
	}
	c.clientID = out.ClientID
}

// authorize runs the authorization code flow with PKCE S256 (RFC 7636 s4)
// in b as the user with email, and redeems the code.
func (c *oauthClient) authorize(ctx context.Context, t *testing.T, b *browser, email string) tokenSet {
	t.Helper()
	verifier := base64.RawURLEncoding.EncodeToString([]byte(rand.Text() + rand.Text()))
	sum := sha256.Sum256([]byte(verifier))
	state := rand.Text()
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {c.clientID},
		"redirect_uri":          {c.redirectURI},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
		"state":                 {state},
		"resource":              {c.resource},
	}
	if c.scope != "" {
		q.Set("scope", c.scope)
	}
	back, err := b.authorize(ctx, c.endpoint("authorization")+"?"+q.Encode(), c.redirectURI, email)
	if err != nil {
		t.Fatalf("authorize as %s: %v", email, err)
	}
	if back.Get("state") != state {
		t.Fatalf("redirect state %q, want %q (RFC 6749 s4.1.2)", back.Get("state"), state)
	}
	// RFC 9207 s2: a server that says it sends iss must send its own, so a
	// client can tell which server answered (mix-up attacks).
	if c.asMeta["authorization_response_iss_parameter_supported"] == true && back.Get("iss") != c.issuer {
		t.Fatalf("redirect iss %q, want %q (RFC 9207)", back.Get("iss"), c.issuer)
	}
	code := back.Get("code")
	if code == "" {
		t.Fatalf("redirect without a code: %v", back)
	}
	tok, status, body := c.token(ctx, t, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {c.redirectURI},
		"client_id":     {c.clientID},
		"code_verifier": {verifier},
		"resource":      {c.resource},
	})
	if status != http.StatusOK {
		t.Fatalf("code grant: %d %s", status, body)
	}
	return tok
}

// token POSTs form to the token endpoint.
func (c *oauthClient) token(ctx context.Context, t *testing.T, form url.Values) (tokenSet, int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint("token"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var tok tokenSet
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &tok); err != nil {
			t.Fatalf("token response %s: %v", body, err)
		}
		if tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "Bearer") || tok.RefreshToken == "" || tok.ExpiresIn <= 0 {
			t.Fatalf("token response %s: want a Bearer access token, expires_in and a refresh token", body)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("token response Cache-Control %q, want no-store (RFC 6749 s5.1)", cc)
		}
	}
	return tok, res.StatusCode, string(body)
}

// refresh uses the refresh token grant (RFC 6749 s6).
func (c *oauthClient) refresh(ctx context.Context, t *testing.T, rt string) tokenSet {
	t.Helper()
	tok, status, body := c.token(ctx, t, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {c.clientID}, "resource": {c.resource},
	})
	if status != http.StatusOK {
		t.Fatalf("refresh grant: %d %s", status, body)
	}
	if tok.RefreshToken == rt {
		t.Fatalf("refresh token not rotated (OAuth 2.1 s4.3.1 for public clients)")
	}
	return tok
}

// revoke is RFC 7009 s2.1.
func (c *oauthClient) revoke(ctx context.Context, t *testing.T, token, hint string) {
	t.Helper()
	form := url.Values{"token": {token}, "client_id": {c.clientID}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint("revocation"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %s %s", res.Status, body)
	}
}

// ---------------------------------------------------------------------------
// Server-sent events (HTML Living Standard, "Server-sent events").

type sseEvent struct{ id, event, data string }

// sseStream reads events from an open response in the background.
type sseStream struct {
	res    *http.Response
	events chan sseEvent
	done   chan struct{}
	err    error
}

func newSSEStream(res *http.Response) *sseStream {
	s := &sseStream{res: res, events: make(chan sseEvent, 64), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.events)
		r := bufio.NewReader(res.Body)
		var ev sseEvent
		var data []string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				s.err = err
				return
			}
			line = strings.TrimRight(line, "\r\n")
			if line == "" {
				if len(data) > 0 || ev.event != "" {
					ev.data = strings.Join(data, "\n")
					s.events <- ev
				}
				ev, data = sseEvent{}, nil
				continue
			}
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "data":
				data = append(data, value)
			case "event":
				ev.event = value
			case "id":
				ev.id = value
			}
		}
	}()
	return s
}

func (s *sseStream) close() {
	s.res.Body.Close()
	<-s.done
}

// next returns the next event carrying data, or fails after eventWait.
func (s *sseStream) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatalf("stream ended: %v", s.err)
		}
		return ev
	case <-time.After(eventWait):
		t.Fatalf("no event within %v", eventWait)
	}
	return sseEvent{}
}

// rpcMessage is any JSON-RPC 2.0 message (JSON-RPC 2.0 s4, s5).
type rpcMessage struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("JSON-RPC error %d: %s", e.Code, e.Message) }

// waitMessage reads events until one carries a JSON-RPC message for which
// match is true; messages it skips are returned too, for tests that care.
func (s *sseStream) waitMessage(t *testing.T, match func(*rpcMessage) bool) *rpcMessage {
	t.Helper()
	deadline := time.After(eventWait)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended before the expected message: %v", s.err)
			}
			if ev.data == "" {
				continue // a priming event (transports, "Resumability")
			}
			var m rpcMessage
			if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
				t.Fatalf("event %+v: %v", ev, err)
			}
			if match(&m) {
				return &m
			}
		case <-deadline:
			t.Fatalf("expected message not received within %v", eventWait)
		}
	}
}

// quiet fails if a JSON-RPC message arrives within d.
func (s *sseStream) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended: %v", s.err)
			}
			if ev.data != "" {
				t.Fatalf("unexpected event %+v", ev)
			}
		case <-deadline:
			return
		}
	}
}

// ---------------------------------------------------------------------------
// MCP clients of the two transports.

// mcpClient is what the tool checks below need from either transport.
type mcpClient interface {
	call(t *testing.T, method string, params any) (json.RawMessage, *rpcError)
}

func mustCall(t *testing.T, c mcpClient, method string, params any) json.RawMessage {
	t.Helper()
	res, err := c.call(t, method, params)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return res
}

func toolNames(t *testing.T, c mcpClient) []string {
	t.Helper()
	var out struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(mustCall(t, c, "tools/list", map[string]any{}), &out); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range out.Tools {
		names = append(names, tool.Name)
	}
	return names
}

// toolResult is CallToolResult (schema: CallToolResult).
type toolResult struct {
	Content []struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		Data     string `json:"data"`
		MimeType string `json:"mimeType"`
	} `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

func callTool(t *testing.T, c mcpClient, name string, args any) (*toolResult, *rpcError) {
	t.Helper()
	raw, rerr := c.call(t, "tools/call", map[string]any{"name": name, "arguments": args})
	if rerr != nil {
		return nil, rerr
	}
	var r toolResult
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("tools/call %s: %s: %v", name, raw, err)
	}
	return &r, nil
}

func checkAdd(t *testing.T, c mcpClient) {
	t.Helper()
	r, rerr := callTool(t, c, "add", map[string]any{"a": 2, "b": 3.5})
	if rerr != nil || r.IsError || len(r.Content) != 1 || r.Content[0].Type != "text" || r.Content[0].Text != "5.5" {
		t.Fatalf("add(2, 3.5) = %+v, %v; want the text 5.5", r, rerr)
	}
}

func checkWhoami(t *testing.T, c mcpClient, email string) {
	t.Helper()
	r, rerr := callTool(t, c, "whoami", map[string]any{})
	if rerr != nil || r.IsError {
		t.Fatalf("whoami: %+v, %v", r, rerr)
	}
	var who struct {
		User struct {
			Email string `json:"email"`
		} `json:"user"`
	}
	if err := json.Unmarshal(r.StructuredContent, &who); err != nil || who.User.Email != email {
		t.Fatalf("whoami structuredContent %s: want user.email %s (%v)", r.StructuredContent, email, err)
	}
}

// checkImage calls generateImage and decodes the image it returns.
func checkImage(t *testing.T, c mcpClient) {
	t.Helper()
	r, rerr := callTool(t, c, "generateImage", map[string]any{"prompt": "a lighthouse at dusk", "steps": 4})
	if rerr != nil || r.IsError {
		t.Fatalf("generateImage: %+v, %v", r, rerr)
	}
	for _, block := range r.Content {
		if block.Type != "image" {
			continue
		}
		if block.MimeType != "image/png" {
			t.Fatalf("image mimeType %q, want image/png (offline renderer)", block.MimeType)
		}
		data, err := base64.StdEncoding.DecodeString(block.Data)
		if err != nil {
			t.Fatalf("image data is not base64: %v", err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("image data is not a PNG: %v", err)
		}
		if b := img.Bounds(); b.Dx() < 16 || b.Dy() < 16 {
			t.Fatalf("image is %v, want a real picture", b)
		}
		return
	}
	t.Fatalf("generateImage returned no image block: %+v", r)
}

// checkRefused calls a tool the caller may not use: JSON-RPC -32602 naming
// the missing permission (tools, "Error Handling").
func checkRefused(t *testing.T, c mcpClient, tool, permission string) {
	t.Helper()
	r, rerr := callTool(t, c, tool, map[string]any{"prompt": "a lighthouse"})
	if rerr == nil {
		t.Fatalf("%s was not refused: %+v", tool, r)
	}
	if rerr.Code != -32602 || !strings.Contains(rerr.Message, permission) {
		t.Fatalf("%s refused with %v, want -32602 naming %q", tool, rerr, permission)
	}
}

func initializeParams(version string) map[string]any {
	return map[string]any{
		"protocolVersion": version,
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "e2e-test", "version": "1.0.0"},
	}
}

// streamable is a Streamable HTTP client (transports, "Streamable HTTP").
type streamable struct {
	ctx       context.Context
	hc        *http.Client
	url       string
	token     string
	sessionID string
	version   string
	next      int
}

func newStreamable(ctx context.Context, url, token string) *streamable {
	return &streamable{ctx: ctx, hc: &http.Client{}, url: url, token: token}
}

func (s *streamable) request(method string, body []byte) *http.Request {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(s.ctx, method, s.url, rd)
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	if s.sessionID != "" {
		req.Header.Set("Mcp-Session-Id", s.sessionID)
	}
	if s.version != "" {
		req.Header.Set("MCP-Protocol-Version", s.version)
	}
	return req
}

// post sends one message and returns the HTTP response.
func (s *streamable) post(t *testing.T, msg any) *http.Response {
	t.Helper()
	b, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.hc.Do(s.request(http.MethodPost, b))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (s *streamable) call(t *testing.T, method string, params any) (json.RawMessage, *rpcError) {
	t.Helper()
	s.next++
	id := s.next
	res := s.post(t, map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("POST %s: %s: %s", method, res.Status, body)
	}
	var m *rpcMessage
	ct := res.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/json"):
		m = new(rpcMessage)
		if err := json.NewDecoder(res.Body).Decode(m); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
	case strings.HasPrefix(ct, "text/event-stream"):
		st := newSSEStream(res)
		m = st.waitMessage(t, func(m *rpcMessage) bool { return string(m.ID) == fmt.Sprint(id) })
		st.close()
	default:
		t.Fatalf("%s: response Content-Type %q", method, ct)
	}
	if string(m.ID) != fmt.Sprint(id) || m.JSONRPC != "2.0" {
		t.Fatalf("%s: response %+v does not answer id %d", method, m, id)
	}
	if m.Error != nil {
		return nil, m.Error
	}
	if method == "initialize" {
		s.sessionID = res.Header.Get("Mcp-Session-Id")
	}
	return m.Result, nil
}

// initialize runs the lifecycle's first phase (basic/lifecycle,
// "Initialization") and checks what the server declares.
func (s *streamable) initialize(t *testing.T) {
	t.Helper()
	var out struct {
		ProtocolVersion string `json:"protocolVersion"`
		Capabilities    struct {
			Tools *struct {
				ListChanged bool `json:"listChanged"`
			} `json:"tools"`
		} `json:"capabilities"`
		ServerInfo struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"serverInfo"`
	}
	if err := json.Unmarshal(mustCall(t, s, "initialize", initializeParams("2025-11-25")), &out); err != nil {
		t.Fatal(err)
	}
	if out.ProtocolVersion != "2025-11-25" || out.Capabilities.Tools == nil || !out.Capabilities.Tools.ListChanged ||
		out.ServerInfo.Name != "remote-mcp-authkit" || out.ServerInfo.Version != version {
		t.Fatalf("initialize result %+v", out)
	}
	if s.sessionID == "" {
		t.Fatal("initialize response without Mcp-Session-Id")
	}
	s.version = out.ProtocolVersion
	res := s.post(t, map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("notifications/initialized: %s, want 202", res.Status)
	}
}

// listen opens the session's standalone GET stream (transports,
// "Listening for Messages from the Server").
func (s *streamable) listen(t *testing.T) *sseStream {
	t.Helper()
	req := s.request(http.MethodGet, nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := s.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Fatalf("GET stream: %s %s", res.Status, body)
	}
	st := newSSEStream(res)
	t.Cleanup(st.close)
	return st
}

// legacySSE is a client of the 2024-11-05 HTTP+SSE transport: one GET
// stream carries every server message; requests are POSTed to the URL of
// the stream's first event, "endpoint".
type legacySSE struct {
	ctx      context.Context
	hc       *http.Client
	token    string
	endpoint string
	stream   *sseStream
	next     int
}

func openLegacySSE(ctx context.Context, t *testing.T, sseURL, token string) *legacySSE {
	t.Helper()
	c := &legacySSE{ctx: ctx, hc: &http.Client{}, token: token}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sseURL, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Fatalf("GET %s: %s %s", sseURL, res.Status, body)
	}
	c.stream = newSSEStream(res)
	t.Cleanup(c.stream.close)
	ev := c.stream.next(t)
	if ev.event != "endpoint" {
		t.Fatalf("first event %+v, want endpoint", ev)
	}
	base, _ := url.Parse(sseURL)
	ep, err := base.Parse(ev.data)
	if err != nil || ep.Host != base.Host || ep.Query().Get("sessionId") == "" {
		t.Fatalf("endpoint event %q: want a same-origin URL with sessionId (%v)", ev.data, err)
	}
	c.endpoint = ep.String()
	return c
}

// send POSTs a message: 202, the answer comes on the stream.
func (c *legacySSE) send(t *testing.T, msg any) int {
	t.Helper()
	b, _ := json.Marshal(msg)
	req, _ := http.NewRequestWithContext(c.ctx, http.MethodPost, c.endpoint, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func (c *legacySSE) call(t *testing.T, method string, params any) (json.RawMessage, *rpcError) {
	t.Helper()
	c.next++
	id := fmt.Sprint(c.next)
	if st := c.send(t, map[string]any{"jsonrpc": "2.0", "id": c.next, "method": method, "params": params}); st != http.StatusAccepted {
		t.Fatalf("POST %s: status %d, want 202", method, st)
	}
	// Notifications that arrive first are passed over: the tests that
	// expect one wait for it before calling.
	m := c.stream.waitMessage(t, func(m *rpcMessage) bool { return string(m.ID) == id && m.Method == "" })
	if m.Error != nil {
		return nil, m.Error
	}
	return m.Result, nil
}

func (c *legacySSE) initialize(t *testing.T) {
	t.Helper()
	var out struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if err := json.Unmarshal(mustCall(t, c, "initialize", initializeParams("2024-11-05")), &out); err != nil || out.ProtocolVersion != "2024-11-05" {
		t.Fatalf("initialize over SSE: %+v, %v", out, err)
	}
	if st := c.send(t, map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"}); st != http.StatusAccepted {
		t.Fatalf("notifications/initialized over SSE: %d", st)
	}
}

// ---------------------------------------------------------------------------
// Step by step, for the hostile tests.

// hxRedirect is the registered redirect URI of test clients. Nothing listens
// there: browsers in these tests stop at the redirect and read its query.
const hxRedirect = "http://127.0.0.1:9/cb"

// RFC 7636 Appendix B.
const (
	hxVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	hxChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

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

// hxPage asserts an HTML page (never a redirect) with status and text.
func hxPage(t *testing.T, name string, st int, h http.Header, body string, wantStatus int, wantText string) {
	t.Helper()
	if st != wantStatus || h.Get("Location") != "" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, wantText) {
		t.Errorf("%s: %d Location=%q Content-Type=%q, want a %d page saying %q:\n%s", name, st, h.Get("Location"), h.Get("Content-Type"), wantStatus, wantText, hxTrunc(body))
	}
}

func (s *testServer) get(path string) (int, http.Header, string) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	return s.do(req)
}
