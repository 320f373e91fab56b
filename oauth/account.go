package oauth

// The account page (/account): a person signs in with the same upstream
// (AuthKit) through the same /callback, in a session of its own (a cookie
// MACed with a key derived from the server secret), and sees the MCP
// clients they connected: the client's self-declared name, where it
// returns to, when it was connected and last given tokens, the
// permissions it carries. Revoking one ends its tokens, its MCP sessions
// and its streams at once (RevokeGrant, Config.OnGrantRevoked).
//
// A person sees only grants whose identity is theirs: the page reads an
// index of grant ids by user (kindUserGrants) and checks each grant's
// subject again. Revocation is a POST carrying a CSRF token bound to the
// account session, accepted only from our own origin.

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

const (
	cookieAccount     = "mcp_account"
	accountSessionTTL = time.Hour
	maxAccountForm    = 4 << 10
	// kindUserGrants indexes grant ids by user subject, for the account
	// page; the store has no other way to find a person's grants.
	kindUserGrants = "user_grants"
	// maxUserGrants bounds one user's index: past it the oldest entries
	// go (their grants still work, and still end at their expiry, but the
	// page no longer lists them).
	maxUserGrants = 200
)

// accountSession is the signed-in person on the account page, carried in
// a cookie: payload "." MAC.
type accountSession struct {
	Subject string `json:"sub"`
	Email   string `json:"email,omitempty"`
	Nonce   string `json:"n"` // the CSRF tokens of this session's forms are bound to it
	Expires int64  `json:"exp"`
}

// accountKey MACs account session cookies and their CSRF tokens: derived
// from the secret for this purpose only, so nothing MACed for another
// purpose is accepted here.
func (s *Server) accountKey() []byte {
	k, _ := hkdf.Key(sha256.New, s.cfg.Secret, nil, "remote-mcp-authkit oauth account session v1", 32)
	return k
}

