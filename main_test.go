package main

// End-to-end tests of the whole product: run starts the real server on a
// loopback port, and a client made of net/http and a cookie jar plays both
// the MCP client and the person's browser, through every step an MCP client
// takes (MCP 2025-11-25 basic/authorization, "Authorization Flow Steps"):
//
//  1. POST /mcp without a token: 401 and WWW-Authenticate naming the
//     protected resource metadata (RFC 9728 s5.1);
//  2. that metadata (RFC 9728 s3), then the authorization server's (RFC 8414
//     s3);
//  3. dynamic client registration (RFC 7591 s3);
//  4. /authorize with PKCE S256 (RFC 7636), state and resource (RFC 8707),
//     the consent page and its CSRF-protected form, the AuthKit sign-in page
//     (the emulator's), /callback, and back to the client's redirect URI
//     with a code;
//  5. /token (code grant, then refresh grant), /revoke (RFC 7009);
//
// then MCP itself over both transports: Streamable HTTP at /mcp and the
// 2024-11-05 HTTP+SSE transport at /sse. No part of the server is mocked;
// the pages are parsed from their HTML as a browser would submit them.
//
// The TestInterop tests do the same with other clients' code: the official
// TypeScript SDK (.ci/interop/client.mjs) and the MCP Inspector's CLI. They
// skip when Node or the packages are not installed, unless MCP_INTEROP=1
// (bash .ci/interop.sh installs them and sets it).

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
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// flowTimeout bounds every test here; a hung stream fails the test instead
// of stalling the package.
const flowTimeout = 60 * time.Second

// eventWait is how long a test waits for an event it expects on a stream.
const eventWait = 10 * time.Second

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
// The tests.

