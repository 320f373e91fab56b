package authkittest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/workos/workos-go/v4/pkg/usermanagement"

	"remote-mcp-authkit/oauth/authkittest"
)

func jwks(t *testing.T, ak *authkittest.Server) []map[string]string {
	t.Helper()
	jr, err := http.Get(ak.URL + "/sso/jwks/" + ak.ClientID())
	if err != nil {
		t.Fatal(err)
	}
	defer jr.Body.Close()
	var set struct{ Keys []map[string]string }
	if err := json.NewDecoder(jr.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set.Keys
}

// TestSecretSurvivesRestart: an emulator started again with the same
// secret (or a second process given it) publishes the same signing key,
// refreshes the sessions the first one started and knows their ids; one
// with another secret knows none of it.
func TestSecretSurvivesRestart(t *testing.T) {
	secret := bytes.Repeat([]byte("s"), 32)
	first := authkittest.NewServer(authkittest.WithSecret(secret), authkittest.WithAPIKey("sk_test_shared"))
	res := authenticate(t, first, "ada@example.com")
	_, cl := jwtParts(t, res.AccessToken)
	sid := cl["sid"].(string)
	keys := jwks(t, first)
	first.Close()

	again := authkittest.NewServer(authkittest.WithSecret(secret), authkittest.WithAPIKey("sk_test_shared"))
	defer again.Close()
	if k := jwks(t, again); len(k) != 1 || k[0]["kid"] != keys[0]["kid"] || k[0]["n"] != keys[0]["n"] {
		t.Fatalf("JWKS after restart %v, want %v", k, keys)
	}
	c := newClient(again)
	ref, err := c.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: again.ClientID(), RefreshToken: res.RefreshToken})
	if err != nil {
		t.Fatalf("refresh after restart: %v", err)
	}
	if _, cl := jwtParts(t, ref.AccessToken); cl["sid"] != sid || cl["sub"] != res.User.ID {
		t.Fatalf("refresh after restart gave sid %v sub %v, want %v %v", cl["sid"], cl["sub"], sid, res.User.ID)
	}
	// This process has now seen the rotation: the old token is spent here.
	_, err = c.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: again.ClientID(), RefreshToken: res.RefreshToken})
	if he := httpError(t, err); he.ErrorCode != "invalid_grant" {
		t.Fatalf("rotated-out token after restart: %v", err)
	}
	// A session started before the restart can be revoked after it.
	if err := c.RevokeSession(context.Background(), usermanagement.RevokeSessionOpts{SessionID: sid}); err != nil {
		t.Fatalf("revoking a session from before the restart: %v", err)
	}
	_, err = c.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: again.ClientID(), RefreshToken: ref.RefreshToken})
	if he := httpError(t, err); he.ErrorCode != "invalid_grant" {
		t.Fatalf("refresh of a revoked session: %v", err)
	}

	// RevokeSessions ends sessions this process never saw.
	other := authkittest.NewServer(authkittest.WithSecret(secret), authkittest.WithAPIKey("sk_test_shared"))
	defer other.Close()
	res = authenticate(t, other, "grace@example.com")
	again.RevokeSessions("grace@example.com")
	_, err = c.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: again.ClientID(), RefreshToken: res.RefreshToken})
	if he := httpError(t, err); he.ErrorCode != "invalid_grant" {
		t.Fatalf("refresh after RevokeSessions of a session started elsewhere: %v", err)
	}

	// Another secret: nothing carries over.
	stranger := authkittest.NewServer(authkittest.WithSecret(bytes.Repeat([]byte("t"), 32)), authkittest.WithAPIKey("sk_test_shared"))
	defer stranger.Close()
	res = authenticate(t, other, "ada@example.com")
	sc := newClient(stranger)
	_, err = sc.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: stranger.ClientID(), RefreshToken: res.RefreshToken})
	if he := httpError(t, err); he.ErrorCode != "invalid_grant" {
		t.Fatalf("refresh under another secret: %v", err)
	}
	_, cl = jwtParts(t, res.AccessToken)
	err = sc.RevokeSession(context.Background(), usermanagement.RevokeSessionOpts{SessionID: cl["sid"].(string)})
	if he := httpError(t, err); he.Code != http.StatusNotFound {
		t.Fatalf("revoking another secret's session: %v", err)
	}
	if k := jwks(t, stranger); k[0]["n"] == keys[0]["n"] {
		t.Fatal("another secret derived the same signing key")
	}
	if _, err := authkittest.NewHandler("http://127.0.0.1:1", authkittest.WithSecret([]byte("short"))); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
}
