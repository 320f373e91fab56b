package main

// Hostile cases against the development sign-in (the AuthKit emulator that
// main mounts at /_authkit when no WorkOS account is configured): a public
// base URL, a flood of its sign-in page, a restart under a signed-in
// client, its redirect URI, and an impersonated demo user (-dev-users).

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestHostileDevPublicBaseURL: the development sign-in lets anyone who
// reaches it sign in as anyone, so a base URL naming a public host (reached
// through a tunnel or proxy to the loopback listener) is refused unless the
// loudly named opt-in is given, and then the banner says so.
func TestHostileDevPublicBaseURL(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	for _, base := range []string{
		"http://mcp.example.com:" + port,
		"https://mcp.example.com",
		"http://10.0.0.5:" + port,
		"http://127.0.0.1.nip.example:" + port,
		"http://localhost.example.com:" + port,
	} {
		srv, err := launch(t, serverConfig{args: []string{"-addr", addr, "-base-url", base}})
		if err == nil {
			t.Errorf("-base-url %s: the development sign-in started\n%s", base, srv.logs)
			continue
		}
		if !strings.Contains(err.Error(), "not a loopback host") || !strings.Contains(err.Error(), "-"+devPublicFlag) {
			t.Errorf("-base-url %s: error %q does not say why or how to opt in", base, err)
		}
	}
	// Loopback names are fine as before.
	for _, base := range []string{"http://localhost:" + port, "http://127.0.0.1:" + port + "/p", "http://[::1]:" + port} {
		srv, err := launch(t, serverConfig{args: []string{"-addr", addr, "-base-url", base}})
		if err != nil {
			t.Fatalf("-base-url %s: %v", base, err)
		}
		if err := srv.stop(); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(srv.logs.String(), "!!!") {
			t.Errorf("-base-url %s: warning banner for a loopback base URL\n%s", base, srv.logs)
		}
	}
	// With WorkOS credentials the emulator does not exist: any base URL.
	env := map[string]string{"WORKOS_CLIENT_ID": "client_x", "WORKOS_CLIENT_SECRET": "sk_x", "WORKOS_API_URL": "http://127.0.0.1:9"}
	if srv, err := launch(t, serverConfig{env: env, args: []string{"-addr", addr, "-base-url", "https://mcp.example.com"}}); err != nil {
		t.Fatalf("with WorkOS configured: %v\n%s", err, srv.logs)
	} else if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	// The opt-in serves, and the banner and the log say what it means.
	s, err := launch(t, serverConfig{args: []string{"-addr", addr, "-base-url", "http://mcp.example.com:" + port, "-" + devPublicFlag}})
	if err != nil {
		t.Fatalf("with -%s: %v", devPublicFlag, err)
	}
	if st, _, _ := s.get("/.well-known/oauth-authorization-server"); st != 200 {
		t.Errorf("metadata: %d", st)
	}
	out := s.logs.String()
	if !strings.Contains(out, "-"+devPublicFlag+" is set") || !strings.Contains(out, "ANYONE WHO CAN REACH http://mcp.example.com:"+port+" CAN SIGN IN AS ANY DEMO USER") {
		t.Errorf("banner does not warn:\n%s", out)
	}
}

// TestHostileDevSignInFlood: anonymous GETs of the emulator's sign-in URL,
// more than it ever kept sign-ins in progress for (10,000 filled its table
// for ten minutes), neither fail nor stop a real sign-in through our
// /authorize.
func TestHostileDevSignInFlood(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverConfig{})
	q := url.Values{"client_id": {"client_authkittest"}, "response_type": {"code"}, "provider": {"authkit"},
		"redirect_uri": {s.base + "/callback"}, "state": {"flood"}, "code_challenge": {hxChallenge}, "code_challenge_method": {"S256"}}
	page := s.base + "/_authkit/user_management/authorize?" + q.Encode()
	const flood, workers = 10001, 4
	var refused atomic.Int64
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer hc.CloseIdleConnections()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < flood; i += workers {
				resp, err := hc.Get(page)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := refused.Load(); n != 0 {
		t.Errorf("%d of %d anonymous sign-in page views refused", n, flood)
	}
	// A real sign-in: our consent page, the emulator's page, our callback.
	s.tokens("ada@example.com")
}

// TestHostileDevRestartKeepsSignIn: with the development sign-in, a client
// that signed in keeps working across a restart on the same data directory
// (whose generated secret keys the emulator), as with WorkOS: its access
// token still opens /mcp, its refresh token still refreshes, and the new
// access token works.
func TestHostileDevRestartKeepsSignIn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t) // tokens are bound to the resource URL, which names the port
	s := startServer(t, serverConfig{args: []string{"-addr", addr, "-data-dir", dir}})
	client, access, refresh := s.tokens("ada@example.com")
	s.serves(access, s.initialize(access))
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	// The next server listens on the same address: a keep-alive connection
	// to the one just stopped must not be reused for a POST (which is not
	// retried), so drop the pool's idle connections.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()

	s = startServer(t, serverConfig{args: []string{"-addr", addr, "-data-dir", dir}})
	s.serves(access, s.initialize(access))
	st, _, out := s.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {client}})
	if st != http.StatusOK {
		t.Fatalf("refresh after restart: %d %v", st, out)
	}
	s.serves(access, s.initialize(access))
	next := out["access_token"].(string)
	s.serves(next, s.initialize(next))
	// And again: the rotated refresh token is the emulator's too.
	st, _, out = s.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {out["refresh_token"].(string)}, "client_id": {client}})
	if st != http.StatusOK {
		t.Fatalf("second refresh after restart: %d %v", st, out)
	}
}

