package oauth

// Clients: dynamic client registration (RFC 7591; deprecated by MCP
// 2026-07-28 in favour of client ID metadata documents, and kept for the
// clients that still register this way), redirect URI rules
// (OAuth 2.1 s2.3.1, RFC 8252 s7) and client authentication at the token
// and revocation endpoints (RFC 6749 s2.3.1).

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Size limits for registration requests. Real clients send well under 2 KiB.
const (
	maxRegistrationBody = 16 << 10
	maxRedirectURIs     = 10
	maxURILen           = 2000
	maxFieldLen         = 500
	maxListLen          = 10
)

// Client is a registered OAuth client as stored (RFC 7591 s2 metadata).
// The secret itself is never stored, only its SHA-256.
type Client struct {
	ClientID                string   `json:"client_id"`
	SecretHash              string   `json:"secret_hash,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
	Contacts                []string `json:"contacts,omitempty"`
	TOSURI                  string   `json:"tos_uri,omitempty"`
	PolicyURI               string   `json:"policy_uri,omitempty"`
	SoftwareID              string   `json:"software_id,omitempty"`
	SoftwareVersion         string   `json:"software_version,omitempty"`
	IssuedAt                int64    `json:"client_id_issued_at"`
	// Unused marks a registration no authorization has completed for
	// yet; it is stored with an expiry (Config.UnusedClientTTL) that the
	// first completed sign-in removes.
	Unused bool `json:"unused,omitempty"`
	// MetadataDocument marks a client whose client_id is the URL of its
	// client ID metadata document; it is never stored, only cached.
	MetadataDocument bool `json:"-"`
}

func (c *Client) public() bool { return c.TokenEndpointAuthMethod == "none" }

// displayName is how the consent page names the client: its client_name,
// or for a metadata document client without one, the document's host.
// Characters that would change how the page around it reads are dropped,
// for registrations stored before they were refused.
func (c *Client) displayName() string {
	if name := strings.TrimSpace(stripUnsafe(c.ClientName)); name != "" {
		return name
	}
	if c.MetadataDocument {
		if u, err := url.Parse(c.ClientID); err == nil {
			return stripUnsafe(u.Host)
		}
	}
	return "An unnamed application"
}

// registrationRequest is the RFC 7591 s2 client metadata we understand.
// Unknown fields are ignored, as s2 requires.
type registrationRequest struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name"`
	ClientURI               string   `json:"client_uri"`
	LogoURI                 string   `json:"logo_uri"`
	Scope                   string   `json:"scope"`
	Contacts                []string `json:"contacts"`
	TOSURI                  string   `json:"tos_uri"`
	PolicyURI               string   `json:"policy_uri"`
	SoftwareID              string   `json:"software_id"`
	SoftwareVersion         string   `json:"software_version"`
}

// registrationError is RFC 7591 s3.2.2.
func registrationError(code, desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, code, desc}
}

// parseRegistration decodes and validates a registration request body into
// the Client to store (without ID or secret). Errors are RFC 7591 s3.2.2
// errors.
func parseRegistration(body []byte, scopes []string) (*Client, *oauthError) {
	var req registrationRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, registrationError("invalid_client_metadata", "body must be a JSON object of client metadata: "+err.Error())
	}
	if len(req.RedirectURIs) == 0 {
		// OAuth 2.1 s2.3.1: the authorization code grant needs one.
		return nil, registrationError("invalid_redirect_uri", "redirect_uris is required")
	}
	if len(req.RedirectURIs) > maxRedirectURIs {
		return nil, registrationError("invalid_redirect_uri", fmt.Sprintf("at most %d redirect_uris", maxRedirectURIs))
	}
	for _, u := range req.RedirectURIs {
		if err := validateRedirectURI(u); err != nil {
			return nil, registrationError("invalid_redirect_uri", err.Error())
		}
	}
	c := &Client{
		RedirectURIs:            req.RedirectURIs,
		TokenEndpointAuthMethod: req.TokenEndpointAuthMethod,
		GrantTypes:              req.GrantTypes,
		ResponseTypes:           req.ResponseTypes,
		ClientName:              req.ClientName,
		ClientURI:               req.ClientURI,
		LogoURI:                 req.LogoURI,
		Scope:                   req.Scope,
		Contacts:                req.Contacts,
		TOSURI:                  req.TOSURI,
		PolicyURI:               req.PolicyURI,
		SoftwareID:              req.SoftwareID,
		SoftwareVersion:         req.SoftwareVersion,
	}
	if e := c.validateMetadata(scopes); e != nil {
		return nil, e
	}
	return c, nil
}