// TestWholeFlow is the complete journey of two users, Ada (who holds the
// image_generation permission) and Grace (who does not), against AuthKit
// configured through the environment.
func TestWholeFlow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv := startServer(t, serverConfig{external: true})
	mcpURL, sseURL := srv.base+"/mcp", srv.base+"/sse"

	// Ada's MCP client discovers, registers and signs her in.
	ada := discover(ctx, t, mcpURL)
	if ada.issuer != srv.base {
		t.Fatalf("authorization server %s, want the server itself (%s)", ada.issuer, srv.base)
	}
	ada.register(ctx, t, "Ada's MCP client")
	adaBrowser := newBrowser(t)
	adaTok := ada.authorize(ctx, t, adaBrowser, "ada@example.com")
	if !slices.Equal(adaBrowser.seen, []string{"consent", "signin"}) {
		t.Fatalf("pages seen %v, want consent then AuthKit sign-in", adaBrowser.seen)
	}

	// Streamable HTTP.
	adaMCP := newStreamable(ctx, mcpURL, adaTok.AccessToken)
	adaMCP.initialize(t)
	if got, want := toolNames(t, adaMCP), []string{"add", "whoami", "generateImage"}; !sameSet(got, want) {
		t.Fatalf("Ada's tools %v, want %v", got, want)
	}
	checkAdd(t, adaMCP)
	checkWhoami(t, adaMCP, "ada@example.com")
	checkImage(t, adaMCP)
	adaStream := adaMCP.listen(t)

	// A token is bound to the resource it was issued for (RFC 8707, MCP
	// "Access Token Privilege Restriction"): the /mcp token does not open
	// /sse.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sseURL, nil)
	req.Header.Set("Authorization", "Bearer "+adaTok.AccessToken)
	req.Header.Set("Accept", "text/event-stream")
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("/sse with a token for /mcp: %s, want 401", res.Status)
		}
	}

	// The same client asks for /sse. The browser approved this client a
	// moment ago, so the consent page is skipped; the sign-in is not.
	adaSSEAuth := discover(ctx, t, sseURL)
	adaSSEAuth.clientID, adaSSEAuth.redirectURI = ada.clientID, ada.redirectURI
	adaSSETok := adaSSEAuth.authorize(ctx, t, adaBrowser, "ada@example.com")
	if !slices.Equal(adaBrowser.seen, []string{"signin"}) {
		t.Fatalf("pages seen on the second authorization %v, want only the sign-in (consent remembered)", adaBrowser.seen)
	}
	adaSSE := openLegacySSE(ctx, t, sseURL, adaSSETok.AccessToken)
	adaSSE.initialize(t)
	if got, want := toolNames(t, adaSSE), []string{"add", "whoami", "generateImage"}; !sameSet(got, want) {
		t.Fatalf("Ada's tools over SSE %v, want %v", got, want)
	}
	checkAdd(t, adaSSE)
	checkWhoami(t, adaSSE, "ada@example.com")

	// Grace, with her own client and browser, sees no generateImage and is
	// told which permission she lacks when she calls it anyway.
	grace := discover(ctx, t, mcpURL)
	grace.register(ctx, t, "Grace's MCP client")
	graceBrowser := newBrowser(t)
	graceTok := grace.authorize(ctx, t, graceBrowser, "grace@example.com")
	graceMCP := newStreamable(ctx, mcpURL, graceTok.AccessToken)
	graceMCP.initialize(t)
	if got, want := toolNames(t, graceMCP), []string{"add", "whoami"}; !sameSet(got, want) {
		t.Fatalf("Grace's tools %v, want %v", got, want)
	}
	checkWhoami(t, graceMCP, "grace@example.com")
	checkRefused(t, graceMCP, "generateImage", "image_generation")
	graceStream := graceMCP.listen(t)

	// Ada's session id with Grace's token: 403, on POST and on GET.
	stolen := newStreamable(ctx, mcpURL, graceTok.AccessToken)
	stolen.sessionID, stolen.version = adaMCP.sessionID, adaMCP.version
	res := stolen.post(t, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("Ada's session with Grace's token: %s, want 403", res.Status)
	}
	getReq := stolen.request(http.MethodGet, nil)
	getReq.Header.Set("Accept", "text/event-stream")
	if res, err := stolen.hc.Do(getReq); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("GET on Ada's session with Grace's token: %s, want 403", res.Status)
		}
	}
	// The same on the SSE transport, with a token of Grace's for /sse.
	graceSSEAuth := discover(ctx, t, sseURL)
	graceSSEAuth.clientID, graceSSEAuth.redirectURI = grace.clientID, grace.redirectURI
	graceSSETok := graceSSEAuth.authorize(ctx, t, graceBrowser, "grace@example.com")
	stolenSSE := &legacySSE{ctx: ctx, hc: &http.Client{}, token: graceSSETok.AccessToken, endpoint: adaSSE.endpoint}
	if st := stolenSSE.send(t, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}); st != http.StatusForbidden {
		t.Fatalf("Ada's SSE session with Grace's token: %d, want 403", st)
	}

	// An administrator takes image_generation away from Ada in AuthKit.
	// Her client refreshes its token, which carries the new permissions:
	// its open stream hears that the tool list changed, and the next list
	// no longer has generateImage.
	if err := srv.emu.SetPermissions("ada@example.com", nil); err != nil {
		t.Fatal(err)
	}
	adaTok2 := ada.refresh(ctx, t, adaTok.RefreshToken)
	isListChanged := func(m *rpcMessage) bool { return m.Method == "notifications/tools/list_changed" }
	adaStream.waitMessage(t, isListChanged)
	adaMCP.token = adaTok2.AccessToken
	if got, want := toolNames(t, adaMCP), []string{"add", "whoami"}; !sameSet(got, want) {
		t.Fatalf("Ada's tools after the change %v, want %v", got, want)
	}
	checkRefused(t, adaMCP, "generateImage", "image_generation")
	// The SSE client holds a grant of its own, for /sse; its refresh brings
	// the change to it too, and tells its stream.
	adaSSETok2 := adaSSEAuth.refresh(ctx, t, adaSSETok.RefreshToken)
	adaSSE.stream.waitMessage(t, isListChanged)
	adaSSE.token = adaSSETok2.AccessToken
	if got, want := toolNames(t, adaSSE), []string{"add", "whoami"}; !sameSet(got, want) {
		t.Fatalf("Ada's tools over SSE after the change %v, want %v", got, want)
	}
	// Grace's session heard nothing: her permissions did not change. (The
	// notifications were sent before the refresh answered; a short wait
	// covers their delivery.)
	graceStream.quiet(t, 300*time.Millisecond)

	// The other way round: Grace is given image_generation, and her
	// client's next refresh brings generateImage to her session.
	if err := srv.emu.SetPermissions("grace@example.com", []string{"image_generation"}); err != nil {
		t.Fatal(err)
	}
	graceTok2 := grace.refresh(ctx, t, graceTok.RefreshToken)
	graceStream.waitMessage(t, isListChanged)
	graceMCP.token = graceTok2.AccessToken
	if got, want := toolNames(t, graceMCP), []string{"add", "whoami", "generateImage"}; !sameSet(got, want) {
		t.Fatalf("Grace's tools after the change %v, want %v", got, want)
	}
	checkImage(t, graceMCP)

	// Revocation (RFC 7009): the access token stops working at once, with
	// a challenge that sends the client back to discovery.
	ada.revoke(ctx, t, adaTok2.AccessToken, "access_token")
	res = adaMCP.post(t, map[string]any{"jsonrpc": "2.0", "id": 99, "method": "tools/list"})
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("/mcp after revocation: %s %q, want 401 invalid_token", res.Status, res.Header.Get("WWW-Authenticate"))
	}
	// Revoking the refresh token ends the grant: it can no longer refresh,
	// and the AuthKit session behind it is ended too.
	revokes := srv.emu.Requests()["revoke"]
	ada.revoke(ctx, t, adaTok2.RefreshToken, "refresh_token")
	_, status, body := ada.token(ctx, t, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {adaTok2.RefreshToken}, "client_id": {ada.clientID},
	})
	if status != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
		t.Fatalf("refresh after revocation: %d %s, want 400 invalid_grant", status, body)
	}
	if n := srv.emu.Requests()["revoke"]; n != revokes+1 {
		t.Fatalf("AuthKit session revocations: %d, want %d", n, revokes+1)
	}
	// Grace is untouched by all of Ada's changes.
	checkAdd(t, graceMCP)

	// An administrator signs Grace out in AuthKit. Her client's next
	// refresh is refused, which revokes the grant: the access token she
	// still holds stops working as well.
	if n := srv.emu.RevokeSessions("grace@example.com"); n == 0 {
		t.Fatal("Grace has no AuthKit session to end")
	}
	_, status, body = grace.token(ctx, t, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {graceTok2.RefreshToken}, "client_id": {grace.clientID}, "resource": {mcpURL},
	})
	if status != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
		t.Fatalf("refresh after the AuthKit session ended: %d %s, want 400 invalid_grant", status, body)
	}
	res = graceMCP.post(t, map[string]any{"jsonrpc": "2.0", "id": 98, "method": "tools/list"})
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/mcp with the access token of a grant whose AuthKit session ended: %s, want 401", res.Status)
	}
}

