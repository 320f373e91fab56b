package oauth

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"remote-mcp-authkit/events"
)

func TestBearerChallenge(t *testing.T) {
	e := newEnv(t)
	_, at, _ := e.tokens()
	meta := func(p string) string {
		return `Bearer resource_metadata="` + e.ts.URL + "/.well-known/oauth-protected-resource" + p + `"`
	}
	for _, tc := range []struct {
		name, path, auth string
		status           int
		header           string
	}{
		{"no token", "/mcp", "", 401, meta("/mcp")},
		{"no token sse", "/sse", "", 401, meta("/sse")},
		{"basic scheme", "/mcp", "Basic dXNlcjpwYXNz", 401, meta("/mcp")},
		{"unknown token", "/mcp", "Bearer mat_unknown", 401, meta("/mcp") + `, error="invalid_token", error_description="the access token is invalid, expired or revoked"`},
		{"empty bearer", "/mcp", "Bearer ", 401, meta("/mcp") + `, error="invalid_token", error_description="malformed access token"`},
		{"huge token", "/mcp", "Bearer " + strings.Repeat("a", 600), 401, meta("/mcp") + `, error="invalid_token", error_description="malformed access token"`},
		{"wrong audience", "/sse", "Bearer " + at, 401, meta("/sse") + `, error="invalid_token", error_description="the access token was issued for another resource"`},
		{"lowercase scheme", "/mcp", "bearer " + at, 200, ""},
		{"good", "/mcp", "Bearer " + at, 200, ""},
	} {
		req, _ := http.NewRequest("POST", e.url(tc.path), strings.NewReader("{}"))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(resp)
		if resp.StatusCode != tc.status || resp.Header.Get("WWW-Authenticate") != tc.header {
			t.Errorf("%s: %d %q\n want %d %q", tc.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.status, tc.header)
		}
	}
}

