package authkittest

// The hosted sign-in page: what the browser sees at AuthKit's
// /user_management/authorize. Instead of a password form it lists the demo
// users, one button each. The form is protected against cross-site
// submission by a CSRF token that must match both the page's sealed state
// and a cookie set with it (double submit).
//
// Serving the page stores nothing: the authorization request it answers
// travels sealed in the form (state.go), so anonymous GETs of this URL, as
// many as anyone sends, leave no trace that could crowd out a real sign-in.

import (
	"crypto/rand"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

const csrfCookie = "authkittest_csrf"

var signInTemplate = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in (AuthKit emulator)</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem; color: #222; }
button { display: block; width: 100%; margin: .5rem 0; padding: .8rem; font-size: 1rem; text-align: left; cursor: pointer; }
small { color: #666; }
</style>
</head>
<body>
<h1>Sign in</h1>
<p>This is the AuthKit emulator: no password, pick a demo user.
You will return to <strong>{{.Return}}</strong>.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="sign_in" value="{{.SignIn}}">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
{{range .Users}}<button type="submit" name="email" value="{{.Email}}">{{.FirstName}} {{.LastName}} &lt;{{.Email}}&gt;<br><small>{{.OrganizationName}} · {{.Role}}{{range .Permissions}} · {{.}}{{end}}</small></button>
{{end}}</form>
</body>
</html>
`))

// signInPage serves GET /user_management/authorize, the authorization
// request of RFC 6749 section 4.1.1 as workos-go's GetAuthorizationURL
// builds it (provider=authkit), with PKCE (RFC 7636 section 4.3).
func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	s.count("authorize")
	q := r.URL.Query()
	fail := func(reason string) { http.Error(w, "authorization request refused: "+reason, http.StatusBadRequest) }
	if q.Get("client_id") != s.cfg.clientID {
		fail("unknown client_id")
		return
	}
	if q.Get("response_type") != "code" {
		fail("response_type must be code")
		return
	}
	if q.Get("provider") != "authkit" {
		fail("provider must be authkit")
		return
	}
	redirect := q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	if err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" || ru.Fragment != "" || len(redirect) > 2048 {
		fail("redirect_uri must be an absolute http(s) URL without fragment")
		return
	}
	if len(s.cfg.redirectURIs) > 0 && !slices.Contains(s.cfg.redirectURIs, redirect) {
		fail("redirect_uri is not registered for this client")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge != "" && method != "S256" {
		fail("code_challenge_method must be S256")
		return
	}
	if challenge != "" && len(challenge) != 43 {
		fail("code_challenge must be a base64url SHA-256 digest")
		return
	}
	state := q.Get("state")
	if len(state) > 2048 {
		fail("state is too long")
		return
	}

	csrf := rand.Text()
	id, err := s.seal.seal(kindSignIn, signInState{ID: rand.Text(), RedirectURI: redirect, State: state,
		Challenge: challenge, CSRF: csrf, Exp: s.cfg.now().Add(signInTTL).UnixNano()})
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}

	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: csrf, Path: s.authorizePath(),
		HttpOnly: true, Secure: strings.HasPrefix(s.URL, "https:"), SameSite: http.SameSiteLaxMode,
		MaxAge: int(signInTTL.Seconds()),
	})
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	// No form-action: browsers that enforce it also check every redirect
	// after the form is sent (Chromium does), and this chain ends wherever
	// the relying party sends the user next (an MCP client's loopback or
	// private-use redirect URI), which the emulator cannot know. The page
	// has no script and escapes all it shows, so nothing can retarget it.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
	signInTemplate.Execute(w, map[string]any{
		"Action": s.URL + "/user_management/authorize",
		"Return": ru.Scheme + "://" + ru.Host,
		"SignIn": id,
		"CSRF":   csrf,
		"Users":  s.Users(),
	})
}

// authorizePath is the path the browser sees for the sign-in page, so that
// the CSRF cookie is sent to it alone, also when mounted under a prefix.
func (s *Server) authorizePath() string {
	p := "/user_management/authorize"
	if u, err := url.Parse(s.URL); err == nil {
		p = strings.TrimSuffix(u.Path, "/") + p
	}
	return p
}

// signInSubmit serves the sign-in form: it opens the page's sealed state,
// checks the CSRF token, spends the page, issues a short-lived single-use
// code bound to the PKCE challenge, and redirects back with code and state
// (RFC 6749 section 4.1.2).
func (s *Server) signInSubmit(w http.ResponseWriter, r *http.Request) {
	s.count("authorize")
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "sign-in refused: unreadable form", http.StatusBadRequest)
		return
	}
	id, csrf, email := r.PostForm.Get("sign_in"), r.PostForm.Get("csrf_token"), strings.ToLower(r.PostForm.Get("email"))
	cookie, err := r.Cookie(csrfCookie)
	now := s.cfg.now()

	var si signInState
	expired := "sign-in refused: this page has expired or was already used; start again"
	if !s.seal.open(kindSignIn, id, &si) || now.UnixNano() > si.Exp {
		http.Error(w, expired, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	_, spent := s.spentSignIns[si.ID]
	_, known := s.users[email]
	s.mu.Unlock()
	switch {
	case spent:
		http.Error(w, expired, http.StatusBadRequest)
		return
	case err != nil || !equalSecret(cookie.Value, si.CSRF) || !equalSecret(csrf, si.CSRF):
		http.Error(w, "sign-in refused: CSRF token missing or wrong", http.StatusForbidden)
		return
	case !known:
		http.Error(w, "sign-in refused: no such user", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	fresh := spend(s.spentSignIns, si.ID, time.Unix(0, si.Exp), now)
	s.mu.Unlock()
	if !fresh { // a concurrent submission of the same page won
		http.Error(w, expired, http.StatusBadRequest)
		return
	}
	code, err := s.seal.seal(kindCode, codeState{ID: rand.Text(), Email: email, Challenge: si.Challenge,
		Exp: now.Add(s.cfg.codeTTL).UnixNano()})
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}

	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: "", Path: s.authorizePath(), MaxAge: -1})
	ru, _ := url.Parse(si.RedirectURI) // checked when the page was served
	q := ru.Query()
	q.Set("code", code)
	if si.State != "" {
		q.Set("state", si.State)
	}
	ru.RawQuery = q.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}
