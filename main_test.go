package main

// End-to-end tests of the whole product: run starts the real server on a
// loopback port, and a client made of net/http and a cookie jar plays both
// the MCP client and the person's browser, through every step an MCP client
// takes (MCP 2025-11-25 basic/authorization, "Authorization Flow Steps"):
//
//  1. POST /mcp without a token: 401 and WWW-Authenticate naming the
//     protected resource metadata (RFC 9728 s5.1);
//  2. that metadata (RFC 9728 s3), then the authorization server's (RFC 8414
//     s3);
//  3. dynamic client registration (RFC 7591 s3);
//  4. /authorize with PKCE S256 (RFC 7636), state and resource (RFC 8707),
//     the consent page and its CSRF-protected form, the AuthKit sign-in page
//     (the emulator's), /callback, and back to the client's redirect URI
//     with a code;
//  5. /token (code grant, then refresh grant), /revoke (RFC 7009);
//
// then MCP itself over both transports: Streamable HTTP at /mcp and the
// 2024-11-05 HTTP+SSE transport at /sse. No part of the server is mocked;
// the pages are parsed from their HTML as a browser would submit them.
//
// The TestInterop tests do the same with other clients' code: the official
// TypeScript SDK (.ci/interop/client.mjs) and the MCP Inspector's CLI. They
// skip when Node or the packages are not installed, unless MCP_INTEROP=1
// (bash .ci/interop.sh installs them and sets it).

