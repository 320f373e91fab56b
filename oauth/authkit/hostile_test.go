package authkit_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/oauth/authkit"
	"remote-mcp-authkit/oauth/authkittest"
)

// wobbly serves an AuthKit emulator behind faults that the emulator's own
// Fault cannot make: a key set endpoint answering an error, and answers to
// authenticate held back after the emulator has done the work (WorkOS
// processed the refresh; its answer comes too late).
type wobbly struct {
	*authkittest.Server
	mu         sync.Mutex
	jwksStatus int
	holdAnswer time.Duration
	staleJWKS  bool   // serve the key set as it was when this was set
	stale      []byte // that key set
}

func newWobbly(t *testing.T) *wobbly {
	t.Helper()
	w := &wobbly{}
	ts := httptest.NewUnstartedServer(nil)
	ak, err := authkittest.NewHandler("http://" + ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	w.Server = ak
	ts.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		status, hold, stale := w.jwksStatus, w.holdAnswer, w.staleJWKS
		w.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/sso/jwks/") && status != 0 {
			http.Error(rw, "key set unavailable", status)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/sso/jwks/") {
			rec := httptest.NewRecorder()
			ak.Handler().ServeHTTP(rec, r)
			w.mu.Lock()
			if !stale || w.stale == nil {
				w.stale = rec.Body.Bytes()
			}
			body := w.stale
			w.mu.Unlock()
			rw.Header().Set("Content-Type", "application/json")
			rw.Write(body)
			return
		}
		if r.URL.Path != "/user_management/authenticate" || hold == 0 {
			ak.Handler().ServeHTTP(rw, r)
			return
		}
		rec := httptest.NewRecorder()
		ak.Handler().ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
		select {
		case <-time.After(hold):
		case <-r.Context().Done():
			return
		}
		for k, v := range rec.Header() {
			rw.Header()[k] = v
		}
		rw.WriteHeader(rec.Code)
		rw.Write(rec.Body.Bytes())
	})
	ts.Start()
	t.Cleanup(ts.Close)
	return w
}

func (w *wobbly) set(jwksStatus int, holdAnswer time.Duration) {
	w.mu.Lock()
	w.jwksStatus, w.holdAnswer = jwksStatus, holdAnswer
	w.mu.Unlock()
}

// A WorkOS refresh that succeeded is never thrown away: when the new access
// token cannot be verified because the key set endpoint fails just after a
// key rotation, Refresh returns the renewed tokens with
// ErrUpstreamUnverified, and a retry with them works once the key set is
// back. The spent refresh token would not.
func TestHostileRefreshKeySetDownAfterRotation(t *testing.T) {
	ak := newWobbly(t)
	p := newProvider(t, ak.Server, nil)
	ctx := context.Background()
	s := signIn(t, p, "ada@example.com")
	if _, err := ak.RotateKey(); err != nil {
		t.Fatal(err)
	}
	ak.set(http.StatusInternalServerError, 0)
	kept, err := p.Refresh(ctx, s)
	if !errors.Is(err, oauth.ErrUpstreamUnverified) || errors.Is(err, oauth.ErrUpstreamInvalid) {
		t.Fatalf("refresh while the key set fails: %v, want ErrUpstreamUnverified", err)
	}
	if kept == nil || kept.RefreshToken == "" || kept.RefreshToken == s.RefreshToken || kept.Identity.Subject != s.Identity.Subject {
		t.Fatalf("renewal not handed back: %+v", kept)
	}
	ak.set(0, 0)
	r, err := p.Refresh(ctx, kept)
	if err != nil {
		t.Fatalf("retry with the kept renewal: %v", err)
	}
	if r.Identity.Subject != s.Identity.Subject || r.Identity.SessionID != s.Identity.SessionID {
		t.Fatalf("identity after the retry: %+v", r.Identity)
	}
	if _, err := p.Refresh(ctx, s); !errors.Is(err, oauth.ErrUpstreamRevoked) {
		t.Fatalf("the spent refresh token: %v, want ErrUpstreamRevoked", err)
	}
}

// A key set that fails once, just after a rotation, costs no retry at all:
// Refresh tries the verification again after a short pause.
func TestRefreshVerificationRetried(t *testing.T) {
	ak := newWobbly(t)
	p := newProvider(t, ak.Server, nil)
	s := signIn(t, p, "ada@example.com")
	if _, err := ak.RotateKey(); err != nil {
		t.Fatal(err)
	}
	ak.set(http.StatusInternalServerError, 0)
	go func() {
		time.Sleep(100 * time.Millisecond)
		ak.set(0, 0)
	}()
	if _, err := p.Refresh(context.Background(), s); err != nil {
		t.Fatalf("refresh with a key set back within the retries: %v", err)
	}
}

