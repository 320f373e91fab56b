// Package authkittest is an in-process emulator of WorkOS AuthKit, in the
// spirit of net/http/httptest: a test starts it in one line, points the real
// AuthKit client (package authkit, which drives workos-go) at its URL, and
// closes it with defer. No mock of our own code is involved; the client talks
// HTTP to HTTP.
//
// It serves the part of the WorkOS API that workos-go's user management
// client calls for a hosted AuthKit sign-in:
//
//	GET  /user_management/authorize        sign-in page (a button per demo user)
//	POST /user_management/authorize        the page's form; redirects with code and state
//	POST /user_management/authenticate     grant_type authorization_code and refresh_token
//	POST /user_management/sessions/revoke  end a session
//	GET  /sso/jwks/{client_id}             the public keys that sign access tokens
//	GET  /organizations/{id}               an organization's name
//
// Access tokens are RS256 JWTs shaped like WorkOS's (iss, sub, sid, jti,
// org_id, role, roles, permissions, exp, iat; kid in the header) signed by a
// key generated when the emulator starts, or derived from the secret given
// with WithSecret (see state.go for what that secret makes durable). Error bodies are shaped like
// WorkOS's ({"error": ..., "error_description": ...}) so that workos-go's
// error parsing and authkit's error mapping see what production would send.
//
// Besides tests, `go run .` mounts the emulator in-process (NewHandler) when
// no WorkOS credentials are configured, so the whole sign-in works on a
// laptop with no account.
package authkittest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// User is a demo user of the emulator. The JSON form is what WithUsersFile
// reads: a JSON array of objects such as
//
//	[{"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
//	  "organization_id": "org_acme", "organization_name": "Acme",
//	  "role": "admin", "permissions": ["image_generation"]}]
//
// Only email is required; id defaults to a stable value derived from the
// email, role to "member". A user with "impersonator" set (and optionally
// "impersonation_reason") signs in as an impersonated session: the
// authenticate answer names the impersonator and the access tokens carry
// an act claim, as WorkOS does when a dashboard administrator impersonates.
type User struct {
	ID                  string   `json:"id,omitempty"`
	Email               string   `json:"email"`
	FirstName           string   `json:"first_name,omitempty"`
	LastName            string   `json:"last_name,omitempty"`
	OrganizationID      string   `json:"organization_id,omitempty"`
	OrganizationName    string   `json:"organization_name,omitempty"`
	Role                string   `json:"role,omitempty"`
	Permissions         []string `json:"permissions,omitempty"`
	Impersonator        string   `json:"impersonator,omitempty"`
	ImpersonationReason string   `json:"impersonation_reason,omitempty"`
}

// DefaultUsers are the demo users when no WithUsers or WithUsersFile option
// is given: an admin who may generate images and a member who may not, in
// one organization, so that permission-gated tools can be tried both ways.
func DefaultUsers() []User {
	return []User{
		{Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace",
			OrganizationID: "org_acme", OrganizationName: "Acme",
			Role: "admin", Permissions: []string{"image_generation"}},
		{Email: "grace@example.com", FirstName: "Grace", LastName: "Hopper",
			OrganizationID: "org_acme", OrganizationName: "Acme",
			Role: "member"},
	}
}

// Limits that keep the emulator's memory bounded whatever a client sends.
const (
	maxBodyBytes   = 64 << 10
	maxSpent       = 10000  // spent sign-in pages and codes remembered, each until it would expire
	maxSessions    = 100000 // sessions (and refresh generations) remembered in memory
	maxUsers       = 1000
	maxUsersFile   = 1 << 20
	signInTTL      = 10 * time.Minute
	defaultCodeTTL = 10 * time.Minute // WorkOS codes are valid for ten minutes
	defaultTokTTL  = 5 * time.Minute  // WorkOS's default access token lifetime
)

// Option configures a Server.
type Option func(*config) error

type config struct {
	clientID, apiKey string
	accessTTL        time.Duration
	codeTTL          time.Duration
	redirectURIs     []string
	users            []User
	now              func() time.Time
	secret           []byte
}

// WithSecret makes the emulator's state durable and shared: its sign-in
// pages, codes, refresh tokens and session ids are sealed or authenticated
// under keys derived from secret, and its signing key is derived from it.
// An emulator restarted with the same secret, or another process given it,
// accepts the refresh tokens this one issued and publishes the same key, as
// WorkOS keeps working across restarts of the server in front of it. The
// secret should be at least 32 random bytes. Without this option the
// secret is random per emulator.
func WithSecret(secret []byte) Option {
	return func(c *config) error {
		if len(secret) < 32 {
			return fmt.Errorf("authkittest: secret of %d bytes, want at least 32", len(secret))
		}
		c.secret = bytes.Clone(secret)
		return nil
	}
}

