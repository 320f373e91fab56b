package oauth

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// A refresh token used again after the grace period is a leaked token
// (RFC 9700 s4.14.2): the whole grant goes, with the current refresh token
// and every access token issued from it.
func TestHostileRefreshReuseAfterGrace(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RefreshGrace = 30 * time.Second })
	client, access, r1 := e.tokens()
	st, out, _ := e.token(refreshForm(client, r1), "", "")
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	r2, access2 := out["refresh_token"].(string), out["access_token"].(string)
	e.clock.Advance(31 * time.Second)
	st, out, _ = e.token(refreshForm(client, r1), "", "")
	if st != 400 || out["error"] != "invalid_grant" || !strings.Contains(out["error_description"].(string), "revoked") {
		t.Fatalf("reuse after the grace period: %d %v", st, out)
	}
	st, out, _ = e.token(refreshForm(client, r2), "", "")
	if st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("the current refresh token after reuse: %d %v", st, out)
	}
	for _, tok := range []string{access, access2} {
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
