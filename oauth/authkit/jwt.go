package authkit

// Verification of WorkOS access tokens: RS256 JSON Web Tokens (RFC 7519)
// signed with JWS (RFC 7515, algorithm from RFC 7518 section 3.3), whose
// public keys WorkOS publishes as a JWK Set (RFC 7517) at
// /sso/jwks/{client_id}. Standard library only: the token format is small
// and fixed, and a general JOSE library would be the only dependency.

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"remote-mcp-authkit/oauth"
)

// ErrInvalidToken is wrapped by every error that refuses an access token
// WorkOS handed us: bad signature, wrong algorithm, unknown key, expired,
// wrong issuer, malformed. It means the upstream answer cannot be trusted,
// not that the upstream is down.
var ErrInvalidToken = errors.New("authkit: access token refused")

const (
	maxTokenBytes = 16 << 10  // WorkOS access tokens are about 1 KiB
	maxJWKSBytes  = 256 << 10 // a key set of a few keys is a few KiB
	maxJWKSKeys   = 100
	minRSABits    = 2048 // RFC 7518 section 3.3: a key of 2048 bits or larger
	maxRSABits    = 8192
)

// accessClaims are the claims of a WorkOS access token that we read.
type accessClaims struct {
	Iss         string   `json:"iss"`
	Sub         string   `json:"sub"`
	Sid         string   `json:"sid"`
	Jti         string   `json:"jti"`
	OrgID       string   `json:"org_id"`
	Role        string   `json:"role"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
	Exp         int64    `json:"exp"`
	Iat         int64    `json:"iat"`
	Nbf         int64    `json:"nbf"`
	Aud         audience `json:"aud"`
	// Act names who acts as sub in an impersonated session (RFC 8693
	// s4.1; WorkOS puts the impersonator's email in its sub).
	Act *struct {
		Sub string `json:"sub"`
	} `json:"act"`
}

// audience is the aud claim, which RFC 7519 section 4.1.3 allows as one
// string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// verifier checks access tokens against a key set and the expected
// issuers.
type verifier struct {
	clientID string
	keys     *keySet
	issuers  []string
	leeway   time.Duration
	now      func() time.Time
}

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidToken}, args...)...)
}

// renewedRetries are the pauses before each further attempt of
// verifyIssued: about a second in all, well inside a provider timeout.
var renewedRetries = []time.Duration{200 * time.Millisecond, 600 * time.Millisecond}

// verifyIssued verifies a token WorkOS has just issued to us. A failure for
// a passing reason (the key set could not be fetched, as happens when
// WorkOS answers 500 just after a key rotation) is tried again after a
// short pause, and each retry may refetch the key set whatever the refetch
// interval: the token came from WorkOS over our own call, not from a
// caller, so this cannot be used to hammer the key set endpoint. The error
// left after the last attempt still wraps oauth.ErrUpstreamUnavailable when
// it was a passing one, or ErrInvalidToken when the token is refused.
//
// A key WorkOS signed with that its key set does not list even when just
// fetched counts as passing too: just after a rotation the published set
// may lag behind the signer. Nothing is trusted meanwhile; the caller keeps
// the renewal and tries again later.
func (v *verifier) verifyIssued(ctx context.Context, token string) (*accessClaims, error) {
	c, err := v.verifyWith(ctx, token, false)
	for _, d := range renewedRetries {
		if err == nil || !(errors.Is(err, oauth.ErrUpstreamUnavailable) || errors.Is(err, errUnknownKey)) {
			break
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
		c, err = v.verifyWith(ctx, token, true)
	}
	if errors.Is(err, errUnknownKey) && !errors.Is(err, oauth.ErrUpstreamUnavailable) {
		err = fmt.Errorf("%w: %w", oauth.ErrUpstreamUnavailable, err)
	}
	return c, err
}

// errUnknownKey is wrapped (beside ErrInvalidToken) when a token names a
// key the key set does not hold.
var errUnknownKey = errors.New("key not in the key set")

// verify checks the token's signature and claims and returns the claims.
func (v *verifier) verify(ctx context.Context, token string) (*accessClaims, error) {
	return v.verifyWith(ctx, token, false)
}

// verifyWith is verify; refetch lets a key set fetch ignore the refetch
// interval (see verifyIssued). The order matters: the header is judged
// before any key is looked up, so a token with alg "none" or "HS256" never
// causes a key set fetch.
func (v *verifier) verifyWith(ctx context.Context, token string, refetch bool) (*accessClaims, error) {
	if len(token) > maxTokenBytes {
		return nil, refuse("token is %d bytes, more than %d", len(token), maxTokenBytes)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, refuse("not a compact JWS (%d parts, want 3)", len(parts))
	}
	var header struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, refuse("header: %v", err)
	}
	// RFC 8725 section 3.1: accept exactly the algorithm we expect, never
	// "none" and never an HMAC keyed with the public key.
	if header.Alg != "RS256" {
		return nil, refuse("algorithm %q, want RS256", header.Alg)
	}
	// RFC 7515 section 4.1.11: extensions we do not understand are fatal.
	if header.Crit != nil {
		return nil, refuse("critical header extensions are not supported")
	}
	if header.Kid == "" {
		return nil, refuse("no key id (kid) in the header")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, refuse("signature is not base64url")
	}
	key, err := v.keys.key(ctx, header.Kid, refetch)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return nil, refuse("signature does not verify with key %q", header.Kid)
	}

	var c accessClaims
	if err := decodeSegment(parts[1], &c); err != nil {
		return nil, refuse("claims: %v", err)
	}
	// RFC 7519 section 4.1: exp, nbf and iat, with a little leeway for
	// clock skew between WorkOS and us.
	now := v.now()
	switch {
	case c.Exp == 0:
		return nil, refuse("no exp claim")
	case now.After(time.Unix(c.Exp, 0).Add(v.leeway)):
		return nil, refuse("expired at %s", time.Unix(c.Exp, 0).UTC().Format(time.RFC3339))
	case c.Nbf != 0 && time.Unix(c.Nbf, 0).After(now.Add(v.leeway)):
		return nil, refuse("not valid before %s", time.Unix(c.Nbf, 0).UTC().Format(time.RFC3339))
	case c.Iat != 0 && time.Unix(c.Iat, 0).After(now.Add(v.leeway)):
		return nil, refuse("issued in the future (%s)", time.Unix(c.Iat, 0).UTC().Format(time.RFC3339))
	}
	if !slices.Contains(v.issuers, c.Iss) {
		return nil, refuse("issuer %q, want one of %q", c.Iss, v.issuers)
	}
	// RFC 7519 section 4.1.3: when aud is present we must be in it. WorkOS
	// user management tokens usually carry no aud (the issuer names the
	// client); when one does, it is the client ID.
	if c.Aud != nil && !slices.Contains(c.Aud, v.clientID) {
		return nil, refuse("audience %q does not include client %q", []string(c.Aud), v.clientID)
	}
	if c.Sub == "" || c.Sid == "" {
		return nil, refuse("sub and sid claims are required")
	}
	return &c, nil
}

// decodeSegment decodes one base64url JWS segment as JSON. Padding is
// refused (RFC 7515 section 2), and so is trailing data.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return errors.New("not base64url")
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(v); err != nil {
		return errors.New("not a JSON object of the expected shape")
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// keySet is a cached JWK Set. It is fetched on first use and again when a
// token names a key it does not hold (WorkOS rotated its keys) or when it
// has grown old; refetches are rate limited, so a stream of tokens with
// made-up key ids costs at most one fetch per interval.
type keySet struct {
	url         string
	client      *http.Client
	timeout     time.Duration
	minInterval time.Duration // between refetches once keys are held
	maxAge      time.Duration // after this, refetch even for a known kid
	now         func() time.Time

	mu        sync.Mutex // held across a fetch, so concurrent misses share it
	keys      map[string]*rsa.PublicKey
	fetched   time.Time // last successful fetch
	refetched time.Time // last refetch, successful or not, of a set already held
	failed    bool      // the last fetch failed
}

// key returns the public key with this id. force allows a fetch inside
// the refetch interval (see verifyIssued).
func (ks *keySet) key(ctx context.Context, kid string, force bool) (*rsa.PublicKey, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	now := ks.now()
	k, ok := ks.keys[kid]
	if ok && now.Sub(ks.fetched) < ks.maxAge {
		return k, nil
	}
	// With no keys at all nothing can be verified, so a fetch is always
	// allowed; with keys in hand, refetches respect the interval.
	if force || ks.keys == nil || ks.refetched.IsZero() || now.Sub(ks.refetched) >= ks.minInterval {
		if ks.keys != nil {
			ks.refetched = now
		}
		keys, err := ks.fetch(ctx)
		ks.failed = err != nil
		if err != nil {
			if ok {
				return k, nil // stale but known: better than failing the sign-in
			}
			return nil, err
		}
		ks.keys, ks.fetched = keys, now
		k, ok = keys[kid]
	} else if !ok && ks.failed {
		// The key may be a new one the last, failed, fetch would have
		// brought: not a refusal, the key set is out of reach.
		return nil, fmt.Errorf("authkit: no key %q held, and the last key set fetch failed: %w", kid, oauth.ErrUpstreamUnavailable)
	}
	if !ok {
		return nil, fmt.Errorf("%w: %w: no key %q in the key set", ErrInvalidToken, errUnknownKey, kid)
	}
	return k, nil
}

// fetch reads the key set, bounded in time and size.
func (ks *keySet) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, ks.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ks.url, nil)
	if err != nil {
		return nil, fmt.Errorf("authkit: key set request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := ks.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("authkit: fetch key set: %w: %w", oauth.ErrUpstreamUnavailable, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("authkit: fetch key set: %w: HTTP %s", oauth.ErrUpstreamUnavailable, res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("authkit: read key set: %w: %w", oauth.ErrUpstreamUnavailable, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("authkit: key set larger than %d bytes", maxJWKSBytes)
	}
	return parseJWKS(body)
}

// parseJWKS reads the RSA signing keys of a JWK Set (RFC 7517 section 5,
// RSA parameters from RFC 7518 section 6.3.1). Keys for other algorithms
// or for encryption are skipped, not fatal: a set may hold more than we use.
func parseJWKS(body []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Use string `json:"use"`
			Alg string `json:"alg"`
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("authkit: key set is not a JWK Set: %w", err)
	}
	if len(set.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("authkit: key set holds %d keys, more than %d", len(set.Keys), maxJWKSKeys)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		nb, err1 := base64.RawURLEncoding.DecodeString(k.N)
		eb, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil || len(eb) == 0 || len(eb) > 4 {
			continue
		}
		n := new(big.Int).SetBytes(nb)
		e := int(new(big.Int).SetBytes(eb).Int64())
		if n.BitLen() < minRSABits || n.BitLen() > maxRSABits || e < 3 || e%2 == 0 {
			continue
		}
		keys[k.Kid] = &rsa.PublicKey{N: n, E: e}
	}
	if len(keys) == 0 {
		return nil, errors.New("authkit: key set holds no usable RS256 key")
	}
	return keys, nil
}
