package oauth

import (
	"slices"
	"testing"
)

// FuzzParseTokenRequest: whatever the body, the parser returns either an
// RFC 6749 s5.2 error or a form whose known parameters are single and
// bounded. Seeds live in testdata/fuzz/FuzzParseTokenRequest.
func FuzzParseTokenRequest(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", []byte("grant_type=refresh_token&refresh_token=mrt_x&client_id=c"))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		form, e := parseTokenRequest(ctype, body)
		if e != nil {
			if e.code != "invalid_request" || e.description == "" || e.status != 400 {
				t.Fatalf("bad error %+v", e)
			}
			return
		}
		for _, p := range tokenRequestParams {
			if len(form[p]) > 1 || len(form.Get(p)) > maxTokenParam {
				t.Fatalf("%s accepted repeated or oversized", p)
			}
		}
	})
}

// FuzzParseRegistration: an accepted registration has only redirect URIs
// that pass validation and match themselves, a supported auth method, and
// the authorization_code grant.
func FuzzParseRegistration(f *testing.F) {
	f.Add([]byte(`{"redirect_uris":["http://127.0.0.1:33418/"],"token_endpoint_auth_method":"none"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, e := parseRegistration(body, nil)
		if e != nil {
			if (e.code != "invalid_client_metadata" && e.code != "invalid_redirect_uri") || e.description == "" {
				t.Fatalf("bad error %+v", e)
			}
			return
		}
		if len(c.RedirectURIs) == 0 || len(c.RedirectURIs) > maxRedirectURIs {
			t.Fatalf("%d redirect URIs accepted", len(c.RedirectURIs))
		}
		for _, u := range c.RedirectURIs {
			if err := validateRedirectURI(u); err != nil {
				t.Fatalf("accepted invalid redirect %q: %v", u, err)
			}
			if !matchRedirectURI(c.RedirectURIs, u) {
				t.Fatalf("registered redirect %q does not match itself", u)
			}
		}
		if !slices.Contains(clientAuthMethods, c.TokenEndpointAuthMethod) || !slices.Contains(c.GrantTypes, "authorization_code") {
			t.Fatalf("accepted %+v", c)
		}
	})
}
