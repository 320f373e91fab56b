package oauth

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var reGrantID = regexp.MustCompile(`name="grant_id" value="([^"]+)"`)

// The account page: sign-in through the same upstream and /callback, a
// person's own grants only, revocation that ends the grant's tokens and
// tells OnGrantRevoked, and refusals for forms from elsewhere, forged
// tokens and other people's grants.
func TestAccountPage(t *testing.T) {
	var mu sync.Mutex
	var revoked []string
	e := newEnv(t, func(c *Config) {
		c.OnGrantRevoked = func(id Identity) {
			mu.Lock()
			revoked = append(revoked, id.GrantID)
			mu.Unlock()
		}
	})
	_, aliceAccess, _ := e.tokens()
	e.provider.set(func(p *fakeProvider) { p.identity.Subject, p.identity.Email = "user_bob", "bob@example.com" })
	e.browser = newBrowser()
	_, bobAccess, _ := e.tokens()
	e.provider.set(func(p *fakeProvider) { p.identity.Subject, p.identity.Email = "user_alice", "alice@example.com" })

	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar}
	e.provider.set(func(p *fakeProvider) { p.revoked = nil })
	resp := e.get(b, e.url("/account"))
	page := readBody(resp)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/account" {
		t.Fatalf("GET /account: %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	// The upstream session the page's sign-in opened is ended at once:
	// the page keeps its own.
	e.provider.set(func(p *fakeProvider) {
		if want := fmt.Sprintf("up_rt_%d", p.n); len(p.revoked) != 1 || p.revoked[0] != want {
			t.Errorf("upstream sessions ended by the page's sign-in: %v, want [%s]", p.revoked, want)
		}
	})
	if resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("the page may be framed: %v", resp.Header)
	}
	ids := reGrantID.FindAllStringSubmatch(page, -1)
	if len(ids) != 1 || !strings.Contains(page, "alice@example.com") || !strings.Contains(page, "self-declared") ||
		!strings.Contains(page, testRedirect) || !strings.Contains(page, "<code>tools:read</code>") {
		t.Fatalf("alice's page:\n%s", page)
	}
	aliceGrant := ids[0][1]
	csrf := reCSRF.FindStringSubmatch(page)[1]

	post := func(form url.Values, site string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", e.url("/account/revoke"), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := post(url.Values{"csrf_token": {csrf}, "grant_id": {aliceGrant}}, "cross-site"); r.StatusCode != 403 {
		t.Fatalf("cross-site revoke: %d", r.StatusCode)
	}
	if r := post(url.Values{"csrf_token": {"forged"}, "grant_id": {aliceGrant}}, "same-origin"); r.StatusCode != 403 {
		t.Fatalf("forged CSRF token: %d", r.StatusCode)
	}
	// Bob's grant, named by alice's session, is not found, and stays.
	idx, _ := e.store.Get(t.Context(), kindUserGrants, "user_bob")
	bobGrant := strings.Trim(string(idx), `[]"`)
	if r := post(url.Values{"csrf_token": {csrf}, "grant_id": {bobGrant}}, "same-origin"); r.StatusCode != 404 {
		t.Fatalf("revoking someone else's grant: %d", r.StatusCode)
	}
	if r, _ := e.call("/mcp", bobAccess); r.StatusCode != 200 {
		t.Fatalf("bob's token after alice tried his grant: %d", r.StatusCode)
	}
	if r, _ := e.call("/mcp", aliceAccess); r.StatusCode != 200 {
		t.Fatalf("alice's token before revocation: %d", r.StatusCode)
	}

	r := post(url.Values{"csrf_token": {csrf}, "grant_id": {aliceGrant}}, "same-origin")
	page = readBody(r)
	if r.StatusCode != 200 || !strings.Contains(page, `id="revoked"`) || !strings.Contains(page, `id="none"`) || reGrantID.MatchString(page) {
		t.Fatalf("after revoke: %d\n%s", r.StatusCode, page)
	}
	if r, _ := e.call("/mcp", aliceAccess); r.StatusCode != 401 {
		t.Fatalf("alice's token after revocation: %d, want 401", r.StatusCode)
	}
	mu.Lock()
	if len(revoked) != 1 || revoked[0] != aliceGrant {
		t.Fatalf("OnGrantRevoked told %v, want [%s]", revoked, aliceGrant)
	}
	mu.Unlock()

	// A cookie that is not ours is no session: the page signs in again.
	u, _ := url.Parse(e.url("/account"))
	jar2, _ := cookiejar.New(nil)
	jar2.SetCookies(u, []*http.Cookie{{Name: cookieAccount, Value: "eyJzdWIiOiJ1c2VyX2JvYiJ9.forged"}})
	b2 := &http.Client{Jar: jar2, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if r := e.get(b2, e.url("/account")); r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), e.provider.srv.URL) {
		t.Fatalf("forged session cookie: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
}
