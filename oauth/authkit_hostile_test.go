package oauth_test

// AuthKit misbehaving: errors, slowness, an unreachable API, a key set
// down, answers lost. The authorization server answers in RFC 6749 form
// within bounds, keeps tokens good for a retry, and its bearer check keeps
// serving.

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"remote-mcp-authkit/oauth/authkit"
	"remote-mcp-authkit/oauth/authkittest"
)

// A WorkOS refresh that succeeded is never thrown away: WorkOS rotates its
// signing key and its key set endpoint answers 500 for a while. The refresh
// is answered "retry", and the retry works once the key set is back;
// before, the new WorkOS refresh token was dropped and the retry, with the
// spent one, revoked the grant.
func TestHostileAuthKitKeySetDownAtRefresh(t *testing.T) {
	f := newAKFlow(t, 5*time.Second, nil)
	_, rt := f.signIn("ada@example.com")
	if _, err := f.ak.RotateKey(); err != nil {
		t.Fatal(err)
	}
	f.faults.set(http.StatusInternalServerError, 0)
	st, out := f.refresh(rt)
	if st != 503 || out["error"] != "temporarily_unavailable" || !strings.Contains(out["error_description"].(string), "kept") {
		t.Fatalf("refresh while the key set fails: %d %v", st, out)
	}
	f.faults.set(0, 0)
	st, out = f.refresh(rt)
	if st != 200 {
		t.Fatalf("retry once the key set is back: %d %v", st, out)
	}
	if st, id := f.call(out["access_token"].(string)); st != 200 || id.Email != "ada@example.com" {
		t.Fatalf("access token after the retry: %d %+v", st, id)
	}
}

// A refresh WorkOS carried out but answered after our timeout: the client
// is told plainly what may have happened, and when the retry finds the
// WorkOS refresh token spent, the grant ends with that explanation, not as
// if an administrator had ended the session.
func TestHostileAuthKitRefreshAnsweredLate(t *testing.T) {
	f := newAKFlow(t, 500*time.Millisecond, nil)
	at, rt := f.signIn("ada@example.com")
	f.faults.set(0, 3*time.Second)
	st, out := f.refresh(rt)
	desc, _ := out["error_description"].(string)
	if st != 503 || out["error"] != "temporarily_unavailable" || !strings.Contains(desc, "did not arrive") || !strings.Contains(desc, "authorize again") {
		t.Fatalf("refresh answered late: %d %v", st, out)
	}
	f.faults.set(0, 0)
	st, out = f.refresh(rt)
	desc, _ = out["error_description"].(string)
	if st != 400 || out["error"] != "invalid_grant" || !strings.Contains(desc, "earlier attempt") {
		t.Fatalf("retry after WorkOS spent its refresh token: %d %v", st, out)
	}
	if st, _ := f.call(at); st != 401 {
		t.Errorf("access token of the ended grant: %d", st)
	}
}

// A token WorkOS answers with that is truly invalid (here: already
// expired by our clock, which has moved an hour on since the sign-in) ends
// the grant with a clear error at once, instead of a retry that cannot
// work.
func TestHostileAuthKitRefreshTokenInvalid(t *testing.T) {
	var skew atomic.Int64
	f := newAKFlow(t, 5*time.Second, func(c *authkit.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	at, rt := f.signIn("ada@example.com")
	skew.Store(int64(time.Hour))
	st, out := f.refresh(rt)
	desc, _ := out["error_description"].(string)
	if st != 400 || out["error"] != "invalid_grant" || !strings.Contains(desc, "failed verification") {
		t.Fatalf("refresh answered with an invalid token: %d %v", st, out)
	}
	if st, _ := f.call(at); st != 401 {
		t.Errorf("access token of the ended grant: %d", st)
	}
}

// refreshTimed refreshes for client and says how long the answer took.
func (f *akFlow) refreshTimed(client, rt string) (int, time.Duration, map[string]any) {
	f.t.Helper()
	start := time.Now()
	st, _, out := f.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {client}})
	return st, time.Since(start), out
}

