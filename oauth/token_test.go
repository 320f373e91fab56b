package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"remote-mcp-authkit/store"
)

func TestTokenErrors(t *testing.T) {
	e := newEnv(t)
	pub := e.publicClient()
	_, conf := e.register(map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "client_secret_basic"})
	confID, confSecret := conf["client_id"].(string), conf["client_secret"].(string)
	_, post := e.register(map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "client_secret_post"})
	postID, postSecret := post["client_id"].(string), post["client_secret"].(string)
	_, noRefresh := e.register(map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code"}})
	noRefreshID := noRefresh["client_id"].(string)

	with := func(v url.Values, kv ...string) url.Values {
		v = url.Values(maps(v))
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	fresh := func(client string) url.Values { return codeForm(client, e.authorize(client)) }

	for _, tc := range []struct {
		name       string
		form       func() url.Values
		user, pass string
		status     int
		code       string
		basicChal  bool
	}{
		{"no grant_type", func() url.Values { return url.Values{"client_id": {pub}} }, "", "", 400, "invalid_request", false},
		{"implicit", func() url.Values { return url.Values{"grant_type": {"password"}, "client_id": {pub}} }, "", "", 400, "unsupported_grant_type", false},
		{"client_credentials", func() url.Values { return url.Values{"grant_type": {"client_credentials"}, "client_id": {pub}} }, "", "", 400, "unsupported_grant_type", false},
		{"no client_id", func() url.Values { return with(fresh(pub), "client_id", "") }, "", "", 401, "invalid_client", false},
		{"unknown client", func() url.Values { return with(fresh(pub), "client_id", "mcp_client_nope") }, "", "", 401, "invalid_client", false},
		{"public with secret", func() url.Values { return with(fresh(pub), "client_secret", "x") }, "", "", 401, "invalid_client", false},
		{"basic wrong secret", func() url.Values { return with(fresh(confID), "client_id", "") }, confID, "mcs_wrong", 401, "invalid_client", true},
		{"basic missing", func() url.Values { return fresh(confID) }, "", "", 401, "invalid_client", false},
		{"basic via post", func() url.Values { return with(fresh(confID), "client_secret", confSecret) }, "", "", 401, "invalid_client", false},
		{"post via basic", func() url.Values { return with(fresh(postID), "client_id", "") }, postID, postSecret, 401, "invalid_client", true},
		{"post wrong secret", func() url.Values { return with(fresh(postID), "client_secret", "mcs_nope") }, "", "", 401, "invalid_client", false},
		{"both methods", func() url.Values { return with(fresh(confID), "client_secret", confSecret) }, confID, confSecret, 400, "invalid_request", false},
		{"no code", func() url.Values { return with(fresh(pub), "code", "") }, "", "", 400, "invalid_request", false},
		{"no verifier", func() url.Values { return with(fresh(pub), "code_verifier", "") }, "", "", 400, "invalid_request", false},
		{"bad code", func() url.Values { return with(fresh(pub), "code", "mac_made_up") }, "", "", 400, "invalid_grant", false},
		{"wrong verifier", func() url.Values { return with(fresh(pub), "code_verifier", strings.Repeat("a", 43)) }, "", "", 400, "invalid_grant", false},
		{"malformed verifier", func() url.Values { return with(fresh(pub), "code_verifier", "short") }, "", "", 400, "invalid_grant", false},
		{"wrong redirect_uri", func() url.Values { return with(fresh(pub), "redirect_uri", "https://app.example.com/cb") }, "", "", 400, "invalid_grant", false},
		{"missing redirect_uri", func() url.Values { return with(fresh(pub), "redirect_uri", "") }, "", "", 400, "invalid_grant", false},
		{"code of other client", func() url.Values { return with(fresh(pub), "client_id", noRefreshID) }, "", "", 400, "invalid_grant", false},
		{"wrong resource", func() url.Values { return with(fresh(pub), "resource", e.ts.URL+"/sse") }, "", "", 400, "invalid_target", false},
		{"repeated param", func() url.Values { v := fresh(pub); v.Add("code", "x"); return v }, "", "", 400, "invalid_request", false},
		{"refresh not registered", func() url.Values { return refreshForm(noRefreshID, "mrt_x") }, "", "", 400, "unauthorized_client", false},
		{"no refresh_token", func() url.Values { return with(refreshForm(pub, "x"), "refresh_token", "") }, "", "", 400, "invalid_request", false},
		{"bad refresh_token", func() url.Values { return refreshForm(pub, "mrt_made_up") }, "", "", 400, "invalid_grant", false},
	} {
		st, out, h := e.token(tc.form(), tc.user, tc.pass)
		if st != tc.status || out["error"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, st, out, tc.status, tc.code)
		}
		if tc.basicChal != strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%s: WWW-Authenticate %q", tc.name, h.Get("WWW-Authenticate"))
		}
		if h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
			t.Errorf("%s: headers %v", tc.name, h)
		}
	}

	// Expired code.
	form := fresh(pub)
	e.clock.Advance(61 * time.Second)
	if st, out, _ := e.token(form, "", ""); st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("expired code: %d %v", st, out)
	}
	// Wrong content type and method.
	resp, _ := http.Post(e.url("/token"), "application/json", strings.NewReader(`{"grant_type":"authorization_code"}`))
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("JSON body: %d", resp.StatusCode)
	}
	resp, _ = http.Get(e.url("/token"))
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	// Credentials in the URL.
	resp, _ = http.Post(e.url("/token?client_secret=x"), "application/x-www-form-urlencoded", strings.NewReader("grant_type=authorization_code"))
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("secret in URL: %d", resp.StatusCode)
	}
}

