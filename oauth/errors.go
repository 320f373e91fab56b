package oauth

import (
	"encoding/json"
	"net/http"
)

// oauthError is an error response in the form of RFC 6749 s5.2 (token and
// revocation endpoints), RFC 7591 s3.2.2 (registration) and RFC 6749
// s4.1.2.1 (authorization, as redirect parameters).
type oauthError struct {
	status      int
	code        string // the "error" parameter
	description string // "error_description": for developers, never secret
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func errInvalidRequest(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_request", desc}
}
func errInvalidGrant(desc string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", desc}
}
func errInvalidClient(desc string) *oauthError {
	return &oauthError{http.StatusUnauthorized, "invalid_client", desc}
}

// writeJSONError writes e as the JSON body of RFC 6749 s5.2.
func writeJSONError(w http.ResponseWriter, e *oauthError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if e.status == http.StatusTooManyRequests && h.Get("Retry-After") == "" {
		// RFC 6585 s4: say when to come back. The per-address limits
		// that answer without their own figure earn a request back each
		// second.
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.code, errorDescription(e.description)})
}

// errorDescription makes desc fit RFC 6749 s5.2 (and s4.1.2.1): only
// %x20-21 / %x23-5B / %x5D-7E. Descriptions sometimes quote what a client
// sent; quotes become apostrophes, and other characters outside the set
// become '?'.
func errorDescription(desc string) string {
	b := []byte(desc)
	for i, c := range b {
		switch {
		case c == '"':
			b[i] = '\''
		case c < 0x20 || c > 0x7e || c == '\\':
			b[i] = '?'
		}
	}
	return string(b)
}
