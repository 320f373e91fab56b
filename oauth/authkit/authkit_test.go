package authkit_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/oauth/authkit"
	"remote-mcp-authkit/oauth/authkittest"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newProvider(t *testing.T, ak *authkittest.Server, edit func(*authkit.Config)) *authkit.Provider {
	t.Helper()
	cfg := authkit.Config{ClientID: ak.ClientID(), APIKey: ak.APIKey(), APIURL: ak.URL, Logger: quietLogger()}
	if edit != nil {
		edit(&cfg)
	}
	p, err := authkit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func pkce() (verifier, challenge string) {
	verifier = base64.RawURLEncoding.EncodeToString([]byte(rand.Text() + rand.Text()))
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// callback is a stand-in for our /callback: it records what AuthKit sent
// the browser back with.
type callback struct {
	*httptest.Server
	mu          sync.Mutex
	code, state string
}

func newCallback(t *testing.T) *callback {
	cb := &callback{}
	cb.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		cb.mu.Lock()
		cb.code, cb.state = r.URL.Query().Get("code"), r.URL.Query().Get("state")
		cb.mu.Unlock()
		io.WriteString(w, "signed in")
	}))
	t.Cleanup(cb.Close)
	return cb
}

// browserSignIn runs the browser's part: our AuthorizationURL, the
// emulator's sign-in page, the user's button, the redirect to our callback.
// It returns the code the callback received and the verifier to redeem it.
func browserSignIn(t *testing.T, p *authkit.Provider, email string) (code, verifier string) {
	t.Helper()
	cb := newCallback(t)
	verifier, challenge := pkce()
	state := rand.Text()
	authURL, err := p.AuthorizationURL(state, challenge, cb.URL+"/callback")
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	res, err := authkittest.SignIn(context.Background(), &http.Client{Jar: jar, Timeout: 10 * time.Second}, authURL, email)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "signed in" || res.Request.URL.Host != strings.TrimPrefix(cb.URL, "http://") {
		t.Fatalf("sign-in ended at %s with %s %q", res.Request.URL, res.Status, body)
	}
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.state != state {
		t.Fatalf("callback state %q, want %q", cb.state, state)
	}
	if cb.code == "" {
		t.Fatal("callback received no code")
	}
	return cb.code, verifier
}

func signIn(t *testing.T, p *authkit.Provider, email string) *oauth.UpstreamSession {
	t.Helper()
	code, verifier := browserSignIn(t, p, email)
	s, err := p.Exchange(context.Background(), code, verifier)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthorizationURL(t *testing.T) {
	ak := authkittest.NewServer()
	defer ak.Close()
	p := newProvider(t, ak, nil)
	got, err := p.AuthorizationURL("st", "ch", "https://mcp.example/callback")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	want := map[string]string{"client_id": ak.ClientID(), "provider": "authkit", "response_type": "code",
		"redirect_uri": "https://mcp.example/callback", "state": "st", "code_challenge": "ch", "code_challenge_method": "S256"}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if base := u.Scheme + "://" + u.Host + u.Path; base != ak.URL+"/user_management/authorize" {
		t.Errorf("URL %s does not point at the emulator's authorize endpoint", base)
	}
	for _, args := range [][3]string{{"", "ch", "https://x/cb"}, {"st", "", "https://x/cb"}, {"st", "ch", ""}} {
		if _, err := p.AuthorizationURL(args[0], args[1], args[2]); err == nil {
			t.Errorf("AuthorizationURL%q accepted", args)
		}
	}
}

func TestSignInAndExchange(t *testing.T) {
	ak := authkittest.NewServer()
	defer ak.Close()
	p := newProvider(t, ak, nil)

	tests := []struct {
		email, name, role string
		perms             []string
	}{
		{"ada@example.com", "Ada Lovelace", "admin", []string{"image_generation"}},
		{"grace@example.com", "Grace Hopper", "member", nil},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			s := signIn(t, p, tt.email)
			id := s.Identity
			var want authkittest.User
			for _, u := range ak.Users() {
				if u.Email == tt.email {
					want = u
				}
			}
			if id.Subject != want.ID || id.Email != tt.email || id.Name != tt.name ||
				id.OrganizationID != "org_acme" || id.Organization != "Acme" || id.Role != tt.role || !slices.Equal(id.Permissions, tt.perms) {
				t.Fatalf("identity %+v", id)
			}
			if !strings.HasPrefix(id.SessionID, "session_") || s.AccessToken == "" || s.RefreshToken == "" {
				t.Fatalf("session %q, tokens present %v %v", id.SessionID, s.AccessToken != "", s.RefreshToken != "")
			}
			if id.HasPermission("image_generation") != (tt.role == "admin") {
				t.Fatalf("HasPermission mismatch for %s", tt.email)
			}
		})
	}
	// Both users are in Acme: its name was looked up once.
	if n := ak.Requests()["organization"]; n != 1 {
		t.Fatalf("%d organization lookups, want 1 (cached)", n)
	}
}

