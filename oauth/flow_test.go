package oauth_test

// The harness of this package's end-to-end tests: the authorization server
// with the real AuthKit provider (package authkit) in front of an AuthKit
// emulator, on loopback, as the command wires them, and a person's browser
// made of a cookie jar. The tests are in package oauth_test because
// package authkit imports oauth.

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
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

	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/oauth/authkit"
	"remote-mcp-authkit/oauth/authkittest"
	"remote-mcp-authkit/store"
)

// upstreamFaults puts faults in front of an AuthKit emulator that its own
// Fault cannot make: the key set endpoint answering an error, and answers
// to authenticate held back after the emulator did the work.
type upstreamFaults struct {
	mu         sync.Mutex
	jwksStatus int
	holdAnswer time.Duration
}

func (f *upstreamFaults) set(jwksStatus int, holdAnswer time.Duration) {
	f.mu.Lock()
	f.jwksStatus, f.holdAnswer = jwksStatus, holdAnswer
	f.mu.Unlock()
}

func (f *upstreamFaults) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		status, hold := f.jwksStatus, f.holdAnswer
		f.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/sso/jwks/") && status != 0 {
			http.Error(w, "key set unavailable", status)
			return
		}
		if r.URL.Path != "/user_management/authenticate" || hold == 0 {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
		select {
		case <-time.After(hold):
		case <-r.Context().Done():
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// logBuffer collects the server's log, written from its goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// akFlow is the authorization server with the real AuthKit provider, in
// front of an emulator behind upstreamFaults. /mcp and /sse are its two
// resources: each answers a bearer's Identity as JSON.
type akFlow struct {
	t        *testing.T
	ak       *authkittest.Server
	up       *httptest.Server // the emulator's listener
	faults   *upstreamFaults
	base     string
	logs     *logBuffer
	clientID string // registered by newAKFlow; empty from newFlow
}

// flowConfig is what a test changes in the wiring.
type flowConfig struct {
	providerTimeout time.Duration
	editProvider    func(*authkit.Config)
	editServer      func(*oauth.Config)
}

// flowRedirect is the registered redirect URI of test clients. Nothing
// listens there: browsers in these tests stop at the redirect and read its
// query.
const flowRedirect = "http://127.0.0.1:9/cb"

// RFC 7636 Appendix B.
const (
	flowVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	flowChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

// newFlow starts the servers, with no client registered. A log that
// mentions a panic fails the test; a failing test prints the log.
func newFlow(t *testing.T, c flowConfig) *akFlow {
	t.Helper()
	f := &akFlow{t: t, faults: &upstreamFaults{}, logs: &logBuffer{}}
	up := httptest.NewUnstartedServer(nil)
	ak, err := authkittest.NewHandler("http://" + up.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	f.ak, f.up = ak, up
	up.Config.Handler = f.faults.wrap(ak.Handler())
	up.Start()
	t.Cleanup(up.Close)
	logger := slog.New(slog.NewTextHandler(f.logs, nil))
	pc := authkit.Config{ClientID: ak.ClientID(), APIKey: ak.APIKey(), APIURL: ak.URL, Logger: logger, Timeout: c.providerTimeout}
	if c.editProvider != nil {
		c.editProvider(&pc)
	}
	provider, err := authkit.New(pc)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := oauth.LoadOrCreateSecret(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	f.base = "http://" + ts.Listener.Addr().String()
	sc := oauth.Config{
		Issuer: f.base, Resources: []string{f.base + "/mcp", f.base + "/sse"}, Store: store.NewMemoryStore(), Provider: provider,
		Secret: secret, Logger: logger, ProviderTimeout: c.providerTimeout,
	}
	if c.editServer != nil {
		c.editServer(&sc)
	}
	srv, err := oauth.NewServer(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	mux := http.NewServeMux()
	for _, p := range []string{"/mcp", "/sse"} {
		mux.Handle(p, oauth.CORS(srv.RequireBearer(f.base+p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(oauth.IdentityFromContext(r.Context()))
		}))))
	}
	mux.Handle("/", srv.Handler())
	ts.Config.Handler = mux
	ts.Config.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		if strings.Contains(f.logs.String(), "panic") {
			t.Errorf("the server log mentions a panic")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", f.logs)
		}
	})
	return f
}

// newAKFlow is newFlow with a public client registered (clientID).
func newAKFlow(t *testing.T, providerTimeout time.Duration, edit func(*authkit.Config)) *akFlow {
	t.Helper()
	f := newFlow(t, flowConfig{providerTimeout: providerTimeout, editProvider: edit})
	f.clientID = f.register()
	return f
}

// in is the same servers, for a subtest's t.
func (f *akFlow) in(t *testing.T) *akFlow {
	c := *f
	c.t = t
	return &c
}

func (f *akFlow) form(path string, v url.Values) (int, map[string]any) {
	f.t.Helper()
	st, _, out := f.postForm(path, v)
	return st, out
}

func (f *akFlow) refresh(rt string) (int, map[string]any) {
	f.t.Helper()
	return f.form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {f.clientID}})
}

