package oauth

// The authorization endpoint (RFC 6749 s4.1.1, OAuth 2.1 s4.1.1), the
// consent step, and the callback from the upstream identity provider.
//
// A request travels: GET /authorize (validated, stored as a pending
// authorization) -> consent page -> POST /authorize (CSRF checked) ->
// upstream sign-in with our own state and PKCE -> GET /callback (state and
// browser binding checked, code exchanged upstream) -> a grant and a one-time
// code -> the client's redirect URI with code, state and iss.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	pendingTTL       = 10 * time.Minute // consent and upstream sign-in must finish within this
	maxQueryLen      = 8 << 10
	maxStateLen      = 1024
	maxConsentForm   = 8 << 10
	cookieBrowser    = "mcp_browser_" // + hash prefix of the pending id: the nonce its CSRF token is bound to
	cookieState      = "mcp_state_"   // + hash prefix of our upstream state
	cookieConsent    = "mcp_consent_"
	maxProviderError = 200
)

// authRequest is a validated authorization request, kept server-side while
// the user consents and signs in.
type authRequest struct {
	ClientID      string `json:"client_id"`
	ClientName    string `json:"client_name,omitempty"`
	RedirectURI   string `json:"redirect_uri"`          // as sent; "" if omitted
	ResolvedURI   string `json:"resolved_redirect_uri"` // where responses go
	State         string `json:"state,omitempty"`
	CodeChallenge string `json:"code_challenge"`
	Resource      string `json:"resource"`
	// Scope is what the client asked for until the person decides, then
	// what the person approved (RFC 6749 s3.3), space separated.
	Scope string `json:"scope,omitempty"`
	// Known are the requested scopes this browser approved for the client
	// before: the consent page asks only about the others.
	Known string `json:"known,omitempty"`
	// Consented is set when the person approved the client on the consent
	// page (not when a remembered approval skipped it), so that the
	// sign-in that follows can record the consent with who gave it.
	Consented bool `json:"consented,omitempty"`
}

// upstreamRecord waits, under the hash of our upstream state, for the
// provider to send the browser to /callback.
type upstreamRecord struct {
	Request  authRequest `json:"request"`
	Verifier []byte      `json:"verifier"` // sealed upstream PKCE verifier
	// Account marks a sign-in to the account page (account.go), which
	// has no client request.
	Account bool `json:"account,omitempty"`
}

// cookieName adds the __Host- prefix (RFC 6265bis s4.1.3.2) when we are
// served over https: the browser then accepts the cookie only from this
// exact host, Secure, with Path=/ and no Domain, so neither plain http nor
// a sibling subdomain can plant a consent, nonce or state cookie (MCP
// 2025-11-25 security best practices, "Consent Cookie Security": MUST).
func (s *Server) cookieName(name string) string {
	if s.secure {
		return "__Host-" + name
	}
	return name
}

// setCookie sets one of our cookies. Over https path is ignored: the
// __Host- prefix requires Path=/.
func (s *Server) setCookie(w http.ResponseWriter, name, value, path string, maxAge time.Duration) {
	if s.secure {
		path = "/"
	}
	secs := int(maxAge.Seconds())
	if maxAge < 0 {
		secs = -1 // http.Cookie: delete now (Max-Age=0); 0 would mean no Max-Age at all
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(name), Value: value, Path: path, MaxAge: secs,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// path is p under the issuer's path: where Handler serves endpoint p, and
// the cookie path and form action that must name it.
func (s *Server) path(p string) string { return strings.TrimSuffix(s.issuer.EscapedPath(), "/") + p }

func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.authorizationRequest(w, r)
	case http.MethodPost:
		s.consentDecision(w, r)
	default:
		methodNotAllowed(w, "GET, POST")
	}
}

