package authkittest_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workos/workos-go/v4/pkg/organizations"
	"github.com/workos/workos-go/v4/pkg/usermanagement"
	"github.com/workos/workos-go/v4/pkg/workos_errors"

	"remote-mcp-authkit/oauth/authkittest"
)

// The emulator costs an RSA key generation; tests that do not change its
// options share one.
var (
	sharedOnce sync.Once
	shared     *authkittest.Server
)

func sharedServer(t *testing.T) *authkittest.Server {
	t.Helper()
	sharedOnce.Do(func() { shared = authkittest.NewServer() })
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

func newClient(ak *authkittest.Server) *usermanagement.Client {
	c := usermanagement.NewClient(ak.APIKey())
	c.Endpoint = ak.URL
	return c
}

// browser is a client with a cookie jar that stops at the first redirect,
// so the test sees where the emulator sends the browser.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func pkce(t *testing.T) (verifier, challenge string) {
	t.Helper()
	verifier = base64.RawURLEncoding.EncodeToString([]byte(rand.Text() + rand.Text()))
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// signIn runs the browser part of the flow and returns the code.
func signIn(t *testing.T, ak *authkittest.Server, email, challenge string) string {
	t.Helper()
	u, err := newClient(ak).GetAuthorizationURL(usermanagement.GetAuthorizationURLOpts{
		ClientID: ak.ClientID(), Provider: "authkit", RedirectURI: "http://127.0.0.1:9/callback?x=1",
		State: "st-123", CodeChallenge: challenge, CodeChallengeMethod: "S256",
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := authkittest.SignIn(context.Background(), browser(t), u.String(), email)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("sign-in answered %s, want 302", res.Status)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if loc.Host != "127.0.0.1:9" || loc.Path != "/callback" || loc.Query().Get("x") != "1" {
		t.Fatalf("redirected to %s, want the redirect_uri with its query kept", loc)
	}
	if got := loc.Query().Get("state"); got != "st-123" {
		t.Fatalf("state = %q, want st-123", got)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatal("no code in the redirect")
	}
	return code
}

func jwtParts(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("access token has %d parts, want 3", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

func httpError(t *testing.T, err error) workos_errors.HTTPError {
	t.Helper()
	var he workos_errors.HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("error %v (%T) is not a workos HTTPError", err, err)
	}
	return he
}

func TestSignInPageHasOneButtonPerUser(t *testing.T) {
	tests := []struct {
		name  string
		opts  []authkittest.Option
		want  []string
		names []string
	}{
		{"default users", nil, []string{"ada@example.com", "grace@example.com"}, []string{"Ada Lovelace", "Grace Hopper"}},
		{"custom users", []authkittest.Option{authkittest.WithUsers([]authkittest.User{
			{Email: "Linus@Example.org", FirstName: "Linus"}, {Email: "ken@example.org", FirstName: "Ken", LastName: "T"},
		})}, []string{"linus@example.org", "ken@example.org"}, []string{"Linus", "Ken T"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ak := sharedServer(t)
			if tt.opts != nil {
				ak = authkittest.NewServer(tt.opts...)
				defer ak.Close()
			}
			u, _ := newClient(ak).GetAuthorizationURL(usermanagement.GetAuthorizationURLOpts{
				ClientID: ak.ClientID(), Provider: "authkit", RedirectURI: "https://app.example/cb", State: "s"})
			res, err := http.Get(u.String())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("page: %s %s", res.Status, body)
			}
			form, err := authkittest.ParseSignInPage(string(body))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(form.Emails, tt.want) {
				t.Fatalf("buttons for %v, want %v", form.Emails, tt.want)
			}
			if got := strings.Count(string(body), "<button"); got != len(tt.want) {
				t.Fatalf("%d buttons on the page, want %d", got, len(tt.want))
			}
			for _, n := range tt.names {
				if !strings.Contains(string(body), n) {
					t.Errorf("page does not name %q", n)
				}
			}
			if form.Hidden.Get("csrf_token") == "" || form.Hidden.Get("sign_in") == "" {
				t.Fatalf("form lacks its hidden fields: %v", form.Hidden)
			}
		})
	}
}

func TestAuthorizeRefusesBadRequests(t *testing.T) {
	ak := sharedServer(t)
	good := url.Values{"client_id": {ak.ClientID()}, "response_type": {"code"}, "provider": {"authkit"},
		"redirect_uri": {"https://app.example/cb"}}
	tests := []struct {
		name, key, value string
	}{
		{"unknown client", "client_id", "client_other"},
		{"implicit flow", "response_type", "token"},
		{"other provider", "provider", "GoogleOAuth"},
		{"relative redirect", "redirect_uri", "/cb"},
		{"javascript redirect", "redirect_uri", "javascript:alert(1)"},
		{"plain PKCE", "code_challenge_method", "plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range good {
				q[k] = v
			}
			q.Set(tt.key, tt.value)
			if tt.key == "code_challenge_method" {
				q.Set("code_challenge", strings.Repeat("a", 43))
			}
			res, err := http.Get(ak.URL + "/user_management/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %s, want 400", res.Status)
			}
		})
	}
}

