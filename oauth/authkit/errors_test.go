package authkit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"remote-mcp-authkit/oauth"
)

// TestUpstreamErrorMapping drives Refresh and Exchange against a server
// that answers /user_management/authenticate with canned WorkOS-shaped
// failures, and checks which sentinel each one maps to.
func TestUpstreamErrorMapping(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		ctype, body string
		refresh     error // what Refresh must wrap
		exchange    error // what Exchange must wrap (ErrCodeRejected implies ErrUpstreamRevoked too)
	}{
		{"invalid_grant 400", 400, "application/json", `{"error":"invalid_grant","error_description":"Session has already ended."}`, oauth.ErrUpstreamRevoked, ErrCodeRejected},
		{"invalid_grant 401", 401, "application/json", `{"error":"invalid_grant","error_description":"Refresh token revoked."}`, oauth.ErrUpstreamRevoked, ErrCodeRejected},
		{"invalid_client", 401, "application/json", `{"error":"invalid_client","error_description":"Invalid client secret."}`, oauth.ErrUpstreamUnavailable, oauth.ErrUpstreamUnavailable},
		{"plain 401", 401, "application/json", `{"message":"Unauthorized"}`, oauth.ErrUpstreamUnavailable, oauth.ErrUpstreamUnavailable},
		{"other 400", 400, "application/json", `{"code":"invalid_request_parameters","message":"Bad."}`, oauth.ErrUpstreamRevoked, ErrCodeRejected},
		{"sso required 422", 422, "application/json", `{"error":"sso_required","error_description":"Use SSO.","connection_ids":["c"]}`, oauth.ErrUpstreamRevoked, ErrCodeRejected},
		{"500 html", 500, "text/html", `<h1>oops</h1>`, oauth.ErrUpstreamUnavailable, oauth.ErrUpstreamUnavailable},
		{"502", 502, "text/plain", `bad gateway`, oauth.ErrUpstreamUnavailable, oauth.ErrUpstreamUnavailable},
		{"429", 429, "application/json", `{"message":"Too many requests"}`, oauth.ErrUpstreamUnavailable, oauth.ErrUpstreamUnavailable},
		{"408", 408, "text/plain", `timeout`, oauth.ErrUpstreamUnavailable, oauth.ErrUpstreamUnavailable},
		{"200 garbage", 200, "application/json", `{"access_token":`, oauth.ErrUpstreamUnavailable, oauth.ErrUpstreamUnavailable},
	}
	sentinels := []error{oauth.ErrUpstreamRevoked, oauth.ErrUpstreamUnavailable, ErrCodeRejected, ErrInvalidToken}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			p, err := New(Config{ClientID: "client_1", APIKey: "sk_secret", APIURL: srv.URL,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			check := func(op string, err, want error) {
				t.Helper()
				for _, s := range sentinels {
					wanted := s == want || (want == ErrCodeRejected && s == oauth.ErrUpstreamRevoked)
					if errors.Is(err, s) != wanted {
						t.Errorf("%s: %v: errors.Is(%v) = %v", op, err, s, !wanted)
					}
				}
				for _, secret := range []string{"sk_secret", "rt_secret", "code_secret", "Session has already ended"} {
					if err != nil && strings.Contains(err.Error(), secret) {
						t.Errorf("%s: error %q contains %q", op, err, secret)
					}
				}
			}
			_, err = p.Refresh(context.Background(), &oauth.UpstreamSession{RefreshToken: "rt_secret"})
			check("refresh", err, tt.refresh)
			_, err = p.Exchange(context.Background(), "code_secret", "verifier")
			check("exchange", err, tt.exchange)
		})
	}
}
