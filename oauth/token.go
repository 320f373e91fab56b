package oauth

// Grants, authorization codes, the token endpoint (RFC 6749 s3.2, s4.1.3,
// s5, s6; OAuth 2.1 s3.2, s4.1.3, s4.3) and revocation (RFC 7009).

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

const (
	maxTokenBody   = 16 << 10
	maxTokenParam  = 4096
	codeReplayKeep = 10 * time.Minute // how long a used code is remembered to catch replays
	// spentRing is how many spent refresh tokens, older than the previous
	// one, a grant remembers for reuse detection (RFC 9700 s4.14.2); see
	// refresh for why 8.
	spentRing = 8
)

// grant is one user's authorization of one client for one resource: what
// codes, access tokens and refresh tokens are issued from, and what
// revocation removes.
type grant struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	Resource string `json:"resource"`
	// Scope is what the person approved (space separated): the ceiling
	// of every token of the grant (RFC 6749 s6). What a token carries is
	// Identity.Scopes: this, narrowed by the permissions at the last
	// sign-in or refresh.
	Scope string `json:"scope,omitempty"`
	// ClientName (as the client declared it) and RedirectURI (where its
	// code went) are what the account page shows.
	ClientName  string    `json:"client_name,omitempty"`
	RedirectURI string    `json:"redirect_uri,omitempty"`
	Identity    Identity  `json:"identity"` // ClientID, GrantID, Resource and Scopes set
	Upstream    []byte    `json:"upstream"` // sealed UpstreamSession (AES-GCM, AAD "grant:"+ID)
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	// Refresh token rotation (OAuth 2.1 s4.3.1): the hash of the current
	// refresh token, and the one it replaced, still honoured until
	// PrevRefreshUntil. CurrentSealed is the current refresh token itself,
	// sealed, so that a request with the previous one inside the grace
	// period can be given the same current token rather than fork the chain.
	RefreshHash      string    `json:"refresh_hash,omitempty"`
	CurrentSealed    []byte    `json:"current_sealed,omitempty"`
	PrevRefreshHash  string    `json:"prev_refresh_hash,omitempty"`
	PrevRefreshUntil time.Time `json:"prev_refresh_until,omitzero"`
	// Spent holds the hashes of the refresh tokens spent before the
	// previous one, newest last, at most spentRing: their records are kept
	// so that their reuse revokes the grant (RFC 9700 s4.14.2). A hash
	// pushed out of the ring has its record deleted, so the records of a
	// grant that refreshes often stay bounded.
	Spent []string `json:"spent,omitempty"`
	// AccessHash and PrevAccessHash are the grant's live access tokens:
	// the newest, and the one before it, which requests already in flight
	// may still carry. Issuing a new one deletes the one before those two.
	AccessHash     string `json:"access_hash,omitempty"`
	PrevAccessHash string `json:"prev_access_hash,omitempty"`
	// CurrentAccessSealed is the newest access token itself, sealed (AAD
	// "access:"+ID), so that a retry with the previous refresh token is
	// handed the current pair instead of minting access tokens that evict
	// each other (see refresh).
	CurrentAccessSealed []byte `json:"current_access_sealed,omitempty"`
	// UpstreamInDoubt is when an upstream renewal went unanswered (the
	// provider received it; whether it carried it out is unknown), zero
	// otherwise: a retry that then finds the upstream token spent can say
	// why.
	UpstreamInDoubt time.Time `json:"upstream_in_doubt,omitzero"`
}

// setCurrent records access and refresh as the grant's newest pair, the
// tokens themselves sealed, and returns the hash of the access token no
// longer kept ("" if none), for the caller to delete once the grant is
// stored.
func (g *grant) setCurrent(k *keys, access, refresh string) (evicted string) {
	evicted = g.pushAccess(hashToken(access))
	g.CurrentAccessSealed = k.seal([]byte(access), "access:"+g.ID)
	g.RefreshHash = hashToken(refresh)
	g.CurrentSealed = k.seal([]byte(refresh), "refresh:"+g.ID)
	return evicted
}

// pushAccess makes accessHash the grant's current access token and returns
// the hash of the one that is no longer kept ("" if none), for the caller
// to delete once the grant is stored.
func (g *grant) pushAccess(accessHash string) (evicted string) {
	evicted = g.PrevAccessHash
	g.PrevAccessHash, g.AccessHash = g.AccessHash, accessHash
	return evicted
}

// pushSpent records a refresh token hash as spent and returns the hashes
// that fell out of the ring, for the caller to delete once the grant is
// stored.
func (g *grant) pushSpent(h string) (evicted []string) {
	if h == "" {
		return nil
	}
	g.Spent = append(g.Spent, h)
	if n := len(g.Spent) - spentRing; n > 0 {
		evicted = slices.Clone(g.Spent[:n])
		g.Spent = slices.Clone(g.Spent[n:])
	}
	return evicted
}

// tokenHashes lists every access and refresh token hash the grant tracks.
func (g *grant) tokenHashes() (access, refresh []string) {
	for _, h := range []string{g.AccessHash, g.PrevAccessHash} {
		if h != "" {
			access = append(access, h)
		}
	}
	for _, h := range append([]string{g.RefreshHash, g.PrevRefreshHash}, g.Spent...) {
		if h != "" {
			refresh = append(refresh, h)
		}
	}
	return access, refresh
}

type codeRecord struct {
	GrantID     string    `json:"grant_id"`
	ClientID    string    `json:"client_id"`
	RedirectURI string    `json:"redirect_uri"`                    // as sent; "" if omitted
	ResolvedURI string    `json:"resolved_redirect_uri,omitempty"` // where the code went
	Challenge   string    `json:"code_challenge"`
	Resource    string    `json:"resource"`
	ExpiresAt   time.Time `json:"expires_at"`
	Used        bool      `json:"used,omitempty"`
}