func TestSignInWithoutOrganization(t *testing.T) {
	ak := authkittest.NewServer(authkittest.WithUsers([]authkittest.User{
		{Email: "solo@example.com", FirstName: "Solo", Permissions: []string{"p"}},
	}))
	defer ak.Close()
	p := newProvider(t, ak, nil)
	s := signIn(t, p, "solo@example.com")
	if s.Identity.OrganizationID != "" || s.Identity.Organization != "" || s.Identity.Name != "Solo" ||
		!slices.Equal(s.Identity.Permissions, []string{"p"}) {
		t.Fatalf("identity %+v", s.Identity)
	}
	if n := ak.Requests()["organization"]; n != 0 {
		t.Fatalf("%d organization lookups for a user without one", n)
	}
	if _, err := p.Refresh(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

func TestExchangeRefusals(t *testing.T) {
	ak := authkittest.NewServer()
	defer ak.Close()
	p := newProvider(t, ak, nil)
	ctx := context.Background()

	t.Run("wrong verifier", func(t *testing.T) {
		code, _ := browserSignIn(t, p, "ada@example.com")
		other, _ := pkce()
		_, err := p.Exchange(ctx, code, other)
		if !errors.Is(err, authkit.ErrCodeRejected) || errors.Is(err, oauth.ErrUpstreamUnavailable) {
			t.Fatalf("err %v, want ErrCodeRejected only", err)
		}
	})
	t.Run("replayed code", func(t *testing.T) {
		code, verifier := browserSignIn(t, p, "ada@example.com")
		if _, err := p.Exchange(ctx, code, verifier); err != nil {
			t.Fatal(err)
		}
		_, err := p.Exchange(ctx, code, verifier)
		if !errors.Is(err, authkit.ErrCodeRejected) {
			t.Fatalf("replay: %v, want ErrCodeRejected", err)
		}
	})
	t.Run("made-up code", func(t *testing.T) {
		v, _ := pkce()
		_, err := p.Exchange(ctx, "not-a-code", v)
		if !errors.Is(err, authkit.ErrCodeRejected) {
			t.Fatalf("err %v, want ErrCodeRejected", err)
		}
		if strings.Contains(err.Error(), "not-a-code") {
			t.Fatalf("error %q repeats the code", err)
		}
	})
	t.Run("issuer not accepted", func(t *testing.T) {
		strict := newProvider(t, ak, func(c *authkit.Config) { c.Issuers = []string{"https://api.workos.com"} })
		code, verifier := browserSignIn(t, strict, "ada@example.com")
		_, err := strict.Exchange(ctx, code, verifier)
		if !errors.Is(err, authkit.ErrInvalidToken) {
			t.Fatalf("err %v, want ErrInvalidToken", err)
		}
	})
	t.Run("token already expired by our clock", func(t *testing.T) {
		late := newProvider(t, ak, func(c *authkit.Config) {
			c.Now = func() time.Time { return time.Now().Add(time.Hour) }
		})
		code, verifier := browserSignIn(t, late, "ada@example.com")
		_, err := late.Exchange(ctx, code, verifier)
		if !errors.Is(err, authkit.ErrInvalidToken) {
			t.Fatalf("err %v, want ErrInvalidToken", err)
		}
	})
	t.Run("another emulator's keys", func(t *testing.T) {
		// Same client ID and issuer, but the key set comes from an emulator
		// that did not sign the token: the signature must not verify.
		other := authkittest.NewServer(authkittest.WithClientID(ak.ClientID()))
		defer other.Close()
		split := newProvider(t, ak, nil)
		code, verifier := browserSignIn(t, split, "ada@example.com")
		mux := http.NewServeMux()
		mux.Handle("/sso/jwks/", other.Handler())
		mux.Handle("/", ak.Handler())
		front := httptest.NewServer(mux)
		defer front.Close()
		p2 := newProvider(t, ak, func(c *authkit.Config) {
			c.APIURL = front.URL
			c.Issuers = []string{ak.Issuer()}
		})
		_, err := p2.Exchange(ctx, code, verifier)
		if !errors.Is(err, authkit.ErrInvalidToken) {
			t.Fatalf("err %v, want ErrInvalidToken", err)
		}
	})
}

func TestRefresh(t *testing.T) {
	ak := authkittest.NewServer()
	defer ak.Close()
	p := newProvider(t, ak, nil)
	ctx := context.Background()

	s := signIn(t, p, "grace@example.com")
	s.Identity.ClientID, s.Identity.GrantID = "mcp-client", "grant-1" // set by the authorization server
	if s.Identity.HasPermission("image_generation") {
		t.Fatal("grace starts without image_generation")
	}
	if err := ak.SetPermissions("grace@example.com", []string{"image_generation"}); err != nil {
		t.Fatal(err)
	}
	if err := ak.SetRole("grace@example.com", "admin"); err != nil {
		t.Fatal(err)
	}
	r, err := p.Refresh(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	id := r.Identity
	if !slices.Equal(id.Permissions, []string{"image_generation"}) || id.Role != "admin" {
		t.Fatalf("after refresh: role %q permissions %v", id.Role, id.Permissions)
	}
	if id.Subject != s.Identity.Subject || id.Email != "grace@example.com" || id.Name != "Grace Hopper" ||
		id.SessionID != s.Identity.SessionID || id.ClientID != "mcp-client" || id.GrantID != "grant-1" {
		t.Fatalf("refresh lost identity fields: %+v", id)
	}
	if r.RefreshToken == s.RefreshToken || r.AccessToken == s.AccessToken {
		t.Fatal("tokens not renewed")
	}
	// The rotated-out refresh token is spent.
	if _, err := p.Refresh(ctx, s); !errors.Is(err, oauth.ErrUpstreamRevoked) {
		t.Fatalf("old refresh token: %v, want ErrUpstreamRevoked", err)
	}
	// An administrator ends the user's sessions.
	ak.RevokeSessions("grace@example.com")
	if _, err := p.Refresh(ctx, r); !errors.Is(err, oauth.ErrUpstreamRevoked) {
		t.Fatalf("revoked session: %v, want ErrUpstreamRevoked", err)
	}
	if _, err := p.Refresh(ctx, &oauth.UpstreamSession{}); !errors.Is(err, oauth.ErrUpstreamRevoked) {
		t.Fatalf("no refresh token: %v, want ErrUpstreamRevoked", err)
	}
}

func TestRevoke(t *testing.T) {
	ak := authkittest.NewServer()
	defer ak.Close()
	p := newProvider(t, ak, nil)
	ctx := context.Background()
	s := signIn(t, p, "ada@example.com")
	if err := p.Revoke(ctx, s); err != nil {
		t.Fatal(err)
	}
	if !ak.SessionRevoked(s.Identity.SessionID) {
		t.Fatal("the emulator's session was not ended")
	}
	if _, err := p.Refresh(ctx, s); !errors.Is(err, oauth.ErrUpstreamRevoked) {
		t.Fatalf("refresh after revoke: %v, want ErrUpstreamRevoked", err)
	}
	// Unknown or absent sessions count as ended.
	gone := &oauth.UpstreamSession{Identity: oauth.Identity{SessionID: "session_unknown"}}
	if err := p.Revoke(ctx, gone); err != nil {
		t.Fatalf("unknown session: %v", err)
	}
	if err := p.Revoke(ctx, &oauth.UpstreamSession{}); err != nil {
		t.Fatalf("no session: %v", err)
	}
	ak.SetFault(authkittest.Fault{Status: 503})
	if err := p.Revoke(ctx, signInAfterFault(t, ak, p)); !errors.Is(err, oauth.ErrUpstreamUnavailable) {
		t.Fatalf("revoke during an outage: %v, want ErrUpstreamUnavailable", err)
	}
}

// signInAfterFault signs in with the fault lifted, then restores it.
func signInAfterFault(t *testing.T, ak *authkittest.Server, p *authkit.Provider) *oauth.UpstreamSession {
	t.Helper()
	ak.SetFault(authkittest.Fault{})
	s := signIn(t, p, "ada@example.com")
	ak.SetFault(authkittest.Fault{Status: 503})
	return s
}

func TestUpstreamUnavailable(t *testing.T) {
	ctx := context.Background()

	t.Run("emulator down", func(t *testing.T) {
		ak := authkittest.NewServer()
		p := newProvider(t, ak, func(c *authkit.Config) { c.Timeout = 5 * time.Second })
		s := signIn(t, p, "ada@example.com")
		code, verifier := browserSignIn(t, p, "ada@example.com")
		ak.Close()
		if _, err := p.Exchange(ctx, code, verifier); !errors.Is(err, oauth.ErrUpstreamUnavailable) {
			t.Fatalf("exchange: %v, want ErrUpstreamUnavailable", err)
		}
		if _, err := p.Refresh(ctx, s); !errors.Is(err, oauth.ErrUpstreamUnavailable) || errors.Is(err, oauth.ErrUpstreamRevoked) {
			t.Fatalf("refresh: %v, want ErrUpstreamUnavailable only", err)
		}
		if err := p.Revoke(ctx, s); !errors.Is(err, oauth.ErrUpstreamUnavailable) {
			t.Fatalf("revoke: %v, want ErrUpstreamUnavailable", err)
		}
	})

	t.Run("slower than the timeout", func(t *testing.T) {
		ak := authkittest.NewServer()
		defer ak.Close()
		p := newProvider(t, ak, func(c *authkit.Config) { c.Timeout = 200 * time.Millisecond })
		s := signIn(t, p, "ada@example.com")
		ak.SetFault(authkittest.Fault{Delay: time.Minute})
		defer ak.SetFault(authkittest.Fault{})
		_, err := p.Refresh(ctx, s)
		if !errors.Is(err, oauth.ErrUpstreamUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("refresh: %v, want ErrUpstreamUnavailable from a deadline", err)
		}
		code, verifier := "any", "any"
		if _, err := p.Exchange(ctx, code, verifier); !errors.Is(err, oauth.ErrUpstreamUnavailable) {
			t.Fatalf("exchange: %v, want ErrUpstreamUnavailable", err)
		}
	})

	t.Run("caller gives up", func(t *testing.T) {
		ak := authkittest.NewServer()
		defer ak.Close()
		p := newProvider(t, ak, nil)
		s := signIn(t, p, "ada@example.com")
		ak.SetFault(authkittest.Fault{Delay: time.Minute})
		defer ak.SetFault(authkittest.Fault{})
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		if _, err := p.Refresh(cctx, s); !errors.Is(err, oauth.ErrUpstreamUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("refresh: %v, want ErrUpstreamUnavailable from cancellation", err)
		}
	})

	t.Run("error statuses", func(t *testing.T) {
		ak := authkittest.NewServer()
		defer ak.Close()
		p := newProvider(t, ak, nil)
		s := signIn(t, p, "ada@example.com")
		for _, status := range []int{500, 502, 503, 429} {
			ak.SetFault(authkittest.Fault{Status: status})
			_, err := p.Refresh(ctx, s)
			if !errors.Is(err, oauth.ErrUpstreamUnavailable) || errors.Is(err, oauth.ErrUpstreamRevoked) {
				t.Errorf("HTTP %d: %v, want ErrUpstreamUnavailable only", status, err)
			}
		}
		ak.SetFault(authkittest.Fault{})
		// The outage did not spend the refresh token.
		if _, err := p.Refresh(ctx, s); err != nil {
			t.Fatalf("refresh after the outage: %v", err)
		}
	})

	t.Run("wrong API key", func(t *testing.T) {
		ak := authkittest.NewServer()
		defer ak.Close()
		p := newProvider(t, ak, nil)
		s := signIn(t, p, "ada@example.com")
		bad := newProvider(t, ak, func(c *authkit.Config) { c.APIKey = "sk_test_wrong" })
		_, err := bad.Refresh(ctx, s)
		if !errors.Is(err, oauth.ErrUpstreamUnavailable) || errors.Is(err, oauth.ErrUpstreamRevoked) {
			t.Fatalf("refresh with a wrong key: %v, want ErrUpstreamUnavailable only", err)
		}
		if !strings.Contains(err.Error(), "WORKOS_CLIENT_SECRET") || strings.Contains(err.Error(), "sk_test_wrong") {
			t.Fatalf("error %q should name the setting and not the key", err)
		}
	})
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  authkit.Config
	}{
		{"no client ID", authkit.Config{APIKey: "sk"}},
		{"no API key", authkit.Config{ClientID: "client_1"}},
		{"client ID with slash", authkit.Config{ClientID: "a/b", APIKey: "sk"}},
		{"relative API URL", authkit.Config{ClientID: "client_1", APIKey: "sk", APIURL: "/api"}},
		{"API URL with query", authkit.Config{ClientID: "client_1", APIKey: "sk", APIURL: "https://h/?x=1"}},
		{"ftp API URL", authkit.Config{ClientID: "client_1", APIKey: "sk", APIURL: "ftp://h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := authkit.New(tt.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	p, err := authkit.New(authkit.Config{ClientID: "client_1", APIKey: "sk"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := p.AuthorizationURL("s", "c", "https://x/cb")
	if !strings.HasPrefix(u, authkit.DefaultAPIURL+"/user_management/authorize?") {
		t.Fatalf("default API URL not used: %s", u)
	}
}

// lockedBuffer collects log output from concurrent goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestConcurrentUseLogsNoSecrets runs sign-ins and refreshes in parallel on
// one provider (the race detector watches the key set and the caches), with
// debug logging on, then checks that no token or key reached the log.
func TestConcurrentUseLogsNoSecrets(t *testing.T) {
	ak := authkittest.NewServer()
	defer ak.Close()
	var logs lockedBuffer
	p := newProvider(t, ak, func(c *authkit.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	var (
		mu      sync.Mutex
		secrets = []string{ak.APIKey()}
		wg      sync.WaitGroup
	)
	// The browser part runs first, on the test goroutine (it may t.Fatal);
	// the provider calls then run at once, on a cold key set.
	type pending struct{ code, verifier string }
	var codes []pending
	for i := range 6 {
		code, verifier := browserSignIn(t, p, []string{"ada@example.com", "grace@example.com"}[i%2])
		codes = append(codes, pending{code, verifier})
	}
	for _, c := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, verifier := c.code, c.verifier
			s, err := p.Exchange(context.Background(), code, verifier)
			if err != nil {
				t.Error(err)
				return
			}
			r, err := p.Refresh(context.Background(), s)
			if err != nil {
				t.Error(err)
				return
			}
			_, err = p.Refresh(context.Background(), s) // spent: logs a refusal
			if !errors.Is(err, oauth.ErrUpstreamRevoked) {
				t.Errorf("reused refresh token: %v", err)
			}
			mu.Lock()
			secrets = append(secrets, code, verifier, s.AccessToken, s.RefreshToken, r.AccessToken, r.RefreshToken)
			mu.Unlock()
		}()
	}
	wg.Wait()
	out := logs.String()
	if !strings.Contains(out, "signed in") || !strings.Contains(out, "refused") {
		t.Fatalf("expected sign-in and refusal events in the log, got:\n%s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Fatalf("log contains a secret (%d bytes)", len(s))
		}
	}
}

// TestKeyRotation: after WorkOS rotates its signing key, the next token
// names a kid the provider has not seen; it fetches the key set again and
// accepts it.
func TestKeyRotation(t *testing.T) {
	ak := authkittest.NewServer()
	defer ak.Close()
	p := newProvider(t, ak, nil)
	s := signIn(t, p, "ada@example.com")
	if _, err := ak.RotateKey(); err != nil {
		t.Fatal(err)
	}
	jwksBefore := ak.Requests()["jwks"]
	if _, err := p.Refresh(context.Background(), s); err != nil {
		t.Fatalf("refresh after rotation: %v", err)
	}
	if n := ak.Requests()["jwks"] - jwksBefore; n != 1 {
		t.Fatalf("%d key set fetches after rotation, want 1", n)
	}
}