// authorizationRequest implements RFC 6749 s4.1.1 / OAuth 2.1 s4.1.1 with
// PKCE (RFC 7636 s4.3) and resource indicators (RFC 8707 s2).
func (s *Server) authorizationRequest(w http.ResponseWriter, r *http.Request) {
	const restart = "Go back to your MCP client and connect again."
	if ok, retry := s.authzLim.allow(rateKey(r)); !ok {
		s.emit(r.Context(), r, Event{Kind: EventRateLimited, Endpoint: "authorize"})
		w.Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())+1))
		s.showError(w, http.StatusTooManyRequests, "Too many requests", "This browser or network sent too many sign-in requests.", "Wait a minute, then try again.")
		return
	}
	if len(r.URL.RawQuery) > maxQueryLen {
		s.showError(w, http.StatusBadRequest, "Request too large", "The authorization request is longer than this server accepts.", restart)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.showError(w, http.StatusBadRequest, "Malformed request", "The authorization request could not be read.", restart)
		return
	}
	// RFC 6749 s4.1.2.1: if the client or redirect URI is in doubt, tell
	// the user, never redirect.
	if len(q["client_id"]) != 1 || len(q["redirect_uri"]) > 1 {
		s.showError(w, http.StatusBadRequest, "Invalid request", "The request must carry exactly one client_id and at most one redirect_uri.", restart)
		return
	}
	client, err := s.lookupClient(r.Context(), q.Get("client_id"))
	if err != nil {
		var oe *oauthError
		switch {
		case errors.Is(err, ErrNotFound):
			s.showError(w, http.StatusBadRequest, "Unknown application",
				"The application that sent you here is not registered with this server (or its registration was removed).",
				"Reconnect the server in your MCP client so that it registers again.")
		case errors.As(err, &oe):
			// The description quotes the client_id and the document, both
			// anyone's to choose: it goes to our log, and the page says only
			// what happened, in our words.
			s.log.Warn("oauth: client metadata document refused", "err", oe.description)
			s.showError(w, http.StatusBadRequest, "Application metadata is invalid",
				"The application identifies itself with a client metadata document that this server could not fetch or accept, so it cannot tell who the application is.",
				"Tell the application's developer; this server's log has the details.")
		default:
			s.log.Error("oauth: client lookup", "err", err)
			s.showError(w, http.StatusServiceUnavailable, "Temporarily unavailable", "The server could not look up the application.", "Try again in a minute.")
		}
		return
	}
	redirectURI := q.Get("redirect_uri")
	resolved := redirectURI
	if redirectURI == "" {
		// OAuth 2.1 s4.1.1: optional only when exactly one is registered.
		if len(client.RedirectURIs) != 1 {
			s.showError(w, http.StatusBadRequest, "Missing redirect URI", "The application did not say where to return after sign-in.", "Tell the application's developer: redirect_uri is required.")
			return
		}
		resolved = client.RedirectURIs[0]
	} else if !matchRedirectURI(client.RedirectURIs, redirectURI) {
		// The address is not repeated: it is anyone's text, and on our
		// page it would read as ours.
		s.showError(w, http.StatusBadRequest, "Redirect URI not registered",
			"The application asked to return to an address it did not register, so this server will not send you there.",
			"If you did not expect this, close this page. Otherwise reconnect the server in your MCP client.")
		return
	}
	if err := validateRedirectURI(resolved); err != nil {
		// Registered before today's rules refused its scheme.
		s.showError(w, http.StatusBadRequest, "Redirect URI not allowed",
			"The application registered an address to return to that this server no longer sends anyone to.",
			"Reconnect the server in your MCP client so that it registers again.")
		return
	}

	// MCP 2025-11-25 "Localhost Redirect URI Risks": anyone can name a
	// metadata document URL as client_id and listen on a loopback port, or
	// claim a private-use scheme just as easily, so for such a client the
	// consent page always shows, with a warning.
	localDoc := client.MetadataDocument && isLocalRedirect(resolved)
	// RFC 9700 s4.11.2: anyone can register a client a second before and
	// send a broken request, to use this server's origin as a redirector to
	// their page. Errors go back to the client (RFC 6749 s4.1.2.1) only
	// once the person has approved it in this browser; before that they are
	// shown here and the person decides where to go.
	remembered, approved := s.consentScopes(r, client.ClientID)
	approved = approved && !localDoc
	state := q.Get("state")
	fail := func(code, desc string) {
		if approved {
			s.redirectError(w, r, resolved, state, code, desc)
			return
		}
		status := http.StatusBadRequest
		if code == "server_error" {
			status = http.StatusServiceUnavailable
		}
		s.showError(w, status, "The application's request was refused",
			"This server did not accept the application's sign-in request ("+code+": "+desc+"), so nothing happened and nothing was sent back to the application.",
			"Tell the application's developer, or go back to your MCP client and connect again.")
	}
	if len(state) > maxStateLen {
		state = ""
		fail("invalid_request", "state is longer than 1024 bytes")
		return
	}
	for _, p := range []string{"response_type", "state", "code_challenge", "code_challenge_method", "scope"} {
		if len(q[p]) > 1 {
			fail("invalid_request", p+" must not be repeated (RFC 6749 s3.1)")
			return
		}
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		fail("invalid_request", "response_type is required")
		return
	default:
		fail("unsupported_response_type", "only response_type=code is supported")
		return
	}
	// PKCE is required of every client (OAuth 2.1 s4.1.1, MCP
	// "Authorization Code Protection"), and only S256 (RFC 9700 s2.1.1).
	challenge := q.Get("code_challenge")
	switch m := q.Get("code_challenge_method"); {
	case challenge == "":
		fail("invalid_request", "code_challenge is required (PKCE, RFC 7636)")
		return
	case m != "S256":
		fail("invalid_request", "code_challenge_method must be S256")
		return
	case !validChallenge(challenge):
		fail("invalid_request", "code_challenge must be the 43-character base64url SHA-256 of the verifier")
		return
	}
	resource, ok := s.resolveResource(q["resource"])
	if !ok {
		fail("invalid_target", "resource must be one of this server's MCP endpoints: "+strings.Join(s.cfg.Resources, ", "))
		return
	}
	requested, err := s.requestedScopes(q.Get("scope"))
	if err != nil {
		fail("invalid_scope", err.Error())
		return
	}
	req := authRequest{
		ClientID: client.ClientID, ClientName: client.displayName(),
		RedirectURI: redirectURI, ResolvedURI: resolved, State: state,
		CodeChallenge: challenge, Resource: resource, Scope: strings.Join(requested, " "),
	}
	// OpenID Connect Core s3.1.2.1 prompt=consent: the client asks that the
	// user be asked again. The page then shows, still asking only about
	// what is new: clients send prompt=consent with every request that
	// carries offline_access (OpenID Connect Core s11), step-ups included.
	forceConsent := slices.Contains(strings.Fields(q.Get("prompt")), "consent")
	if !approved {
		remembered = nil
	}
	// The approval this browser remembers covers a set of scopes: a client
	// asking for no more than that goes straight on, one asking for more
	// (a step-up) is asked again, about the new scopes only.
	if approved && !forceConsent && subset(requested, remembered) {
		s.startUpstream(w, r, &req)
		return
	}
	known := intersect(requested, remembered)
	req.Known = strings.Join(known, " ")
	pending := newToken("")
	if err := s.putJSON(r.Context(), kindPending, hashToken(pending), &req, s.now().Add(pendingTTL)); err != nil {
		s.log.Error("oauth: storing pending authorization", "err", err)
		fail("server_error", "could not store the authorization request")
		return
	}
	// A fresh nonce for this form alone, never one the request brought: a
	// value planted in this browser (cookies do not keep ports apart, so
	// any local program on plain http can set one) is never adopted, and
	// each tab's form has a cookie of its own.
	nonce := newToken("")
	s.setCookie(w, nonceCookie(pending), nonce, s.path("/authorize"), pendingTTL)
	host := ""
	if client.MetadataDocument {
		if u, err := url.Parse(client.ClientID); err == nil {
			host = stripUnsafe(u.Host) // "%E2%80%AE" in a host parses to U+202E
		}
	}
	data := consentData{
		Service: s.cfg.ServiceName, ClientName: client.displayName(), ClientHost: host,
		RedirectHost: redirectHost(resolved), RedirectURI: resolved, Resource: resource, LocalWarning: localDoc,
		Action: s.path("/authorize"), Pending: pending, CSRF: mac(s.keys.csrf, pending, nonce),
		Known: known,
	}
	for _, n := range requested {
		if slices.Contains(known, n) {
			continue
		}
		sc, _ := s.scope(n)
		data.Scopes = append(data.Scopes, consentScope{Name: n, Description: sc.Description, Fixed: n == ScopeOfflineAccess})
	}
	pageHeaders(w)
	consentPage.Execute(w, data)
}