import (
	"bufio"
	"bytes"
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

// flowTimeout bounds every test here; a hung stream fails the test instead
// of stalling the package.
const flowTimeout = 60 * time.Second

// eventWait is how long a test waits for an event it expects on a stream.
const eventWait = 10 * time.Second

// ---------------------------------------------------------------------------
// The tests.

// TestWholeFlow is the complete journey of two users, Ada (who holds the
// image_generation permission) and Grace (who does not), against AuthKit
// configured through the environment.
func TestWholeFlow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv := startServer(t, serverConfig{external: true})
	mcpURL, sseURL := srv.base+"/mcp", srv.base+"/sse"

	// Ada's MCP client discovers, registers and signs her in.
	ada := discover(ctx, t, mcpURL)
	if ada.issuer != srv.base {
		t.Fatalf("authorization server %s, want the server itself (%s)", ada.issuer, srv.base)
	}
	ada.register(ctx, t, "Ada's MCP client")
	adaBrowser := newBrowser(t)
	adaTok := ada.authorize(ctx, t, adaBrowser, "ada@example.com")
	if !slices.Equal(adaBrowser.seen, []string{"consent", "signin"}) {
		t.Fatalf("pages seen %v, want consent then AuthKit sign-in", adaBrowser.seen)
	}

	// Streamable HTTP.
	adaMCP := newStreamable(ctx, mcpURL, adaTok.AccessToken)
	adaMCP.initialize(t)
	if got, want := toolNames(t, adaMCP), []string{"add", "whoami", "generateImage"}; !sameSet(got, want) {
		t.Fatalf("Ada's tools %v, want %v", got, want)
	}
	checkAdd(t, adaMCP)
	checkWhoami(t, adaMCP, "ada@example.com")
	checkImage(t, adaMCP)
	adaStream := adaMCP.listen(t)

	// A token is bound to the resource it was issued for (RFC 8707, MCP
	// "Access Token Privilege Restriction"): the /mcp token does not open
	// /sse.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, sseURL, nil)
	req.Header.Set("Authorization", "Bearer "+adaTok.AccessToken)
	req.Header.Set("Accept", "text/event-stream")
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("/sse with a token for /mcp: %s, want 401", res.Status)
		}
	}

	// The same client asks for /sse. The browser approved this client a
	// moment ago, so the consent page is skipped; the sign-in is not.
	adaSSEAuth := discover(ctx, t, sseURL)
	adaSSEAuth.clientID, adaSSEAuth.redirectURI = ada.clientID, ada.redirectURI
	adaSSETok := adaSSEAuth.authorize(ctx, t, adaBrowser, "ada@example.com")
	if !slices.Equal(adaBrowser.seen, []string{"signin"}) {
		t.Fatalf("pages seen on the second authorization %v, want only the sign-in (consent remembered)", adaBrowser.seen)
	}
	adaSSE := openLegacySSE(ctx, t, sseURL, adaSSETok.AccessToken)
	adaSSE.initialize(t)
	if got, want := toolNames(t, adaSSE), []string{"add", "whoami", "generateImage"}; !sameSet(got, want) {
		t.Fatalf("Ada's tools over SSE %v, want %v", got, want)
	}
	checkAdd(t, adaSSE)
	checkWhoami(t, adaSSE, "ada@example.com")

	// Grace, with her own client and browser, sees no generateImage and is
	// told which permission she lacks when she calls it anyway.
	grace := discover(ctx, t, mcpURL)
	grace.register(ctx, t, "Grace's MCP client")
	graceBrowser := newBrowser(t)
	graceTok := grace.authorize(ctx, t, graceBrowser, "grace@example.com")
	graceMCP := newStreamable(ctx, mcpURL, graceTok.AccessToken)
	graceMCP.initialize(t)
	if got, want := toolNames(t, graceMCP), []string{"add", "whoami"}; !sameSet(got, want) {
		t.Fatalf("Grace's tools %v, want %v", got, want)
	}
	checkWhoami(t, graceMCP, "grace@example.com")
	checkRefused(t, graceMCP, "generateImage", "image_generation")
	graceStream := graceMCP.listen(t)

	// Ada's session id with Grace's token: 403, on POST and on GET.
	stolen := newStreamable(ctx, mcpURL, graceTok.AccessToken)
	stolen.sessionID, stolen.version = adaMCP.sessionID, adaMCP.version
	res := stolen.post(t, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("Ada's session with Grace's token: %s, want 403", res.Status)
	}
	getReq := stolen.request(http.MethodGet, nil)
	getReq.Header.Set("Accept", "text/event-stream")
	if res, err := stolen.hc.Do(getReq); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("GET on Ada's session with Grace's token: %s, want 403", res.Status)
		}
	}
	// The same on the SSE transport, with a token of Grace's for /sse.
	graceSSEAuth := discover(ctx, t, sseURL)
	graceSSEAuth.clientID, graceSSEAuth.redirectURI = grace.clientID, grace.redirectURI
	graceSSETok := graceSSEAuth.authorize(ctx, t, graceBrowser, "grace@example.com")
	stolenSSE := &legacySSE{ctx: ctx, hc: &http.Client{}, token: graceSSETok.AccessToken, endpoint: adaSSE.endpoint}
	if st := stolenSSE.send(t, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}); st != http.StatusForbidden {
		t.Fatalf("Ada's SSE session with Grace's token: %d, want 403", st)
	}

	// An administrator takes image_generation away from Ada in AuthKit.
	// Her client refreshes its token, which carries the new permissions:
	// its open stream hears that the tool list changed, and the next list
	// no longer has generateImage.
	if err := srv.emu.SetPermissions("ada@example.com", nil); err != nil {
		t.Fatal(err)
	}
	adaTok2 := ada.refresh(ctx, t, adaTok.RefreshToken)
	isListChanged := func(m *rpcMessage) bool { return m.Method == "notifications/tools/list_changed" }
	adaStream.waitMessage(t, isListChanged)
	adaMCP.token = adaTok2.AccessToken
	if got, want := toolNames(t, adaMCP), []string{"add", "whoami"}; !sameSet(got, want) {
		t.Fatalf("Ada's tools after the change %v, want %v", got, want)
	}
	checkRefused(t, adaMCP, "generateImage", "image_generation")
	// The SSE client holds a grant of its own, for /sse; its refresh brings
	// the change to it too, and tells its stream.
	adaSSETok2 := adaSSEAuth.refresh(ctx, t, adaSSETok.RefreshToken)
	adaSSE.stream.waitMessage(t, isListChanged)
	adaSSE.token = adaSSETok2.AccessToken
	if got, want := toolNames(t, adaSSE), []string{"add", "whoami"}; !sameSet(got, want) {
		t.Fatalf("Ada's tools over SSE after the change %v, want %v", got, want)
	}
	// Grace's session heard nothing: her permissions did not change. (The
	// notifications were sent before the refresh answered; a short wait
	// covers their delivery.)
	graceStream.quiet(t, 300*time.Millisecond)

	// The other way round: Grace is given image_generation, and her
	// client's next refresh brings generateImage to her session.
	if err := srv.emu.SetPermissions("grace@example.com", []string{"image_generation"}); err != nil {
		t.Fatal(err)
	}
	graceTok2 := grace.refresh(ctx, t, graceTok.RefreshToken)
	graceStream.waitMessage(t, isListChanged)
	graceMCP.token = graceTok2.AccessToken
	if got, want := toolNames(t, graceMCP), []string{"add", "whoami", "generateImage"}; !sameSet(got, want) {
		t.Fatalf("Grace's tools after the change %v, want %v", got, want)
	}
	checkImage(t, graceMCP)

	// Revocation (RFC 7009): the access token stops working at once, with
	// a challenge that sends the client back to discovery.
	ada.revoke(ctx, t, adaTok2.AccessToken, "access_token")
	res = adaMCP.post(t, map[string]any{"jsonrpc": "2.0", "id": 99, "method": "tools/list"})
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("/mcp after revocation: %s %q, want 401 invalid_token", res.Status, res.Header.Get("WWW-Authenticate"))
	}
	// Revoking the refresh token ends the grant: it can no longer refresh,
	// and the AuthKit session behind it is ended too.
	revokes := srv.emu.Requests()["revoke"]
	ada.revoke(ctx, t, adaTok2.RefreshToken, "refresh_token")
	_, status, body := ada.token(ctx, t, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {adaTok2.RefreshToken}, "client_id": {ada.clientID},
	})
	if status != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
		t.Fatalf("refresh after revocation: %d %s, want 400 invalid_grant", status, body)
	}
	if n := srv.emu.Requests()["revoke"]; n != revokes+1 {
		t.Fatalf("AuthKit session revocations: %d, want %d", n, revokes+1)
	}
	// Grace is untouched by all of Ada's changes.
	checkAdd(t, graceMCP)

	// An administrator signs Grace out in AuthKit. Her client's next
	// refresh is refused, which revokes the grant: the access token she
	// still holds stops working as well.
	if n := srv.emu.RevokeSessions("grace@example.com"); n == 0 {
		t.Fatal("Grace has no AuthKit session to end")
	}
	_, status, body = grace.token(ctx, t, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {graceTok2.RefreshToken}, "client_id": {grace.clientID}, "resource": {mcpURL},
	})
	if status != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
		t.Fatalf("refresh after the AuthKit session ended: %d %s, want 400 invalid_grant", status, body)
	}
	res = graceMCP.post(t, map[string]any{"jsonrpc": "2.0", "id": 98, "method": "tools/list"})
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/mcp with the access token of a grant whose AuthKit session ended: %s, want 401", res.Status)
	}
}

