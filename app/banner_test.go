package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"remote-mcp-authkit/oauth/authkittest"
)

// bannerOf starts the server in development sign-in with args, stops it
// once it is listening, and returns what it wrote before that: the banner.
func bannerOf(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var logs syncBuffer
	go func() {
		done <- Run(ctx, append([]string{"-addr", "127.0.0.1:0", "-memory"}, args...),
			func(string) string { return "" }, &logs, Options{Ready: ready})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	out := logs.String()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	return out
}

// The development banner is how a person learns whom to sign in as, so it
// names the users -dev-users loaded, not the built-in ones.
func TestBannerNamesDevUsers(t *testing.T) {
	line := func(out string) string {
		for l := range strings.SplitSeq(out, "\n") {
			if strings.Contains(l, "AuthKit is emulated at") {
				return l
			}
		}
		t.Fatalf("no banner in:\n%s", out)
		return ""
	}

	if got := line(bannerOf(t)); !strings.Contains(got, "(ada@example.com, grace@example.com)") {
		t.Errorf("default banner: %q, want the default demo users", got)
	}

	dir := t.TempDir()
	write := func(users []authkittest.User) string {
		b, err := json.Marshal(users)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("users-%d.json", len(users)))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	two := write([]authkittest.User{
		{Email: "lin@example.org", OrganizationID: "org_x", OrganizationName: "X", Role: "admin", Permissions: []string{"image_generation"}},
		{Email: "kim@example.org", OrganizationID: "org_x", OrganizationName: "X", Role: "member"},
	})
	got := line(bannerOf(t, "-dev-users", two))
	if !strings.Contains(got, "(lin@example.org, kim@example.org)") {
		t.Errorf("banner with -dev-users: %q, want lin@example.org and kim@example.org", got)
	}
	if strings.Contains(got, "ada@example.com") || strings.Contains(got, "grace@example.com") {
		t.Errorf("banner with -dev-users names a default user: %q", got)
	}

	// A long file is cut short, and says how many it left out.
	var many []authkittest.User
	for i := range 11 {
		many = append(many, authkittest.User{Email: fmt.Sprintf("u%d@example.org", i), OrganizationID: "org_x", OrganizationName: "X", Role: "member"})
	}
	got = line(bannerOf(t, "-dev-users", write(many)))
	if !strings.Contains(got, "(u0@example.org, u1@example.org,") || !strings.Contains(got, "u7@example.org, and 3 more)") || strings.Contains(got, "u8@example.org") {
		t.Errorf("banner with 11 users: %q, want the first 8 and \"and 3 more\"", got)
	}
}
