package oauth

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// scopeEnv is a server offering a baseline scope and one gated by the
// "image_generation" permission, which Alice holds.
func scopeEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, func(c *Config) {
		c.Scopes = []Scope{
			{Name: "tools:basic", Description: "Use the basic tools."},
			{Name: "image_generation", Description: "Generate images.", Permission: "image_generation"},
		}
	})
	e.provider.set(func(p *fakeProvider) { p.identity.Permissions = []string{"image_generation"} })
	return e
}

// consentPage GETs /authorize with scope and returns the status and body
// (or the Location of a redirect).
func (e *env) consentPageFor(c *http.Client, clientID, scope string) (int, string) {
	e.t.Helper()
	p := authParams(clientID)
	if scope != "" {
		p.Set("scope", scope)
	}
	resp := e.get(c, e.url("/authorize?"+p.Encode()))
	body := readBody(resp)
	if resp.StatusCode == http.StatusFound {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, body
}

// signInScopes runs the flow for scope, ticking only approve (nil: every
// box), and returns the token response.
func (e *env) signInScopes(c *http.Client, clientID, scope string, approve []string) map[string]any {
	e.t.Helper()
	p := authParams(clientID)
	if scope != "" {
		p.Set("scope", scope)
	}
	var q url.Values
	resp := e.get(c, e.url("/authorize?"+p.Encode()))
	if resp.StatusCode == http.StatusFound {
		q = e.followToClient(c, resp)
	} else {
		readBody(resp)
		pending, csrf := e.consentForm(c, p)
		if approve == nil {
			approve = e.ticked
		}
		q = e.followToClient(c, e.postConsentScopes(c, pending, csrf, "approve", approve))
	}
	if q.Get("code") == "" {
		e.t.Fatalf("authorization response %v", q)
	}
	st, out, _ := e.token(codeForm(clientID, q.Get("code")), "", "")
	if st != 200 {
		e.t.Fatalf("token: %d %v", st, out)
	}
	return out
}

// scopesSeen calls the protected echo endpoint and returns the scopes of
// the identity it saw.
func (e *env) scopesSeen(token string) []string {
	e.t.Helper()
	resp, body := e.call("/mcp", token)
	if resp.StatusCode != 200 {
		e.t.Fatalf("call: %d %s", resp.StatusCode, body)
	}
	var id Identity
	if err := json.Unmarshal([]byte(body), &id); err != nil {
		e.t.Fatal(err)
	}
	return id.Scopes
}

func TestScopesAdvertised(t *testing.T) {
	e := scopeEnv(t)
	get := func(path string) map[string]any {
		resp := e.get(http.DefaultClient, e.url(path))
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return m
	}
	as := get("/.well-known/oauth-authorization-server")
	if got, _ := json.Marshal(as["scopes_supported"]); string(got) != `["tools:basic","image_generation","offline_access"]` {
		t.Errorf("authorization server scopes_supported %s", got)
	}
	// By default clients are told to ask for every scope (each still
	// approved on the consent page); never offline_access (MCP 2026-07-28
	// "Refresh Tokens").
	prm := get("/.well-known/oauth-protected-resource/mcp")
	if got, _ := json.Marshal(prm["scopes_supported"]); string(got) != `["tools:basic","image_generation"]` {
		t.Errorf("protected resource scopes_supported %s", got)
	}
	resp, _ := e.call("/mcp", "")
	if h := resp.Header.Get("WWW-Authenticate"); !strings.Contains(h, `scope="tools:basic image_generation"`) {
		t.Errorf("401 challenge %q", h)
	}
	for _, bad := range [][]Scope{{{Name: "a b"}}, {{Name: "x"}, {Name: "x"}}, {{Name: ScopeOfflineAccess}}, {{Name: `q"`}}} {
		cfg := e.srv.cfg
		cfg.Scopes = bad
		if _, err := NewServer(cfg); err == nil {
			t.Errorf("NewServer accepted scopes %v", bad)
		}
	}
	cfg := e.srv.cfg
	cfg.InitialScopes = []string{"nope"}
	if _, err := NewServer(cfg); err == nil {
		t.Error("NewServer accepted an initial scope it does not offer")
	}

	// InitialScopes: the minimal set first (MCP 2026-07-28 "Scope
	// Selection Strategy"), the rest by step-up.
	m := newEnv(t, func(c *Config) {
		c.Scopes = e.srv.cfg.Scopes
		c.InitialScopes = []string{"tools:basic"}
	})
	resp = m.get(http.DefaultClient, m.url("/.well-known/oauth-protected-resource/mcp"))
	var doc ProtectedResourceMetadata
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if !slices.Equal(doc.ScopesSupported, []string{"tools:basic"}) {
		t.Errorf("minimal protected resource scopes_supported %v", doc.ScopesSupported)
	}
	resp, _ = m.call("/mcp", "")
	if h := resp.Header.Get("WWW-Authenticate"); !strings.Contains(h, `scope="tools:basic"`) || strings.Contains(h, "image_generation") {
		t.Errorf("minimal 401 challenge %q", h)
	}
}

// A person approves fewer scopes than asked; asking for more later shows
// the consent page again with only the new scope; asking for no more
// than approved goes straight through.
func TestScopesConsentFewerThenStepUp(t *testing.T) {
	e := scopeEnv(t)
	id := e.publicClient()
	st, body := e.consentPageFor(e.browser, id, "tools:basic image_generation")
	if st != 200 || !slices.Equal(scopeBoxes(body), []string{"tools:basic", "image_generation"}) ||
		!strings.Contains(body, "Use the basic tools.") || !strings.Contains(body, "Generate images.") {
		t.Fatalf("first consent page %d: boxes %v\n%s", st, scopeBoxes(body), body)
	}
	out := e.signInScopes(e.browser, id, "tools:basic image_generation", []string{"tools:basic"})
	if out["scope"] != "tools:basic" {
		t.Fatalf("approved fewer: token scope %v", out["scope"])
	}
	if got := e.scopesSeen(out["access_token"].(string)); !slices.Equal(got, []string{"tools:basic"}) {
		t.Errorf("identity scopes %v", got)
	}
	// The same scope again: remembered, no page.
	if st, loc := e.consentPageFor(e.browser, id, "tools:basic"); st != http.StatusFound || strings.Contains(loc, "error") {
		t.Errorf("remembered scope: %d %s", st, loc)
	}
	// Step-up: only the new scope has a box.
	st, body = e.consentPageFor(e.browser, id, "tools:basic image_generation")
	if st != 200 || !slices.Equal(scopeBoxes(body), []string{"image_generation"}) || !strings.Contains(body, "Already allowed") {
		t.Fatalf("step-up consent page %d: boxes %v\n%s", st, scopeBoxes(body), body)
	}
	out = e.signInScopes(e.browser, id, "tools:basic image_generation", nil)
	if out["scope"] != "tools:basic image_generation" {
		t.Fatalf("stepped up: token scope %v", out["scope"])
	}
	if st, _ := e.consentPageFor(e.browser, id, "image_generation tools:basic"); st != http.StatusFound {
		t.Errorf("both remembered: %d", st)
	}
	// prompt=consent with nothing new: the page, naming what was allowed.
	p := authParams(id)
	p.Set("scope", "tools:basic image_generation")
	p.Set("prompt", "consent")
	pending, csrf := e.consentForm(e.browser, p)
	if len(e.ticked) != 0 {
		t.Errorf("prompt=consent, nothing new: boxes %v", e.ticked)
	}
	q := e.followToClient(e.browser, e.postConsent(e.browser, pending, csrf, "approve"))
	if st, out, _ := e.token(codeForm(id, q.Get("code")), "", ""); st != 200 || out["scope"] != "tools:basic image_generation" {
		t.Errorf("prompt=consent, nothing new: %d %v", st, out)
	}
	// Unticking everything is a denial.
	other := newBrowser()
	st, body = e.consentPageFor(other, id, "image_generation")
	if st != 200 {
		t.Fatal(st, body)
	}
	pending, csrf = rePending.FindStringSubmatch(body)[1], reCSRF.FindStringSubmatch(body)[1]
	q = e.followToClient(other, e.postConsentScopes(other, pending, csrf, "approve", nil))
	if q.Get("error") != "access_denied" {
		t.Errorf("nothing ticked: %v", q)
	}
	// A box for a scope the request never asked for adds nothing.
	st, body = e.consentPageFor(other, id, "tools:basic")
	if st != 200 {
		t.Fatal(st, body)
	}
	pending, csrf = rePending.FindStringSubmatch(body)[1], reCSRF.FindStringSubmatch(body)[1]
	q = e.followToClient(other, e.postConsentScopes(other, pending, csrf, "approve", []string{"tools:basic", "image_generation"}))
	if st, out, _ := e.token(codeForm(id, q.Get("code")), "", ""); st != 200 || out["scope"] != "tools:basic" {
		t.Errorf("forged box: %d %v", st, out)
	}
}

// The remembered approval is signed with its scope set: a cookie edited to
// name more scopes is worthless.
func TestScopesConsentCookieCannotBeWidened(t *testing.T) {
	e := scopeEnv(t)
	id := e.publicClient()
	e.signInScopes(e.browser, id, "tools:basic", nil)
	u, _ := url.Parse(e.url("/authorize"))
	var edited bool
	for _, c := range e.browser.Jar.Cookies(u) {
		if strings.HasPrefix(c.Name, cookieConsent) {
			parts := strings.Split(c.Value, ".")
			parts[1] = encodeScopes([]string{"tools:basic", "image_generation"})
			c.Value, c.Path = strings.Join(parts, "."), "/authorize"
			e.browser.Jar.SetCookies(u, []*http.Cookie{c})
			edited = true
		}
	}
	if !edited {
		t.Fatal("no consent cookie")
	}
	st, body := e.consentPageFor(e.browser, id, "tools:basic image_generation")
	if st != 200 || !slices.Equal(scopeBoxes(body), []string{"tools:basic", "image_generation"}) {
		t.Errorf("edited cookie: %d boxes %v", st, scopeBoxes(body))
	}
}

// What a token carries is narrowed by the person's permissions; a request
// for nothing but what the person lacks is denied.
func TestScopesNarrowedByPermissions(t *testing.T) {
	e := scopeEnv(t)
	e.provider.set(func(p *fakeProvider) { p.identity.Permissions = nil })
	id := e.publicClient()
	out := e.signInScopes(e.browser, id, "tools:basic image_generation", nil)
	if out["scope"] != "tools:basic" {
		t.Errorf("token scope %v, want tools:basic", out["scope"])
	}
	// Approved in this browser already, so no page: straight to sign-in.
	p := authParams(id)
	p.Set("scope", "image_generation")
	q := e.followToClient(e.browser, e.get(e.browser, e.url("/authorize?"+p.Encode())))
	if q.Get("error") != "access_denied" {
		t.Errorf("only a scope the person may not have: %v", q)
	}
}

// A client asking for no scope gets every scope the person's permissions
// allow, as before scopes existed; offline_access is accepted and echoed.
func TestScopesDefaultAndOfflineAccess(t *testing.T) {
	e := scopeEnv(t)
	id := e.publicClient()
	st, body := e.consentPageFor(e.browser, id, "")
	if st != 200 || !slices.Equal(scopeBoxes(body), []string{"tools:basic", "image_generation"}) {
		t.Fatalf("no scope asked: %d boxes %v", st, scopeBoxes(body))
	}
	out := e.signInScopes(e.browser, id, "", nil)
	if out["scope"] != "tools:basic image_generation" {
		t.Errorf("no scope asked: token scope %v", out["scope"])
	}
	b := newBrowser()
	out = e.signInScopes(b, id, "tools:basic offline_access", nil)
	if out["scope"] != "tools:basic offline_access" || out["refresh_token"] == nil {
		t.Errorf("offline_access: %v", out)
	}
	// offline_access alone names nothing of the resource: the default too.
	if out := e.signInScopes(newBrowser(), id, "offline_access", nil); out["scope"] != "tools:basic image_generation offline_access" {
		t.Errorf("offline_access alone: token scope %v", out["scope"])
	}
	// A step-up from a client that sends prompt=consent with offline_access
	// (OpenID Connect Core s11) is asked about the new scope only.
	p := authParams(id)
	p.Set("scope", "tools:basic image_generation offline_access")
	p.Set("prompt", "consent")
	resp := e.get(b, e.url("/authorize?"+p.Encode()))
	body = readBody(resp)
	if resp.StatusCode != 200 || !slices.Equal(scopeBoxes(body), []string{"image_generation"}) {
		t.Errorf("step-up with prompt=consent: %d boxes %v", resp.StatusCode, scopeBoxes(body))
	}
}

// Hostile: a scope the server never offered, a refresh asking for more than
// approved, a scope forged into the code exchange. Each is invalid_scope
// (RFC 6749 s4.1.2.1, s5.2).
func TestScopesHostile(t *testing.T) {
	e := scopeEnv(t)
	id := e.publicClient()
	// Never offered: on our page before any approval...
	st, body := e.consentPageFor(e.browser, id, "tools:basic admin\u202e")
	if st != 400 || !strings.Contains(body, "invalid_scope") || strings.Contains(body, "admin") || strings.ContainsRune(body, '\u202e') {
		t.Errorf("unknown scope before approval: %d %s", st, body)
	}
	// ...and to the client once approved.
	e.signInScopes(e.browser, id, "tools:basic", nil)
	st, loc := e.consentPageFor(e.browser, id, "tools:basic admin")
	if u, _ := url.Parse(loc); st != http.StatusFound || u.Query().Get("error") != "invalid_scope" {
		t.Errorf("unknown scope after approval: %d %s", st, loc)
	}

	// A refresh asking for more than the person approved.
	out := e.signInScopes(newBrowser(), id, "tools:basic", nil)
	rt := out["refresh_token"].(string)
	f := refreshForm(id, rt)
	f.Set("scope", "tools:basic image_generation")
	if st, out, _ := e.token(f, "", ""); st != 400 || out["error"] != "invalid_scope" {
		t.Errorf("refresh widening: %d %v", st, out)
	}
	f.Set("scope", "admin")
	if st, out, _ := e.token(f, "", ""); st != 400 || out["error"] != "invalid_scope" {
		t.Errorf("refresh with an unknown scope: %d %v", st, out)
	}
	// The refresh token still works after being refused (nothing rotated).
	if st, out, _ := e.token(refreshForm(id, rt), "", ""); st != 200 || out["scope"] != "tools:basic" {
		t.Errorf("refresh after the refusals: %d %v", st, out)
	}

	// A scope forged into the code exchange: refused, and the code's grant
	// is gone with it.
	b := newBrowser()
	p := authParams(id)
	p.Set("scope", "tools:basic")
	pending, csrf := e.consentForm(b, p)
	q := e.followToClient(b, e.postConsent(b, pending, csrf, "approve"))
	cf := codeForm(id, q.Get("code"))
	cf.Set("scope", "tools:basic image_generation")
	if st, out, _ := e.token(cf, "", ""); st != 400 || out["error"] != "invalid_scope" {
		t.Errorf("forged scope in the code exchange: %d %v", st, out)
	}
	cf.Del("scope")
	if st, out, _ := e.token(cf, "", ""); st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("code after the forged exchange: %d %v", st, out)
	}
}

