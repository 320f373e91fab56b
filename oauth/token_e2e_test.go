package oauth_test

// Hostile requests at /token, /revoke and /register, and refresh races,
// against the authorization server with the real AuthKit provider
// (flow_test.go).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestHostileToken: the token endpoint refuses malformed requests, PKCE
// failures and replays in RFC 6749 s5.2 form; a replayed code or a failed
// PKCE check revokes what the code issued; registration floods are limited.
func TestHostileToken(t *testing.T) {
	t.Parallel()
	s := newFlow(t, flowConfig{})
	client := s.register()

	t.Run("malformed requests", func(t *testing.T) {
		raw := func(name, method, path, ct, body string, wantStatus int, wantCode string) {
			req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			st, h, b := s.do(req)
			var out map[string]any
			if err := json.Unmarshal([]byte(b), &out); err != nil || h.Get("Cache-Control") != "no-store" {
				t.Errorf("%s: %d %q (Cache-Control %q)", name, st, b, h.Get("Cache-Control"))
				return
			}
			wantOAuthError(t, name, st, out, wantStatus, wantCode)
		}
		form := "application/x-www-form-urlencoded"
		code := codeForm(client, "mcp_code_x").Encode()
		raw("JSON body", "POST", "/token", "application/json", `{"grant_type":"authorization_code"}`, 400, "invalid_request")
		raw("no content type", "POST", "/token", "", code, 400, "invalid_request")
		raw("oversized body", "POST", "/token", form, code+"&pad="+strings.Repeat("x", 20000), 400, "invalid_request")
		raw("repeated code", "POST", "/token", form, code+"&code=other", 400, "invalid_request")
		raw("huge parameter", "POST", "/token", form, "grant_type=authorization_code&code="+strings.Repeat("x", 5000)+"&client_id="+client, 400, "invalid_request")
		raw("bad form encoding", "POST", "/token", form, "grant_type=%zz", 400, "invalid_request")
		raw("GET", "GET", "/token", "", "", 405, "invalid_request")
		raw("code in the URL", "POST", "/token?code=x", form, code, 400, "invalid_request")
		raw("no grant type", "POST", "/token", form, "client_id="+client, 400, "invalid_request")
		raw("password grant", "POST", "/token", form, "grant_type=password&username=a&password=b&client_id="+client, 400, "unsupported_grant_type")
		raw("client_credentials grant", "POST", "/token", form, "grant_type=client_credentials&client_id="+client, 400, "unsupported_grant_type")
		raw("unknown client", "POST", "/token", form, codeForm("mcp_nosuch", "x").Encode(), 401, "invalid_client")
		raw("no client", "POST", "/token", form, "grant_type=authorization_code&code=x", 401, "invalid_client")
		raw("public client sends a secret", "POST", "/token", form, code+"&client_secret=guess", 401, "invalid_client")
		raw("unknown code", "POST", "/token", form, code, 400, "invalid_grant")
		noID := codeForm(client, "mcp_code_x")
		noID.Del("client_id")
		basic := func(name, auth string) {
			req, _ := http.NewRequest("POST", s.base+"/token", strings.NewReader(noID.Encode()))
			req.Header.Set("Content-Type", form)
			req.Header.Set("Authorization", auth)
			st, h, b := s.do(req)
			var out map[string]any
			json.Unmarshal([]byte(b), &out)
			wantOAuthError(t, name, st, out, 401, "invalid_client")
			if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("%s: WWW-Authenticate %q", name, h.Get("WWW-Authenticate"))
			}
		}
		basic("Basic with bad escapes", "Basic "+base64.StdEncoding.EncodeToString([]byte("%zz:%zz")))
		basic("Basic for an unknown client", "Basic "+base64.StdEncoding.EncodeToString([]byte("mcp_nosuch:secret")))
		basic("Basic with a secret for a public client", "Basic "+base64.StdEncoding.EncodeToString([]byte(client+":guess")))
		mismatch, _ := http.NewRequest("POST", s.base+"/token", strings.NewReader(code))
		mismatch.Header.Set("Content-Type", form)
		mismatch.SetBasicAuth("mcp_other", "")
		st, _, b := s.do(mismatch)
		var out map[string]any
		json.Unmarshal([]byte(b), &out)
		wantOAuthError(t, "Basic and a different client_id", st, out, 400, "invalid_request")
		raw("revoke without token", "POST", "/revoke", form, "client_id="+client, 400, "invalid_request")
		raw("registration as a form", "POST", "/register", form, "redirect_uris=x", 400, "invalid_client_metadata")
		raw("registration not JSON", "POST", "/register", "application/json", "{", 400, "invalid_client_metadata")
		raw("registration deeply nested", "POST", "/register", "application/json", strings.Repeat("[", 16000), 400, "invalid_client_metadata")
		raw("registration too large", "POST", "/register", "application/json", `{"client_name":"`+strings.Repeat("x", 20000)+`"}`, 400, "invalid_client_metadata")
	})

	// PKCE at the token endpoint: each failure spends the code and revokes
	// its grant, so the rightful client's later attempt fails too.
	for _, c := range []struct {
		name     string
		verifier string // "-" omits the parameter
		status   int
		errCode  string
	}{
		{"missing verifier", "-", 400, "invalid_request"},
		{"wrong verifier", strings.Repeat("a", 43), 400, "invalid_grant"},
		{"challenge sent as verifier", flowChallenge, 400, "invalid_grant"},
		{"short verifier", "abc", 400, "invalid_grant"},
	} {
		t.Run("PKCE "+c.name, func(t *testing.T) {
			code := s.code(client, "ada@example.com")
			f := codeForm(client, code)
			if c.verifier == "-" {
				f.Del("code_verifier")
			} else {
				f.Set("code_verifier", c.verifier)
			}
			st, _, out := s.postForm("/token", f)
			wantOAuthError(t, c.name, st, out, c.status, c.errCode)
			st, _, out = s.postForm("/token", codeForm(client, code))
			if c.verifier == "-" {
				// A request without a verifier never touched the code.
				if st != 200 {
					t.Errorf("the code after a request without verifier: %d %v", st, out)
				}
				return
			}
			wantOAuthError(t, "the right verifier after a wrong one", st, out, 400, "invalid_grant")
		})
	}

	t.Run("replayed code revokes its tokens", func(t *testing.T) {
		code := s.code(client, "ada@example.com")
		st, _, out := s.postForm("/token", codeForm(client, code))
		if st != 200 {
			t.Fatalf("token: %d %v", st, out)
		}
		access, refresh := out["access_token"].(string), out["refresh_token"].(string)
		s.serves(access)
		st, _, out = s.postForm("/token", codeForm(client, code))
		wantOAuthError(t, "replay", st, out, 400, "invalid_grant")
		st, h, body := s.bearer("/mcp", access)
		if st != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("access token after replay: %d %q %s", st, h.Get("WWW-Authenticate"), body)
		}
		st, _, out = s.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {client}})
		wantOAuthError(t, "refresh token after replay", st, out, 400, "invalid_grant")
	})

	t.Run("another client's refresh token", func(t *testing.T) {
		_, _, r1 := s.tokens("grace@example.com")
		st, _, out := s.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r1}, "client_id": {s.register()}})
		wantOAuthError(t, "another client's refresh token", st, out, 400, "invalid_grant")
	})

	t.Run("registration flood", func(t *testing.T) {
		// A fresh server, so that the registrations above do not count.
		f := newFlow(t, flowConfig{})
		b, _ := json.Marshal(map[string]any{"redirect_uris": []string{flowRedirect}, "token_endpoint_auth_method": "none"})
		var last int
		var lastH http.Header
		var lastBody, first string
		n := 0
		for ; n < 40; n++ {
			req, _ := http.NewRequest("POST", f.base+"/register", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			last, lastH, lastBody = f.do(req)
			if last != http.StatusCreated {
				break
			}
			if first == "" {
				var c struct {
					ClientID string `json:"client_id"`
				}
				json.Unmarshal([]byte(lastBody), &c)
				first = c.ClientID
			}
		}
		if n < 20 || n > 21 || last != http.StatusTooManyRequests {
			t.Fatalf("after %d registrations: %d %s", n, last, lastBody)
		}
		var out map[string]any
		json.Unmarshal([]byte(lastBody), &out)
		wantOAuthError(t, "flood", last, out, 429, "too_many_requests")
		if ra := lastH.Get("Retry-After"); ra == "" || ra == "0" || strings.Trim(ra, "0123456789") != "" {
			t.Errorf("Retry-After %q", ra)
		}
		// Only registration is limited: a client registered before the
		// flood still signs in and calls tools.
		fs := f.in(t)
		st, _, tok := fs.postForm("/token", codeForm(first, fs.code(first, "ada@example.com")))
		if st != 200 {
			t.Fatalf("token during a flood: %d %v", st, tok)
		}
		fs.serves(tok["access_token"].(string))
	})
}