func TestCodeFlowThroughWorkOSClient(t *testing.T) {
	ak := sharedServer(t)
	verifier, challenge := pkce(t)
	code := signIn(t, ak, "ada@example.com", challenge)

	c := newClient(ak)
	res, err := c.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{
		ClientID: ak.ClientID(), Code: code, CodeVerifier: verifier})
	if err != nil {
		t.Fatal(err)
	}
	if res.User.Email != "ada@example.com" || res.User.FirstName != "Ada" || res.User.LastName != "Lovelace" ||
		!strings.HasPrefix(res.User.ID, "user_") || res.OrganizationID != "org_acme" {
		t.Fatalf("unexpected user/org: %+v org %q", res.User, res.OrganizationID)
	}
	if res.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	h, cl := jwtParts(t, res.AccessToken)
	if h["alg"] != "RS256" || h["kid"] == "" {
		t.Fatalf("header %v", h)
	}
	if cl["iss"] != ak.Issuer() || cl["sub"] != res.User.ID || cl["org_id"] != "org_acme" || cl["role"] != "admin" {
		t.Fatalf("claims %v", cl)
	}
	if p, _ := cl["permissions"].([]any); len(p) != 1 || p[0] != "image_generation" {
		t.Fatalf("permissions %v", cl["permissions"])
	}
	if sid, _ := cl["sid"].(string); !strings.HasPrefix(sid, "session_") {
		t.Fatalf("sid %v", cl["sid"])
	}

	// The JWKS names the key that signed the token.
	jwksURL, _ := c.GetJWKSURL(ak.ClientID())
	jr, err := http.Get(jwksURL.String())
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []map[string]string }
	json.NewDecoder(jr.Body).Decode(&set)
	jr.Body.Close()
	if len(set.Keys) != 1 || set.Keys[0]["kid"] != h["kid"] || set.Keys[0]["kty"] != "RSA" {
		t.Fatalf("jwks %v does not hold kid %v", set, h["kid"])
	}

	// Replaying the code fails, even with the right verifier.
	_, err = c.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{
		ClientID: ak.ClientID(), Code: code, CodeVerifier: verifier})
	if he := httpError(t, err); he.Code != 400 || he.ErrorCode != "invalid_grant" {
		t.Fatalf("replay: %v", err)
	}
}

