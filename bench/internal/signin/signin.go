// Package signin obtains an access token from an MCP server the way an MCP
// client and its user's browser would (MCP 2025-06-18, basic/authorization):
// it finds the authorization server through the 401's WWW-Authenticate
// header and Protected Resource Metadata (RFC 9728), reads the
// authorization server's metadata (RFC 8414), registers a public client
// (RFC 7591), runs the authorization code flow with PKCE S256 (OAuth 2.1
// draft section 4.1, RFC 7636) and the resource parameter (RFC 8707),
// submitting the consent and sign-in pages it meets on the way like a user
// clicking through them, and exchanges the code at the token endpoint.
//
// It is meant for load tests and end-to-end checks against a server whose
// sign-in page lists test accounts as buttons (an identity provider
// emulator); it cannot type a password.
package signin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Options configure SignIn.
type Options struct {
	// BaseURL is the server's origin, e.g. http://127.0.0.1:8788.
	BaseURL string
	// Resource is the MCP endpoint the token is for; empty means BaseURL+"/mcp".
	Resource string
	// Email picks the account on the sign-in page: the button or link whose
	// text or value contains it; also typed into empty e-mail fields.
	Email string
	// RedirectURI is registered and used for the code; nothing listens on
	// it, the code is read from the Location header that points there.
	// Empty means http://127.0.0.1:9/callback (loopback, RFC 8252 s7.3).
	RedirectURI string
	// ClientName is sent in registration; empty means "mcpload".
	ClientName string
	// HTTPClient is used for all requests (its redirects are handled here);
	// nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// MaxSteps bounds the browser part (pages and redirects); 0 means 20.
	MaxSteps int
	// Redeem, when set, makes the token request (step 4) instead of
	// SignIn, given the token endpoint and the form: a test can send the
	// one code to more than one server. Its token is returned as it is.
	Redeem func(ctx context.Context, tokenEndpoint string, form url.Values) (*Token, error)
	// ClientID, when set, is used instead of registering a new client: one
	// client signing in many users, as an application does, and within the
	// server's registration rate limit.
	ClientID string
}

// Token is the token endpoint's answer (RFC 6749 s5.1) and the client it
// was issued to.
type Token struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	ClientID     string `json:"-"`
}

