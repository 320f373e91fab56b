package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Config configures an authorization Server. Issuer, Store, Provider and
// Secret are required; every other field has a default suited to a real
// deployment.
type Config struct {
	// Issuer is the public base URL of this server, e.g.
	// "http://localhost:8788" or "https://mcp.example.com". It is the
	// "issuer" of the RFC 8414 metadata exactly as written here, the "iss"
	// of authorization responses (RFC 9207), and the base of every endpoint
	// URL we advertise. No trailing slash, query or fragment.
	Issuer string
	// Resources are the protected MCP resource URLs (RFC 8707, RFC 9728),
	// e.g. Issuer+"/mcp" and Issuer+"/sse". A token is bound to one of them
	// and is accepted only there. An authorization request without a
	// resource parameter gets the first one.
	Resources []string
	// Store keeps clients, grants, codes and token hashes.
	Store Store
	// Provider signs people in upstream (AuthKit).
	Provider IdentityProvider
	// Secret (at least 32 bytes) keys the cookies we sign and the AES-GCM
	// encryption of upstream sessions; sub-keys are derived per purpose with
	// HKDF. Losing it invalidates every grant; leaking it lets an attacker
	// forge consent cookies and read a copied store.
	Secret []byte

	// AccessTokenTTL is how long an access token is accepted. Default 1h.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is how long an unused refresh token (and so its grant)
	// lives; each refresh starts it again. Default 30 days.
	RefreshTokenTTL time.Duration
	// CodeTTL is how long an authorization code may wait to be redeemed.
	// Default 60s (OAuth 2.1 s4.1.2 recommends at most 10 minutes; short is
	// safer).
	CodeTTL time.Duration
	// RefreshGrace is how long a retry with the refresh token just rotated
	// out (parallel refreshes, a response lost in transit) is answered with
	// the current pair as it is. After it, that token is still honoured
	// while its successor has never been presented, with a replacement
	// pair. Default 30s. See refresh in token.go for the exact rule.
	RefreshGrace time.Duration
	// ConsentTTL is how long a browser's "approved this client" cookie
	// lets it skip the consent page. Default 30 days; negative disables
	// remembering.
	ConsentTTL time.Duration
	// ProviderTimeout bounds each call to Provider, so that an unreachable
	// identity provider gives a prompt temporarily_unavailable instead of a
	// hung client. Default 10s.
	ProviderTimeout time.Duration

	// AllowedOrigins restricts which browser origins may read our metadata,
	// registration, token and revocation responses (CORS). Empty means any
	// origin, which is safe for these endpoints because they never rely on
	// cookies: browser-based MCP clients such as the Inspector need it.
	AllowedOrigins []string
	// RegistrationRate and RegistrationBurst limit dynamic client
	// registrations per remote address (token bucket). Defaults: one every
	// 6s, bursts of 20. Behind a reverse proxy every request shares one
	// address; put the limit in the proxy instead, or raise these.
	RegistrationRate  time.Duration
	RegistrationBurst int
	// MaxClients caps the dynamically registered clients stored at once
	// (RFC 7591 registrations; metadata document clients are not stored).
	// Past it /register answers 503 until some expire. Default 50000.
	// Needs a Store that implements StoreCounter (both of ours do).
	MaxClients int
	// UnusedClientTTL is how long a registered client that never completes
	// an authorization is kept: registration is open to anyone, so an
	// abandoned one must not stay for ever. A client's first completed
	// sign-in keeps it for good. Default 24h.
	UnusedClientTTL time.Duration

	// AllowPrivateClientMetadataHosts lets client ID metadata documents be
	// fetched from loopback and private addresses. Only for development and
	// tests: in production it would let anyone make this server send
	// requests into its own network (SSRF).
	AllowPrivateClientMetadataHosts bool
	// HTTPClient fetches client ID metadata documents. Its *http.Transport
	// (if any) is copied and given our SSRF-guarded dialer; timeouts and
	// redirects are ours. Default: a fresh transport.
	HTTPClient *http.Client

	// Logger receives operational events; never tokens or secrets.
	// Default: slog.Default().
	Logger *slog.Logger
	// ServiceName names this server on the consent and error pages.
	// Default "MCP server".
	ServiceName string
	// Scopes are the scopes clients may request (RFC 6749 s3.3), in the
	// order the consent page lists them: the baseline ones (no Permission)
	// and one per upstream permission worth asking for separately. The
	// authorization server metadata advertises them all plus
	// offline_access; the protected resource metadata and the 401
	// challenge name the baseline only, the minimal set for basic use (MCP
	// 2026-07-28 "Scope Selection Strategy"). Empty means this server does
	// not use scopes: the scope parameter is ignored, tokens carry none
	// (Identity.Scopes nil) and what a user may do is decided by the
	// permissions of their Identity alone.
	Scopes []Scope
	// InitialScopes are the scopes the 401 challenge and the protected
	// resource metadata name: what a client asks for first (MCP 2026-07-28
	// "Scope Selection Strategy"), then steps up from. Each must be in
	// Scopes. Empty means all of Scopes, so that a client that cannot step
	// up still reaches every tool the person approves on the consent page:
	// the TypeScript SDK 1.x, for one, answers insufficient_scope by
	// refreshing its token, which can never widen it (RFC 6749 s6). Set it
	// to the baseline scopes when the clients in use step up by
	// re-authorizing (the SDK 2.x does) for least privilege from the start.
	InitialScopes []string
	// OnGrantIdentityChanged is called after a refresh in which the
	// upstream identity changed (role, organization or permissions), so that
	// live MCP sessions of that user can be told their tool list changed.
	// It runs on the request goroutine after the change is stored; keep it
	// quick.
	OnGrantIdentityChanged func(old, new Identity)
	// OnGrantRevoked is called once a grant's revocation is stored, with
	// the identity the grant carried (ClientID and GrantID set), from every
	// path that revokes one: RFC 7009 revocation of its refresh token, an
	// authorization code replayed or redeemed wrongly, a refresh token
	// reused past the grace period, an upstream session found ended at
	// refresh, and RevokeGrant. Its access tokens are refused from then on,
	// but what a client opened with them earlier (MCP sessions and their
	// open streams) lives on until this hook ends it: pass id.GrantID to
	// mcp.Server.CloseSessionsByCredential. It runs on the revoking
	// goroutine outside our locks, before the upstream session is ended;
	// keep it quick.
	OnGrantRevoked func(id Identity)
	// OnEvent is told of each registration, consent, sign-in, token issue,
	// refresh token reuse, revocation and per-address rate limit refusal
	// (see Event), for metrics and an audit trail. It runs on the request's
	// goroutine: keep it quick and never block (queue anything slow).
	OnEvent func(ctx context.Context, e Event)
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Server is the OAuth 2.1 authorization server. Create it with NewServer;
// serve Handler at the root of the public origin and wrap each MCP endpoint
// in RequireBearer.
type Server struct {
	cfg      Config
	keys     *keys
	log      *slog.Logger
	now      func() time.Time
	issuer   *url.URL
	secure   bool // Issuer is https: cookies get Secure and the __Host- prefix
	cors     corsPolicy
	limiter  *rateLimiter // registrations
	authzLim *rateLimiter // authorization requests: each stores a record and may fetch a metadata document
	cimd     *metadataFetcher
	cache    tokenCache
	refreshL [64]sync.Mutex // serialises refreshes per grant (striped by grant ID)
	regMu    sync.Mutex     // serialises registrations, so that MaxClients holds
}

// NewServer validates cfg, fills in defaults and returns a Server.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("oauth: Config.Issuer is required")
	}
	iss, err := url.Parse(cfg.Issuer)
	if err != nil || (iss.Scheme != "https" && iss.Scheme != "http") || iss.Host == "" ||
		iss.RawQuery != "" || iss.Fragment != "" || strings.HasSuffix(cfg.Issuer, "/") {
		// RFC 8414 s2: issuer is an https URL with no query or fragment.
		// Plain http is tolerated for local development.
		return nil, fmt.Errorf("oauth: Config.Issuer %q must be an http(s) URL without query, fragment or trailing slash", cfg.Issuer)
	}
	if len(cfg.Resources) == 0 {
		return nil, errors.New("oauth: Config.Resources needs at least one MCP resource URL")
	}
	for _, r := range cfg.Resources {
		u, err := url.Parse(r)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Fragment != "" {
			// RFC 8707 s2: an absolute URI without a fragment.
			return nil, fmt.Errorf("oauth: resource %q must be an absolute URL without fragment", r)
		}
	}
	if cfg.Store == nil {
		return nil, errors.New("oauth: Config.Store is required")
	}
	if cfg.Provider == nil {
		return nil, errors.New("oauth: Config.Provider is required")
	}
	if err := checkScopes(cfg.Scopes, cfg.InitialScopes); err != nil {
		return nil, err
	}
	if len(cfg.Secret) < 32 {
		return nil, errors.New("oauth: Config.Secret must be at least 32 bytes")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.AccessTokenTTL, time.Hour)
	def(&cfg.RefreshTokenTTL, 30*24*time.Hour)
	def(&cfg.CodeTTL, 60*time.Second)
	def(&cfg.RefreshGrace, 30*time.Second)
	def(&cfg.ProviderTimeout, 10*time.Second)
	def(&cfg.RegistrationRate, 6*time.Second)
	def(&cfg.UnusedClientTTL, 24*time.Hour)
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 50000
	}
	if cfg.ConsentTTL == 0 {
		cfg.ConsentTTL = 30 * 24 * time.Hour
	}
	if cfg.RegistrationBurst <= 0 {
		cfg.RegistrationBurst = 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = "MCP server"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if _, ok := cfg.Store.(StoreCounter); !ok {
		cfg.Logger.Warn("oauth: the store cannot count its records; Config.MaxClients is not enforced")
	}
	if iss.Scheme == "http" && !isLoopbackHost(iss.Hostname()) {
		cfg.Logger.Warn("oauth: issuer is plain http on a non-loopback host; tokens will travel unencrypted", "issuer", cfg.Issuer)
	}
	k, err := deriveKeys(cfg.Secret)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		keys:   k,
		log:    cfg.Logger,
		now:    cfg.Now,
		issuer: iss,
		secure: iss.Scheme == "https",
		cors:   corsPolicy{origins: cfg.AllowedOrigins},
	}
	s.limiter = newRateLimiter(cfg.RegistrationRate, cfg.RegistrationBurst, cfg.Now)
	s.authzLim = newRateLimiter(time.Second, 60, cfg.Now)
	s.cimd = newMetadataFetcher(cfg.HTTPClient, cfg.AllowPrivateClientMetadataHosts, cfg.Now)
	s.cache.init()
	return s, nil
}

