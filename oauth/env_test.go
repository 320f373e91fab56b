package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// testStore is a minimal in-memory Store for this package's tests.
type testStore struct {
	mu   sync.Mutex
	now  func() time.Time
	data map[string]testRecord
}

type testRecord struct {
	v   []byte
	exp time.Time
}

func newTestStore(now func() time.Time) *testStore {
	return &testStore{now: now, data: map[string]testRecord{}}
}

func (s *testStore) live(k string) ([]byte, bool) {
	r, ok := s.data[k]
	if !ok || (!r.exp.IsZero() && !s.now().Before(r.exp)) {
		return nil, false
	}
	return r.v, true
}

func (s *testStore) Get(_ context.Context, kind, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.live(kind + "\x00" + key)
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

func (s *testStore) Put(_ context.Context, kind, key string, value []byte, exp time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[kind+"\x00"+key] = testRecord{append([]byte(nil), value...), exp}
	return nil
}

func (s *testStore) Delete(_ context.Context, kind, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.data, kind+"\x00"+key)
	return nil
}

func (s *testStore) Update(_ context.Context, kind, key string, fn func([]byte) ([]byte, time.Time, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := kind + "\x00" + key
	cur, _ := s.live(k)
	next, exp, err := fn(cur)
	if err != nil {
		return err
	}
	if next == nil {
		delete(s.data, k)
	} else {
		s.data[k] = testRecord{append([]byte(nil), next...), exp}
	}
	return nil
}

func (s *testStore) Close() error { return nil }

func (s *testStore) Ping(context.Context) error { return nil }

// Count is StoreCounter, so that Config.MaxClients holds in tests too.
func (s *testStore) Count(_ context.Context, kind string) (int, error) { return s.count(kind), nil }

// count returns how many live records of kind exist.
func (s *testStore) count(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.data {
		if strings.HasPrefix(k, kind+"\x00") {
			if _, ok := s.live(k); ok {
				n++
			}
		}
	}
	return n
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeProvider is an upstream identity provider: its sign-in "page" is an
// httptest server that at once sends the browser back to our /callback with
// a code, and Exchange checks the PKCE verifier we sent for that code.
type fakeProvider struct {
	srv *httptest.Server

	mu         sync.Mutex
	identity   Identity
	challenges map[string]string // code -> challenge
	exchangeErr,
	refreshErr error
	refreshed []string // refresh tokens presented
	revoked   []string // sessions revoked (their refresh tokens)
	n         int
	denyNext  bool // next sign-in returns error=access_denied
}

func newFakeProvider(t *testing.T) *fakeProvider {
	p := &fakeProvider{
		challenges: map[string]string{},
		identity:   Identity{Subject: "user_alice", Email: "alice@example.com", Name: "Alice", OrganizationID: "org_1", Role: "member", Permissions: []string{"tools:read"}, SessionID: "sess_1"},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		back, err := url.Parse(q.Get("redirect_uri"))
		if err != nil || q.Get("state") == "" || q.Get("code_challenge_method") != "S256" {
			http.Error(w, "bad upstream request", 400)
			return
		}
		p.mu.Lock()
		v := url.Values{"state": {q.Get("state")}}
		if p.denyNext {
			p.denyNext = false
			v.Set("error", "access_denied")
		} else {
			p.n++
			code := fmt.Sprintf("upstream_code_%d", p.n)
			p.challenges[code] = q.Get("code_challenge")
			v.Set("code", code)
		}
		p.mu.Unlock()
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeProvider) AuthorizationURL(state, challenge, redirectURI string) (string, error) {
	return p.srv.URL + "/authorize?" + url.Values{"state": {state}, "code_challenge": {challenge},
		"code_challenge_method": {"S256"}, "redirect_uri": {redirectURI}}.Encode(), nil
}

func (p *fakeProvider) Exchange(ctx context.Context, code, verifier string) (*UpstreamSession, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exchangeErr != nil {
		return nil, p.exchangeErr
	}
	ch, ok := p.challenges[code]
	delete(p.challenges, code)
	if !ok || s256(verifier) != ch {
		return nil, fmt.Errorf("%w: bad code or verifier", ErrUpstreamRevoked)
	}
	p.n++
	return &UpstreamSession{Identity: p.identity, AccessToken: "up_at", RefreshToken: fmt.Sprintf("up_rt_%d", p.n)}, nil
}

func (p *fakeProvider) Refresh(ctx context.Context, s *UpstreamSession) (*UpstreamSession, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refreshed = append(p.refreshed, s.RefreshToken)
	if p.refreshErr != nil {
		return nil, p.refreshErr
	}
	p.n++
	id := p.identity
	id.Permissions = append([]string(nil), id.Permissions...)
	return &UpstreamSession{Identity: id, AccessToken: "up_at", RefreshToken: fmt.Sprintf("up_rt_%d", p.n)}, nil
}

func (p *fakeProvider) Revoke(ctx context.Context, s *UpstreamSession) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revoked = append(p.revoked, s.RefreshToken)
	return nil
}

func (p *fakeProvider) set(f func(p *fakeProvider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *fakeProvider) revokedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.revoked)
}

// env is one authorization server on a real loopback port, with a
// protected echo endpoint at /mcp.
type env struct {
	t        *testing.T
	srv      *Server
	ts       *httptest.Server
	store    *testStore
	clock    *testClock
	provider *fakeProvider
	browser  *http.Client // cookie jar, does not follow redirects
	changed  []Identity   // OnGrantIdentityChanged calls (new identities)
	ticked   []string     // the scope boxes on the last consent page consentForm read, all ticked as a browser shows them
	mu       sync.Mutex
}

func newEnv(t *testing.T, mod ...func(*Config)) *env {
	t.Helper()
	e := &env{t: t, clock: &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	e.provider = newFakeProvider(t)
	e.store = newTestStore(e.clock.Now)
	e.ts = httptest.NewUnstartedServer(nil)
	base := "http://" + e.ts.Listener.Addr().String()
	cfg := Config{
		Issuer:    base,
		Resources: []string{base + "/mcp", base + "/sse"},
		Store:     e.store,
		Provider:  e.provider,
		Secret:    []byte("0123456789abcdef0123456789abcdef-test-secret"),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:       e.clock.Now,
		OnGrantIdentityChanged: func(old, new Identity) {
			e.mu.Lock()
			e.changed = append(e.changed, new)
			e.mu.Unlock()
		},
	}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = s
	mux := http.NewServeMux()
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(IdentityFromContext(r.Context()))
	})
	mux.Handle("/mcp", CORS(s.RequireBearer(base+"/mcp", echo)))
	mux.Handle("/sse", CORS(s.RequireBearer(base+"/sse", echo)))
	mux.Handle("/", s.Handler())
	e.ts.Config.Handler = mux
	e.ts.Start()
	t.Cleanup(e.ts.Close)
	e.browser = newBrowser()
	return e
}

