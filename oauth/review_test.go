package oauth

// Findings of a standards and security review, each pinned by a test that
// failed before its fix.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

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

// MCP 2025-11-25 security best practices, "Consent Cookie Security": consent
// cookies MUST use the __Host- prefix (RFC 6265bis s4.1.3.2: Secure, no
// Domain, Path=/), so that a sibling subdomain cannot plant one. The same
// holds for the CSRF nonce and the state binding cookie: a planted nonce or
// consent cookie would let a same-site attacker skip or forge consent.
func TestReviewCookiesUseHostPrefixOverHTTPS(t *testing.T) {
	e := newTLSEnv(t)
	id := e.tlsPublicClient()
	check := func(resp *http.Response, want string) {
		t.Helper()
		for _, c := range resp.Cookies() {
			if strings.HasPrefix(c.Name, "__Host-"+want) {
				if c.Path != "/" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Domain != "" {
					t.Errorf("cookie %s: Path=%q Secure=%v HttpOnly=%v SameSite=%v Domain=%q", c.Name, c.Path, c.Secure, c.HttpOnly, c.SameSite, c.Domain)
				}
				return
			}
		}
		t.Errorf("no __Host-%s cookie in %q", want, resp.Header.Values("Set-Cookie"))
	}
	resp := e.get(e.browser, e.url("/authorize?"+authParams(id).Encode()))
	body := readBody(resp)
	check(resp, cookieBrowser)
	p, k := rePending.FindStringSubmatch(body), reCSRF.FindStringSubmatch(body)
	if p == nil || k == nil {
		t.Fatalf("no consent form: %d %s", resp.StatusCode, body)
	}
	resp = e.postConsent(e.browser, p[1], k[1], "approve")
	check(resp, cookieConsent)
	check(resp, cookieState)
	if q := e.followToClient(e.browser, resp); q.Get("code") == "" {
		t.Fatalf("flow over https: %v", q)
	}
	// The remembered consent is read back under its __Host- name.
	resp = e.get(e.browser, e.url("/authorize?"+authParams(id).Encode()))
	readBody(resp)
	if resp.StatusCode != http.StatusFound {
		t.Errorf("remembered consent over https not honoured: %d", resp.StatusCode)
	}
}