// validateMetadata checks and defaults everything but redirect_uris; shared
// by registration and client ID metadata documents.
func (c *Client) validateMetadata(scopes []string) *oauthError {
	bad := func(format string, a ...any) *oauthError {
		return registrationError("invalid_client_metadata", fmt.Sprintf(format, a...))
	}
	switch c.TokenEndpointAuthMethod {
	case "":
		// RFC 7591 s2 defaults to client_secret_basic. A client that
		// registers without saying is almost always a native or browser MCP
		// client that cannot keep a secret, yet it would then fail at /token
		// without one; MCP clients in practice send "none" explicitly, so
		// we keep the RFC default.
		c.TokenEndpointAuthMethod = "client_secret_basic"
	case "none", "client_secret_basic", "client_secret_post":
	default:
		return bad("token_endpoint_auth_method %q is not supported; use one of %s", c.TokenEndpointAuthMethod, strings.Join(clientAuthMethods, ", "))
	}
	if len(c.GrantTypes) == 0 {
		// RFC 7591 s2 defaults to authorization_code alone; MCP clients
		// that omit grant_types still expect to refresh, so we grant both.
		c.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	for _, g := range c.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return bad("grant_type %q is not supported; only authorization_code and refresh_token", g)
		}
	}
	if !slices.Contains(c.GrantTypes, "authorization_code") {
		return bad("grant_types must include authorization_code")
	}
	if len(c.ResponseTypes) == 0 {
		c.ResponseTypes = []string{"code"}
	}
	for _, rt := range c.ResponseTypes {
		if rt != "code" {
			return bad("response_type %q is not supported; only code", rt)
		}
	}
	for name, v := range map[string]string{"client_name": c.ClientName, "scope": c.Scope,
		"software_id": c.SoftwareID, "software_version": c.SoftwareVersion} {
		if len(v) > maxFieldLen {
			return bad("%s is longer than %d bytes", name, maxFieldLen)
		}
		if err := checkText(name, v); err != nil {
			return bad("%v", err)
		}
	}
	for name, v := range map[string]string{"client_uri": c.ClientURI, "logo_uri": c.LogoURI,
		"tos_uri": c.TOSURI, "policy_uri": c.PolicyURI} {
		if v == "" {
			continue
		}
		if len(v) > maxURILen {
			return bad("%s is longer than %d bytes", name, maxURILen)
		}
		if err := checkText(name, v); err != nil {
			return bad("%v", err)
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return bad("%s must be an http(s) URL", name)
		}
	}
	if len(c.Contacts) > maxListLen {
		return bad("at most %d contacts", maxListLen)
	}
	for _, v := range c.Contacts {
		if len(v) > maxFieldLen {
			return bad("contact longer than %d bytes", maxFieldLen)
		}
		if err := checkText("contacts", v); err != nil {
			return bad("%v", err)
		}
	}
	if len(scopes) > 0 && c.Scope != "" {
		for _, sc := range strings.Fields(c.Scope) {
			if !slices.Contains(scopes, sc) {
				return bad("scope %q is not supported", sc)
			}
		}
	}
	return nil
}

