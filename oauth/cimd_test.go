package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"crypto/tls"
	"net"
	"net/url"
	"remote-mcp-authkit/internal/netguard"
)

// metadataHost serves client ID metadata documents over TLS on loopback.
type metadataHost struct {
	srv     *httptest.Server
	fetches atomic.Int32
	doc     func(url string) (status int, header map[string]string, body string)
}

// ssrfGuard is the check the metadata fetcher's dialer runs on every
// address it connects to.
var ssrfGuard = netguard.Control

func newMetadataHost(t *testing.T) *metadataHost {
	m := &metadataHost{}
	m.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.fetches.Add(1)
		status, hdr, body := m.doc(m.srv.URL + r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func goodDoc(url string) string {
	b, _ := json.Marshal(map[string]any{
		"client_id": url, "client_name": "Doc Client", "redirect_uris": []string{testRedirect},
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
	})
	return string(b)
}

func cimdEnv(t *testing.T, allowPrivate bool) (*env, *metadataHost) {
	m := newMetadataHost(t)
	e := newEnv(t, func(c *Config) {
		c.AllowPrivateClientMetadataHosts = allowPrivate
		c.HTTPClient = m.srv.Client()
	})
	return e, m
}

func TestClientIDMetadataDocumentFlow(t *testing.T) {
	e, m := cimdEnv(t, true)
	m.doc = func(u string) (int, map[string]string, string) { return 200, nil, goodDoc(u) }
	clientID := m.srv.URL + "/oauth/client.json"
	resp := e.get(e.browser, e.url("/authorize?"+authParams(clientID).Encode()))
	page := readBody(resp)
	if resp.StatusCode != 200 || !strings.Contains(page, "Doc Client") || !strings.Contains(page, strings.TrimPrefix(m.srv.URL, "https://")) {
		t.Fatalf("consent: %d %s", resp.StatusCode, page)
	}
	code := e.authorize(clientID)
	st, out, _ := e.token(codeForm(clientID, code), "", "")
	if st != 200 {
		t.Fatalf("token: %d %v", st, out)
	}
	if resp, _ := e.call("/mcp", out["access_token"].(string)); resp.StatusCode != 200 {
		t.Fatal("protected call refused")
	}
	if n := m.fetches.Load(); n != 1 {
		t.Errorf("document fetched %d times, want 1 (cached)", n)
	}
	// Metadata documents are never stored as registrations.
	if n := e.store.count(kindClient); n != 0 {
		t.Errorf("%d clients stored", n)
	}
}

func TestClientIDMetadataDocumentErrors(t *testing.T) {
	e, m := cimdEnv(t, true)
	for _, tc := range []struct {
		name string
		doc  func(u string) (int, map[string]string, string)
		want string
	}{
		{"client_id mismatch", func(u string) (int, map[string]string, string) {
			return 200, nil, goodDoc("https://other.example/client.json")
		}, "does not equal the document URL"},
		{"no redirect_uris", func(u string) (int, map[string]string, string) {
			return 200, nil, `{"client_id":"` + u + `","client_name":"x"}`
		}, "redirect_uris is required"},
		{"bad redirect", func(u string) (int, map[string]string, string) {
			return 200, nil, `{"client_id":"` + u + `","redirect_uris":["javascript:alert(1)"]}`
		}, "not allowed"},
		{"secret", func(u string) (int, map[string]string, string) {
			return 200, nil, `{"client_id":"` + u + `","redirect_uris":["` + testRedirect + `"],"token_endpoint_auth_method":"client_secret_basic"}`
		}, "not supported"},
		{"not json", func(u string) (int, map[string]string, string) { return 200, nil, "<html>" }, "not a JSON object"},
		{"html type", func(u string) (int, map[string]string, string) {
			return 200, map[string]string{"Content-Type": "text/html"}, goodDoc(u)
		}, "Content-Type"},
		{"404", func(u string) (int, map[string]string, string) { return 404, nil, "" }, "HTTP 404"},
		{"redirect", func(u string) (int, map[string]string, string) {
			return 302, map[string]string{"Location": "/elsewhere.json"}, ""
		}, "redirects"},
		{"too large", func(u string) (int, map[string]string, string) {
			return 200, nil, `{"client_id":"` + u + `","redirect_uris":["` + testRedirect + `"],"pad":"` + strings.Repeat("x", 70<<10) + `"}`
		}, "larger than"},
	} {
		m.doc = tc.doc
		clientID := m.srv.URL + "/" + strings.ReplaceAll(tc.name, " ", "-") + ".json"
		resp := e.get(e.browser, e.url("/authorize?"+authParams(clientID).Encode()))
		page := readBody(resp)
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" || !strings.Contains(page, "Application metadata is invalid") {
			t.Errorf("%s: %d:\n%s", tc.name, resp.StatusCode, page)
		}
		// The reason is for the developer, not for the page: it quotes
		// the document.
		if _, err := e.srv.lookupClient(t.Context(), clientID); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: lookup error %v lacks %q", tc.name, err, tc.want)
		}
	}
	// A redirect URI not in the document is refused, even on loopback.
	m.doc = func(u string) (int, map[string]string, string) { return 200, nil, goodDoc(u) }
	p := authParams(m.srv.URL + "/client.json")
	p.Set("redirect_uri", "http://127.0.0.1:33418/other")
	resp := e.get(e.browser, e.url("/authorize?"+p.Encode()))
	readBody(resp)
	if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Errorf("unlisted redirect: %d", resp.StatusCode)
	}
	// At the token endpoint a bad document is invalid_client.
	m.doc = func(u string) (int, map[string]string, string) { return 404, nil, "" }
	st, out, _ := e.token(refreshForm(m.srv.URL+"/gone.json", "mrt_x"), "", "")
	if st != 401 || out["error"] != "invalid_client" {
		t.Errorf("token with bad document: %d %v", st, out)
	}
}