// TestDevelopmentSignIn is `go run .` with no WorkOS account: the server
// mounts the AuthKit emulator under /_authkit on its own listener, and the
// whole sign-in runs against that one address.
func TestDevelopmentSignIn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv := startServer(t, serverConfig{})
	c := discover(ctx, t, srv.base+"/mcp")
	c.register(ctx, t, "dev client")
	b := newBrowser(t)
	tok := c.authorize(ctx, t, b, "grace@example.com")
	if !slices.Equal(b.seen, []string{"consent", "signin"}) {
		t.Fatalf("pages seen %v", b.seen)
	}
	m := newStreamable(ctx, srv.base+"/mcp", tok.AccessToken)
	m.initialize(t)
	checkWhoami(t, m, "grace@example.com")
	checkAdd(t, m)
	// DELETE ends the session (transports, "Session Management").
	res, err := m.hc.Do(m.request(http.MethodDelete, nil))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent && res.StatusCode != http.StatusOK {
		t.Fatalf("DELETE session: %s", res.Status)
	}
	res = m.post(t, map[string]any{"jsonrpc": "2.0", "id": 5, "method": "tools/list"})
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("request on a deleted session: %s, want 404", res.Status)
	}
}

// TestBaseURLWithPath serves the product under a path of its site
// (-base-url http://host:port/tools), which README documents as the base of
// every endpoint: discovery, sign-in (the development emulator included),
// and MCP over both transports must all live under that path.
func TestBaseURLWithPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv := startServer(t, serverConfig{basePath: "/tools"})
	b := newBrowser(t)
	mcpAuth := discover(ctx, t, srv.base+"/mcp")
	if mcpAuth.issuer != srv.base {
		t.Fatalf("issuer %s, want %s", mcpAuth.issuer, srv.base)
	}
	mcpAuth.register(ctx, t, "client behind a path")
	mcpTok := mcpAuth.authorize(ctx, t, b, "ada@example.com")
	m := newStreamable(ctx, srv.base+"/mcp", mcpTok.AccessToken)
	m.initialize(t)
	checkWhoami(t, m, "ada@example.com")

	sseAuth := discover(ctx, t, srv.base+"/sse")
	sseAuth.clientID, sseAuth.redirectURI = mcpAuth.clientID, mcpAuth.redirectURI
	sseTok := sseAuth.authorize(ctx, t, b, "ada@example.com")
	legacy := openLegacySSE(ctx, t, srv.base+"/sse", sseTok.AccessToken)
	if !strings.HasPrefix(legacy.endpoint, srv.base+"/sse/message?") {
		t.Fatalf("SSE endpoint %s, want one under %s/sse/message", legacy.endpoint, srv.base)
	}
	legacy.initialize(t)
	checkAdd(t, legacy)
}