// SignIn performs the whole flow and returns the token.
func SignIn(ctx context.Context, o Options) (*Token, error) {
	if o.BaseURL == "" {
		return nil, errors.New("signin: BaseURL is required")
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.Resource == "" {
		o.Resource = o.BaseURL + "/mcp"
	}
	if o.RedirectURI == "" {
		o.RedirectURI = "http://127.0.0.1:9/callback"
	}
	if o.ClientName == "" {
		o.ClientName = "mcpload"
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = 20
	}
	base := o.HTTPClient
	if base == nil {
		base = &http.Client{Timeout: 10 * time.Second}
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{
		Transport: base.Transport,
		Timeout:   base.Timeout,
		Jar:       jar,
		// Redirects are followed by hand, to stop at the redirect URI.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	// 1. Discovery (authorization, "Authorization Server Discovery").
	prmURL, err := resourceMetadataURL(ctx, c, o.Resource)
	if err != nil {
		return nil, err
	}
	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		ScopesSupported      []string `json:"scopes_supported"`
	}
	if err := getJSON(ctx, c, prmURL, &prm); err != nil {
		return nil, fmt.Errorf("protected resource metadata: %w", err)
	}
	if len(prm.AuthorizationServers) == 0 {
		return nil, fmt.Errorf("protected resource metadata at %s names no authorization_servers", prmURL)
	}
	if prm.Resource != "" {
		o.Resource = prm.Resource
	}
	var asm struct {
		Issuer                        string   `json:"issuer"`
		AuthorizationEndpoint         string   `json:"authorization_endpoint"`
		TokenEndpoint                 string   `json:"token_endpoint"`
		RegistrationEndpoint          string   `json:"registration_endpoint"`
		CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
	}
	if err := getJSON(ctx, c, wellKnown(prm.AuthorizationServers[0], "oauth-authorization-server"), &asm); err != nil {
		return nil, fmt.Errorf("authorization server metadata: %w", err)
	}
	if asm.AuthorizationEndpoint == "" || asm.TokenEndpoint == "" || asm.RegistrationEndpoint == "" {
		return nil, errors.New("authorization server metadata lacks authorization, token or registration endpoint")
	}

	// 2. Dynamic client registration, RFC 7591 s3.1: a public client.
	reg := map[string]any{
		"client_name":                o.ClientName,
		"redirect_uris":              []string{o.RedirectURI},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	}
	var client struct {
		ClientID string `json:"client_id"`
	}
	client.ClientID = o.ClientID
	if client.ClientID == "" {
		if err := postJSON(ctx, c, asm.RegistrationEndpoint, reg, &client); err != nil {
			return nil, fmt.Errorf("registration: %w", err)
		}
	}
	if client.ClientID == "" {
		return nil, errors.New("registration returned no client_id")
	}

	// 3. Authorization request with PKCE S256 (RFC 7636 s4.1-4.2), state,
	// and the resource indicator (RFC 8707 s2).
	verifier := rand.Text() + rand.Text() // 52 characters of base32, within 43..128
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	state := rand.Text()
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {client.ClientID},
		"redirect_uri":          {o.RedirectURI},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
		"state":                 {state},
		"resource":              {o.Resource},
	}
	if len(prm.ScopesSupported) > 0 {
		q.Set("scope", strings.Join(prm.ScopesSupported, " "))
	}
	authURL, err := url.Parse(asm.AuthorizationEndpoint)
	if err != nil {
		return nil, fmt.Errorf("authorization_endpoint: %w", err)
	}
	aq := authURL.Query()
	for k, v := range q {
		aq[k] = v
	}
	authURL.RawQuery = aq.Encode()
	code, err := browse(ctx, c, o, authURL.String(), state)
	if err != nil {
		return nil, err
	}

	// 4. Token request, OAuth 2.1 s4.1.3 with the PKCE verifier.
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {o.RedirectURI},
		"client_id":     {client.ClientID},
		"code_verifier": {verifier},
		"resource":      {o.Resource},
	}
	if o.Redeem != nil {
		tok, err := o.Redeem(ctx, asm.TokenEndpoint, form)
		if tok != nil {
			tok.ClientID = client.ClientID
		}
		return tok, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, asm.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	var tok Token
	if err := doJSON(c, req, &tok); err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	if tok.AccessToken == "" {
		return nil, errors.New("token endpoint returned no access_token")
	}
	tok.ClientID = client.ClientID
	return &tok, nil
}

// resourceMetadataURL asks the resource itself, as a client does first: an
// unauthenticated request gets 401 with WWW-Authenticate naming
// resource_metadata (RFC 9728 s5.1). Without one, the well-known URL is
// built from the resource (RFC 9728 s3.1).
func resourceMetadataURL(ctx context.Context, c *http.Client, resource string) (string, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcpload","version":"1"}}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, resource, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("unauthenticated request to %s: %w", resource, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		if m := resourceMetadataParam.FindStringSubmatch(resp.Header.Get("WWW-Authenticate")); m != nil {
			return m[1], nil
		}
	}
	return wellKnown(resource, "oauth-protected-resource"), nil
}

var resourceMetadataParam = regexp.MustCompile(`resource_metadata="([^"]+)"`)

