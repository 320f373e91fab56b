package authkittest

// The emulator's state, held so that it survives a restart and is shared by
// several processes that were given the same secret (WithSecret): what a
// sign-in page, an authorization code and a refresh token stand for is
// sealed into the value itself (AES-256-GCM under a key derived from the
// secret), session ids carry a MAC, and the signing key is derived from the
// secret. Nothing a client can make the emulator create is kept in memory,
// so no flood of its sign-in page can fill a table (it has none) and lock
// out a real sign-in.
//
// What is kept in memory, per process, is only what enforces single use and
// revocation: the sign-in pages and codes already spent (until they would
// expire anyway), the newest refresh token generation seen for each session,
// and the sessions revoked. A second process, or this one after a restart,
// does not know them. That is the trade-off chosen here: single use across
// processes needs shared state, which this development stand-in does not
// have. It is safe for the server in front of it, which redeems each code
// once, keeps each upstream refresh token only inside its own grant and
// drops it when the grant is revoked, so nothing it would present again is
// refused by real WorkOS but accepted here. Within one process the emulator
// behaves as WorkOS does: a code or a rotated-out refresh token works once.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
)

// maxSealed bounds a sealed value a client hands back (a sign-in page's
// field carries a state and a redirect URI of up to 2 KiB each).
const maxSealed = 16 << 10

// Kinds of sealed values: the kind is authenticated with each value, so
// that one kind is never accepted as another (a code as a refresh token).
const (
	kindSignIn  = "authkittest sign-in v1"
	kindCode    = "authkittest code v1"
	kindRefresh = "authkittest refresh token v1"
)

// sealer seals and opens the emulator's self-contained values, and makes
// and checks session ids, under keys derived from one secret.
type sealer struct {
	aead   cipher.AEAD
	sidKey []byte
}

func newSealer(secret []byte) (*sealer, error) {
	// RFC 5869 HKDF with distinct info strings: one secret, independent
	// keys for each use.
	k, err := hkdf.Key(sha256.New, secret, nil, "authkittest sealing key v1", 32)
	if err != nil {
		return nil, err
	}
	sidKey, err := hkdf.Key(sha256.New, secret, nil, "authkittest session id key v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, sidKey: sidKey}, nil
}

// seal encrypts v's JSON form with a random nonce, the kind as associated
// data.
func (s *sealer) seal(kind string, v any) (string, error) {
	pt, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(pt)+s.aead.Overhead())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, pt, []byte(kind))), nil
}

// open reverses seal; it reports false for anything it did not seal as
// this kind.
func (s *sealer) open(kind, sealed string, v any) bool {
	if sealed == "" || len(sealed) > maxSealed {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize()+s.aead.Overhead() {
		return false
	}
	pt, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], []byte(kind))
	return err == nil && json.Unmarshal(pt, v) == nil
}

var sidEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newSessionID makes a session id that any process with the secret
// recognizes as one of ours: random bytes and their MAC.
func (s *sealer) newSessionID() string {
	b := make([]byte, 10, 20)
	rand.Read(b)
	return "session_" + sidEncoding.EncodeToString(append(b, s.sidMAC(b)...))
}

func (s *sealer) validSessionID(sid string) bool {
	raw, ok := strings.CutPrefix(sid, "session_")
	if !ok || len(raw) != 32 {
		return false
	}
	b, err := sidEncoding.DecodeString(raw)
	return err == nil && len(b) == 20 && hmac.Equal(b[10:], s.sidMAC(b[:10]))
}

func (s *sealer) sidMAC(b []byte) []byte {
	m := hmac.New(sha256.New, s.sidKey)
	m.Write(b)
	return m.Sum(nil)[:10]
}

// signInState is what a sign-in page's form carries back: the authorization
// request it answers (RFC 6749 section 4.1.1) and its CSRF token.
type signInState struct {
	ID          string `json:"id"`
	RedirectURI string `json:"redirect_uri"`
	State       string `json:"state,omitempty"`
	Challenge   string `json:"challenge,omitempty"`
	CSRF        string `json:"csrf"`
	Exp         int64  `json:"exp"` // unix nanoseconds
}