// MCP 2025-11-25 "Canonical Server URI": implementations SHOULD accept
// uppercase scheme and host components of a resource (RFC 3986 s6.2.2.1:
// they are case-insensitive). Path, port, query, userinfo and fragment stay
// significant.
func TestReviewResourceSchemeAndHostCaseInsensitive(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"https://mcp.example.com/mcp", "https://mcp.example.com/mcp", true},
		{"https://mcp.example.com/mcp", "HTTPS://MCP.Example.COM/mcp", true},
		{"https://mcp.example.com/mcp", "https://mcp.example.com/mcp/", true},
		{"https://mcp.example.com", "HTTPS://MCP.EXAMPLE.COM/", true},
		{"https://mcp.example.com/mcp", "https://mcp.example.com/MCP", false},
		{"https://mcp.example.com/mcp", "https://mcp.example.com:8443/mcp", false},
		{"https://mcp.example.com/mcp", "http://mcp.example.com/mcp", false},
		{"https://mcp.example.com/mcp", "https://mcp.example.com/mcp#frag", false},
		{"https://mcp.example.com/mcp", "https://mcp.example.com/mcp#", false},
		{"https://mcp.example.com/mcp", "https://user@mcp.example.com/mcp", false},
		{"https://mcp.example.com/mcp", "https://mcp.example.com/mcp?x=1", false},
		{"https://mcp.example.com/mcp", "https://mcp.example.com/%6Dcp", false},
		{"https://mcp.example.com/mcp", "https://evil.example/mcp", false},
	} {
		if got := sameResource(tc.a, tc.b); got != tc.want {
			t.Errorf("sameResource(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}

	// Through the endpoints: an uppercase scheme is accepted at /authorize
	// and at /token, and the token is bound to the configured resource.
	e := newEnv(t)
	upper := "HTTP://" + strings.TrimPrefix(e.ts.URL, "http://") + "/mcp"
	id := e.publicClient()
	p := authParams(id)
	p.Set("resource", upper)
	pending, csrf := e.consentForm(e.browser, p)
	q := e.followToClient(e.browser, e.postConsent(e.browser, pending, csrf, "approve"))
	form := codeForm(id, q.Get("code"))
	form.Set("resource", upper)
	st, out, _ := e.token(form, "", "")
	if st != 200 {
		t.Fatalf("token: %d %v", st, out)
	}
	if resp, _ := e.call("/mcp", out["access_token"].(string)); resp.StatusCode != 200 {
		t.Errorf("token for %q refused at /mcp: %d", upper, resp.StatusCode)
	}
}

// The per-address rate limiters must not let an attacker grow memory
// without bound: a sweep only drops buckets idle for burst*interval, so
// fresh source addresses (an IPv6 /64 holds 2^64 of them) each added one
// until then. And an IPv6 client picks any address of its /64 at will, so
// counting per address limited nothing.
func TestReviewRateLimiterBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newRateLimiter(time.Second, 60, func() time.Time { return now })
	for i := range 3 * maxRateBuckets {
		l.allow(fmt.Sprintf("198.51.%d.%d", i/256, i%256))
	}
	if n := len(l.buckets); n > maxRateBuckets {
		t.Errorf("rate limiter holds %d buckets, more than %d", n, maxRateBuckets)
	}

	key := func(addr string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		return rateKey(r)
	}
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"[2001:db8:1:2::1]:1000", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:2000", true},
		{"[2001:db8:1:2::1]:1000", "[2001:db8:1:3::1]:1000", false},
		{"192.0.2.1:1000", "192.0.2.1:2000", true},
		{"192.0.2.1:1000", "192.0.2.2:1000", false},
		{"[::ffff:192.0.2.1]:1000", "192.0.2.1:1", true},
		{"[::ffff:192.0.2.1]:1000", "[::ffff:192.0.2.2]:1", false},
	} {
		if got := key(tc.a) == key(tc.b); got != tc.same {
			t.Errorf("rateKey(%s)=%q, rateKey(%s)=%q: same=%v, want %v", tc.a, key(tc.a), tc.b, key(tc.b), got, tc.same)
		}
	}
}

// CIMD draft s6 (MCP 2025-11-25 "Authorization Server Abuse Protection"):
// every client_id that is an https URL makes us fetch it. /authorize was
// rate limited per address, but /token and /revoke authenticate the client
// first and so fetched any number of attacker-chosen URLs, unauthenticated
// and unlimited: an outbound request amplifier.
func TestReviewMetadataFetchesFromTokenEndpointAreLimited(t *testing.T) {
	e, m := cimdEnv(t, true)
	m.doc = func(u string) (int, map[string]string, string) { return 404, nil, "{}" }
	const n = 150
	limited := 0
	for i := range n {
		path := "/token"
		if i%2 == 1 {
			path = "/revoke"
		}
		form := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "code_verifier": {testVerifier},
			"token": {"x"}, "client_id": {fmt.Sprintf("%s/c/%d.json", m.srv.URL, i)}}
		st, out, h := e.postForm(path, form, "", "")
		if st == http.StatusTooManyRequests {
			limited++
			// RFC 6585 s4: a 429 may say how long to wait; ours always do.
			if h.Get("Retry-After") != "1" {
				t.Fatalf("request %d: 429 with Retry-After %q, want 1", i, h.Get("Retry-After"))
			}
		} else if st != http.StatusUnauthorized || out["error"] != "invalid_client" {
			t.Fatalf("request %d: %d %v", i, st, out)
		}
	}
	if f := m.fetches.Load(); f > 60 || limited == 0 {
		t.Errorf("%d token and revocation requests with fresh metadata URLs caused %d fetches (%d limited)", n, f, limited)
	}
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