type accessRecord struct {
	GrantID   string    `json:"grant_id"`
	ClientID  string    `json:"client_id"`
	Resource  string    `json:"resource"`
	ExpiresAt time.Time `json:"expires_at"`
	// Scope, when set, narrows this token below its grant's scopes: the
	// client asked for less at the token request (RFC 6749 s6). Absent for
	// nearly every token, so records stay as small as before.
	Scope string `json:"scope,omitempty"`
}

type refreshRecord struct {
	GrantID  string `json:"grant_id"`
	ClientID string `json:"client_id"`
}

func (s *Server) createGrant(ctx context.Context, req *authRequest, sess *UpstreamSession) (*grant, error) {
	now := s.now()
	g := &grant{
		ID: "grant_" + rand.Text(), ClientID: req.ClientID, Resource: req.Resource, Scope: req.Scope,
		ClientName: req.ClientName, RedirectURI: req.ResolvedURI,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.CodeTTL + codeReplayKeep),
	}
	g.Identity = sess.Identity
	g.Identity.ClientID, g.Identity.GrantID, g.Identity.Resource = req.ClientID, g.ID, req.Resource
	if len(s.cfg.Scopes) > 0 {
		g.Identity.Scopes = s.permitted(strings.Fields(req.Scope), &g.Identity)
	}
	if err := s.sealUpstream(g, sess); err != nil {
		return nil, err
	}
	if err := s.putJSON(ctx, kindGrant, g.ID, g, g.ExpiresAt); err != nil {
		return nil, err
	}
	// The account page finds a person's grants through this index; a
	// failure costs only the listing, so the sign-in goes on.
	if err := s.indexGrant(ctx, g.Identity.Subject, g.ID); err != nil {
		s.log.Warn("oauth: indexing grant for the account page", "grant", g.ID, "err", err)
	}
	return g, nil
}

// sealUpstream seals the one secret of the upstream session a grant needs
// later: its refresh token. The identity is the grant's own, and the
// upstream access token (a JWT of about 1 KB) is never used after the
// sign-in or refresh that verified it, so keeping it would cost every grant
// its size on disk and in memory for nothing.
func (s *Server) sealUpstream(g *grant, sess *UpstreamSession) error {
	b := append([]byte{sealedUpstreamRaw}, sess.RefreshToken...)
	g.Upstream = s.keys.seal(b, "grant:"+g.ID)
	return nil
}

// sealedUpstreamRaw starts what Grant.Upstream seals: the upstream refresh
// token follows as it is. Grants stored before sealed a JSON object (a
// whole UpstreamSession, then only its refresh token); openUpstream reads
// all three.
const sealedUpstreamRaw = 1

func (s *Server) openUpstream(g *grant) (*UpstreamSession, error) {
	b, err := s.keys.open(g.Upstream, "grant:"+g.ID)
	if err != nil {
		return nil, err
	}
	var sealed struct {
		RefreshToken string `json:"refresh_token"`
	}
	if len(b) > 0 && b[0] == sealedUpstreamRaw {
		sealed.RefreshToken = string(b[1:])
	} else if err := json.Unmarshal(b, &sealed); err != nil {
		return nil, err
	}
	id := g.Identity
	id.ClientID, id.GrantID = "", ""
	return &UpstreamSession{Identity: id, RefreshToken: sealed.RefreshToken}, nil
}

// issueCode stores a one-time authorization code (RFC 6749 s4.1.2, OAuth
// 2.1 s4.1.2) bound to client, redirect URI, PKCE challenge, resource and
// grant. The record outlives the code by codeReplayKeep so that a replay can
// be recognised and punished.
func (s *Server) issueCode(ctx context.Context, req *authRequest, grantID string) (string, error) {
	code := newToken(prefixCode)
	now := s.now()
	rec := codeRecord{
		GrantID: grantID, ClientID: req.ClientID, RedirectURI: req.RedirectURI, ResolvedURI: req.ResolvedURI,
		Challenge: req.CodeChallenge, Resource: req.Resource, ExpiresAt: now.Add(s.cfg.CodeTTL),
	}
	return code, s.putJSON(ctx, kindCode, hashToken(code), &rec, rec.ExpiresAt.Add(codeReplayKeep))
}

// tokenRequestParams are the parameters the token and revocation endpoints
// know; each may appear at most once (RFC 6749 s3.2).
var tokenRequestParams = []string{"grant_type", "code", "redirect_uri", "code_verifier", "client_id",
	"client_secret", "refresh_token", "resource", "scope", "token", "token_type_hint"}

// parseTokenRequest reads a token or revocation request body: form encoded
// (RFC 6749 s3.2), each known parameter at most once, each value bounded.
func parseTokenRequest(contentType string, body []byte) (url.Values, *oauthError) {
	if mt, _, _ := mime.ParseMediaType(contentType); mt != "application/x-www-form-urlencoded" {
		return nil, errInvalidRequest("Content-Type must be application/x-www-form-urlencoded (RFC 6749 s3.2)")
	}
	if len(body) > maxTokenBody {
		return nil, errInvalidRequest(fmt.Sprintf("body larger than %d bytes", maxTokenBody))
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errInvalidRequest("body is not valid form encoding")
	}
	for _, p := range tokenRequestParams {
		if len(form[p]) > 1 {
			return nil, errInvalidRequest(p + " must not be repeated (RFC 6749 s3.2)")
		}
		if len(form.Get(p)) > maxTokenParam {
			return nil, errInvalidRequest(fmt.Sprintf("%s longer than %d bytes", p, maxTokenParam))
		}
	}
	return form, nil
}