// isLocalRedirect reports whether uri returns to a program on the
// person's own computer, which any other local program could be: an http
// loopback URI (RFC 8252 s7.3) or a private-use scheme (RFC 8252 s7.1).
// Only https reaches a host that DNS and TLS vouch for.
func isLocalRedirect(uri string) bool {
	u, err := url.Parse(uri)
	return err != nil || !strings.EqualFold(u.Scheme, "https")
}

// nonceCookie names the cookie holding the CSRF nonce of one pending
// authorization.
func nonceCookie(pending string) string { return cookieBrowser + hashToken(pending)[:16] }

// sameOrigin refuses a state-changing request that a browser sent from
// another origin (Fetch Metadata Sec-Fetch-Site, else Origin), with the
// standard library's check. Our issuer's origin is trusted by name, so
// the check holds behind a proxy that rewrites Host. A request with
// neither header is not a browser's, or comes from one too old to send
// them, and has only its CSRF token to show.
func (s *Server) sameOrigin(r *http.Request) error {
	p := http.NewCrossOriginProtection()
	if err := p.AddTrustedOrigin(s.issuer.Scheme + "://" + s.issuer.Host); err != nil {
		return err
	}
	return p.Check(r)
}

// redirectHost is what the consent page shows of a redirect URI: its host,
// or for a private-use scheme, the scheme and host.
func redirectHost(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	switch {
	case u.Scheme == "http" || u.Scheme == "https":
		return u.Host
	case u.Host != "":
		return u.Scheme + "://" + u.Host
	default:
		return u.Scheme + ":"
	}
}

