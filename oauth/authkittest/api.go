package authkittest

// The emulated WorkOS user management API: the endpoints workos-go's
// usermanagement.Client calls (AuthenticateWithCode, AuthenticateWithRefreshToken,
// RevokeSession) and the JWKS its GetJWKSURL names. Request and response
// shapes follow workos-go v4's structs, which mirror the WorkOS API.

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /user_management/authorize", s.signInPage)
	mux.HandleFunc("POST /user_management/authorize", s.signInSubmit)
	mux.HandleFunc("POST /user_management/authenticate", s.authenticate)
	mux.HandleFunc("POST /user_management/sessions/revoke", s.revokeSession)
	mux.HandleFunc("GET /sso/jwks/{client_id}", s.jwks)
	mux.HandleFunc("GET /organizations/{id}", s.organization)
	mux.HandleFunc("POST /audit_logs/events", s.createAuditEvent)
	mux.HandleFunc("GET /audit_logs/events", s.listAuditEvents)
	return mux
}

// writeJSON answers with a JSON body and the X-Request-ID header WorkOS
// sets on every response (workos-go copies it into its errors).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Request-ID", "req_"+rand.Text())
	w.WriteHeader(status)
	w.Write(b)
}

// oauthError answers in the {"error", "error_description"} shape WorkOS
// uses for the authenticate endpoint (RFC 6749 section 5.2's shape);
// workos-go turns it into an HTTPError whose ErrorCode is the error.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// apiError answers in the {"code", "message"} shape WorkOS uses for its
// other endpoints.
func apiError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]string{"code": code, "message": message})
}

// applyFault carries out the configured Fault; it reports whether the
// request has been answered (or abandoned) already.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	f := s.fault
	s.mu.Unlock()
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true // the client gave up; nobody is listening
		}
	}
	if f.Status != 0 {
		apiError(w, f.Status, "server_error", http.StatusText(f.Status))
		return true
	}
	return false
}

// authenticateRequest is the union of the bodies workos-go sends to
// /user_management/authenticate for the grants the emulator supports.
type authenticateRequest struct {
	ClientID       string `json:"client_id"`
	ClientSecret   string `json:"client_secret"`
	GrantType      string `json:"grant_type"`
	Code           string `json:"code"`
	CodeVerifier   string `json:"code_verifier"`
	RefreshToken   string `json:"refresh_token"`
	OrganizationID string `json:"organization_id"`
	IPAddress      string `json:"ip_address"`
	UserAgent      string `json:"user_agent"`
}

// readBody reads the whole (bounded) body before anything else happens.
// Besides bounding memory, this lets net/http notice a client that hangs
// up, which it only watches for once the body is consumed; a Fault's delay
// then ends as soon as the client gives up.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "invalid_request", "The request body is too large or unreadable.")
		return nil, false
	}
	return b, true
}

// readAuthenticate decodes the body, JSON as workos-go sends it or a form
// as other SDKs may.
func readAuthenticate(w http.ResponseWriter, r *http.Request, body []byte) (authenticateRequest, bool) {
	var req authenticateRequest
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		if err := json.Unmarshal(body, &req); err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "The request body is not valid JSON.")
			return req, false
		}
	case "application/x-www-form-urlencoded":
		f, err := url.ParseQuery(string(body))
		if err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "The request body is not a valid form.")
			return req, false
		}
		req = authenticateRequest{
			ClientID: f.Get("client_id"), ClientSecret: f.Get("client_secret"), GrantType: f.Get("grant_type"),
			Code: f.Get("code"), CodeVerifier: f.Get("code_verifier"), RefreshToken: f.Get("refresh_token"),
			OrganizationID: f.Get("organization_id"),
		}
	default:
		oauthError(w, http.StatusUnsupportedMediaType, "invalid_request", "Content-Type must be application/json.")
		return req, false
	}
	return req, true
}

func equalSecret(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// authenticate serves POST /user_management/authenticate.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) {
	s.count("authenticate")
	body, ok := readBody(w, r)
	if !ok || s.applyFault(w, r) {
		return
	}
	req, ok := readAuthenticate(w, r, body)
	if !ok {
		return
	}
	// The API key is the client secret (client authentication, RFC 6749
	// section 2.3.1, carried in the body as WorkOS does).
	if !equalSecret(req.ClientID, s.cfg.clientID) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client ID.")
		return
	}
	if !equalSecret(req.ClientSecret, s.cfg.apiKey) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client secret.")
		return
	}
	switch req.GrantType {
	case "authorization_code":
		s.grantCode(w, req)
	case "refresh_token":
		s.grantRefresh(w, req)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "The grant type is not supported.")
	}
}