// call presents tok at /mcp and returns the status and the identity the
// bearer check found.
func (f *akFlow) call(tok string) (int, oauth.Identity) {
	f.t.Helper()
	st, _, body := f.bearer("/mcp", tok)
	var id oauth.Identity
	json.Unmarshal([]byte(body), &id)
	return st, id
}

// bearer presents tok at a resource.
func (f *akFlow) bearer(resource, tok string) (int, http.Header, string) {
	f.t.Helper()
	req, _ := http.NewRequest("POST", f.base+resource, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return f.do(req)
}

// serves proves that tok opens /mcp for a signed-in user.
func (f *akFlow) serves(tok string) {
	f.t.Helper()
	if st, id := f.call(tok); st != http.StatusOK || id.Subject == "" || id.Email == "" {
		f.t.Fatalf("access token at /mcp: %d %+v", st, id)
	}
}

// signIn runs consent, the emulator's sign-in page and the code exchange
// for clientID, and returns the access and refresh tokens.
func (f *akFlow) signIn(email string) (access, refresh string) {
	f.t.Helper()
	st, _, out := f.postForm("/token", codeForm(f.clientID, f.code(f.clientID, email)))
	if st != http.StatusOK {
		f.t.Fatalf("token: %d %v", st, out)
	}
	return out["access_token"].(string), out["refresh_token"].(string)
}

// browser has a cookie jar and follows redirects except those leaving for
// a client's redirect URI (host 127.0.0.1:9).
//
// Each browser has its own Transport: these tests run in parallel, and an
// httptest.Server's Close calls CloseIdleConnections on the shared
// DefaultTransport, which can break a request of another test that is
// just reusing a connection ("transport connection broken").
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "127.0.0.1:9" || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// noFollow shares a browser's cookies but follows no redirect.
func noFollow(b *http.Client) *http.Client {
	return &http.Client{Jar: b.Jar, Transport: b.Transport, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

// do sends a request and returns status, headers and body.
func (f *akFlow) do(req *http.Request) (int, http.Header, string) {
	f.t.Helper()
	resp, err := noFollow(browser()).Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, resp.Header, readAll(f.t, resp)
}

func (f *akFlow) get(path string) (int, http.Header, string) {
	f.t.Helper()
	req, _ := http.NewRequest("GET", f.base+path, nil)
	return f.do(req)
}

func (f *akFlow) postForm(path string, form url.Values) (int, http.Header, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest("POST", f.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	st, h, body := f.do(req)
	var out map[string]any
	if body != "" {
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			f.t.Fatalf("POST %s: %d, body is not JSON: %q", path, st, body)
		}
	}
	return st, h, out
}

// register registers a public client named "hostile" with the given
// redirect URIs (default flowRedirect).
func (f *akFlow) register(redirects ...string) string {
	f.t.Helper()
	if len(redirects) == 0 {
		redirects = []string{flowRedirect}
	}
	b, _ := json.Marshal(map[string]any{"redirect_uris": redirects, "token_endpoint_auth_method": "none", "client_name": "hostile"})
	req, _ := http.NewRequest("POST", f.base+"/register", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	st, _, body := f.do(req)
	if st != http.StatusCreated {
		f.t.Fatalf("register: %d %s", st, body)
	}
	var out struct {
		ClientID string `json:"client_id"`
	}
	json.Unmarshal([]byte(body), &out)
	return out.ClientID
}

func authParams(clientID string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {flowRedirect},
		"state": {"st-1"}, "code_challenge": {flowChallenge}, "code_challenge_method": {"S256"},
	}
}

func codeForm(clientID, code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {flowRedirect},
		"code_verifier": {flowVerifier}, "client_id": {clientID}}
}

var (
	pendingRe = regexp.MustCompile(`name="pending" value="([^"]+)"`)
	csrfRe    = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
)

// consent opens /authorize in browser b and returns the consent form's
// hidden fields.
func (f *akFlow) consent(b *http.Client, params url.Values) (pending, csrf string) {
	f.t.Helper()
	resp, err := noFollow(b).Get(f.base + "/authorize?" + params.Encode())
	if err != nil {
		f.t.Fatal(err)
	}
	body := readAll(f.t, resp)
	p, c := pendingRe.FindStringSubmatch(body), csrfRe.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || p == nil || c == nil {
		f.t.Fatalf("authorize: %d, no consent form: %s", resp.StatusCode, body)
	}
	return html.UnescapeString(p[1]), html.UnescapeString(c[1])
}

// approve posts the consent form and returns the redirect to the sign-in
// page (the upstream authorization URL).
func (f *akFlow) approve(b *http.Client, pending, csrf string) string {
	f.t.Helper()
	resp, err := noFollow(b).PostForm(f.base+"/authorize", url.Values{"pending": {pending}, "csrf_token": {csrf}, "decision": {"approve"}})
	if err != nil {
		f.t.Fatal(err)
	}
	body := readAll(f.t, resp)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), f.ak.URL+"/") {
		f.t.Fatalf("consent approve: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return resp.Header.Get("Location")
}

// callbackURL plays the sign-in page for email (authkittest.SignIn) and
// returns our /callback URL the sign-in page redirected to (not yet
// followed).
func (f *akFlow) callbackURL(b *http.Client, signInURL, email string) string {
	f.t.Helper()
	resp, err := authkittest.SignIn(context.Background(), noFollow(b), signInURL, email)
	if err != nil {
		f.t.Fatalf("sign-in: %v", err)
	}
	body := readAll(f.t, resp)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), f.base+"/callback?") {
		f.t.Fatalf("sign-in page answered %d %q: %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return resp.Header.Get("Location")
}

// follow GETs u in browser b without following redirects and returns the
// response's status and parsed Location.
func (f *akFlow) follow(b *http.Client, u string) (int, *url.URL, string) {
	f.t.Helper()
	resp, err := noFollow(b).Get(u)
	if err != nil {
		f.t.Fatal(err)
	}
	body := readAll(f.t, resp)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return resp.StatusCode, loc, body
}

// code runs the browser part of the flow for clientID as email and returns
// the authorization code.
func (f *akFlow) code(clientID, email string) string {
	f.t.Helper()
	return f.codeWith(authParams(clientID), email)
}

// codeWith is code with the authorization request's parameters given.
func (f *akFlow) codeWith(params url.Values, email string) string {
	f.t.Helper()
	b := browser()
	pending, csrf := f.consent(b, params)
	cb := f.callbackURL(b, f.approve(b, pending, csrf), email)
	st, loc, body := f.follow(b, cb)
	if st != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), flowRedirect+"?") {
		f.t.Fatalf("callback: %d %v %s", st, loc, body)
	}
	q := loc.Query()
	if q.Get("code") == "" || q.Get("state") != "st-1" || q.Get("iss") != f.base {
		f.t.Fatalf("authorization response %v", q)
	}
	return q.Get("code")
}