func (s *Server) readTokenForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	if r.Method != http.MethodPost {
		// RFC 9110 s15.5.6: a 405 names the methods the endpoint takes.
		w.Header().Set("Allow", "POST, OPTIONS")
		return nil, &oauthError{http.StatusMethodNotAllowed, "invalid_request", "use POST"}
	}
	if r.URL.Query().Has("client_secret") || r.URL.Query().Has("code") || r.URL.Query().Has("refresh_token") {
		// Credentials in a URL end up in logs (RFC 6749 s2.3.1).
		return nil, errInvalidRequest("credentials must be sent in the body, not the URL")
	}
	body, err := io.ReadAll(limitedBody(w, r, maxTokenBody))
	if err != nil {
		return nil, errInvalidRequest(fmt.Sprintf("body larger than %d bytes, or too slow to arrive", maxTokenBody))
	}
	return parseTokenRequest(r.Header.Get("Content-Type"), body)
}

// tokenResponse is RFC 6749 s5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	// grant is what the tokens were issued from, for Config.OnEvent.
	grant *grant
}

// handleToken is the token endpoint.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	form, e := s.readTokenForm(w, r)
	if e != nil {
		writeJSONError(w, e)
		return
	}
	grantType := form.Get("grant_type")
	if grantType == "" {
		writeJSONError(w, errInvalidRequest("grant_type is required"))
		return
	}
	if grantType != "authorization_code" && grantType != "refresh_token" {
		writeJSONError(w, &oauthError{http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token"})
		return
	}
	client, basic, e := s.authenticateClient(r.Context(), r, form)
	if e != nil {
		s.clientError(w, e, basic)
		return
	}
	if !slices.Contains(client.GrantTypes, grantType) {
		writeJSONError(w, &oauthError{http.StatusBadRequest, "unauthorized_client", "this client did not register the " + grantType + " grant type"})
		return
	}
	var resp *tokenResponse
	if grantType == "authorization_code" {
		resp, e = s.exchangeCode(r.Context(), client, form)
	} else {
		resp, e = s.refresh(r.Context(), client, form)
	}
	if e != nil {
		writeJSONError(w, e)
		return
	}
	if g := resp.grant; g != nil {
		s.emit(r.Context(), r, Event{Kind: EventTokenIssued, Identity: &g.Identity, ClientID: g.ClientID, GrantID: g.ID, GrantType: grantType})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store") // RFC 6749 s5.1
	h.Set("Pragma", "no-cache")
	json.NewEncoder(w).Encode(resp)
}

// clientError answers a failed client authentication: 401 with a Basic
// challenge when the client tried Basic (RFC 6749 s5.2).
func (s *Server) clientError(w http.ResponseWriter, e *oauthError, basic bool) {
	if e.code == "invalid_client" && basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+s.cfg.Issuer+`", charset="UTF-8"`)
	}
	if e.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1") // RFC 6585 s4; the limiter refills one request a second
	}
	writeJSONError(w, e)
}

// exchangeCode is the authorization code grant, RFC 6749 s4.1.3 with PKCE
// verification (RFC 7636 s4.6) and OAuth 2.1 s4.1.3.
func (s *Server) exchangeCode(ctx context.Context, client *Client, form url.Values) (*tokenResponse, *oauthError) {
	code, verifier := form.Get("code"), form.Get("code_verifier")
	if code == "" {
		return nil, errInvalidRequest("code is required")
	}
	if verifier == "" {
		return nil, errInvalidRequest("code_verifier is required (PKCE)")
	}
	// A code is single use: the first presentation consumes it, whatever
	// its outcome, and a second one is a replay (OAuth 2.1 s4.1.3).
	var rec codeRecord
	replay := false
	err := s.cfg.Store.Update(ctx, kindCode, hashToken(code), func(cur []byte) ([]byte, time.Time, error) {
		if cur == nil {
			return nil, time.Time{}, ErrNotFound
		}
		if err := json.Unmarshal(cur, &rec); err != nil {
			return nil, time.Time{}, err
		}
		if rec.Used {
			replay = true
			return cur, rec.ExpiresAt.Add(codeReplayKeep), nil
		}
		used := rec
		used.Used = true
		b, err := json.Marshal(&used)
		return b, rec.ExpiresAt.Add(codeReplayKeep), err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, errInvalidGrant("authorization code is invalid or expired")
	}
	if err != nil {
		s.log.Error("oauth: code lookup", "err", err)
		return nil, &oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "storage error"}
	}
	if replay {
		// RFC 6749 s4.1.2: a code used twice means it leaked; revoke all
		// tokens issued from it.
		s.log.Warn("oauth: authorization code replayed; revoking grant", "client_id", client.ClientID, "grant", rec.GrantID)
		s.RevokeGrant(ctx, rec.GrantID)
		return nil, errInvalidGrant("authorization code was already used; its grant is revoked")
	}
	// The code is spent; if this request is not the rightful one, the
	// grant behind it is useless and goes too.
	reject := func(e *oauthError) (*tokenResponse, *oauthError) {
		s.RevokeGrant(ctx, rec.GrantID)
		return nil, e
	}
	switch {
	case !s.now().Before(rec.ExpiresAt):
		return reject(errInvalidGrant("authorization code expired"))
	case rec.ClientID != client.ClientID:
		return reject(errInvalidGrant("authorization code was issued to another client"))
	case form.Get("redirect_uri") != rec.RedirectURI &&
		(rec.RedirectURI != "" || form.Get("redirect_uri") != rec.ResolvedURI):
		// OAuth 2.1 s4.1.3: identical to the authorization request's if
		// that had one; otherwise optional, and if sent, the one used.
		return reject(errInvalidGrant("redirect_uri does not match the authorization request"))
	}
	if err := validVerifier(verifier); err != nil {
		return reject(errInvalidGrant(err.Error()))
	}
	if subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(rec.Challenge)) != 1 {
		return reject(errInvalidGrant("code_verifier does not match the code_challenge (PKCE)"))
	}
	if res := form.Get("resource"); res != "" && !sameResource(res, rec.Resource) {
		// RFC 8707 s2.2.
		return reject(&oauthError{http.StatusBadRequest, "invalid_target", "resource does not match the authorization request"})
	}
	refresh, access := newToken(prefixRefreshToken), newToken(prefixAccessToken)
	var evicted string
	var narrow []string
	g, err := s.updateGrant(ctx, rec.GrantID, func(g *grant) error {
		// The authorization code grant has no scope parameter (RFC 6749
		// s4.1.3); one sent anyway may narrow, never widen, what was
		// approved at the authorization request (s3.3).
		var e *oauthError
		if narrow, e = s.narrowScope(form.Get("scope"), g, &g.Identity); e != nil {
			return e
		}
		evicted = g.setCurrent(s.keys, access, refresh)
		g.ExpiresAt = s.now().Add(s.cfg.RefreshTokenTTL)
		return nil
	})
	if oe := (*oauthError)(nil); errors.As(err, &oe) && oe.code == "invalid_scope" {
		return reject(oe)
	}
	if err != nil {
		return nil, s.grantError(err)
	}
	return s.issueTokens(ctx, g, access, evicted, refresh, narrow)
}