func TestBearerRefusesQueryToken(t *testing.T) {
	e := newEnv(t)
	_, at, _ := e.tokens()
	for _, auth := range []string{"", "Bearer " + at} {
		req, _ := http.NewRequest("POST", e.url("/mcp?access_token="+url.QueryEscape(at)), nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, _ := http.DefaultClient.Do(req)
		readBody(resp)
		if resp.StatusCode != 400 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_request"`) {
			t.Errorf("auth %q: %d %q", auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// Two Authorization headers.
	req, _ := http.NewRequest("POST", e.url("/mcp"), nil)
	req.Header.Add("Authorization", "Bearer "+at)
	req.Header.Add("Authorization", "Bearer "+at)
	resp, _ := http.DefaultClient.Do(req)
	readBody(resp)
	if resp.StatusCode != 400 {
		t.Errorf("two headers: %d", resp.StatusCode)
	}
}

func TestBearerExpiry(t *testing.T) {
	e := newEnv(t)
	_, at, _ := e.tokens()
	e.clock.Advance(59 * time.Minute)
	if resp, _ := e.call("/mcp", at); resp.StatusCode != 200 {
		t.Fatalf("before expiry: %d", resp.StatusCode)
	}
	e.clock.Advance(time.Minute)
	resp, _ := e.call("/mcp", at)
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("after expiry: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// The store is authoritative: a second server on the same store (a
// restart) accepts tokens it never cached, and refuses those of revoked
// grants.
func TestBearerLoadsFromStore(t *testing.T) {
	e := newEnv(t)
	id, at, rt := e.tokens()
	cfg := e.srv.cfg
	s2, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got *Identity
	h := s2.RequireBearer(cfg.Resources[0], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = IdentityFromContext(r.Context())
		if SessionOwner(r) != got.Subject {
			t.Error("SessionOwner differs from the identity's subject")
		}
	}))
	call := func() int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if c := call(); c != 200 || got == nil || got.Subject != "user_alice" || got.ClientID != id || !strings.HasPrefix(got.GrantID, "grant_") {
		t.Fatalf("restarted server: %d %+v", c, got)
	}
	// Revoke through the first server. A fresh third server, with nothing
	// cached, must find the grant gone in the store.
	if st, _, _ := e.postForm("/revoke", url.Values{"token": {rt}, "client_id": {id}}, "", ""); st != 200 {
		t.Fatal(st)
	}
	s3, _ := NewServer(cfg)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	s3.RequireBearer(cfg.Resources[0], http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Fatalf("revoked grant on a fresh server: %d", rec.Code)
	}
	if SessionOwner(httptest.NewRequest("GET", "/", nil)) != "" {
		t.Error("SessionOwner of an unauthenticated request")
	}
}

// TestEndToEnd walks the whole flow through real HTTP as an MCP client
// does, starting from a 401.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	// 1. Unauthenticated call -> 401 naming the resource metadata.
	resp, _ := e.call("/mcp", "")
	chal := resp.Header.Get("WWW-Authenticate")
	metaURL := strings.TrimSuffix(strings.TrimPrefix(chal, `Bearer resource_metadata="`), `"`)
	// 2. Resource metadata -> authorization server -> its metadata.
	var prm ProtectedResourceMetadata
	r := e.get(http.DefaultClient, metaURL)
	json.NewDecoder(r.Body).Decode(&prm)
	r.Body.Close()
	var asm AuthorizationServerMetadata
	r = e.get(http.DefaultClient, prm.AuthorizationServers[0]+"/.well-known/oauth-authorization-server")
	json.NewDecoder(r.Body).Decode(&asm)
	r.Body.Close()
	if asm.Issuer != prm.AuthorizationServers[0] || asm.RegistrationEndpoint == "" {
		t.Fatalf("discovery: %+v %+v", prm, asm)
	}
	// 3. Register.
	body := `{"redirect_uris":["` + testRedirect + `"],"token_endpoint_auth_method":"none","client_name":"E2E"}`
	r, _ = http.Post(asm.RegistrationEndpoint, "application/json", strings.NewReader(body))
	var reg map[string]any
	json.NewDecoder(r.Body).Decode(&reg)
	r.Body.Close()
	clientID := reg["client_id"].(string)
	// 4. Authorize with resource, consent, provider, callback.
	p := authParams(clientID)
	p.Set("resource", prm.Resource)
	authURL := asm.AuthorizationEndpoint + "?" + p.Encode()
	r = e.get(e.browser, authURL)
	page := readBody(r)
	if !strings.Contains(page, "E2E") {
		t.Fatalf("consent page: %s", page)
	}
	pending, csrf := rePending.FindStringSubmatch(page)[1], reCSRF.FindStringSubmatch(page)[1]
	q := e.followToClient(e.browser, e.postConsent(e.browser, pending, csrf, "approve"))
	if q.Get("iss") != asm.Issuer || q.Get("state") != "xyz-state" {
		t.Fatalf("authorization response %v", q)
	}
	// 5. Token.
	form := codeForm(clientID, q.Get("code"))
	form.Set("resource", prm.Resource)
	st, tok, _ := e.token(form, "", "")
	if st != 200 {
		t.Fatal(st, tok)
	}
	// 6. Call the protected endpoint.
	resp, out := e.call("/mcp", tok["access_token"].(string))
	var id Identity
	json.Unmarshal([]byte(out), &id)
	if resp.StatusCode != 200 || id.Subject != "user_alice" || id.ClientID != clientID || id.Email != "alice@example.com" {
		t.Fatalf("protected call: %d %s", resp.StatusCode, out)
	}
	// 7. Refresh.
	st, tok2, _ := e.token(refreshForm(clientID, tok["refresh_token"].(string)), "", "")
	if st != 200 {
		t.Fatal(st, tok2)
	}
	if resp, _ := e.call("/mcp", tok2["access_token"].(string)); resp.StatusCode != 200 {
		t.Fatal("refreshed token refused")
	}
	// 8. Revoke the refresh token; everything from the grant stops.
	if st, _, _ := e.postForm("/revoke", url.Values{"token": {tok2["refresh_token"].(string)}, "client_id": {clientID}}, "", ""); st != 200 {
		t.Fatal(st)
	}
	for _, at := range []string{tok["access_token"].(string), tok2["access_token"].(string)} {
		resp, _ := e.call("/mcp", at)
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("after revoke: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkRequireBearer measures the bearer check on a cached token: the
// cost every MCP request pays. Target: under 2 µs and at most 2-3 allocs
// (the request copy and the context value for the identity).
func BenchmarkRequireBearer(b *testing.B) {
	clock := &testClock{t: time.Now()}
	s, err := NewServer(Config{
		Issuer: "https://mcp.example.com", Resources: []string{"https://mcp.example.com/mcp"},
		Store: newTestStore(clock.Now), Provider: &fakeProvider{}, Secret: make([]byte, 32), Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	tok := newToken(prefixAccessToken)
	s.cache.add(tok, &accessRecord{GrantID: "grant_1", ClientID: "c", Resource: "https://mcp.example.com/mcp",
		ExpiresAt: clock.Now().Add(time.Hour)}, &Identity{Subject: "user_1", Permissions: []string{"a", "b"}}, clock.Now())
	ok := 0
	h := s.RequireBearer("https://mcp.example.com/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IdentityFromContext(r.Context()) != nil {
			ok++
		}
	}))
	req := httptest.NewRequest("POST", "https://mcp.example.com/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
	if ok != b.N {
		b.Fatalf("%d of %d requests passed", ok, b.N)
	}
}

func TestTokenCacheSweep(t *testing.T) {
	var c tokenCache
	c.init()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id := &Identity{Subject: "u"}
	c.add("t1", &accessRecord{GrantID: "g1", ExpiresAt: now.Add(time.Minute)}, id, now)
	c.add("t2", &accessRecord{GrantID: "g2", ExpiresAt: now.Add(time.Hour)}, id, now)
	if c.count() != 2 || len(c.grants) != 2 {
		t.Fatalf("%d tokens, %d grants", c.count(), len(c.grants))
	}
	// Two minutes on, the next insertion sweeps t1 and its grant away.
	later := now.Add(2 * time.Minute)
	c.add("t3", &accessRecord{GrantID: "g2", ExpiresAt: later.Add(time.Hour)}, id, later)
	if c.count() != 2 || len(c.grants) != 1 || c.grants["g1"] != nil {
		t.Fatalf("after sweep: %d tokens, grants %v", c.count(), c.grants)
	}
}

// Two processes on one store: a revocation through one reaches the other's
// cache within recheckInterval, and so does an identity change.
func TestBearerRecheckAcrossServers(t *testing.T) {
	e := newEnv(t)
	id, at, rt := e.tokens()
	_, at2, rt2 := e.tokens()
	cfg := e.srv.cfg
	cfg.Events = events.NewLocal() // a bus of its own: no event reaches it
	other, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var seen *Identity
	h := other.RequireBearer(e.srv.cfg.Resources[0], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = IdentityFromContext(r.Context())
	}))
	call := func(tok string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if call(at) != 200 || call(at2) != 200 {
		t.Fatal("other server refused fresh tokens")
	}
	// Revoke the first grant, change the identity of the second, both
	// through the first server.
	if st, _, _ := e.postForm("/revoke", url.Values{"token": {rt}, "client_id": {id}}, "", ""); st != 200 {
		t.Fatal(st)
	}
	e.provider.set(func(p *fakeProvider) { p.identity.Role = "owner" })
	var ar accessRecord
	e.srv.getJSON(t.Context(), kindAccess, hashToken(at2), &ar)
	if st, out, _ := e.token(refreshForm(ar.ClientID, rt2), "", ""); st != 200 {
		t.Fatal(st, out)
	}
	// Within the interval the other server still answers from its cache.
	if call(at) != 200 {
		t.Fatal("cache consulted the store before the interval")
	}
	e.clock.Advance(recheckInterval + time.Second)
	if c := call(at); c != 401 {
		t.Fatalf("revoked elsewhere, after recheck: %d", c)
	}
	if call(at2) != 200 || seen.Role != "owner" {
		t.Fatalf("identity after recheck: %+v", seen)
	}
}

// A recheck that finds the identity unchanged keeps the cached one rather
// than a pointer into the grant it decoded, which would keep that whole
// record (sealed upstream session, refresh history) alive with the token.
func TestBearerRecheckKeepsUnchangedIdentity(t *testing.T) {
	e := newEnv(t)
	_, at, _ := e.tokens()
	var seen *Identity
	h := e.srv.RequireBearer(e.srv.cfg.Resources[0], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = IdentityFromContext(r.Context())
	}))
	call := func() *Identity {
		t.Helper()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
		return seen
	}
	first := call()
	e.clock.Advance(recheckInterval + time.Second)
	if again := call(); again != first {
		t.Fatalf("an unchanged identity was replaced at recheck: %p %+v, was %p %+v", again, again, first, first)
	}
}

// Two processes on one store and one events bus: a revocation, an identity
// change and a rotated-out access token reach the other's cache at once,
// with no recheck of the store (the clock does not move), and a Resync
// empties it.
func TestBearerEventsAcrossServers(t *testing.T) {
	e := newEnv(t)
	id, at, rt := e.tokens()
	_, at2, rt2 := e.tokens()
	other, err := NewServer(e.srv.cfg) // shares e.srv's bus
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var seen *Identity
	h := other.RequireBearer(e.srv.cfg.Resources[0], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = IdentityFromContext(r.Context())
	}))
	call := func(tok string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if call(at) != 200 || call(at2) != 200 || seen.Role == "owner" {
		t.Fatal("other server refused fresh tokens")
	}
	if st, _, _ := e.postForm("/revoke", url.Values{"token": {rt}, "client_id": {id}}, "", ""); st != 200 {
		t.Fatal(st)
	}
	if c := call(at); c != 401 {
		t.Fatalf("revoked on the first server, the other still accepts: %d", c)
	}
	e.provider.set(func(p *fakeProvider) { p.identity.Role = "owner" })
	var ar accessRecord
	e.srv.getJSON(t.Context(), kindAccess, hashToken(at2), &ar)
	if st, out, _ := e.token(refreshForm(ar.ClientID, rt2), "", ""); st != 200 {
		t.Fatal(st, out)
	}
	if call(at2) != 200 || seen.Role != "owner" {
		t.Fatalf("identity changed on the first server, the other sees %+v", seen)
	}

	// Resync (a bus that lost its connection) drops everything cached: a
	// token deleted from the store behind the cache's back is refused.
	_, at3, _ := e.tokens()
	if call(at3) != 200 {
		t.Fatal("fresh token refused")
	}
	if err := e.srv.cfg.Store.Delete(t.Context(), kindAccess, hashToken(at3)); err != nil {
		t.Fatal(err)
	}
	if call(at3) != 200 {
		t.Fatal("the cache consulted the store with no event and no recheck due")
	}
	e.srv.cfg.Events.(*events.Local).Deliver(events.Event{Kind: events.Resync})
	if c := call(at3); c != 401 {
		t.Fatalf("after Resync a token gone from the store is still accepted: %d", c)
	}
}

// A revocation that lands while the bearer check is loading a token from
// the store (after it read the grant, before it cached the token) must
// still stop the token at once in this process, as RevokeGrant promises:
// before, the freshly cached entry knew nothing of it and the token kept
// working until the next recheck of the store (RFC 7009 s2, MCP 2025-11-25
// "Token Audience Binding and Validation").
func TestRevocationDuringBearerLoad(t *testing.T) {
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