func maps(v url.Values) map[string][]string {
	out := map[string][]string{}
	for k, x := range v {
		out[k] = slices.Clone(x)
	}
	return out
}

func TestConfidentialClients(t *testing.T) {
	e := newEnv(t)
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		_, reg := e.register(map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": method})
		id, secret := reg["client_id"].(string), reg["client_secret"].(string)
		form := codeForm(id, e.authorize(id))
		user, pass := "", ""
		if method == "client_secret_basic" {
			form.Del("client_id")
			user, pass = id, secret
		} else {
			form.Set("client_secret", secret)
		}
		st, out, _ := e.token(form, user, pass)
		if st != 200 || out["token_type"] != "Bearer" {
			t.Fatalf("%s: %d %v", method, st, out)
		}
		rf := refreshForm(id, out["refresh_token"].(string))
		if method == "client_secret_basic" {
			rf.Del("client_id")
		} else {
			rf.Set("client_secret", secret)
		}
		if st, out, _ = e.token(rf, user, pass); st != 200 {
			t.Fatalf("%s refresh: %d %v", method, st, out)
		}
	}
}

func TestTokenResponse(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	st, out, h := e.token(codeForm(id, e.authorize(id)), "", "")
	if st != 200 || h.Get("Cache-Control") != "no-store" || h.Get("Pragma") != "no-cache" {
		t.Fatalf("%d %v", st, h)
	}
	at, _ := out["access_token"].(string)
	rt, _ := out["refresh_token"].(string)
	if !strings.HasPrefix(at, prefixAccessToken) || len(at) != len(prefixAccessToken)+43 ||
		!strings.HasPrefix(rt, prefixRefreshToken) || out["token_type"] != "Bearer" || out["expires_in"] != float64(3600) {
		t.Fatalf("response %v", out)
	}
	// Only hashes are stored.
	e.store.mu.Lock()
	for k, r := range e.store.data {
		if strings.Contains(k, at) || strings.Contains(string(r.v), at) || strings.Contains(k, rt) || strings.Contains(string(r.v), rt) {
			t.Errorf("token in clear under %q", k)
		}
	}
	e.store.mu.Unlock()
}

func TestCodeReplayRevokesGrant(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	form := codeForm(id, e.authorize(id))
	st, out, _ := e.token(form, "", "")
	if st != 200 {
		t.Fatal(st, out)
	}
	at, rt := out["access_token"].(string), out["refresh_token"].(string)
	if resp, _ := e.call("/mcp", at); resp.StatusCode != 200 {
		t.Fatalf("token before replay: %d", resp.StatusCode)
	}
	st, out, _ = e.token(form, "", "")
	if st != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("replay: %d %v", st, out)
	}
	if resp, _ := e.call("/mcp", at); resp.StatusCode != 401 {
		t.Errorf("access token after replay: %d", resp.StatusCode)
	}
	if st, out, _ = e.token(refreshForm(id, rt), "", ""); st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("refresh after replay: %d %v", st, out)
	}
	if e.provider.revokedCount() != 1 {
		t.Errorf("upstream revocations: %d", e.provider.revokedCount())
	}
}

func TestRefreshRotation(t *testing.T) {
	e := newEnv(t)
	id, at1, rt1 := e.tokens()
	st, out, _ := e.token(refreshForm(id, rt1), "", "")
	if st != 200 {
		t.Fatal(st, out)
	}
	at2, rt2 := out["access_token"].(string), out["refresh_token"].(string)
	if rt2 == rt1 || at2 == at1 {
		t.Fatal("tokens not rotated")
	}
	// Upstream was refreshed with the session from sign-in.
	if len(e.provider.refreshed) != 1 {
		t.Fatalf("upstream refreshes %v", e.provider.refreshed)
	}
	// The new refresh token works, and rotates again.
	st, out, _ = e.token(refreshForm(id, rt2), "", "")
	if st != 200 || out["refresh_token"] == rt2 {
		t.Fatal(st, out)
	}
	// The newest access token and the one before it stay valid; the one
	// before those was deleted by the second refresh.
	for _, at := range []string{at2, out["access_token"].(string)} {
		if resp, _ := e.call("/mcp", at); resp.StatusCode != 200 {
			t.Errorf("access token: %d", resp.StatusCode)
		}
	}
	if resp, _ := e.call("/mcp", at1); resp.StatusCode != 401 {
		t.Errorf("access token two refreshes old: %d, want 401", resp.StatusCode)
	}
	// Upstream got the session from the previous refresh, not the first.
	if len(e.provider.refreshed) != 2 || e.provider.refreshed[0] == e.provider.refreshed[1] {
		t.Fatalf("upstream refreshes %v", e.provider.refreshed)
	}
}