func TestClientIDMetadataDocumentCaching(t *testing.T) {
	e, m := cimdEnv(t, true)
	cc := ""
	m.doc = func(u string) (int, map[string]string, string) {
		return 200, map[string]string{"Cache-Control": cc}, goodDoc(u)
	}
	fetch := func(id string) {
		t.Helper()
		if _, err := e.srv.lookupClient(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	cc = "max-age=120"
	fetch(m.srv.URL + "/a.json")
	fetch(m.srv.URL + "/a.json")
	if m.fetches.Load() != 1 {
		t.Fatalf("fetches %d", m.fetches.Load())
	}
	e.clock.Advance(121 * time.Second)
	fetch(m.srv.URL + "/a.json")
	if m.fetches.Load() != 2 {
		t.Fatalf("after max-age: fetches %d", m.fetches.Load())
	}
	cc = "no-store"
	fetch(m.srv.URL + "/b.json")
	fetch(m.srv.URL + "/b.json")
	if m.fetches.Load() != 4 {
		t.Fatalf("no-store: fetches %d", m.fetches.Load())
	}
	for in, want := range map[string]time.Duration{
		"":                    metadataDefaultTTL,
		"max-age=0":           metadataMinTTL,
		"public, max-age=600": 10 * time.Minute,
		"max-age=99999999":    metadataMaxTTL,
		"no-cache":            0,
		"max-age=junk":        metadataDefaultTTL,
	} {
		if got := cacheTTL(in); got != want {
			t.Errorf("cacheTTL(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestClientIDMetadataDocumentSSRF(t *testing.T) {
	e, m := cimdEnv(t, false)
	m.doc = func(u string) (int, map[string]string, string) { return 200, nil, goodDoc(u) }
	clientID := m.srv.URL + "/client.json" // https://127.0.0.1:port/...
	resp := e.get(e.browser, e.url("/authorize?"+authParams(clientID).Encode()))
	page := readBody(resp)
	if _, err := e.srv.lookupClient(t.Context(), clientID); resp.StatusCode != 400 || err == nil || !strings.Contains(err.Error(), "loopback, private") {
		t.Fatalf("loopback document fetched: %d %v %s", resp.StatusCode, err, page)
	}
	if n := m.fetches.Load(); n != 0 {
		t.Fatalf("the guard let %d requests through", n)
	}
	// "localhost" resolves to loopback: refused at dial time too.
	localhost := strings.Replace(m.srv.URL, "127.0.0.1", "localhost", 1) + "/client.json"
	if _, err := e.srv.lookupClient(t.Context(), localhost); err == nil || !strings.Contains(err.Error(), "loopback, private") {
		t.Fatalf("localhost: %v", err)
	}
	for addr, refused := range map[string]bool{
		"127.0.0.1:443": true, "10.1.2.3:443": true, "172.16.0.1:443": true, "192.168.1.1:443": true,
		"169.254.169.254:80": true, "0.0.0.0:443": true, "224.0.0.1:443": true, "100.64.0.1:443": true,
		"[::1]:443": true, "[fe80::1]:443": true, "[fc00::1]:443": true, "[::]:443": true, "[::ffff:127.0.0.1]:443": true,
		"93.184.216.34:443": false, "[2606:2800:220:1::1]:443": false,
	} {
		if err := ssrfGuard("tcp", addr, nil); (err != nil) != refused {
			t.Errorf("ssrfGuard(%s) = %v, want refused=%v", addr, err, refused)
		}
	}
}

func TestIsMetadataDocumentURL(t *testing.T) {
	for id, want := range map[string]bool{
		"https://app.example/client.json": true,
		"https://app.example/":            false,
		"https://app.example":             false,
		"http://app.example/client.json":  false,
		"https://u@app.example/c.json":    false,
		"mcp_client_ABC":                  false,
	} {
		if got := isMetadataDocumentURL(id); got != want {
			t.Errorf("%q: %v", id, got)
		}
	}
}

func TestClientIDMetadataDocumentLoopbackAlwaysAsks(t *testing.T) {
	e, m := cimdEnv(t, true)
	m.doc = func(u string) (int, map[string]string, string) { return 200, nil, goodDoc(u) }
	clientID := m.srv.URL + "/client.json"
	e.authorize(clientID) // approves, which would normally set the consent cookie
	resp := e.get(e.browser, e.url("/authorize?"+authParams(clientID).Encode()))
	page := readBody(resp)
	if resp.StatusCode != 200 || !strings.Contains(page, "Any program on this computer") {
		t.Fatalf("consent skipped or warning missing: %d", resp.StatusCode)
	}
}

// TestClientIDMetadataDocumentSharedFetch: concurrent authorizations naming
// one uncached metadata document send one request to its host between them.
// The host holds the first request until every authorization has arrived
// or a few seconds pass, so without the sharing each authorization's fetch
// reaches it while the first is still held.
func TestClientIDMetadataDocumentSharedFetch(t *testing.T) {
	const n = 20
	e, m := cimdEnv(t, true)
	release := make(chan struct{})
	var once sync.Once
	m.doc = func(u string) (int, map[string]string, string) {
		if m.fetches.Load() >= n {
			once.Do(func() { close(release) })
		}
		select {
		case <-release:
		case <-time.After(3 * time.Second):
		}
		return 200, nil, goodDoc(u)
	}
	clientID := m.srv.URL + "/shared/client.json"
	var wg sync.WaitGroup
	pages := make([]string, n)
	status := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := newBrowser().Get(e.url("/authorize?" + authParams(clientID).Encode()))
			if err != nil {
				t.Error(err)
				return
			}
			status[i], pages[i] = resp.StatusCode, readBody(resp)
		}()
	}
	wg.Wait()
	for i := range n {
		if status[i] != 200 || !strings.Contains(pages[i], "Doc Client") {
			t.Fatalf("authorization %d: %d %s", i, status[i], pages[i])
		}
	}
	if got := m.fetches.Load(); got != 1 {
		t.Errorf("%d concurrent authorizations fetched the document %d times, want 1", n, got)
	}
}

// TestClientIDMetadataDocumentFetchOutlivesCaller: a caller that gives up
// while the document is being fetched gets its context's error at once,
// and neither cancels the fetch for the caller that still waits nor leaves
// a failure in the cache.
func TestClientIDMetadataDocumentFetchOutlivesCaller(t *testing.T) {
	e, m := cimdEnv(t, true)
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	m.doc = func(u string) (int, map[string]string, string) {
		once.Do(func() { close(arrived) })
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		return 200, nil, goodDoc(u)
	}
	clientID := m.srv.URL + "/slow/client.json"
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := e.srv.cimd.client(ctx, clientID, nil)
		gaveUp <- err
	}()
	<-arrived
	waited := make(chan error, 1)
	go func() {
		c, err := e.srv.cimd.client(t.Context(), clientID, nil)
		if err == nil && c.ClientName != "Doc Client" {
			err = fmt.Errorf("client %+v", c)
		}
		waited <- err
	}()
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up got %v, want context.Canceled", err)
	}
	close(release)
	if err := <-waited; err != nil {
		t.Fatalf("the caller that waited: %v", err)
	}
	if _, err := e.srv.cimd.client(t.Context(), clientID, nil); err != nil || m.fetches.Load() != 1 {
		t.Fatalf("after the fetch: %v, %d fetches, want the cached document from 1", err, m.fetches.Load())
	}
}

// CIMD draft s6 (MCP 2025-11-25 "Authorization Server Abuse Protection"):
// every client_id that is an https URL makes us fetch it. /authorize was
// rate limited per address, but /token and /revoke authenticate the client
// first and so fetched any number of attacker-chosen URLs, unauthenticated
// and unlimited: an outbound request amplifier.
func TestMetadataFetchesFromTokenEndpointAreLimited(t *testing.T) {
	e, m := cimdEnv(t, true)
	m.doc = func(u string) (int, map[string]string, string) { return 404, nil, "{}" }
	const n = 150
	limited := 0
	for i := range n {
		path := "/token"
		if i%2 == 1 {
			path = "/revoke"
		}
		form := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "code_verifier": {testVerifier},
			"token": {"x"}, "client_id": {fmt.Sprintf("%s/c/%d.json", m.srv.URL, i)}}
		st, out, h := e.postForm(path, form, "", "")
		if st == http.StatusTooManyRequests {
			limited++
			// RFC 6585 s4: a 429 may say how long to wait; ours always do.
			if h.Get("Retry-After") != "1" {
				t.Fatalf("request %d: 429 with Retry-After %q, want 1", i, h.Get("Retry-After"))
			}
		} else if st != http.StatusUnauthorized || out["error"] != "invalid_client" {
			t.Fatalf("request %d: %d %v", i, st, out)
		}
	}
	if f := m.fetches.Load(); f > 60 || limited == 0 {
		t.Errorf("%d token and revocation requests with fresh metadata URLs caused %d fetches (%d limited)", n, f, limited)
	}
}

