package oauth

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// Config.OnEvent hears each step of a client's life with who and which
// client, and never a token or a code.
func TestOnEvent(t *testing.T) {
	var mu sync.Mutex
	var got []Event
	e := newEnv(t, func(c *Config) {
		c.OnEvent = func(_ context.Context, ev Event) {
			mu.Lock()
			got = append(got, ev)
			mu.Unlock()
		}
	})
	clientID, _, rt := e.tokens()
	st, out, _ := e.token(refreshForm(clientID, rt), "", "")
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	e.clock.Advance(time.Hour)
	// The new token used: the first one is spent for good, and its
	// return is reuse (RFC 9700 s4.14.2).
	st, out, _ = e.token(refreshForm(clientID, out["refresh_token"].(string)), "", "")
	if st != 200 {
		t.Fatalf("second refresh: %d %v", st, out)
	}
	if st, _, _ := e.token(refreshForm(clientID, rt), "", ""); st != 400 {
		t.Fatalf("reused refresh token: %d, want 400", st)
	}
	mu.Lock()
	defer mu.Unlock()
	var kinds []string
	for _, ev := range got {
		kinds = append(kinds, ev.Kind+"/"+ev.GrantType)
		if strings.Contains(ev.Kind, "token") || ev.Kind == EventSignedIn || ev.Kind == EventConsented {
			if ev.Identity == nil || ev.Identity.Subject == "" || ev.ClientID != clientID || ev.GrantID == "" {
				t.Errorf("%s without who or which client: %+v", ev.Kind, ev)
			}
		}
		for _, v := range []string{rt, out["access_token"].(string), out["refresh_token"].(string)} {
			if strings.Contains(ev.ClientName+ev.GrantID+ev.UserAgent+ev.RemoteAddr, v) {
				t.Errorf("%s carries a token", ev.Kind)
			}
		}
	}
	want := "client.registered/ user.consented/ user.signed_in/ token.issued/authorization_code token.issued/refresh_token token.issued/refresh_token token.reused/ grant.revoked/"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("events %s\nwant   %s", strings.Join(kinds, " "), want)
	}
	if got[2].RemoteAddr != "127.0.0.1" || got[0].UserAgent == "" {
		t.Errorf("request context missing: %+v %+v", got[2], got[0])
	}
	// A remembered approval skips the page: a sign-in, no new consent.
	got = got[:0]
	mu.Unlock()
	e.authorize(clientID)
	mu.Lock()
	if len(got) != 1 || got[0].Kind != EventSignedIn {
		t.Fatalf("remembered consent: %+v", got)
	}
}

// A per-address limit's refusal is an event naming the endpoint.
func TestOnEventRateLimited(t *testing.T) {
	var mu sync.Mutex
	n := map[string]int{}
	e := newEnv(t, func(c *Config) {
		c.RegistrationBurst = 1
		c.RegistrationRate = time.Hour
		c.OnEvent = func(_ context.Context, ev Event) {
			mu.Lock()
			n[ev.Kind+"/"+ev.Endpoint]++
			mu.Unlock()
		}
	})
	meta := map[string]any{"redirect_uris": []string{testRedirect}, "token_endpoint_auth_method": "none"}
	e.register(meta)
	if st, _ := e.register(meta); st != 429 {
		t.Fatalf("second registration: %d, want 429", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if n["rate_limited/register"] != 1 || n["client.registered/"] != 1 {
		t.Fatalf("events %v", n)
	}
}