func TestRefreshGraceAndReuse(t *testing.T) {
	e := newEnv(t)
	id, _, rt1 := e.tokens()
	_, out, _ := e.token(refreshForm(id, rt1), "", "")
	rt2, at2 := out["refresh_token"].(string), out["access_token"].(string)

	// Within the grace period the old token returns the current pair as it
	// is, without calling upstream.
	e.clock.Advance(10 * time.Second)
	st, out, _ := e.token(refreshForm(id, rt1), "", "")
	if st != 200 || out["refresh_token"] != rt2 || out["access_token"] != at2 {
		t.Fatalf("grace: %d %v", st, out)
	}
	if resp, _ := e.call("/mcp", out["access_token"].(string)); resp.StatusCode != 200 {
		t.Fatal("grace access token refused")
	}
	if len(e.provider.refreshed) != 1 {
		t.Fatalf("grace called upstream: %v", e.provider.refreshed)
	}
	// Once the client has used rt2, rt1 is reuse, inside the grace period
	// or after it: the grant goes.
	st, out, _ = e.token(refreshForm(id, rt2), "", "")
	if st != 200 {
		t.Fatalf("refresh with rt2: %d %v", st, out)
	}
	rt2 = out["refresh_token"].(string)
	e.clock.Advance(30 * time.Second)
	st, out, _ = e.token(refreshForm(id, rt1), "", "")
	if st != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", st, out)
	}
	if st, out, _ = e.token(refreshForm(id, rt2), "", ""); st != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("current token after reuse: %d %v", st, out)
	}
	if e.provider.revokedCount() != 1 {
		t.Errorf("upstream revocations: %d", e.provider.revokedCount())
	}
}

func TestRefreshReuseOfOlderToken(t *testing.T) {
	e := newEnv(t)
	id, at1, rt1 := e.tokens()
	_, out, _ := e.token(refreshForm(id, rt1), "", "")
	_, out, _ = e.token(refreshForm(id, out["refresh_token"].(string)), "", "")
	// rt1 is two rotations old: reuse even inside the grace window.
	if st, out, _ := e.token(refreshForm(id, rt1), "", ""); st != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("older token: %d %v", st, out)
	}
	if resp, _ := e.call("/mcp", at1); resp.StatusCode != 401 {
		t.Errorf("access token of revoked grant: %d", resp.StatusCode)
	}
	if resp, _ := e.call("/mcp", out["access_token"].(string)); resp.StatusCode != 401 {
		t.Errorf("newest access token of revoked grant: %d", resp.StatusCode)
	}
}

func TestConcurrentRefreshDoesNotFork(t *testing.T) {
	e := newEnv(t)
	id, _, rt1 := e.tokens()
	var wg sync.WaitGroup
	results := make([]map[string]any, 4)
	for i := range results {
		wg.Go(func() {
			st, out, _ := e.token(refreshForm(id, rt1), "", "")
			if st != 200 {
				t.Errorf("concurrent refresh %d: %d %v", i, st, out)
			}
			results[i] = out
		})
	}
	wg.Wait()
	for _, r := range results[1:] {
		if r["refresh_token"] != results[0]["refresh_token"] {
			t.Fatalf("refresh chain forked: %v vs %v", r["refresh_token"], results[0]["refresh_token"])
		}
	}
	if len(e.provider.refreshed) != 1 {
		t.Fatalf("upstream refreshed %d times", len(e.provider.refreshed))
	}
}

func TestRefreshUpstreamErrors(t *testing.T) {
	e := newEnv(t)
	id, at, rt := e.tokens()
	e.provider.set(func(p *fakeProvider) { p.refreshErr = fmt.Errorf("timeout: %w", ErrUpstreamUnavailable) })
	st, out, _ := e.token(refreshForm(id, rt), "", "")
	if st != 503 || out["error"] != "temporarily_unavailable" {
		t.Fatalf("unavailable: %d %v", st, out)
	}
	// The refresh token survives an outage.
	e.provider.set(func(p *fakeProvider) { p.refreshErr = nil })
	st, out, _ = e.token(refreshForm(id, rt), "", "")
	if st != 200 {
		t.Fatalf("after outage: %d %v", st, out)
	}
	rt = out["refresh_token"].(string)
	e.provider.set(func(p *fakeProvider) { p.refreshErr = fmt.Errorf("gone: %w", ErrUpstreamRevoked) })
	st, out, _ = e.token(refreshForm(id, rt), "", "")
	if st != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("revoked upstream: %d %v", st, out)
	}
	if resp, _ := e.call("/mcp", at); resp.StatusCode != 401 {
		t.Errorf("access token after upstream revocation: %d", resp.StatusCode)
	}
}

// slowProvider blocks in Refresh until its context ends.
type slowProvider struct{ *fakeProvider }

func (p slowProvider) Refresh(ctx context.Context, s *UpstreamSession) (*UpstreamSession, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("%w: %v", ErrUpstreamUnavailable, ctx.Err())
}