// TestFaultUpstreamErrors: AuthKit answering 5xx or 429. Sign-in returns
// the browser to the client with temporarily_unavailable; refresh answers
// 503 temporarily_unavailable and the refresh token stays good for a retry;
// MCP calls with valid tokens are unaffected throughout.
func TestFaultUpstreamErrors(t *testing.T) {
	t.Parallel()
	s := newFlow(t, flowConfig{})
	emu := s.ak
	client, access, rt := s.tokens("ada@example.com")

	for _, status := range []int{500, 502, 503, 429} {
		b, cb := s.pendingCallback(client, "ada@example.com")
		emu.SetFault(authkittest.Fault{Status: status})
		s.wantClientError(b, cb, "temporarily_unavailable", 30*time.Second)
		st, d, out := s.refreshTimed(client, rt)
		wantOAuthError(t, "refresh during an outage", st, out, 503, "temporarily_unavailable")
		if d > 30*time.Second {
			t.Errorf("refresh took %v", d)
		}
		s.serves(access)
		emu.SetFault(authkittest.Fault{})
	}
	// The outage is over: the same refresh token works, and so does sign-in.
	st, _, out := s.refreshTimed(client, rt)
	if st != 200 {
		t.Fatalf("refresh after the outage: %d %v", st, out)
	}
	s.serves(out["access_token"].(string))
	s.tokens("grace@example.com")
}

// TestFaultUpstreamSlow: AuthKit holding every answer longer than the
// provider timeout. Refresh and sign-in give up with temporarily_unavailable
// (well within 30 s), and MCP calls keep answering while they wait.
func TestFaultUpstreamSlow(t *testing.T) {
	t.Parallel()
	s := newFlow(t, flowConfig{})
	emu := s.ak
	client, access, rt := s.tokens("ada@example.com")
	b, cb := s.pendingCallback(client, "grace@example.com")
	emu.SetFault(authkittest.Fault{Delay: time.Minute})

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.wantClientError(b, cb, "temporarily_unavailable", 30*time.Second)
	}()
	go func() {
		defer wg.Done()
		st, d, out := s.refreshTimed(client, rt)
		wantOAuthError(t, "refresh while AuthKit hangs", st, out, 503, "temporarily_unavailable")
		if d > 30*time.Second {
			t.Errorf("refresh took %v", d)
		}
	}()
	// Meanwhile, MCP is served.
	for range 3 {
		s.serves(access)
		time.Sleep(200 * time.Millisecond)
	}
	wg.Wait()
	emu.SetFault(authkittest.Fault{})
	if st, _, out := s.refreshTimed(client, rt); st != 200 {
		t.Fatalf("refresh after AuthKit recovered: %d %v", st, out)
	}
}

// TestFaultUpstreamGone: AuthKit unreachable (its listener closed).
func TestFaultUpstreamGone(t *testing.T) {
	t.Parallel()
	s := newFlow(t, flowConfig{})
	emu := s.ak
	client, access, rt := s.tokens("ada@example.com")
	b, cb := s.pendingCallback(client, "ada@example.com")
	s.up.Close()
	s.wantClientError(b, cb, "temporarily_unavailable", 30*time.Second)
	st, d, out := s.refreshTimed(client, rt)
	wantOAuthError(t, "refresh with AuthKit gone", st, out, 503, "temporarily_unavailable")
	if d > 30*time.Second {
		t.Errorf("refresh took %v", d)
	}
	s.serves(access)
	// A new authorization still reaches the consent page and is sent on to
	// AuthKit: nothing before the callback needs it.
	nb := browser()
	pending, csrf := s.consent(nb, authParams(client))
	if loc := s.approve(nb, pending, csrf); !strings.HasPrefix(loc, emu.URL+"/user_management/authorize?") {
		t.Errorf("consent sent the browser to %q", loc)
	}
	// Revocation ends the upstream session only best effort: it succeeds,
	// and the grant's tokens stop working at once.
	if st, _, out := s.postForm("/revoke", url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}, "client_id": {client}}); st != 200 {
		t.Fatalf("revoke with AuthKit gone: %d %v", st, out)
	}
	st, h, body := s.bearer("/mcp", access)
	if st != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("access token after revocation: %d %s", st, body)
	}
}