// TestDevelopmentSignIn is `go run .` with no WorkOS account: the server
// mounts the AuthKit emulator under /_authkit on its own listener, and the
// whole sign-in runs against that one address.
func TestDevelopmentSignIn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv := startServer(t, serverConfig{})
	c := discover(ctx, t, srv.base+"/mcp")
	c.register(ctx, t, "dev client")
	b := newBrowser(t)
	tok := c.authorize(ctx, t, b, "grace@example.com")
	if !slices.Equal(b.seen, []string{"consent", "signin"}) {
		t.Fatalf("pages seen %v", b.seen)
	}
	m := newStreamable(ctx, srv.base+"/mcp", tok.AccessToken)
	m.initialize(t)
	checkWhoami(t, m, "grace@example.com")
	checkAdd(t, m)
	// DELETE ends the session (transports, "Session Management").
	res, err := m.hc.Do(m.request(http.MethodDelete, nil))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent && res.StatusCode != http.StatusOK {
		t.Fatalf("DELETE session: %s", res.Status)
	}
	res = m.post(t, map[string]any{"jsonrpc": "2.0", "id": 5, "method": "tools/list"})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("request on a deleted session: %s, want 404", res.Status)
	}
}

// TestBaseURLWithPath serves the product under a path of its site
// (-base-url http://host:port/tools), which README documents as the base of
// every endpoint: discovery, sign-in (the development emulator included),
// and MCP over both transports must all live under that path.
func TestBaseURLWithPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv := startServer(t, serverConfig{basePath: "/tools"})
	b := newBrowser(t)
	mcpAuth := discover(ctx, t, srv.base+"/mcp")
	if mcpAuth.issuer != srv.base {
		t.Fatalf("issuer %s, want %s", mcpAuth.issuer, srv.base)
	}
	mcpAuth.register(ctx, t, "client behind a path")
	mcpTok := mcpAuth.authorize(ctx, t, b, "ada@example.com")
	m := newStreamable(ctx, srv.base+"/mcp", mcpTok.AccessToken)
	m.initialize(t)
	checkWhoami(t, m, "ada@example.com")

	sseAuth := discover(ctx, t, srv.base+"/sse")
	sseAuth.clientID, sseAuth.redirectURI = mcpAuth.clientID, mcpAuth.redirectURI
	sseTok := sseAuth.authorize(ctx, t, b, "ada@example.com")
	legacy := openLegacySSE(ctx, t, srv.base+"/sse", sseTok.AccessToken)
	if !strings.HasPrefix(legacy.endpoint, srv.base+"/sse/message?") {
		t.Fatalf("SSE endpoint %s, want one under %s/sse/message", legacy.endpoint, srv.base)
	}
	legacy.initialize(t)
	checkAdd(t, legacy)
}