func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *env) url(p string) string { return e.ts.URL + p }

// register registers a client with the given metadata and returns the
// response body.
func (e *env) register(meta map[string]any) (int, map[string]any) {
	e.t.Helper()
	b, _ := json.Marshal(meta)
	resp, err := http.Post(e.url("/register"), "application/json", strings.NewReader(string(b)))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

const testRedirect = "http://127.0.0.1:33418/callback"

// publicClient registers a public client with testRedirect.
func (e *env) publicClient() string {
	e.t.Helper()
	code, out := e.register(map[string]any{"redirect_uris": []string{testRedirect, "https://app.example.com/cb"}, "token_endpoint_auth_method": "none", "client_name": "Test <Client>"})
	if code != 201 {
		e.t.Fatalf("register: %d %v", code, out)
	}
	return out["client_id"].(string)
}

// RFC 7636 Appendix B.
const (
	testVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	testChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func authParams(clientID string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {testRedirect},
		"state": {"xyz-state"}, "code_challenge": {testChallenge}, "code_challenge_method": {"S256"},
	}
}

func (e *env) get(c *http.Client, u string) *http.Response {
	e.t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func readBody(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

var (
	rePending = regexp.MustCompile(`name="pending" value="([^"]+)"`)
	reCSRF    = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	reScope   = regexp.MustCompile(`<input type="checkbox" name="scope" value="([^"]+)" checked>`)
)

// scopeBoxes lists the scope checkboxes of a consent page.
func scopeBoxes(body string) []string {
	var out []string
	for _, m := range reScope.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// consentForm GETs /authorize and returns the consent form fields.
func (e *env) consentForm(c *http.Client, params url.Values) (pending, csrf string) {
	e.t.Helper()
	resp := e.get(c, e.url("/authorize?"+params.Encode()))
	body := readBody(resp)
	if resp.StatusCode != 200 {
		e.t.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	p, k := rePending.FindStringSubmatch(body), reCSRF.FindStringSubmatch(body)
	if p == nil || k == nil {
		e.t.Fatalf("no consent form in %s", body)
	}
	e.ticked = scopeBoxes(body)
	return p[1], k[1]
}

// postConsent answers the consent form as a browser does when the person
// leaves every scope box ticked.
func (e *env) postConsent(c *http.Client, pending, csrf, decision string) *http.Response {
	e.t.Helper()
	return e.postConsentScopes(c, pending, csrf, decision, e.ticked)
}

// postConsentScopes answers the consent form with only the given scope
// boxes ticked.
func (e *env) postConsentScopes(c *http.Client, pending, csrf, decision string, scopes []string) *http.Response {
	e.t.Helper()
	resp, err := c.PostForm(e.url("/authorize"), url.Values{"pending": {pending}, "csrf_token": {csrf}, "decision": {decision}, "scope": scopes})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// followToClient follows redirects (through the fake provider and
// /callback) until one leaves for the client's redirect URI, and returns
// that final URL's query.
func (e *env) followToClient(c *http.Client, resp *http.Response) url.Values {
	e.t.Helper()
	for range 5 {
		readBody(resp)
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			e.t.Fatalf("expected a redirect, got %d", resp.StatusCode)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			e.t.Fatal(err)
		}
		if strings.HasPrefix(loc.String(), testRedirect) || strings.HasPrefix(loc.String(), "https://app.example.com/") {
			return loc.Query()
		}
		resp = e.get(c, loc.String())
	}
	e.t.Fatal("too many redirects")
	return nil
}

// authorize runs the browser part of the flow and returns the code.
func (e *env) authorize(clientID string) string {
	e.t.Helper()
	var q url.Values
	resp := e.get(e.browser, e.url("/authorize?"+authParams(clientID).Encode()))
	if resp.StatusCode == http.StatusFound { // consent remembered
		q = e.followToClient(e.browser, resp)
	} else {
		readBody(resp)
		pending, csrf := e.consentForm(e.browser, authParams(clientID))
		q = e.followToClient(e.browser, e.postConsent(e.browser, pending, csrf, "approve"))
	}
	if q.Get("code") == "" || q.Get("state") != "xyz-state" || q.Get("iss") != e.ts.URL {
		e.t.Fatalf("authorization response %v", q)
	}
	return q.Get("code")
}

// token POSTs a token request and decodes the JSON answer.
func (e *env) token(form url.Values, basicUser, basicPass string) (int, map[string]any, http.Header) {
	e.t.Helper()
	return e.postForm("/token", form, basicUser, basicPass)
}

func (e *env) postForm(path string, form url.Values, basicUser, basicPass string) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url(path), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

func codeForm(clientID, code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect},
		"code_verifier": {testVerifier}, "client_id": {clientID}}
}

// tokens runs the whole flow for a fresh public client and returns its
// client ID, access token and refresh token.
func (e *env) tokens() (clientID, access, refresh string) {
	e.t.Helper()
	clientID = e.publicClient()
	code := e.authorize(clientID)
	st, out, _ := e.token(codeForm(clientID, code), "", "")
	if st != 200 {
		e.t.Fatalf("token: %d %v", st, out)
	}
	return clientID, out["access_token"].(string), out["refresh_token"].(string)
}

func refreshForm(clientID, rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}}
}

// call makes a request to a protected endpoint with token.
func (e *env) call(path, token string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url(path), strings.NewReader("{}"))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, readBody(resp)
}