// handleRegister implements dynamic client registration, RFC 7591 s3.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST, OPTIONS")
		return
	}
	if ok, retry := s.limiter.allow(rateKey(r)); !ok {
		s.emit(r.Context(), r, Event{Kind: EventRateLimited, Endpoint: "register"})
		tooManyRequests(w, retry)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSONError(w, registrationError("invalid_client_metadata", "Content-Type must be application/json (RFC 7591 s3.1)"))
		return
	}
	body, err := io.ReadAll(limitedBody(w, r, maxRegistrationBody))
	if err != nil {
		writeJSONError(w, registrationError("invalid_client_metadata", fmt.Sprintf("body larger than %d bytes, or too slow to arrive", maxRegistrationBody)))
		return
	}
	c, e := parseRegistration(body, s.scopeNames())
	if e != nil {
		writeJSONError(w, e)
		return
	}
	c.ClientID = prefixClientID + rand.Text() // 130 random bits
	c.IssuedAt = s.now().Unix()
	c.Unused = true
	var secret string
	if !c.public() {
		secret = newToken(prefixClientSecret)
		c.SecretHash = hashToken(secret)
	}
	if e := s.storeClient(r.Context(), c); e != nil {
		if e.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "3600")
		}
		writeJSONError(w, e)
		return
	}
	s.log.Info("oauth: client registered", "client_id", c.ClientID, "client_name", c.ClientName, "auth", c.TokenEndpointAuthMethod)
	s.emit(r.Context(), r, Event{Kind: EventClientRegistered, ClientID: c.ClientID, ClientName: c.ClientName})
	// RFC 7591 s3.2.1: 201 with the metadata as registered, the
	// client_secret shown this once.
	resp := struct {
		*Client
		SecretHash            string `json:"secret_hash,omitempty"` // shadows the embedded field: never sent
		ClientSecret          string `json:"client_secret,omitempty"`
		ClientSecretExpiresAt *int64 `json:"client_secret_expires_at,omitempty"`
		Unused                bool   `json:"unused,omitempty"` // ours, not RFC 7591's
	}{Client: c, ClientSecret: secret}
	if secret != "" {
		zero := int64(0) // never expires
		resp.ClientSecretExpiresAt = &zero
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(resp)
}

// storeClient stores a new registration, unless the store already holds
// Config.MaxClients clients.
func (s *Server) storeClient(ctx context.Context, c *Client) *oauthError {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if counter, ok := s.cfg.Store.(StoreCounter); ok {
		n, err := counter.Count(ctx, kindClient)
		if err != nil {
			s.log.Error("oauth: counting clients", "err", err)
			return &oauthError{http.StatusInternalServerError, "server_error", "could not store the registration"}
		}
		if n >= s.cfg.MaxClients {
			s.log.Warn("oauth: registration refused: client limit reached", "max_clients", s.cfg.MaxClients)
			return &oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", fmt.Sprintf(
				"this server already holds its limit of %d registered clients; registrations never used to sign in expire after %v, so retry later",
				s.cfg.MaxClients, s.cfg.UnusedClientTTL)}
		}
	}
	if err := s.putJSON(ctx, kindClient, c.ClientID, c, s.now().Add(s.cfg.UnusedClientTTL)); err != nil {
		s.log.Error("oauth: storing client", "err", err)
		return &oauthError{http.StatusInternalServerError, "server_error", "could not store the registration"}
	}
	return nil
}

// keepClient makes a registration permanent once an authorization for it
// has completed: only registrations nobody ever used expire. A failure is
// logged only; the client then expires as if unused.
func (s *Server) keepClient(ctx context.Context, clientID string) {
	if isMetadataDocumentURL(clientID) {
		return
	}
	var c Client
	if err := s.getJSON(ctx, kindClient, clientID, &c); err != nil || !c.Unused {
		return
	}
	err := s.cfg.Store.Update(ctx, kindClient, clientID, func(cur []byte) ([]byte, time.Time, error) {
		if cur == nil {
			return nil, time.Time{}, nil
		}
		var c Client
		if err := unmarshalRecord(cur, &c); err != nil {
			return nil, time.Time{}, err
		}
		c.Unused = false
		b, err := marshalRecord(&c)
		return b, time.Time{}, err
	})
	if err != nil {
		s.log.Warn("oauth: keeping a used client", "client_id", clientID, "err", err)
	}
}

