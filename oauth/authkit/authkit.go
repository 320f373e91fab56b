// Package authkit is the oauth.IdentityProvider for WorkOS AuthKit: it sends
// the browser to AuthKit's hosted sign-in, exchanges the code it returns
// with the WorkOS user management API (through workos-go), verifies the
// access token WorkOS signs, and reads the user's organization, role and
// permissions from it.
//
// The flow is OAuth 2.0's authorization code grant (RFC 6749 section 4.1)
// with PKCE (RFC 7636) between our server, as AuthKit's client, and WorkOS.
// Our own MCP clients never see WorkOS tokens.
//
// For development and tests, package authkittest emulates the WorkOS
// endpoints; point Config.APIURL at it.
package authkit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/workos/workos-go/v4/pkg/organizations"
	"github.com/workos/workos-go/v4/pkg/usermanagement"
	"github.com/workos/workos-go/v4/pkg/workos_errors"

	"remote-mcp-authkit/oauth"
)

// DefaultAPIURL is the WorkOS API that workos-go talks to by default.
const DefaultAPIURL = "https://api.workos.com"

// ErrCodeRejected is wrapped when WorkOS refuses an authorization code
// (expired, already used, wrong PKCE verifier): the sign-in must start
// again. Such errors wrap oauth.ErrUpstreamRevoked too, since for the
// authorization server the meaning is the same: the provider refused, do
// not retry with what you have.
var ErrCodeRejected = errors.New("authkit: authorization code rejected")

// errCodeRejected is what a refused exchange wraps: both sentinels.
var errCodeRejected = fmt.Errorf("%w: %w", ErrCodeRejected, oauth.ErrUpstreamRevoked)

// Config configures a Provider. ClientID and APIKey are required; every
// other field has a default.
type Config struct {
	// ClientID is the WorkOS client ID ("client_01H..."), WORKOS_CLIENT_ID.
	ClientID string
	// APIKey is the WorkOS API key ("sk_..."), which WorkOS also calls the
	// client secret: WORKOS_CLIENT_SECRET. It is sent only to APIURL and
	// never logged.
	APIKey string
	// APIURL is the WorkOS API base URL, WORKOS_API_URL. Empty means
	// DefaultAPIURL. Set it to a custom authentication domain, or to an
	// authkittest emulator's URL in development.
	APIURL string
	// Issuers are the accepted values of the access token's iss claim,
	// WORKOS_ISSUER (comma separated). WorkOS issues tokens under several
	// names, by environment: "<API URL>/user_management/<client ID>"
	// (environments created since mid 2025), the bare API URL (older
	// ones; with or without a trailing slash), "<API URL>/sso/<client
	// ID>", and a custom authentication domain in place of the API URL.
	// An entry that is a bare origin ("https://auth.example.com") stands
	// for all four forms under it; an entry with a path is matched
	// exactly. Empty means the four forms under APIURL.
	Issuers []string
	// HTTPClient carries every call to WorkOS. Empty means a client with a
	// 10 s overall timeout.
	HTTPClient *http.Client
	// Timeout bounds each upstream call (authenticate, revoke, key set
	// fetch) on top of the caller's context. Empty means 10 s.
	Timeout time.Duration
	// JWKSRefetchInterval is the least time between two fetches of the key
	// set caused by tokens naming an unknown key: rotation is rare, so one
	// fetch per interval is plenty, and a flood of odd tokens cannot make
	// us hammer WorkOS. Empty means 30 s.
	JWKSRefetchInterval time.Duration
	// JWKSMaxAge is how long a fetched key set is trusted before it is
	// fetched again even for known keys, so a key WorkOS withdrew stops
	// being accepted. Empty means 1 h.
	JWKSMaxAge time.Duration
	// Leeway is the clock skew allowed when checking exp, nbf and iat.
	// Empty means 30 s.
	Leeway time.Duration
	// Now replaces time.Now, for tests of expiry.
	Now func() time.Time
	// Logger receives sign-in and upstream failure events, never tokens or
	// the API key. Empty means slog.Default().
	Logger *slog.Logger
}

// Provider is an oauth.IdentityProvider backed by WorkOS AuthKit. It is
// safe for concurrent use.
type Provider struct {
	clientID string
	um       *usermanagement.Client
	orgs     *organizations.Client
	verifier *verifier
	timeout  time.Duration
	now      func() time.Time
	log      *slog.Logger

	orgMu    sync.Mutex
	orgNames map[string]orgName // organization ID -> name, looked up at sign-in
}

type orgName struct {
	name    string
	fetched time.Time
}

