package oauth

// Hostile input against the authorization endpoint, the consent form and
// the pages a person reads: redirects nobody approved, cross-site consent,
// planted cookies, text that turns our own words around, and error pages
// that would repeat what an attacker wrote or what our network looks like.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RFC 9700 s4.11.2: a client anyone registered a second ago must not get
// our origin to redirect a browser to it by sending a broken request. Until
// this browser approved the client, every error is our page.
func TestHostilePagesErrorsBeforeApprovalStayHere(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	for _, tc := range authorizeErrorCases(e) {
		p := authParams(id)
		tc.mod(p)
		resp := e.get(newBrowser(), e.url("/authorize?"+p.Encode()))
		body := readBody(resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, tc.code) {
			t.Errorf("%s: %d Location=%q, want a 400 page naming %s", tc.name, resp.StatusCode, resp.Header.Get("Location"), tc.code)
		}
		checkPageHeaders(t, resp)
	}

	// A private-use scheme is no different: before, a request with no PKCE
	// got a 302 from our origin to whatever program claims the scheme.
	for _, uri := range []string{"com.example.app:/cb", "cursor://anysphere.cursor-mcp/oauth/callback"} {
		code, out := e.register(map[string]any{"redirect_uris": []string{uri}, "token_endpoint_auth_method": "none"})
		if code != 201 {
			t.Fatalf("register %s: %d %v", uri, code, out)
		}
		p := authParams(out["client_id"].(string))
		p.Set("redirect_uri", uri)
		p.Del("code_challenge")
		resp := e.get(newBrowser(), e.url("/authorize?"+p.Encode()))
		readBody(resp)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d Location=%q", uri, resp.StatusCode, resp.Header.Get("Location"))
		}
	}

	// Approval of one client does not vouch for another.
	other := e.publicClient()
	e.authorize(id)
	p := authParams(other)
	p.Set("response_type", "token")
	resp := e.get(e.browser, e.url("/authorize?"+p.Encode()))
	readBody(resp)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("another client's error in an approving browser: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// Schemes that the browser or the operating system handles, not an
// application, are refused at registration; a client stored before the
// rule is not redirected to one either.
func TestHostilePagesRedirectSchemes(t *testing.T) {
	for _, uri := range []string{
		"search-ms:query=invoice&crumb=location:\\\\evil.example\\share",
		"SEARCH-MS:query=x",
		"ms-msdt:/id PCWDiagnostic",
		"ms-officecmd:{}",
		"search:query=x",
		"shell:startup",
		"web+mcp://x/cb",
		"intent://cb#Intent;scheme=x;end",
		"mailto:a@example.com",
		"tel:+1555",
		"smb://evil.example/share",
		"itms-services://?action=download-manifest",
		"view-source:https://a.example/",
	} {
		if err := validateRedirectURI(uri); err == nil {
			t.Errorf("validateRedirectURI(%q) accepted", uri)
		}
	}

	e := newEnv(t)
	code, out := e.register(map[string]any{"redirect_uris": []string{"search-ms:query=x"}, "token_endpoint_auth_method": "none"})
	if code != 400 || out["error"] != "invalid_redirect_uri" {
		t.Errorf("register search-ms: %d %v", code, out)
	}
	legacy := &Client{ClientID: "mcp_client_legacy", TokenEndpointAuthMethod: "none", RedirectURIs: []string{"search-ms:query=x"},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}}
	if err := e.srv.putJSON(t.Context(), kindClient, legacy.ClientID, legacy, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(url.Values){
		"valid request":  func(url.Values) {},
		"broken request": func(v url.Values) { v.Del("code_challenge") },
	} {
		p := authParams(legacy.ClientID)
		p.Set("redirect_uri", "search-ms:query=x")
		mod(p)
		resp := e.get(e.browser, e.url("/authorize?"+p.Encode()))
		body := readBody(resp)
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" || strings.Contains(body, "csrf_token") {
			t.Errorf("legacy search-ms client, %s: %d %q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// The consent form is accepted only from our own origin. Cookies do not
// keep ports apart, so over plain http any local program can plant the
// attacker's own nonce in the victim's browser; with the attacker's form
// posted cross-site that was a 30-day approval of the attacker's client.
func TestHostilePagesConsentCrossSite(t *testing.T) {
	e := newEnv(t)
	evil := e.publicClient()
	attacker := newBrowser()
	pending, csrf := e.consentForm(attacker, authParams(evil))
	u, _ := url.Parse(e.ts.URL + "/authorize")

	post := func(c *http.Client, pending, csrf string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", e.url("/authorize"), strings.NewReader(url.Values{
			"pending": {pending}, "csrf_token": {csrf}, "decision": {"approve"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	otherPort := "http://127.0.0.1:1" // another local program: same site, another origin
	for name, hdr := range map[string]map[string]string{
		"same-site (another port)": {"Sec-Fetch-Site": "same-site", "Origin": otherPort},
		"cross-site":               {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		"cross-site, no Origin":    {"Sec-Fetch-Site": "cross-site"},
		"old browser, other port":  {"Origin": otherPort},
		"old browser, other host":  {"Origin": "https://evil.example"},
		"old browser, null origin": {"Origin": "null"}, // a sandboxed frame
	} {
		victim := newBrowser()
		victim.Jar.SetCookies(u, attacker.Jar.Cookies(u)) // planted
		resp := post(victim, pending, csrf, hdr)
		body := readBody(resp)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" || !strings.Contains(body, "Request refused") {
			t.Errorf("%s: %d %q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
		for _, c := range resp.Cookies() {
			if strings.HasPrefix(c.Name, cookieConsent) {
				t.Errorf("%s: consent cookie set", name)
			}
		}
	}
	// The pending authorization was not spent; from our own page it works,
	// as browsers send it: Sec-Fetch-Site same-origin, or (older ones)
	// Origin alone.
	resp := post(attacker, pending, csrf, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": e.ts.URL})
	readBody(resp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin approval: %d", resp.StatusCode)
	}
	again := authParams(evil)
	again.Set("prompt", "consent")
	p2, c2 := e.consentForm(attacker, again)
	if resp := post(attacker, p2, c2, map[string]string{"Origin": e.ts.URL}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approval with Origin only: %d", resp.StatusCode)
	}
	// Chrome sends "Origin: null" with a form under Referrer-Policy
	// no-referrer; Sec-Fetch-Site decides.
	p3, c3 := e.consentForm(attacker, again)
	if resp := post(attacker, p3, c3, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approval with Sec-Fetch-Site same-origin and Origin null: %d", resp.StatusCode)
	}
}

// The nonce a consent form is bound to is minted with the page: a value
// the browser brought (planted by someone who knows it) is never adopted.
func TestHostilePagesNonceNotAdopted(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	u, _ := url.Parse(e.ts.URL + "/authorize")
	const planted = "PLANTEDplantedPLANTEDplantedPLANTEDplanted1" // 43 characters, like ours
	b := newBrowser()
	b.Jar.SetCookies(u, []*http.Cookie{{Name: "mcp_browser", Value: planted, Path: "/authorize"}})
	resp := e.get(b, e.url("/authorize?"+authParams(id).Encode()))
	body := readBody(resp)
	p, k := rePending.FindStringSubmatch(body), reCSRF.FindStringSubmatch(body)
	if p == nil || k == nil {
		t.Fatalf("no consent form: %d", resp.StatusCode)
	}
	var nonces []*http.Cookie
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "mcp_browser") {
			if c.Value == planted {
				t.Errorf("the server adopted the planted nonce in %s", c.Name)
			}
			nonces = append(nonces, &http.Cookie{Name: c.Name, Value: planted, Path: c.Path})
		}
	}
	if len(nonces) == 0 {
		t.Fatal("the consent page set no nonce cookie")
	}
	// A form is valid only with the nonce minted for it: the planted
	// value, where the browser keeps the real one, fails.
	b.Jar.SetCookies(u, nonces)
	resp = e.postConsent(b, p[1], k[1], "approve")
	readBody(resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("form posted with the planted nonce: %d", resp.StatusCode)
	}

	// Each tab has a nonce of its own, so two open forms both work.
	tab1p, tab1c := e.consentForm(e.browser, authParams(id))
	tab2p, tab2c := e.consentForm(e.browser, authParams(id))
	for i, f := range [][2]string{{tab1p, tab1c}, {tab2p, tab2c}} {
		resp := e.postConsent(e.browser, f[0], f[1], "deny")
		if q := e.followToClient(e.browser, resp); q.Get("error") != "access_denied" {
			t.Errorf("tab %d: %v", i+1, q)
		}
	}
}

// Client-chosen text cannot hold characters that turn our page around
// (U+202E made "this server has not verified it" read backwards), and what
// it holds is isolated where it is shown.
func TestHostilePagesClientText(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"Evil\u202Eti deifirev", "A\u2066B", "A\u200FB", "A\u061CB", "bell\u0007", "nel\u0085", "line\u2028break", "tab\there"} {
		code, out := e.register(map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "none", "client_name": name})
		if code != 400 || out["error"] != "invalid_client_metadata" || !strings.Contains(fmt.Sprint(out["error_description"]), "client_name") {
			t.Errorf("client_name %q: %d %v", name, code, out)
		}
	}
	for _, uri := range []string{"https://app.example/\u202Ecb", "cursor://x/\u2067cb", "https://app.example/\u0085"} {
		code, out := e.register(map[string]any{"redirect_uris": []string{uri}, "token_endpoint_auth_method": "none"})
		if code != 400 || out["error"] != "invalid_redirect_uri" {
			t.Errorf("redirect URI %q: %d %v", uri, code, out)
		}
	}
	code, out := e.register(map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "none", "software_id": "x\u202Ey"})
	if code != 400 || out["error"] != "invalid_client_metadata" {
		t.Errorf("software_id: %d %v", code, out)
	}
	// Ordinary names in any script and with emoji still register.
	for _, name := range []string{"Claude", "عميل MCP", "קליינט", "👩‍💻 Dev"} {
		if code, out := e.register(map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "none", "client_name": name}); code != 201 {
			t.Errorf("client_name %q refused: %v", name, out)
		}
	}

	// A registration stored before the rule: the characters are dropped
	// and the name is isolated.
	legacy := &Client{ClientID: "mcp_client_legacy", TokenEndpointAuthMethod: "none", RedirectURIs: []string{testRedirect},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, ClientName: "Evil\u202Eti deifirev"}
	if err := e.srv.putJSON(t.Context(), kindClient, legacy.ClientID, legacy, time.Time{}); err != nil {
		t.Fatal(err)
	}
	resp := e.get(e.browser, e.url("/authorize?"+authParams(legacy.ClientID).Encode()))
	body := readBody(resp)
	if resp.StatusCode != 200 || strings.ContainsRune(body, '\u202E') || !strings.Contains(body, "<bdi>Evilti deifirev</bdi>") {
		t.Errorf("consent page for a legacy name: %d\n%s", resp.StatusCode, body)
	}

	// A host parses "%E2%80%AE" to U+202E; a name drawn from it drops it.
	doc := &Client{ClientID: "https://ex%E2%80%AEample.com/client.json", MetadataDocument: true}
	if got := doc.displayName(); got != "example.com" {
		t.Errorf("display name from an escaped host: %q", got)
	}

	// The same holds for a metadata document.
	e2, m := cimdEnv(t, true)
	m.doc = func(u string) (int, map[string]string, string) {
		return 200, nil, strings.Replace(goodDoc(u), "Doc Client", `Doc \u202Etneilc`, 1)
	}
	id := m.srv.URL + "/client.json"
	resp = e2.get(e2.browser, e2.url("/authorize?"+authParams(id).Encode()))
	body = readBody(resp)
	if resp.StatusCode != 400 || strings.ContainsRune(body, '\u202E') || strings.Contains(body, "csrf_token") {
		t.Errorf("metadata document with U+202E in client_name: %d", resp.StatusCode)
	}
	if _, err := e2.srv.lookupClient(t.Context(), id); err == nil || !strings.Contains(err.Error(), "U+202E") {
		t.Errorf("lookup: %v", err)
	}
	// A client_id with such a character is no client at all.
	resp = e2.get(e2.browser, e2.url("/authorize?"+authParams(m.srv.URL+"/\u202Eclient.json").Encode()))
	body = readBody(resp)
	if resp.StatusCode != 400 || strings.ContainsRune(body, '\u202E') || !strings.Contains(body, "Unknown application") {
		t.Errorf("client_id with U+202E: %d", resp.StatusCode)
	}
}

// Error pages do not repeat what the request said as if we said it, and
// no error shown to whoever asks carries our network's internals.
func TestHostilePagesErrorText(t *testing.T) {
	e := newEnv(t)
	id := e.publicClient()
	p := authParams(id)
	p.Set("redirect_uri", "https://evil.example/Your-account-is-suspended.-Call-+1-555-0100")
	resp := e.get(e.browser, e.url("/authorize?"+p.Encode()))
	body := readBody(resp)
	if resp.StatusCode != 400 || !strings.Contains(body, "Redirect URI not registered") || strings.Contains(body, "evil.example") || strings.Contains(body, "555") {
		t.Errorf("unregistered redirect URI page: %d\n%s", resp.StatusCode, body)
	}

	// A metadata document on a port nobody listens on.
	e2, _ := cimdEnv(t, true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	docID := "https://" + closed + "/Your-account-is-suspended.json"
	resp = e2.get(e2.browser, e2.url("/authorize?"+authParams(docID).Encode()))
	body = readBody(resp)
	if resp.StatusCode != 400 || strings.Contains(body, closed) || strings.Contains(body, "suspended") || strings.Contains(body, "dial") {
		t.Errorf("metadata fetch failure page: %d\n%s", resp.StatusCode, body)
	}
	// The token endpoint's answer, for the client's developer, says what
	// went wrong in our words and nothing of how our network saw it.
	st, out, _ := e2.token(refreshForm("https://"+closed+"/other.json", "mrt_x"), "", "")
	desc := fmt.Sprint(out["error_description"])
	if st != 401 || !strings.Contains(desc, "connection was refused") || strings.Contains(desc, "dial") || strings.Contains(desc, "connect:") {
		t.Errorf("token with an unreachable document: %d %v", st, out)
	}

	// The resolver's address (in a *net.DNSError) and any other error
	// text never reach the description.
	for _, err := range []error{
		&url.Error{Op: "Get", URL: "https://x.example/c.json", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "x.example", Server: "10.9.8.7:53", IsNotFound: true}}},
		&url.Error{Op: "Get", URL: "https://x.example/c.json", Err: &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 9, 8, 7), Port: 443}, Err: syscall.ECONNRESET}},
		fmt.Errorf("read tcp 10.9.8.6:5555->10.9.8.7:443: %w", context.DeadlineExceeded),
		errors.New("proxyconnect tcp: 10.9.8.7:3128"),
	} {
		if got := fetchFailure(err); strings.Contains(got, "10.9.8") || strings.Contains(got, "tcp") {
			t.Errorf("fetchFailure(%v) = %q", err, got)
		}
	}
}

