package oauth

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestValidateRedirectURI(t *testing.T) {
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		// Real clients.
		{"http://127.0.0.1:33418/", true},                      // VS Code native
		{"https://vscode.dev/redirect", true},                  // VS Code web
		{"https://claude.ai/api/mcp/auth_callback", true},      // Claude
		{"http://localhost:6274/oauth/callback", true},         // MCP Inspector
		{"cursor://anysphere.cursor-mcp/oauth/callback", true}, // Cursor, private-use scheme
		{"com.example.app:/oauth2redirect", true},              // RFC 8252 s7.1 form
		{"http://[::1]:8080/cb", true},                         // IPv6 loopback
		{"http://127.1.2.3/cb", true},                          // 127.0.0.0/8
		{"https://app.example.com/cb?tenant=1", true},          // query is fine
		{"HTTPS://app.example.com/cb", true},                   // scheme is case-insensitive
		{"http://example.com/cb", false},                       // http off loopback
		{"http://localhost.evil.com/cb", false},                // not loopback
		{"http://10.0.0.1/cb", false},                          // private is not loopback
		{"https://app.example.com/cb#frag", false},             // fragment
		{"https://app.example.com/cb#", false},                 // empty fragment
		{"javascript:alert(1)", false},                         //
		{"JavaScript:alert(1)", false},                         // mixed case
		{"data:text/html,<script>alert(1)</script>", false},    //
		{"file:///etc/passwd", false},                          //
		{"vbscript:msgbox", false},                             //
		{"about:blank", false},                                 //
		{"blob:https://a.example/uuid", false},                 //
		{"https://user:pass@app.example.com/cb", false},        // userinfo
		{"/relative/cb", false},                                // not absolute
		{"", false},                                            //
		{"https:///nohost", false},                             //
		{"https://app.example.com/c b", false},                 // whitespace
		{"https://app.example.com/" + strings.Repeat("a", 2001), false},
	} {
		err := validateRedirectURI(tc.uri)
		if (err == nil) != tc.ok {
			t.Errorf("validateRedirectURI(%q) = %v, want ok=%v", tc.uri, err, tc.ok)
		}
	}
}

func TestMatchRedirectURI(t *testing.T) {
	reg := []string{
		"http://127.0.0.1:33418/",
		"https://vscode.dev/redirect",
		"https://claude.ai/api/mcp/auth_callback",
		"http://localhost:6274/oauth/callback",
		"cursor://anysphere.cursor-mcp/oauth/callback",
		"http://[::1]/cb",
		"https://app.example.com:8443/cb",
	}
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"http://127.0.0.1:33418/", true},
		{"http://127.0.0.1:51000/", true}, // RFC 8252 s7.3: any port on loopback
		{"http://127.0.0.1/", true},       // no port at all
		{"http://localhost:9999/oauth/callback", true},
		{"http://[::1]:4000/cb", true},
		{"https://vscode.dev/redirect", true},
		{"https://claude.ai/api/mcp/auth_callback", true},
		{"cursor://anysphere.cursor-mcp/oauth/callback", true},
		{"https://app.example.com:8443/cb", true},
		{"https://app.example.com:9443/cb", false},   // other port, not loopback
		{"https://app.example.com/cb", false},        // port dropped
		{"https://vscode.dev/redirect/extra", false}, // extra path
		{"https://vscode.dev/redirect?x=1", false},   // extra query
		{"https://vscode.dev/redirect#frag", false},  // fragment
		{"https://evil@vscode.dev/redirect", false},  // userinfo
		{"HTTPS://vscode.dev/redirect", false},       // exact match: scheme case differs
		{"https://VSCODE.dev/redirect", false},       // exact match: host case differs
		{"http://127.0.0.1:33418/other", false},      // loopback, other path
		{"http://127.0.0.2:33418/", false},           // other loopback address
		{"http://localhost:33418/", false},           // localhost is not 127.0.0.1
		{"http://user@127.0.0.1:5000/", false},       // userinfo on loopback
		{"http://127.0.0.1:5000/#x", false},          // fragment on loopback
		{"HTTP://127.0.0.1:5000/", false},            // scheme case on loopback
		{"https://127.0.0.1:33418/", false},          // scheme differs
		{"cursor://anysphere.cursor-mcp/oauth/callback2", false},
		{"http://127.0.0.1:33418/?", false},
	} {
		if got := matchRedirectURI(reg, tc.uri); got != tc.ok {
			t.Errorf("matchRedirectURI(%q) = %v, want %v", tc.uri, got, tc.ok)
		}
	}
}

