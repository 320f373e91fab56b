package main

// Faults: the identity provider slow, failing or gone; the process killed
// with SIGKILL mid-traffic. Each case asserts the error the client sees, in
// the protocol's own form, and that whatever does not need the failed part
// keeps working.

import (
	"bufio"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"remote-mcp-authkit/oauth/authkittest"
)

// hxWithAuthKit starts the server against a separate AuthKit emulator that
// the test controls, configured exactly as a WorkOS account would be.
func hxWithAuthKit(t *testing.T, args ...string) (*hxServer, *authkittest.Server) {
	t.Helper()
	emu := authkittest.NewServer()
	t.Cleanup(emu.Close)
	env := map[string]string{
		"WORKOS_CLIENT_ID":     emu.ClientID(),
		"WORKOS_CLIENT_SECRET": emu.APIKey(),
		"WORKOS_API_URL":       emu.URL,
	}
	return hxStart(t, env, append([]string{"-memory"}, args...)...), emu
}

// pendingCallback runs the browser part of a sign-in up to the AuthKit
// redirect back to /callback, which is returned unfollowed.
func (s *hxServer) pendingCallback(client, email string) (*http.Client, string) {
	s.t.Helper()
	b := hxBrowser()
	pending, csrf := s.consent(b, hxAuthParams(client))
	return b, s.callbackURL(b, s.approve(b, pending, csrf), email)
}

// wantClientError asserts that /callback sent the browser back to the
// client with an RFC 6749 s4.1.2.1 error (never a code) within bound.
func (s *hxServer) wantClientError(b *http.Client, cb, wantErr string, bound time.Duration) {
	s.t.Helper()
	start := time.Now()
	st, loc, body := s.follow(b, cb)
	if d := time.Since(start); d > bound {
		s.t.Errorf("callback took %v", d)
	}
	if st != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), hxRedirect+"?") {
		s.t.Fatalf("callback: %d %v %s", st, loc, hxTrunc(body))
	}
	q := loc.Query()
	if q.Get("error") != wantErr || q.Get("error_description") == "" || q.Get("code") != "" || q.Get("state") != "st-1" || q.Get("iss") != s.base {
		s.t.Errorf("callback error response %v, want error=%s", q, wantErr)
	}
}

func (s *hxServer) refresh(client, rt string) (int, time.Duration, map[string]any) {
	s.t.Helper()
	start := time.Now()
	st, _, out := s.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {client}})
	return st, time.Since(start), out
}

// TestFaultUpstreamErrors: AuthKit answering 5xx or 429. Sign-in returns
// the browser to the client with temporarily_unavailable; refresh answers
// 503 temporarily_unavailable and the refresh token stays good for a retry;
// MCP calls with valid tokens are unaffected throughout.
func TestFaultUpstreamErrors(t *testing.T) {
	t.Parallel()
	s, emu := hxWithAuthKit(t)
	client, access, rt := s.tokens("ada@example.com")
	sid := s.initialize(access)

	for _, status := range []int{500, 502, 503, 429} {
		b, cb := s.pendingCallback(client, "ada@example.com")
		emu.SetFault(authkittest.Fault{Status: status})
		s.wantClientError(b, cb, "temporarily_unavailable", 30*time.Second)
		st, d, out := s.refresh(client, rt)
		hxOAuthErr(t, "refresh during an outage", st, out, 503, "temporarily_unavailable")
		if d > 30*time.Second {
			t.Errorf("refresh took %v", d)
		}
		s.serves(access, sid)
		emu.SetFault(authkittest.Fault{})
	}
	// The outage is over: the same refresh token works, and so does sign-in.
	st, _, out := s.refresh(client, rt)
	if st != 200 {
		t.Fatalf("refresh after the outage: %d %v", st, out)
	}
	s.serves(out["access_token"].(string), sid)
	s.tokens("grace@example.com")
}

// TestFaultUpstreamSlow: AuthKit holding every answer longer than the
// provider timeout. Refresh and sign-in give up with temporarily_unavailable
// (well within 30 s), and MCP calls keep answering while they wait.
func TestFaultUpstreamSlow(t *testing.T) {
	t.Parallel()
	s, emu := hxWithAuthKit(t)
	client, access, rt := s.tokens("ada@example.com")
	sid := s.initialize(access)
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
		st, d, out := s.refresh(client, rt)
		hxOAuthErr(t, "refresh while AuthKit hangs", st, out, 503, "temporarily_unavailable")
		if d > 30*time.Second {
			t.Errorf("refresh took %v", d)
		}
	}()
	// Meanwhile, MCP is served.
	for range 3 {
		s.serves(access, sid)
		time.Sleep(200 * time.Millisecond)
	}
	wg.Wait()
	emu.SetFault(authkittest.Fault{})
	if st, _, out := s.refresh(client, rt); st != 200 {
		t.Fatalf("refresh after AuthKit recovered: %d %v", st, out)
	}
}

// TestFaultUpstreamGone: AuthKit unreachable (its listener closed).
func TestFaultUpstreamGone(t *testing.T) {
	t.Parallel()
	s, emu := hxWithAuthKit(t)
	client, access, rt := s.tokens("ada@example.com")
	sid := s.initialize(access)
	b, cb := s.pendingCallback(client, "ada@example.com")
	emu.Close()
	s.wantClientError(b, cb, "temporarily_unavailable", 30*time.Second)
	st, d, out := s.refresh(client, rt)
	hxOAuthErr(t, "refresh with AuthKit gone", st, out, 503, "temporarily_unavailable")
	if d > 30*time.Second {
		t.Errorf("refresh took %v", d)
	}
	s.serves(access, sid)
	// A new authorization still reaches the consent page and is sent on to
	// AuthKit: nothing before the callback needs it.
	nb := hxBrowser()
	pending, csrf := s.consent(nb, hxAuthParams(client))
	if loc := s.approve(nb, pending, csrf); !strings.HasPrefix(loc, emu.URL+"/user_management/authorize?") {
		t.Errorf("consent sent the browser to %q", loc)
	}
	// Revocation ends the upstream session only best effort: it succeeds,
	// and the grant's tokens stop working at once.
	if st, _, out := s.postForm("/revoke", url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}, "client_id": {client}}); st != 200 {
		t.Fatalf("revoke with AuthKit gone: %d %v", st, out)
	}
	st, h, body := s.do(s.mcpReq(access, sid, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if st != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("access token after revocation: %d %s", st, body)
	}
}

// TestFaultStreamOutlivesReadTimeout: a standalone GET stream stays open
// past the body read deadline and the header timeout, and carries a
// notification sent later (tools/list_changed after the user's permissions
// changed upstream and the client refreshed).
func TestFaultStreamOutlivesReadTimeout(t *testing.T) {
	t.Parallel()
	s, emu := hxWithAuthKit(t, "-read-timeout", "1s")
	client, access, rt := s.tokens("ada@example.com")
	sid := s.initialize(access)
	req, _ := http.NewRequest("GET", s.base+"/mcp", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("Mcp-Session-Id", sid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET stream: %d", resp.StatusCode)
	}
	got := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "notifications/tools/list_changed") {
				got <- sc.Text()
				return
			}
		}
		got <- "stream ended: " + resp.Header.Get("Content-Type")
	}()
	time.Sleep(2500 * time.Millisecond) // past -read-timeout
	if err := emu.SetPermissions("ada@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if st, _, out := s.refresh(client, rt); st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	select {
	case line := <-got:
		if !strings.Contains(line, "list_changed") {
			t.Fatalf("no notification: %s", line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no notification on the stream")
	}
}