// Organization names are cached so that a refresh, or a second member of
// the same organization signing in, costs no extra call; failures are
// cached too, so an unreachable endpoint is not asked again at once.
const (
	orgNameTTL      = 10 * time.Minute
	maxOrgNames     = 1000
	orgIDMaxBytes   = 100
	orgLookupBudget = 2 * time.Second
)

var _ oauth.IdentityProvider = (*Provider)(nil)

// New checks cfg and returns a Provider. It makes no network call: the key
// set is fetched on the first sign-in.
func New(cfg Config) (*Provider, error) {
	if cfg.ClientID == "" || strings.ContainsAny(cfg.ClientID, "/?#") {
		return nil, errors.New("authkit: ClientID (WORKOS_CLIENT_ID) is required and must not contain '/', '?' or '#'")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("authkit: APIKey (WORKOS_CLIENT_SECRET) is required")
	}
	api := strings.TrimSuffix(cfg.APIURL, "/")
	if api == "" {
		api = DefaultAPIURL
	}
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("authkit: APIURL (WORKOS_API_URL) %q must be an absolute http(s) URL without query or fragment", cfg.APIURL)
	}
	orDefault := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	timeout := orDefault(cfg.Timeout, 10*time.Second)
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: timeout}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	issuers, err := expandIssuers(cfg.Issuers, api, cfg.ClientID)
	if err != nil {
		return nil, err
	}

	// A client of our own, not workos-go's package-level one, so that two
	// providers (or a provider and a test) never share settings.
	um := usermanagement.NewClient(cfg.APIKey)
	um.Endpoint = api
	um.HTTPClient = hc
	jwks, err := um.GetJWKSURL(cfg.ClientID)
	if err != nil {
		return nil, fmt.Errorf("authkit: key set URL: %w", err)
	}
	return &Provider{
		clientID: cfg.ClientID,
		um:       um,
		orgs:     &organizations.Client{APIKey: cfg.APIKey, Endpoint: api, HTTPClient: hc},
		timeout:  timeout,
		now:      now,
		log:      log,
		orgNames: map[string]orgName{},
		verifier: &verifier{
			clientID: cfg.ClientID,
			issuers:  issuers,
			leeway:   orDefault(cfg.Leeway, 30*time.Second),
			now:      now,
			keys: &keySet{
				url:         jwks.String(),
				client:      hc,
				timeout:     timeout,
				minInterval: orDefault(cfg.JWKSRefetchInterval, 30*time.Second),
				maxAge:      orDefault(cfg.JWKSMaxAge, time.Hour),
				now:         now,
			},
		},
	}, nil
}

// issuerForms are the names WorkOS issues access tokens under, for an
// API base (the default API or a custom authentication domain) and a client.
func issuerForms(base, clientID string) []string {
	return []string{base + "/user_management/" + clientID, base, base + "/", base + "/sso/" + clientID}
}

// expandIssuers turns Config.Issuers into the exact accepted iss values:
// the forms under api when none are given, each bare origin expanded to
// its forms, every other entry kept as it is.
func expandIssuers(in []string, api, clientID string) ([]string, error) {
	if len(in) == 0 {
		return issuerForms(api, clientID), nil
	}
	var out []string
	for _, iss := range in {
		u, err := url.Parse(iss)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("authkit: issuer (WORKOS_ISSUER) %q must be an absolute http(s) URL without query or fragment", iss)
		}
		if u.Path == "" || u.Path == "/" {
			out = append(out, issuerForms(strings.TrimSuffix(iss, "/"), clientID)...)
		} else {
			out = append(out, iss)
		}
	}
	return slices.Compact(out), nil
}

// refused logs a WorkOS access token we would not accept: why, which
// issuer it named and which we expected, so a mismatched WORKOS_ISSUER or
// WORKOS_API_URL is plain to see. The token is never logged; its iss is
// read unverified, for the log only.
func (p *Provider) refused(op, token string, err error) {
	var claims struct {
		Iss string `json:"iss"`
	}
	if parts := strings.Split(token, "."); len(token) <= maxTokenBytes && len(parts) == 3 {
		decodeSegment(parts[1], &claims)
	}
	p.log.Warn("authkit: access token refused", "op", op, "err", err,
		"iss", claims.Iss, "expected_issuers", p.verifier.issuers)
}