// wellKnown inserts /.well-known/NAME between the host and the path of id
// (RFC 8414 s3.1, RFC 9728 s3.1).
func wellKnown(id, name string) string {
	u, err := url.Parse(id)
	if err != nil {
		return id
	}
	path := strings.TrimRight(u.Path, "/")
	u.Path = "/.well-known/" + name + path
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// browse follows the authorization request through redirects and pages
// until the server redirects to the redirect URI, and returns the code.
func browse(ctx context.Context, c *http.Client, o Options, start, state string) (string, error) {
	redirect, err := url.Parse(o.RedirectURI)
	if err != nil {
		return "", fmt.Errorf("redirect URI: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, start, nil)
	if err != nil {
		return "", err
	}
	var trail []string
	for range o.MaxSteps {
		trail = append(trail, req.Method+" "+req.URL.Path)
		req.Header.Set("Accept", "text/html")
		resp, err := do(c, req)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
		}
		page, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := resp.Location()
			if err != nil {
				return "", fmt.Errorf("%s %s: redirect without Location", req.Method, req.URL.Path)
			}
			if loc.Scheme == redirect.Scheme && loc.Host == redirect.Host && loc.Path == redirect.Path {
				return codeFrom(loc.Query(), state)
			}
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
			if err != nil {
				return "", err
			}
		case resp.StatusCode == http.StatusOK:
			next, err := submit(ctx, req.URL, string(page), o.Email)
			if err != nil {
				return "", fmt.Errorf("page %s: %w", req.URL.Path, err)
			}
			req = next
		default:
			return "", fmt.Errorf("%s %s: %s: %.300s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(page)))
		}
	}
	return "", fmt.Errorf("no redirect to %s after %d steps: %s", o.RedirectURI, o.MaxSteps, strings.Join(trail, ", "))
}

// codeFrom reads the authorization response (RFC 6749 s4.1.2, s4.1.2.1).
func codeFrom(q url.Values, state string) (string, error) {
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("authorization refused: %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state {
		return "", fmt.Errorf("authorization response state %q does not match the request's", q.Get("state"))
	}
	if q.Get("code") == "" {
		return "", errors.New("authorization response has no code")
	}
	return q.Get("code"), nil
}

var (
	approveWords = regexp.MustCompile(`(?i)\b(approve|allow|authori[sz]e|accept|continue|sign ?in|log ?in|yes|grant)\b`)
	refuseWords  = regexp.MustCompile(`(?i)\b(deny|cancel|reject|decline|no)\b`)
	emailLike    = regexp.MustCompile(`[^\s<>"']+@[^\s<>"']+\.[A-Za-z]+`)
)

// submit decides what a user would click on page: the control naming the
// account (Email), else the one approving, else the only form; and returns
// the request that click makes.
func submit(ctx context.Context, pageURL *url.URL, page, email string) (*http.Request, error) {
	forms, links := ParseForms(page)
	lemail := strings.ToLower(email)
	pick := func(match func(b Button) bool) (*Form, *Button) {
		for i := range forms {
			for j := range forms[i].Buttons {
				if match(forms[i].Buttons[j]) {
					return &forms[i], &forms[i].Buttons[j]
				}
			}
		}
		return nil, nil
	}
	label := func(b Button) string { return b.Text + " " + b.Value }
	var f *Form
	var b *Button
	if email != "" {
		f, b = pick(func(b Button) bool { return strings.Contains(strings.ToLower(label(b)), lemail) })
		if f == nil {
			// A form that carries the account in a hidden field.
			for i := range forms {
				for _, fl := range forms[i].Fields {
					if fl.Type == "hidden" && strings.EqualFold(fl.Value, email) {
						f = &forms[i]
					}
				}
			}
		}
		if f == nil {
			for _, l := range links {
				if strings.Contains(strings.ToLower(l.Text), lemail) {
					u, err := pageURL.Parse(l.Href)
					if err != nil {
						return nil, err
					}
					return http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
				}
			}
		}
	}
	// Never fall back to a control that names another account: signing
	// in as someone else would make every later measurement a lie.
	other := func(s string) bool {
		for _, m := range emailLike.FindAllString(s, -1) {
			if !strings.EqualFold(m, email) {
				return true
			}
		}
		return false
	}
	if f == nil {
		f, b = pick(func(b Button) bool {
			l := label(b)
			return approveWords.MatchString(l) && !refuseWords.MatchString(l) && !other(l)
		})
	}
	if f == nil && len(forms) == 1 {
		f = &forms[0]
		for _, fl := range f.Fields {
			if other(fl.Value) {
				f = nil
				break
			}
		}
		for _, bt := range forms[0].Buttons {
			if other(label(bt)) {
				f = nil
			}
		}
	}
	if f == nil {
		return nil, fmt.Errorf("nothing to click: %d forms, no button naming %q or approving", len(forms), email)
	}
	vals := url.Values{}
	for _, fl := range f.Fields {
		v := fl.Value
		if v == "" && email != "" && (fl.Type == "email" || strings.Contains(strings.ToLower(fl.Name), "email")) {
			v = email
		}
		vals.Add(fl.Name, v)
	}
	if b != nil && b.Name != "" {
		vals.Add(b.Name, b.Value)
	}
	action, err := pageURL.Parse(f.Action) // empty action: the page itself
	if err != nil {
		return nil, fmt.Errorf("form action %q: %w", f.Action, err)
	}
	if f.Method == "POST" {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(vals.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// Same-origin form posts carry Origin; servers checking CSRF by
		// Origin expect it.
		req.Header.Set("Origin", pageURL.Scheme+"://"+pageURL.Host)
		return req, nil
	}
	action.RawQuery = vals.Encode()
	return http.NewRequestWithContext(ctx, http.MethodGet, action.String(), nil)
}

func getJSON(ctx context.Context, c *http.Client, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	return doJSON(c, req, out)
}

func postJSON(ctx context.Context, c *http.Client, u string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return doJSON(c, req, out)
}

// do sends req, waiting out 429 Too Many Requests (RFC 6585 s4) as its
// Retry-After says, at most 60 times and within the request's context: a
// server rate-limits authorization requests per address, and a load test
// signing in many users from one address meets that limit.
func do(c *http.Client, req *http.Request) (*http.Response, error) {
	for range 60 {
		resp, err := c.Do(req)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests {
			return resp, err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		wait := time.Second
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 && n <= 60 {
			wait = time.Duration(n) * time.Second
		}
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(wait):
		}
		if req.Body != nil {
			if req.GetBody == nil {
				return nil, errors.New("rate limited, and the request body cannot be sent again")
			}
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
	}
	return nil, errors.New("still rate limited after 60 attempts")
}

func doJSON(c *http.Client, req *http.Request, out any) error {
	resp, err := do(c, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %.300s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	return nil
}
