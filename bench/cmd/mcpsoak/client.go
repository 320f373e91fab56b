package main

// The client side of the soak: credentials that rotate (OAuth 2.1 s4.3,
// RFC 6749 s6), Streamable HTTP sessions and their GET streams (MCP
// basic/transports, "Streamable HTTP"), and HTTP+SSE sessions (2024-11-05,
// "HTTP with SSE"). Written here rather than taken from internal/load
// because every request must carry the credential's current access token,
// and every step (DELETE, the end of a stream) is checked, not only calls.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// soakError is a failed step, classified for counting: "transport",
// "timeout", "http_404", "jsonrpc_-32602", "bad_result", "bad_response",
// "stream".
type soakError struct {
	kind string
	err  error
}

func (e *soakError) Error() string { return e.kind + ": " + e.err.Error() }

func failf(kind, format string, a ...any) error {
	return &soakError{kind: kind, err: fmt.Errorf(format, a...)}
}

// errKind returns the class of err.
func errKind(err error) string {
	var e *soakError
	if errors.As(err, &e) {
		return e.kind
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "timeout"
	}
	return "transport"
}

// cred is one signed-in client of one user for one resource (RFC 8707: a
// token is bound to /mcp or to /sse). Workers read the current access token
// for every request; the refresher replaces both tokens.
type cred struct {
	email    string
	resource string
	clientID string
	perms    []string // from whoami at sign-in: what tools/list must reflect

	mu      sync.Mutex
	access  string
	refresh string
	gen     int // refreshes so far
}

func (c *cred) token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.access
}

func (c *cred) hasPerm(p string) bool {
	for _, q := range c.perms {
		if q == p {
			return true
		}
	}
	return false
}

// client is the shared HTTP side of the soak.
type client struct {
	hc       *http.Client
	tokenURL string
	timeout  time.Duration
	seq      idSeq
}

type idSeq struct {
	mu sync.Mutex
	n  int64
}

func (s *idSeq) next() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.n
}

func (c *client) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.timeout)
}

func (c *client) do(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		if req.Context().Err() != nil {
			return nil, &soakError{"timeout", err}
		}
		return nil, &soakError{"transport", err}
	}
	return resp, nil
}

func drain(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	body.Close()
}

func statusErr(resp *http.Response, what string) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	resp.Body.Close()
	return failf("http_"+strconv.Itoa(resp.StatusCode), "%s: %s: %s", what, resp.Status, bytes.TrimSpace(msg))
}

// tokenEndpoint reads the authorization server's metadata (RFC 8414 s3).
func (c *client) tokenEndpoint(ctx context.Context, issuer string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(issuer, "/")+"/.well-known/oauth-authorization-server", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.do(req)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", statusErr(resp, "authorization server metadata")
	}
	defer drain(resp.Body)
	var m struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&m); err != nil || m.TokenEndpoint == "" {
		return "", failf("bad_response", "authorization server metadata has no token_endpoint (%v)", err)
	}
	return m.TokenEndpoint, nil
}