func TestRefreshProviderTimeout(t *testing.T) {
	var fp *fakeProvider
	e := newEnv(t, func(c *Config) {
		fp = c.Provider.(*fakeProvider)
		c.Provider = slowProvider{fp}
		c.ProviderTimeout = 50 * time.Millisecond
	})
	id, _, rt := e.tokens()
	st, out, _ := e.token(refreshForm(id, rt), "", "")
	if st != 503 || out["error"] != "temporarily_unavailable" {
		t.Fatalf("%d %v", st, out)
	}
}

func TestRefreshIdentityChange(t *testing.T) {
	e := newEnv(t)
	id, _, rt := e.tokens()
	// Unchanged identity: no notification.
	_, out, _ := e.token(refreshForm(id, rt), "", "")
	rt, at := out["refresh_token"].(string), out["access_token"].(string)
	if len(e.changed) != 0 {
		t.Fatalf("notified without change: %v", e.changed)
	}
	e.provider.set(func(p *fakeProvider) {
		p.identity.Role = "admin"
		p.identity.Permissions = []string{"tools:read", "tools:write"}
	})
	st, out, _ := e.token(refreshForm(id, rt), "", "")
	if st != 200 {
		t.Fatal(st, out)
	}
	if len(e.changed) != 1 || e.changed[0].Role != "admin" || e.changed[0].Subject != "user_alice" || e.changed[0].GrantID == "" {
		t.Fatalf("notifications %+v", e.changed)
	}
	// The previous and the new access token both see the new permissions
	// at once.
	for _, tok := range []string{at, out["access_token"].(string)} {
		_, body := e.call("/mcp", tok)
		if !strings.Contains(body, `"tools:write"`) || !strings.Contains(body, `"role":"admin"`) {
			t.Errorf("identity after change: %s", body)
		}
	}
}

func TestRefreshScopeAndResource(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Scopes = []Scope{{Name: "mcp:tools"}, {Name: "mcp:admin"}} })
	id := e.publicClient()
	p := authParams(id)
	p.Set("scope", "mcp:tools")
	pending, csrf := e.consentForm(e.browser, p)
	q := e.followToClient(e.browser, e.postConsent(e.browser, pending, csrf, "approve"))
	st, out, _ := e.token(codeForm(id, q.Get("code")), "", "")
	if st != 200 || out["scope"] != "mcp:tools" {
		t.Fatal(st, out)
	}
	rt := out["refresh_token"].(string)
	f := refreshForm(id, rt)
	f.Set("scope", "mcp:tools mcp:admin")
	if st, out, _ := e.token(f, "", ""); st != 400 || out["error"] != "invalid_scope" {
		t.Errorf("widened scope: %d %v", st, out)
	}
	f = refreshForm(id, rt)
	f.Set("resource", e.ts.URL+"/sse")
	if st, out, _ := e.token(f, "", ""); st != 400 || out["error"] != "invalid_target" {
		t.Errorf("other resource: %d %v", st, out)
	}
	f.Set("resource", e.ts.URL+"/mcp/")
	if st, out, _ := e.token(f, "", ""); st != 200 {
		t.Errorf("same resource with slash: %d %v", st, out)
	}
	// An unknown scope at /authorize comes back as invalid_scope.
	p.Set("scope", "everything")
	resp := e.get(e.browser, e.url("/authorize?"+p.Encode()))
	readBody(resp)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("error") != "invalid_scope" {
		t.Errorf("unknown scope: %v", loc)
	}
}

func TestRevoke(t *testing.T) {
	e := newEnv(t)
	revoke := func(client, tok, hint string) int {
		f := url.Values{"token": {tok}, "client_id": {client}}
		if hint != "" {
			f.Set("token_type_hint", hint)
		}
		st, _, _ := e.postForm("/revoke", f, "", "")
		return st
	}
	// Unknown token: 200 (RFC 7009 s2.2).
	id, at, rt := e.tokens()
	if st := revoke(id, "mat_unknown", ""); st != 200 {
		t.Fatalf("unknown token: %d", st)
	}
	// Another client cannot revoke our tokens (answer still 200).
	other := e.publicClient()
	if st := revoke(other, at, ""); st != 200 {
		t.Fatalf("foreign revoke: %d", st)
	}
	if resp, _ := e.call("/mcp", at); resp.StatusCode != 200 {
		t.Fatal("another client revoked our token")
	}
	// Revoking the access token: only it stops working.
	if st := revoke(id, at, "access_token"); st != 200 {
		t.Fatal(st)
	}
	if resp, _ := e.call("/mcp", at); resp.StatusCode != 401 {
		t.Fatal("revoked access token still works")
	}
	st, out, _ := e.token(refreshForm(id, rt), "", "")
	if st != 200 {
		t.Fatalf("refresh after access revocation: %d %v", st, out)
	}
	at2, rt2 := out["access_token"].(string), out["refresh_token"].(string)
	// Revoking the refresh token revokes the grant (wrong hint on purpose).
	if st := revoke(id, rt2, "access_token"); st != 200 {
		t.Fatal(st)
	}
	if resp, _ := e.call("/mcp", at2); resp.StatusCode != 401 {
		t.Error("access token of revoked grant still works")
	}
	if st, _, _ := e.token(refreshForm(id, rt2), "", ""); st != 400 {
		t.Error("revoked refresh token still works")
	}
	if e.provider.revokedCount() != 1 {
		t.Errorf("upstream revocations %d", e.provider.revokedCount())
	}
	// Missing token, unauthenticated client.
	if st, out, _ := e.postForm("/revoke", url.Values{"client_id": {id}}, "", ""); st != 400 || out["error"] != "invalid_request" {
		t.Errorf("no token: %d %v", st, out)
	}
	if st, out, _ := e.postForm("/revoke", url.Values{"token": {"x"}}, "", ""); st != 401 || out["error"] != "invalid_client" {
		t.Errorf("no client: %d %v", st, out)
	}
}