// The SSRF guard refused the common private ranges but not the other
// special-purpose blocks a host name can resolve to (RFC 6890 and its
// IANA registries): "this network" 0/8 beyond 0.0.0.0, IETF protocol
// assignments, benchmarking, reserved 240/4 and broadcast, and IPv6 forms
// that carry an IPv4 address a gateway will reach for us: IPv4-compatible
// (::/96), NAT64 (RFC 6052, RFC 8215) and 6to4 (RFC 3056); also site-local
// fec0::/10 and Teredo.
func TestSSRFGuardSpecialRanges(t *testing.T) {
	for addr, refused := range map[string]bool{
		"0.1.2.3:443": true, "192.0.0.8:443": true, "198.18.0.1:443": true, "198.19.255.255:443": true,
		"240.0.0.1:443": true, "255.255.255.255:443": true,
		"[::7f00:1]:443": true, "[::a00:1]:443": true,
		"[64:ff9b::a00:1]:443": true, "[64:ff9b::a9fe:a9fe]:443": true, "[64:ff9b:1::1]:443": true,
		"[2002:a00:1::1]:443": true, "[2002:7f00:1::]:443": true,
		"[fec0::1]:443": true, "[2001:0:4136:e378:8000:63bf:3fff:fdd2]:443": true,
		// Public addresses, also through NAT64 and 6to4, stay reachable.
		"[64:ff9b::5db8:d822]:443": false, "[2002:5db8:d822::1]:443": false,
		"93.184.216.34:443": false, "[2606:2800:220:1::1]:443": false, "198.20.0.1:443": false,
	} {
		if err := ssrfGuard("tcp", addr, nil); (err != nil) != refused {
			t.Errorf("ssrfGuard(%s) = %v, want refused=%v", addr, err, refused)
		}
	}
}

