package signin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer is a small MCP server's authorization side, written from the
// specifications rather than from SignIn: it checks what a real one checks
// (registered redirect URI, PKCE S256, state, CSRF on the consent form,
// cookie binding of the upstream sign-in), so a client that skips a step
// fails here.
type fakeServer struct {
	srv      *httptest.Server
	accounts []string // offered on the sign-in page
	consent  bool     // show a consent page first

	mu         sync.Mutex
	clients    map[string]string // client_id -> redirect_uri
	pending    map[string]url.Values
	codes      map[string]issued
	tokens     map[string]string // access token -> email
	csrf       map[string]string // browser cookie -> CSRF token
	consented  int
	registered int
	throttle   int // answer this many authorization requests 429 first
}

type issued struct {
	params url.Values
	email  string
}

func newFakeServer(t *testing.T, consent bool, accounts ...string) *fakeServer {
	f := &fakeServer{accounts: accounts, consent: consent, clients: map[string]string{}, pending: map[string]url.Values{},
		codes: map[string]issued{}, tokens: map[string]string{}, csrf: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer resource_metadata="%s/.well-known/oauth-protected-resource/mcp"`, f.srv.URL))
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	})
	mux.HandleFunc("GET /.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"resource": f.srv.URL + "/mcp", "authorization_servers": []string{f.srv.URL}})
	})
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": f.srv.URL, "authorization_endpoint": f.srv.URL + "/authorize",
			"token_endpoint": f.srv.URL + "/token", "registration_endpoint": f.srv.URL + "/register",
			"code_challenge_methods_supported": []string{"S256"}})
	})
	mux.HandleFunc("POST /register", func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			RedirectURIs []string `json:"redirect_uris"`
			Auth         string   `json:"token_endpoint_auth_method"`
		}
		if json.NewDecoder(r.Body).Decode(&m) != nil || len(m.RedirectURIs) != 1 || m.Auth != "none" {
			http.Error(w, `{"error":"invalid_client_metadata"}`, 400)
			return
		}
		id := rand.Text()
		f.mu.Lock()
		f.clients[id] = m.RedirectURIs[0]
		f.registered++
		f.mu.Unlock()
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"client_id": id, "redirect_uris": m.RedirectURIs})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f.mu.Lock()
		ru, ok := f.clients[q.Get("client_id")]
		throttled := f.throttle > 0
		f.throttle--
		f.mu.Unlock()
		if throttled {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"too_many_requests"}`, http.StatusTooManyRequests)
			return
		}
		if !ok || ru != q.Get("redirect_uri") || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
			q.Get("state") == "" || q.Get("resource") != f.srv.URL+"/mcp" || q.Get("response_type") != "code" {
			http.Error(w, "bad authorization request", 400)
			return
		}
		key := rand.Text()
		f.mu.Lock()
		f.pending[key] = q
		f.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "browser", Value: key, Path: "/", HttpOnly: true})
		if !f.consent {
			http.Redirect(w, r, "/upstream/signin", http.StatusFound)
			return
		}
		tok := rand.Text()
		f.mu.Lock()
		f.csrf[key] = tok
		f.mu.Unlock()
		fmt.Fprintf(w, `<!doctype html><html><body><!-- <form action="/trap"><button>Approve</button></form> -->
<h1>Allow %s?</h1>
<form method="post" action="/consent"><input type="hidden" name="csrf" value="%s">
<button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="approve">Approve</button></form></body></html>`, html.EscapeString(q.Get("client_id")), tok)
	})
	mux.HandleFunc("POST /consent", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("browser")
		if err != nil {
			http.Error(w, "no browser cookie", 400)
			return
		}
		f.mu.Lock()
		want := f.csrf[c.Value]
		f.mu.Unlock()
		if want == "" || r.PostFormValue("csrf") != want || r.Header.Get("Origin") != f.srv.URL {
			http.Error(w, "CSRF check failed", http.StatusForbidden)
			return
		}
		if r.PostFormValue("decision") != "approve" {
			http.Error(w, "denied", 400)
			return
		}
		f.mu.Lock()
		f.consented++
		f.mu.Unlock()
		http.Redirect(w, r, "/upstream/signin", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /upstream/signin", func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString(`<html><style>button{color:red}</style><body><h1>Choose an account</h1>`)
		for _, a := range f.accounts {
			fmt.Fprintf(&b, `<form method=POST action="/upstream/signin"><input type=hidden name=user value='%s'><button>Sign in as <b>%s</b></button></form>`, a, a)
		}
		b.WriteString(`<form method="post" action="/upstream/signin"><input type="hidden" name="user" value="nobody"><button>Cancel</button></form>`)
		w.Write([]byte(b.String()))
	})
	mux.HandleFunc("POST /upstream/signin", func(w http.ResponseWriter, r *http.Request) {
		user := r.PostFormValue("user")
		http.Redirect(w, r, "/callback?upstream_code="+url.QueryEscape(user), http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("browser")
		f.mu.Lock()
		q, ok := f.pending[cookieValue(c, err)]
		delete(f.pending, cookieValue(c, err))
		f.mu.Unlock()
		if !ok {
			http.Error(w, "callback without a pending authorization for this browser", 400)
			return
		}
		code := rand.Text()
		f.mu.Lock()
		f.codes[code] = issued{params: q, email: r.URL.Query().Get("upstream_code")}
		f.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		is, ok := f.codes[r.PostFormValue("code")]
		delete(f.codes, r.PostFormValue("code"))
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		if !ok || r.PostFormValue("grant_type") != "authorization_code" ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != is.params.Get("code_challenge") ||
			r.PostFormValue("redirect_uri") != is.params.Get("redirect_uri") ||
			r.PostFormValue("client_id") != is.params.Get("client_id") ||
			r.PostFormValue("resource") != is.params.Get("resource") {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		tok := rand.Text()
		f.mu.Lock()
		f.tokens[tok] = is.email
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600, "refresh_token": rand.Text()})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func cookieValue(c *http.Cookie, err error) string {
	if err != nil {
		return ""
	}
	return c.Value
}

func TestSignIn(t *testing.T) {
	for _, consent := range []bool{true, false} {
		t.Run(fmt.Sprintf("consent=%v", consent), func(t *testing.T) {
			f := newFakeServer(t, consent, "grace@example.com", "ada@example.com")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tok, err := SignIn(ctx, Options{BaseURL: f.srv.URL, Email: "ada@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if got := f.tokens[tok.AccessToken]; got != "ada@example.com" {
				t.Errorf("token issued for %q, want ada@example.com", got)
			}
			if want := map[bool]int{true: 1, false: 0}[consent]; f.consented != want {
				t.Errorf("consent approved %d times, want %d", f.consented, want)
			}
			if tok.ClientID == "" || tok.RefreshToken == "" {
				t.Errorf("token lacks client id or refresh token: %+v", tok)
			}
		})
	}
}

func TestSignInUnknownAccount(t *testing.T) {
	f := newFakeServer(t, true, "grace@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The only forms left name another account or cancel: SignIn must not
	// sign in as someone else.
	_, err := SignIn(ctx, Options{BaseURL: f.srv.URL, Email: "ada@example.com"})
	if err == nil {
		t.Fatal("signed in without the requested account on the page")
	}
	if len(f.tokens) != 0 {
		t.Errorf("tokens issued: %v", f.tokens)
	}
}

func TestWellKnown(t *testing.T) {
	cases := []struct{ id, name, want string }{
		{"http://h:1/mcp", "oauth-protected-resource", "http://h:1/.well-known/oauth-protected-resource/mcp"},
		{"http://h:1", "oauth-authorization-server", "http://h:1/.well-known/oauth-authorization-server"},
		{"http://h:1/", "oauth-authorization-server", "http://h:1/.well-known/oauth-authorization-server"},
		{"https://h/tenant/a", "oauth-authorization-server", "https://h/.well-known/oauth-authorization-server/tenant/a"},
	}
	for _, c := range cases {
		if got := wellKnown(c.id, c.name); got != c.want {
			t.Errorf("wellKnown(%q) = %q, want %q", c.id, got, c.want)
		}
	}
}

// Many users through one client, past a rate limit: the second sign-in
// reuses the first one's client and waits out a 429.
func TestSignInReusesClientThroughRateLimit(t *testing.T) {
	f := newFakeServer(t, true, "grace@example.com", "ada@example.com")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, err := SignIn(ctx, Options{BaseURL: f.srv.URL, Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.throttle = 1
	f.mu.Unlock()
	second, err := SignIn(ctx, Options{BaseURL: f.srv.URL, Email: "grace@example.com", ClientID: first.ClientID})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.registered != 1 || second.ClientID != first.ClientID {
		t.Errorf("registered %d clients, second client %q, first %q", f.registered, second.ClientID, first.ClientID)
	}
	if f.tokens[second.AccessToken] != "grace@example.com" || f.throttle != -1 {
		t.Errorf("second token for %q, throttle left %d", f.tokens[second.AccessToken], f.throttle)
	}
}