func TestRevokeGrantAPI(t *testing.T) {
	e := newEnv(t)
	_, at, _ := e.tokens()
	_, body := e.call("/mcp", at)
	var grantID string
	for _, part := range strings.Split(body, ",") {
		if k, v, ok := strings.Cut(part, ":"); ok && strings.Contains(k, `"grant_id"`) {
			grantID = strings.Trim(v, "\"}\n")
		}
	}
	if !strings.HasPrefix(grantID, "grant_") {
		t.Fatalf("grant id %q from %s", grantID, body)
	}
	if err := e.srv.RevokeGrant(t.Context(), grantID); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.call("/mcp", at); resp.StatusCode != 401 {
		t.Error("token works after RevokeGrant")
	}
	if err := e.srv.RevokeGrant(t.Context(), grantID); err != nil {
		t.Errorf("second RevokeGrant: %v", err)
	}
	if e.provider.revokedCount() != 1 {
		t.Errorf("upstream revocations %d", e.provider.revokedCount())
	}
}

func TestPublicClientBasicWithoutSecret(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	form := codeForm(id, e.authorize(id))
	form.Del("client_id")
	st, out, _ := e.token(form, id, "")
	if st != 200 {
		t.Fatalf("public client with empty Basic secret: %d %v", st, out)
	}
}

// countingProvider counts upstream refreshes and holds each for a moment,
// so that a second refresh of the grant arrives while the first runs.
type countingProvider struct {
	*fakeProvider
	mu sync.Mutex
	n  int
}

func (p *countingProvider) Refresh(ctx context.Context, s *UpstreamSession) (*UpstreamSession, error) {
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	return p.fakeProvider.Refresh(ctx, s)
}

// Two replicas (two Servers on one store, Config.Replicated) refreshing one
// grant at the same moment: upstream is refreshed once, the other request
// takes the grace path and gets the same pair, and the grant lives on.
// Without the lease both would refresh upstream with the same upstream
// refresh token, which AuthKit rotates on use.
func TestRefreshAcrossReplicasRefreshesUpstreamOnce(t *testing.T) {
	var cp *countingProvider
	e := newEnv(t, func(c *Config) {
		cp = &countingProvider{fakeProvider: c.Provider.(*fakeProvider)}
		c.Provider = cp
		c.Replicated = true
	})
	id, _, rt := e.tokens()
	other, err := NewServer(e.srv.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	viaOther := func() (int, map[string]any) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", e.srv.cfg.Issuer+"/token", strings.NewReader(refreshForm(id, rt).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		other.Handler().ServeHTTP(rec, req)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	var wg sync.WaitGroup
	var st1, st2 int
	var out1, out2 map[string]any
	wg.Go(func() { st1, out1, _ = e.token(refreshForm(id, rt), "", "") })
	wg.Go(func() { time.Sleep(20 * time.Millisecond); st2, out2 = viaOther() })
	wg.Wait()
	if st1 != 200 || st2 != 200 {
		t.Fatalf("refreshes: %d %v and %d %v, want both 200", st1, out1, st2, out2)
	}
	if cp.n != 1 {
		t.Fatalf("upstream refreshed %d times, want once", cp.n)
	}
	if out1["refresh_token"] != out2["refresh_token"] {
		t.Fatalf("the grant forked: two refresh tokens %v and %v", out1["refresh_token"], out2["refresh_token"])
	}
	if st, out, _ := e.token(refreshForm(id, out1["refresh_token"].(string)), "", ""); st != 200 {
		t.Fatalf("the grant did not survive: %d %v", st, out)
	}
	if n, _ := e.srv.cfg.Store.(StoreCounter).Count(t.Context(), kindRefreshLease); n != 0 {
		t.Fatalf("%d refresh leases left behind", n)
	}
}

// The same race at issuance: a grant revoked while the token endpoint is
// issuing from it (a replayed code, a reused refresh token, the user
// revoking) must not leave the new access token cached as live. Before,
// issueTokens cached it with a fresh grant entry after the revocation had
// marked the old one, and the token worked until the next store recheck.
func TestRevocationDuringIssuance(t *testing.T) {
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
func TestTokenRedirectURIOptionalWhenOmitted(t *testing.T) {
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

// Checked, correct: concurrent redemptions of one code (OAuth 2.1 s4.1.3,
// RFC 9700 s4.5) never both succeed, and the replay revokes whatever the
// winner received.
func TestConcurrentCodeRedemption(t *testing.T) {
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

// ---------------------------------------------------------------------------
// Refresh under attack: reuse after the grace period, parallel refreshes,
// a crash before the answer, a stolen previous token, expired access tokens.

// A refresh token used again after its successor was used is a leaked
// token (RFC 9700 s4.14.2): the whole grant goes, with the current refresh
// token and every access token issued from it.
func TestHostileRefreshReuseAfterGrace(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RefreshGrace = 30 * time.Second })
	client, access, r1 := e.tokens()
	st, out, _ := e.token(refreshForm(client, r1), "", "")
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	st, out, _ = e.token(refreshForm(client, out["refresh_token"].(string)), "", "")
	if st != 200 {
		t.Fatalf("refresh with the successor: %d %v", st, out)
	}
	r3, access3 := out["refresh_token"].(string), out["access_token"].(string)
	e.clock.Advance(31 * time.Second)
	st, out, _ = e.token(refreshForm(client, r1), "", "")
	if st != 400 || out["error"] != "invalid_grant" || !strings.Contains(out["error_description"].(string), "revoked") {
		t.Fatalf("reuse after the grace period: %d %v", st, out)
	}
	st, out, _ = e.token(refreshForm(client, r3), "", "")
	if st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("the current refresh token after reuse: %d %v", st, out)
	}
	for _, tok := range []string{access, access3} {
		resp, body := e.call("/mcp", tok)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("access token after reuse: %d %s", resp.StatusCode, body)
		}
	}
	// Other grants are untouched: a new sign-in works.
	_, fresh, _ := e.tokens()
	if resp, body := e.call("/mcp", fresh); resp.StatusCode != 200 {
		t.Errorf("a new grant after the revocation: %d %s", resp.StatusCode, body)
	}
}

