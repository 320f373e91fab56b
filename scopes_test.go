package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestInitialScopeDefault: by default the 401 and the protected resource
// metadata name every scope, so that a client that cannot step up still
// reaches every tool; the consent page then offers each, and a person who
// approves only the baseline gives the client the basic tools alone.
func TestInitialScopeDefault(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv := startServer(t, serverConfig{})
	mcpURL := srv.base + "/mcp"
	res, err := http.Post(mcpURL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	scope := challengeParam(res.Header.Get("WWW-Authenticate"), "scope")
	if scope != "tools:basic image_generation" {
		t.Fatalf("401 challenge %q", res.Header.Get("WWW-Authenticate"))
	}
	c := discover(ctx, t, mcpURL)
	c.register(ctx, t, "Ada's client")
	c.scope = scope
	b := newBrowser(t)
	tok := c.authorize(ctx, t, b, "ada@example.com")
	if tok.Scope != scope || !slices.Equal(b.scopeBoxes, []string{"tools:basic", "image_generation"}) {
		t.Fatalf("token scope %q, consent boxes %v", tok.Scope, b.scopeBoxes)
	}
	if err := run(ctx, []string{"-initial-scope", "some"}, func(string) string { return "" }, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "want all or baseline") {
		t.Error("-initial-scope some was accepted")
	}
}

// TestStepUp is least privilege end to end through real HTTP: Ada's
// client asks for the baseline scope the 401 names, sees the basic tools
// only, meets 403 insufficient_scope calling generateImage, re-authorizes
// with the scopes the challenge names, approves on a consent page that
// shows only the new scope, and the retried call works. A refresh cannot
// widen a token instead, and Grace, who lacks the permission, still gets
// -32602 naming it: no step-up can help her.
func TestStepUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv := startServer(t, serverConfig{env: map[string]string{"INITIAL_SCOPE": "baseline"}})
	mcpURL := srv.base + "/mcp"

	// With INITIAL_SCOPE=baseline the 401 names the baseline scope (MCP
	// 2026-07-28 "Scope Selection Strategy").
	res, err := http.Post(mcpURL, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	scope := challengeParam(res.Header.Get("WWW-Authenticate"), "scope")
	if res.StatusCode != http.StatusUnauthorized || scope != "tools:basic" {
		t.Fatalf("401 challenge %q (status %d), want scope=\"tools:basic\"", res.Header.Get("WWW-Authenticate"), res.StatusCode)
	}

	ada := discover(ctx, t, mcpURL)
	ada.register(ctx, t, "Ada's note taker")
	ada.scope = scope
	b := newBrowser(t)
	tok := ada.authorize(ctx, t, b, "ada@example.com")
	if tok.Scope != "tools:basic" || !slices.Equal(b.scopeBoxes, []string{"tools:basic"}) {
		t.Fatalf("baseline sign-in: token scope %q, consent boxes %v", tok.Scope, b.scopeBoxes)
	}
	low := newStreamable(ctx, mcpURL, tok.AccessToken)
	low.initialize(t)
	if got := toolNames(t, low); !sameSet(got, []string{"add", "whoami"}) {
		t.Fatalf("tools with the baseline scope %v", got)
	}
	checkAdd(t, low)

	// generateImage: Ada holds the permission, the token lacks the scope.
	res = low.post(t, map[string]any{"jsonrpc": "2.0", "id": 99, "method": "tools/call",
		"params": map[string]any{"name": "generateImage", "arguments": map[string]any{"prompt": "a lighthouse"}}})
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	challenge := res.Header.Get("WWW-Authenticate")
	if res.StatusCode != http.StatusForbidden || challengeParam(challenge, "error") != "insufficient_scope" ||
		challengeParam(challenge, "scope") != "tools:basic image_generation" ||
		challengeParam(challenge, "resource_metadata") != srv.base+"/.well-known/oauth-protected-resource/mcp" {
		t.Fatalf("generateImage without the scope: %d, WWW-Authenticate %q, body %s", res.StatusCode, challenge, body)
	}
	var m rpcMessage
	if err := json.Unmarshal(body, &m); err != nil || m.Error == nil || string(m.ID) != "99" || !strings.Contains(m.Error.Message, "image_generation") {
		t.Fatalf("403 body %s", body)
	}

	// A refresh cannot widen the token (RFC 6749 s6).
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {ada.clientID},
		"scope": {"tools:basic image_generation"}}
	if _, status, body := ada.token(ctx, t, form); status != http.StatusBadRequest || !strings.Contains(body, `"invalid_scope"`) {
		t.Fatalf("widening refresh: %d %s", status, body)
	}

	// Step-up: the client asks for what the challenge names; the person
	// sees the consent page again, with only the new scope to approve.
	ada.scope = challengeParam(challenge, "scope")
	tok2 := ada.authorize(ctx, t, b, "ada@example.com")
	if !slices.Equal(b.seen, []string{"consent", "signin"}) || !slices.Equal(b.scopeBoxes, []string{"image_generation"}) {
		t.Fatalf("step-up pages %v, consent boxes %v; want consent with image_generation only", b.seen, b.scopeBoxes)
	}
	if tok2.Scope != "tools:basic image_generation" {
		t.Fatalf("stepped-up token scope %q", tok2.Scope)
	}
	high := newStreamable(ctx, mcpURL, tok2.AccessToken)
	high.initialize(t)
	if got := toolNames(t, high); !sameSet(got, []string{"add", "whoami", "generateImage"}) {
		t.Fatalf("tools after step-up %v", got)
	}
	checkImage(t, high)

	// The same scopes again: remembered, no consent page.
	ada.authorize(ctx, t, b, "ada@example.com")
	if !slices.Equal(b.seen, []string{"signin"}) {
		t.Errorf("pages seen asking for approved scopes again: %v", b.seen)
	}

	// Grace lacks the permission: asking for its scope gets her the
	// baseline only, and the tool is refused naming the permission.
	grace := discover(ctx, t, mcpURL)
	grace.register(ctx, t, "Grace's client")
	grace.scope = "tools:basic image_generation"
	gtok := grace.authorize(ctx, t, newBrowser(t), "grace@example.com")
	if gtok.Scope != "tools:basic" {
		t.Fatalf("Grace's token scope %q", gtok.Scope)
	}
	gm := newStreamable(ctx, mcpURL, gtok.AccessToken)
	gm.initialize(t)
	checkRefused(t, gm, "generateImage", "image_generation")
}