func TestPKCEVerifierChecked(t *testing.T) {
	ak := sharedServer(t)
	other, _ := pkce(t)
	tests := []struct{ name, verifier string }{
		{"wrong verifier", other},
		{"missing verifier", ""},
		{"too short", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier, challenge := pkce(t)
			code := signIn(t, ak, "grace@example.com", challenge)
			_, err := newClient(ak).AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{
				ClientID: ak.ClientID(), Code: code, CodeVerifier: tt.verifier})
			if he := httpError(t, err); he.Code != 400 || he.ErrorCode != "invalid_grant" {
				t.Fatalf("got %v, want 400 invalid_grant", err)
			}
			// The failed attempt spent the code.
			_, err = newClient(ak).AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{
				ClientID: ak.ClientID(), Code: code, CodeVerifier: verifier})
			if he := httpError(t, err); he.ErrorCode != "invalid_grant" {
				t.Fatalf("code usable after a failed attempt: %v", err)
			}
		})
	}
}

func TestCodeExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ak := authkittest.NewServer(authkittest.WithClock(clock), authkittest.WithCodeTTL(time.Minute))
	defer ak.Close()
	verifier, challenge := pkce(t)
	code := signIn(t, ak, "ada@example.com", challenge)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	_, err := newClient(ak).AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{
		ClientID: ak.ClientID(), Code: code, CodeVerifier: verifier})
	if he := httpError(t, err); he.ErrorCode != "invalid_grant" {
		t.Fatalf("expired code: %v", err)
	}
}

func TestClientAuthentication(t *testing.T) {
	ak := sharedServer(t)
	c := usermanagement.NewClient("sk_test_wrong")
	c.Endpoint = ak.URL
	_, err := c.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{
		ClientID: ak.ClientID(), Code: "x"})
	if he := httpError(t, err); he.Code != 401 || he.ErrorCode != "invalid_client" {
		t.Fatalf("wrong API key: %v", err)
	}
	err = c.RevokeSession(context.Background(), usermanagement.RevokeSessionOpts{SessionID: "session_x"})
	if he := httpError(t, err); he.Code != 401 {
		t.Fatalf("revoke with wrong API key: %v", err)
	}
}

func authenticate(t *testing.T, ak *authkittest.Server, email string) usermanagement.AuthenticateResponse {
	t.Helper()
	verifier, challenge := pkce(t)
	code := signIn(t, ak, email, challenge)
	res, err := newClient(ak).AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{
		ClientID: ak.ClientID(), Code: code, CodeVerifier: verifier})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRefreshRotatesAndSeesChanges(t *testing.T) {
	ak := authkittest.NewServer(authkittest.WithUsers([]authkittest.User{{Email: "u@example.com", OrganizationID: "org_1"}}))
	defer ak.Close()
	first := authenticate(t, ak, "u@example.com")
	if err := ak.SetPermissions("u@example.com", []string{"image_generation"}); err != nil {
		t.Fatal(err)
	}
	c := newClient(ak)
	ref, err := c.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: ak.ClientID(), RefreshToken: first.RefreshToken, OrganizationID: "org_1"})
	if err != nil {
		t.Fatal(err)
	}
	if ref.RefreshToken == "" || ref.RefreshToken == first.RefreshToken {
		t.Fatal("refresh token not rotated")
	}
	_, before := jwtParts(t, first.AccessToken)
	_, after := jwtParts(t, ref.AccessToken)
	if p, _ := after["permissions"].([]any); len(p) != 1 || p[0] != "image_generation" {
		t.Fatalf("permissions after refresh %v", after["permissions"])
	}
	if before["sid"] != after["sid"] {
		t.Fatalf("refresh changed the session: %v -> %v", before["sid"], after["sid"])
	}
	// The rotated-out token is spent.
	_, err = c.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: ak.ClientID(), RefreshToken: first.RefreshToken})
	if he := httpError(t, err); he.Code != 400 || he.ErrorCode != "invalid_grant" {
		t.Fatalf("old refresh token: %v", err)
	}
	// Another organization is refused.
	_, err = c.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: ak.ClientID(), RefreshToken: ref.RefreshToken, OrganizationID: "org_2"})
	if he := httpError(t, err); he.ErrorCode != "invalid_grant" {
		t.Fatalf("foreign organization: %v", err)
	}
	// After RevokeSessions the session's refresh token is refused.
	if n := ak.RevokeSessions("u@example.com"); n != 1 {
		t.Fatalf("RevokeSessions ended %d sessions, want 1", n)
	}
	_, err = c.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: ak.ClientID(), RefreshToken: ref.RefreshToken})
	if he := httpError(t, err); he.Code != 400 || he.ErrorCode != "invalid_grant" {
		t.Fatalf("revoked session: %v", err)
	}
}

