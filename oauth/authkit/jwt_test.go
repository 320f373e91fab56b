package authkit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/oauth/authkittest"
)

var (
	keysOnce   sync.Once
	key1, key2 *rsa.PrivateKey
)

func testKeys() (*rsa.PrivateKey, *rsa.PrivateKey) {
	keysOnce.Do(func() {
		var err error
		if key1, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if key2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return key1, key2
}

// jwksServer serves a key set that a test can change, and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	status  int
	body    string
	fetches int
}

func newJWKSServer(t *testing.T, keys map[string]*rsa.PublicKey) *jwksServer {
	js := &jwksServer{keys: keys}
	js.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js.mu.Lock()
		defer js.mu.Unlock()
		js.fetches++
		if js.status != 0 {
			w.WriteHeader(js.status)
			return
		}
		if js.body != "" {
			w.Write([]byte(js.body))
			return
		}
		var set struct {
			Keys []map[string]string `json:"keys"`
		}
		for kid, k := range js.keys {
			set.Keys = append(set.Keys, map[string]string{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		}
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(js.Close)
	return js
}

func (js *jwksServer) count() int {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.fetches
}

func (js *jwksServer) set(fn func(js *jwksServer)) {
	js.mu.Lock()
	defer js.mu.Unlock()
	fn(js)
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const testIssuer = "https://api.example.test/user_management/client_1"

func newVerifier(js *jwksServer, c *clock) *verifier {
	return &verifier{
		clientID: "client_1",
		issuers:  []string{testIssuer},
		leeway:   30 * time.Second,
		now:      c.now,
		keys: &keySet{url: js.URL, client: js.Client(), timeout: 5 * time.Second,
			minInterval: 30 * time.Second, maxAge: time.Hour, now: c.now},
	}
}

func validClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "user_1", "sid": "session_1", "jti": "j1",
		"org_id": "org_acme", "role": "admin", "permissions": []string{"image_generation"},
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
}

func sign(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	tok, err := authkittest.SignJWT(key, map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid}, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyAcceptsGoodToken(t *testing.T) {
	k1, _ := testKeys()
	js := newJWKSServer(t, map[string]*rsa.PublicKey{"k1": &k1.PublicKey})
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	v := newVerifier(js, c)
	got, err := v.verify(context.Background(), sign(t, k1, "k1", validClaims(c.now())))
	if err != nil {
		t.Fatal(err)
	}
	if got.Sub != "user_1" || got.Sid != "session_1" || got.OrgID != "org_acme" || got.Role != "admin" ||
		len(got.Permissions) != 1 || got.Permissions[0] != "image_generation" {
		t.Fatalf("claims %+v", got)
	}
	// Cached: more tokens cost no fetch. An aud naming us is fine.
	for _, aud := range []any{"client_1", []string{"other", "client_1"}} {
		cl := validClaims(c.now())
		cl["aud"] = aud
		if _, err := v.verify(context.Background(), sign(t, k1, "k1", cl)); err != nil {
			t.Fatalf("aud %v: %v", aud, err)
		}
	}
	if n := js.count(); n != 1 {
		t.Fatalf("%d key set fetches, want 1", n)
	}
}

func TestVerifyRefusesBadTokens(t *testing.T) {
	k1, k2 := testKeys()
	now := time.Unix(1_800_000_000, 0)
	with := func(k string, v any) map[string]any {
		c := validClaims(now)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	good := sign(t, k1, "k1", validClaims(now))
	parts := strings.Split(good, ".")
	hmacToken := func() string {
		h := b64json(map[string]string{"alg": "HS256", "typ": "JWT", "kid": "k1"})
		p := b64json(validClaims(now))
		m := hmac.New(sha256.New, k1.PublicKey.N.Bytes()) // the classic key-confusion attack
		m.Write([]byte(h + "." + p))
		return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}

	tests := []struct {
		name       string
		token      string
		wantFetch  bool // whether judging the token may cost a key set fetch
		wantSubstr string
	}{
		{"signed by another key", sign(t, k2, "k1", validClaims(now)), true, "signature"},
		{"alg none", b64json(map[string]string{"alg": "none", "kid": "k1"}) + "." + parts[1] + ".", false, "algorithm"},
		{"alg none no kid", b64json(map[string]string{"alg": "none"}) + "." + parts[1] + ".", false, "algorithm"},
		{"HS256 with the public key", hmacToken(), false, "algorithm"},
		{"RS512", b64json(map[string]string{"alg": "RS512", "kid": "k1"}) + "." + parts[1] + "." + parts[2], false, "algorithm"},
		{"tampered payload", parts[0] + "." + b64json(with("permissions", []string{"image_generation", "admin"})) + "." + parts[2], true, "signature"},
		{"tampered header", b64json(map[string]string{"alg": "RS256", "kid": "k1", "typ": "at+jwt"}) + "." + parts[1] + "." + parts[2], true, "signature"},
		{"expired", sign(t, k1, "k1", with("exp", now.Add(-time.Minute).Unix())), true, "expired"},
		{"no exp", sign(t, k1, "k1", with("exp", nil)), true, "exp"},
		{"not yet valid", sign(t, k1, "k1", with("nbf", now.Add(time.Hour).Unix())), true, "not valid before"},
		{"issued in the future", sign(t, k1, "k1", with("iat", now.Add(time.Hour).Unix())), true, "future"},
		{"wrong issuer", sign(t, k1, "k1", with("iss", "https://evil.example")), true, "issuer"},
		{"no issuer", sign(t, k1, "k1", with("iss", nil)), true, "issuer"},
		{"no sub", sign(t, k1, "k1", with("sub", nil)), true, "sub"},
		{"no sid", sign(t, k1, "k1", with("sid", nil)), true, "sid"},
		{"other audience", sign(t, k1, "k1", with("aud", "client_2")), true, "audience"},
		{"other audiences", sign(t, k1, "k1", with("aud", []string{"client_2", "client_3"})), true, "audience"},
		{"empty audience list", sign(t, k1, "k1", with("aud", []string{})), true, "audience"},
		{"aud not a string", sign(t, k1, "k1", with("aud", 7)), true, "claims"},
		{"exp not a number", sign(t, k1, "k1", with("exp", "tomorrow")), true, "claims"},
		{"no kid", func() string {
			tok, _ := authkittest.SignJWT(k1, map[string]string{"alg": "RS256"}, validClaims(now))
			return tok
		}(), false, "kid"},
		{"crit header", func() string {
			h := `{"alg":"RS256","kid":"k1","crit":["exp"]}`
			return base64.RawURLEncoding.EncodeToString([]byte(h)) + "." + parts[1] + "." + parts[2]
		}(), false, "critical"},
		{"two parts", parts[0] + "." + parts[1], false, "parts"},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], false, "header"},
		{"garbage", "not a token", false, "parts"},
		{"oversized", strings.Repeat("a", maxTokenBytes+1), false, "bytes"},
		{"empty", "", false, "parts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := newJWKSServer(t, map[string]*rsa.PublicKey{"k1": &k1.PublicKey})
			v := newVerifier(js, &clock{t: now})
			_, err := v.verify(context.Background(), tt.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
			if !strings.Contains(err.Error(), tt.wantSubstr) {
				t.Errorf("err %q does not mention %q", err, tt.wantSubstr)
			}
			if !tt.wantFetch && js.count() != 0 {
				t.Errorf("judging this token fetched the key set %d times, want 0", js.count())
			}
		})
	}
}

func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	k1, k2 := testKeys()
	js := newJWKSServer(t, map[string]*rsa.PublicKey{"k1": &k1.PublicKey})
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	v := newVerifier(js, c)
	ctx := context.Background()
	if _, err := v.verify(ctx, sign(t, k1, "k1", validClaims(c.now()))); err != nil {
		t.Fatal(err)
	}
	if n := js.count(); n != 1 {
		t.Fatalf("fetches %d, want 1", n)
	}
	// An unknown kid costs one refetch...
	_, err := v.verify(ctx, sign(t, k2, "unknown-1", validClaims(c.now())))
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("unknown kid: %v", err)
	}
	if n := js.count(); n != 2 {
		t.Fatalf("fetches after an unknown kid %d, want 2", n)
	}
	// ...and a second one right after costs none.
	_, err = v.verify(ctx, sign(t, k2, "unknown-2", validClaims(c.now())))
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("second unknown kid: %v", err)
	}
	if n := js.count(); n != 2 {
		t.Fatalf("fetches after two unknown kids %d, want 2 (rate limited)", n)
	}
	// Known keys keep working meanwhile.
	if _, err := v.verify(ctx, sign(t, k1, "k1", validClaims(c.now()))); err != nil {
		t.Fatal(err)
	}

	// WorkOS rotates to k2; after the interval the new kid is fetched and
	// accepted.
	js.set(func(js *jwksServer) { js.keys = map[string]*rsa.PublicKey{"k2": &k2.PublicKey} })
	c.add(31 * time.Second)
	if _, err := v.verify(ctx, sign(t, k2, "k2", validClaims(c.now()))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := js.count(); n != 3 {
		t.Fatalf("fetches after rotation %d, want 3", n)
	}
	// The withdrawn k1 is no longer trusted.
	if _, err := v.verify(ctx, sign(t, k1, "k1", validClaims(c.now()))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("withdrawn key: %v", err)
	}
}

func TestKeySetMaxAge(t *testing.T) {
	k1, k2 := testKeys()
	js := newJWKSServer(t, map[string]*rsa.PublicKey{"k1": &k1.PublicKey})
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	v := newVerifier(js, c)
	ctx := context.Background()
	if _, err := v.verify(ctx, sign(t, k1, "k1", validClaims(c.now()))); err != nil {
		t.Fatal(err)
	}
	js.set(func(js *jwksServer) { js.keys = map[string]*rsa.PublicKey{"k2": &k2.PublicKey} })
	// Within the maximum age the cached k1 is still trusted, at no cost.
	c.add(30 * time.Minute)
	if _, err := v.verify(ctx, sign(t, k1, "k1", validClaims(c.now()))); err != nil {
		t.Fatal(err)
	}
	if n := js.count(); n != 1 {
		t.Fatalf("fetches %d, want 1", n)
	}
	// Past it, the set is fetched again and k1, withdrawn, is refused.
	c.add(31 * time.Minute)
	if _, err := v.verify(ctx, sign(t, k1, "k1", validClaims(c.now()))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("withdrawn key after max age: %v", err)
	}
	if n := js.count(); n != 2 {
		t.Fatalf("fetches %d, want 2", n)
	}
}

func TestKeySetFetchFailures(t *testing.T) {
	k1, _ := testKeys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name        string
		setup       func(js *jwksServer)
		unavailable bool
	}{
		{"server error", func(js *jwksServer) { js.status = 500 }, true},
		{"not found", func(js *jwksServer) { js.status = 404 }, true},
		{"not JSON", func(js *jwksServer) { js.body = "<html>" }, false},
		{"oversized", func(js *jwksServer) { js.body = `{"keys":[` + strings.Repeat(" ", maxJWKSBytes) + `]}` }, false},
		{"only a weak key", func(js *jwksServer) { js.keys = map[string]*rsa.PublicKey{"k1": &small.PublicKey} }, false},
		{"empty set", func(js *jwksServer) { js.body = `{"keys":[]}` }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := newJWKSServer(t, map[string]*rsa.PublicKey{"k1": &k1.PublicKey})
			js.set(tt.setup)
			v := newVerifier(js, &clock{t: now})
			_, err := v.verify(context.Background(), sign(t, k1, "k1", validClaims(now)))
			if err == nil {
				t.Fatal("token accepted without a usable key set")
			}
			if got := errors.Is(err, oauth.ErrUpstreamUnavailable); got != tt.unavailable {
				t.Fatalf("err %v: unavailable=%v, want %v", err, got, tt.unavailable)
			}
			// Without keys, the next token may fetch again at once: an
			// outage must not lock sign-in out for the whole interval.
			js.set(func(js *jwksServer) {
				js.status, js.body = 0, ""
				js.keys = map[string]*rsa.PublicKey{"k1": &k1.PublicKey}
			})
			if _, err := v.verify(context.Background(), sign(t, k1, "k1", validClaims(now))); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
}

// FuzzVerify: no input panics, and nothing but the signed header and
// payload is ever accepted.
func FuzzVerify(f *testing.F) {
	k1, _ := testKeys()
	now := time.Unix(1_800_000_000, 0)
	tok, err := authkittest.SignJWT(k1, map[string]string{"alg": "RS256", "kid": "k1"}, validClaims(now))
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	f.Add(tok)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("e30.e30.")
	f.Add("..")
	js := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1",
			"n": base64.RawURLEncoding.EncodeToString(k1.N.Bytes()), "e": "AQAB"}}})
	}))
	defer js.Close()
	c := &clock{t: now}
	v := &verifier{issuers: []string{testIssuer}, leeway: time.Second, now: c.now,
		keys: &keySet{url: js.URL, client: js.Client(), timeout: time.Second, minInterval: time.Hour, maxAge: 24 * time.Hour, now: c.now}}
	f.Fuzz(func(t *testing.T, token string) {
		got, err := v.verify(context.Background(), token)
		if err != nil {
			return
		}
		p := strings.Split(token, ".")
		if p[0] != parts[0] || p[1] != parts[1] || got.Sub != "user_1" {
			t.Fatalf("accepted a token that was not signed: %q", token)
		}
	})
}

// BenchmarkVerify measures a verification with the key set cached, the
// cost every sign-in and refresh pays.
func BenchmarkVerify(b *testing.B) {
	k1, _ := testKeys()
	js := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1",
			"n": base64.RawURLEncoding.EncodeToString(k1.N.Bytes()), "e": "AQAB"}}})
	}))
	defer js.Close()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	v := &verifier{issuers: []string{testIssuer}, leeway: time.Second, now: c.now,
		keys: &keySet{url: js.URL, client: js.Client(), timeout: time.Second, minInterval: time.Hour, maxAge: 24 * time.Hour, now: c.now}}
	tok, _ := authkittest.SignJWT(k1, map[string]string{"alg": "RS256", "kid": "k1"}, validClaims(c.now()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