// challengeParam reads one auth-param of a WWW-Authenticate Bearer
// challenge (RFC 9110 s11.2: quoted-string values, as ours are).
func challengeParam(h, name string) string {
	i := strings.Index(h, name+`="`)
	if i < 0 {
		return ""
	}
	rest := h[i+len(name)+2:]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}

// TestInteropStepUp runs .ci/interop2/stepup.mjs: the MCP TypeScript SDK v2
// client (@modelcontextprotocol/client) signs in with the baseline scope
// (the one the 401 names under -initial-scope baseline, or, on the default,
// the one the person leaves ticked on the consent page), calls
// generateImage, meets 403 insufficient_scope, and steps up through our
// consent page in a real Chromium (playwright-core), which shows only the
// new scope; the retried call returns an image.
func TestInteropStepUp(t *testing.T) {
	node, err := lookNode()
	if err != nil {
		skipOrFail(t, "node is not installed")
	}
	dir := filepath.Join(".ci", "interop2")
	for _, p := range []string{"@modelcontextprotocol/client", "playwright-core"} {
		if _, err := os.Stat(filepath.Join(ciModules, p, "package.json")); err != nil {
			skipOrFail(t, "%s is not installed in %s (npm ci)", p, ciModules)
		}
	}
	chromium := os.Getenv("MCP_BROWSER_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		skipOrFail(t, "no Chromium at %s (apt-get install chromium)", chromium)
	}
	for _, tc := range []struct {
		name, initial, flag, firstBoxes string
	}{
		// The SDK asks for what the 401 names, the baseline.
		{"initial scope baseline", "baseline", "", "tools:basic"},
		// The SDK asks for every scope; the person allows the baseline only.
		{"person unticks", "all", "--untick", "tools:basic,image_generation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runStepUp(t, node, dir, chromium, startServer(t, serverConfig{env: map[string]string{"INITIAL_SCOPE": tc.initial}}), tc.flag, tc.firstBoxes)
		})
	}
}

func runStepUp(t *testing.T, node, dir, chromium string, srv *testServer, flag, firstBoxes string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"stepup.mjs", srv.base + "/mcp"}
	if flag != "" {
		args = []string{"stepup.mjs", flag, srv.base + "/mcp"}
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MCP_BROWSER_CHROMIUM="+chromium)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("stepup.mjs output:\n%s", out)
	if err != nil {
		t.Fatalf("stepup.mjs: %v", err)
	}
	for _, want := range []string{
		"sign-in: consent page asks about " + firstBoxes,
		"baseline: tools=add,whoami",
		"step-up: pages consent,signin",
		"step-up: consent page asks about image_generation",
		"stepped up: generateImage returned image",
		"stepped up: tools=add,generateImage,whoami",
		"interop2: ok",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("stepup.mjs output lacks %q", want)
		}
	}
}