// Every access token a 200 from /token hands out works: a burst of
// parallel refreshes with one refresh token (a client whose requests
// raced, or retried) all receive the current pair, none an access token
// that another answer of the burst already evicted.
func TestHostileParallelRefreshTokensAllWork(t *testing.T) {
	e := newEnv(t)
	client, _, rt := e.tokens()
	const n = 6
	outs := make([]map[string]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			st, out, _ := e.token(refreshForm(client, rt), "", "")
			if st != 200 {
				t.Errorf("parallel refresh %d: %d %v", i, st, out)
			}
			outs[i] = out
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	refused := 0
	for i, out := range outs {
		if out["refresh_token"] != outs[0]["refresh_token"] {
			t.Errorf("answer %d forked the chain: %v", i, out["refresh_token"])
		}
		if resp, body := e.call("/mcp", out["access_token"].(string)); resp.StatusCode != 200 {
			refused++
			t.Errorf("access token of answer %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if refused > 0 {
		t.Errorf("%d of %d access tokens handed out with a 200 are refused", refused, n)
	}
	if len(e.provider.refreshed) != 1 {
		t.Errorf("upstream refreshed %d times, want 1", len(e.provider.refreshed))
	}
}

// A crash between committing a rotation and answering it must not make
// the client a suspect: its last acknowledged refresh token works when the
// server is back, however long the outage, while a real replay (the old
// token again after the client used its successor) still revokes the
// grant. The rotation is committed to the durable store and its answer
// thrown away, then the store is reopened in a new Server.
func TestHostileRefreshAfterCrashBeforeAnswer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oauth.log")
	clock := &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	storeClock := store.WithClock(clock.Now)
	fs, err := store.OpenFileStore(path, storeClock)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.Store = fs; c.Now = clock.Now })
	client, _, r1 := e.tokens()
	// r1 is used late in its 30 days; the rotation is committed, and the
	// client never sees the answer.
	clock.Advance(29 * 24 * time.Hour)
	if st, out, _ := e.token(refreshForm(client, r1), "", ""); st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}
	// Down for two days: the grace period is long over, and so are r1's
	// original 30 days.
	clock.Advance(48 * time.Hour)
	fs2, err := store.OpenFileStore(path, storeClock)
	if err != nil {
		t.Fatal(err)
	}
	defer fs2.Close()
	cfg := e.srv.cfg
	cfg.Store = fs2
	s2, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.ts.Config.Handler.(*http.ServeMux).Handle("/v2/", http.StripPrefix("/v2", s2.Handler()))
	refresh := func(rt string) (int, map[string]any) {
		st, out, _ := e.postForm("/v2/token", refreshForm(client, rt), "", "")
		return st, out
	}
	call := func(tok string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		s2.RequireBearer(cfg.Resources[0], http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, req)
		return rec.Code
	}

	st, out := refresh(r1)
	if st != 200 {
		t.Fatalf("last acknowledged refresh token after the crash: %d %v", st, out)
	}
	if c := call(out["access_token"].(string)); c != 200 {
		t.Fatalf("its access token: %d", c)
	}
	// The answer is lost again; the same token still works, and inside the
	// grace period it gets the same pair.
	st, again := refresh(r1)
	if st != 200 || again["refresh_token"] != out["refresh_token"] || again["access_token"] != out["access_token"] {
		t.Fatalf("retry of the recovery: %d %v, want the pair %v", st, again, out)
	}
	// The client moves on: its new token rotates.
	st, out = refresh(out["refresh_token"].(string))
	if st != 200 {
		t.Fatalf("the recovered chain: %d %v", st, out)
	}
	latest := out["access_token"].(string)
	// A real replay: the old token after its successor was used.
	clock.Advance(time.Minute)
	st, out = refresh(r1)
	if st != 400 || out["error"] != "invalid_grant" || !strings.Contains(out["error_description"].(string), "revoked") {
		t.Fatalf("replay of a token whose successor was used: %d %v", st, out)
	}
	if c := call(latest); c != 401 {
		t.Errorf("access token after the replay revoked the grant: %d", c)
	}
}

