package oauth

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

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