// bodyReadTimeout bounds how long a request body may take to arrive. The
// http.Server has no ReadTimeout, which would cut long-lived MCP streams, so
// each handler that reads a body sets its own deadline; without one a client
// could trickle a body for ever and hold the connection and goroutine.
var bodyReadTimeout = 10 * time.Second

// limitedBody returns r's body limited to limit bytes and to bodyReadTimeout
// from now. A ResponseWriter that cannot set deadlines (a test recorder)
// gets only the size limit.
func limitedBody(w http.ResponseWriter, r *http.Request, limit int64) io.ReadCloser {
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(bodyReadTimeout))
	return http.MaxBytesReader(w, r.Body, limit)
}

// endpoint returns the absolute URL of one of our endpoints.
func (s *Server) endpoint(path string) string { return s.cfg.Issuer + path }

// Handler serves the authorization server's endpoints:
//
//	/.well-known/oauth-authorization-server        RFC 8414 s3
//	/.well-known/oauth-protected-resource[/<path>] RFC 9728 s3.1
//	/register                                      RFC 7591 s3
//	/authorize                                     RFC 6749 s4.1.1, OAuth 2.1 s4.1.1
//	/callback                                      the upstream provider's redirect back to us
//	/token                                         RFC 6749 s4.1.3, s6; OAuth 2.1 s4.1.3, s4.3
//	/revoke                                        RFC 7009 s2
//
// Paths are relative to the Issuer's path (normally "/").
func (s *Server) Handler() http.Handler {
	base := s.path("")
	mux := http.NewServeMux()
	// RFC 8414 s3: the metadata lives at the well-known path inserted
	// between host and the issuer's path component.
	mux.Handle("/.well-known/oauth-authorization-server"+base, s.cors.wrap(http.HandlerFunc(s.handleServerMetadata)))
	if base != "" {
		// Some clients append the well-known suffix instead; answering both
		// costs nothing.
		mux.Handle(base+"/.well-known/oauth-authorization-server", s.cors.wrap(http.HandlerFunc(s.handleServerMetadata)))
	}
	// RFC 9728 s3.1: one document per resource, at the well-known path
	// inserted before the resource's path, plus the root form for clients
	// that look there first.
	seen := map[string]bool{}
	for _, res := range s.cfg.Resources {
		p := protectedResourceMetadataPath(res)
		if seen[p] {
			continue
		}
		seen[p] = true
		mux.Handle(p, s.cors.wrap(s.protectedResourceMetadataHandler(res)))
	}
	if !seen["/.well-known/oauth-protected-resource"] {
		mux.Handle("/.well-known/oauth-protected-resource", s.cors.wrap(s.protectedResourceMetadataHandler(s.cfg.Resources[0])))
	}
	mux.Handle(base+"/register", s.cors.wrap(http.HandlerFunc(s.handleRegister)))
	mux.HandleFunc(base+"/authorize", s.handleAuthorize)
	mux.HandleFunc(base+"/callback", s.handleCallback)
	mux.Handle(base+"/token", s.cors.wrap(http.HandlerFunc(s.handleToken)))
	mux.Handle(base+"/revoke", s.cors.wrap(http.HandlerFunc(s.handleRevoke)))
	mux.HandleFunc(base+"/account", s.handleAccount)
	mux.HandleFunc(base+"/account/revoke", s.handleAccountRevoke)
	mux.HandleFunc(base+"/account/signout", s.handleAccountSignOut)
	return mux
}