// TestShutdownWithOpenStreams stops the server (as SIGTERM does) while a
// client holds both kinds of long-lived stream open: run must return
// promptly and cleanly, and both streams must end rather than hang.
func TestShutdownWithOpenStreams(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv := startServer(t, serverConfig{})
	b := newBrowser(t)
	mcpAuth := discover(ctx, t, srv.base+"/mcp")
	mcpAuth.register(ctx, t, "shutdown client")
	mcpTok := mcpAuth.authorize(ctx, t, b, "ada@example.com")
	sseAuth := discover(ctx, t, srv.base+"/sse")
	sseAuth.clientID, sseAuth.redirectURI = mcpAuth.clientID, mcpAuth.redirectURI
	sseTok := sseAuth.authorize(ctx, t, b, "ada@example.com")

	m := newStreamable(ctx, srv.base+"/mcp", mcpTok.AccessToken)
	m.initialize(t)
	get := m.listen(t)
	legacy := openLegacySSE(ctx, t, srv.base+"/sse", sseTok.AccessToken)
	legacy.initialize(t)

	start := time.Now()
	if err := srv.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v with open streams", d)
	}
	for name, st := range map[string]*sseStream{"GET /mcp": get, "GET /sse": legacy.stream} {
		select {
		case <-st.done:
		case <-time.After(5 * time.Second):
			t.Errorf("%s stream still open after shutdown", name)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// ---------------------------------------------------------------------------
// Interoperability with the official TypeScript SDK.

// interopRequired reports whether a missing Node or SDK install is a
// failure (MCP_INTEROP=1, as .ci/interop.sh sets it) rather than a skip.
func interopRequired() bool { return os.Getenv("MCP_INTEROP") == "1" }

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if interopRequired() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format+" (set MCP_INTEROP=1 to make this a failure; bash .ci/interop.sh installs it)", args...)
}

