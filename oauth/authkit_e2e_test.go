package oauth_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/oauth/authkit"
	"remote-mcp-authkit/oauth/authkittest"
	"remote-mcp-authkit/store"
)

// TestWithAuthKitEmulator runs the authorization server against the real
// AuthKit provider talking to the AuthKit emulator: sign-in, identity on
// the MCP endpoint, a permission change seen at refresh, an upstream
// outage, an upstream sign-out, and revocation ending the upstream session.
func TestWithAuthKitEmulator(t *testing.T) {
	ak := authkittest.NewServer()
	defer ak.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	provider, err := authkit.New(authkit.Config{ClientID: ak.ClientID(), APIKey: ak.APIKey(), APIURL: ak.URL, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := oauth.LoadOrCreateSecret(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	var mu sync.Mutex
	var changes []oauth.Identity
	srv, err := oauth.NewServer(oauth.Config{
		Issuer: base, Resources: []string{base + "/mcp"}, Store: store.NewMemoryStore(), Provider: provider,
		Secret: secret, Logger: quiet,
		OnGrantIdentityChanged: func(old, new oauth.Identity) {
			mu.Lock()
			changes = append(changes, new)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", oauth.CORS(srv.RequireBearer(base+"/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(oauth.IdentityFromContext(r.Context()))
	}))))
	mux.Handle("/", srv.Handler())
	ts.Config.Handler = mux
	ts.Start()
	defer ts.Close()

	const redirect = "http://127.0.0.1:33418/"
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := func(path string, v url.Values) (int, map[string]any) {
		resp, err := http.PostForm(base+path, v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	call := func(tok string) (int, oauth.Identity) {
		req, _ := http.NewRequest("POST", base+"/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var id oauth.Identity
		json.NewDecoder(resp.Body).Decode(&id)
		return resp.StatusCode, id
	}

	// Register and sign in as Ada.
	resp, err := http.Post(base+"/register", "application/json",
		strings.NewReader(`{"redirect_uris":["`+redirect+`"],"token_endpoint_auth_method":"none","client_name":"AuthKit E2E"}`))
	if err != nil {
		t.Fatal(err)
	}
	var reg map[string]any
	json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	clientID := reg["client_id"].(string)
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	signIn := func() string {
		q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "state": {"s1"},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
		resp, err := browser.Get(base + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		next := resp.Header.Get("Location")
		if resp.StatusCode == 200 {
			pending := regexp.MustCompile(`name="pending" value="([^"]+)"`).FindSubmatch(body)
			csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(body)
			resp, err = browser.PostForm(base+"/authorize", url.Values{"pending": {string(pending[1])}, "csrf_token": {string(csrf[1])}, "decision": {"approve"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			next = resp.Header.Get("Location")
		}
		if !strings.HasPrefix(next, ak.URL) {
			t.Fatalf("not sent to AuthKit: %q", next)
		}
		resp, err = authkittest.SignIn(context.Background(), browser, next, "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = browser.Get(resp.Header.Get("Location")) // our /callback
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		back, _ := url.Parse(resp.Header.Get("Location"))
		if !strings.HasPrefix(back.String(), redirect) || back.Query().Get("code") == "" {
			t.Fatalf("callback answered %d %q", resp.StatusCode, back)
		}
		st, tok := form("/token", url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")},
			"redirect_uri": {redirect}, "code_verifier": {verifier}, "client_id": {clientID}})
		if st != 200 {
			t.Fatalf("token: %d %v", st, tok)
		}
		return tok["access_token"].(string) + " " + tok["refresh_token"].(string)
	}
	at, rt, _ := strings.Cut(signIn(), " ")
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
	at, rt, _ = strings.Cut(signIn(), " ")
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
