package oauth_test

import (
	"net/url"
	"sync"
	"testing"

	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/oauth/authkittest"
)

// TestWithAuthKitEmulator runs the authorization server against the real
// AuthKit provider talking to the AuthKit emulator: sign-in, identity on
// the MCP endpoint, a permission change seen at refresh, an upstream
// outage, an upstream sign-out, and revocation ending the upstream session.
func TestWithAuthKitEmulator(t *testing.T) {
	var mu sync.Mutex
	var changes []oauth.Identity
	f := newFlow(t, flowConfig{editServer: func(c *oauth.Config) {
		c.OnGrantIdentityChanged = func(old, new oauth.Identity) {
			mu.Lock()
			changes = append(changes, new)
			mu.Unlock()
		}
	}})
	f.clientID = f.register()
	ak, clientID, form, call := f.ak, f.clientID, f.form, f.call

	// Sign in as Ada.
	at, rt := f.signIn("ada@example.com")
	st, id := call(at)
	if st != 200 || id.Email != "ada@example.com" || id.Role != "admin" || !id.HasPermission("image_generation") || id.ClientID != clientID || id.SessionID == "" {
		t.Fatalf("identity: %d %+v", st, id)
	}

	// A permission change upstream arrives with the next refresh.
	ak.SetRole("ada@example.com", "member")
	ak.SetPermissions("ada@example.com", nil)
	refresh := func() (int, map[string]any) {
		return form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}})
	}
	st, out := refresh()
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	rt = out["refresh_token"].(string)
	if len(changes) != 1 || changes[0].Role != "member" || changes[0].HasPermission("image_generation") {
		t.Fatalf("identity change notifications: %+v", changes)
	}
	if _, id := call(at); id.Role != "member" || id.HasPermission("image_generation") {
		t.Fatalf("old access token still carries old permissions: %+v", id)
	}

	// An upstream outage: temporarily_unavailable, and the token survives.
	ak.SetFault(authkittest.Fault{Status: 503})
	if st, out := refresh(); st != 503 || out["error"] != "temporarily_unavailable" {
		t.Fatalf("outage: %d %v", st, out)
	}
	ak.SetFault(authkittest.Fault{})
	if st, out = refresh(); st != 200 {
		t.Fatalf("after outage: %d %v", st, out)
	}
	rt = out["refresh_token"].(string)

	// An administrator signs Ada out upstream: the next refresh fails and
	// the grant is gone.
	ak.RevokeSessions("ada@example.com")
	if st, out := refresh(); st != 400 || out["error"] != "invalid_grant" {
		t.Fatalf("after upstream sign-out: %d %v", st, out)
	}
	if st, _ := call(at); st != 401 {
		t.Fatalf("access token after upstream sign-out: %d", st)
	}

	// Revoking our refresh token ends the upstream session too.
	at, rt = f.signIn("ada@example.com")
	_, id = call(at)
	if st, _ := form("/revoke", url.Values{"token": {rt}, "client_id": {clientID}}); st != 200 {
		t.Fatal(st)
	}
	if !ak.SessionRevoked(id.SessionID) {
		t.Error("upstream session not revoked")
	}
	if st, _ := call(at); st != 401 {
		t.Errorf("access token after revoke: %d", st)
	}
}