// A refresh may narrow the access token; it is re-narrowed to the
// permissions each time, and never wider than approved.
func TestScopesRefresh(t *testing.T) {
	e := scopeEnv(t)
	id := e.publicClient()
	out := e.signInScopes(e.browser, id, "tools:basic image_generation", nil)
	rt := out["refresh_token"].(string)

	f := refreshForm(id, rt)
	f.Set("scope", "tools:basic")
	st, out, _ := e.token(f, "", "")
	if st != 200 || out["scope"] != "tools:basic" {
		t.Fatalf("narrowing refresh: %d %v", st, out)
	}
	if got := e.scopesSeen(out["access_token"].(string)); !slices.Equal(got, []string{"tools:basic"}) {
		t.Errorf("narrowed token's identity scopes %v", got)
	}
	// The refresh token keeps the approved scopes (RFC 6749 s6).
	rt = out["refresh_token"].(string)
	st, out, _ = e.token(refreshForm(id, rt), "", "")
	if st != 200 || out["scope"] != "tools:basic image_generation" {
		t.Fatalf("refresh after narrowing: %d %v", st, out)
	}
	rt = out["refresh_token"].(string)

	// The permission taken away: the next refresh drops its scope...
	e.provider.set(func(p *fakeProvider) { p.identity.Permissions = nil })
	st, out, _ = e.token(refreshForm(id, rt), "", "")
	if st != 200 || out["scope"] != "tools:basic" {
		t.Fatalf("refresh without the permission: %d %v", st, out)
	}
	if got := e.scopesSeen(out["access_token"].(string)); !slices.Equal(got, []string{"tools:basic"}) {
		t.Errorf("identity scopes without the permission %v", got)
	}
	rt = out["refresh_token"].(string)
	// ...and given back, the scope the person approved returns.
	e.provider.set(func(p *fakeProvider) { p.identity.Permissions = []string{"image_generation"} })
	st, out, _ = e.token(refreshForm(id, rt), "", "")
	if st != 200 || out["scope"] != "tools:basic image_generation" {
		t.Fatalf("refresh with the permission back: %d %v", st, out)
	}
}

