package oauth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPKCEAppendixB(t *testing.T) {
	// RFC 7636 Appendix B.
	if got := s256(testVerifier); got != testChallenge {
		t.Fatalf("s256 = %s, want %s", got, testChallenge)
	}
	if err := validVerifier(testVerifier); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"short", strings.Repeat("a", 129), strings.Repeat("a", 42) + "!", strings.Repeat("a", 42) + " "} {
		if validVerifier(bad) == nil {
			t.Errorf("verifier %q accepted", bad)
		}
	}
	if !validChallenge(testChallenge) || validChallenge("plain-challenge") || validChallenge(testChallenge+"=") {
		t.Error("validChallenge")
	}
}

func checkPageHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	h := resp.Header
	if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
		!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") ||
		h.Get("X-Frame-Options") != "DENY" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("page headers %v", h)
	}
}

// Errors about the client or its redirect URI must not redirect anywhere
// (RFC 6749 s4.1.2.1).
func TestAuthorizeUntrustedErrorsShowPage(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	for name, mod := range map[string]func(url.Values){
		"unknown client":       func(v url.Values) { v.Set("client_id", "mcp_client_nope") },
		"no client":            func(v url.Values) { v.Del("client_id") },
		"unregistered uri":     func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") },
		"other port":           func(v url.Values) { v.Set("redirect_uri", "https://app.example.com:444/cb") },
		"two redirect uris":    func(v url.Values) { v.Add("redirect_uri", testRedirect) },
		"missing redirect uri": func(v url.Values) { v.Del("redirect_uri") }, // two are registered
	} {
		p := authParams(id)
		mod(p)
		resp := e.get(e.browser, e.url("/authorize?"+p.Encode()))
		body := readBody(resp)
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" || !strings.Contains(body, "<h1>") {
			t.Errorf("%s: %d Location=%q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
		checkPageHeaders(t, resp)
	}
}

// authorizeErrorCases are authorization requests that are wrong in
// something other than the client or its redirect URI.
func authorizeErrorCases(e *env) []struct {
	name string
	mod  func(url.Values)
	code string
} {
	return []struct {
		name string
		mod  func(url.Values)
		code string
	}{
		{"no PKCE", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, "invalid_request"},
		{"plain PKCE", func(v url.Values) { v.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"no method", func(v url.Values) { v.Del("code_challenge_method") }, "invalid_request"},
		{"bad challenge", func(v url.Values) { v.Set("code_challenge", "abc") }, "invalid_request"},
		{"token response", func(v url.Values) { v.Set("response_type", "token") }, "unsupported_response_type"},
		{"no response type", func(v url.Values) { v.Del("response_type") }, "invalid_request"},
		{"foreign resource", func(v url.Values) { v.Set("resource", "https://other.example/mcp") }, "invalid_target"},
		{"two resources", func(v url.Values) { v.Add("resource", e.ts.URL+"/mcp"); v.Add("resource", e.ts.URL+"/sse") }, "invalid_target"},
		{"repeated state", func(v url.Values) { v.Add("state", "again") }, "invalid_request"},
	}
}

// Once the person has approved the client in this browser, errors go back
// to it (RFC 6749 s4.1.2.1).
func TestAuthorizeErrorsRedirect(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	e.authorize(id)
	for _, tc := range authorizeErrorCases(e) {
		p := authParams(id)
		tc.mod(p)
		resp := e.get(e.browser, e.url("/authorize?"+p.Encode()))
		readBody(resp)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), testRedirect) {
			t.Errorf("%s: %d %q", tc.name, resp.StatusCode, resp.Header.Get("Location"))
			continue
		}
		q := loc.Query()
		if q.Get("error") != tc.code || q.Get("iss") != e.ts.URL || q.Get("error_description") == "" {
			t.Errorf("%s: %v, want error %s", tc.name, q, tc.code)
		}
		if tc.name != "repeated state" && q.Get("state") != "xyz-state" {
			t.Errorf("%s: state %q", tc.name, q.Get("state"))
		}
	}
}

func TestAuthorizeResource(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ param, want string }{
		{"", e.ts.URL + "/mcp"}, // RFC 8707 omitted: first resource
		{e.ts.URL + "/sse", e.ts.URL + "/sse"},
		{e.ts.URL + "/mcp/", e.ts.URL + "/mcp"}, // trailing slash tolerated
	} {
		id := e.publicClient()
		p := authParams(id)
		if tc.param != "" {
			p.Set("resource", tc.param)
		}
		pending, csrf := e.consentForm(e.browser, p)
		q := e.followToClient(e.browser, e.postConsent(e.browser, pending, csrf, "approve"))
		st, out, _ := e.token(codeForm(id, q.Get("code")), "", "")
		if st != 200 {
			t.Fatalf("%q: token %d %v", tc.param, st, out)
		}
		var ar accessRecord
		e.srv.getJSON(t.Context(), kindAccess, hashToken(out["access_token"].(string)), &ar)
		if ar.Resource != tc.want {
			t.Errorf("resource param %q: token audience %q, want %q", tc.param, ar.Resource, tc.want)
		}
	}
}