// scopeCeiling refuses a scope parameter that names a scope the person
// did not approve for the grant (RFC 6749 s6), with invalid_scope.
func (s *Server) scopeCeiling(param string, g *grant) *oauthError {
	fields := strings.Fields(param)
	if len(fields) == 0 || len(s.cfg.Scopes) == 0 || subset(fields, s.approvedOf(g)) {
		return nil
	}
	return &oauthError{http.StatusBadRequest, "invalid_scope", "scope asks for more than the grant's approved scopes (" + strings.Join(s.approvedOf(g), " ") + "); authorize again to ask for more"}
}

// narrowScope checks the scope parameter of a token request against the
// grant: RFC 6749 s6, "MUST NOT include any scope not originally granted by
// the resource owner" (what the person approved), else invalid_scope. It
// returns what the access token carries below id's scopes: nil for all of
// them (no parameter, or scopes unused).
func (s *Server) narrowScope(param string, g *grant, id *Identity) ([]string, *oauthError) {
	if e := s.scopeCeiling(param, g); e != nil {
		return nil, e
	}
	fields := strings.Fields(param)
	if len(fields) == 0 || len(s.cfg.Scopes) == 0 {
		return nil, nil
	}
	narrow := intersect(id.Scopes, fields)
	if !hasResourceScope(narrow) {
		return nil, &oauthError{http.StatusBadRequest, "invalid_scope", "none of the requested scopes is granted to this account"}
	}
	return narrow, nil
}

var errGrantGone = errors.New("grant revoked or expired")

// storeGone maps a store's ErrNotFound for a grant to errGrantGone.
func storeGone(err error) error {
	if errors.Is(err, ErrNotFound) {
		return errGrantGone
	}
	return err
}

// updateGrant atomically applies fn to a grant and stores it.
func (s *Server) updateGrant(ctx context.Context, id string, fn func(*grant) error) (*grant, error) {
	var g grant
	err := s.cfg.Store.Update(ctx, kindGrant, id, func(cur []byte) ([]byte, time.Time, error) {
		if cur == nil {
			return nil, time.Time{}, errGrantGone
		}
		g = grant{}
		if err := unmarshalRecord(cur, &g); err != nil {
			return nil, time.Time{}, err
		}
		if err := fn(&g); err != nil {
			return nil, time.Time{}, err
		}
		b, err := marshalRecord(&g)
		return b, g.ExpiresAt, err
	})
	return &g, err
}

func (s *Server) grantError(err error) *oauthError {
	var oe *oauthError
	switch {
	case errors.As(err, &oe):
		return oe
	case errors.Is(err, errGrantGone):
		return errInvalidGrant("the grant was revoked or has expired; authorize again")
	}
	s.log.Error("oauth: grant update", "err", err)
	return &oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "storage error"}
}

// issueTokens stores the access token and the refresh token record, deletes
// the access token the grant no longer keeps (evicted, its hash, or ""), and
// returns the RFC 6749 s5.1 response. The caller has already recorded
// access as the grant's current access token.
// narrow, when not nil, is the access token's scopes below the grant's.
// The response names the token's scopes (RFC 6749 s5.1: required when they
// differ from the request's, which only we know; always sent).
func (s *Server) issueTokens(ctx context.Context, g *grant, access, evicted, refresh string, narrow []string) (*tokenResponse, *oauthError) {
	now := s.now()
	s.dropAccess(ctx, evicted)
	ar := accessRecord{GrantID: g.ID, ClientID: g.ClientID, Resource: g.Resource, ExpiresAt: now.Add(s.cfg.AccessTokenTTL)}
	scope := strings.Join(g.Identity.Scopes, " ")
	if narrow != nil {
		ar.Scope = strings.Join(narrow, " ")
		scope = ar.Scope
	}
	if err := s.putJSON(ctx, kindAccess, hashToken(access), &ar, ar.ExpiresAt); err != nil {
		return nil, s.grantError(err)
	}
	// The refresh record outlives rotation so that reuse of an old token
	// can be traced to its grant (RFC 9700 s4.14.2).
	rr := refreshRecord{GrantID: g.ID, ClientID: g.ClientID}
	if err := s.putJSON(ctx, kindRefresh, hashToken(refresh), &rr, now.Add(s.cfg.RefreshTokenTTL)); err != nil {
		return nil, s.grantError(err)
	}
	s.cache.add(access, &ar, &g.Identity, now)
	// A revocation of the grant since it was read found this token not yet
	// cached; now that it is, whichever comes last sees the other.
	if _, err := s.cfg.Store.Get(ctx, kindGrant, g.ID); errors.Is(err, ErrNotFound) {
		s.cache.revokeGrant(g.ID)
		return nil, errInvalidGrant("the grant was revoked; authorize again")
	}
	return &tokenResponse{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: int64(s.cfg.AccessTokenTTL / time.Second),
		RefreshToken: refresh, Scope: scope, grant: g,
	}, nil
}