// A grant stored before scopes existed keeps working unlimited until its
// refresh, which gives it every scope its permissions allow.
func TestScopesLegacyGrant(t *testing.T) {
	e := newEnv(t)
	id, at, rt := e.tokens()
	if got := e.scopesSeen(at); got != nil {
		t.Fatalf("unscoped server: identity scopes %v", got)
	}
	cfg := e.srv.cfg
	cfg.Scopes = []Scope{{Name: "tools:basic"}, {Name: "tools:write", Permission: "tools:write"}}
	s2, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = s2
	mux := http.NewServeMux()
	mux.Handle("/mcp", s2.RequireBearer(e.url("/mcp"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(IdentityFromContext(r.Context()))
	})))
	mux.Handle("/", s2.Handler())
	e.ts.Config.Handler = mux
	if got := e.scopesSeen(at); got != nil {
		t.Errorf("legacy grant before refresh: scopes %v, want nil (unlimited)", got)
	}
	st, out, _ := e.token(refreshForm(id, rt), "", "")
	if st != 200 || out["scope"] != "tools:basic" {
		t.Fatalf("legacy refresh: %d %v", st, out)
	}
	if got := e.scopesSeen(out["access_token"].(string)); !slices.Equal(got, []string{"tools:basic"}) {
		t.Errorf("legacy grant after refresh: %v", got)
	}
}