// A token WorkOS answers with that is truly invalid (here: an issuer we do
// not accept) is ErrUpstreamInvalid, never a passing failure.
func TestHostileRefreshInvalidTokenIsPermanent(t *testing.T) {
	ak := newWobbly(t)
	p := newProvider(t, ak.Server, nil)
	s := signIn(t, p, "ada@example.com")
	var logs lockedBuffer
	strict := newProvider(t, ak.Server, func(c *authkit.Config) {
		c.Issuers = []string{"https://issuer.example.com/elsewhere"}
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	r, err := strict.Refresh(context.Background(), s)
	if !errors.Is(err, oauth.ErrUpstreamInvalid) || errors.Is(err, oauth.ErrUpstreamUnavailable) || errors.Is(err, oauth.ErrUpstreamUnverified) {
		t.Fatalf("refresh answered with a token of another issuer: %v, want ErrUpstreamInvalid only", err)
	}
	if r != nil {
		t.Fatalf("a refused renewal returned a session: %+v", r)
	}
	// The log line names the issuer the token had and the ones expected,
	// and never the token.
	line := logs.String()
	if !strings.Contains(line, "access token refused") || !strings.Contains(line, "iss="+ak.Issuer()) ||
		!strings.Contains(line, "https://issuer.example.com/elsewhere") {
		t.Errorf("refusal log line %q does not name the token's issuer and the expected ones", line)
	}
	if strings.Contains(line, "eyJ") {
		t.Errorf("refusal log line holds a token: %q", line)
	}
}

// A refresh WorkOS carried out but answered after our timeout is
// ErrUpstreamUnanswered: the refresh token it held is spent, as the next
// attempt shows.
func TestHostileRefreshAnsweredAfterTimeout(t *testing.T) {
	ak := newWobbly(t)
	p := newProvider(t, ak.Server, func(c *authkit.Config) { c.Timeout = 300 * time.Millisecond })
	s := signIn(t, p, "ada@example.com")
	ak.set(0, 2*time.Second)
	_, err := p.Refresh(context.Background(), s)
	if !errors.Is(err, oauth.ErrUpstreamUnanswered) {
		t.Fatalf("refresh answered late: %v, want ErrUpstreamUnanswered", err)
	}
	ak.set(0, 0)
	if _, err := p.Refresh(context.Background(), s); !errors.Is(err, oauth.ErrUpstreamRevoked) {
		t.Fatalf("the refresh token WorkOS spent: %v, want ErrUpstreamRevoked", err)
	}
}

// An unreachable WorkOS (nothing sent) is a plain ErrUpstreamUnavailable,
// not ErrUpstreamUnanswered: the refresh token is intact.
func TestRefreshNothingSentIsUnavailable(t *testing.T) {
	ak := newWobbly(t)
	p := newProvider(t, ak.Server, nil)
	s := signIn(t, p, "ada@example.com")
	dead := newProvider(t, ak.Server, func(c *authkit.Config) { c.APIURL = "http://127.0.0.1:1" })
	_, err := dead.Refresh(context.Background(), s)
	if !errors.Is(err, oauth.ErrUpstreamUnavailable) || errors.Is(err, oauth.ErrUpstreamUnanswered) {
		t.Fatalf("refresh against a closed port: %v, want ErrUpstreamUnavailable only", err)
	}
	if _, err := p.Refresh(context.Background(), s); err != nil {
		t.Fatalf("the refresh token after nothing was sent: %v", err)
	}
}

// An impersonated WorkOS session is visible: the sign-in carries the
// impersonator of the authenticate answer (email and reason), the sign-in
// log line names them, and a refresh keeps them from the act claim of the
// new access token.
func TestImpersonatedSession(t *testing.T) {
	ak := authkittest.NewServer(authkittest.WithUsers([]authkittest.User{
		{Email: "ada@example.com", OrganizationID: "org_acme", Role: "admin",
			Impersonator: "support@example.com", ImpersonationReason: "ticket 42"},
		{Email: "grace@example.com", OrganizationID: "org_acme"},
	}))
	defer ak.Close()
	var logs lockedBuffer
	p := newProvider(t, ak, func(c *authkit.Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	s := signIn(t, p, "ada@example.com")
	imp := s.Identity.Impersonator
	if imp == nil || imp.Email != "support@example.com" || imp.Reason != "ticket 42" {
		t.Fatalf("impersonator after sign-in: %+v", imp)
	}
	if line := logs.String(); !strings.Contains(line, "signed in") || !strings.Contains(line, "impersonator=support@example.com") {
		t.Errorf("sign-in log line %q does not name the impersonator", line)
	}
	r, err := p.Refresh(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if imp := r.Identity.Impersonator; imp == nil || imp.Email != "support@example.com" || imp.Reason != "ticket 42" {
		t.Fatalf("impersonator after refresh: %+v", imp)
	}
	// A plain session has none.
	if g := signIn(t, p, "grace@example.com"); g.Identity.Impersonator != nil {
		t.Fatalf("plain session has an impersonator: %+v", g.Identity.Impersonator)
	}
}

// Just after a rotation WorkOS may sign with a key its published key set
// does not list yet: the renewal is kept (ErrUpstreamUnverified), not
// refused, and the retry works once the set lists the key.
func TestHostileRefreshKeyNotYetPublished(t *testing.T) {
	ak := newWobbly(t)
	p := newProvider(t, ak.Server, nil)
	s := signIn(t, p, "ada@example.com")
	ak.mu.Lock()
	ak.staleJWKS = true // the key set keeps serving what it served before the rotation
	ak.mu.Unlock()
	if _, err := ak.RotateKey(); err != nil {
		t.Fatal(err)
	}
	kept, err := p.Refresh(context.Background(), s)
	if !errors.Is(err, oauth.ErrUpstreamUnverified) || kept == nil || kept.RefreshToken == s.RefreshToken {
		t.Fatalf("refresh signed with an unpublished key: %v, %+v; want the renewal kept", err, kept)
	}
	ak.mu.Lock()
	ak.staleJWKS = false
	ak.mu.Unlock()
	if _, err := p.Refresh(context.Background(), kept); err != nil {
		t.Fatalf("retry once the key is published: %v", err)
	}
}
