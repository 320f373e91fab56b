package authkittest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestDerivedSigningKey: one secret, one key (so every process and every
// restart publishes the same JWKS); another secret, another key.
func TestDerivedSigningKey(t *testing.T) {
	a, b := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	start := time.Now()
	ka, err := derivedSigningKey(a)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("derived a 2048-bit key in %v", time.Since(start))
	// Not from the cache: the derivation itself is deterministic.
	derivedMu.Lock()
	clear(derivedKeys)
	derivedMu.Unlock()
	ka2, err := derivedSigningKey(a)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := derivedSigningKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if ka.key.N.Cmp(ka2.key.N) != 0 || ka.kid != ka2.kid || ka.key.D.Cmp(ka2.key.D) != 0 {
		t.Fatal("the same secret derived two keys")
	}
	if ka.key.N.Cmp(kb.key.N) == 0 || ka.kid == kb.kid {
		t.Fatal("two secrets derived one key")
	}
	if ka.key.N.BitLen() != 2048 || ka.key.E != 65537 {
		t.Fatalf("key of %d bits, e %d", ka.key.N.BitLen(), ka.key.E)
	}
	tok, err := SignJWT(ka.key, map[string]string{"alg": "RS256", "kid": ka.kid}, map[string]string{"sub": "x"})
	if err != nil || tok == "" {
		t.Fatalf("signing with the derived key: %v", err)
	}
}

// TestSignInPageFloodStoresNothing: anonymous GETs of the sign-in page, more
// than the emulator ever kept pages for, store nothing, and a real sign-in
// afterwards goes through.
func TestSignInPageFloodStoresNothing(t *testing.T) {
	s, err := NewHandler("http://127.0.0.1:1/_authkit", WithRedirectURIs("http://127.0.0.1:2/callback"))
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"client_id": {s.ClientID()}, "response_type": {"code"}, "provider": {"authkit"},
		"redirect_uri": {"http://127.0.0.1:2/callback"}, "state": {"st"},
		"code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}}
	page := "/user_management/authorize?" + q.Encode()
	const flood = 2*maxSpent + 1
	for i := range flood {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", page, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %d of the sign-in page: %d %s", i, rec.Code, rec.Body)
		}
	}
	s.mu.Lock()
	held := len(s.spentSignIns) + len(s.spentCodes) + len(s.sessions)
	s.mu.Unlock()
	if held != 0 {
		t.Fatalf("%d anonymous page views left %d records", flood, held)
	}
	// A browser that loads the page and submits it still signs in.
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", page, nil))
	f, err := ParseSignInPage(rec.Body.String())
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"email": {"ada@example.com"}}
	for k, v := range f.Hidden {
		form[k] = v
	}
	req := httptest.NewRequest("POST", "/user_management/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if loc := rec.Header().Get("Location"); rec.Code != http.StatusFound || !strings.Contains(loc, "code=") {
		t.Fatalf("sign-in after the flood: %d %q %s", rec.Code, loc, rec.Body)
	}
}

// TestSignInSubmitFloodBounded: sign-ins completed in a burst (each page
// loaded and submitted, as anyone may) are remembered as spent within a
// bound, and the next real sign-in still goes through.
func TestSignInSubmitFloodBounded(t *testing.T) {
	s, err := NewHandler("http://127.0.0.1:1/_authkit", WithRedirectURIs("http://127.0.0.1:2/callback"))
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"client_id": {s.ClientID()}, "response_type": {"code"}, "provider": {"authkit"},
		"redirect_uri": {"http://127.0.0.1:2/callback"}}
	signIn := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/user_management/authorize?"+q.Encode(), nil))
		f, err := ParseSignInPage(rec.Body.String())
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"email": {"grace@example.com"}}
		for k, v := range f.Hidden {
			form[k] = v
		}
		req := httptest.NewRequest("POST", "/user_management/authorize", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range rec.Result().Cookies() {
			req.AddCookie(c)
		}
		rec = httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	for i := range maxSpent + 100 {
		if rec := signIn(); rec.Code != http.StatusFound {
			t.Fatalf("sign-in %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	s.mu.Lock()
	spent := len(s.spentSignIns)
	s.mu.Unlock()
	if spent > maxSpent {
		t.Fatalf("%d spent sign-in pages remembered, bound %d", spent, maxSpent)
	}
	if rec := signIn(); rec.Code != http.StatusFound {
		t.Fatalf("sign-in after the burst: %d %s", rec.Code, rec.Body)
	}
}