// WithClientID sets the client ID the emulator accepts (default
// "client_authkittest"). It appears in the JWKS path and the token issuer.
func WithClientID(id string) Option {
	return func(c *config) error {
		if id == "" || strings.ContainsAny(id, "/?#") {
			return fmt.Errorf("authkittest: client ID %q must be non-empty and contain no '/', '?' or '#'", id)
		}
		c.clientID = id
		return nil
	}
}

// WithAPIKey sets the API key (client_secret) the emulator accepts. The
// default is random per server, so two emulators never accept each other's
// clients.
func WithAPIKey(key string) Option {
	return func(c *config) error {
		if key == "" {
			return errors.New("authkittest: API key must be non-empty")
		}
		c.apiKey = key
		return nil
	}
}

// WithAccessTokenTTL sets how long issued access tokens live (default five
// minutes, as WorkOS). Tests of expiry use a short one.
func WithAccessTokenTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("authkittest: access token TTL %v must be positive", d)
		}
		c.accessTTL = d
		return nil
	}
}

// WithCodeTTL sets how long an authorization code may wait to be redeemed
// (default ten minutes, as WorkOS).
func WithCodeTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("authkittest: code TTL %v must be positive", d)
		}
		c.codeTTL = d
		return nil
	}
}

// WithRedirectURIs registers the redirect URIs the emulator accepts, as
// the WorkOS dashboard does for a real client; the match is exact. Without
// this option any absolute http(s) URI is accepted, which suits tests whose
// callback server has a random port.
func WithRedirectURIs(uris ...string) Option {
	return func(c *config) error {
		for _, u := range uris {
			if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.Fragment != "" {
				return fmt.Errorf("authkittest: redirect URI %q must be an absolute http(s) URL without fragment", u)
			}
		}
		c.redirectURIs = append([]string(nil), uris...)
		return nil
	}
}

// WithClock replaces time.Now, for tests that need to move time.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("authkittest: clock must not be nil")
		}
		c.now = now
		return nil
	}
}

// WithUsers replaces the demo users.
func WithUsers(users []User) Option {
	return func(c *config) error {
		us, err := normalizeUsers(users)
		if err != nil {
			return err
		}
		c.users = us
		return nil
	}
}

// WithUsersFile replaces the demo users with those in a JSON file (see User
// for the format).
func WithUsersFile(path string) Option {
	return func(c *config) error {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("authkittest: users file: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxUsersFile+1))
		if err != nil {
			return fmt.Errorf("authkittest: users file: %w", err)
		}
		if len(b) > maxUsersFile {
			return fmt.Errorf("authkittest: users file %s is larger than %d bytes", path, maxUsersFile)
		}
		var users []User
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&users); err != nil {
			return fmt.Errorf("authkittest: users file %s: %w", path, err)
		}
		us, err := normalizeUsers(users)
		if err != nil {
			return fmt.Errorf("authkittest: users file %s: %w", path, err)
		}
		c.users = us
		return nil
	}
}

func normalizeUsers(in []User) ([]User, error) {
	if len(in) == 0 {
		return nil, errors.New("authkittest: at least one user is needed")
	}
	if len(in) > maxUsers {
		return nil, fmt.Errorf("authkittest: %d users, at most %d", len(in), maxUsers)
	}
	out := make([]User, 0, len(in))
	seen := map[string]bool{}
	for i, u := range in {
		u.Email = strings.ToLower(strings.TrimSpace(u.Email))
		if u.Email == "" || !strings.Contains(u.Email, "@") {
			return nil, fmt.Errorf("authkittest: user %d: email %q is not an address", i, u.Email)
		}
		if seen[u.Email] {
			return nil, fmt.Errorf("authkittest: user %d: email %q appears twice", i, u.Email)
		}
		seen[u.Email] = true
		if u.ID == "" {
			u.ID = "user_" + stableID(u.Email)
		}
		if u.Role == "" {
			u.Role = "member"
		}
		u.Permissions = append([]string(nil), u.Permissions...)
		out = append(out, u)
	}
	return out, nil
}

// stableID derives a ULID-length identifier from s, so a demo user keeps
// the same id across restarts of the emulator.
func stableID(s string) string {
	h := sha256.Sum256([]byte(s))
	return base32.StdEncoding.EncodeToString(h[:])[:26]
}