// AuthorizationURL returns AuthKit's hosted sign-in URL for this
// authorization request (RFC 6749 section 4.1.1, PKCE per RFC 7636
// section 4.3, S256 only).
func (p *Provider) AuthorizationURL(state, codeChallenge, redirectURI string) (string, error) {
	if state == "" || codeChallenge == "" {
		return "", errors.New("authkit: state and code challenge are required")
	}
	u, err := p.um.GetAuthorizationURL(usermanagement.GetAuthorizationURLOpts{
		ClientID:            p.clientID,
		Provider:            "authkit",
		RedirectURI:         redirectURI,
		State:               state,
		CodeChallenge:       codeChallenge,
		CodeChallengeMethod: "S256",
	})
	if err != nil {
		return "", fmt.Errorf("authkit: authorization URL: %w", err)
	}
	return u.String(), nil
}

// Exchange redeems the code AuthKit sent to our callback (RFC 6749 section
// 4.1.3, with the PKCE verifier of RFC 7636 section 4.5), then verifies the
// access token before believing a word of it.
func (p *Provider) Exchange(ctx context.Context, code, codeVerifier string) (*oauth.UpstreamSession, error) {
	if code == "" {
		return nil, fmt.Errorf("%w: empty code", errCodeRejected)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	res, err := p.um.AuthenticateWithCode(ctx, usermanagement.AuthenticateWithCodeOpts{
		ClientID:     p.clientID,
		Code:         code,
		CodeVerifier: codeVerifier,
	})
	if err != nil {
		return nil, p.upstreamError(ctx, "code exchange", err, errCodeRejected)
	}
	c, err := p.verifier.verifyIssued(ctx, res.AccessToken)
	if err != nil {
		p.refused("code exchange", res.AccessToken, err)
		return nil, err
	}
	if res.User.ID != "" && res.User.ID != c.Sub {
		return nil, refuse("token subject %q is not the signed-in user %q", c.Sub, res.User.ID)
	}
	if res.RefreshToken == "" {
		return nil, fmt.Errorf("authkit: code exchange: %w: no refresh token in the answer", oauth.ErrUpstreamUnavailable)
	}
	id := identityFrom(c, oauth.Identity{})
	id.Email = res.User.Email
	id.Name = strings.TrimSpace(res.User.FirstName + " " + res.User.LastName)
	if id.OrganizationID == "" {
		id.OrganizationID = res.OrganizationID
	}
	id.Organization = p.organizationName(ctx, id.OrganizationID)
	if res.Impersonator != nil && res.Impersonator.Email != "" {
		id.Impersonator = &oauth.Impersonator{Email: clip(res.Impersonator.Email, maxEmailBytes), Reason: clip(res.Impersonator.Reason, maxReasonBytes)}
	}
	if imp := id.ImpersonatorEmail(); imp != "" {
		p.log.Info("authkit: signed in", "user", id.Subject, "org", id.OrganizationID, "role", id.Role, "impersonator", imp)
	} else {
		p.log.Info("authkit: signed in", "user", id.Subject, "org", id.OrganizationID, "role", id.Role)
	}
	return &oauth.UpstreamSession{Identity: id, AccessToken: res.AccessToken, RefreshToken: res.RefreshToken}, nil
}

// Refresh renews the WorkOS session (RFC 6749 section 6; WorkOS rotates the
// refresh token) and re-reads role and permissions from the new, verified
// access token. Email and name are kept from s: a refresh answer carries
// only tokens.
//
// WorkOS refresh tokens are single use, so a renewal WorkOS carried out is
// never thrown away: when the new access token cannot be verified for a
// passing reason (after retries), Refresh returns a session holding the new
// tokens, with s's identity, and an error wrapping
// oauth.ErrUpstreamUnverified; the caller keeps it and retries with it.
// A token that is refused outright wraps oauth.ErrUpstreamInvalid. A call
// that reached WorkOS but whose answer did not arrive wraps
// oauth.ErrUpstreamUnanswered: WorkOS may have spent s.RefreshToken.
func (p *Provider) Refresh(ctx context.Context, s *oauth.UpstreamSession) (*oauth.UpstreamSession, error) {
	if s == nil || s.RefreshToken == "" {
		return nil, fmt.Errorf("authkit: refresh: %w: no upstream refresh token", oauth.ErrUpstreamRevoked)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	// Whether the request left in full: after that, WorkOS may have acted
	// on it whatever becomes of the answer.
	var sent atomic.Bool
	tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			sent.Store(true)
		}
	}})
	res, err := p.um.AuthenticateWithRefreshToken(tctx, usermanagement.AuthenticateWithRefreshTokenOpts{
		ClientID:       p.clientID,
		RefreshToken:   s.RefreshToken,
		OrganizationID: s.Identity.OrganizationID,
	})
	if err != nil {
		if _, answered := httpError(err); !answered && sent.Load() {
			p.log.Warn("authkit: WorkOS received the refresh but its answer did not arrive", "err", err)
			return nil, fmt.Errorf("authkit: refresh: %w: %w (%w)", oauth.ErrUpstreamUnanswered, oauth.ErrUpstreamUnavailable, err)
		}
		return nil, p.upstreamError(ctx, "refresh", err, oauth.ErrUpstreamRevoked)
	}
	if res.RefreshToken == "" {
		return nil, fmt.Errorf("authkit: refresh: %w: no refresh token in the answer", oauth.ErrUpstreamUnavailable)
	}
	c, err := p.verifier.verifyIssued(ctx, res.AccessToken)
	if err != nil {
		if errors.Is(err, oauth.ErrUpstreamUnavailable) {
			p.log.Warn("authkit: refreshed access token not verifiable yet; keeping the renewal", "err", err)
			kept := &oauth.UpstreamSession{Identity: s.Identity, AccessToken: res.AccessToken, RefreshToken: res.RefreshToken}
			return kept, fmt.Errorf("authkit: refresh: %w: %w", oauth.ErrUpstreamUnverified, err)
		}
		p.refused("refresh", res.AccessToken, err)
		return nil, fmt.Errorf("authkit: refresh: %w: %w", oauth.ErrUpstreamInvalid, err)
	}
	if s.Identity.Subject != "" && c.Sub != s.Identity.Subject {
		return nil, fmt.Errorf("authkit: refresh: %w: %w", oauth.ErrUpstreamInvalid,
			refuse("refreshed token is for %q, the session was %q", c.Sub, s.Identity.Subject))
	}
	id := identityFrom(c, s.Identity)
	if id.Organization == "" {
		id.Organization = p.organizationName(ctx, id.OrganizationID)
	}
	p.log.Debug("authkit: session refreshed", "user", id.Subject, "role", id.Role)
	return &oauth.UpstreamSession{Identity: id, AccessToken: res.AccessToken, RefreshToken: res.RefreshToken}, nil
}

