package oauth_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/oauth/authkit"
	"remote-mcp-authkit/oauth/authkittest"
	"remote-mcp-authkit/store"
)

// upstreamFaults puts faults in front of an AuthKit emulator that its own
// Fault cannot make: the key set endpoint answering an error, and answers
// to authenticate held back after the emulator did the work.
type upstreamFaults struct {
	mu         sync.Mutex
	jwksStatus int
	holdAnswer time.Duration
}

func (f *upstreamFaults) set(jwksStatus int, holdAnswer time.Duration) {
	f.mu.Lock()
	f.jwksStatus, f.holdAnswer = jwksStatus, holdAnswer
	f.mu.Unlock()
}

func (f *upstreamFaults) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		status, hold := f.jwksStatus, f.holdAnswer
		f.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/sso/jwks/") && status != 0 {
			http.Error(w, "key set unavailable", status)
			return
		}
		if r.URL.Path != "/user_management/authenticate" || hold == 0 {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r.WithContext(context.WithoutCancel(r.Context())))
		select {
		case <-time.After(hold):
		case <-r.Context().Done():
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// akFlow is the authorization server with the real AuthKit provider, in
// front of an emulator behind upstreamFaults.
type akFlow struct {
	t        *testing.T
	ak       *authkittest.Server
	faults   *upstreamFaults
	base     string
	clientID string
}

const akRedirect = "http://127.0.0.1:33418/"

func newAKFlow(t *testing.T, providerTimeout time.Duration, edit func(*authkit.Config)) *akFlow {
	t.Helper()
	f := &akFlow{t: t, faults: &upstreamFaults{}}
	up := httptest.NewUnstartedServer(nil)
	ak, err := authkittest.NewHandler("http://" + up.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	f.ak = ak
	up.Config.Handler = f.faults.wrap(ak.Handler())
	up.Start()
	t.Cleanup(up.Close)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pc := authkit.Config{ClientID: ak.ClientID(), APIKey: ak.APIKey(), APIURL: ak.URL, Logger: quiet, Timeout: providerTimeout}
	if edit != nil {
		edit(&pc)
	}
	provider, err := authkit.New(pc)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := oauth.LoadOrCreateSecret(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	f.base = "http://" + ts.Listener.Addr().String()
	srv, err := oauth.NewServer(oauth.Config{
		Issuer: f.base, Resources: []string{f.base + "/mcp"}, Store: store.NewMemoryStore(), Provider: provider,
		Secret: secret, Logger: quiet, ProviderTimeout: providerTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", srv.RequireBearer(f.base+"/mcp", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(oauth.IdentityFromContext(r.Context()))
	})))
	mux.Handle("/", srv.Handler())
	ts.Config.Handler = mux
	ts.Start()
	t.Cleanup(ts.Close)
	resp, err := http.Post(f.base+"/register", "application/json",
		strings.NewReader(`{"redirect_uris":["`+akRedirect+`"],"token_endpoint_auth_method":"none","client_name":"AuthKit hostile"}`))
	if err != nil {
		t.Fatal(err)
	}
	var reg map[string]any
	json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	f.clientID, _ = reg["client_id"].(string)
	return f
}

func (f *akFlow) form(path string, v url.Values) (int, map[string]any) {
	f.t.Helper()
	resp, err := http.PostForm(f.base+path, v)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (f *akFlow) refresh(rt string) (int, map[string]any) {
	f.t.Helper()
	return f.form("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {f.clientID}})
}

func (f *akFlow) call(tok string) (int, oauth.Identity) {
	f.t.Helper()
	req, _ := http.NewRequest("POST", f.base+"/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var id oauth.Identity
	json.NewDecoder(resp.Body).Decode(&id)
	return resp.StatusCode, id
}

// signIn runs consent, the emulator's sign-in page and the code exchange,
// and returns the access and refresh tokens.
func (f *akFlow) signIn(email string) (access, refresh string) {
	f.t.Helper()
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"response_type": {"code"}, "client_id": {f.clientID}, "redirect_uri": {akRedirect}, "state": {"s1"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	resp, err := browser.Get(f.base + "/authorize?" + q.Encode())
	if err != nil {
		f.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	pending := regexp.MustCompile(`name="pending" value="([^"]+)"`).FindSubmatch(body)
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(body)
	if pending == nil || csrf == nil {
		f.t.Fatalf("no consent form: %d %s", resp.StatusCode, body)
	}
	resp, err = browser.PostForm(f.base+"/authorize", url.Values{"pending": {string(pending[1])}, "csrf_token": {string(csrf[1])}, "decision": {"approve"}})
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = authkittest.SignIn(context.Background(), browser, resp.Header.Get("Location"), email)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = browser.Get(resp.Header.Get("Location")) // our /callback
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	st, tok := f.form("/token", url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")},
		"redirect_uri": {akRedirect}, "code_verifier": {verifier}, "client_id": {f.clientID}})
	if st != 200 {
		f.t.Fatalf("token: %d %v", st, tok)
	}
	return tok["access_token"].(string), tok["refresh_token"].(string)
}

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