func (s *Server) readAccountSession(r *http.Request) *accountSession {
	c, err := r.Cookie(s.cookieName(cookieAccount))
	if err != nil || len(c.Value) > 2048 {
		return nil
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok || !macEqual(sig, mac(s.accountKey(), "session", payload)) {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil
	}
	var sess accountSession
	if json.Unmarshal(b, &sess) != nil || sess.Subject == "" || s.now().Unix() >= sess.Expires {
		return nil
	}
	return &sess
}

func (s *Server) writeAccountSession(w http.ResponseWriter, sess *accountSession) {
	b, _ := json.Marshal(sess)
	payload := base64.RawURLEncoding.EncodeToString(b)
	s.setCookie(w, cookieAccount, payload+"."+mac(s.accountKey(), "session", payload), s.path("/account"), accountSessionTTL)
}

func (s *Server) accountCSRF(sess *accountSession) string {
	return mac(s.accountKey(), "csrf", sess.Subject, sess.Nonce)
}

// handleAccount serves GET /account: the page for a signed-in person, or
// a sign-in with the upstream provider for anyone else.
func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	sess := s.readAccountSession(r)
	if sess == nil {
		s.startAccountSignIn(w, r)
		return
	}
	grants, err := s.userGrants(r.Context(), sess.Subject)
	if err != nil {
		s.log.Error("oauth: account page: listing grants", "err", err)
		s.showError(w, http.StatusServiceUnavailable, "Try again shortly", "Your connected applications could not be read.", "Reload this page in a moment.")
		return
	}
	data := accountData{Service: s.cfg.ServiceName, Email: sess.Email, CSRF: s.accountCSRF(sess),
		RevokeAction: s.path("/account/revoke"), SignOutAction: s.path("/account/signout"), Done: r.URL.Query().Get("revoked") == "1"}
	if data.Email == "" {
		data.Email = sess.Subject
	}
	for _, g := range grants {
		row := accountGrant{ID: g.ID, ClientName: g.ClientName, RedirectURI: g.RedirectURI, Scope: g.Scope,
			Connected: g.CreatedAt.UTC().Format("2006-01-02 15:04 MST"), Permissions: g.Identity.Permissions}
		last := g.ExpiresAt.Add(-s.cfg.RefreshTokenTTL)
		if last.Before(g.CreatedAt) {
			last = g.CreatedAt
		}
		row.LastUsed = last.UTC().Format("2006-01-02 15:04 MST")
		if row.ClientName == "" || row.RedirectURI == "" {
			// A grant made before these were recorded: the registered
			// client's, from the store only (never a metadata fetch).
			var c Client
			if s.getJSON(r.Context(), kindClient, g.ClientID, &c) == nil {
				row.ClientName = cmp(row.ClientName, c.ClientName)
				if row.RedirectURI == "" && len(c.RedirectURIs) > 0 {
					row.RedirectURI = c.RedirectURIs[0]
				}
			}
			row.ClientName = cmp(row.ClientName, g.ClientID)
		}
		data.Grants = append(data.Grants, row)
	}
	pageHeaders(w)
	accountPage.Execute(w, data)
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// handleAccountRevoke serves POST /account/revoke: the person ends one of
// their grants.
func (s *Server) handleAccountRevoke(w http.ResponseWriter, r *http.Request) {
	const refused = "This request did not come from your account page in this browser, so it was ignored."
	const back = "Open the account page again and retry."
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	if err := s.sameOrigin(r); err != nil {
		s.showError(w, http.StatusForbidden, "Request refused", refused, back)
		return
	}
	sess := s.readAccountSession(r)
	if sess == nil {
		s.showError(w, http.StatusForbidden, "Signed out", "Your account page session ended.", back)
		return
	}
	r.Body = limitedBody(w, r, maxAccountForm)
	if err := r.ParseForm(); err != nil {
		s.showError(w, http.StatusBadRequest, "Malformed form", "The form could not be read.", back)
		return
	}
	if !macEqual(r.PostForm.Get("csrf_token"), s.accountCSRF(sess)) {
		s.showError(w, http.StatusForbidden, "Request refused", refused, back)
		return
	}
	id := r.PostForm.Get("grant_id")
	var g grant
	err := s.getJSON(r.Context(), kindGrant, id, &g)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && g.Identity.Subject != sess.Subject):
		// Someone else's grant answers as an absent one: the page reveals
		// nothing about grants that are not yours.
		s.showError(w, http.StatusNotFound, "Not found", "That application is not connected to your account (any more).", back)
		return
	case err != nil:
		s.log.Error("oauth: account page: reading grant", "err", err)
		s.showError(w, http.StatusServiceUnavailable, "Try again shortly", "The application could not be disconnected.", back)
		return
	}
	if err := s.RevokeGrant(r.Context(), id); err != nil {
		s.log.Error("oauth: account page: revoking grant", "grant", id, "err", err)
		s.showError(w, http.StatusServiceUnavailable, "Try again shortly", "The application could not be disconnected.", back)
		return
	}
	s.log.Info("oauth: grant revoked from the account page", "grant", id, "client_id", g.ClientID, "sub", sess.Subject)
	http.Redirect(w, r, s.path("/account")+"?revoked=1", http.StatusSeeOther)
}

// handleAccountSignOut serves POST /account/signout.
func (s *Server) handleAccountSignOut(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	sess := s.readAccountSession(r)
	if s.sameOrigin(r) != nil || sess == nil || r.ParseForm() != nil || !macEqual(r.PostForm.Get("csrf_token"), s.accountCSRF(sess)) {
		s.showError(w, http.StatusForbidden, "Request refused", "This request did not come from your account page in this browser, so it was ignored.", "")
		return
	}
	s.setCookie(w, cookieAccount, "", s.path("/account"), -1)
	s.showError(w, http.StatusOK, "Signed out", "You are signed out of the account page.", "")
}