// TestInteropTypeScriptSDK runs .ci/interop/client.mjs, a client built on
// the official TypeScript SDK's Client, StreamableHTTPClientTransport,
// SSEClientTransport and OAuth support: it discovers, registers, signs in
// as Ada through our pages and the AuthKit emulator's, calls tools over both
// transports, and lets the SDK refresh a refused token. In the first run
// the test takes image_generation away from Ada in the emulator midway;
// the SDK's session must hear notifications/tools/list_changed and see
// generateImage gone. The second run serves everything under a base path,
// which the SDK's discovery must follow (RFC 9728 and RFC 8414 path
// insertion).
func TestInteropTypeScriptSDK(t *testing.T) {
	node, err := lookNode()
	if err != nil {
		skipOrFail(t, "node is not installed")
	}
	dir := filepath.Join(".ci", "interop")
	if _, err := os.Stat(filepath.Join(ciModules, "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		skipOrFail(t, "the TypeScript SDK is not installed in %s (npm ci)", ciModules)
	}
	t.Run("permission change", func(t *testing.T) {
		runInteropClient(t, node, dir, startServer(t, serverConfig{external: true}), true)
	})
	t.Run("base URL with a path", func(t *testing.T) {
		runInteropClient(t, node, dir, startServer(t, serverConfig{basePath: "/tools"}), false)
	})
}

// runInteropClient runs client.mjs against srv. With permissionChange the
// server must have an external emulator, through which the test takes
// image_generation away from Ada when the script asks.
func runInteropClient(t *testing.T, node, dir string, srv *testServer, permissionChange bool) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	args := []string{"client.mjs", srv.base + "/mcp"}
	if permissionChange {
		args = []string{"client.mjs", "--permission-change", srv.base + "/mcp"}
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if line == "streamable-http: waiting for a permission change" {
			if err := srv.emu.SetPermissions("ada@example.com", nil); err != nil {
				t.Error(err)
			}
			io.WriteString(stdin, "changed\n")
		}
	}
	err = cmd.Wait()
	t.Logf("client.mjs output:\n%s%s", out.String(), stderr.String())
	if err != nil {
		t.Fatalf("client.mjs: %v", err)
	}
	sseTools := "add,generateImage,whoami"
	if permissionChange {
		sseTools = "add,whoami" // Ada signs in to /sse after the change
	}
	wants := []string{
		"streamable-http: signed in via consent,signin; protocol 2025-11-25",
		"streamable-http: tools=add,generateImage,whoami",
		"streamable-http: add(2, 3) = 5",
		"streamable-http: whoami = ada@example.com",
		"streamable-http: refreshed; add(20, 22) = 42",
		"sse: signed in via signin",
		"sse: tools=" + sseTools,
		"sse: add(2, 3) = 5",
		"sse: whoami = ada@example.com",
		"interop: ok",
	}
	if permissionChange {
		wants = append(wants, "streamable-http: after the permission change: list_changed heard; tools=add,whoami")
	}
	for _, want := range wants {
		if !strings.Contains(out.String(), want+"\n") {
			t.Errorf("client.mjs output lacks %q", want)
		}
	}
}