// resolveResource applies RFC 8707 s2 against our resources: absent means
// the first one; a trailing slash is tolerated; more than one is refused
// because a token is bound to exactly one resource.
func (s *Server) resolveResource(values []string) (string, bool) {
	switch len(values) {
	case 0:
		return s.cfg.Resources[0], true
	case 1:
		return s.canonicalResource(values[0])
	}
	return "", false
}

func (s *Server) canonicalResource(v string) (string, bool) {
	if v == "" {
		return "", false
	}
	for _, r := range s.cfg.Resources {
		if sameResource(r, v) {
			return r, true
		}
	}
	return "", false
}

// sameResource compares resource URLs, tolerating one trailing slash
// (clients differ on "https://host/mcp" versus "https://host/mcp/") and
// the case of scheme and host, which RFC 3986 s6.2.2.1 makes insignificant
// and MCP 2025-11-25 "Canonical Server URI" says to accept. Everything else
// must match exactly.
func sameResource(a, b string) bool {
	return foldSchemeHost(strings.TrimSuffix(a, "/")) == foldSchemeHost(strings.TrimSuffix(b, "/"))
}

// foldSchemeHost lowercases the scheme and authority of an absolute URL.
func foldSchemeHost(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	return strings.ToLower(scheme) + "://" + strings.ToLower(rest[:end]) + rest[end:]
}

// redirectError sends an authorization error response to the client,
// RFC 6749 s4.1.2.1, with iss per RFC 9207 s2.
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state, code, desc string) {
	v := url.Values{"error": {code}, "error_description": {errorDescription(desc)}, "iss": {s.cfg.Issuer}}
	if state != "" {
		v.Set("state", state)
	}
	s.redirect(w, r, redirectURI, v)
}