// A thief who presents the previous refresh token after the grace period,
// before the client used its successor, is handed a replacement pair (the
// server cannot tell it from a client that never received the successor);
// the successor becomes spent, so the rightful client's next refresh is
// reuse, and the grant, the thief's tokens with it, is revoked.
func TestHostileStolenPreviousTokenCaughtAtNextRefresh(t *testing.T) {
	e := newEnv(t)
	client, _, r1 := e.tokens()
	st, out, _ := e.token(refreshForm(client, r1), "", "")
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	r2 := out["refresh_token"].(string)
	e.clock.Advance(time.Hour)
	st, stolen, _ := e.token(refreshForm(client, r1), "", "")
	if st != 200 || stolen["refresh_token"] == r2 {
		t.Fatalf("previous token after the grace period: %d %v", st, stolen)
	}
	st, out, _ = e.token(refreshForm(client, r2), "", "")
	if st != 400 || out["error"] != "invalid_grant" || !strings.Contains(out["error_description"].(string), "revoked") {
		t.Fatalf("the rightful client's successor after the thief's use: %d %v", st, out)
	}
	if resp, _ := e.call("/mcp", stolen["access_token"].(string)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the thief's access token: %d", resp.StatusCode)
	}
	if st, out, _ := e.token(refreshForm(client, stolen["refresh_token"].(string)), "", ""); st != 400 {
		t.Errorf("the thief's refresh token: %d %v", st, out)
	}
}

// An access token past its lifetime is refused with invalid_token, and its
// refresh token still renews it.
func TestHostileExpiredAccessToken(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AccessTokenTTL = time.Minute })
	client, access, refresh := e.tokens()
	e.clock.Advance(time.Minute)
	resp, body := e.call("/mcp", access)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("expired access token: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	st, out, _ := e.token(refreshForm(client, refresh), "", "")
	if st != 200 {
		t.Fatalf("refresh after expiry: %d %v", st, out)
	}
	if resp, body := e.call("/mcp", out["access_token"].(string)); resp.StatusCode != 200 {
		t.Errorf("renewed access token: %d %s", resp.StatusCode, body)
	}
}