// SessionOwner names the user behind an authenticated request, for
// mcp.HTTPOptions.SessionOwner: an MCP session created by one user can then
// never be used with another user's token. It returns "" for requests that
// did not pass RequireBearer.
func SessionOwner(r *http.Request) string {
	if id := IdentityFromContext(r.Context()); id != nil {
		return id.Subject
	}
	return ""
}

// GrantCredential names the grant behind an authenticated request, for
// mcp.HTTPOptions.SessionCredential: an MCP session then remembers the
// grant it was opened with, so that revoking that grant (Config.OnGrantRevoked)
// or a change of its identity (Config.OnGrantIdentityChanged) concerns its
// sessions only, not those the same user opened through other clients. It
// returns "" for requests that did not pass RequireBearer.
func GrantCredential(r *http.Request) string {
	if id := IdentityFromContext(r.Context()); id != nil {
		return id.GrantID
	}
	return ""
}

// Stored records. Each is a small JSON object under (kind, key) where key is
// an ID or the SHA-256 of a secret value.
const (
	kindClient   = "client"
	kindPending  = "pending"  // an authorization request awaiting consent
	kindUpstream = "upstream" // an authorization request awaiting the provider's callback
	kindGrant    = "grant"
	kindCode     = "code"
	kindAccess   = "access"
	kindRefresh  = "refresh"
)

