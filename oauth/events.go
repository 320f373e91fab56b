package oauth

// Events: what the authorization server did, told to Config.OnEvent for
// the operator's metrics and audit trail. An event carries who and which
// client, never a token, code or secret.

import (
	"context"
	"net"
	"net/http"
)

// Kinds of Event.
const (
	EventClientRegistered = "client.registered" // RFC 7591 registration
	EventConsented        = "user.consented"    // a person approved a client on the consent page and then signed in
	EventSignedIn         = "user.signed_in"    // a person signed in upstream to authorize a client: a grant exists
	EventTokenIssued      = "token.issued"      // /token answered with tokens (GrantType says which grant)
	EventRefreshReused    = "token.reused"      // a spent refresh token came back: the grant is revoked (RFC 9700 s4.14.2)
	EventGrantRevoked     = "grant.revoked"     // a grant and everything issued from it ended, by any path
	EventRateLimited      = "rate_limited"      // a per-address limit refused a request (Endpoint says which)
	EventAccountSignedIn  = "account.signed_in" // a person signed in to the account page
)

// Event is one thing the authorization server did. Identity is the person
// (nil when none is known yet); ClientID and GrantID say through which
// client and grant. RemoteAddr and UserAgent are the request's, for the
// audit trail's context (empty when it happened outside a request).
type Event struct {
	Kind       string
	Identity   *Identity
	ClientID   string
	ClientName string // as the client declared it: self-asserted, never verified
	GrantID    string
	GrantType  string // EventTokenIssued: "authorization_code" or "refresh_token"
	Endpoint   string // EventRateLimited: "register", "authorize" or "token"
	RemoteAddr string
	UserAgent  string
}

// emit tells Config.OnEvent of e, filling in the request's address and user
// agent from r when given.
func (s *Server) emit(ctx context.Context, r *http.Request, e Event) {
	if s.cfg.OnEvent == nil {
		return
	}
	if r != nil {
		e.RemoteAddr, e.UserAgent = remoteIP(r), r.UserAgent()
	}
	s.cfg.OnEvent(ctx, e)
}

// remoteIP is the request's remote IP address without its port.
func remoteIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