// tokens signs email in through a fresh client and returns its client ID,
// access token and refresh token.
func (f *akFlow) tokens(email string) (clientID, access, refresh string) {
	f.t.Helper()
	clientID = f.register()
	st, _, out := f.postForm("/token", codeForm(clientID, f.code(clientID, email)))
	if st != http.StatusOK {
		f.t.Fatalf("token: %d %v", st, out)
	}
	return clientID, out["access_token"].(string), out["refresh_token"].(string)
}

// pendingCallback runs the browser part of a sign-in up to the AuthKit
// redirect back to /callback, which is returned unfollowed.
func (f *akFlow) pendingCallback(client, email string) (*http.Client, string) {
	f.t.Helper()
	b := browser()
	pending, csrf := f.consent(b, authParams(client))
	return b, f.callbackURL(b, f.approve(b, pending, csrf), email)
}

// wantClientError asserts that /callback sent the browser back to the
// client with an RFC 6749 s4.1.2.1 error (never a code) within bound.
func (f *akFlow) wantClientError(b *http.Client, cb, wantErr string, bound time.Duration) {
	f.t.Helper()
	start := time.Now()
	st, loc, body := f.follow(b, cb)
	if d := time.Since(start); d > bound {
		f.t.Errorf("callback took %v", d)
	}
	if st != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), flowRedirect+"?") {
		f.t.Fatalf("callback: %d %v %s", st, loc, trunc(body))
	}
	q := loc.Query()
	if q.Get("error") != wantErr || q.Get("error_description") == "" || q.Get("code") != "" || q.Get("state") != "st-1" || q.Get("iss") != f.base {
		f.t.Errorf("callback error response %v, want error=%s", q, wantErr)
	}
}

func trunc(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// wantPage asserts an HTML page (never a redirect) with status and text.
func wantPage(t *testing.T, name string, st int, h http.Header, body string, wantStatus int, wantText string) {
	t.Helper()
	if st != wantStatus || h.Get("Location") != "" || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, wantText) {
		t.Errorf("%s: %d Location=%q Content-Type=%q, want a %d page saying %q:\n%s", name, st, h.Get("Location"), h.Get("Content-Type"), wantStatus, wantText, trunc(body))
	}
}

// wantOAuthError asserts an RFC 6749 s5.2 JSON error.
func wantOAuthError(t *testing.T, name string, st int, out map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if st != wantStatus || out["error"] != wantCode || out["error_description"] == "" {
		t.Errorf("%s: %d %v, want %d %s", name, st, out, wantStatus, wantCode)
	}
}