// startAccountSignIn sends the browser to the upstream provider as
// startUpstream does for a client, with the record marked for the account
// page so that /callback signs the person in here instead of issuing a
// code. The same per-address limit as /authorize applies: each stores a
// record.
func (s *Server) startAccountSignIn(w http.ResponseWriter, r *http.Request) {
	if ok, _ := s.authzLim.allow(rateKey(r)); !ok {
		s.emit(r.Context(), r, Event{Kind: EventRateLimited, Endpoint: "account"})
		w.Header().Set("Retry-After", "1")
		s.showError(w, http.StatusTooManyRequests, "Too many requests", "This browser or network sent too many sign-in requests.", "Wait a minute, then try again.")
		return
	}
	state := newToken("")
	verifier := newToken("")
	key := hashToken(state)
	rec := upstreamRecord{Account: true, Verifier: s.keys.seal([]byte(verifier), "upstream:"+key)}
	if err := s.putJSON(r.Context(), kindUpstream, key, &rec, s.now().Add(pendingTTL)); err != nil {
		s.log.Error("oauth: storing upstream state", "err", err)
		s.showError(w, http.StatusServiceUnavailable, "Try again shortly", "The sign-in could not be started.", "Reload this page in a moment.")
		return
	}
	target, err := s.cfg.Provider.AuthorizationURL(state, s256(verifier), s.endpoint("/callback"))
	if err != nil {
		s.log.Error("oauth: provider authorization URL", "err", err)
		s.showError(w, http.StatusInternalServerError, "Sign-in unavailable", "The identity provider is misconfigured.", "")
		return
	}
	s.setCookie(w, cookieState+key[:16], mac(s.keys.binding, state), s.path("/callback"), pendingTTL)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, target, http.StatusFound)
}

// finishAccountSignIn is /callback for an account page sign-in: the
// upstream code is exchanged and verified as for a client, and the person
// gets an account session (no grant, no code).
func (s *Server) finishAccountSignIn(w http.ResponseWriter, r *http.Request, q url.Values, rec *upstreamRecord, key string) {
	const again = "Open the account page again to sign in."
	if e := q.Get("error"); e != "" {
		s.showError(w, http.StatusBadRequest, "Sign-in cancelled", "The identity provider did not sign you in.", again)
		return
	}
	code := q.Get("code")
	verifier, err := s.keys.open(rec.Verifier, "upstream:"+key)
	if code == "" || err != nil {
		s.showError(w, http.StatusBadRequest, "Sign-in failed", "The sign-in response was incomplete.", again)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ProviderTimeout)
	sess, err := s.cfg.Provider.Exchange(ctx, code, string(verifier))
	cancel()
	if err != nil || sess == nil || sess.Identity.Subject == "" {
		s.log.Warn("oauth: account page: upstream code exchange failed", "err", err)
		s.showError(w, http.StatusBadGateway, "Sign-in failed", "Sign-in with the identity provider failed.", again)
		return
	}
	id := sess.Identity
	// The page needs the person's identity once, and keeps its own
	// session (a sealed cookie): the upstream session this sign-in opened
	// would only linger at the provider, a credential nobody uses, so it
	// is ended now (best effort, as a grant's is when it is revoked).
	rctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.ProviderTimeout)
	if err := s.cfg.Provider.Revoke(rctx, sess); err != nil {
		s.log.Warn("oauth: account page: ending the upstream session failed", "err", err)
	}
	cancel()
	s.writeAccountSession(w, &accountSession{Subject: id.Subject, Email: id.Email, Nonce: newToken(""), Expires: s.now().Add(accountSessionTTL).Unix()})
	s.emit(r.Context(), r, Event{Kind: EventAccountSignedIn, Identity: &id})
	http.Redirect(w, r, s.path("/account"), http.StatusSeeOther)
}