// dropAccess deletes an access token, given its hash, from the store and
// then the bearer cache: in that order, a bearer check that loads the token
// into the cache meanwhile finds it gone when it looks at the store again.
// Failing to delete it from the store is logged only: the token then lives
// until it expires.
func (s *Server) dropAccess(ctx context.Context, h string) {
	if h == "" {
		return
	}
	if err := s.cfg.Store.Delete(ctx, kindAccess, h); err != nil {
		s.log.Warn("oauth: deleting an access token", "err", err)
	}
	s.cache.dropHash(h)
}

// dropRefresh deletes refresh token records, given their hashes; a failure
// is logged only (the record then lives to its expiry, still catching
// reuse).
func (s *Server) dropRefresh(ctx context.Context, hs []string) {
	for _, h := range hs {
		if err := s.cfg.Store.Delete(ctx, kindRefresh, h); err != nil {
			s.log.Warn("oauth: deleting a spent refresh token", "err", err)
		}
	}
}

// refresh is the refresh token grant, RFC 6749 s6 and OAuth 2.1 s4.3.
//
// Rotation (OAuth 2.1 s4.3.1, RFC 9700 s4.14.2): every use of the current
// refresh token returns a new one, and the used one becomes "previous". A
// grant has a single chain of refresh tokens at any time and no race
// between two of a client's requests can fork it:
//
//   - The current token rotates (rotate): upstream is renewed, a new pair
//     is issued.
//   - The previous token inside RefreshGrace (a client that refreshed twice
//     at once, or whose answer was lost): the current pair is handed back
//     as it is, the same access token and the same refresh token
//     (currentPair), so every 200 of a burst of parallel refreshes carries
//     tokens that work; minting one access token per request would evict
//     them from each other.
//   - The previous token after RefreshGrace (replaceUndelivered): the
//     current token has never been presented, or it would have rotated and
//     pushed the previous one out. Nothing proves the client ever received
//     it: the server may have died between storing the rotation and
//     answering it, and the outage may have lasted any time. So the
//     current pair is replaced by a new one, and the replaced refresh
//     token goes among the spent ones. If its holder shows up later, that
//     is reuse and the grant is revoked.
//   - Any other token of the grant (spent: its successor has been
//     presented, so the client received that successor) is reuse: the
//     token leaked, and the whole grant is revoked.
//
// Reuse detection is bounded (RFC 9700 s4.14.2 asks that reuse of an
// invalidated refresh token be detected, but a store that keeps every spent
// token for the refresh token lifetime grows without bound for a client that
// refreshes often). A grant remembers its current and previous refresh
// tokens and the spentRing tokens spent before those; reuse of any of them
// revokes the grant. A token older than that has no record left and is
// simply unknown: invalid_grant, without revocation. Why 8: if the thief
// refreshes first, the rightful client's next refresh presents a token one
// rotation old, always caught; if the rightful client refreshes first, the
// thief is caught unless the chain has rotated 9 more times before the
// stolen token is tried, which for a client refreshing as its hour-long
// access tokens expire is most of a working day. Meanwhile a grant keeps at
// most spentRing+2 = 10 refresh records whatever its age, instead of one
// per refresh for the refresh token lifetime.
//
// Access tokens are bounded the same way: each refresh keeps the new access
// token and the one before it (requests in flight may carry it), and deletes
// the older one from the store and the bearer cache.
func (s *Server) refresh(ctx context.Context, client *Client, form url.Values) (*tokenResponse, *oauthError) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, errInvalidRequest("refresh_token is required")
	}
	h := hashToken(rt)
	var rr refreshRecord
	if err := s.getJSON(ctx, kindRefresh, h, &rr); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, errInvalidGrant("refresh token is invalid or expired")
		}
		return nil, s.grantError(err)
	}
	if rr.ClientID != client.ClientID {
		return nil, errInvalidGrant("refresh token was issued to another client")
	}
	// One refresh per grant at a time in this process, so a retried refresh
	// waits for the first and then takes the grace path instead of calling
	// the provider with an upstream token the first call already rotated.
	// A revocation decided under the lock finishes (hook, upstream call)
	// after it is released: this defer runs after the Unlock below.
	after := func() {}
	defer func() { after() }()
	mu := &s.refreshL[stripe(rr.GrantID)]
	mu.Lock()
	defer mu.Unlock()

	var g grant
	if err := s.getJSON(ctx, kindGrant, rr.GrantID, &g); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, errInvalidGrant("the grant was revoked or has expired; authorize again")
		}
		return nil, s.grantError(err)
	}
	current := subtle.ConstantTimeCompare([]byte(h), []byte(g.RefreshHash)) == 1
	previous := !current && g.PrevRefreshHash != "" &&
		subtle.ConstantTimeCompare([]byte(h), []byte(g.PrevRefreshHash)) == 1
	if !current && !previous {
		s.log.Warn("oauth: refresh token reused; revoking grant", "client_id", client.ClientID, "grant", g.ID)
		s.emit(ctx, nil, Event{Kind: EventRefreshReused, Identity: &g.Identity, ClientID: client.ClientID, GrantID: g.ID})
		after, _ = s.revokeGrant(ctx, g.ID)
		return nil, errInvalidGrant("refresh token was already used; the grant is revoked, authorize again")
	}
	if res := form.Get("resource"); res != "" && !sameResource(res, g.Resource) {
		return nil, &oauthError{http.StatusBadRequest, "invalid_target", "resource does not match the grant's (" + g.Resource + ")"}
	}
	// RFC 6749 s6: a refresh may narrow the scope, never widen it beyond
	// what the person approved.
	param := form.Get("scope")
	if e := s.scopeCeiling(param, &g); e != nil {
		return nil, e
	}
	switch {
	case current:
		var revoke bool
		resp, e := s.rotate(ctx, &g, h, param, &revoke)
		if revoke {
			after, _ = s.revokeGrant(ctx, g.ID)
		}
		return resp, e
	case s.now().Before(g.PrevRefreshUntil):
		return s.currentPair(ctx, &g, param)
	default:
		return s.replaceUndelivered(ctx, &g, h, param)
	}
}

