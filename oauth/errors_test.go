package oauth

// Tests of the RFC 6749 s5.2 error forms (errors.go).

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

// RFC 6749 s5.2 and s4.1.2.1: error_description MUST NOT include
// characters outside %x20-21 / %x23-5B / %x5D-7E (printable ASCII without
// '"' and '\'). Descriptions that quote a client's input with %q broke
// that, at the token endpoint and in authorization error redirects.
func TestErrorDescriptionCharset(t *testing.T) {
	valid := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	}
	e, m := cimdEnv(t, true)
	m.doc = func(u string) (int, map[string]string, string) {
		return 200, nil, goodDoc("https://other.example/é\"\\")
	}
	st, out, _ := e.token(codeForm(m.srv.URL+"/client.json", "x"), "", "")
	desc, _ := out["error_description"].(string)
	if st != 401 || desc == "" || !valid(desc) {
		t.Errorf("token endpoint: %d error_description %q", st, desc)
	}

	rec := httptest.NewRecorder()
	e.srv.redirectError(rec, httptest.NewRequest("GET", "/callback", nil), testRedirect, "s", "server_error", "the identity provider reported \"é\\\n")
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || !valid(loc.Query().Get("error_description")) || loc.Query().Get("error_description") == "" {
		t.Errorf("redirect error_description %q", loc.Query().Get("error_description"))
	}
}
