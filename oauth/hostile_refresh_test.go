package oauth

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"remote-mcp-authkit/store"
)

// A refresh token used again after its successor was used is a leaked
// token (RFC 9700 s4.14.2): the whole grant goes, with the current refresh
// token and every access token issued from it.
func TestHostileRefreshReuseAfterGrace(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RefreshGrace = 30 * time.Second })
	client, access, r1 := e.tokens()
	st, out, _ := e.token(refreshForm(client, r1), "", "")
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	st, out, _ = e.token(refreshForm(client, out["refresh_token"].(string)), "", "")
	if st != 200 {
		t.Fatalf("refresh with the successor: %d %v", st, out)
	}
	r3, access3 := out["refresh_token"].(string), out["access_token"].(string)
	e.clock.Advance(31 * time.Second)
	st, out, _ = e.token(refreshForm(client, r1), "", "")
	if st != 400 || out["error"] != "invalid_grant" || !strings.Contains(out["error_description"].(string), "revoked") {
		t.Fatalf("reuse after the grace period: %d %v", st, out)
	}
	st, out, _ = e.token(refreshForm(client, r3), "", "")
	if st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("the current refresh token after reuse: %d %v", st, out)
	}
	for _, tok := range []string{access, access3} {
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

// Every access token a 200 from /token hands out works: a burst of
// parallel refreshes with one refresh token (a client whose requests
// raced, or retried) all receive the current pair, none an access token
// that another answer of the burst already evicted.
func TestHostileParallelRefreshTokensAllWork(t *testing.T) {
	e := newEnv(t)
	client, _, rt := e.tokens()
	const n = 6
	outs := make([]map[string]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			st, out, _ := e.token(refreshForm(client, rt), "", "")
			if st != 200 {
				t.Errorf("parallel refresh %d: %d %v", i, st, out)
			}
			outs[i] = out
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	refused := 0
	for i, out := range outs {
		if out["refresh_token"] != outs[0]["refresh_token"] {
			t.Errorf("answer %d forked the chain: %v", i, out["refresh_token"])
		}
		if resp, body := e.call("/mcp", out["access_token"].(string)); resp.StatusCode != 200 {
			refused++
			t.Errorf("access token of answer %d: %d %s", i, resp.StatusCode, body)
		}
	}
	if refused > 0 {
		t.Errorf("%d of %d access tokens handed out with a 200 are refused", refused, n)
	}
	if len(e.provider.refreshed) != 1 {
		t.Errorf("upstream refreshed %d times, want 1", len(e.provider.refreshed))
	}
}

// A crash between committing a rotation and answering it must not make
// the client a suspect: its last acknowledged refresh token works when the
// server is back, however long the outage, while a real replay (the old
// token again after the client used its successor) still revokes the
// grant. The rotation is committed to the durable store and its answer
// thrown away, then the store is reopened in a new Server.
func TestHostileRefreshAfterCrashBeforeAnswer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oauth.log")
	clock := &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	storeClock := store.WithClock(clock.Now)
	fs, err := store.OpenFileStore(path, storeClock)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.Store = fs; c.Now = clock.Now })
	client, _, r1 := e.tokens()
	// r1 is used late in its 30 days; the rotation is committed, and the
	// client never sees the answer.
	clock.Advance(29 * 24 * time.Hour)
	if st, out, _ := e.token(refreshForm(client, r1), "", ""); st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}
	// Down for two days: the grace period is long over, and so are r1's
	// original 30 days.
	clock.Advance(48 * time.Hour)
	fs2, err := store.OpenFileStore(path, storeClock)
	if err != nil {
		t.Fatal(err)
	}
	defer fs2.Close()
	cfg := e.srv.cfg
	cfg.Store = fs2
	s2, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.ts.Config.Handler.(*http.ServeMux).Handle("/v2/", http.StripPrefix("/v2", s2.Handler()))
	refresh := func(rt string) (int, map[string]any) {
		st, out, _ := e.postForm("/v2/token", refreshForm(client, rt), "", "")
		return st, out
	}
	call := func(tok string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		s2.RequireBearer(cfg.Resources[0], http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, req)
		return rec.Code
	}

	st, out := refresh(r1)
	if st != 200 {
		t.Fatalf("last acknowledged refresh token after the crash: %d %v", st, out)
	}
	if c := call(out["access_token"].(string)); c != 200 {
		t.Fatalf("its access token: %d", c)
	}
	// The answer is lost again; the same token still works, and inside the
	// grace period it gets the same pair.
	st, again := refresh(r1)
	if st != 200 || again["refresh_token"] != out["refresh_token"] || again["access_token"] != out["access_token"] {
		t.Fatalf("retry of the recovery: %d %v, want the pair %v", st, again, out)
	}
	// The client moves on: its new token rotates.
	st, out = refresh(out["refresh_token"].(string))
	if st != 200 {
		t.Fatalf("the recovered chain: %d %v", st, out)
	}
	latest := out["access_token"].(string)
	// A real replay: the old token after its successor was used.
	clock.Advance(time.Minute)
	st, out = refresh(r1)
	if st != 400 || out["error"] != "invalid_grant" || !strings.Contains(out["error_description"].(string), "revoked") {
		t.Fatalf("replay of a token whose successor was used: %d %v", st, out)
	}
	if c := call(latest); c != 401 {
		t.Errorf("access token after the replay revoked the grant: %d", c)
	}
}