// TestInteropInspector drives the server with the MCP Inspector's CLI
// (npm @modelcontextprotocol/inspector, --cli mode), a client
// implementation independent of ours, over both transports, with access
// tokens this test obtains through the real sign-in. --strict makes the
// Inspector fail on tool schemas that other clients could not use.
func TestInteropInspector(t *testing.T) {
	node, _ := filepath.Abs(filepath.Join(ciModules, "node", "bin", "node"))
	launcher, _ := filepath.Abs(filepath.Join(ciModules, "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js"))
	for _, p := range []string{node, launcher} {
		if _, err := os.Stat(p); err != nil {
			skipOrFail(t, "the MCP Inspector or its Node 22 is not installed in %s (npm ci)", ciModules)
		}
	}
	srv := startServer(t, serverConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*flowTimeout)
	defer cancel()

	home := t.TempDir() // the Inspector keeps a catalog of servers; not in the real home
	inspect := func(target, token string, args ...string) json.RawMessage {
		t.Helper()
		argv := append([]string{launcher, "--cli", target, "--header", "Authorization: Bearer " + token}, args...)
		cmd := exec.CommandContext(ctx, node, argv...)
		cmd.Env = append(os.Environ(),
			"PATH="+filepath.Dir(node)+string(os.PathListSeparator)+os.Getenv("PATH"),
			"HOME="+home, "MCP_CATALOG_PATH="+filepath.Join(home, "mcp.json"), "NO_COLOR=1")
		cmd.WaitDelay = 5 * time.Second
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if stderr.Len() > 0 {
			t.Logf("inspector %v stderr:\n%s", args, stderr.Bytes())
		}
		if err != nil {
			t.Fatalf("inspector %v: %v\nstdout:\n%s", args, err, out)
		}
		if !json.Valid(out) {
			t.Fatalf("inspector %v printed no JSON:\n%s", args, out)
		}
		return out
	}

	b := newBrowser(t)
	var reg *oauthClient
	for _, tc := range []struct{ path, transport string }{{"/mcp", "http"}, {"/sse", "sse"}} {
		target := srv.base + tc.path
		c := discover(ctx, t, target)
		if reg == nil {
			c.register(ctx, t, "MCP Inspector")
			reg = c
		} else {
			c.clientID, c.redirectURI = reg.clientID, reg.redirectURI
		}
		tok := c.authorize(ctx, t, b, "ada@example.com")

		var list struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		}
		if err := json.Unmarshal(inspect(target, tok.AccessToken, "--transport", tc.transport, "--method", "tools/list", "--strict"), &list); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tool := range list.Tools {
			names = append(names, tool.Name)
		}
		if want := []string{"add", "whoami", "generateImage"}; !sameSet(names, want) {
			t.Fatalf("%s: Inspector's tools/list %v, want %v", tc.transport, names, want)
		}
		var sum toolResult
		if err := json.Unmarshal(inspect(target, tok.AccessToken, "--transport", tc.transport, "--method", "tools/call",
			"--tool-name", "add", "--tool-arg", "a=2", "b=3"), &sum); err != nil {
			t.Fatal(err)
		}
		if sum.IsError || len(sum.Content) != 1 || sum.Content[0].Text != "5" {
			t.Fatalf("%s: Inspector's add(2, 3) = %+v, want 5", tc.transport, sum)
		}
		var who toolResult
		if err := json.Unmarshal(inspect(target, tok.AccessToken, "--transport", tc.transport, "--method", "tools/call",
			"--tool-name", "whoami"), &who); err != nil {
			t.Fatal(err)
		}
		if who.IsError || !strings.Contains(string(who.StructuredContent), `"ada@example.com"`) {
			t.Fatalf("%s: Inspector's whoami = %+v", tc.transport, who)
		}
		cmd := exec.CommandContext(ctx, node, launcher, "--cli", target, "--transport", tc.transport, "--method", "tools/list")
		cmd.Env = append(os.Environ(), "HOME="+home, "MCP_CATALOG_PATH="+filepath.Join(home, "mcp.json"), "NO_COLOR=1")
		cmd.WaitDelay = 5 * time.Second
		// Without a token the Inspector meets the 401 challenge and, with
		// nobody at a browser, stops asking for a sign-in.
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "auth_required") {
			t.Fatalf("%s: Inspector without a token: %v\n%s\nwant a failure asking for authorization", tc.transport, err, out)
		}
	}
}