// lookupClient finds a client by ID: a registered one in the store, or, for
// an https URL, its client ID metadata document. It returns ErrNotFound for
// an unknown client and a descriptive error for a bad metadata document.
func (s *Server) lookupClient(ctx context.Context, clientID string) (*Client, error) {
	if clientID == "" || len(clientID) > maxURILen || strings.ContainsFunc(clientID, unsafeRune) {
		return nil, ErrNotFound
	}
	if isMetadataDocumentURL(clientID) {
		return s.cimd.client(ctx, clientID, s.scopeNames())
	}
	var c Client
	if err := s.getJSON(ctx, kindClient, clientID, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Text the client chose.

// unsafeRune reports a character that changes how the text around it
// reads instead of adding to it: controls (Unicode Cc: C0, DEL, C1), the
// bidirectional formatting characters (Bidi_Control: U+061C, U+200E-200F,
// U+202A-202E, U+2066-2069; U+202E turns the rest of a line around) and
// the line and paragraph separators. None belongs in a name or a URI.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
}

// stripUnsafe drops every unsafeRune from s.
func stripUnsafe(s string) string {
	return strings.Map(func(r rune) rune {
		if unsafeRune(r) {
			return -1
		}
		return r
	}, s)
}

// checkText refuses a client-chosen value holding an unsafeRune, naming
// the field and the character so that its developer can find it.
func checkText(field, v string) error {
	if i := strings.IndexFunc(v, unsafeRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		return fmt.Errorf("%s contains U+%04X, a control or bidirectional formatting character", field, r)
	}
	return nil
}

// Redirect URIs.

// refusedSchemes are schemes whose handler is the browser itself or the
// operating system, never one application: they run script, read local or
// remote files, start programs or place calls (search-ms: shows a remote
// share as if it were a local folder, ms-msdt: ran code). No OAuth client
// returns through them. Schemes starting with refusedSchemePrefixes are
// refused too: ms- is Windows' own, web+ goes to whichever website
// registered it.
var (
	refusedSchemes = []string{
		"javascript", "vbscript", "data", "blob", "about", "file", "filesystem", "view-source", "jar",
		"ws", "wss", "ftp", "ftps", "sftp", "smb", "cifs", "nfs", "afp", "ssh", "telnet", "ldap", "ldaps", "gopher", "news", "nntp",
		"mailto", "tel", "sms", "callto", "webcal",
		"search", "search-ms", "shell", "mk", "its", "hcp", "res",
		"intent", "android-app", "itms", "itms-apps", "itms-services", "shortcuts",
		"chrome", "chrome-extension", "chrome-search", "edge", "moz-extension", "resource",
	}
	refusedSchemePrefixes = []string{"ms-", "web+", "x-apple"}
)

// validateRedirectURI applies OAuth 2.1 s2.3.1 and RFC 8252 s7 to a
// redirect URI offered at registration:
//   - absolute, no fragment (RFC 6749 s3.1.2), no userinfo;
//   - https anywhere;
//   - http only to a loopback host (RFC 8252 s7.3, s8.3: localhost,
//     127.0.0.0/8, [::1]);
//   - a private-use scheme (RFC 8252 s7.1) such as cursor://..., but none
//     that the browser or the operating system handles itself
//     (refusedSchemes: javascript:, data:, file:, search-ms:, ...);
//   - no control or bidirectional formatting character (unsafeRune).
func validateRedirectURI(raw string) error {
	if raw == "" {
		return errors.New("redirect URI is empty")
	}
	if len(raw) > maxURILen {
		return fmt.Errorf("redirect URI longer than %d bytes", maxURILen)
	}
	if strings.ContainsAny(raw, "#") {
		return fmt.Errorf("redirect URI %q must not contain a fragment (RFC 6749 s3.1.2)", raw)
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] == 0x7f {
			return fmt.Errorf("redirect URI %q contains whitespace or control characters", raw)
		}
	}
	if err := checkText("redirect URI", raw); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("redirect URI %q does not parse: %v", raw, err)
	}
	if u.Scheme == "" {
		return fmt.Errorf("redirect URI %q must be absolute (RFC 6749 s3.1.2)", raw)
	}
	scheme := strings.ToLower(u.Scheme)
	if slices.Contains(refusedSchemes, scheme) || slices.ContainsFunc(refusedSchemePrefixes, func(p string) bool { return strings.HasPrefix(scheme, p) }) {
		return fmt.Errorf("redirect URI scheme %q is not allowed: it opens the browser or the operating system, not an application", scheme)
	}
	if u.User != nil {
		return fmt.Errorf("redirect URI %q must not contain userinfo", raw)
	}
	switch scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("redirect URI %q has no host", raw)
		}
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("redirect URI %q: http is allowed only for loopback hosts (localhost, 127.0.0.1, [::1]); use https", raw)
		}
	default:
		// RFC 8252 s7.1 private-use scheme. Opaque forms like "myapp:cb"
		// are allowed too; the scheme alone identifies the app.
		if u.Opaque == "" && u.Host == "" && u.Path == "" {
			return fmt.Errorf("redirect URI %q has nothing after the scheme", raw)
		}
	}
	return nil
}