// grantCode redeems an authorization code (RFC 6749 section 4.1.3),
// checking the PKCE verifier against the sealed S256 challenge (RFC 7636
// section 4.6). A code is single use: it is spent on the first attempt,
// whatever the outcome (RFC 6749 section 4.1.2).
func (s *Server) grantCode(w http.ResponseWriter, req authenticateRequest) {
	now := s.cfg.now()
	var c codeState
	ok := s.seal.open(kindCode, req.Code, &c) && now.UnixNano() <= c.Exp
	if ok {
		s.mu.Lock()
		ok = spend(s.spentCodes, c.ID, time.Unix(0, c.Exp), now)
		s.mu.Unlock()
	}
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The code has expired or is invalid.")
		return
	}
	if c.Challenge != "" {
		if !validVerifier(req.CodeVerifier) || !equalSecret(s256(req.CodeVerifier), c.Challenge) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "The code_verifier does not match the code_challenge.")
			return
		}
	}
	s.issue(w, refreshState{Email: c.Email}, now)
}

// grantRefresh rotates a refresh token (RFC 6749 section 6): the old one is
// spent, a new one is returned with a fresh access token carrying the
// user's current role and permissions. The token is sealed (state.go), so
// any process with the secret can redeem it; single use is enforced by the
// generation it carries, which must not be older than the newest this
// process has seen for the session.
func (s *Server) grantRefresh(w http.ResponseWriter, req authenticateRequest) {
	now := s.cfg.now()
	var rt refreshState
	if !s.seal.open(kindRefresh, req.RefreshToken, &rt) || !s.seal.validSessionID(rt.SID) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The refresh token is invalid or has already been used.")
		return
	}
	s.mu.Lock()
	ss := s.knownSession(rt.SID)
	if ss.email == "" {
		ss.email = rt.Email
	}
	// Sessions started before the user's sessions were revoked are over;
	// strictly before, so that a sign-in right after the revocation, on a
	// clock that has not moved, starts one that is not.
	if cut, ok := s.revokedBefore[rt.Email]; ss.revoked || (ok && rt.Created < cut) {
		ss.revoked = true
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Session has already ended.")
		return
	}
	if rt.Gen < ss.gen {
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The refresh token is invalid or has already been used.")
		return
	}
	if u := s.users[rt.Email]; req.OrganizationID != "" && (u == nil || u.OrganizationID != req.OrganizationID) {
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The user is not a member of the organization.")
		return
	}
	rt.Gen++
	ss.gen = rt.Gen
	s.mu.Unlock()
	s.issue(w, rt, now)
}

// authenticateResponse is usermanagement.AuthenticateResponse's wire form.
type authenticateResponse struct {
	User                 apiUser `json:"user"`
	OrganizationID       string  `json:"organization_id,omitempty"`
	AccessToken          string  `json:"access_token"`
	RefreshToken         string  `json:"refresh_token"`
	AuthenticationMethod string  `json:"authentication_method"`
	// Impersonator is present on a sign-in when the session is an
	// impersonation.
	Impersonator *impersonator `json:"impersonator,omitempty"`
}

// impersonator is the "impersonator" of WorkOS's authenticate answer.
type impersonator struct {
	Email  string `json:"email"`
	Reason string `json:"reason"`
}

// apiUser is WorkOS's user object (common.User in workos-go).
type apiUser struct {
	Object        string `json:"object"`
	ID            string `json:"id"`
	Email         string `json:"email"`
	FirstName     string `json:"first_name"`
	LastName      string `json:"last_name"`
	EmailVerified bool   `json:"email_verified"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
}

// issue answers an authenticate call: a new session when rt.SID is empty (a
// sign-in), else the refresh rt describes (its generation already
// advanced).
func (s *Server) issue(w http.ResponseWriter, rt refreshState, now time.Time) {
	s.mu.Lock()
	u0, ok := s.users[rt.Email]
	if !ok {
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "The user no longer exists.")
		return
	}
	u := *u0
	u.Permissions = append([]string(nil), u0.Permissions...)
	if rt.SID == "" {
		rt.SID, rt.Created = s.seal.newSessionID(), now.UnixNano()
		ss := s.knownSession(rt.SID)
		ss.email = rt.Email
	}
	s.mu.Unlock()
	refresh, err := s.seal.seal(kindRefresh, rt)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "server_error", "Could not seal the refresh token.")
		return
	}

	access, err := s.sign(u, rt.SID, now)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "server_error", "Could not sign the access token.")
		return
	}
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano)
	res := authenticateResponse{
		User: apiUser{Object: "user", ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
			EmailVerified: true, CreatedAt: created, UpdatedAt: created},
		OrganizationID:       u.OrganizationID,
		AccessToken:          access,
		RefreshToken:         refresh,
		AuthenticationMethod: "Password",
	}
	if u.Impersonator != "" {
		res.Impersonator = &impersonator{Email: u.Impersonator, Reason: u.ImpersonationReason}
		res.AuthenticationMethod = "Impersonation"
	}
	writeJSON(w, http.StatusOK, res)
}

// revokeSession serves POST /user_management/sessions/revoke, which WorkOS
// authenticates with the API key as a bearer token.
func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request) {
	s.count("revoke")
	raw, ok := readBody(w, r)
	if !ok || s.applyFault(w, r) {
		return
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !equalSecret(key, s.cfg.apiKey) {
		apiError(w, http.StatusUnauthorized, "unauthorized", "Unauthorized")
		return
	}
	var body struct {
		SessionID string `json:"session_id"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.SessionID == "" {
		apiError(w, http.StatusUnprocessableEntity, "invalid_request_parameters", "session_id is required.")
		return
	}
	// A session id is ours when its MAC checks (state.go), whether or not
	// this process has seen the session.
	if !s.seal.validSessionID(body.SessionID) {
		apiError(w, http.StatusNotFound, "entity_not_found", "Session not found.")
		return
	}
	s.mu.Lock()
	s.knownSession(body.SessionID).revoked = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, struct{}{})
}