// Revoke ends the WorkOS session named by the sid claim. A session WorkOS
// no longer knows counts as ended.
func (p *Provider) Revoke(ctx context.Context, s *oauth.UpstreamSession) error {
	if s == nil || s.Identity.SessionID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	err := p.um.RevokeSession(ctx, usermanagement.RevokeSessionOpts{SessionID: s.Identity.SessionID})
	if err == nil {
		return nil
	}
	if he, ok := httpError(err); ok && he.Code == http.StatusNotFound {
		return nil
	}
	return p.upstreamError(ctx, "session revoke", err, nil)
}

// organizationName looks up the display name of an organization (WorkOS
// access tokens carry only its ID), best effort: a failure leaves the name
// empty and never fails a sign-in. The lookup has its own small budget
// inside the caller's deadline.
func (p *Provider) organizationName(ctx context.Context, id string) string {
	if id == "" || len(id) > orgIDMaxBytes || strings.ContainsFunc(id, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return ""
	}
	now := p.now()
	p.orgMu.Lock()
	cached, ok := p.orgNames[id]
	p.orgMu.Unlock()
	if ok && now.Sub(cached.fetched) < orgNameTTL {
		return cached.name
	}
	ctx, cancel := context.WithTimeout(ctx, orgLookupBudget)
	defer cancel()
	org, err := p.orgs.GetOrganization(ctx, organizations.GetOrganizationOpts{Organization: id})
	if err != nil {
		p.log.Debug("authkit: organization name lookup failed", "org", id, "err", err)
	}
	p.orgMu.Lock()
	if len(p.orgNames) >= maxOrgNames {
		clear(p.orgNames)
	}
	p.orgNames[id] = orgName{name: org.Name, fetched: now}
	p.orgMu.Unlock()
	return org.Name
}

// identityFrom builds an Identity from verified claims, keeping from base
// what tokens do not carry (email, name, organization name, and the
// authorization server's own fields).
func identityFrom(c *accessClaims, base oauth.Identity) oauth.Identity {
	id := base
	id.Subject = c.Sub
	id.SessionID = c.Sid
	if c.OrgID != id.OrganizationID {
		id.Organization = "" // the name belonged to the old organization
	}
	id.OrganizationID = c.OrgID
	id.Role = c.Role
	if id.Role == "" && len(c.Roles) > 0 {
		id.Role = c.Roles[0]
	}
	id.Permissions = slices.Clone(c.Permissions)
	// The token says whether the session is an impersonation; the reason
	// comes only with the sign-in answer, so it is kept from base.
	id.Impersonator = nil
	if c.Act != nil && c.Act.Sub != "" {
		imp := &oauth.Impersonator{Email: clip(c.Act.Sub, maxEmailBytes)}
		if base.Impersonator != nil && base.Impersonator.Email == imp.Email {
			imp.Reason = base.Impersonator.Reason
		}
		id.Impersonator = imp
	}
	return id
}