// Config.HTTPClient's transport is copied and given the guarded dialer,
// but a DialTLSContext it carried was kept, and for https (every metadata
// document URL) that dialer is used instead: the guard was bypassed.
func TestSSRFGuardNotBypassedByCustomTLSDialer(t *testing.T) {
	m := newMetadataHost(t)
	m.doc = func(u string) (int, map[string]string, string) { return 200, nil, goodDoc(u) }
	tr := m.srv.Client().Transport.(*http.Transport).Clone()
	tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := tls.Dialer{Config: tr.TLSClientConfig}
		return d.DialContext(ctx, network, addr)
	}
	e := newEnv(t, func(c *Config) { c.HTTPClient = &http.Client{Transport: tr} })
	if _, err := e.srv.lookupClient(t.Context(), m.srv.URL+"/client.json"); err == nil {
		t.Error("loopback metadata document fetched")
	}
	if n := m.fetches.Load(); n != 0 {
		t.Errorf("guard bypassed: %d fetches reached the loopback host", n)
	}
}

// A metadata document fetch that failed only because the requesting client
// hung up was cached as the document's error for 30s: anyone could start an
// authorization naming a popular client's metadata URL, disconnect at once,
// and repeat, to lock every user of that client out.
func TestMetadataFetchNotPoisonedByCancelledRequest(t *testing.T) {
	e, m := cimdEnv(t, true)
	m.doc = func(u string) (int, map[string]string, string) { return 200, nil, goodDoc(u) }
	clientID := m.srv.URL + "/popular/client.json"
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e.srv.lookupClient(ctx, clientID) // the attacker's request, gone at once
	if c, err := e.srv.lookupClient(t.Context(), clientID); err != nil || c.ClientName != "Doc Client" {
		t.Errorf("after a cancelled request, the document lookup fails: %v", err)
	}
}