// A thief who presents the previous refresh token after the grace period,
// before the client used its successor, is handed a replacement pair (the
// server cannot tell it from a client that never received the successor);
// the successor becomes spent, so the rightful client's next refresh is
// reuse, and the grant, the thief's tokens with it, is revoked.
func TestHostileStolenPreviousTokenCaughtAtNextRefresh(t *testing.T) {
	e := newEnv(t)
	client, _, r1 := e.tokens()
	st, out, _ := e.token(refreshForm(client, r1), "", "")
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	r2 := out["refresh_token"].(string)
	e.clock.Advance(time.Hour)
	st, stolen, _ := e.token(refreshForm(client, r1), "", "")
	if st != 200 || stolen["refresh_token"] == r2 {
		t.Fatalf("previous token after the grace period: %d %v", st, stolen)
	}
	st, out, _ = e.token(refreshForm(client, r2), "", "")
	if st != 400 || out["error"] != "invalid_grant" || !strings.Contains(out["error_description"].(string), "revoked") {
		t.Fatalf("the rightful client's successor after the thief's use: %d %v", st, out)
	}
	if resp, _ := e.call("/mcp", stolen["access_token"].(string)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the thief's access token: %d", resp.StatusCode)
	}
	if st, out, _ := e.token(refreshForm(client, stolen["refresh_token"].(string)), "", ""); st != 400 {
		t.Errorf("the thief's refresh token: %d %v", st, out)
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

// An impersonated upstream session stays visible through our tokens: the
// sign-in log line names the impersonator, and every request's identity
// carries them, after a refresh too.
func TestImpersonationCarried(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	e := newEnv(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(p)
		}), nil))
	})
	e.provider.set(func(p *fakeProvider) {
		p.identity.Impersonator = &Impersonator{Email: "support@example.com", Reason: "ticket 42"}
	})
	client, access, rt := e.tokens()
	mu.Lock()
	line := logs.String()
	mu.Unlock()
	if !strings.Contains(line, "oauth: authorized") || !strings.Contains(line, "impersonator=support@example.com") {
		t.Errorf("sign-in log line %q does not name the impersonator", line)
	}
	if id := e.whoAmI(access); id.ImpersonatorEmail() != "support@example.com" || id.Impersonator.Reason != "ticket 42" {
		t.Fatalf("identity of a request: %+v", id)
	}
	st, out, _ := e.token(refreshForm(client, rt), "", "")
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	if id := e.whoAmI(out["access_token"].(string)); id.ImpersonatorEmail() != "support@example.com" {
		t.Fatalf("identity after refresh: %+v", id)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