// Bounds on what WorkOS says about an impersonator, which we keep with
// every grant and show in whoami.
const (
	maxEmailBytes  = 320 // RFC 5321 s4.5.3.1: 64 for the local part, 255 for the domain
	maxReasonBytes = 500
)

// clip cuts s to at most n bytes, on a UTF-8 boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// httpError finds the workos-go HTTP error in err. workos-go returns plain
// HTTPError values, or, for some authentication failures, pointers to
// structs that embed one.
func httpError(err error) (workos_errors.HTTPError, bool) {
	var he workos_errors.HTTPError
	if errors.As(err, &he) {
		return he, true
	}
	var (
		e1 *workos_errors.EmailVerificationRequiredError
		e2 *workos_errors.MFAEnrollmentError
		e3 *workos_errors.MFAChallengeError
		e4 *workos_errors.OrganizationSelectionRequiredError
		e5 *workos_errors.SSORequiredError
		e6 *workos_errors.OrganizationAuthenticationMethodsRequiredError
	)
	switch {
	case errors.As(err, &e1):
		return e1.HTTPError, true
	case errors.As(err, &e2):
		return e2.HTTPError, true
	case errors.As(err, &e3):
		return e3.HTTPError, true
	case errors.As(err, &e4):
		return e4.HTTPError, true
	case errors.As(err, &e5):
		return e5.HTTPError, true
	case errors.As(err, &e6):
		return e6.HTTPError, true
	}
	return he, false
}

// upstreamError sorts a failed WorkOS call into what the authorization
// server needs to know:
//
//   - no answer (network error, timeout, cancelled), an unreadable answer,
//     5xx, 408 or 429: ErrUpstreamUnavailable, try again later;
//   - invalid_grant (whatever the status): refused, see below;
//   - 401 or invalid_client: our own credentials are wrong; also
//     ErrUpstreamUnavailable, since the user's grant is not at fault and
//     must not be dropped over a configuration mistake;
//   - any other 4xx: refused, wrapped in the given sentinel
//     (ErrUpstreamRevoked for a refresh, whose refresh token or session
//     WorkOS no longer honours; ErrCodeRejected, which wraps
//     ErrUpstreamRevoked too, for a code exchange).
//
// The message names the HTTP status and WorkOS error code only: WorkOS's
// descriptions may quote the code or token that was refused.
func (p *Provider) upstreamError(ctx context.Context, op string, err error, refused error) error {
	he, ok := httpError(err)
	if !ok {
		p.log.Warn("authkit: WorkOS unreachable", "op", op, "err", err)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("authkit: %s: %w: %w", op, oauth.ErrUpstreamUnavailable, ctxErr)
		}
		return fmt.Errorf("authkit: %s: %w: %w", op, oauth.ErrUpstreamUnavailable, err)
	}
	what := fmt.Sprintf("HTTP %d", he.Code)
	if he.ErrorCode != "" {
		what += " " + he.ErrorCode
	}
	level := slog.LevelInfo // a refused code or ended session is routine
	if he.Code >= 500 || he.Code == http.StatusRequestTimeout || he.Code == http.StatusTooManyRequests || he.Code == http.StatusUnauthorized {
		level = slog.LevelWarn
	}
	p.log.Log(ctx, level, "authkit: WorkOS refused a call", "op", op, "status", he.Code, "code", he.ErrorCode, "request_id", he.RequestID)
	switch {
	case he.Code >= 500, he.Code == http.StatusRequestTimeout, he.Code == http.StatusTooManyRequests:
		return fmt.Errorf("authkit: %s: %w (%s)", op, oauth.ErrUpstreamUnavailable, what)
	case he.ErrorCode == "invalid_grant" && refused != nil:
		return fmt.Errorf("authkit: %s: %w (%s)", op, refused, what)
	case he.ErrorCode == "invalid_client" || he.Code == http.StatusUnauthorized:
		return fmt.Errorf("authkit: %s: %w: WorkOS refused our client credentials; check WORKOS_CLIENT_ID and WORKOS_CLIENT_SECRET (%s)",
			op, oauth.ErrUpstreamUnavailable, what)
	case refused != nil:
		return fmt.Errorf("authkit: %s: %w (%s)", op, refused, what)
	default:
		return fmt.Errorf("authkit: %s refused (%s)", op, what)
	}
}