// A revocation that lands while the bearer check is loading a token from
// the store (after it read the grant, before it cached the token) must
// still stop the token at once in this process, as RevokeGrant promises:
// before, the freshly cached entry knew nothing of it and the token kept
// working until the next recheck of the store (RFC 7009 s2, MCP 2025-11-25
// "Token Audience Binding and Validation").
func TestReviewRevocationDuringBearerLoad(t *testing.T) {
	for _, kind := range []string{kindGrant, kindAccess} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t)
			clientID, at, _ := e.tokens()
			hs := &hookStore{Store: e.store, kind: kind}
			cfg := e.srv.cfg
			cfg.Store = hs
			s2, err := NewServer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			hs.afterGet = func() {
				if kind == kindGrant {
					var ar accessRecord
					e.srv.getJSON(t.Context(), kindAccess, hashToken(at), &ar)
					s2.RevokeGrant(t.Context(), ar.GrantID)
				} else {
					// RFC 7009: the client revokes just the access token.
					rec := httptest.NewRecorder()
					req := httptest.NewRequest("POST", "/revoke", strings.NewReader(url.Values{"token": {at}, "client_id": {clientID}}.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					s2.Handler().ServeHTTP(rec, req)
				}
			}
			h := s2.RequireBearer(cfg.Resources[0], http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			call := func() int {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("POST", "/mcp", nil)
				req.Header.Set("Authorization", "Bearer "+at)
				h.ServeHTTP(rec, req)
				return rec.Code
			}
			call() // races with the revocation: either answer is fair
			if hs.afterGet != nil {
				t.Fatal("the revocation hook did not run")
			}
			if c := call(); c != http.StatusUnauthorized {
				t.Errorf("token revoked during its first lookup still accepted afterwards: %d", c)
			}
		})
	}
}

// The SSRF guard refused the common private ranges but not the other
// special-purpose blocks a host name can resolve to (RFC 6890 and its
// IANA registries): "this network" 0/8 beyond 0.0.0.0, IETF protocol
// assignments, benchmarking, reserved 240/4 and broadcast, and IPv6 forms
// that carry an IPv4 address a gateway will reach for us: IPv4-compatible
// (::/96), NAT64 (RFC 6052, RFC 8215) and 6to4 (RFC 3056); also site-local
// fec0::/10 and Teredo.
func TestReviewSSRFGuardSpecialRanges(t *testing.T) {
	for addr, refused := range map[string]bool{
		"0.1.2.3:443": true, "192.0.0.8:443": true, "198.18.0.1:443": true, "198.19.255.255:443": true,
		"240.0.0.1:443": true, "255.255.255.255:443": true,
		"[::7f00:1]:443": true, "[::a00:1]:443": true,
		"[64:ff9b::a00:1]:443": true, "[64:ff9b::a9fe:a9fe]:443": true, "[64:ff9b:1::1]:443": true,
		"[2002:a00:1::1]:443": true, "[2002:7f00:1::]:443": true,
		"[fec0::1]:443": true, "[2001:0:4136:e378:8000:63bf:3fff:fdd2]:443": true,
		// Public addresses, also through NAT64 and 6to4, stay reachable.
		"[64:ff9b::5db8:d822]:443": false, "[2002:5db8:d822::1]:443": false,
		"93.184.216.34:443": false, "[2606:2800:220:1::1]:443": false, "198.20.0.1:443": false,
	} {
		if err := ssrfGuard("tcp", addr, nil); (err != nil) != refused {
			t.Errorf("ssrfGuard(%s) = %v, want refused=%v", addr, err, refused)
		}
	}
}