// A metadata document client that returns through a private-use scheme is
// asked for consent every time, as a loopback one is: any local program
// can claim a scheme as easily as a port.
func TestHostilePagesPrivateUseSchemeAlwaysAsks(t *testing.T) {
	e, m := cimdEnv(t, true)
	const uri = "cursor://anysphere.cursor-mcp/oauth/callback"
	m.doc = func(u string) (int, map[string]string, string) {
		return 200, nil, strings.Replace(goodDoc(u), testRedirect, uri, 1)
	}
	id := m.srv.URL + "/cursor.json"
	p := authParams(id)
	p.Set("redirect_uri", uri)
	pending, csrf := e.consentForm(e.browser, p)
	resp := e.postConsent(e.browser, pending, csrf, "approve")
	readBody(resp)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), e.provider.srv.URL) {
		t.Fatalf("approve: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = e.get(e.browser, e.url("/authorize?"+p.Encode()))
	body := readBody(resp)
	if resp.StatusCode != 200 || !strings.Contains(body, "Any program on this computer") {
		t.Fatalf("second authorization: %d %q, want the consent page with its warning", resp.StatusCode, resp.Header.Get("Location"))
	}
	// And its errors are never redirected, approval or not.
	p.Del("code_challenge")
	resp = e.get(e.browser, e.url("/authorize?"+p.Encode()))
	readBody(resp)
	if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Errorf("error for an approved private-use client: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
