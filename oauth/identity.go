package oauth

import (
	"context"
	"errors"
	"slices"
)

// Identity is who is behind a request: the user an upstream identity
// provider (AuthKit) signed in, with the organization, role and permissions
// it reported. The bearer middleware puts it into each request's context;
// tools read it from there.
type Identity struct {
	Subject        string   `json:"sub"`             // the upstream user id, e.g. "user_01H..."
	Email          string   `json:"email,omitempty"` //
	Name           string   `json:"name,omitempty"`  // display name
	OrganizationID string   `json:"org_id,omitempty"`
	Organization   string   `json:"org_name,omitempty"`
	Role           string   `json:"role,omitempty"`
	Permissions    []string `json:"permissions,omitempty"`
	// SessionID is the upstream session ("sid" in a WorkOS access token),
	// kept so that revoking our grant can end the upstream session too.
	SessionID string `json:"sid,omitempty"`
	// ClientID and GrantID say through which of our grants the request came.
	// They are set by the authorization server, not by the provider.
	ClientID string `json:"client_id,omitempty"`
	GrantID  string `json:"grant_id,omitempty"`
	// Resource is the MCP endpoint the grant is bound to (RFC 8707), set
	// by the authorization server, so that a refusal can name its metadata
	// (InsufficientScopeChallenge).
	Resource string `json:"resource,omitempty"`
	// Scopes are the scopes the request's token carries (RFC 6749 s3.3):
	// those the client asked for, the person approved and the person's
	// permissions allow. nil means the request is not limited by scopes (a
	// server configured without any, an identity made outside OAuth, or a
	// grant stored before scopes existed, until its next refresh); a
	// non-nil empty list means no scope at all. omitzero, not omitempty,
	// keeps that difference through JSON.
	Scopes []string `json:"scopes,omitzero"`
	// Impersonator is set when the upstream session is an impersonation:
	// someone else (a WorkOS dashboard administrator) is acting as this
	// user. Everything done through the session is done by them, which
	// whoami and the log lines say.
	Impersonator *Impersonator `json:"impersonator,omitempty"`
}

// HasScope reports whether the identity's token carries scope s, or is not
// limited by scopes (Scopes nil).
func (id *Identity) HasScope(s string) bool {
	return id != nil && (id.Scopes == nil || slices.Contains(id.Scopes, s))
}

// Impersonator is who acts as a user in an impersonated session (WorkOS:
// the "impersonator" of the authenticate response, the "act" claim of the
// access token, RFC 8693 s4.1).
type Impersonator struct {
	Email  string `json:"email"`
	Reason string `json:"reason,omitempty"` // as the impersonator gave it
}

// ImpersonatorEmail returns who is acting as the user, or "" when nobody
// is: the value the log lines carry.
func (id *Identity) ImpersonatorEmail() string {
	if id == nil || id.Impersonator == nil {
		return ""
	}
	return id.Impersonator.Email
}

// HasPermission reports whether the identity holds the named permission.
func (id *Identity) HasPermission(p string) bool {
	return id != nil && slices.Contains(id.Permissions, p)
}

type identityKey struct{}

// WithIdentity returns a context carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFromContext returns the identity the bearer middleware stored, or
// nil when the request was not authenticated.
func IdentityFromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

// IdentityProvider is the upstream that signs people in: AuthKit in
// production, its emulator in development, a fake in tests. The
// authorization server drives it with its own state and PKCE, so a provider
// never sees our clients or our tokens.
type IdentityProvider interface {
	// AuthorizationURL returns where to send the browser to sign in. state is
	// ours (random, single use); codeChallenge is the S256 challenge of a
	// verifier we keep; redirectURI is our /callback.
	AuthorizationURL(state, codeChallenge, redirectURI string) (string, error)
	// Exchange trades the code the provider sent to /callback for a signed-in
	// user. It must verify whatever the provider signs before trusting it.
	Exchange(ctx context.Context, code, codeVerifier string) (*UpstreamSession, error)
	// Refresh renews an upstream session and re-reads the user's
	// organization, role and permissions. It returns an error wrapping
	// ErrUpstreamRevoked when the provider says the session is gone, and one
	// wrapping ErrUpstreamUnavailable when it could not be reached
	// (ErrUpstreamUnanswered too when the request reached it and no answer
	// came back). When the provider renewed the session but its answer
	// cannot be verified yet, it returns the renewed tokens with an error
	// wrapping ErrUpstreamUnverified; an answer refused on verification
	// wraps ErrUpstreamInvalid.
	Refresh(ctx context.Context, s *UpstreamSession) (*UpstreamSession, error)
	// Revoke ends the upstream session, best effort.
	Revoke(ctx context.Context, s *UpstreamSession) error
}

// UpstreamSession is what a provider hands back after a sign-in or refresh.
// The authorization server stores only RefreshToken, encrypted, beside the
// grant's Identity; AccessToken is not kept, so a session handed to Refresh
// or Revoke carries none.
type UpstreamSession struct {
	Identity     Identity `json:"identity"`
	AccessToken  string   `json:"access_token,omitempty"`
	RefreshToken string   `json:"refresh_token,omitempty"`
}

// Errors an IdentityProvider wraps so that the authorization server can
// answer with the right OAuth error (invalid_grant versus
// temporarily_unavailable).
var (
	ErrUpstreamRevoked     = errors.New("upstream session revoked")
	ErrUpstreamUnavailable = errors.New("identity provider unavailable")
	// ErrUpstreamUnverified: the provider renewed the session, but what
	// it returned could not be verified yet for a passing reason (its key
	// set could not be fetched). Refresh then returns, beside the error, a
	// session holding the new upstream tokens and no trusted identity:
	// upstream refresh tokens are single use, so the caller must keep them
	// and retry with them, never with the spent ones.
	ErrUpstreamUnverified = errors.New("upstream answer could not be verified yet")
	// ErrUpstreamInvalid: the provider answered, and its answer is not to
	// be trusted (bad signature, wrong issuer, expired token). A retry
	// cannot help; the session must be established again.
	ErrUpstreamInvalid = errors.New("upstream answer failed verification")
	// ErrUpstreamUnanswered: the provider received the request but no
	// readable answer arrived (timeout, cut connection). It may have acted
	// on it: a refresh it carried out spent the upstream refresh token we
	// still hold. Errors wrapping it wrap ErrUpstreamUnavailable too.
	ErrUpstreamUnanswered = errors.New("identity provider received the request; its answer did not arrive")
)