// refresh is the refresh token grant (RFC 6749 s6, OAuth 2.1 s4.3) for a
// public client, with the resource indicator (RFC 8707 s2.2). The server
// rotates refresh tokens (OAuth 2.1 s4.3.1): the answer must carry a new
// one, and both tokens are replaced before the next request uses them.
func (c *client) refresh(cr *cred) error {
	ctx, cancel := c.opCtx()
	defer cancel()
	cr.mu.Lock()
	old, oldAccess := cr.refresh, cr.access
	cr.mu.Unlock()
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {old},
		"client_id":     {cr.clientID},
		"resource":      {cr.resource},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return statusErr(resp, "refresh")
	}
	defer drain(resp.Body)
	var t struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int64  `json:"expires_in"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&t); err != nil {
		return failf("bad_response", "refresh: %v", err)
	}
	switch {
	case t.AccessToken == "" || t.AccessToken == oldAccess:
		return failf("bad_result", "refresh: no new access_token")
	case t.RefreshToken == "" || t.RefreshToken == old:
		return failf("bad_result", "refresh: refresh token not rotated")
	case !strings.EqualFold(t.TokenType, "Bearer"):
		return failf("bad_result", "refresh: token_type %q", t.TokenType)
	case t.ExpiresIn <= 0:
		return failf("bad_result", "refresh: expires_in %d", t.ExpiresIn)
	}
	cr.mu.Lock()
	cr.access, cr.refresh = t.AccessToken, t.RefreshToken
	cr.gen++
	cr.mu.Unlock()
	return nil
}

// session is one Streamable HTTP session, used by one worker at a time.
type session struct {
	cr      *cred
	url     string
	id      string
	version string
	lastGet time.Time // when its last GET stream was closed
}

func (s *session) header(h http.Header) {
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	h.Set("Authorization", "Bearer "+s.cr.token())
	if s.id != "" {
		h.Set("Mcp-Session-Id", s.id)
	}
	if s.version != "" {
		h.Set("Mcp-Protocol-Version", s.version)
	}
}

func (c *client) post(ctx context.Context, s *session, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	s.header(req.Header)
	return c.do(req)
}

func request(id int64, method string, params any) []byte {
	m := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if params != nil {
		m["params"] = params
	}
	b, _ := json.Marshal(m)
	return b
}

func initializeParams(version string) map[string]any {
	return map[string]any{"protocolVersion": version, "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "mcpsoak", "version": "1"}}
}

var initializedBody = []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)

// open initializes a session (lifecycle, "Initialization"): initialize,
// whose response names the session (transports, "Session Management" 1),
// then notifications/initialized, answered 202 Accepted.
func (c *client) open(cr *cred, url, version string) (*session, error) {
	ctx, cancel := c.opCtx()
	defer cancel()
	s := &session{cr: cr, url: url}
	id := c.seq.next()
	resp, err := c.post(ctx, s, request(id, "initialize", initializeParams(version)))
	if err != nil {
		return nil, err
	}
	sid := resp.Header.Get("Mcp-Session-Id")
	res, err := readResponse(resp, id)
	if err != nil {
		return nil, err
	}
	var ir struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if err := json.Unmarshal(res, &ir); err != nil || ir.ProtocolVersion != version {
		return nil, failf("bad_result", "initialize: protocolVersion %q, asked for %q", ir.ProtocolVersion, version)
	}
	if sid == "" {
		return nil, failf("bad_response", "initialize: no Mcp-Session-Id")
	}
	s.id, s.version = sid, version
	resp, err = c.post(ctx, s, initializedBody)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, statusErr(resp, "notifications/initialized")
	}
	drain(resp.Body)
	return s, nil
}

// call sends one request on s and returns its result.
func (c *client) call(s *session, method string, params any) (json.RawMessage, error) {
	ctx, cancel := c.opCtx()
	defer cancel()
	id := c.seq.next()
	resp, err := c.post(ctx, s, request(id, method, params))
	if err != nil {
		return nil, err
	}
	return readResponse(resp, id)
}

// readResponse takes the response to id from either form the server may
// answer a POST with: one JSON object or an SSE stream (transports,
// "Sending Messages to the Server" 5).
func readResponse(resp *http.Response, id int64) (json.RawMessage, error) {
	if resp.StatusCode != http.StatusOK {
		return nil, statusErr(resp, "POST")
	}
	defer drain(resp.Body)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		br := bufio.NewReader(resp.Body)
		for range 1000 {
			ev, err := readEvent(br)
			if err != nil {
				return nil, &soakError{"stream", fmt.Errorf("POST stream ended before response %d: %w", id, err)}
			}
			if len(ev.data) == 0 || (ev.name != "" && ev.name != "message") {
				continue // priming event (id, no data) or another kind
			}
			if res, ok, err := match(ev.data, id); ok {
				return res, err
			}
		}
		return nil, failf("bad_response", "no response %d in 1000 events", id)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, &soakError{"transport", err}
	}
	res, ok, err := match(body, id)
	if !ok {
		return nil, failf("bad_response", "not the response to %d: %.200s", id, body)
	}
	return res, err
}

// match decodes msg; ok when it is the response to id.
func match(msg []byte, id int64) (res json.RawMessage, ok bool, err error) {
	var r struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg, &r); err != nil {
		return nil, true, failf("bad_response", "invalid JSON-RPC message: %v", err)
	}
	if r.Method != "" || string(r.ID) != strconv.FormatInt(id, 10) {
		return nil, false, nil
	}
	if r.Error != nil {
		return nil, true, failf("jsonrpc_"+strconv.Itoa(r.Error.Code), "%s", r.Error.Message)
	}
	if len(r.Result) == 0 {
		return nil, true, failf("bad_response", "response %d has neither result nor error", id)
	}
	return r.Result, true, nil
}

// end closes s with DELETE (transports, "Session Management" 5) and checks
// that the session is gone: a later request naming it gets 404 (item 3).
func (c *client) end(s *session) error {
	ctx, cancel := c.opCtx()
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.url, nil)
	if err != nil {
		return err
	}
	s.header(req.Header)
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return statusErr(resp, "DELETE")
	}
	drain(resp.Body)
	resp, err = c.post(ctx, s, request(c.seq.next(), "ping", nil))
	if err != nil {
		return err
	}
	drain(resp.Body)
	if resp.StatusCode != http.StatusNotFound {
		return failf("not_ended", "after DELETE the session answered %s, want 404", resp.Status)
	}
	return nil
}

// getStream opens the session's GET stream (transports, "Listening for
// Messages from the Server"), checks it is an event stream, reads its
// priming event when the version has one (2025-11-25: an event id and empty
// data), holds it for hold, and closes it.
func (c *client) getStream(s *session, hold time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout+hold)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return err
	}
	s.header(req.Header)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Del("Content-Type")
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer func() {
		resp.Body.Close()
		s.lastGet = time.Now()
	}()
	if resp.StatusCode != http.StatusOK {
		return statusErr(resp, "GET stream")
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return failf("bad_response", "GET stream Content-Type %q", resp.Header.Get("Content-Type"))
	}
	if s.version >= "2025-11-25" {
		t := time.AfterFunc(c.timeout, func() { resp.Body.Close() })
		ev, err := readEvent(bufio.NewReader(resp.Body))
		stopped := t.Stop()
		if err != nil || !stopped {
			return &soakError{"stream", fmt.Errorf("GET stream: no priming event: %v", err)}
		}
		if ev.id == "" {
			return failf("bad_response", "GET stream: first event has no id")
		}
	}
	time.Sleep(hold)
	return nil
}

// legacy is an HTTP+SSE session: one GET stream that names the endpoint
// for POSTs and then carries every response.
type legacy struct {
	cr       *cred
	endpoint string
	body     io.ReadCloser
	br       *bufio.Reader
	cancel   context.CancelFunc
}

// openLegacy opens the stream, reads the endpoint event (2024-11-05
// transports, "HTTP with SSE") and initializes the session over it.
func (c *client) openLegacy(cr *cred, sseURL string) (*legacy, error) {
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sseURL, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+cr.token())
	t := time.AfterFunc(c.timeout, cancel)
	resp, err := c.do(req)
	t.Stop()
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		return nil, statusErr(resp, "GET /sse")
	}
	l := &legacy{cr: cr, body: resp.Body, br: bufio.NewReader(resp.Body), cancel: cancel}
	ev, err := l.next(c.timeout)
	if err != nil {
		l.close()
		return nil, err
	}
	if ev.name != "endpoint" {
		l.close()
		return nil, failf("bad_response", "first SSE event is %q, want endpoint", ev.name)
	}
	u, err := resp.Request.URL.Parse(string(ev.data))
	if err != nil {
		l.close()
		return nil, failf("bad_response", "endpoint %q: %v", ev.data, err)
	}
	l.endpoint = u.String()
	res, err := c.callLegacy(l, "initialize", initializeParams("2024-11-05"))
	if err != nil {
		l.close()
		return nil, err
	}
	var ir struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if json.Unmarshal(res, &ir) != nil || ir.ProtocolVersion != "2024-11-05" {
		l.close()
		return nil, failf("bad_result", "initialize over /sse: protocolVersion %q", ir.ProtocolVersion)
	}
	if err := c.sendLegacy(l, initializedBody); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// next reads the next event within d; a stream that does not answer in
// time is closed.
func (l *legacy) next(d time.Duration) (event, error) {
	t := time.AfterFunc(d, l.cancel)
	ev, err := readEvent(l.br)
	if !t.Stop() {
		return ev, &soakError{"timeout", errors.New("no SSE event in time")}
	}
	if err != nil {
		return ev, &soakError{"stream", fmt.Errorf("SSE stream: %w", err)}
	}
	return ev, nil
}

func (c *client) sendLegacy(l *legacy, body []byte) error {
	ctx, cancel := c.opCtx()
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+l.cr.token())
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusAccepted {
		return statusErr(resp, "POST "+l.endpoint)
	}
	drain(resp.Body)
	return nil
}

// callLegacy posts a request (202 Accepted) and reads the stream until its
// response arrives.
func (c *client) callLegacy(l *legacy, method string, params any) (json.RawMessage, error) {
	id := c.seq.next()
	if err := c.sendLegacy(l, request(id, method, params)); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.timeout)
	for range 1000 {
		ev, err := l.next(time.Until(deadline))
		if err != nil {
			return nil, err
		}
		if ev.name != "" && ev.name != "message" {
			continue
		}
		if res, ok, err := match(ev.data, id); ok {
			return res, err
		}
	}
	return nil, failf("bad_response", "no response %d in 1000 events", id)
}

func (l *legacy) close() {
	l.cancel()
	l.body.Close()
}

// endLegacy closes the stream, which ends the session, and checks the
// server noticed: within the timeout a POST to the endpoint gets 404.
func (c *client) endLegacy(l *legacy) error {
	l.close()
	deadline := time.Now().Add(c.timeout)
	for {
		ctx, cancel := c.opCtx()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.endpoint, bytes.NewReader(request(c.seq.next(), "ping", nil)))
		if err != nil {
			cancel()
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+l.cr.token())
		resp, err := c.do(req)
		cancel()
		if err != nil {
			return err
		}
		drain(resp.Body)
		switch {
		case resp.StatusCode == http.StatusNotFound:
			return nil
		case resp.StatusCode != http.StatusAccepted:
			return failf("http_"+strconv.Itoa(resp.StatusCode), "POST after the stream closed: %s", resp.Status)
		case time.Now().After(deadline):
			return failf("not_ended", "the session outlived its closed stream by %s", c.timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// event is one Server-Sent Event (HTML Living Standard, "Server-sent
// events", 9.2.6 "Interpreting an event stream").
type event struct {
	name string
	id   string
	data []byte
}

const maxEventBytes = 1 << 20

// readEvent returns the next dispatched event: one with data, or one with
// only an id (the priming event of MCP 2025-11-25). Comment lines are
// skipped.
func readEvent(br *bufio.Reader) (event, error) {
	var ev event
	var data []byte
	hasData, hasID := false, false
	size := 0
	for {
		line, err := br.ReadString('\n')
		size += len(line)
		if size > maxEventBytes {
			return ev, errors.New("SSE event larger than 1 MiB")
		}
		if err != nil {
			if err == io.EOF && (line != "" || hasData) {
				return ev, io.ErrUnexpectedEOF
			}
			return ev, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if hasData || hasID {
				ev.data = data
				return ev, nil
			}
			ev = event{}
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.name = value
		case "id":
			ev.id, hasID = value, true
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		}
	}
}
