package oauth_test

// Hostile requests at /authorize, the consent form and /callback, against
// the authorization server with the real AuthKit provider (flow_test.go).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestHostileAuthorize: PKCE downgrades, redirect URI tricks and open
// redirect attempts at every endpoint that redirects.
func TestHostileAuthorize(t *testing.T) {
	t.Parallel()
	s := newFlow(t, flowConfig{})
	client := s.register(flowRedirect, "https://app.example.com/cb")

	t.Run("PKCE downgrade", func(t *testing.T) {
		// A browser that approved the client hears the error at the
		// client (RFC 6749 s4.1.2.1); any other is shown it here, so a
		// client registered a second ago cannot use our origin as a
		// redirector (RFC 9700 s4.11.2).
		approved := browser()
		pending, csrf := s.consent(approved, authParams(client))
		s.approve(approved, pending, csrf)
		for name, mod := range map[string]func(url.Values){
			"plain":              func(v url.Values) { v.Set("code_challenge_method", "plain"); v.Set("code_challenge", flowVerifier) },
			"no method":          func(v url.Values) { v.Del("code_challenge_method") },
			"lower-case s256":    func(v url.Values) { v.Set("code_challenge_method", "s256") },
			"missing challenge":  func(v url.Values) { v.Del("code_challenge") },
			"short challenge":    func(v url.Values) { v.Set("code_challenge", "abc") },
			"repeated challenge": func(v url.Values) { v.Add("code_challenge", flowChallenge) },
		} {
			p := authParams(client)
			mod(p)
			st, h, body := s.get("/authorize?" + p.Encode())
			wantPage(t, name+", not approved", st, h, body, 400, "invalid_request")
			st, loc, body := s.follow(approved, s.base+"/authorize?"+p.Encode())
			if st != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), flowRedirect+"?") {
				t.Errorf("%s: %d %v %s", name, st, loc, trunc(body))
				continue
			}
			if q := loc.Query(); q.Get("error") != "invalid_request" || q.Get("state") != "st-1" || q.Get("iss") != s.base || q.Get("code") != "" {
				t.Errorf("%s: error response %v", name, q)
			}
		}
	})

	t.Run("no redirect before approval", func(t *testing.T) {
		// Registered a second ago, with a redirect URI of any scheme: a
		// broken request shows our page and sends the browser nowhere.
		for _, uri := range []string{"https://phish.example/login", "com.example.app:/cb"} {
			fresh := s.register(uri)
			for name, mod := range map[string]func(url.Values){
				"unsupported response_type": func(v url.Values) { v.Set("response_type", "token") },
				"foreign resource":          func(v url.Values) { v.Set("resource", "https://other.example/mcp") },
				"no PKCE":                   func(v url.Values) { v.Del("code_challenge") },
			} {
				p := authParams(fresh)
				p.Set("redirect_uri", uri)
				mod(p)
				st, h, body := s.get("/authorize?" + p.Encode())
				wantPage(t, uri+", "+name, st, h, body, 400, "nothing was sent back")
			}
		}
	})

	t.Run("redirect URI tricks", func(t *testing.T) {
		for _, uri := range []string{
			"https://app.example.com:8443/cb",
			"https://app.example.com/cb/extra",
			"https://app.example.com/cb?x=1",
			"https://app.example.com/cb?",
			"https://user@app.example.com/cb",
			"https://app.example.com/cb#frag",
			"HTTPS://app.example.com/cb",
			"https://APP.example.com/cb",
			"https://app.example.com./cb",
			"https://app.example.com/%63b",
			"https://app.example.com/cb/../cb",
			"https://app.example.com%2F@evil.example/cb",
			"https://evil.example/cb",
			"http://127.0.0.1:9@evil.example/cb",
			"http://127.0.0.1.evil.example:9/cb",
			"http://localhost:9/cb",
			"http://127.0.0.1:9/CB",
			"http://127.0.0.1:9/cb/",
			"http://127.0.0.1:9/cb%2F..%2Fevil",
			"http://127.0.0.1:9/cb#x",
			"http://127.0.0.1:9/cb?next=https://evil.example",
			"HTTP://127.0.0.1:9/cb",
			"javascript:alert(1)//",
		} {
			p := authParams(client)
			p.Set("redirect_uri", uri)
			st, h, body := s.get("/authorize?" + p.Encode())
			wantPage(t, uri, st, h, body, 400, "Redirect URI not registered")
		}
		// RFC 8252 s7.3: only a loopback redirect may change its port.
		p := authParams(client)
		p.Set("redirect_uri", "http://127.0.0.1:55555/cb")
		if st, _, body := s.get("/authorize?" + p.Encode()); st != 200 || !pendingRe.MatchString(body) {
			t.Errorf("loopback redirect on another port: %d %s", st, trunc(body))
		}
	})

	t.Run("registration refuses unsafe redirect URIs", func(t *testing.T) {
		for _, uri := range []string{"javascript:alert(1)", "data:text/html,x", "http://evil.example/cb", "https://a.example/cb#f",
			"https://u:p@a.example/cb", "file:///etc/passwd", "/relative", "https://a.example/c b", "https://a.example/\x00",
			"search-ms:query=x&crumb=location:\\\\evil.example\\s", "https://a.example/\u202ecb"} {
			b, _ := json.Marshal(map[string]any{"redirect_uris": []string{uri}, "token_endpoint_auth_method": "none"})
			req, _ := http.NewRequest("POST", s.base+"/register", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			st, _, body := s.do(req)
			var out map[string]any
			json.Unmarshal([]byte(body), &out)
			wantOAuthError(t, uri, st, out, 400, "invalid_redirect_uri")
		}
	})

	t.Run("client text", func(t *testing.T) {
		// U+202E in a name turned "this server has not verified it"
		// around on the consent page.
		// (Two cases: registrations from one address are limited.)
		for _, name := range []string{"Evil\u202e", "a\u2066b"} {
			b, _ := json.Marshal(map[string]any{"redirect_uris": []string{flowRedirect}, "token_endpoint_auth_method": "none", "client_name": name})
			req, _ := http.NewRequest("POST", s.base+"/register", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			st, _, body := s.do(req)
			var out map[string]any
			json.Unmarshal([]byte(body), &out)
			wantOAuthError(t, fmt.Sprintf("client_name %q", name), st, out, 400, "invalid_client_metadata")
		}
		// The name is isolated where it is shown.
		st, _, body := s.get("/authorize?" + authParams(client).Encode())
		if st != 200 || !strings.Contains(body, "<bdi>hostile</bdi>") {
			t.Errorf("consent page does not isolate the client's name: %d %s", st, trunc(body))
		}
	})

	t.Run("error pages repeat no request text", func(t *testing.T) {
		p := authParams(client)
		p.Set("redirect_uri", "https://evil.example/Your-account-is-locked.-Call-555-0100")
		st, h, body := s.get("/authorize?" + p.Encode())
		wantPage(t, "unregistered redirect URI", st, h, body, 400, "Redirect URI not registered")
		if strings.Contains(body, "evil.example") || strings.Contains(body, "555-0100") {
			t.Errorf("the page repeats the request's redirect_uri: %s", trunc(body))
		}
	})

	t.Run("open redirects", func(t *testing.T) {
		evil := url.QueryEscape("https://evil.example/")
		for _, c := range []struct{ path, text string }{
			{"/authorize?response_type=code&client_id=mcp_nosuch&redirect_uri=" + evil + "&code_challenge=" + flowChallenge + "&code_challenge_method=S256", "Unknown application"},
			{"/authorize?client_id=" + client + "&redirect_uri=" + evil + "&redirect_uri=" + url.QueryEscape(flowRedirect), "at most one redirect_uri"},
			{"/authorize?redirect_uri=" + evil, "exactly one client_id"},
			{"/authorize?client_id=" + client + "&client_id=" + client + "&redirect_uri=" + evil, "exactly one client_id"},
			{"/authorize?client_id=" + client + "&redirect_uri=" + evil + "&response_type=token", "Redirect URI not registered"},
			{"/authorize?client_id=" + client + "&redirect_uri=%zz", "Malformed request"},
			{"/callback?state=forged&code=x&redirect_uri=" + evil, "Sign-in started elsewhere"},
			{"/callback?error=access_denied&redirect_uri=" + evil, "without the state"},
			{"/callback?code=x", "without the state"},
		} {
			st, h, body := s.get(c.path)
			wantPage(t, c.path, st, h, body, 400, c.text)
		}
	})

	t.Run("provider errors at the callback", func(t *testing.T) {
		s := s.in(t)
		for _, c := range []struct{ sent, want string }{
			{"access_denied", "access_denied"},
			{"temporarily_unavailable", "temporarily_unavailable"},
			{"<script>alert(1)</script>" + strings.Repeat("x", 500), "server_error"},
		} {
			b, cb := s.pendingCallback(client, "ada@example.com")
			u, _ := url.Parse(cb)
			q := u.Query()
			q.Del("code")
			q.Set("error", c.sent)
			u.RawQuery = q.Encode()
			s.wantClientError(b, u.String(), c.want, 30*time.Second)
		}
	})

	// Nothing above disturbed the server: a full sign-in still works.
	s.tokens("ada@example.com")
}

// TestHostileConsent: the consent form without a CSRF token, with a wrong
// one, or with one minted for another browser is refused with a 403 page,
// and the pending authorization survives for the real browser.
func TestHostileConsent(t *testing.T) {
	t.Parallel()
	s := newFlow(t, flowConfig{})
	client := s.register()
	victim := browser()
	pending, csrf := s.consent(victim, authParams(client))
	attacker := browser()
	_, attackerCSRF := s.consent(attacker, authParams(client))

	post := func(b *http.Client, form url.Values) (int, http.Header, string) {
		req, _ := http.NewRequest("POST", s.base+"/authorize", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := noFollow(b).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, readAll(t, resp)
	}
	for _, c := range []struct {
		name string
		b    *http.Client
		form url.Values
	}{
		{"no CSRF token", victim, url.Values{"pending": {pending}, "decision": {"approve"}}},
		{"wrong CSRF token", victim, url.Values{"pending": {pending}, "csrf_token": {strings.Repeat("A", len(csrf))}, "decision": {"approve"}}},
		{"another browser's CSRF token", victim, url.Values{"pending": {pending}, "csrf_token": {attackerCSRF}, "decision": {"approve"}}},
		{"right token, no browser cookie", browser(), url.Values{"pending": {pending}, "csrf_token": {csrf}, "decision": {"approve"}}},
		{"right token, attacker's cookie", attacker, url.Values{"pending": {pending}, "csrf_token": {csrf}, "decision": {"approve"}}},
		{"no pending id", victim, url.Values{"csrf_token": {csrf}, "decision": {"approve"}}},
	} {
		st, h, body := post(c.b, c.form)
		wantPage(t, c.name, st, h, body, 403, "Request refused")
	}
	st, h, body := post(victim, url.Values{"pending": {pending}, "csrf_token": {csrf}, "decision": {strings.Repeat("x", 9000)}})
	wantPage(t, "oversized form", st, h, body, 400, "Malformed form")

	// Cookies do not keep ports apart: a program on another local port
	// can plant the attacker's own nonce in the victim's browser and post
	// the attacker's form from its page. The browser says where the post
	// came from, and only our own origin is accepted.
	evilPending, evilCSRF := s.consent(attacker, authParams(client))
	authz, _ := url.Parse(s.base + "/authorize")
	for name, hdr := range map[string]map[string]string{
		"planted nonce, posted from another port": {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"},
		"planted nonce, posted cross-site":        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		"planted nonce, old browser, other port":  {"Origin": "http://127.0.0.1:1"},
	} {
		planted := browser()
		planted.Jar.SetCookies(authz, attacker.Jar.Cookies(authz))
		req, _ := http.NewRequest("POST", s.base+"/authorize", strings.NewReader(url.Values{
			"pending": {evilPending}, "csrf_token": {evilCSRF}, "decision": {"approve"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := noFollow(planted).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		wantPage(t, name, resp.StatusCode, resp.Header, readAll(t, resp), 403, "Request refused")
		if len(planted.Jar.Cookies(authz)) != len(attacker.Jar.Cookies(authz)) {
			t.Errorf("%s: the refused post set a cookie", name)
		}
	}

	// The victim's own form still works: nothing above consumed it.
	cb := s.callbackURL(victim, s.approve(victim, pending, csrf), "ada@example.com")
	if st, loc, body := s.follow(victim, cb); st != 302 || loc.Query().Get("code") == "" {
		t.Fatalf("callback: %d %v %s", st, loc, body)
	}
	// And it was single use.
	st, h, body = post(victim, url.Values{"pending": {pending}, "csrf_token": {csrf}, "decision": {"approve"}})
	wantPage(t, "replayed consent", st, h, body, 400, "Authorization expired")
	// The callback URL is single use and bound to the browser.
	st, _, body = s.follow(browser(), cb)
	if st != 400 || !strings.Contains(body, "Sign-in started elsewhere") {
		t.Errorf("callback in another browser: %d %s", st, trunc(body))
	}
}
