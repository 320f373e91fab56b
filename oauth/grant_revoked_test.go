package oauth

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// revokedHook records Config.OnGrantRevoked calls, and what was true while
// each ran.
type revokedHook struct {
	mu    sync.Mutex
	calls []revokedCall
}

type revokedCall struct {
	id             Identity
	lockHeld       bool // the grant's refresh lock was held during the call
	upstreamBefore int  // upstream revocations already made when it ran
}

func newRevokedEnv(t *testing.T) (*env, *revokedHook) {
	h := &revokedHook{}
	var e *env
	e = newEnv(t, func(c *Config) {
		c.OnGrantRevoked = func(id Identity) {
			mu := &e.srv.refreshL[stripe(id.GrantID)]
			held := !mu.TryLock()
			if !held {
				mu.Unlock()
			}
			h.mu.Lock()
			h.calls = append(h.calls, revokedCall{id: id, lockHeld: held, upstreamBefore: e.provider.revokedCount()})
			h.mu.Unlock()
		}
	})
	return e, h
}

func (h *revokedHook) get() []revokedCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]revokedCall(nil), h.calls...)
}

// whoAmI returns the identity the bearer middleware gives a token.
func (e *env) whoAmI(access string) Identity {
	e.t.Helper()
	resp, body := e.call("/mcp", access)
	if resp.StatusCode != 200 {
		e.t.Fatalf("access token refused: %d %s", resp.StatusCode, body)
	}
	var id Identity
	if err := json.Unmarshal([]byte(body), &id); err != nil {
		e.t.Fatalf("identity %q: %v", body, err)
	}
	return id
}

func TestOnGrantRevoked(t *testing.T) {
	for _, tc := range []struct {
		name string
		// revoke does something to the grant behind (client, access,
		// refresh) and reports whether it should have revoked it.
		revoke func(e *env, client, access, refresh string) bool
	}{
		{"revoke endpoint, refresh token", func(e *env, client, _, refresh string) bool {
			e.postForm("/revoke", url.Values{"token": {refresh}, "client_id": {client}}, "", "")
			return true
		}},
		{"revoke endpoint, refresh token with hint", func(e *env, client, _, refresh string) bool {
			e.postForm("/revoke", url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}, "client_id": {client}}, "", "")
			return true
		}},
		{"revoke endpoint, access token only", func(e *env, client, access, _ string) bool {
			e.postForm("/revoke", url.Values{"token": {access}, "client_id": {client}}, "", "")
			return false
		}},
		{"revoke endpoint, another client's refresh token", func(e *env, _, _, refresh string) bool {
			e.postForm("/revoke", url.Values{"token": {refresh}, "client_id": {e.publicClient()}}, "", "")
			return false
		}},
		{"refresh reuse after the successor was used", func(e *env, client, _, refresh string) bool {
			st, out, _ := e.token(refreshForm(client, refresh), "", "")
			if st != 200 {
				e.t.Fatalf("refresh: %d %v", st, out)
			}
			if st, out, _ := e.token(refreshForm(client, out["refresh_token"].(string)), "", ""); st != 200 {
				e.t.Fatalf("refresh with the successor: %d %v", st, out)
			}
			e.clock.Advance(time.Minute)
			if st, out, _ := e.token(refreshForm(client, refresh), "", ""); st != 400 || out["error"] != "invalid_grant" {
				e.t.Fatalf("reuse: %d %v", st, out)
			}
			return true
		}},
		{"previous refresh token after the grace period, successor never used", func(e *env, client, _, refresh string) bool {
			if st, out, _ := e.token(refreshForm(client, refresh), "", ""); st != 200 {
				e.t.Fatalf("refresh: %d %v", st, out)
			}
			e.clock.Advance(time.Minute)
			if st, out, _ := e.token(refreshForm(client, refresh), "", ""); st != 200 {
				e.t.Fatalf("previous token, successor unused: %d %v", st, out)
			}
			return false
		}},
		{"refresh reuse inside the grace period", func(e *env, client, _, refresh string) bool {
			e.token(refreshForm(client, refresh), "", "")
			if st, out, _ := e.token(refreshForm(client, refresh), "", ""); st != 200 {
				e.t.Fatalf("grace: %d %v", st, out)
			}
			return false
		}},
		{"upstream session ended at refresh", func(e *env, client, _, refresh string) bool {
			e.provider.set(func(p *fakeProvider) { p.refreshErr = fmt.Errorf("gone: %w", ErrUpstreamRevoked) })
			if st, out, _ := e.token(refreshForm(client, refresh), "", ""); st != 400 || out["error"] != "invalid_grant" {
				e.t.Fatalf("refresh: %d %v", st, out)
			}
			return true
		}},
		{"upstream unavailable at refresh", func(e *env, client, _, refresh string) bool {
			e.provider.set(func(p *fakeProvider) { p.refreshErr = fmt.Errorf("down: %w", ErrUpstreamUnavailable) })
			if st, out, _ := e.token(refreshForm(client, refresh), "", ""); st != 503 {
				e.t.Fatalf("refresh: %d %v", st, out)
			}
			return false
		}},
		{"RevokeGrant", func(e *env, _, access, _ string) bool {
			id := e.whoAmI(access)
			if err := e.srv.RevokeGrant(e.t.Context(), id.GrantID); err != nil {
				e.t.Fatal(err)
			}
			// Revoking it again revokes nothing, and says nothing.
			if err := e.srv.RevokeGrant(e.t.Context(), id.GrantID); err != nil {
				e.t.Fatal(err)
			}
			return true
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, h := newRevokedEnv(t)
			client, access, refresh := e.tokens()
			want := e.whoAmI(access)
			revoked := tc.revoke(e, client, access, refresh)
			calls := h.get()
			if !revoked {
				if len(calls) != 0 {
					t.Fatalf("OnGrantRevoked called without a revocation: %+v", calls)
				}
				return
			}
			if len(calls) != 1 {
				t.Fatalf("OnGrantRevoked called %d times, want 1", len(calls))
			}
			got := calls[0]
			if got.id.GrantID != want.GrantID || got.id.ClientID != client || got.id.Subject != "user_alice" || got.id.Email != "alice@example.com" {
				t.Errorf("identity %+v, want grant %s of client %s for user_alice", got.id, want.GrantID, client)
			}
			if got.lockHeld {
				t.Error("OnGrantRevoked ran under the grant's refresh lock")
			}
			if got.upstreamBefore != 0 {
				t.Error("OnGrantRevoked ran after the upstream revocation, not as soon as the revocation was stored")
			}
			// Stored first: by the time the hook ran, the grant's tokens
			// were already refused.
			if resp, _ := e.call("/mcp", access); resp.StatusCode != 401 {
				t.Errorf("access token after revocation: %d", resp.StatusCode)
			}
			if e.provider.revokedCount() != 1 {
				t.Errorf("upstream revocations %d, want 1", e.provider.revokedCount())
			}
		})
	}
}