// redirect sends the browser to redirectURI with params added to its query
// (RFC 6749 s4.1.2: the redirect URI's own query is kept).
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values) {
	sep := "?"
	if strings.Contains(redirectURI, "?") {
		sep = "&"
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther // the client must GET, not re-POST our form
	}
	http.Redirect(w, r, redirectURI+sep+params.Encode(), status)
}

// Consent.

// consentScopes reports whether this browser carries our signed cookie
// saying it approved clientID before, unexpired, and for which scopes. The
// cookie value is "<expiry unix>.<base64url scopes>.<HMAC(consent key,
// client_id, expiry, scopes)>", so it cannot be forged, moved to another
// client, widened or extended.
func (s *Server) consentScopes(r *http.Request, clientID string) (scopes []string, ok bool) {
	if s.cfg.ConsentTTL < 0 {
		return nil, false
	}
	c, err := r.Cookie(s.cookieName(consentCookieName(clientID)))
	if err != nil {
		return nil, false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return nil, false
	}
	exp, enc, sig := parts[0], parts[1], parts[2]
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || s.now().Unix() >= n || !macEqual(sig, mac(s.keys.consent, clientID, exp, enc)) {
		return nil, false
	}
	scopes, ok = decodeScopes(enc)
	return scopes, ok
}

func consentCookieName(clientID string) string {
	return cookieConsent + hashToken(clientID)[:16]
}

// rememberConsent records in this browser that it approved clientID for
// scopes.
func (s *Server) rememberConsent(w http.ResponseWriter, clientID string, scopes []string) {
	if s.cfg.ConsentTTL < 0 {
		return
	}
	exp := strconv.FormatInt(s.now().Add(s.cfg.ConsentTTL).Unix(), 10)
	enc := encodeScopes(scopes)
	s.setCookie(w, consentCookieName(clientID), exp+"."+enc+"."+mac(s.keys.consent, clientID, exp, enc), s.path("/authorize"), s.cfg.ConsentTTL)
}

// approvedScopes reads the person's answer from the consent form: the
// scopes approved before (req.Known), offline_access if asked for (it
// has no box: refresh tokens come either way), and each other requested
// scope whose box is ticked. A box for a scope the request did not ask
// for changes nothing.
func (s *Server) approvedScopes(req *authRequest, ticked []string) []string {
	known := strings.Fields(req.Known)
	var out []string
	for _, n := range strings.Fields(req.Scope) {
		if slices.Contains(known, n) || n == ScopeOfflineAccess || slices.Contains(ticked, n) {
			out = append(out, n)
		}
	}
	return out
}

// consentDecision handles the consent form. A browser must send it from
// our own origin (Sec-Fetch-Site / Origin), and its CSRF token is
// HMAC(csrf key, pending id, nonce), where the nonce was minted with the
// page and sits in an HttpOnly cookie named after the pending id: a form
// posted from another site is refused by the browser's own word, and a
// pending id minted for another browser has no nonce here (RFC 9700 s4.7,
// double submit bound to the session). Over plain http a program on
// another local port can plant cookies, which the origin check defeats.
func (s *Server) consentDecision(w http.ResponseWriter, r *http.Request) {
	const restart = "Go back to your MCP client and connect again."
	const refused = "This approval did not come from the consent page this server showed in this browser (or the page expired), so it was ignored."
	if err := s.sameOrigin(r); err != nil {
		s.showError(w, http.StatusForbidden, "Request refused", refused, restart)
		return
	}
	r.Body = limitedBody(w, r, maxConsentForm)
	if err := r.ParseForm(); err != nil {
		s.showError(w, http.StatusBadRequest, "Malformed form", "The consent form could not be read.", restart)
		return
	}
	pending, token := r.PostForm.Get("pending"), r.PostForm.Get("csrf_token")
	if pending == "" || token == "" {
		s.showError(w, http.StatusForbidden, "Request refused", refused, restart)
		return
	}
	nonce, err := r.Cookie(s.cookieName(nonceCookie(pending)))
	if err != nil || !macEqual(token, mac(s.keys.csrf, pending, nonce.Value)) {
		s.showError(w, http.StatusForbidden, "Request refused", refused, restart)
		return
	}
	var req authRequest
	if err := s.take(r.Context(), kindPending, hashToken(pending), &req); err != nil {
		s.showError(w, http.StatusBadRequest, "Authorization expired",
			"This authorization request has expired or was already answered.", restart)
		return
	}
	switch r.PostForm.Get("decision") {
	case "approve":
		req.Consented = true
		if len(s.cfg.Scopes) == 0 {
			s.rememberConsent(w, req.ClientID, nil)
			s.startUpstream(w, r, &req)
			return
		}
		approved := s.approvedScopes(&req, r.PostForm["scope"])
		if !hasResourceScope(approved) {
			// RFC 6749 s4.1.2.1: the person allowed nothing.
			s.redirectError(w, r, req.ResolvedURI, req.State, "access_denied", "the user approved none of the requested scopes")
			return
		}
		prev, _ := s.consentScopes(r, req.ClientID)
		s.rememberConsent(w, req.ClientID, s.ordered(append(prev, approved...)))
		req.Scope, req.Known = strings.Join(approved, " "), ""
		s.startUpstream(w, r, &req)
	case "deny":
		s.redirectError(w, r, req.ResolvedURI, req.State, "access_denied", "the user denied access")
	default:
		s.showError(w, http.StatusBadRequest, "Malformed form", "The consent form carried no decision.", restart)
	}
}