func TestConsentPage(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	resp := e.get(e.browser, e.url("/authorize?"+authParams(id).Encode()))
	body := readBody(resp)
	checkPageHeaders(t, resp)
	for _, want := range []string{"Test &lt;Client&gt;", "127.0.0.1:33418", "as you", `method="post"`} {
		if !strings.Contains(body, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	if strings.Contains(body, "<Client>") {
		t.Error("client name not escaped")
	}
}

func TestConsentDeny(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	pending, csrf := e.consentForm(e.browser, authParams(id))
	resp := e.postConsent(e.browser, pending, csrf, "deny")
	q := e.followToClient(e.browser, resp)
	if q.Get("error") != "access_denied" || q.Get("state") != "xyz-state" || q.Get("iss") != e.ts.URL || q.Get("code") != "" {
		t.Fatalf("deny: %v", q)
	}
	// The pending authorization is spent.
	resp = e.postConsent(e.browser, pending, csrf, "approve")
	if resp.StatusCode != 400 {
		t.Fatalf("second answer: %d", resp.StatusCode)
	}
}

func TestConsentCSRF(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	pending, csrf := e.consentForm(e.browser, authParams(id))
	other := newBrowser()
	otherPending, otherCSRF := e.consentForm(other, authParams(id))

	for name, tc := range map[string]struct {
		c              *http.Client
		pending, token string
	}{
		"wrong token":          {e.browser, pending, strings.Repeat("A", len(csrf))},
		"empty token":          {e.browser, pending, ""},
		"token for other id":   {e.browser, pending, otherCSRF},
		"other browser's form": {e.browser, otherPending, otherCSRF}, // attacker's form auto-posted in victim's browser
		"no cookie":            {http.DefaultClient, pending, csrf},
	} {
		resp := e.postConsent(tc.c, tc.pending, tc.token, "approve")
		body := readBody(resp)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d %q", name, resp.StatusCode, body)
		}
	}
	// The genuine form still works after the failed attempts.
	q := e.followToClient(e.browser, e.postConsent(e.browser, pending, csrf, "approve"))
	if q.Get("code") == "" {
		t.Fatalf("genuine approval: %v", q)
	}
}

func TestConsentRemembered(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	e.authorize(id)
	// Same browser, same client: straight to the provider.
	resp := e.get(e.browser, e.url("/authorize?"+authParams(id).Encode()))
	readBody(resp)
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), e.provider.srv.URL) {
		t.Fatalf("remembered consent: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := e.followToClient(e.browser, resp)
	if q.Get("code") == "" {
		t.Fatal(q)
	}
	// prompt=consent asks again.
	p := authParams(id)
	p.Set("prompt", "consent")
	e.consentForm(e.browser, p)
	// Another client still asks.
	other := e.publicClient()
	e.consentForm(e.browser, authParams(other))
}

func TestConsentCookieForgery(t *testing.T) {
	e := newEnv(t)
	a, b := e.publicClient(), e.publicClient()
	e.authorize(a)
	u, _ := url.Parse(e.ts.URL + "/authorize")
	var genuine string
	for _, c := range e.browser.Jar.Cookies(u) {
		if c.Name == consentCookieName(a) {
			genuine = c.Value
		}
	}
	exp, sig, ok := strings.Cut(genuine, ".")
	if !ok {
		t.Fatalf("consent cookie %q", genuine)
	}
	flip := []byte(sig)
	flip[0] ^= 1
	for name, tc := range map[string]struct{ client, value string }{
		"tampered mac":        {a, exp + "." + string(flip)},
		"extended expiry":     {a, fmt.Sprint(e.clock.Now().Unix()+1e8) + "." + sig},
		"moved to client b":   {b, genuine},
		"mac under wrong key": {a, exp + "." + mac([]byte("not the server's key 0123456789ab"), a, exp)},
		"no mac":              {a, exp},
	} {
		br := newBrowser()
		br.Jar.SetCookies(u, []*http.Cookie{{Name: consentCookieName(tc.client), Value: tc.value, Path: "/authorize"}})
		resp := e.get(br, e.url("/authorize?"+authParams(tc.client).Encode()))
		body := readBody(resp)
		if resp.StatusCode != 200 || !strings.Contains(body, "csrf_token") {
			t.Errorf("%s: consent skipped (%d)", name, resp.StatusCode)
		}
	}
	// The genuine cookie expires.
	e.clock.Advance(31 * 24 * 60 * 60 * 1e9)
	br := newBrowser()
	br.Jar.SetCookies(u, []*http.Cookie{{Name: consentCookieName(a), Value: genuine, Path: "/authorize"}})
	resp := e.get(br, e.url("/authorize?"+authParams(a).Encode()))
	readBody(resp)
	if resp.StatusCode != 200 {
		t.Errorf("expired consent cookie honoured: %d", resp.StatusCode)
	}
}

// startSignIn approves consent and returns the provider's redirect to our
// /callback without following it.
func (e *env) startSignIn(c *http.Client, clientID string) *url.URL {
	e.t.Helper()
	pending, csrf := e.consentForm(c, authParams(clientID))
	resp := e.postConsent(c, pending, csrf, "approve")
	readBody(resp)
	resp = e.get(c, resp.Header.Get("Location")) // the fake provider
	readBody(resp)
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(cb.String(), e.ts.URL+"/callback") {
		e.t.Fatalf("provider sent us to %q", resp.Header.Get("Location"))
	}
	return cb
}

func TestCallbackStateBinding(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()

	// A callback opened in another browser (login CSRF) is refused.
	cb := e.startSignIn(e.browser, id)
	resp := e.get(newBrowser(), cb.String())
	body := readBody(resp)
	if resp.StatusCode != 400 || resp.Header.Get("Location") != "" || !strings.Contains(body, "this browser") {
		t.Fatalf("foreign browser: %d %s", resp.StatusCode, body)
	}
	checkPageHeaders(t, resp)
	// The rightful browser may still finish.
	q := e.followToClient(e.browser, e.get(e.browser, cb.String()))
	if q.Get("code") == "" {
		t.Fatalf("rightful browser: %v", q)
	}
	// A replay of the same callback is refused: the state is single use.
	resp = e.get(e.browser, cb.String())
	readBody(resp)
	if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Fatalf("replayed callback: %d", resp.StatusCode)
	}
	// No state, or a made-up one.
	for _, u := range []string{"/callback?code=x", "/callback?code=x&state=made-up"} {
		resp = e.get(e.browser, e.url(u))
		readBody(resp)
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d", u, resp.StatusCode)
		}
	}
}

func TestCallbackProviderErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*fakeProvider)
		want string
	}{
		{"user denied upstream", func(p *fakeProvider) { p.denyNext = true }, "access_denied"},
		{"provider down", func(p *fakeProvider) { p.exchangeErr = fmt.Errorf("dial: %w", ErrUpstreamUnavailable) }, "temporarily_unavailable"},
		{"provider refuses", func(p *fakeProvider) { p.exchangeErr = fmt.Errorf("bad: %w", ErrUpstreamRevoked) }, "access_denied"},
		{"provider broken", func(p *fakeProvider) { p.exchangeErr = fmt.Errorf("unexpected 500") }, "server_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.publicClient()
			e.provider.set(tc.set)
			pending, csrf := e.consentForm(e.browser, authParams(id))
			q := e.followToClient(e.browser, e.postConsent(e.browser, pending, csrf, "approve"))
			if q.Get("error") != tc.want || q.Get("state") != "xyz-state" || q.Get("iss") != e.ts.URL || q.Get("code") != "" {
				t.Fatalf("%v, want error %s", q, tc.want)
			}
			if n := e.store.count(kindGrant); n != 0 {
				t.Fatalf("%d grants stored after a failed sign-in", n)
			}
		})
	}
}

func TestGrantEncryptsUpstream(t *testing.T) {
	e := newEnv(t)
	e.tokens()
	e.store.mu.Lock()
	defer e.store.mu.Unlock()
	n := 0
	for k, r := range e.store.data {
		if strings.Contains(string(r.v), "up_rt_") || strings.Contains(string(r.v), "up_at") {
			t.Errorf("upstream token in clear under %q", k)
		}
		if strings.HasPrefix(k, kindGrant) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d grants", n)
	}
}

func TestAuthorizeRateLimit(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	u := e.url("/authorize?" + authParams(id).Encode())
	for i := range 60 {
		resp := e.get(e.browser, u)
		readBody(resp)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	resp := e.get(e.browser, u)
	readBody(resp)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("61st request: %d", resp.StatusCode)
	}
	e.clock.Advance(2 * time.Second)
	resp = e.get(e.browser, u)
	readBody(resp)
	if resp.StatusCode != 200 {
		t.Fatalf("after refill: %d", resp.StatusCode)
	}
}

// MCP 2025-11-25 security best practices, "Consent Cookie Security": consent
// cookies MUST use the __Host- prefix (RFC 6265bis s4.1.3.2: Secure, no
// Domain, Path=/), so that a sibling subdomain cannot plant one. The same
// holds for the CSRF nonce and the state binding cookie: a planted nonce or
// consent cookie would let a same-site attacker skip or forge consent.
func TestCookiesUseHostPrefixOverHTTPS(t *testing.T) {
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
func TestResourceSchemeAndHostCaseInsensitive(t *testing.T) {
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

// MCP 2025-11-25 security best practices, "Consent UI Requirements": the
// consent page MUST show the registered redirect_uri where tokens will be
// sent, not only its host (a host may serve many paths, some of them the
// attacker's).
func TestConsentShowsRedirectURI(t *testing.T) {
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

// The state binding cookie is single use and must be deleted at the
// callback (Max-Age=0, RFC 6265 s5.2.2). It was "deleted" with a maxAge of
// -1ns, which rounds to http.Cookie.MaxAge 0, meaning no Max-Age at all: an
// empty session cookie stayed behind instead, one per sign-in.
func TestCallbackDeletesStateCookie(t *testing.T) {
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