// currentPair answers the previous refresh token inside the grace period
// with the grant's current pair, unchanged, without calling upstream. Only
// when there is no current access token worth handing back (a grant stored
// before they were kept, or one past half its lifetime) is a new one
// minted.
//
// param is the request's scope parameter, already checked against what
// the person approved: a request that narrows gets a new access token with
// those scopes (RFC 6749 s6), never the current one, which may carry more.
func (s *Server) currentPair(ctx context.Context, g *grant, param string) (*tokenResponse, *oauthError) {
	rt, err := s.keys.open(g.CurrentSealed, "refresh:"+g.ID)
	if err != nil {
		return nil, s.grantError(err)
	}
	if len(g.CurrentAccessSealed) > 0 && strings.TrimSpace(param) == "" {
		at, err := s.keys.open(g.CurrentAccessSealed, "access:"+g.ID)
		var ar accessRecord
		if err == nil && s.getJSON(ctx, kindAccess, g.AccessHash, &ar) == nil {
			if left := ar.ExpiresAt.Sub(s.now()); left >= s.cfg.AccessTokenTTL/2 {
				// A revocation since the grant was read must not be
				// answered with tokens that no longer work.
				if _, err := s.cfg.Store.Get(ctx, kindGrant, g.ID); err != nil {
					return nil, s.grantError(storeGone(err))
				}
				scope := ar.Scope
				if scope == "" {
					scope = strings.Join(g.Identity.Scopes, " ")
				}
				return &tokenResponse{
					AccessToken: string(at), TokenType: "Bearer", ExpiresIn: int64(left / time.Second),
					RefreshToken: string(rt), Scope: scope,
				}, nil
			}
		}
	}
	access := newToken(prefixAccessToken)
	var evicted string
	var narrow []string
	updated, err := s.updateGrant(ctx, g.ID, func(cur *grant) error {
		var e *oauthError
		if narrow, e = s.narrowScope(param, cur, &cur.Identity); e != nil {
			return e
		}
		evicted = cur.pushAccess(hashToken(access))
		cur.CurrentAccessSealed = s.keys.seal([]byte(access), "access:"+cur.ID)
		return nil
	})
	if err != nil {
		return nil, s.grantError(err)
	}
	return s.issueTokens(ctx, updated, access, evicted, string(rt), narrow)
}

// replaceUndelivered answers the previous refresh token after the grace
// period, while its successor has never been presented: the successor may
// never have reached the client (a crash between storing the rotation and
// answering it). A new pair replaces the current one; the replaced refresh
// token joins the spent ones, so that whoever holds it is caught as a
// reuser when they present it, and the replaced access token is deleted.
// The previous refresh token stays the previous one, so a client that loses
// this answer too can present it again.
func (s *Server) replaceUndelivered(ctx context.Context, g *grant, h, param string) (*tokenResponse, *oauthError) {
	now := s.now()
	next, access := newToken(prefixRefreshToken), newToken(prefixAccessToken)
	var evictedAccess string
	var evictedRefresh []string
	var narrow []string
	updated, err := s.updateGrant(ctx, g.ID, func(cur *grant) error {
		if cur.PrevRefreshHash != h || cur.RefreshHash != g.RefreshHash {
			return errInvalidGrant("refresh token was rotated concurrently; retry")
		}
		var e *oauthError
		if narrow, e = s.narrowScope(param, cur, &cur.Identity); e != nil {
			return e
		}
		evictedRefresh = cur.pushSpent(cur.RefreshHash)
		evictedAccess = cur.AccessHash
		cur.AccessHash = hashToken(access)
		cur.CurrentAccessSealed = s.keys.seal([]byte(access), "access:"+cur.ID)
		cur.RefreshHash = hashToken(next)
		cur.CurrentSealed = s.keys.seal([]byte(next), "refresh:"+cur.ID)
		cur.PrevRefreshUntil = now.Add(s.cfg.RefreshGrace)
		cur.ExpiresAt = now.Add(s.cfg.RefreshTokenTTL)
		return nil
	})
	if err != nil {
		return nil, s.grantError(err)
	}
	s.log.Info("oauth: previous refresh token presented after the grace period and its successor never used; replacing the successor",
		"client_id", g.ClientID, "grant", g.ID)
	s.dropRefresh(ctx, evictedRefresh)
	return s.issueTokens(ctx, updated, access, evictedAccess, next, narrow)
}