func TestRevokeSessionAPI(t *testing.T) {
	ak := sharedServer(t)
	res := authenticate(t, ak, "grace@example.com")
	_, cl := jwtParts(t, res.AccessToken)
	sid := cl["sid"].(string)
	c := newClient(ak)
	if err := c.RevokeSession(context.Background(), usermanagement.RevokeSessionOpts{SessionID: sid}); err != nil {
		t.Fatal(err)
	}
	if !ak.SessionRevoked(sid) {
		t.Fatal("session not revoked")
	}
	_, err := c.AuthenticateWithRefreshToken(context.Background(), usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID: ak.ClientID(), RefreshToken: res.RefreshToken})
	if he := httpError(t, err); he.ErrorCode != "invalid_grant" {
		t.Fatalf("refresh after revoke: %v", err)
	}
	err = c.RevokeSession(context.Background(), usermanagement.RevokeSessionOpts{SessionID: "session_unknown"})
	if he := httpError(t, err); he.Code != 404 {
		t.Fatalf("revoke unknown session: %v", err)
	}
}

func TestSignInFormCSRF(t *testing.T) {
	ak := sharedServer(t)
	u, _ := newClient(ak).GetAuthorizationURL(usermanagement.GetAuthorizationURLOpts{
		ClientID: ak.ClientID(), Provider: "authkit", RedirectURI: "https://app.example/cb"})
	load := func(b *http.Client) *authkittest.SignInForm {
		res, err := b.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		f, err := authkittest.ParseSignInPage(string(body))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	post := func(b *http.Client, vals url.Values) int {
		res, err := b.PostForm(ak.URL+"/user_management/authorize", vals)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	with := func(f *authkittest.SignInForm, k, v string) url.Values {
		vals := url.Values{"email": {"ada@example.com"}}
		for kk, vv := range f.Hidden {
			vals[kk] = vv
		}
		if k != "" {
			vals.Set(k, v)
		}
		return vals
	}

	b := browser(t)
	f := load(b)
	if got := post(b, with(f, "csrf_token", "forged")); got != http.StatusForbidden {
		t.Fatalf("forged CSRF token: %d, want 403", got)
	}
	// Another browser (no cookie) submitting the page's real token.
	if got := post(browser(t), with(f, "", "")); got != http.StatusForbidden {
		t.Fatalf("missing CSRF cookie: %d, want 403", got)
	}
	if got := post(b, with(f, "email", "mallory@example.com")); got != http.StatusBadRequest {
		t.Fatalf("unknown user: %d, want 400", got)
	}
	if got := post(b, with(f, "", "")); got != http.StatusFound {
		t.Fatalf("genuine submission: %d, want 302", got)
	}
	if got := post(b, with(f, "", "")); got != http.StatusBadRequest {
		t.Fatalf("second submission of the same page: %d, want 400", got)
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	mux := http.NewServeMux()
	front := httptest.NewServer(mux)
	defer front.Close()
	ak, err := authkittest.NewHandler(front.URL + "/_authkit/")
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/_authkit/", http.StripPrefix("/_authkit", ak.Handler()))
	if ak.URL != front.URL+"/_authkit" {
		t.Fatalf("URL %q", ak.URL)
	}
	res := authenticate(t, ak, "ada@example.com")
	_, cl := jwtParts(t, res.AccessToken)
	if cl["iss"] != front.URL+"/_authkit/user_management/"+ak.ClientID() {
		t.Fatalf("iss %v", cl["iss"])
	}
	jr, err := http.Get(front.URL + "/_authkit/sso/jwks/" + ak.ClientID())
	if err != nil {
		t.Fatal(err)
	}
	jr.Body.Close()
	if jr.StatusCode != 200 {
		t.Fatalf("jwks under prefix: %s", jr.Status)
	}

	for _, bad := range []string{"", "/_authkit", "ftp://x/y", "http://h/p?q=1"} {
		if _, err := authkittest.NewHandler(bad); err == nil {
			t.Errorf("NewHandler(%q) accepted", bad)
		}
	}
}

func TestUsersFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `[{"email":"kay@example.com","first_name":"Kay","organization_id":"org_x","role":"admin","permissions":["p1"]}]`)
	ak, err := authkittest.NewHandler("http://localhost:1/_authkit", authkittest.WithUsersFile(good))
	if err != nil {
		t.Fatal(err)
	}
	us := ak.Users()
	if len(us) != 1 || us[0].Email != "kay@example.com" || us[0].Role != "admin" || !slices.Equal(us[0].Permissions, []string{"p1"}) || !strings.HasPrefix(us[0].ID, "user_") {
		t.Fatalf("users %+v", us)
	}
	for name, content := range map[string]string{
		"empty.json":   `[]`,
		"unknown.json": `[{"email":"a@b.c","colour":"red"}]`,
		"dup.json":     `[{"email":"a@b.c"},{"email":"A@b.c"}]`,
		"noat.json":    `[{"email":"nobody"}]`,
		"broken.json":  `[{"email":`,
	} {
		if _, err := authkittest.NewHandler("http://localhost:1", authkittest.WithUsersFile(write(name, content))); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := authkittest.NewHandler("http://localhost:1", authkittest.WithUsersFile(filepath.Join(dir, "absent.json"))); err == nil {
		t.Error("absent file accepted")
	}
}

func TestFaults(t *testing.T) {
	ak := authkittest.NewServer()
	defer ak.Close()
	c := newClient(ak)
	ak.SetFault(authkittest.Fault{Status: http.StatusServiceUnavailable})
	_, err := c.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{ClientID: ak.ClientID(), Code: "x"})
	if he := httpError(t, err); he.Code != 503 {
		t.Fatalf("outage: %v", err)
	}
	ak.SetFault(authkittest.Fault{Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.AuthenticateWithCode(ctx, usermanagement.AuthenticateWithCodeOpts{ClientID: ak.ClientID(), Code: "x"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow upstream: %v, want deadline exceeded", err)
	}
	ak.SetFault(authkittest.Fault{})
	_, err = c.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{ClientID: ak.ClientID(), Code: "x"})
	if he := httpError(t, err); he.ErrorCode != "invalid_grant" {
		t.Fatalf("after clearing the fault: %v", err)
	}
	if got := ak.Requests()["authenticate"]; got != 3 {
		t.Fatalf("authenticate requests = %d, want 3", got)
	}
}

func TestOrganizationEndpoint(t *testing.T) {
	ak := sharedServer(t)
	c := &organizations.Client{APIKey: ak.APIKey(), Endpoint: ak.URL}
	org, err := c.GetOrganization(context.Background(), organizations.GetOrganizationOpts{Organization: "org_acme"})
	if err != nil {
		t.Fatal(err)
	}
	if org.ID != "org_acme" || org.Name != "Acme" {
		t.Fatalf("organization %+v", org)
	}
	_, err = c.GetOrganization(context.Background(), organizations.GetOrganizationOpts{Organization: "org_none"})
	if he := httpError(t, err); he.Code != 404 {
		t.Fatalf("unknown organization: %v", err)
	}
	bad := &organizations.Client{APIKey: "sk_wrong", Endpoint: ak.URL}
	_, err = bad.GetOrganization(context.Background(), organizations.GetOrganizationOpts{Organization: "org_acme"})
	if he := httpError(t, err); he.Code != 401 {
		t.Fatalf("wrong API key: %v", err)
	}
}

// TestInProcessClient runs the whole flow against an emulator mounted at a
// URL that does not resolve: every request is served in-process.
func TestInProcessClient(t *testing.T) {
	ak, err := authkittest.NewHandler("https://mcp.invalid/_authkit")
	if err != nil {
		t.Fatal(err)
	}
	c := usermanagement.NewClient(ak.APIKey())
	c.Endpoint = ak.URL
	c.HTTPClient = ak.Client()
	verifier, challenge := pkce(t)
	u, _ := c.GetAuthorizationURL(usermanagement.GetAuthorizationURLOpts{ClientID: ak.ClientID(), Provider: "authkit",
		RedirectURI: "https://mcp.invalid/callback", State: "s1", CodeChallenge: challenge, CodeChallengeMethod: "S256"})
	b := browser(t)
	b.Transport = ak.Client().Transport
	res, err := authkittest.SignIn(context.Background(), b, u.String(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || loc.Query().Get("state") != "s1" {
		t.Fatalf("sign-in: %s to %s", res.Status, loc)
	}
	out, err := c.AuthenticateWithCode(context.Background(), usermanagement.AuthenticateWithCodeOpts{
		ClientID: ak.ClientID(), Code: loc.Query().Get("code"), CodeVerifier: verifier})
	if err != nil {
		t.Fatal(err)
	}
	if out.User.Email != "ada@example.com" {
		t.Fatalf("user %+v", out.User)
	}
	// Other hosts, and paths outside the mount, are not served.
	for _, other := range []string{"https://example.com/user_management/authorize", "https://mcp.invalid/mcp", "http://mcp.invalid/_authkit/sso/jwks/x"} {
		if _, err := ak.Client().Get(other); err == nil {
			t.Errorf("in-process client served %s", other)
		}
	}
}

func TestRegisteredRedirectURIs(t *testing.T) {
	ak, err := authkittest.NewHandler("http://localhost:1", authkittest.WithRedirectURIs("https://mcp.example/callback"))
	if err != nil {
		t.Fatal(err)
	}
	for uri, want := range map[string]int{
		"https://mcp.example/callback":     200,
		"https://mcp.example/callback/":    400,
		"https://mcp.example/callback?x=1": 400,
		"https://evil.example/callback":    400,
		"http://mcp.example/callback":      400,
	} {
		q := url.Values{"client_id": {ak.ClientID()}, "response_type": {"code"}, "provider": {"authkit"}, "redirect_uri": {uri}}
		rec := httptest.NewRecorder()
		ak.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/user_management/authorize?"+q.Encode(), nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", uri, rec.Code, want)
		}
	}
	if _, err := authkittest.NewHandler("http://localhost:1", authkittest.WithRedirectURIs("/callback")); err == nil {
		t.Error("relative redirect URI accepted")
	}
}

func TestRotateKey(t *testing.T) {
	ak := authkittest.NewServer()
	defer ak.Close()
	before := authenticate(t, ak, "ada@example.com")
	kid, err := ak.RotateKey()
	if err != nil {
		t.Fatal(err)
	}
	after := authenticate(t, ak, "ada@example.com")
	h0, _ := jwtParts(t, before.AccessToken)
	h1, _ := jwtParts(t, after.AccessToken)
	if h1["kid"] != kid || h0["kid"] == kid {
		t.Fatalf("kids before %v after %v, new %v", h0["kid"], h1["kid"], kid)
	}
	jr, err := http.Get(ak.URL + "/sso/jwks/" + ak.ClientID())
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []map[string]string }
	json.NewDecoder(jr.Body).Decode(&set)
	jr.Body.Close()
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k["kid"])
	}
	if !slices.Equal(kids, []string{kid, h0["kid"].(string)}) {
		t.Fatalf("published kids %v, want the new then the previous", kids)
	}
}