// Config.HTTPClient's transport is copied and given the guarded dialer,
// but a DialTLSContext it carried was kept, and for https (every metadata
// document URL) that dialer is used instead: the guard was bypassed.
func TestReviewSSRFGuardNotBypassedByCustomTLSDialer(t *testing.T) {
	m := newMetadataHost(t)
	m.doc = func(u string) (int, map[string]string, string) { return 200, nil, goodDoc(u) }
	tr := m.srv.Client().Transport.(*http.Transport).Clone()
	tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := tls.Dialer{Config: tr.TLSClientConfig}
		return d.DialContext(ctx, network, addr)
	}
	e := newEnv(t, func(c *Config) { c.HTTPClient = &http.Client{Transport: tr} })
	if _, err := e.srv.lookupClient(t.Context(), m.srv.URL+"/client.json"); err == nil {
		t.Error("loopback metadata document fetched")
	}
	if n := m.fetches.Load(); n != 0 {
		t.Errorf("guard bypassed: %d fetches reached the loopback host", n)
	}
}

// RFC 6749 s5.2 and s4.1.2.1: error_description MUST NOT include
// characters outside %x20-21 / %x23-5B / %x5D-7E (printable ASCII without
// '"' and '\'). Descriptions that quote a client's input with %q broke
// that, at the token endpoint and in authorization error redirects.
func TestReviewErrorDescriptionCharset(t *testing.T) {
	valid := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	}
	e, m := cimdEnv(t, true)
	m.doc = func(u string) (int, map[string]string, string) {
		return 200, nil, goodDoc("https://other.example/é\"\\")
	}
	st, out, _ := e.token(codeForm(m.srv.URL+"/client.json", "x"), "", "")
	desc, _ := out["error_description"].(string)
	if st != 401 || desc == "" || !valid(desc) {
		t.Errorf("token endpoint: %d error_description %q", st, desc)
	}

	rec := httptest.NewRecorder()
	e.srv.redirectError(rec, httptest.NewRequest("GET", "/callback", nil), testRedirect, "s", "server_error", "the identity provider reported \"é\\\n")
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || !valid(loc.Query().Get("error_description")) || loc.Query().Get("error_description") == "" {
		t.Errorf("redirect error_description %q", loc.Query().Get("error_description"))
	}
}

// MCP 2025-11-25 security best practices, "Consent UI Requirements": the
// consent page MUST show the registered redirect_uri where tokens will be
// sent, not only its host (a host may serve many paths, some of them the
// attacker's).
func TestReviewConsentShowsRedirectURI(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	p := authParams(id)
	p.Set("redirect_uri", "https://app.example.com/cb")
	resp := e.get(e.browser, e.url("/authorize?"+p.Encode()))
	body := readBody(resp)
	if resp.StatusCode != 200 || !strings.Contains(body, "https://app.example.com/cb") {
		t.Errorf("consent page (%d) does not show the redirect URI:\n%s", resp.StatusCode, body)
	}
}

// The same race at issuance: a grant revoked while the token endpoint is
// issuing from it (a replayed code, a reused refresh token, the user
// revoking) must not leave the new access token cached as live. Before,
// issueTokens cached it with a fresh grant entry after the revocation had
// marked the old one, and the token worked until the next store recheck.
func TestReviewRevocationDuringIssuance(t *testing.T) {
	var hs *hookStore
	e := newEnv(t, func(c *Config) {
		hs = &hookStore{Store: c.Store, kind: kindAccess}
		c.Store = hs
	})
	id := e.publicClient()
	code := e.authorize(id)
	hs.afterPut = func() {
		var cr codeRecord
		e.srv.getJSON(t.Context(), kindCode, hashToken(code), &cr)
		e.srv.RevokeGrant(t.Context(), cr.GrantID)
	}
	st, out, _ := e.token(codeForm(id, code), "", "")
	if hs.afterPut != nil {
		t.Fatal("the revocation hook did not run")
	}
	if st == 200 {
		if resp, _ := e.call("/mcp", out["access_token"].(string)); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("access token of a grant revoked during issuance accepted: %d", resp.StatusCode)
		}
	} else if out["error"] != "invalid_grant" {
		t.Errorf("token: %d %v", st, out)
	}
}