// rotate renews the upstream session and then rotates the grant's refresh
// token (the current one, hash h, was presented). It sets *revoke when the
// grant must end.
//
// Upstream refresh tokens are single use (WorkOS: "Refresh tokens may only
// be used once"), so whatever the provider returned is stored before the
// client hears anything, and a retry is advised only where one can work:
//
//   - provider unreachable or 5xx: nothing was spent; retry.
//   - renewed but not verifiable yet (ErrUpstreamUnverified): the new
//     upstream tokens are stored, our refresh token is not rotated; the
//     retry renews with the stored upstream token.
//   - request sent, no answer in time (ErrUpstreamUnanswered): the
//     provider may or may not have renewed the session. The grant is marked
//     and the answer says both outcomes; if the retry then finds the
//     upstream token spent, the grant ends with that explanation.
//   - answer refused on verification (ErrUpstreamInvalid) or session ended
//     (ErrUpstreamRevoked): the grant ends.
//
// The provider call is detached from the client's request: a client hanging
// up must not abort a renewal halfway, after the provider spent the
// upstream token and before we stored its successor.
func (s *Server) rotate(ctx context.Context, g *grant, h, param string, revoke *bool) (*tokenResponse, *oauthError) {
	now := s.now()
	sess, err := s.openUpstream(g)
	if err != nil {
		return nil, s.grantError(err)
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ProviderTimeout)
	fresh, err := s.cfg.Provider.Refresh(pctx, sess)
	cancel()
	if err == nil && (fresh == nil || fresh.Identity.Subject == "") {
		err = errors.New("provider returned no subject")
	}
	if err != nil {
		return s.upstreamFailed(ctx, g, h, sess, fresh, err, revoke)
	}
	old := g.Identity
	newID := fresh.Identity
	newID.ClientID, newID.GrantID, newID.Resource = g.ClientID, g.ID, g.Resource
	next, access := newToken(prefixRefreshToken), newToken(prefixAccessToken)
	var evictedAccess string
	var evictedRefresh []string
	var narrow []string
	updated, err := s.updateGrant(ctx, g.ID, func(cur *grant) error {
		if cur.RefreshHash != h {
			return errInvalidGrant("refresh token was rotated concurrently; retry")
		}
		if len(s.cfg.Scopes) > 0 {
			// Re-narrowed to today's permissions, within what the person
			// approved (a grant from before scopes approved everything).
			approved := s.approvedOf(cur)
			cur.Scope = strings.Join(approved, " ")
			newID.Scopes = s.permitted(approved, &newID)
		}
		// The upstream session has rotated already, so nothing may fail
		// here: a request narrowed to scopes the permissions no longer
		// allow gets the grant's scopes, as the response says.
		narrow, _ = s.narrowScope(param, cur, &newID)
		evictedRefresh = cur.pushSpent(cur.PrevRefreshHash)
		cur.PrevRefreshHash, cur.PrevRefreshUntil = cur.RefreshHash, now.Add(s.cfg.RefreshGrace)
		evictedAccess = cur.setCurrent(s.keys, access, next)
		cur.Identity = newID
		cur.ExpiresAt = now.Add(s.cfg.RefreshTokenTTL)
		cur.UpstreamInDoubt = time.Time{}
		return s.sealUpstream(cur, fresh)
	})
	if err != nil {
		return nil, s.grantError(err)
	}
	s.cache.setIdentity(g.ID, &updated.Identity)
	s.dropRefresh(ctx, evictedRefresh)
	// The token just presented is now the previous one, which may have to
	// serve a client that never receives this answer, however long until
	// it is back (see refresh): its record lives as long as the grant.
	rr := refreshRecord{GrantID: g.ID, ClientID: g.ClientID}
	if err := s.putJSON(ctx, kindRefresh, h, &rr, now.Add(s.cfg.RefreshTokenTTL)); err != nil {
		s.log.Warn("oauth: extending the previous refresh token's record", "grant", g.ID, "err", err)
	}
	if identityChanged(&old, &newID) {
		s.log.Info("oauth: identity changed on refresh", "grant", g.ID, "sub", newID.Subject)
		if s.cfg.OnGrantIdentityChanged != nil {
			s.cfg.OnGrantIdentityChanged(old, newID)
		}
	}
	return s.issueTokens(ctx, updated, access, evictedAccess, next, narrow)
}

// upstreamFailed answers a failed upstream renewal; see rotate.
func (s *Server) upstreamFailed(ctx context.Context, g *grant, h string, sess, fresh *UpstreamSession, err error, revoke *bool) (*tokenResponse, *oauthError) {
	wait := s.cfg.ProviderTimeout.String()
	switch {
	case errors.Is(err, ErrUpstreamUnverified) && fresh != nil && fresh.RefreshToken != "":
		// Keep the renewed upstream tokens under the identity we trust.
		kept := *sess
		kept.AccessToken, kept.RefreshToken = fresh.AccessToken, fresh.RefreshToken
		if _, uerr := s.updateGrant(ctx, g.ID, func(cur *grant) error {
			if cur.RefreshHash != h {
				return errInvalidGrant("refresh token was rotated concurrently; retry")
			}
			cur.UpstreamInDoubt = time.Time{}
			return s.sealUpstream(cur, &kept)
		}); uerr != nil {
			return nil, s.grantError(uerr)
		}
		s.log.Warn("oauth: upstream renewed the session but its answer could not be verified yet; kept it for a retry", "grant", g.ID, "err", err)
		return nil, &oauthError{http.StatusServiceUnavailable, "temporarily_unavailable",
			"the identity provider renewed the sign-in session but its signing keys could not be fetched to verify it; the renewal is kept: retry shortly with the same refresh token"}
	case errors.Is(err, ErrUpstreamUnanswered):
		if _, uerr := s.updateGrant(ctx, g.ID, func(cur *grant) error {
			cur.UpstreamInDoubt = s.now()
			return nil
		}); uerr != nil {
			return nil, s.grantError(uerr)
		}
		s.log.Warn("oauth: upstream received the refresh but did not answer in time", "grant", g.ID, "err", err)
		return nil, &oauthError{http.StatusServiceUnavailable, "temporarily_unavailable",
			"the identity provider received the session renewal but its answer did not arrive (waited at most " + wait + ")" +
				". If it never carried it out, a retry with the same refresh token works; if it did, its answer is lost with the single-use upstream token in it, and the retry ends this grant: then authorize again"}
	case errors.Is(err, ErrUpstreamRevoked):
		*revoke = true
		if !g.UpstreamInDoubt.IsZero() {
			s.log.Info("oauth: upstream refresh token spent by an unanswered renewal; revoking grant", "grant", g.ID)
			return nil, errInvalidGrant("the identity provider renewed the sign-in session in an earlier attempt whose answer never arrived; its refresh tokens are single use, so this session cannot be renewed: authorize again")
		}
		s.log.Info("oauth: upstream session ended; revoking grant", "grant", g.ID)
		return nil, errInvalidGrant("the sign-in session ended upstream; authorize again")
	case errors.Is(err, ErrUpstreamInvalid):
		*revoke = true
		s.log.Warn("oauth: upstream answer failed verification; revoking grant", "grant", g.ID, "err", err)
		return nil, errInvalidGrant("the identity provider answered the session renewal with a token that failed verification; the grant is ended: authorize again")
	}
	s.log.Warn("oauth: upstream refresh failed", "grant", g.ID, "err", err)
	return nil, &oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "the identity provider could not be reached; retry shortly with the same refresh token"}
}