// codeState is what an authorization code stands for.
type codeState struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	Challenge string `json:"challenge,omitempty"`
	Exp       int64  `json:"exp"` // unix nanoseconds
}

// refreshState is what a refresh token stands for: a session, and which
// rotation of it this token is (Gen counts refreshes since sign-in).
type refreshState struct {
	Email   string `json:"email"`
	SID     string `json:"sid"`
	Created int64  `json:"created"` // unix nanoseconds
	Gen     int    `json:"gen"`
}

// Derived signing keys, by a digest of their seed: deriving one searches
// for two 1024-bit primes, and a process that restarts its emulator (as
// tests do) needs the same key again. At most maxDerivedKeys are kept.
const maxDerivedKeys = 16

var (
	derivedMu   sync.Mutex
	derivedKeys = map[[32]byte]signingKey{}
)

// derivedSigningKey returns the RS256 signing key derived from secret:
// every process given the secret signs with the same key under the same
// kid, so tokens one signs verify against the JWKS another serves, also
// after a restart.
//
// crypto/rsa.GenerateKey cannot do this: it does not promise to turn the
// same random stream into the same key (and recent releases ignore the
// reader). So the primes come from a deterministic stream (AES-256-CTR
// keyed by HKDF of the secret): 1024-bit candidates with their two top
// bits set (so that N has exactly 2048 bits) and odd, tested with
// big.Int.ProbablyPrime (20 Miller-Rabin rounds and Baillie-PSW, FIPS 186-5
// appendix B.3's kind of test). Validate checks the assembled key.
func derivedSigningKey(secret []byte) (signingKey, error) {
	seed, err := hkdf.Key(sha256.New, secret, nil, "authkittest RS256 signing key v1", 32)
	if err != nil {
		return signingKey{}, err
	}
	id := sha256.Sum256(seed)
	derivedMu.Lock()
	defer derivedMu.Unlock()
	if k, ok := derivedKeys[id]; ok {
		return k, nil
	}
	block, err := aes.NewCipher(seed)
	if err != nil {
		return signingKey{}, err
	}
	stream := cipher.NewCTR(block, make([]byte, aes.BlockSize))
	e := big.NewInt(65537)
	one := big.NewInt(1)
	prime := func() *big.Int {
		b := make([]byte, 128)
		for {
			clear(b)
			stream.XORKeyStream(b, b)
			b[0] |= 0xc0
			b[len(b)-1] |= 1
			p := new(big.Int).SetBytes(b)
			pm1 := new(big.Int).Sub(p, one)
			if p.ProbablyPrime(20) && new(big.Int).GCD(nil, nil, e, pm1).Cmp(one) == 0 {
				return p
			}
		}
	}
	p, q := prime(), prime()
	if p.Cmp(q) == 0 {
		return signingKey{}, errors.New("authkittest: derived equal primes")
	}
	pm1, qm1 := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
	g := new(big.Int).GCD(nil, nil, pm1, qm1)
	lambda := new(big.Int).Div(new(big.Int).Mul(pm1, qm1), g) // Carmichael's function of N
	d := new(big.Int).ModInverse(e, lambda)
	if d == nil {
		return signingKey{}, errors.New("authkittest: derived key has no private exponent")
	}
	key := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537},
		D:         d,
		Primes:    []*big.Int{p, q},
	}
	key.Precompute()
	if err := key.Validate(); err != nil {
		return signingKey{}, fmt.Errorf("authkittest: derived signing key: %w", err)
	}
	sum := sha256.Sum256(key.N.Bytes())
	k := signingKey{kid: "sso_oidc_key_pair_" + sidEncoding.EncodeToString(sum[:])[:26], key: key}
	for old := range derivedKeys {
		if len(derivedKeys) < maxDerivedKeys {
			break
		}
		delete(derivedKeys, old)
	}
	derivedKeys[id] = k
	return k, nil
}