// TestShutdownWithOpenStreams stops the server (as SIGTERM does) while a
// client holds both kinds of long-lived stream open: run must return
// promptly and cleanly, and both streams must end rather than hang.
func TestShutdownWithOpenStreams(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv := startServer(t, serverConfig{})
	b := newBrowser(t)
	mcpAuth := discover(ctx, t, srv.base+"/mcp")
	mcpAuth.register(ctx, t, "shutdown client")
	mcpTok := mcpAuth.authorize(ctx, t, b, "ada@example.com")
	sseAuth := discover(ctx, t, srv.base+"/sse")
	sseAuth.clientID, sseAuth.redirectURI = mcpAuth.clientID, mcpAuth.redirectURI
	sseTok := sseAuth.authorize(ctx, t, b, "ada@example.com")

	m := newStreamable(ctx, srv.base+"/mcp", mcpTok.AccessToken)
	m.initialize(t)
	get := m.listen(t)
	legacy := openLegacySSE(ctx, t, srv.base+"/sse", sseTok.AccessToken)
	legacy.initialize(t)

	start := time.Now()
	if err := srv.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v with open streams", d)
	}
	for name, st := range map[string]*sseStream{"GET /mcp": get, "GET /sse": legacy.stream} {
		select {
		case <-st.done:
		case <-time.After(5 * time.Second):
			t.Errorf("%s stream still open after shutdown", name)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// ---------------------------------------------------------------------------
// Interoperability with the official TypeScript SDK.

// interopRequired reports whether a missing Node or SDK install is a
// failure (MCP_INTEROP=1, as .ci/interop.sh sets it) rather than a skip.
func interopRequired() bool { return os.Getenv("MCP_INTEROP") == "1" }

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if interopRequired() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format+" (set MCP_INTEROP=1 to make this a failure; bash .ci/interop.sh installs it)", args...)
}