func TestRegisterPublicClient(t *testing.T) {
	e := newEnv(t)
	code, out := e.register(map[string]any{
		"redirect_uris":              []string{"http://127.0.0.1:33418/", "cursor://anysphere.cursor-mcp/oauth/callback"},
		"token_endpoint_auth_method": "none",
		"client_name":                "Cursor",
		"unknown_field":              "ignored", // RFC 7591 s2
	})
	if code != 201 {
		t.Fatalf("status %d %v", code, out)
	}
	id, _ := out["client_id"].(string)
	if !strings.HasPrefix(id, prefixClientID) || out["client_secret"] != nil || out["secret_hash"] != nil ||
		out["client_name"] != "Cursor" || out["token_endpoint_auth_method"] != "none" || out["client_id_issued_at"] == nil {
		t.Fatalf("response %v", out)
	}
	c, err := e.srv.lookupClient(t.Context(), id)
	if err != nil || c.ClientName != "Cursor" || len(c.RedirectURIs) != 2 || c.SecretHash != "" {
		t.Fatalf("stored %+v %v", c, err)
	}
}

func TestRegisterConfidentialClient(t *testing.T) {
	e := newEnv(t)
	code, out := e.register(map[string]any{"redirect_uris": []string{"https://app.example.com/cb"}, "token_endpoint_auth_method": "client_secret_post"})
	if code != 201 {
		t.Fatalf("status %d %v", code, out)
	}
	secret, _ := out["client_secret"].(string)
	if !strings.HasPrefix(secret, prefixClientSecret) || out["client_secret_expires_at"] != float64(0) || out["secret_hash"] != nil {
		t.Fatalf("response %v", out)
	}
	raw, err := e.store.Get(t.Context(), kindClient, out["client_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	// The record holds the SHA-256 of the secret (as 32 bytes: records.go).
	hash, _ := hex.DecodeString(hashToken(secret))
	if strings.Contains(string(raw), secret) || !strings.Contains(string(raw), string(hash)) {
		t.Fatalf("store must hold the secret's hash only: %s", raw)
	}
	// Default method is client_secret_basic (RFC 7591 s2).
	_, out = e.register(map[string]any{"redirect_uris": []string{"https://app.example.com/cb"}})
	if out["token_endpoint_auth_method"] != "client_secret_basic" || out["client_secret"] == nil {
		t.Fatalf("default method: %v", out)
	}
}

func TestRegisterErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		body   string
		ctype  string
		status int
		code   string
	}{
		{"no redirect", `{"client_name":"x"}`, "application/json", 400, "invalid_redirect_uri"},
		{"http remote", `{"redirect_uris":["http://example.com/cb"]}`, "application/json", 400, "invalid_redirect_uri"},
		{"javascript", `{"redirect_uris":["javascript:alert(1)"]}`, "application/json", 400, "invalid_redirect_uri"},
		{"fragment", `{"redirect_uris":["https://a.example/cb#x"]}`, "application/json", 400, "invalid_redirect_uri"},
		{"too many", `{"redirect_uris":[` + strings.Repeat(`"https://a.example/cb",`, 10) + `"https://a.example/cb"]}`, "application/json", 400, "invalid_redirect_uri"},
		{"bad method", `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`, "application/json", 400, "invalid_client_metadata"},
		{"bad grant", `{"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]}`, "application/json", 400, "invalid_client_metadata"},
		{"bad response type", `{"redirect_uris":["https://a.example/cb"],"response_types":["token"]}`, "application/json", 400, "invalid_client_metadata"},
		{"long name", `{"redirect_uris":["https://a.example/cb"],"client_name":"` + strings.Repeat("n", 501) + `"}`, "application/json", 400, "invalid_client_metadata"},
		{"bad logo", `{"redirect_uris":["https://a.example/cb"],"logo_uri":"javascript:x"}`, "application/json", 400, "invalid_client_metadata"},
		{"not json", `redirect_uris=x`, "application/json", 400, "invalid_client_metadata"},
		{"wrong type", `{"redirect_uris":"https://a.example/cb"}`, "application/json", 400, "invalid_client_metadata"},
		{"form body", `{"redirect_uris":["https://a.example/cb"]}`, "application/x-www-form-urlencoded", 400, "invalid_client_metadata"},
		{"huge body", `{"redirect_uris":["https://a.example/cb"],"x":"` + strings.Repeat("a", 20000) + `"}`, "application/json", 400, "invalid_client_metadata"},
	} {
		resp, err := http.Post(e.url("/register"), tc.ctype, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]string
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != tc.status || out["error"] != tc.code || out["error_description"] == "" {
			t.Errorf("%s: %d %v, want %d %s", tc.name, resp.StatusCode, out, tc.status, tc.code)
		}
	}
	resp := e.get(http.DefaultClient, e.url("/register"))
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET /register: %d", resp.StatusCode)
	}
}

func TestRegisterRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RegistrationBurst = 3; c.RegistrationRate = 10 * time.Second })
	body := `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none"}`
	post := func() *http.Response {
		resp, err := http.Post(e.url("/register"), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 3 {
		if r := post(); r.StatusCode != 201 {
			t.Fatalf("registration %d: %d", i, r.StatusCode)
		}
	}
	r := post()
	if r.StatusCode != 429 || r.Header.Get("Retry-After") != "10" {
		t.Fatalf("4th registration: %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	e.clock.Advance(10 * time.Second)
	if r := post(); r.StatusCode != 201 {
		t.Fatalf("after refill: %d", r.StatusCode)
	}
}

// TestRegistrationIsBounded: dynamic registration, open to anyone, cannot
// grow the store without bound (issue 11 item 2).
func TestRegistrationIsBounded(t *testing.T) {
	ctx := t.Context()
	t.Run("an unused registration expires, a used one stays", func(t *testing.T) {
		e := newEnv(t)
		unused := e.publicClient()
		used, _, _ := e.tokens()
		e.clock.Advance(24*time.Hour + time.Second)
		if _, err := e.srv.lookupClient(ctx, unused); err != ErrNotFound {
			t.Fatalf("a registration never used to sign in is still there a day later: %v", err)
		}
		e.clock.Advance(100 * 24 * time.Hour)
		if _, err := e.srv.lookupClient(ctx, used); err != nil {
			t.Fatalf("a client that completed a sign-in was dropped: %v", err)
		}
	})
	t.Run("a cap on stored clients, with a clear error past it", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.MaxClients = 3 })
		for range 3 {
			e.publicClient()
		}
		body := `{"redirect_uris":["` + testRedirect + `"],"token_endpoint_auth_method":"none"}`
		resp, err := http.Post(e.url("/register"), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]string
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(out["error_description"], "limit of 3 registered clients") {
			t.Fatalf("fourth registration: %d %v (Retry-After %q), want 503 naming the limit", resp.StatusCode, out, resp.Header.Get("Retry-After"))
		}
		// Unused registrations expire, and make room.
		e.clock.Advance(25 * time.Hour)
		e.publicClient()
	})
	t.Run("a record costs about what was sent", func(t *testing.T) {
		e := newEnv(t)
		name := strings.Repeat("<&>", maxFieldLen/3)
		body := `{"redirect_uris":["` + testRedirect + `"],"token_endpoint_auth_method":"none","client_name":"` + name + `"}`
		code, out := e.register(map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "none", "client_name": name})
		if code != 201 {
			t.Fatalf("register: %d %v", code, out)
		}
		stored, err := e.store.Get(ctx, kindClient, out["client_id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) > len(body)+300 {
			t.Fatalf("a %d-byte registration is stored in %d bytes", len(body), len(stored))
		}
		if c, err := e.srv.lookupClient(ctx, out["client_id"].(string)); err != nil || c.ClientName != name {
			t.Fatalf("stored client reads back as %v, %v", c, err)
		}
	})
}

// Checked, correct: redirect URI matching holes beyond the existing table
// (RFC 9700 s4.1.3 exact matching; RFC 8252 s7.3 port variance only).
func TestRedirectURIMatchingHoles(t *testing.T) {
	reg := []string{"http://127.0.0.1:33418/callback", "https://app.example.com/cb", "http://[::1]/cb"}
	for _, uri := range []string{
		"http://127.0.0.1:33418/%63allback",         // percent-encoded path
		"http://127.0.0.1:5000/Callback",            // path case
		"http://127.0.0.1.:5000/callback",           // trailing dot
		"http://127.0.0.1:5000/callback/",           // trailing slash
		"http://127.0.0.1:5000/callback/../x",       // dot segments
		"http://127.0.0.1:5000\\@evil.example/cb",   // backslash authority trick
		"http://127.0.0.1:5000@evil.example/cb",     // userinfo trick
		"http://[::1%25eth0]:5000/cb",               // IPv6 zone id
		"http://[::ffff:127.0.0.1]:5000/callback",   // IPv4-mapped spelling
		"http://0x7f000001:5000/callback",           // hex IPv4
		"http://2130706433:5000/callback",           // decimal IPv4
		"https://app.example.com./cb",               // trailing dot on https
		"https://app.example.com:443/cb",            // explicit default port
		"https://app.example.com/cb%2F..%2Fevil",    // encoded traversal
		"https://app.example.com/cb?",               // empty query
		"https://app.example.com/cb\t",              // control character
		"https://app.example.com%2Eevil.example/cb", // encoded dot in host
	} {
		if matchRedirectURI(reg, uri) {
			t.Errorf("matchRedirectURI accepted %q", uri)
		}
	}
	for _, uri := range []string{"http://127.0.0.1.:5000/cb", "http://[::1%25lo]/cb", "http://127.1/cb", "http://0x7f.0.0.1/cb", "http://localhost./cb"} {
		if validateRedirectURI(uri) == nil {
			t.Errorf("validateRedirectURI accepted %q as loopback", uri)
		}
	}
}
