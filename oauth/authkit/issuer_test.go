package authkit

import (
	"context"
	"crypto/rsa"
	"strings"
	"testing"
	"time"
)

// Every documented form of a WorkOS access token's issuer is accepted by
// default: "<api>/user_management/<client_id>", the older bare API URL
// (with or without a slash), and "<api>/sso/<client_id>". WORKOS_ISSUER
// (Config.Issuers) names others instead: a bare origin, such as a custom
// authentication domain, stands for the same forms under it; an entry with
// a path is matched exactly.
func TestIssuerForms(t *testing.T) {
	k1, _ := testKeys()
	js := newJWKSServer(t, map[string]*rsa.PublicKey{"k1": &k1.PublicKey})
	const cid = "client_1"
	cases := []struct {
		name    string
		issuers []string
		iss     string
		ok      bool
	}{
		{"user management", nil, "{api}/user_management/" + cid, true},
		{"bare API URL", nil, "{api}", true},
		{"bare API URL with a slash", nil, "{api}/", true},
		{"sso", nil, "{api}/sso/" + cid, true},
		{"another client", nil, "{api}/user_management/client_2", false},
		{"another client, sso", nil, "{api}/sso/client_2", false},
		{"another host", nil, "https://api.workos.com/user_management/" + cid, false},
		{"custom domain", []string{"https://auth.example.com"}, "https://auth.example.com/user_management/" + cid, true},
		{"custom domain, sso", []string{"https://auth.example.com/"}, "https://auth.example.com/sso/" + cid, true},
		{"custom domain, bare", []string{"https://auth.example.com"}, "https://auth.example.com", true},
		{"named exactly", []string{"https://auth.example.com/custom"}, "https://auth.example.com/custom", true},
		{"named exactly, no other form", []string{"https://auth.example.com/custom"}, "https://auth.example.com/user_management/" + cid, false},
		{"named ones replace the default", []string{"https://auth.example.com"}, "{api}/user_management/" + cid, false},
		{"two named", []string{"https://auth.example.com", "{api}"}, "{api}/sso/" + cid, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var issuers []string
			for _, i := range c.issuers {
				issuers = append(issuers, strings.ReplaceAll(i, "{api}", js.URL))
			}
			p, err := New(Config{ClientID: cid, APIKey: "sk_test", APIURL: js.URL, Issuers: issuers})
			if err != nil {
				t.Fatal(err)
			}
			claims := validClaims(time.Now())
			claims["iss"] = strings.ReplaceAll(c.iss, "{api}", js.URL)
			_, err = p.verifier.verify(context.Background(), sign(t, k1, "k1", claims))
			if c.ok != (err == nil) {
				t.Fatalf("iss %q with issuers %v: %v, want accepted=%v", claims["iss"], issuers, err, c.ok)
			}
		})
	}
}

// WORKOS_ISSUER is read as a comma separated list, and a value that is not
// an absolute URL is refused at start.
func TestIssuerFromEnv(t *testing.T) {
	env := map[string]string{"WORKOS_CLIENT_ID": "client_1", "WORKOS_CLIENT_SECRET": "sk_test",
		"WORKOS_ISSUER": " https://auth.example.com , https://api.workos.com/user_management/client_1,"}
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Issuers) != 2 || cfg.Issuers[0] != "https://auth.example.com" || cfg.Issuers[1] != "https://api.workos.com/user_management/client_1" {
		t.Fatalf("Issuers %q", cfg.Issuers)
	}
	cfg.Issuers = []string{"auth.example.com"}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "WORKOS_ISSUER") {
		t.Fatalf("New with a relative issuer: %v, want an error naming WORKOS_ISSUER", err)
	}
}
