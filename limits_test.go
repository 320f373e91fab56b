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
	s := startServer(t, serverConfig{args: []string{"-max-clients", "2"}})
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
