package main

// Interoperability with the official TypeScript SDK v2 client, which
// speaks the stateless 2026-07-28 revision: .ci/interop2/modern.mjs,
// with the sign-in pages in the distribution's Chromium.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInteropTypeScriptSDKv2 runs .ci/interop2/modern.mjs against the
// product's /mcp in development mode: @modelcontextprotocol/client 2.4.0
// negotiates the era (once 'auto', which must choose 2026-07-28, once
// pinned to it), signs in through the SDK's OAuth with Chromium on the
// consent and emulator pages, as Ada and as Grace; lists the tools each may
// see, calls add, generateImage with progress, and generateImage as a task
// of the tasks extension (by hand with the SDK's token: 2.4.0 has no tasks
// client). bash .ci/interop.sh installs it.
func TestInteropTypeScriptSDKv2(t *testing.T) {
	node, err := lookNode()
	if err != nil {
		skipOrFail(t, "node is not installed")
	}
	dir := filepath.Join(".ci", "interop2")
	for _, p := range []string{
		filepath.Join(ciModules, "@modelcontextprotocol", "client", "package.json"),
		filepath.Join(ciModules, "playwright-core", "package.json"),
	} {
		if _, err := os.Stat(p); err != nil {
			skipOrFail(t, "the TypeScript SDK v2 client or playwright-core is not installed in %s (npm ci)", ciModules)
		}
	}
	chromium := os.Getenv("MCP_BROWSER_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		skipOrFail(t, "no Chromium at %s (apt-get install chromium)", chromium)
	}
	srv := startServer(t, serverConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*flowTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "modern.mjs", srv.base+"/mcp")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MCP_BROWSER_CHROMIUM="+chromium)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	t.Logf("modern.mjs output:\n%s%s", out, stderr.String())
	if err != nil {
		t.Fatalf("modern.mjs: %v", err)
	}
	var wants []string
	for _, mode := range []string{"auto", "pinned"} {
		wants = append(wants,
			mode+" ada: signed in via consent,signin; era modern, protocol 2026-07-28",
			mode+" ada: tools=add,generateImage,whoami",
			mode+" ada: add(2, 3) = 5",
			mode+" ada: generateImage: image/png, progress notifications ",
			mode+" grace: signed in via consent,signin; era modern, protocol 2026-07-28",
			mode+" grace: tools=add,whoami",
			mode+" grace: add(2, 3) = 5",
			mode+": generateImage as a task: working -> completed, image/png; grace's tasks/get: -32602",
		)
	}
	wants = append(wants, "interop-v2: ok")
	for _, want := range wants {
		if !strings.Contains(string(out), want) {
			t.Errorf("modern.mjs did not print %q", want)
		}
	}
}
