package oauth

// Token minting, hashing, sealing and signing: the few cryptographic
// primitives the authorization server needs, all from the standard library.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// Prefixes make our credentials recognisable in logs and by secret scanners
// without revealing anything about them.
const (
	prefixAccessToken  = "mat_"
	prefixRefreshToken = "mrt_"
	prefixCode         = "mac_"
	prefixClientSecret = "mcs_"
	prefixClientID     = "mcp_client_"
)

// newToken returns prefix followed by 256 random bits, base64url encoded
// (OAuth 2.1 s7.1.1: credentials must not be guessable).
func newToken(prefix string) string {
	var b [32]byte
	rand.Read(b[:]) // never returns an error (crypto/rand, Go 1.24+)
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// hashToken is the store key for a secret value: SHA-256 is enough because
// every value hashed here carries 256 bits of entropy, so there is nothing
// to brute force.
func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// keys holds sub-keys derived from Config.Secret, one per purpose, so that a
// value MACed for one purpose can never be replayed for another.
type keys struct {
	aead    cipher.AEAD // seals upstream sessions and PKCE verifiers
	csrf    []byte      // consent form tokens
	consent []byte      // "approved before" cookies
	binding []byte      // upstream state browser binding cookie
}

func deriveKeys(secret []byte) (*keys, error) {
	derive := func(info string) ([]byte, error) {
		return hkdf.Key(sha256.New, secret, nil, "remote-mcp-authkit oauth "+info, 32)
	}
	var k keys
	enc, err := derive("aes-gcm v1")
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return nil, err
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	for _, d := range []struct {
		dst  *[]byte
		info string
	}{{&k.csrf, "csrf v1"}, {&k.consent, "consent v1"}, {&k.binding, "state binding v1"}} {
		if *d.dst, err = derive(d.info); err != nil {
			return nil, err
		}
	}
	return &k, nil
}

// seal encrypts plaintext with AES-GCM; aad binds the ciphertext to the
// record it belongs to (a grant ID), so ciphertexts cannot be swapped
// between records.
func (k *keys) seal(plaintext []byte, aad string) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, plaintext, []byte(aad))
}

var errUnseal = errors.New("oauth: cannot decrypt record (wrong secret or tampered store)")

func (k *keys) open(sealed []byte, aad string) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, errUnseal
	}
	pt, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(aad))
	if err != nil {
		return nil, errUnseal
	}
	return pt, nil
}

// mac returns base64url(HMAC-SHA256(key, parts joined by NUL)). The NUL
// separator keeps ("ab","c") and ("a","bc") apart.
func mac(key []byte, parts ...string) string {
	h := hmac.New(sha256.New, key)
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// macEqual compares two MACs in constant time.
func macEqual(a, b string) bool {
	return hmac.Equal([]byte(a), []byte(b))
}

// s256 is the PKCE S256 transformation, RFC 7636 s4.2:
// BASE64URL-ENCODE(SHA256(ASCII(code_verifier))).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifier checks a code_verifier against RFC 7636 s4.1: 43 to 128
// characters from the unreserved set [A-Z] / [a-z] / [0-9] / "-" / "." /
// "_" / "~".
func validVerifier(v string) error {
	if len(v) < 43 || len(v) > 128 {
		return fmt.Errorf("code_verifier must be 43 to 128 characters, got %d", len(v))
	}
	for i := 0; i < len(v); i++ {
		if !isUnreserved(v[i]) {
			return errors.New("code_verifier may contain only A-Z a-z 0-9 - . _ ~")
		}
	}
	return nil
}

// validChallenge checks a code_challenge for S256: the base64url encoding
// of 32 bytes is exactly 43 characters (RFC 7636 s4.2).
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