// startUpstream sends the browser to the identity provider with our own
// state and PKCE (RFC 6749 s10.12, RFC 7636), bound to this browser by a
// cookie holding a MAC of the state (RFC 9700 s4.7.1): a callback URL
// replayed in another browser, or one an attacker started and passed to a
// victim, has no matching cookie and is refused.
func (s *Server) startUpstream(w http.ResponseWriter, r *http.Request, req *authRequest) {
	state := newToken("")
	verifier := newToken("") // 43 base64url characters: a valid RFC 7636 verifier
	key := hashToken(state)
	rec := upstreamRecord{Request: *req, Verifier: s.keys.seal([]byte(verifier), "upstream:"+key)}
	if err := s.putJSON(r.Context(), kindUpstream, key, &rec, s.now().Add(pendingTTL)); err != nil {
		s.log.Error("oauth: storing upstream state", "err", err)
		s.redirectError(w, r, req.ResolvedURI, req.State, "server_error", "could not store the authorization request")
		return
	}
	target, err := s.cfg.Provider.AuthorizationURL(state, s256(verifier), s.endpoint("/callback"))
	if err != nil {
		s.log.Error("oauth: provider authorization URL", "err", err)
		s.redirectError(w, r, req.ResolvedURI, req.State, "server_error", "the identity provider is misconfigured")
		return
	}
	s.setCookie(w, cookieState+key[:16], mac(s.keys.binding, state), s.path("/callback"), pendingTTL)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer") // our pages send referrers to ourselves only
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, target, status)
}