// TestInteropTypeScriptSDK runs .ci/interop/client.mjs, a client built on
// the official TypeScript SDK's Client, StreamableHTTPClientTransport,
// SSEClientTransport and OAuth support: it discovers, registers, signs in
// as Ada through our pages and the AuthKit emulator's, calls tools over both
// transports, and lets the SDK refresh a refused token. In the first run
// the test takes image_generation away from Ada in the emulator midway;
// the SDK's session must hear notifications/tools/list_changed and see
// generateImage gone. The second run serves everything under a base path,
// which the SDK's discovery must follow (RFC 9728 and RFC 8414 path
// insertion).
func TestInteropTypeScriptSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not installed")
	}
	dir := filepath.Join(".ci", "interop")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		skipOrFail(t, "the TypeScript SDK is not installed in %s (npm ci)", dir)
	}
	t.Run("permission change", func(t *testing.T) {
		runInteropClient(t, node, dir, startServer(t, serverConfig{external: true}), true)
	})
	t.Run("base URL with a path", func(t *testing.T) {
		runInteropClient(t, node, dir, startServer(t, serverConfig{basePath: "/tools"}), false)
	})
}

// runInteropClient runs client.mjs against srv. With permissionChange the
// server must have an external emulator, through which the test takes
// image_generation away from Ada when the script asks.
func runInteropClient(t *testing.T, node, dir string, srv *testServer, permissionChange bool) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	args := []string{"client.mjs", srv.base + "/mcp"}
	if permissionChange {
		args = []string{"client.mjs", "--permission-change", srv.base + "/mcp"}
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if line == "streamable-http: waiting for a permission change" {
			if err := srv.emu.SetPermissions("ada@example.com", nil); err != nil {
				t.Error(err)
			}
			io.WriteString(stdin, "changed\n")
		}
	}
	err = cmd.Wait()
	t.Logf("client.mjs output:\n%s%s", out.String(), stderr.String())
	if err != nil {
		t.Fatalf("client.mjs: %v", err)
	}
	sseTools := "add,generateImage,whoami"
	if permissionChange {
		sseTools = "add,whoami" // Ada signs in to /sse after the change
	}
	wants := []string{
		"streamable-http: signed in via consent,signin; protocol 2025-11-25",
		"streamable-http: tools=add,generateImage,whoami",
		"streamable-http: add(2, 3) = 5",
		"streamable-http: whoami = ada@example.com",
		"streamable-http: refreshed; add(20, 22) = 42",
		"sse: signed in via signin",
		"sse: tools=" + sseTools,
		"sse: add(2, 3) = 5",
		"sse: whoami = ada@example.com",
		"interop: ok",
	}
	if permissionChange {
		wants = append(wants, "streamable-http: after the permission change: list_changed heard; tools=add,whoami")
	}
	for _, want := range wants {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("client.mjs output lacks %q", want)
		}
	}
}

// inspectorDir holds the MCP Inspector and the Node 22 it needs, both
// installed by npm (the npm package "node" ships the binary), so that the
// machine's own Node version does not matter.
var inspectorDir = filepath.Join(".ci", "interop", "inspector")