// TestHostileRefreshReuse: a refresh token used again inside the grace
// period gets the same current token (a lost response), not a fork.
func TestHostileRefreshReuse(t *testing.T) {
	t.Parallel()
	s := newFlow(t, flowConfig{})
	client, _, r1 := s.tokens("ada@example.com")
	refresh := func(rt string) (int, map[string]any) {
		st, _, out := s.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {client}})
		return st, out
	}
	st, out := refresh(r1)
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	r2 := out["refresh_token"].(string)
	st, out = refresh(r1) // inside the grace period
	if st != 200 || out["refresh_token"] != r2 {
		t.Fatalf("refresh with the previous token in the grace period: %d %v, want refresh_token %s", st, out, r2)
	}
	s.serves(out["access_token"].(string))
}

// TestHostileParallelRefresh: a client firing six refreshes with one
// refresh token at once gets six 200s, and every access token among them
// works: the retries inside the grace period are handed the current pair,
// not access tokens that evict each other.
func TestHostileParallelRefresh(t *testing.T) {
	t.Parallel()
	s := newFlow(t, flowConfig{})
	client, _, rt := s.tokens("ada@example.com")
	const n = 6
	outs := make([]map[string]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			st, _, out := s.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {client}})
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
	for i, out := range outs {
		tok, _ := out["access_token"].(string)
		if st, id := s.call(tok); st != http.StatusOK || id.Email != "ada@example.com" {
			t.Errorf("access token of answer %d: %d %+v", i, st, id)
		}
	}
}
