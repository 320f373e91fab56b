package authkittest

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

var (
	formRe   = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	buttonRe = regexp.MustCompile(`<button type="submit" name="email" value="([^"]*)">`)
)

// SignInForm is the sign-in page as a browser sees it: where the form
// posts, its hidden fields, and the email of each user's button.
type SignInForm struct {
	Action string
	Hidden url.Values
	Emails []string
}

// ParseSignInPage reads the emulator's sign-in page HTML.
func ParseSignInPage(page string) (*SignInForm, error) {
	m := formRe.FindStringSubmatch(page)
	if m == nil {
		return nil, errors.New("authkittest: no sign-in form on the page")
	}
	f := &SignInForm{Action: html.UnescapeString(m[1]), Hidden: url.Values{}}
	for _, h := range hiddenRe.FindAllStringSubmatch(page, -1) {
		f.Hidden.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	for _, b := range buttonRe.FindAllStringSubmatch(page, -1) {
		f.Emails = append(f.Emails, html.UnescapeString(b[1]))
	}
	return f, nil
}

// SignIn plays the browser on the sign-in page: it opens authorizationURL
// with client, presses the button of the user with this email, and returns
// the response to the form, after whatever redirects client follows. client
// must have a cookie jar (the form's CSRF cookie must come back). With a
// client whose CheckRedirect returns http.ErrUseLastResponse, the response
// is the emulator's redirect and its Location holds code and state. The
// caller closes the body.
func SignIn(ctx context.Context, client *http.Client, authorizationURL, email string) (*http.Response, error) {
	if client == nil || client.Jar == nil {
		return nil, errors.New("authkittest: SignIn needs a client with a cookie jar")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorizationURL, nil)
	if err != nil {
		return nil, err
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("authkittest: sign-in page: %s: %s", res.Status, strings.TrimSpace(string(body)))
	}
	form, err := ParseSignInPage(string(body))
	if err != nil {
		return nil, err
	}
	found := false
	for _, e := range form.Emails {
		found = found || strings.EqualFold(e, email)
	}
	if !found {
		return nil, fmt.Errorf("authkittest: no button for %q on the sign-in page (have %v)", email, form.Emails)
	}
	vals := url.Values{}
	for k, v := range form.Hidden {
		vals[k] = v
	}
	vals.Set("email", email)
	action, err := res.Request.URL.Parse(form.Action)
	if err != nil {
		return nil, err
	}
	post, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(vals.Encode()))
	if err != nil {
		return nil, err
	}
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return client.Do(post)
}