// isLoopbackHost reports whether host (without port or brackets) is
// "localhost" or a loopback IP literal.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// matchRedirectURI reports whether requested, from an authorization
// request, matches one of the client's registered redirect URIs. Matching
// is exact string comparison (OAuth 2.1 s4.1.1, RFC 9700 s4.1.3) with one
// exception: for an http loopback URI the port may differ, because native
// apps get an ephemeral port from the OS at run time (RFC 8252 s7.3).
func matchRedirectURI(registered []string, requested string) bool {
	if slices.Contains(registered, requested) {
		return true
	}
	ru, err := url.Parse(requested)
	if err != nil || ru.Scheme != "http" || !isLoopbackHost(ru.Hostname()) || ru.User != nil ||
		ru.Fragment != "" || strings.Contains(requested, "#") || !strings.HasPrefix(requested, "http://") {
		return false
	}
	for _, reg := range registered {
		gu, err := url.Parse(reg)
		if err != nil || !strings.HasPrefix(reg, "http://") || !isLoopbackHost(gu.Hostname()) {
			continue
		}
		if gu.Hostname() == ru.Hostname() && gu.EscapedPath() == ru.EscapedPath() &&
			gu.RawQuery == ru.RawQuery && gu.User == nil && !ru.ForceQuery && !gu.ForceQuery {
			return true
		}
	}
	return false
}

// Client authentication, RFC 6749 s2.3.1 and OAuth 2.1 s2.4.

// authenticateClient identifies the client of a token or revocation
// request: HTTP Basic or client_secret_post for confidential clients, just
// client_id for public ones. usedBasic tells the caller to answer a failure
// with WWW-Authenticate (RFC 6749 s5.2, invalid_client).
func (s *Server) authenticateClient(ctx context.Context, r *http.Request, form url.Values) (c *Client, usedBasic bool, e *oauthError) {
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 s2.3.1: both are form-urlencoded before Basic encoding.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, true, errInvalidClient("malformed client credentials in Authorization header")
		}
		if form.Has("client_secret") {
			// RFC 6749 s2.3: only one authentication method per request.
			return nil, true, errInvalidRequest("client authenticated with both HTTP Basic and client_secret")
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return nil, true, errInvalidRequest("client_id does not match the Authorization header")
		}
	} else {
		id = form.Get("client_id")
		secret = form.Get("client_secret")
		if id == "" {
			return nil, false, errInvalidClient("client_id is required (public clients send it in the body)")
		}
	}
	if isMetadataDocumentURL(id) {
		// Naming a metadata document makes us fetch it: limited per address
		// like /authorize, or anyone could make us fetch URLs of their
		// choosing without end (client ID metadata document draft s6).
		if ok, _ := s.authzLim.allow(rateKey(r)); !ok {
			s.emit(ctx, r, Event{Kind: EventRateLimited, Endpoint: "token"})
			return nil, basic, &oauthError{http.StatusTooManyRequests, "temporarily_unavailable", "too many requests naming client metadata documents from this address; retry shortly"}
		}
	}
	c, err := s.lookupClient(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, basic, errInvalidClient("unknown client")
		}
		var oe *oauthError
		if errors.As(err, &oe) {
			return nil, basic, errInvalidClient(oe.description)
		}
		s.log.Error("oauth: client lookup", "err", err)
		return nil, basic, &oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "client lookup failed"}
	}
	switch c.TokenEndpointAuthMethod {
	case "none":
		// A public client has no secret; some send "client_id:" in Basic
		// anyway, which authenticates nothing and is tolerated.
		if secret != "" {
			return nil, basic, errInvalidClient("this client is registered as public (token_endpoint_auth_method none) and must not send a secret")
		}
	case "client_secret_basic", "client_secret_post":
		if secret == "" {
			return nil, basic, errInvalidClient("client authentication required (" + c.TokenEndpointAuthMethod + ")")
		}
		if (c.TokenEndpointAuthMethod == "client_secret_basic") != basic {
			return nil, basic, errInvalidClient("client must authenticate with " + c.TokenEndpointAuthMethod)
		}
		sum := sha256.Sum256([]byte(secret))
		want, err := hex.DecodeString(c.SecretHash)
		if err != nil || subtle.ConstantTimeCompare(sum[:], want) != 1 {
			return nil, basic, errInvalidClient("client authentication failed")
		}
	default:
		return nil, basic, errInvalidClient("client has an unsupported authentication method")
	}
	return c, basic, nil
}