func stripe(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % 64)
}

// identityChanged reports a change that affects what the user may do:
// subject, organization, role or the set of permissions.
func identityChanged(a, b *Identity) bool {
	if a.Subject != b.Subject || a.OrganizationID != b.OrganizationID || a.Role != b.Role ||
		(a.Scopes == nil) != (b.Scopes == nil) || !slices.Equal(a.Scopes, b.Scopes) {
		return true
	}
	pa, pb := slices.Clone(a.Permissions), slices.Clone(b.Permissions)
	slices.Sort(pa)
	slices.Sort(pb)
	return !slices.Equal(slices.Compact(pa), slices.Compact(pb))
}

// handleRevoke is token revocation, RFC 7009 s2.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, e := s.readTokenForm(w, r)
	if e != nil {
		writeJSONError(w, e)
		return
	}
	client, basic, e := s.authenticateClient(r.Context(), r, form)
	if e != nil {
		s.clientError(w, e, basic)
		return
	}
	tok := form.Get("token")
	if tok == "" {
		writeJSONError(w, errInvalidRequest("token is required"))
		return
	}
	ctx := r.Context()
	h := hashToken(tok)
	tryAccess := func() bool {
		var ar accessRecord
		if s.getJSON(ctx, kindAccess, h, &ar) != nil {
			return false
		}
		// RFC 7009 s2.1: only the client the token was issued to may
		// revoke it; for anyone else we answer as for an unknown token, so
		// the response reveals nothing.
		if ar.ClientID == client.ClientID {
			s.dropAccess(ctx, h)
		}
		return true
	}
	tryRefresh := func() bool {
		var rr refreshRecord
		if s.getJSON(ctx, kindRefresh, h, &rr) != nil {
			return false
		}
		if rr.ClientID == client.ClientID {
			// RFC 7009 s2.1: revoking a refresh token revokes the grant
			// and the access tokens issued from it.
			s.RevokeGrant(ctx, rr.GrantID)
		}
		return true
	}
	// token_type_hint only orders the lookups (RFC 7009 s2.1).
	if form.Get("token_type_hint") == "refresh_token" {
		_ = tryRefresh() || tryAccess()
	} else {
		_ = tryAccess() || tryRefresh()
	}
	// RFC 7009 s2.2: 200 whether or not the token was known.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// RevokeGrant revokes a grant and everything issued from it: its refresh
// tokens, access tokens and any unredeemed code stop working at once, and
// Config.OnGrantRevoked is told. The upstream session is ended too, best
// effort (a failure there is logged, not returned). Revoking an unknown or
// already revoked grant is not an error, and calls no hook.
func (s *Server) RevokeGrant(ctx context.Context, grantID string) error {
	after, err := s.revokeGrant(ctx, grantID)
	after()
	return err
}

// revokeGrant deletes the grant and marks its cached tokens revoked. It
// returns the rest, for the caller to run once it holds no lock: tell
// Config.OnGrantRevoked, then end the upstream session (a network call).
func (s *Server) revokeGrant(ctx context.Context, grantID string) (after func(), err error) {
	nothing := func() {}
	old, err := s.takeBytes(ctx, kindGrant, grantID)
	s.cache.revokeGrant(grantID)
	if err != nil {
		return nothing, fmt.Errorf("oauth: revoking grant %s: %w", grantID, err)
	}
	if old == nil {
		return nothing, nil
	}
	var g grant
	if err := unmarshalRecord(old, &g); err != nil {
		// Gone all the same: whatever its tokens opened must end.
		g = grant{ID: grantID}
	}
	s.log.Info("oauth: grant revoked", "grant", grantID, "client_id", g.ClientID, "sub", g.Identity.Subject)
	// The grant is gone, so its tokens are refused already; deleting their
	// records only frees the space.
	access, refresh := g.tokenHashes()
	for _, h := range access {
		s.dropAccess(ctx, h)
	}
	s.dropRefresh(ctx, refresh)
	return func() {
		id := g.Identity
		id.ClientID, id.GrantID = g.ClientID, grantID
		if s.cfg.OnGrantRevoked != nil {
			s.cfg.OnGrantRevoked(id)
		}
		s.emit(ctx, nil, Event{Kind: EventGrantRevoked, Identity: &id, ClientID: g.ClientID, GrantID: grantID})
		if g.Upstream == nil {
			return
		}
		sess, err := s.openUpstream(&g)
		if err != nil {
			return
		}
		// Detached from the request: a client hanging up must not cut the
		// upstream revocation short.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ProviderTimeout)
		defer cancel()
		if err := s.cfg.Provider.Revoke(rctx, sess); err != nil {
			s.log.Warn("oauth: upstream revoke failed", "grant", grantID, "err", err)
		}
	}, nil
}