// TestDevSignInRedirectsOnlyToCallback: the emulator the development
// sign-in mounts at /_authkit is told our /callback as its only redirect
// URI, so its sign-in page is no open redirector; and its form, posted
// without a page it served, redirects nowhere. (From TestHostileAuthorize,
// whose other cases moved to oauth/authorize_e2e_test.go.)
func TestDevSignInRedirectsOnlyToCallback(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverConfig{})
	for _, ru := range []string{"https://evil.example/", s.base + "/callback/../evil", s.base + "/callbackx", strings.Replace(s.base, "127.0.0.1", "localhost", 1) + "/callback"} {
		q := url.Values{"client_id": {"client_authkittest"}, "response_type": {"code"}, "provider": {"authkit"},
			"redirect_uri": {ru}, "state": {"x"}, "code_challenge": {hxChallenge}, "code_challenge_method": {"S256"}}
		st, h, body := s.get("/_authkit/user_management/authorize?" + q.Encode())
		if st != 400 || h.Get("Location") != "" || !strings.Contains(body, "redirect_uri is not registered") {
			t.Errorf("emulator sign-in page with redirect_uri %s: %d %q %s", ru, st, h.Get("Location"), body)
		}
	}
	// Its form, posted without a page it served, redirects nowhere.
	req, _ := http.NewRequest("POST", s.base+"/_authkit/user_management/authorize", strings.NewReader("sign_in=forged&csrf_token=x&email=ada%40example.com"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if st, h, body := s.do(req); st != 400 || h.Get("Location") != "" {
		t.Errorf("forged sign-in form: %d %q %s", st, h.Get("Location"), body)
	}
}

// TestHostileImpersonatedSession: a user the development sign-in marks as
// impersonated (as WorkOS does when a dashboard administrator impersonates)
// is shown as such by whoami, and the sign-in's and each tool call's log
// lines name the impersonator.
func TestHostileImpersonatedSession(t *testing.T) {
	t.Parallel()
	users := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(users, []byte(`[
		{"email": "ada@example.com", "organization_id": "org_acme", "role": "admin",
		 "impersonator": "support@example.com", "impersonation_reason": "ticket 42"},
		{"email": "grace@example.com", "organization_id": "org_acme"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, serverConfig{env: map[string]string{"DEV_USERS_FILE": users}})
	_, access, _ := s.tokens("ada@example.com")
	sid := s.initialize(access)
	st, _, body := s.do(s.mcpReq(access, sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`))
	if st != http.StatusOK {
		t.Fatalf("whoami: %d %s", st, body)
	}
	r := hxDecodeRPC(t, body)
	var res struct {
		StructuredContent struct {
			User struct {
				Email string `json:"email"`
			} `json:"user"`
			Impersonator *struct {
				Email  string `json:"email"`
				Reason string `json:"reason"`
			} `json:"impersonator"`
		} `json:"structuredContent"`
	}
	if r.Error != nil || json.Unmarshal(r.Result, &res) != nil {
		t.Fatalf("whoami: %s", body)
	}
	sc := res.StructuredContent
	if sc.User.Email != "ada@example.com" || sc.Impersonator == nil || sc.Impersonator.Email != "support@example.com" || sc.Impersonator.Reason != "ticket 42" {
		t.Fatalf("whoami does not show who acts as whom: %s", body)
	}
	// A busy log is written in batches, so a line may follow its response
	// by a millisecond.
	var log string
	var signIn, call bool
	for deadline := time.Now().Add(5 * time.Second); !(signIn && call) && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		log = s.logs.String()
		for line := range strings.SplitSeq(log, "\n") {
			signIn = signIn || (strings.Contains(line, "signed in") && strings.Contains(line, "impersonator=support@example.com"))
			call = call || (strings.Contains(line, "tools: call") && strings.Contains(line, "tool=whoami") && strings.Contains(line, "impersonator=support@example.com"))
		}
	}
	if !signIn || !call {
		t.Errorf("log lines name the impersonator: sign-in %v, tool call %v\n%s", signIn, call, log)
	}
	// Grace's session is a plain one.
	_, access, _ = s.tokens("grace@example.com")
	sid = s.initialize(access)
	_, _, body = s.do(s.mcpReq(access, sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`))
	if strings.Contains(body, "impersonator") {
		t.Errorf("whoami of a plain session mentions an impersonator: %s", body)
	}
}