// Fault makes the API endpoints (authenticate and sessions/revoke) misbehave,
// for tests of how a client copes with an upstream outage. The zero Fault
// means normal service.
type Fault struct {
	// Status, when non-zero, is answered instead of doing the work, with a
	// WorkOS-shaped JSON error body (e.g. 503 for an outage, 429 for rate
	// limiting).
	Status int
	// Delay holds each response back this long (or until the client gives
	// up), to exercise client timeouts.
	Delay time.Duration
}

// Server is a running AuthKit emulator.
type Server struct {
	// URL is the base URL of the emulated WorkOS API, with no trailing
	// slash: pass it as authkit.Config.APIURL.
	URL string

	cfg     config
	ts      *httptest.Server // nil when mounted by NewHandler
	handler http.Handler

	seal *sealer

	audit auditLog // audit log events received (auditlogs.go)

	mu    sync.Mutex
	keys  []signingKey     // current first; the previous one stays published after RotateKey
	users map[string]*User // by email
	order []string         // emails, in configured order (the page lists them so)
	// What this process remembers to enforce single use and revocation
	// (see state.go): spent sign-in pages and codes by id, with when they
	// would have expired; the sessions it created, refreshed or revoked;
	// and per user the time before which RevokeSessions ended every
	// session.
	spentSignIns  map[string]time.Time
	spentCodes    map[string]time.Time
	sessions      map[string]*session // by session id
	revokedBefore map[string]int64    // email -> unix nanoseconds
	fault         Fault
	requests      map[string]int
}

type signingKey struct {
	kid string
	key *rsa.PrivateKey
}

func newSigningKey() (signingKey, error) {
	// 2048 bits is what WorkOS signs with; generating one takes a moment.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return signingKey{}, fmt.Errorf("authkittest: generate signing key: %w", err)
	}
	return signingKey{kid: "sso_oidc_key_pair_" + rand.Text(), key: key}, nil
}

// session is what this process knows of a session: its user (empty when
// only its revocation was seen), whether it was revoked here, and the
// newest refresh token generation issued or redeemed for it here.
type session struct {
	email   string
	revoked bool
	gen     int
}

// NewServer starts an emulator on a loopback port. Like httptest.NewServer
// it panics when it cannot start (or when an option is invalid); close it
// with Close.
func NewServer(opts ...Option) *Server {
	s, err := newServer(opts)
	if err != nil {
		panic(err)
	}
	s.ts = httptest.NewUnstartedServer(s.handler)
	s.ts.Start()
	s.URL = s.ts.URL
	return s
}

// NewHandler builds an emulator that the caller serves itself, e.g. mounted
// in-process under a path prefix of another server:
//
//	ak, err := authkittest.NewHandler("http://localhost:8788/_authkit")
//	mux.Handle("/_authkit/", http.StripPrefix("/_authkit", ak.Handler()))
//
// baseURL is the absolute URL at which Handler's root is reachable; page
// links, the token issuer and the JWKS URL are built from it, and it is what
// the client must use as its API URL.
func NewHandler(baseURL string, opts ...Option) (*Server, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("authkittest: base URL %q must be an absolute http(s) URL without query or fragment", baseURL)
	}
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	s.URL = strings.TrimSuffix(baseURL, "/")
	return s, nil
}

func newServer(opts []Option) (*Server, error) {
	cfg := config{
		clientID:  "client_authkittest",
		apiKey:    "sk_test_" + rand.Text(),
		accessTTL: defaultTokTTL,
		codeTTL:   defaultCodeTTL,
		now:       time.Now,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.users == nil {
		cfg.users, _ = normalizeUsers(DefaultUsers())
	}
	var key signingKey
	var err error
	secret := cfg.secret
	if secret == nil {
		secret = make([]byte, 32)
		rand.Read(secret)
		key, err = newSigningKey()
	} else {
		key, err = derivedSigningKey(secret)
	}
	if err != nil {
		return nil, err
	}
	seal, err := newSealer(secret)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:           cfg,
		seal:          seal,
		keys:          []signingKey{key},
		users:         map[string]*User{},
		spentSignIns:  map[string]time.Time{},
		spentCodes:    map[string]time.Time{},
		sessions:      map[string]*session{},
		revokedBefore: map[string]int64{},
		requests:      map[string]int{},
	}
	for i := range cfg.users {
		u := cfg.users[i]
		s.users[u.Email] = &u
		s.order = append(s.order, u.Email)
	}
	s.handler = s.routes()
	return s, nil
}

// Close shuts a server started by NewServer down; for one built by
// NewHandler it does nothing.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.CloseClientConnections()
		s.ts.Close()
	}
}