// newTLSEnv is newEnv served over https, so that the server sets Secure
// cookies. Only the browser client trusts its certificate.
func newTLSEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, clock: &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	e.provider = newFakeProvider(t)
	e.store = newTestStore(e.clock.Now)
	e.ts = httptest.NewUnstartedServer(nil)
	base := "https://" + e.ts.Listener.Addr().String()
	s, err := NewServer(Config{
		Issuer: base, Resources: []string{base + "/mcp"}, Store: e.store, Provider: e.provider,
		Secret: []byte("0123456789abcdef0123456789abcdef-test-secret"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = s
	e.ts.Config.Handler = s.Handler()
	e.ts.StartTLS()
	t.Cleanup(e.ts.Close)
	jar, _ := cookiejar.New(nil)
	e.browser = &http.Client{Jar: jar, Transport: e.ts.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e
}

// tlsPublicClient registers a public client directly through the handler.
func (e *env) tlsPublicClient() string {
	e.t.Helper()
	req := httptest.NewRequest("POST", e.ts.URL+"/register", strings.NewReader(
		`{"redirect_uris":["`+testRedirect+`"],"token_endpoint_auth_method":"none","client_name":"T"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 201 {
		e.t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(rec.Body.String()[strings.Index(rec.Body.String(), `"client_id":"`):], `"client_id":"`), `"`)
	return id
}

// hookStore runs afterGet once, after the first successful Get of kind,
// and afterPut once, after the first Put of kind.
type hookStore struct {
	Store
	kind     string
	afterGet func()
	afterPut func()
}

func (h *hookStore) Put(ctx context.Context, kind, key string, v []byte, exp time.Time) error {
	err := h.Store.Put(ctx, kind, key, v, exp)
	if kind == h.kind && h.afterPut != nil {
		f := h.afterPut
		h.afterPut = nil
		f()
	}
	return err
}

func (h *hookStore) Get(ctx context.Context, kind, key string) ([]byte, error) {
	b, err := h.Store.Get(ctx, kind, key)
	if err == nil && kind == h.kind && h.afterGet != nil {
		f := h.afterGet
		h.afterGet = nil
		f()
	}
	return b, err
}
