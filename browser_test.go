package main

// The HTML pages a person sees (consent, the AuthKit emulator's sign-in,
// the error pages) tested in a real browser: .ci/browser/signin.mjs drives
// the distribution's Chromium through playwright-core against a server
// started here in-process. .ci/browser.sh installs both and runs this test.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// browserPrereqs returns why the browser test cannot run here, or "".
func browserPrereqs() string {
	chromium := os.Getenv("MCP_BROWSER_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		return "no Chromium at " + chromium + " (apt-get install chromium, or run .ci/browser.sh)"
	}
	if _, err := lookNode(); err != nil {
		return "no node on PATH"
	}
	if _, err := os.Stat(filepath.Join(ciModules, "playwright-core")); err != nil {
		return "playwright-core is not installed (npm ci in .ci, or run .ci/browser.sh)"
	}
	return ""
}

// TestBrowserSignIn runs the whole sign-in as a person would: consent,
// sign-in with a demo user, back to the client with a code that buys a
// token for /mcp; remembered consent; Deny; error pages; a phone-sized
// screen; no console errors; no framing; no consent posted from a page on
// another local port with a planted nonce. See .ci/browser/signin.mjs.
func TestBrowserSignIn(t *testing.T) {
	if why := browserPrereqs(); why != "" {
		if os.Getenv("MCP_BROWSER") == "1" {
			t.Fatal("MCP_BROWSER=1 but the browser test cannot run: " + why)
		}
		t.Skip(why)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// No WorkOS account: the emulator's sign-in page is the one tested.
	srv := startServer(t, serverConfig{})

	shots := os.Getenv("MCP_BROWSER_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	nodeCtx, nodeCancel := context.WithTimeout(ctx, 3*time.Minute)
	defer nodeCancel()
	node, _ := lookNode()
	cmd := exec.CommandContext(nodeCtx, node, filepath.Join(".ci", "browser", "signin.mjs"), srv.base)
	cmd.Env = append(os.Environ(), "MCP_BROWSER_SCREENSHOTS="+shots)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("browser run:\n%s", out)
	if err != nil {
		t.Fatalf("browser run failed: %v", err)
	}
	if !bytes.Contains(out, []byte("checks passed")) {
		t.Fatalf("browser run ended without its closing line")
	}
}
