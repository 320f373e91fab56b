package oauth

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"remote-mcp-authkit/store"
)

// TestStoreWrittenBeforeCompactGrants opens a log the code before the
// compact grant records wrote (testdata/store-2026-12: one sign-in of the
// package's test flow; its grant seals a whole upstream session, access
// token JWT and identity included) and checks that the new code serves it:
// the access token passes the bearer check, and a refresh hands the
// provider the upstream refresh token sealed in the old record.
func TestStoreWrittenBeforeCompactGrants(t *testing.T) {
	var fx struct {
		Issuer               string `json:"issuer"`
		ClientID             string `json:"client_id"`
		AccessToken          string `json:"access_token"`
		RefreshToken         string `json:"refresh_token"`
		UpstreamRefreshToken string `json:"upstream_refresh_token"`
		Now                  string `json:"now"`
	}
	raw, err := os.ReadFile("testdata/store-2026-12/tokens.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile("testdata/store-2026-12/oauth.log")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "oauth.log")
	if err := os.WriteFile(path, log, 0o600); err != nil {
		t.Fatal(err)
	}
	start, err := time.Parse(time.RFC3339Nano, fx.Now)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: start.Add(time.Minute)}
	fs, err := store.OpenFileStore(path, store.WithClock(clock.Now), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	p := newFakeProvider(t)
	s, err := NewServer(Config{Issuer: fx.Issuer, Resources: []string{fx.Issuer + "/mcp", fx.Issuer + "/sse"},
		Store: fs, Provider: p, Secret: []byte("0123456789abcdef0123456789abcdef-test-secret"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var who *Identity
	bearer := s.RequireBearer(fx.Issuer+"/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who = IdentityFromContext(r.Context())
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+fx.AccessToken)
	bearer.ServeHTTP(rec, req)
	if rec.Code != 200 || who == nil || who.Subject != "user_alice" {
		t.Fatalf("old access token: %d, identity %+v", rec.Code, who)
	}

	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fx.RefreshToken}, "client_id": {fx.ClientID}}
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("POST", "/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("refresh with the old grant: %d %s", rec.Code, rec.Body)
	}
	p.mu.Lock()
	refreshed := slices.Clone(p.refreshed)
	p.mu.Unlock()
	if !slices.Equal(refreshed, []string{fx.UpstreamRefreshToken}) {
		t.Fatalf("the provider was asked to refresh %q, want the old grant's %q", refreshed, fx.UpstreamRefreshToken)
	}
}
