package oauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
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

// ---------------------------------------------------------------------------
// Hostile input against the authorization endpoint, the consent form and
// the pages a person reads: redirects nobody approved, cross-site consent,
// planted cookies, text that turns our own words around, and error pages
// that would repeat what an attacker wrote or what our network looks like.

// RFC 9700 s4.11.2: a client anyone registered a second ago must not get
// our origin to redirect a browser to it by sending a broken request. Until
// this browser approved the client, every error is our page.
func TestHostilePagesErrorsBeforeApprovalStayHere(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	for _, tc := range authorizeErrorCases(e) {
		p := authParams(id)
		tc.mod(p)
		resp := e.get(newBrowser(), e.url("/authorize?"+p.Encode()))
		body := readBody(resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, tc.code) {
			t.Errorf("%s: %d Location=%q, want a 400 page naming %s", tc.name, resp.StatusCode, resp.Header.Get("Location"), tc.code)
		}
		checkPageHeaders(t, resp)
	}

	// A private-use scheme is no different: before, a request with no PKCE
	// got a 302 from our origin to whatever program claims the scheme.
	for _, uri := range []string{"com.example.app:/cb", "cursor://anysphere.cursor-mcp/oauth/callback"} {
		code, out := e.register(map[string]any{"redirect_uris": []string{uri}, "token_endpoint_auth_method": "none"})
		if code != 201 {
			t.Fatalf("register %s: %d %v", uri, code, out)
		}
		p := authParams(out["client_id"].(string))
		p.Set("redirect_uri", uri)
		p.Del("code_challenge")
		resp := e.get(newBrowser(), e.url("/authorize?"+p.Encode()))
		readBody(resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d Location=%q", uri, resp.StatusCode, resp.Header.Get("Location"))
		}
	}

	// Approval of one client does not vouch for another.
	other := e.publicClient()
	e.authorize(id)
	p := authParams(other)
	p.Set("response_type", "token")
	resp := e.get(e.browser, e.url("/authorize?"+p.Encode()))
	readBody(resp)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("another client's error in an approving browser: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// Schemes that the browser or the operating system handles, not an
// application, are refused at registration; a client stored before the
// rule is not redirected to one either.
func TestHostilePagesRedirectSchemes(t *testing.T) {
	for _, uri := range []string{
		"search-ms:query=invoice&crumb=location:\\\\evil.example\\share",
		"SEARCH-MS:query=x",
		"ms-msdt:/id PCWDiagnostic",
		"ms-officecmd:{}",
		"search:query=x",
		"shell:startup",
		"web+mcp://x/cb",
		"intent://cb#Intent;scheme=x;end",
		"mailto:a@example.com",
		"tel:+1555",
		"smb://evil.example/share",
		"itms-services://?action=download-manifest",
		"view-source:https://a.example/",
	} {
		if err := validateRedirectURI(uri); err == nil {
			t.Errorf("validateRedirectURI(%q) accepted", uri)
		}
	}

	e := newEnv(t)
	code, out := e.register(map[string]any{"redirect_uris": []string{"search-ms:query=x"}, "token_endpoint_auth_method": "none"})
	if code != 400 || out["error"] != "invalid_redirect_uri" {
		t.Errorf("register search-ms: %d %v", code, out)
	}
	legacy := &Client{ClientID: "mcp_client_legacy", TokenEndpointAuthMethod: "none", RedirectURIs: []string{"search-ms:query=x"},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}}
	if err := e.srv.putJSON(t.Context(), kindClient, legacy.ClientID, legacy, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(url.Values){
		"valid request":  func(url.Values) {},
		"broken request": func(v url.Values) { v.Del("code_challenge") },
	} {
		p := authParams(legacy.ClientID)
		p.Set("redirect_uri", "search-ms:query=x")
		mod(p)
		resp := e.get(e.browser, e.url("/authorize?"+p.Encode()))
		body := readBody(resp)
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" || strings.Contains(body, "csrf_token") {
			t.Errorf("legacy search-ms client, %s: %d %q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// The consent form is accepted only from our own origin. Cookies do not
// keep ports apart, so over plain http any local program can plant the
// attacker's own nonce in the victim's browser; with the attacker's form
// posted cross-site that was a 30-day approval of the attacker's client.
func TestHostilePagesConsentCrossSite(t *testing.T) {
	e := newEnv(t)
	evil := e.publicClient()
	attacker := newBrowser()
	pending, csrf := e.consentForm(attacker, authParams(evil))
	u, _ := url.Parse(e.ts.URL + "/authorize")

	post := func(c *http.Client, pending, csrf string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", e.url("/authorize"), strings.NewReader(url.Values{
			"pending": {pending}, "csrf_token": {csrf}, "decision": {"approve"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	otherPort := "http://127.0.0.1:1" // another local program: same site, another origin
	for name, hdr := range map[string]map[string]string{
		"same-site (another port)": {"Sec-Fetch-Site": "same-site", "Origin": otherPort},
		"cross-site":               {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		"cross-site, no Origin":    {"Sec-Fetch-Site": "cross-site"},
		"old browser, other port":  {"Origin": otherPort},
		"old browser, other host":  {"Origin": "https://evil.example"},
		"old browser, null origin": {"Origin": "null"}, // a sandboxed frame
	} {
		victim := newBrowser()
		victim.Jar.SetCookies(u, attacker.Jar.Cookies(u)) // planted
		resp := post(victim, pending, csrf, hdr)
		body := readBody(resp)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" || !strings.Contains(body, "Request refused") {
			t.Errorf("%s: %d %q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
		for _, c := range resp.Cookies() {
			if strings.HasPrefix(c.Name, cookieConsent) {
				t.Errorf("%s: consent cookie set", name)
			}
		}
	}
	// The pending authorization was not spent; from our own page it works,
	// as browsers send it: Sec-Fetch-Site same-origin, or (older ones)
	// Origin alone.
	resp := post(attacker, pending, csrf, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": e.ts.URL})
	readBody(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin approval: %d", resp.StatusCode)
	}
	again := authParams(evil)
	again.Set("prompt", "consent")
	p2, c2 := e.consentForm(attacker, again)
	if resp := post(attacker, p2, c2, map[string]string{"Origin": e.ts.URL}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approval with Origin only: %d", resp.StatusCode)
	}
	// Chrome sends "Origin: null" with a form under Referrer-Policy
	// no-referrer; Sec-Fetch-Site decides.
	p3, c3 := e.consentForm(attacker, again)
	if resp := post(attacker, p3, c3, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approval with Sec-Fetch-Site same-origin and Origin null: %d", resp.StatusCode)
	}
}

// The nonce a consent form is bound to is minted with the page: a value
// the browser brought (planted by someone who knows it) is never adopted.
func TestHostilePagesNonceNotAdopted(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	u, _ := url.Parse(e.ts.URL + "/authorize")
	const planted = "PLANTEDplantedPLANTEDplantedPLANTEDplanted1" // 43 characters, like ours
	b := newBrowser()
	b.Jar.SetCookies(u, []*http.Cookie{{Name: "mcp_browser", Value: planted, Path: "/authorize"}})
	resp := e.get(b, e.url("/authorize?"+authParams(id).Encode()))
	body := readBody(resp)
	p, k := rePending.FindStringSubmatch(body), reCSRF.FindStringSubmatch(body)
	if p == nil || k == nil {
		t.Fatalf("no consent form: %d", resp.StatusCode)
	}
	var nonces []*http.Cookie
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "mcp_browser") {
			if c.Value == planted {
				t.Errorf("the server adopted the planted nonce in %s", c.Name)
			}
			nonces = append(nonces, &http.Cookie{Name: c.Name, Value: planted, Path: c.Path})
		}
	}
	if len(nonces) == 0 {
		t.Fatal("the consent page set no nonce cookie")
	}
	// A form is valid only with the nonce minted for it: the planted
	// value, where the browser keeps the real one, fails.
	b.Jar.SetCookies(u, nonces)
	resp = e.postConsent(b, p[1], k[1], "approve")
	readBody(resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("form posted with the planted nonce: %d", resp.StatusCode)
	}

	// Each tab has a nonce of its own, so two open forms both work.
	tab1p, tab1c := e.consentForm(e.browser, authParams(id))
	tab2p, tab2c := e.consentForm(e.browser, authParams(id))
	for i, f := range [][2]string{{tab1p, tab1c}, {tab2p, tab2c}} {
		resp := e.postConsent(e.browser, f[0], f[1], "deny")
		if q := e.followToClient(e.browser, resp); q.Get("error") != "access_denied" {
			t.Errorf("tab %d: %v", i+1, q)
		}
	}
}

// Client-chosen text cannot hold characters that turn our page around
// (U+202E made "this server has not verified it" read backwards), and what
// it holds is isolated where it is shown.
func TestHostilePagesClientText(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"Evil\u202Eti deifirev", "A\u2066B", "A\u200FB", "A\u061CB", "bell\u0007", "nel\u0085", "line\u2028break", "tab\there"} {
		code, out := e.register(map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "none", "client_name": name})
		if code != 400 || out["error"] != "invalid_client_metadata" || !strings.Contains(fmt.Sprint(out["error_description"]), "client_name") {
			t.Errorf("client_name %q: %d %v", name, code, out)
		}
	}
	for _, uri := range []string{"https://app.example/\u202Ecb", "cursor://x/\u2067cb", "https://app.example/\u0085"} {
		code, out := e.register(map[string]any{"redirect_uris": []string{uri}, "token_endpoint_auth_method": "none"})
		if code != 400 || out["error"] != "invalid_redirect_uri" {
			t.Errorf("redirect URI %q: %d %v", uri, code, out)
		}
	}
	code, out := e.register(map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "none", "software_id": "x\u202Ey"})
	if code != 400 || out["error"] != "invalid_client_metadata" {
		t.Errorf("software_id: %d %v", code, out)
	}
	// Ordinary names in any script and with emoji still register.
	for _, name := range []string{"Claude", "عميل MCP", "קליינט", "👩‍💻 Dev"} {
		if code, out := e.register(map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "none", "client_name": name}); code != 201 {
			t.Errorf("client_name %q refused: %v", name, out)
		}
	}

	// A registration stored before the rule: the characters are dropped
	// and the name is isolated.
	legacy := &Client{ClientID: "mcp_client_legacy", TokenEndpointAuthMethod: "none", RedirectURIs: []string{testRedirect},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, ClientName: "Evil\u202Eti deifirev"}
	if err := e.srv.putJSON(t.Context(), kindClient, legacy.ClientID, legacy, time.Time{}); err != nil {
		t.Fatal(err)
	}
	resp := e.get(e.browser, e.url("/authorize?"+authParams(legacy.ClientID).Encode()))
	body := readBody(resp)
	if resp.StatusCode != 200 || strings.ContainsRune(body, '\u202E') || !strings.Contains(body, "<bdi>Evilti deifirev</bdi>") {
		t.Errorf("consent page for a legacy name: %d\n%s", resp.StatusCode, body)
	}

	// A host parses "%E2%80%AE" to U+202E; a name drawn from it drops it.
	doc := &Client{ClientID: "https://ex%E2%80%AEample.com/client.json", MetadataDocument: true}
	if got := doc.displayName(); got != "example.com" {
		t.Errorf("display name from an escaped host: %q", got)
	}

	// The same holds for a metadata document.
	e2, m := cimdEnv(t, true)
	m.doc = func(u string) (int, map[string]string, string) {
		return 200, nil, strings.Replace(goodDoc(u), "Doc Client", `Doc \u202Etneilc`, 1)
	}
	id := m.srv.URL + "/client.json"
	resp = e2.get(e2.browser, e2.url("/authorize?"+authParams(id).Encode()))
	body = readBody(resp)
	if resp.StatusCode != 400 || strings.ContainsRune(body, '\u202E') || strings.Contains(body, "csrf_token") {
		t.Errorf("metadata document with U+202E in client_name: %d", resp.StatusCode)
	}
	if _, err := e2.srv.lookupClient(t.Context(), id); err == nil || !strings.Contains(err.Error(), "U+202E") {
		t.Errorf("lookup: %v", err)
	}
	// A client_id with such a character is no client at all.
	resp = e2.get(e2.browser, e2.url("/authorize?"+authParams(m.srv.URL+"/\u202Eclient.json").Encode()))
	body = readBody(resp)
	if resp.StatusCode != 400 || strings.ContainsRune(body, '\u202E') || !strings.Contains(body, "Unknown application") {
		t.Errorf("client_id with U+202E: %d", resp.StatusCode)
	}
}

// Error pages do not repeat what the request said as if we said it, and
// no error shown to whoever asks carries our network's internals.
func TestHostilePagesErrorText(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	p := authParams(id)
	p.Set("redirect_uri", "https://evil.example/Your-account-is-suspended.-Call-+1-555-0100")
	resp := e.get(e.browser, e.url("/authorize?"+p.Encode()))
	body := readBody(resp)
	if resp.StatusCode != 400 || !strings.Contains(body, "Redirect URI not registered") || strings.Contains(body, "evil.example") || strings.Contains(body, "555") {
		t.Errorf("unregistered redirect URI page: %d\n%s", resp.StatusCode, body)
	}

	// A metadata document on a port nobody listens on.
	e2, _ := cimdEnv(t, true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	docID := "https://" + closed + "/Your-account-is-suspended.json"
	resp = e2.get(e2.browser, e2.url("/authorize?"+authParams(docID).Encode()))
	body = readBody(resp)
	if resp.StatusCode != 400 || strings.Contains(body, closed) || strings.Contains(body, "suspended") || strings.Contains(body, "dial") {
		t.Errorf("metadata fetch failure page: %d\n%s", resp.StatusCode, body)
	}
	// The token endpoint's answer, for the client's developer, says what
	// went wrong in our words and nothing of how our network saw it.
	st, out, _ := e2.token(refreshForm("https://"+closed+"/other.json", "mrt_x"), "", "")
	desc := fmt.Sprint(out["error_description"])
	if st != 401 || !strings.Contains(desc, "connection was refused") || strings.Contains(desc, "dial") || strings.Contains(desc, "connect:") {
		t.Errorf("token with an unreachable document: %d %v", st, out)
	}

	// The resolver's address (in a *net.DNSError) and any other error
	// text never reach the description.
	for _, err := range []error{
		&url.Error{Op: "Get", URL: "https://x.example/c.json", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "x.example", Server: "10.9.8.7:53", IsNotFound: true}}},
		&url.Error{Op: "Get", URL: "https://x.example/c.json", Err: &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 9, 8, 7), Port: 443}, Err: syscall.ECONNRESET}},
		fmt.Errorf("read tcp 10.9.8.6:5555->10.9.8.7:443: %w", context.DeadlineExceeded),
		errors.New("proxyconnect tcp: 10.9.8.7:3128"),
	} {
		if got := fetchFailure(err); strings.Contains(got, "10.9.8") || strings.Contains(got, "tcp") {
			t.Errorf("fetchFailure(%v) = %q", err, got)
		}
	}
}

