package oauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestAuthorizationServerMetadata(t *testing.T) {
	e := newEnv(t)
	resp := e.get(http.DefaultClient, e.url("/.well-known/oauth-authorization-server"))
	var md map[string]any
	json.NewDecoder(resp.Body).Decode(&md)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := map[string]any{
		"issuer":                                         e.ts.URL,
		"authorization_endpoint":                         e.ts.URL + "/authorize",
		"token_endpoint":                                 e.ts.URL + "/token",
		"registration_endpoint":                          e.ts.URL + "/register",
		"revocation_endpoint":                            e.ts.URL + "/revoke",
		"client_id_metadata_document_supported":          true,
		"authorization_response_iss_parameter_supported": true,
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("%s = %v, want %v", k, md[k], v)
		}
	}
	lists := map[string][]string{
		"response_types_supported":                   {"code"},
		"grant_types_supported":                      {"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":           {"S256"},
		"token_endpoint_auth_methods_supported":      {"none", "client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported": {"none", "client_secret_basic", "client_secret_post"},
	}
	for k, v := range lists {
		var got []string
		for _, x := range md[k].([]any) {
			got = append(got, x.(string))
		}
		if !slices.Equal(got, v) {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS header without Origin")
	}
}

func TestProtectedResourceMetadata(t *testing.T) {
	e := newEnv(t)
	for path, resource := range map[string]string{
		"/.well-known/oauth-protected-resource/mcp": e.ts.URL + "/mcp",
		"/.well-known/oauth-protected-resource/sse": e.ts.URL + "/sse",
		"/.well-known/oauth-protected-resource":     e.ts.URL + "/mcp",
	} {
		resp := e.get(http.DefaultClient, e.url(path))
		var md ProtectedResourceMetadata
		json.NewDecoder(resp.Body).Decode(&md)
		resp.Body.Close()
		if resp.StatusCode != 200 || md.Resource != resource ||
			!slices.Equal(md.AuthorizationServers, []string{e.ts.URL}) || !slices.Equal(md.BearerMethodsSupported, []string{"header"}) {
			t.Errorf("%s: %d %+v", path, resp.StatusCode, md)
		}
	}
	if got, want := ProtectedResourceMetadataURL("https://h.example/mcp"), "https://h.example/.well-known/oauth-protected-resource/mcp"; got != want {
		t.Errorf("metadata URL %q, want %q", got, want)
	}
}

func TestCORS(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/mcp", "/token", "/register", "/revoke", "/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource/mcp"} {
		req, _ := http.NewRequest("OPTIONS", e.url(path), nil)
		req.Header.Set("Origin", "http://localhost:6274")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type, mcp-session-id")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s preflight: %d %v", path, resp.StatusCode, h)
			continue
		}
		for _, want := range []string{"Authorization", "Content-Type", "Mcp-Session-Id", "MCP-Protocol-Version", "Last-Event-ID"} {
			if !strings.Contains(h.Get("Access-Control-Allow-Headers"), want) {
				t.Errorf("%s: Allow-Headers lacks %s", path, want)
			}
		}
		for _, want := range []string{"GET", "POST", "DELETE", "OPTIONS"} {
			if !strings.Contains(h.Get("Access-Control-Allow-Methods"), want) {
				t.Errorf("%s: Allow-Methods lacks %s", path, want)
			}
		}
		for _, want := range []string{"Mcp-Session-Id", "WWW-Authenticate", "MCP-Protocol-Version"} {
			if !strings.Contains(h.Get("Access-Control-Expose-Headers"), want) {
				t.Errorf("%s: Expose-Headers lacks %s", path, want)
			}
		}
	}
	// A real request through CORS keeps its own answer and gains the headers.
	req, _ := http.NewRequest("POST", e.url("/mcp"), nil)
	req.Header.Set("Origin", "http://localhost:6274")
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("POST /mcp with Origin: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestCORSAllowedOrigins(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowedOrigins = []string{"https://good.example"} })
	for origin, want := range map[string]string{"https://good.example": "https://good.example", "https://evil.example": ""} {
		req, _ := http.NewRequest("GET", e.url("/.well-known/oauth-authorization-server"), nil)
		req.Header.Set("Origin", origin)
		resp, _ := http.DefaultClient.Do(req)
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("origin %s: Allow-Origin %q, want %q", origin, got, want)
		}
	}
}

func TestNewServerRejectsBadConfig(t *testing.T) {
	good := func() Config {
		return Config{Issuer: "https://a.example", Resources: []string{"https://a.example/mcp"}, Store: newTestStore(nil),
			Provider: &fakeProvider{}, Secret: make([]byte, 32)}
	}
	if _, err := NewServer(good()); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"no issuer":         func(c *Config) { c.Issuer = "" },
		"trailing slash":    func(c *Config) { c.Issuer = "https://a.example/" },
		"query":             func(c *Config) { c.Issuer = "https://a.example?x=1" },
		"no resources":      func(c *Config) { c.Resources = nil },
		"relative resource": func(c *Config) { c.Resources = []string{"/mcp"} },
		"short secret":      func(c *Config) { c.Secret = make([]byte, 16) },
		"no store":          func(c *Config) { c.Store = nil },
		"no provider":       func(c *Config) { c.Provider = nil },
	} {
		c := good()
		mod(&c)
		if _, err := NewServer(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// An issuer with a path: RFC 8414 s3.1 inserts the well-known segment
// before the path, and the endpoints live under it.
func TestIssuerWithPath(t *testing.T) {
	s, err := NewServer(Config{Issuer: "https://h.example/tenant", Resources: []string{"https://h.example/tenant/mcp"},
		Store: newTestStore(nil), Provider: &fakeProvider{}, Secret: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	for path, want := range map[string]int{
		"/.well-known/oauth-authorization-server/tenant":   200,
		"/tenant/.well-known/oauth-authorization-server":   200,
		"/.well-known/oauth-protected-resource/tenant/mcp": 200,
		"/.well-known/oauth-protected-resource":            200,
		"/.well-known/oauth-authorization-server":          404,
		"/register": 404,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
		if want == 200 && strings.Contains(path, "authorization-server") && !strings.Contains(rec.Body.String(), `"registration_endpoint":"https://h.example/tenant/register"`) {
			t.Errorf("%s: %s", path, rec.Body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/tenant/register", strings.NewReader(`{"redirect_uris":["https://a.example/cb"]}`)))
	if rec.Code != 400 { // reached the handler: wrong Content-Type
		t.Errorf("POST /tenant/register: %d", rec.Code)
	}
}

// Fetch standard, "CORS protocol and HTTP caches": when
// Access-Control-Allow-Origin depends on Origin, every response must say
// Vary: Origin, including those that carry no Allow-Origin. Otherwise a
// shared cache can keep the cacheable metadata (public, max-age=3600) as
// fetched without CORS, or for one origin, and serve it to an allowed one,
// whose browser then refuses it for an hour.
func TestCORSVaryOnEveryResponse(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AllowedOrigins = []string{"https://inspector.example"} })
	for _, origin := range []string{"https://inspector.example", "https://other.example", ""} {
		req, _ := http.NewRequest("GET", e.url("/.well-known/oauth-authorization-server"), nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(resp)
		if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
			t.Errorf("Origin %q: no Vary: Origin (headers %v)", origin, resp.Header)
		}
	}
}