// Handler serves the emulated endpoints at its root.
func (s *Server) Handler() http.Handler { return s.handler }

// ClientID is the client ID the emulator accepts.
func (s *Server) ClientID() string { return s.cfg.clientID }

// APIKey is the API key (client_secret) the emulator accepts.
func (s *Server) APIKey() string { return s.cfg.apiKey }

// Issuer is the iss claim of the access tokens the emulator signs: the
// user-management issuer WorkOS uses for a client,
// "<api url>/user_management/<client id>".
func (s *Server) Issuer() string { return s.URL + "/user_management/" + s.cfg.clientID }

// Users returns a copy of the current demo users.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.order))
	for _, e := range s.order {
		u := *s.users[e]
		u.Permissions = append([]string(nil), u.Permissions...)
		out = append(out, u)
	}
	return out
}

// SetPermissions replaces a user's permissions. Tokens already issued keep
// the old ones; the next sign-in or refresh carries the new ones, as with
// WorkOS.
func (s *Server) SetPermissions(email string, perms []string) error {
	return s.updateUser(email, func(u *User) { u.Permissions = append([]string(nil), perms...) })
}

// SetRole replaces a user's role, effective at the next sign-in or refresh.
func (s *Server) SetRole(email, role string) error {
	return s.updateUser(email, func(u *User) { u.Role = role })
}

func (s *Server) updateUser(email string, fn func(*User)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[strings.ToLower(email)]
	if !ok {
		return fmt.Errorf("authkittest: no user %q", email)
	}
	fn(u)
	return nil
}

// RevokeSessions ends every session of the user, as an administrator
// signing them out in the WorkOS dashboard would: the next refresh of any of
// them fails with invalid_grant, also of sessions this process has not seen
// (started before a restart, or by another process with the same secret).
// It returns how many of the sessions this process knows it ended.
func (s *Server) RevokeSessions(email string) int {
	email = strings.ToLower(email)
	now := s.cfg.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[email]; ok {
		s.revokedBefore[email] = now
	}
	n := 0
	for _, ss := range s.sessions {
		if ss.email == email && !ss.revoked {
			ss.revoked = true
			n++
		}
	}
	return n
}

// SessionRevoked reports whether the session with this id (the sid claim)
// has been revoked in this process, through the API or RevokeSessions.
// Unknown ids count as not revoked.
func (s *Server) SessionRevoked(sid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[sid]
	return ok && ss.revoked
}

// knownSession returns this process's record of a session, making one if
// needed; it runs under s.mu. The records are bounded: past maxSessions,
// records of sessions not revoked go first (they hold only a refresh
// generation, whose loss lets one rotated-out refresh token of that session
// work once more), then revoked ones.
func (s *Server) knownSession(sid string) *session {
	if ss, ok := s.sessions[sid]; ok {
		return ss
	}
	for _, revoked := range []bool{false, true} {
		for id, ss := range s.sessions {
			if len(s.sessions) < maxSessions {
				break
			}
			if ss.revoked == revoked {
				delete(s.sessions, id)
			}
		}
	}
	ss := &session{}
	s.sessions[sid] = ss
	return ss
}

// spend records that a sign-in page or code was used, until it would have
// expired anyway; it reports false if it already was. It runs under s.mu.
// Past maxSpent, expired entries are dropped first, then any: a flood of
// sign-ins can at worst make an old page or code usable a second time,
// never refuse a new one.
func spend(m map[string]time.Time, id string, exp, now time.Time) bool {
	if _, ok := m[id]; ok {
		return false
	}
	if len(m) >= maxSpent {
		for k, v := range m {
			if now.After(v) {
				delete(m, k)
			}
		}
		for k := range m {
			if len(m) < maxSpent {
				break
			}
			delete(m, k)
		}
	}
	m[id] = exp
	return true
}

// RotateKey starts signing with a new key, as WorkOS does from time to
// time. The previous key stays in the JWKS (tokens it signed still verify);
// the one before it is withdrawn. It returns the new key's kid.
func (s *Server) RotateKey() (string, error) {
	k, err := newSigningKey()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.keys = []signingKey{k, s.keys[0]}
	s.mu.Unlock()
	return k.kid, nil
}

// SetFault makes the API endpoints misbehave until SetFault(Fault{}) is
// called.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// Requests returns how many requests each endpoint has received, keyed by
// "authorize", "authenticate", "revoke", "jwks" and "organization".
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.requests))
	for k, v := range s.requests {
		out[k] = v
	}
	return out
}

func (s *Server) count(endpoint string) {
	s.mu.Lock()
	s.requests[endpoint]++
	s.mu.Unlock()
}