// organization serves GET /organizations/{id} (workos-go's
// organizations.GetOrganization), authenticated with the API key, from the
// organizations the demo users belong to.
func (s *Server) organization(w http.ResponseWriter, r *http.Request) {
	s.count("organization")
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !equalSecret(key, s.cfg.apiKey) {
		apiError(w, http.StatusUnauthorized, "unauthorized", "Unauthorized")
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	name, found := "", false
	for _, u := range s.users {
		if u.OrganizationID == id && id != "" {
			name, found = u.OrganizationName, true
			break
		}
	}
	s.mu.Unlock()
	if !found {
		apiError(w, http.StatusNotFound, "entity_not_found", "Organization not found.")
		return
	}
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339Nano)
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "organization", "id": id, "name": name,
		"allow_profiles_outside_organization": false, "domains": []any{},
		"created_at": created, "updated_at": created, "metadata": map[string]string{},
	})
}

// jwk is one RSA public key in RFC 7517 form.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// jwks serves GET /sso/jwks/{client_id}: the key set (RFC 7517 section 5)
// that verifies the client's access tokens.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	s.count("jwks")
	if r.PathValue("client_id") != s.cfg.clientID {
		apiError(w, http.StatusNotFound, "entity_not_found", "No key set for this client.")
		return
	}
	s.mu.Lock()
	keys := slices.Clone(s.keys)
	s.mu.Unlock()
	set := make([]jwk, 0, len(keys))
	for _, k := range keys {
		pub := k.key.PublicKey
		set = append(set, jwk{
			Kty: "RSA", Use: "sig", Alg: "RS256", Kid: k.kid,
			N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		})
	}
	writeJSON(w, http.StatusOK, map[string][]jwk{"keys": set})
}

// accessClaims are the claims of a WorkOS access token.
type accessClaims struct {
	Iss         string   `json:"iss"`
	Sub         string   `json:"sub"`
	Sid         string   `json:"sid"`
	Jti         string   `json:"jti"`
	OrgID       string   `json:"org_id,omitempty"`
	Role        string   `json:"role,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	Permissions []string `json:"permissions"`
	Exp         int64    `json:"exp"`
	Iat         int64    `json:"iat"`
	Act         *actor   `json:"act,omitempty"`
}

// actor is the act claim (RFC 8693 s4.1) of an impersonated session's
// tokens: WorkOS names the impersonator's email as its sub.
type actor struct {
	Sub string `json:"sub"`
}

// sign makes an RS256 JWT (RFC 7515, RFC 7518 section 3.3) for the user.
func (s *Server) sign(u User, sid string, now time.Time) (string, error) {
	perms := u.Permissions
	if perms == nil {
		perms = []string{}
	}
	c := accessClaims{
		Iss: s.Issuer(), Sub: u.ID, Sid: sid, Jti: rand.Text(),
		OrgID: u.OrganizationID, Role: u.Role, Permissions: perms,
		Exp: now.Add(s.cfg.accessTTL).Unix(), Iat: now.Unix(),
	}
	if u.Role != "" {
		c.Roles = []string{u.Role}
	}
	if u.Impersonator != "" {
		c.Act = &actor{Sub: u.Impersonator}
	}
	s.mu.Lock()
	k := s.keys[0]
	s.mu.Unlock()
	return SignJWT(k.key, map[string]string{"alg": "RS256", "typ": "JWT", "kid": k.kid}, c)
}

// SignJWT signs claims with key under the given JOSE header (which should
// say alg RS256). It is exported so that tests of a verifier can make
// tokens the emulator would not: expired, with a wrong issuer, or signed by
// another key.
func SignJWT(key *rsa.PrivateKey, header map[string]string, claims any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// s256 is the PKCE S256 transformation (RFC 7636 section 4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifier checks RFC 7636 section 4.1: 43 to 128 characters of
// [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
