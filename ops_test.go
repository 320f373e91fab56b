package main

// The operator's view of the whole product, through its real listeners:
// rate limits reached by real calls, the metrics endpoint held to promtool,
// the request log and the audit trail.

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// signedIn starts a development-mode server with extra flags and returns an
// initialized Streamable HTTP session signed in as email.
func signedIn(ctx context.Context, t *testing.T, email string, extra ...string) (*testServer, *streamable) {
	t.Helper()
	srv := startServerArgs(t, false, "", extra...)
	c := discover(ctx, t, srv.base+"/mcp")
	c.register(ctx, t, "ops client")
	tok := c.authorize(ctx, t, newBrowser(t), email)
	m := newStreamable(ctx, srv.base+"/mcp", tok.AccessToken)
	m.initialize(t)
	return srv, m
}

// An operator's limit is reached by real calls: the third add within the
// minute is an isError result that says when to retry.
func TestToolRateLimitReached(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	_, m := signedIn(ctx, t, "grace@example.com", "-tool-rate-limits", "add=2/1m")
	for i := range 2 {
		r, rerr := callTool(t, m, "add", map[string]any{"a": 1, "b": i})
		if rerr != nil || r.IsError {
			t.Fatalf("call %d within the limit: %+v %v", i, r, rerr)
		}
	}
	r, rerr := callTool(t, m, "add", map[string]any{"a": 1, "b": 2})
	if rerr != nil || !r.IsError || !strings.Contains(r.Content[0].Text, "rate limited: add may be called 2 times per 1m0s by each user; retry after 30 seconds") {
		t.Fatalf("past the limit: %+v %v", r, rerr)
	}
}

// The audit trail in development: sign-in, consent, token issue and a tool
// call are log records, and with -audit-workos they reach the built-in
// emulator through workos-go, which lists them at /_authkit/audit_logs/events.
func TestAuditTrailToEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv, m := signedIn(ctx, t, "ada@example.com", "-audit-workos")
	if r, rerr := callTool(t, m, "add", map[string]any{"a": 2, "b": 3}); rerr != nil || r.IsError {
		t.Fatalf("add: %+v %v", r, rerr)
	}
	want := []string{"user.consented", "user.signed_in", "token.issued", "tool.called"}
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var list struct {
			Data []struct {
				OrganizationID string `json:"organization_id"`
				IdempotencyKey string `json:"idempotency_key"`
				Event          struct {
					Action string `json:"action"`
					Actor  struct{ ID, Name string }
				} `json:"event"`
			} `json:"data"`
		}
		if err := getJSON(ctx, http.DefaultClient, srv.base+"/_authkit/audit_logs/events", &list); err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, e := range list.Data {
			if e.OrganizationID == "" || e.IdempotencyKey == "" || e.Event.Actor.Name != "ada@example.com" {
				t.Fatalf("event without organization, key or actor: %+v", e)
			}
			got = append(got, e.Event.Action)
		}
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulator received %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	logs := srv.logs.String()
	for _, a := range want {
		if !strings.Contains(logs, "msg=audit action="+a) {
			t.Errorf("no audit record for %s in the log", a)
		}
	}
	if !strings.Contains(logs, "tool=add outcome=ok") {
		t.Errorf("the tool call's record lacks its tool or outcome:\n%s", logs)
	}
}