// indexGrant adds a grant to its user's index, dropping the oldest entries
// past maxUserGrants. The index has no expiry; entries of grants that are
// gone are pruned when the page reads it.
func (s *Server) indexGrant(ctx context.Context, sub, grantID string) error {
	return s.cfg.Store.Update(ctx, kindUserGrants, sub, func(cur []byte) ([]byte, time.Time, error) {
		var ids []string
		if cur != nil {
			json.Unmarshal(cur, &ids)
		}
		ids = append(ids, grantID)
		if n := len(ids) - maxUserGrants; n > 0 {
			ids = ids[n:]
		}
		b, err := json.Marshal(ids)
		return b, time.Time{}, err
	})
}

// userGrants returns the live grants of sub, newest first, and prunes the
// index of grants that are gone.
func (s *Server) userGrants(ctx context.Context, sub string) ([]grant, error) {
	b, err := s.cfg.Store.Get(ctx, kindUserGrants, sub)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := json.Unmarshal(b, &ids); err != nil {
		return nil, err
	}
	var out []grant
	var gone []string
	for _, id := range ids {
		var g grant
		err := s.getJSON(ctx, kindGrant, id, &g)
		switch {
		case errors.Is(err, ErrNotFound):
			gone = append(gone, id)
		case err != nil:
			return nil, err
		case g.Identity.Subject == sub:
			out = append(out, g)
		}
	}
	if len(gone) > 0 {
		s.cfg.Store.Update(ctx, kindUserGrants, sub, func(cur []byte) ([]byte, time.Time, error) {
			var ids []string
			json.Unmarshal(cur, &ids)
			ids = slices.DeleteFunc(ids, func(id string) bool { return slices.Contains(gone, id) })
			if len(ids) == 0 {
				return nil, time.Time{}, nil
			}
			b, err := json.Marshal(ids)
			return b, time.Time{}, err
		})
	}
	slices.Reverse(out)
	return out, nil
}

type accountGrant struct {
	ID, ClientName, RedirectURI, Connected, LastUsed, Scope string
	Permissions                                             []string
}

type accountData struct {
	Service, Email, CSRF, RevokeAction, SignOutAction string
	Grants                                            []accountGrant
	Done                                              bool
}

var accountPage = template.Must(template.New("account").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connected applications · {{.Service}}</title><style>` + pageStyle + `
.grant{margin:1rem 0}.grant form{margin-top:.75rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .75rem;margin:0}dt{color:#666}dd{margin:0}.signout{margin-top:1rem}</style></head>
<body><h1>Applications connected to {{.Service}}</h1>
<p class="muted">Signed in as <strong><bdi>{{.Email}}</bdi></strong>.</p>
{{if .Done}}<p id="revoked"><strong>Disconnected.</strong> Its tokens no longer work, and its open sessions have ended.</p>{{end}}
{{range .Grants}}<div class="box grant" data-grant="{{.ID}}">
<p><strong><bdi>{{.ClientName}}</bdi></strong> <span class="muted">(self-declared: the application chose this name; this server has not verified it)</span></p>
<dl><dt>Returns to</dt><dd><code><bdi>{{.RedirectURI}}</bdi></code></dd>
<dt>Connected</dt><dd>{{.Connected}}</dd>
<dt>Last given tokens</dt><dd>{{.LastUsed}}</dd>
<dt>Permissions</dt><dd>{{range $i, $p := .Permissions}}{{if $i}}, {{end}}<code>{{$p}}</code>{{else}}none{{end}}</dd>
{{if .Scope}}<dt>Scopes approved</dt><dd><code>{{.Scope}}</code></dd>{{end}}</dl>
<form method="post" action="{{$.RevokeAction}}"><input type="hidden" name="csrf_token" value="{{$.CSRF}}"><input type="hidden" name="grant_id" value="{{.ID}}">
<button type="submit">Revoke access</button></form></div>
{{else}}<div class="box"><p id="none">No applications are connected to your account.</p></div>{{end}}
<form class="signout" method="post" action="{{.SignOutAction}}"><input type="hidden" name="csrf_token" value="{{.CSRF}}"><button type="submit">Sign out</button></form>
</body></html>`))