func (s *Server) getJSON(ctx context.Context, kind, key string, v any) error {
	b, err := s.cfg.Store.Get(ctx, kind, key)
	if err != nil {
		return err
	}
	if err := unmarshalRecord(b, v); err != nil {
		return fmt.Errorf("oauth: corrupt %s record: %w", kind, err)
	}
	return nil
}

func (s *Server) putJSON(ctx context.Context, kind, key string, v any, expires time.Time) error {
	b, err := marshalRecord(v)
	if err != nil {
		return err
	}
	return s.cfg.Store.Put(ctx, kind, key, b, expires)
}

// marshalRecord encodes a stored record: in its binary form (records.go)
// if it has one, else as JSON. Unlike json.Marshal it leaves <, > and & as
// they are: escaping them for HTML costs 6 bytes each, so a client name of
// angle brackets would be stored at six times what was sent. Nothing
// stored is ever written into HTML unescaped.
func marshalRecord(v any) ([]byte, error) {
	if br, ok := v.(binaryRecord); ok {
		return br.appendRecord(nil), nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// take atomically reads and deletes (kind, key): the single-use primitive
// for upstream states. It returns ErrNotFound if someone else took it first.
func (s *Server) take(ctx context.Context, kind, key string, v any) error {
	got, err := s.takeBytes(ctx, kind, key)
	if err != nil {
		return err
	}
	if got == nil {
		return ErrNotFound
	}
	return unmarshalRecord(got, v)
}

// takeBytes atomically reads and deletes (kind, key) and returns what it
// held, nil if nothing.
func (s *Server) takeBytes(ctx context.Context, kind, key string) (got []byte, err error) {
	err = s.cfg.Store.Update(ctx, kind, key, func(cur []byte) ([]byte, time.Time, error) {
		got = cur
		return nil, time.Time{}, nil
	})
	return got, err
}