// handleCallback receives the browser back from the identity provider.
func (s *Server) handleCallback(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, "GET")
		return
	}
	const restart = "Go back to your MCP client and connect again; if it keeps happening, make sure cookies are enabled for this site."
	if len(r.URL.RawQuery) > maxQueryLen {
		s.showError(w, http.StatusBadRequest, "Request too large", "The sign-in response is longer than this server accepts.", restart)
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		s.showError(w, http.StatusBadRequest, "Sign-in response incomplete", "The identity provider sent you back without the state this server gave it.", restart)
		return
	}
	key := hashToken(state)
	c, err := r.Cookie(s.cookieName(cookieState + key[:16]))
	if err != nil || !macEqual(c.Value, mac(s.keys.binding, state)) {
		s.showError(w, http.StatusBadRequest, "Sign-in started elsewhere",
			"This sign-in response does not belong to a sign-in started in this browser, or it took longer than 10 minutes. It was ignored so that nobody can sign you in to an account you did not choose.",
			restart)
		return
	}
	var rec upstreamRecord
	if err := s.take(r.Context(), kindUpstream, key, &rec); err != nil {
		s.showError(w, http.StatusBadRequest, "Sign-in expired", "This sign-in response was already used or has expired.", restart)
		return
	}
	s.setCookie(w, cookieState+key[:16], "", s.path("/callback"), -1)
	if rec.Account {
		s.finishAccountSignIn(w, r, q, &rec, key)
		return
	}
	req := &rec.Request
	fail := func(code, desc string) {
		s.redirectError(w, r, req.ResolvedURI, req.State, code, desc)
	}
	if e := q.Get("error"); e != "" {
		// The provider's own error response (RFC 6749 s4.1.2.1).
		if len(e) > maxProviderError {
			e = e[:maxProviderError]
		}
		switch e {
		case "access_denied", "temporarily_unavailable":
			fail(e, "the identity provider reported "+e)
		default:
			fail("server_error", "the identity provider reported "+e)
		}
		return
	}
	code := q.Get("code")
	if code == "" {
		fail("server_error", "the identity provider returned no code")
		return
	}
	verifier, err := s.keys.open(rec.Verifier, "upstream:"+key)
	if err != nil {
		s.log.Error("oauth: upstream verifier", "err", err)
		fail("server_error", "could not read the stored authorization request")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ProviderTimeout)
	sess, err := s.cfg.Provider.Exchange(ctx, code, string(verifier))
	cancel()
	if err == nil && (sess == nil || sess.Identity.Subject == "") {
		err = errors.New("provider returned no subject")
	}
	if err != nil {
		s.log.Warn("oauth: upstream code exchange failed", "client_id", req.ClientID, "err", err)
		switch {
		case errors.Is(err, ErrUpstreamUnavailable), errors.Is(err, context.DeadlineExceeded):
			fail("temporarily_unavailable", "the identity provider could not be reached; try again shortly")
		case errors.Is(err, ErrUpstreamRevoked):
			fail("access_denied", "the identity provider refused the sign-in")
		default:
			fail("server_error", "sign-in with the identity provider failed")
		}
		return
	}
	if len(s.cfg.Scopes) > 0 && !hasResourceScope(s.permitted(strings.Fields(req.Scope), &sess.Identity)) {
		// Asked only for scopes whose permissions the person lacks: a
		// token with no scope would be useless, and no step-up can help.
		s.log.Info("oauth: no requested scope permitted", "client_id", req.ClientID, "sub", sess.Identity.Subject)
		fail("access_denied", "this account has none of the permissions the requested scopes need")
		return
	}
	g, err := s.createGrant(r.Context(), req, sess)
	if err != nil {
		s.log.Error("oauth: creating grant", "err", err)
		fail("server_error", "could not store the grant")
		return
	}
	s.keepClient(r.Context(), req.ClientID)
	authCode, err := s.issueCode(r.Context(), req, g.ID)
	if err != nil {
		s.log.Error("oauth: storing code", "err", err)
		fail("server_error", "could not store the authorization code")
		return
	}
	if imp := g.Identity.ImpersonatorEmail(); imp != "" {
		s.log.Info("oauth: authorized", "client_id", req.ClientID, "sub", g.Identity.Subject, "grant", g.ID, "impersonator", imp)
	} else {
		s.log.Info("oauth: authorized", "client_id", req.ClientID, "sub", g.Identity.Subject, "grant", g.ID)
	}
	if req.Consented {
		s.emit(r.Context(), r, Event{Kind: EventConsented, Identity: &g.Identity, ClientID: req.ClientID, ClientName: req.ClientName, GrantID: g.ID})
	}
	s.emit(r.Context(), r, Event{Kind: EventSignedIn, Identity: &g.Identity, ClientID: req.ClientID, ClientName: req.ClientName, GrantID: g.ID})
	// RFC 6749 s4.1.2 and RFC 9207 s2.
	v := url.Values{"code": {authCode}, "iss": {s.cfg.Issuer}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	s.redirect(w, r, req.ResolvedURI, v)
}