// OAuth 2.1 s4.1.3: redirect_uri at the token endpoint is REQUIRED (and
// identical) only if the authorization request included it; otherwise it
// is OPTIONAL. A client that omitted it at /authorize (allowed with one
// registered URI) but sends its registered URI at /token was refused with
// invalid_grant, and its grant revoked. A different URI is still refused.
func TestReviewTokenRedirectURIOptionalWhenOmitted(t *testing.T) {
	e := newEnv(t)
	code, out := e.register(map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "none"})
	if code != 201 {
		t.Fatal(out)
	}
	id := out["client_id"].(string)
	for _, tc := range []struct {
		sent string
		ok   bool
	}{{testRedirect, true}, {"", true}, {"http://127.0.0.1:33418/other", false}} {
		p := authParams(id)
		p.Del("redirect_uri")
		br := newBrowser()
		pending, csrf := e.consentForm(br, p)
		q := e.followToClient(br, e.postConsent(br, pending, csrf, "approve"))
		form := codeForm(id, q.Get("code"))
		if tc.sent == "" {
			form.Del("redirect_uri")
		} else {
			form.Set("redirect_uri", tc.sent)
		}
		st, out, _ := e.token(form, "", "")
		if (st == 200) != tc.ok {
			t.Errorf("redirect_uri %q at /token after none at /authorize: %d %v", tc.sent, st, out)
		}
	}
}

// The HTTP server has no ReadTimeout (it would cut SSE streams), so the
// handlers must bound the time a body may take: a client that announced a
// body and then sent it a byte a minute held a goroutine and a connection
// at /token, /revoke, /register and the consent POST for ever.
func TestReviewSlowBodyTimesOut(t *testing.T) {
	defer func(d time.Duration) { bodyReadTimeout = d }(bodyReadTimeout)
	bodyReadTimeout = 200 * time.Millisecond
	e := newEnv(t)
	for _, tc := range []struct{ path, ctype string }{
		{"/token", "application/x-www-form-urlencoded"},
		{"/revoke", "application/x-www-form-urlencoded"},
		{"/register", "application/json"},
		{"/authorize", "application/x-www-form-urlencoded"},
	} {
		conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 1000\r\n\r\ngrant_type=", tc.path, tc.ctype)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(conn) // a response, then the server closes; or our deadline
		conn.Close()
		if err != nil {
			t.Errorf("%s: a stalled body held the request open: %v (read %q)", tc.path, err, b)
		}
	}
}

// Fetch standard, "CORS protocol and HTTP caches": when
// Access-Control-Allow-Origin depends on Origin, every response must say
// Vary: Origin, including those that carry no Allow-Origin. Otherwise a
// shared cache can keep the cacheable metadata (public, max-age=3600) as
// fetched without CORS, or for one origin, and serve it to an allowed one,
// whose browser then refuses it for an hour.
func TestReviewCORSVaryOnEveryResponse(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowedOrigins = []string{"https://inspector.example"} })
	for _, origin := range []string{"https://inspector.example", "https://other.example", ""} {
		req, _ := http.NewRequest("GET", e.url("/.well-known/oauth-authorization-server"), nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(resp)
		if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
			t.Errorf("Origin %q: no Vary: Origin (headers %v)", origin, resp.Header)
		}
	}
}

// A metadata document fetch that failed only because the requesting client
// hung up was cached as the document's error for 30s: anyone could start an
// authorization naming a popular client's metadata URL, disconnect at once,
// and repeat, to lock every user of that client out.
func TestReviewMetadataFetchNotPoisonedByCancelledRequest(t *testing.T) {
	e, m := cimdEnv(t, true)
	m.doc = func(u string) (int, map[string]string, string) { return 200, nil, goodDoc(u) }
	clientID := m.srv.URL + "/popular/client.json"
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e.srv.lookupClient(ctx, clientID) // the attacker's request, gone at once
	if c, err := e.srv.lookupClient(t.Context(), clientID); err != nil || c.ClientName != "Doc Client" {
		t.Errorf("after a cancelled request, the document lookup fails: %v", err)
	}
}