// A code replayed, or redeemed by the wrong party, revokes the grant behind
// it; the hook names that grant even though no token of it was ever used.
func TestOnGrantRevokedForCodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		redeem func(e *env, client, code string)
	}{
		{"replay", func(e *env, client, code string) {
			if st, out, _ := e.token(codeForm(client, code), "", ""); st != 200 {
				e.t.Fatalf("first redemption: %d %v", st, out)
			}
			if st, out, _ := e.token(codeForm(client, code), "", ""); st != 400 || out["error"] != "invalid_grant" {
				e.t.Fatalf("replay: %d %v", st, out)
			}
		}},
		{"wrong verifier", func(e *env, client, code string) {
			f := codeForm(client, code)
			f.Set("code_verifier", "x"+testVerifier[1:])
			if st, out, _ := e.token(f, "", ""); st != 400 || out["error"] != "invalid_grant" {
				e.t.Fatalf("wrong verifier: %d %v", st, out)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, h := newRevokedEnv(t)
			client := e.publicClient()
			tc.redeem(e, client, e.authorize(client))
			calls := h.get()
			if len(calls) != 1 {
				t.Fatalf("OnGrantRevoked called %d times, want 1", len(calls))
			}
			id := calls[0].id
			if id.ClientID != client || id.Subject != "user_alice" || len(id.GrantID) <= len("grant_") || id.GrantID[:6] != "grant_" {
				t.Errorf("identity %+v", id)
			}
			if e.store.count(kindGrant) != 0 {
				t.Errorf("%d grants left in the store", e.store.count(kindGrant))
			}
		})
	}
}

// GrantCredential, behind RequireBearer, names the grant of the token
// that authenticated the request; two grants of one user differ.
func TestGrantCredential(t *testing.T) {
	e := newEnv(t)
	h := e.srv.RequireBearer(e.ts.URL+"/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, GrantCredential(r))
	}))
	credentialOf := func(access string) string {
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		r.Header.Set("Authorization", "Bearer "+access)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("RequireBearer: %d %s", w.Code, w.Body)
		}
		return w.Body.String()
	}
	_, a, _ := e.tokens()
	_, b, _ := e.tokens()
	ga, gb := credentialOf(a), credentialOf(b)
	if ga != e.whoAmI(a).GrantID || gb != e.whoAmI(b).GrantID || ga == gb || ga == "" {
		t.Errorf("credentials %q and %q", ga, gb)
	}
	if got := GrantCredential(httptest.NewRequest(http.MethodGet, "/", nil)); got != "" {
		t.Errorf("GrantCredential of an unauthenticated request = %q", got)
	}
}