// TestInteropInspector drives the server with the MCP Inspector's CLI
// (npm @modelcontextprotocol/inspector, --cli mode), a client
// implementation independent of ours, over both transports, with access
// tokens this test obtains through the real sign-in. --strict makes the
// Inspector fail on tool schemas that other clients could not use.
func TestInteropInspector(t *testing.T) {
	node, _ := filepath.Abs(filepath.Join(inspectorDir, "node_modules", "node", "bin", "node"))
	launcher, _ := filepath.Abs(filepath.Join(inspectorDir, "node_modules", "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js"))
	for _, p := range []string{node, launcher} {
		if _, err := os.Stat(p); err != nil {
			skipOrFail(t, "the MCP Inspector or its Node 22 is not installed in %s (npm ci)", inspectorDir)
		}
	}
	srv := startServer(t, serverConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*flowTimeout)
	defer cancel()

	home := t.TempDir() // the Inspector keeps a catalog of servers; not in the real home
	inspect := func(target, token string, args ...string) json.RawMessage {
		t.Helper()
		argv := append([]string{launcher, "--cli", target, "--header", "Authorization: Bearer " + token}, args...)
		cmd := exec.CommandContext(ctx, node, argv...)
		cmd.Env = append(os.Environ(),
			"PATH="+filepath.Dir(node)+string(os.PathListSeparator)+os.Getenv("PATH"),
			"HOME="+home, "MCP_CATALOG_PATH="+filepath.Join(home, "mcp.json"), "NO_COLOR=1")
		cmd.WaitDelay = 5 * time.Second
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if stderr.Len() > 0 {
			t.Logf("inspector %v stderr:\n%s", args, stderr.Bytes())
		}
		if err != nil {
			t.Fatalf("inspector %v: %v\nstdout:\n%s", args, err, out)
		}
		if !json.Valid(out) {
			t.Fatalf("inspector %v printed no JSON:\n%s", args, out)
		}
		return out
	}

	b := newBrowser(t)
	var reg *oauthClient
	for _, tc := range []struct{ path, transport string }{{"/mcp", "http"}, {"/sse", "sse"}} {
		target := srv.base + tc.path
		c := discover(ctx, t, target)
		if reg == nil {
			c.register(ctx, t, "MCP Inspector")
			reg = c
		} else {
			c.clientID, c.redirectURI = reg.clientID, reg.redirectURI
		}
		tok := c.authorize(ctx, t, b, "ada@example.com")

		var list struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		}
		if err := json.Unmarshal(inspect(target, tok.AccessToken, "--transport", tc.transport, "--method", "tools/list", "--strict"), &list); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tool := range list.Tools {
			names = append(names, tool.Name)
		}
		if want := []string{"add", "whoami", "generateImage"}; !sameSet(names, want) {
			t.Fatalf("%s: Inspector's tools/list %v, want %v", tc.transport, names, want)
		}
		var sum toolResult
		if err := json.Unmarshal(inspect(target, tok.AccessToken, "--transport", tc.transport, "--method", "tools/call",
			"--tool-name", "add", "--tool-arg", "a=2", "b=3"), &sum); err != nil {
			t.Fatal(err)
		}
		if sum.IsError || len(sum.Content) != 1 || sum.Content[0].Text != "5" {
			t.Fatalf("%s: Inspector's add(2, 3) = %+v, want 5", tc.transport, sum)
		}
		var who toolResult
		if err := json.Unmarshal(inspect(target, tok.AccessToken, "--transport", tc.transport, "--method", "tools/call",
			"--tool-name", "whoami"), &who); err != nil {
			t.Fatal(err)
		}
		if who.IsError || !strings.Contains(string(who.StructuredContent), `"ada@example.com"`) {
			t.Fatalf("%s: Inspector's whoami = %+v", tc.transport, who)
		}
		cmd := exec.CommandContext(ctx, node, launcher, "--cli", target, "--transport", tc.transport, "--method", "tools/list")
		cmd.Env = append(os.Environ(), "HOME="+home, "MCP_CATALOG_PATH="+filepath.Join(home, "mcp.json"), "NO_COLOR=1")
		cmd.WaitDelay = 5 * time.Second
		// Without a token the Inspector meets the 401 challenge and, with
		// nobody at a browser, stops asking for a sign-in.
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "auth_required") {
			t.Fatalf("%s: Inspector without a token: %v\n%s\nwant a failure asking for authorization", tc.transport, err, out)
		}
	}
}