// Checked, correct: concurrent redemptions of one code (OAuth 2.1 s4.1.3,
// RFC 9700 s4.5) never both succeed, and the replay revokes whatever the
// winner received.
func TestReviewConcurrentCodeRedemption(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	code := e.authorize(id)
	const n = 8
	type result struct {
		status int
		access string
	}
	results := make(chan result, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			form := codeForm(id, code)
			req, _ := http.NewRequest("POST", e.url("/token"), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results <- result{}
				return
			}
			var out struct {
				AccessToken string `json:"access_token"`
			}
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			results <- result{resp.StatusCode, out.AccessToken}
		}()
	}
	close(start)
	var won []string
	for range n {
		if r := <-results; r.status == 200 {
			won = append(won, r.access)
		}
	}
	if len(won) > 1 {
		t.Fatalf("%d concurrent redemptions of one code succeeded", len(won))
	}
	for _, at := range won {
		if resp, _ := e.call("/mcp", at); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("token from a replayed code still accepted: %d", resp.StatusCode)
		}
	}
}

// The state binding cookie is single use and must be deleted at the
// callback (Max-Age=0, RFC 6265 s5.2.2). It was "deleted" with a maxAge of
// -1ns, which rounds to http.Cookie.MaxAge 0, meaning no Max-Age at all: an
// empty session cookie stayed behind instead, one per sign-in.
func TestReviewCallbackDeletesStateCookie(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	cb := e.startSignIn(e.browser, id)
	resp := e.get(e.browser, cb.String())
	readBody(resp)
	found := false
	for _, line := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(line, cookieState) {
			found = true
			if !strings.Contains(line, "Max-Age=0") {
				t.Errorf("state cookie not deleted: %s", line)
			}
		}
	}
	if !found {
		t.Errorf("callback sets no state cookie: %v", resp.Header.Values("Set-Cookie"))
	}
}

// Checked, correct: redirect URI matching holes beyond the existing table
// (RFC 9700 s4.1.3 exact matching; RFC 8252 s7.3 port variance only).
func TestReviewRedirectURIMatchingHoles(t *testing.T) {
	reg := []string{"http://127.0.0.1:33418/callback", "https://app.example.com/cb", "http://[::1]/cb"}
	for _, uri := range []string{
		"http://127.0.0.1:33418/%63allback",         // percent-encoded path
		"http://127.0.0.1:5000/Callback",            // path case
		"http://127.0.0.1.:5000/callback",           // trailing dot
		"http://127.0.0.1:5000/callback/",           // trailing slash
		"http://127.0.0.1:5000/callback/../x",       // dot segments
		"http://127.0.0.1:5000\\@evil.example/cb",   // backslash authority trick
		"http://127.0.0.1:5000@evil.example/cb",     // userinfo trick
		"http://[::1%25eth0]:5000/cb",               // IPv6 zone id
		"http://[::ffff:127.0.0.1]:5000/callback",   // IPv4-mapped spelling
		"http://0x7f000001:5000/callback",           // hex IPv4
		"http://2130706433:5000/callback",           // decimal IPv4
		"https://app.example.com./cb",               // trailing dot on https
		"https://app.example.com:443/cb",            // explicit default port
		"https://app.example.com/cb%2F..%2Fevil",    // encoded traversal
		"https://app.example.com/cb?",               // empty query
		"https://app.example.com/cb\t",              // control character
		"https://app.example.com%2Eevil.example/cb", // encoded dot in host
	} {
		if matchRedirectURI(reg, uri) {
			t.Errorf("matchRedirectURI accepted %q", uri)
		}
	}
	for _, uri := range []string{"http://127.0.0.1.:5000/cb", "http://[::1%25lo]/cb", "http://127.1/cb", "http://0x7f.0.0.1/cb", "http://localhost./cb"} {
		if validateRedirectURI(uri) == nil {
			t.Errorf("validateRedirectURI accepted %q as loopback", uri)
		}
	}
}