// An impersonated upstream session stays visible through our tokens: the
// sign-in log line names the impersonator, and every request's identity
// carries them, after a refresh too.
func TestImpersonationCarried(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	e := newEnv(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(p)
		}), nil))
	})
	e.provider.set(func(p *fakeProvider) {
		p.identity.Impersonator = &Impersonator{Email: "support@example.com", Reason: "ticket 42"}
	})
	client, access, rt := e.tokens()
	mu.Lock()
	line := logs.String()
	mu.Unlock()
	if !strings.Contains(line, "oauth: authorized") || !strings.Contains(line, "impersonator=support@example.com") {
		t.Errorf("sign-in log line %q does not name the impersonator", line)
	}
	if id := e.whoAmI(access); id.ImpersonatorEmail() != "support@example.com" || id.Impersonator.Reason != "ticket 42" {
		t.Fatalf("identity of a request: %+v", id)
	}
	st, out, _ := e.token(refreshForm(client, rt), "", "")
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	if id := e.whoAmI(out["access_token"].(string)); id.ImpersonatorEmail() != "support@example.com" {
		t.Fatalf("identity after refresh: %+v", id)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// ---------------------------------------------------------------------------
// The refresh records of a grant are bounded: a ring of recent tokens.

// refreshChain signs in and refreshes n times with the current token,
// retrying every fifth refresh with the previous token inside the grace
// period, as a client whose response was lost would. It returns the client
// ID and every refresh and access token issued on the chain, oldest first
// (index 0 from the code exchange).
func refreshChain(t *testing.T, e *env, n int) (id string, rts, ats []string) {
	t.Helper()
	id, at, rt := e.tokens()
	rts, ats = []string{rt}, []string{at}
	for i := range n {
		st, out, _ := e.token(refreshForm(id, rts[len(rts)-1]), "", "")
		if st != 200 {
			t.Fatalf("refresh %d: %d %v", i, st, out)
		}
		rts = append(rts, out["refresh_token"].(string))
		ats = append(ats, out["access_token"].(string))
		if i%5 == 4 {
			st, out, _ := e.token(refreshForm(id, rts[len(rts)-2]), "", "")
			if st != 200 || out["refresh_token"] != rts[len(rts)-1] {
				t.Fatalf("grace retry %d: %d %v", i, st, out)
			}
			ats = append(ats, out["access_token"].(string))
		}
	}
	return id, rts, ats
}

func TestRefreshRecordsBounded(t *testing.T) {
	e := newEnv(t)
	id, rts, ats := refreshChain(t, e, 50)
	// Current, previous and the ring of spent ones; nothing older.
	if n := e.store.count(kindRefresh); n != spentRing+2 {
		t.Errorf("refresh records after 50 refreshes: %d, want %d", n, spentRing+2)
	}
	if n := e.store.count(kindAccess); n != 2 {
		t.Errorf("access records after 50 refreshes: %d, want 2", n)
	}
	// The two kept access tokens are the two newest.
	for _, at := range ats[len(ats)-2:] {
		if resp, _ := e.call("/mcp", at); resp.StatusCode != 200 {
			t.Errorf("kept access token: %d", resp.StatusCode)
		}
	}
	// Revocation (RFC 7009 s2.1, through the refresh token) stops every
	// token and frees every record of the grant.
	st, out, _ := e.postForm("/revoke", url.Values{"token": {rts[len(rts)-1]}, "client_id": {id}}, "", "")
	if st != 200 {
		t.Fatalf("revoke: %d %v", st, out)
	}
	for _, at := range ats[len(ats)-2:] {
		if resp, _ := e.call("/mcp", at); resp.StatusCode != 401 {
			t.Errorf("access token after revocation: %d", resp.StatusCode)
		}
	}
	for _, rt := range rts[len(rts)-2:] {
		if st, out, _ := e.token(refreshForm(id, rt), "", ""); st != 400 || out["error"] != "invalid_grant" {
			t.Errorf("refresh after revocation: %d %v", st, out)
		}
	}
	if a, r := e.store.count(kindAccess), e.store.count(kindRefresh); a != 0 || r != 0 {
		t.Errorf("records after revocation: %d access, %d refresh, want none", a, r)
	}
}

func TestRefreshReuseWithinRingRevokes(t *testing.T) {
	e := newEnv(t)
	id, rts, ats := refreshChain(t, e, 50)
	e.clock.Advance(time.Minute) // past the grace period
	// The oldest token still in the ring: current, previous, then spentRing.
	oldest := rts[len(rts)-1-1-spentRing]
	if st, out, _ := e.token(refreshForm(id, oldest), "", ""); st != 400 || out["error"] != "invalid_grant" ||
		!strings.Contains(out["error_description"].(string), "revoked") {
		t.Fatalf("reuse within the ring: %d %v", st, out)
	}
	if e.provider.revokedCount() != 1 {
		t.Errorf("upstream revocations: %d, want 1", e.provider.revokedCount())
	}
	if st, out, _ := e.token(refreshForm(id, rts[len(rts)-1]), "", ""); st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("current token after reuse: %d %v", st, out)
	}
	if resp, _ := e.call("/mcp", ats[len(ats)-1]); resp.StatusCode != 401 {
		t.Errorf("access token after reuse: %d", resp.StatusCode)
	}
}

func TestRefreshTokenOlderThanRingIsUnknown(t *testing.T) {
	e := newEnv(t)
	id, rts, ats := refreshChain(t, e, 50)
	e.clock.Advance(time.Minute)
	// One rotation older than the oldest in the ring: its record is gone.
	tooOld := rts[len(rts)-1-1-spentRing-1]
	st, out, _ := e.token(refreshForm(id, tooOld), "", "")
	if st != 400 || out["error"] != "invalid_grant" || strings.Contains(out["error_description"].(string), "revoked") {
		t.Fatalf("token older than the ring: %d %v", st, out)
	}
	if e.provider.revokedCount() != 0 {
		t.Errorf("upstream revocations: %d, want 0", e.provider.revokedCount())
	}
	// The grant lives on: its newest access token works and the chain
	// rotates.
	if resp, _ := e.call("/mcp", ats[len(ats)-1]); resp.StatusCode != 200 {
		t.Errorf("access token: %d", resp.StatusCode)
	}
	if st, out, _ := e.token(refreshForm(id, rts[len(rts)-1]), "", ""); st != 200 {
		t.Errorf("current token: %d %v", st, out)
	}
}

func TestRefreshKeepsPreviousAccessToken(t *testing.T) {
	e := newEnv(t)
	id, at0, rt := e.tokens()
	_, out, _ := e.token(refreshForm(id, rt), "", "")
	at1, rt := out["access_token"].(string), out["refresh_token"].(string)
	// After one refresh the previous token still serves requests in flight
	// (and is now in the bearer cache).
	for _, at := range []string{at0, at1} {
		if resp, _ := e.call("/mcp", at); resp.StatusCode != 200 {
			t.Fatalf("access token after one refresh: %d", resp.StatusCode)
		}
	}
	_, out, _ = e.token(refreshForm(id, rt), "", "")
	// After the second, the first is deleted, from the cache too: refused
	// at once, not after the cache's recheck interval.
	resp, _ := e.call("/mcp", at0)
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("access token two refreshes old: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	for _, at := range []string{at1, out["access_token"].(string)} {
		if resp, _ := e.call("/mcp", at); resp.StatusCode != 200 {
			t.Errorf("kept access token: %d", resp.StatusCode)
		}
	}
}