func TestInsufficientScopeChallenge(t *testing.T) {
	id := &Identity{Resource: "https://mcp.example.com/mcp", Scopes: []string{"tools:basic", ScopeOfflineAccess}}
	got := InsufficientScopeChallenge(id, []string{"image_generation"}, "generateImage needs image_generation")
	want := `Bearer error="insufficient_scope", scope="tools:basic image_generation", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", error_description="generateImage needs image_generation"`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Inside the grace period the previous refresh token gets the current pair
// back, unchanged, unless it asks for fewer scopes: then a new access token
// carries only those, never the current one, which carries more.
func TestScopesGraceNarrowing(t *testing.T) {
	e := scopeEnv(t)
	id := e.publicClient()
	out := e.signInScopes(e.browser, id, "tools:basic image_generation", nil)
	rt := out["refresh_token"].(string)
	st, cur, _ := e.token(refreshForm(id, rt), "", "")
	if st != 200 {
		t.Fatal(st, cur)
	}
	st, again, _ := e.token(refreshForm(id, rt), "", "")
	if st != 200 || again["access_token"] != cur["access_token"] || again["scope"] != "tools:basic image_generation" {
		t.Fatalf("grace, no scope: %d %v (current %v)", st, again, cur)
	}
	f := refreshForm(id, rt)
	f.Set("scope", "tools:basic")
	st, narrow, _ := e.token(f, "", "")
	if st != 200 || narrow["access_token"] == cur["access_token"] || narrow["scope"] != "tools:basic" {
		t.Fatalf("grace, narrowed: %d %v", st, narrow)
	}
	if got := e.scopesSeen(narrow["access_token"].(string)); !slices.Equal(got, []string{"tools:basic"}) {
		t.Errorf("grace-narrowed token's scopes %v", got)
	}
	f.Set("scope", "tools:basic admin")
	if st, out, _ := e.token(f, "", ""); st != 400 || out["error"] != "invalid_scope" {
		t.Errorf("grace, widened: %d %v", st, out)
	}
}
