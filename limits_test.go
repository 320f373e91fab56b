package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMaxClientsFlag: -max-clients reaches the authorization server, and
// a registration past it is refused with a 503 that names the limit.
func TestMaxClientsFlag(t *testing.T) {
	s := hxStart(t, nil, "-memory", "-max-clients", "2")
	register := func() (int, string) {
		resp, err := http.Post(s.base+"/register", "application/json",
			strings.NewReader(`{"redirect_uris":["http://127.0.0.1:33418/cb"],"token_endpoint_auth_method":"none"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for i := range 2 {
		if code, body := register(); code != http.StatusCreated {
			t.Fatalf("registration %d: %d %s", i+1, code, body)
		}
	}
	if code, body := register(); code != http.StatusServiceUnavailable || !strings.Contains(body, "limit of 2 registered clients") {
		t.Fatalf("third registration: %d %s, want 503 naming the limit of 2", code, body)
	}
}

// TestMaxRequestsPerSessionFlag: the bound on one session's requests in
// flight is the operator's to set (a load test that shares one session
// across many connections raises it), and defaults to mcp's own 16.
func TestMaxRequestsPerSessionFlag(t *testing.T) {
	getenv := func(string) string { return "" }
	cfg, err := parseConfig([]string{"-memory"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.maxInFlight != 16 {
		t.Errorf("default -max-requests-per-session = %d, want 16", cfg.maxInFlight)
	}
	cfg, err = parseConfig([]string{"-memory", "-max-requests-per-session", "64"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.maxInFlight != 64 {
		t.Errorf("-max-requests-per-session 64 parsed as %d", cfg.maxInFlight)
	}
}
