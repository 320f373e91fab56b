package authkit

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// Checked, correct (RFC 8725 s2.4, s3.10): keys named or embedded in the
// token header (jwk, jku, x5u, x5c) are never used; only the key set we
// fetch from WorkOS counts, and a kid is only a lookup key into it, so a
// path or URL in kid is inert.
func TestReviewHeaderKeyInjectionIgnored(t *testing.T) {
	k1, k2 := testKeys()
	now := time.Unix(1_800_000_000, 0)
	signWith := func(key *rsa.PrivateKey, header map[string]any) string {
		h := b64json(header)
		p := b64json(validClaims(now))
		sum := sha256.Sum256([]byte(h + "." + p))
		sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	attackerJWK := map[string]string{"kty": "RSA", "kid": "k1", "n": b64(k2.PublicKey.N.Bytes()),
		"e": b64(big.NewInt(int64(k2.PublicKey.E)).Bytes())}
	for name, header := range map[string]map[string]any{
		"embedded jwk":          {"alg": "RS256", "kid": "k1", "jwk": attackerJWK},
		"jku to attacker":       {"alg": "RS256", "kid": "k1", "jku": "https://evil.example/jwks"},
		"x5u to attacker":       {"alg": "RS256", "kid": "k1", "x5u": "https://evil.example/cert"},
		"kid path traversal":    {"alg": "RS256", "kid": "../../../../dev/null"},
		"kid url":               {"alg": "RS256", "kid": "https://evil.example/key"},
		"kid of attacker's key": {"alg": "RS256", "kid": "k2"},
	} {
		js := newJWKSServer(t, map[string]*rsa.PublicKey{"k1": &k1.PublicKey})
		v := newVerifier(js, &clock{t: now})
		_, err := v.verify(context.Background(), signWith(k2, header))
		if !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: token signed by the attacker's key: err = %v", name, err)
		} else if !strings.Contains(err.Error(), "signature") && !strings.Contains(err.Error(), "no key") {
			t.Errorf("%s: refused for the wrong reason: %v", name, err)
		}
	}
}