// A metadata document client that returns through a private-use scheme is
// asked for consent every time, as a loopback one is: any local program
// can claim a scheme as easily as a port.
func TestHostilePagesPrivateUseSchemeAlwaysAsks(t *testing.T) {
	e, m := cimdEnv(t, true)
	const uri = "cursor://anysphere.cursor-mcp/oauth/callback"
	m.doc = func(u string) (int, map[string]string, string) {
		return 200, nil, strings.Replace(goodDoc(u), testRedirect, uri, 1)
	}
	id := m.srv.URL + "/cursor.json"
	p := authParams(id)
	p.Set("redirect_uri", uri)
	pending, csrf := e.consentForm(e.browser, p)
	resp := e.postConsent(e.browser, pending, csrf, "approve")
	readBody(resp)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), e.provider.srv.URL) {
		t.Fatalf("approve: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = e.get(e.browser, e.url("/authorize?"+p.Encode()))
	body := readBody(resp)
	if resp.StatusCode != 200 || !strings.Contains(body, "Any program on this computer") {
		t.Fatalf("second authorization: %d %q, want the consent page with its warning", resp.StatusCode, resp.Header.Get("Location"))
	}
	// And its errors are never redirected, approval or not.
	p.Del("code_challenge")
	resp = e.get(e.browser, e.url("/authorize?"+p.Encode()))
	readBody(resp)
	if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Errorf("error for an approved private-use client: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
