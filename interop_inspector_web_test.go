package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInteropInspectorWeb follows README.md's MCP Inspector steps in the
// Inspector's own web UI, the one `npx @modelcontextprotocol/inspector`
// starts (the version .ci/package.json pins, which the README names): a
// real Chromium adds the server, turns the Connect switch, signs in through
// our consent page and the emulator's, and calls add, over Streamable HTTP
// and over HTTP+SSE (.ci/interop/inspector-web.mjs). The server runs as the
// README starts it, on localhost with the development sign-in; the
// Inspector on the ports CLIENT_PORT and SERVER_PORT give it.
func TestInteropInspectorWeb(t *testing.T) {
	node, _ := filepath.Abs(filepath.Join(ciModules, "node", "bin", "node"))
	launcher, _ := filepath.Abs(filepath.Join(ciModules, "@modelcontextprotocol", "inspector", "clients", "launcher", "build", "index.js"))
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("MCP_INTEROP") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (bash .ci/interop.sh installs it)", args...)
	}
	for _, p := range []string{node, launcher, filepath.Join(ciModules, "playwright-core", "package.json")} {
		if _, err := os.Stat(p); err != nil {
			missing("%s is not installed (npm ci in .ci)", p)
		}
	}
	chromium := os.Getenv("MCP_BROWSER_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing("no Chromium at %s (apt-get install chromium)", chromium)
	}

	// The server, as `go run .` starts it but on a free port.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := fmt.Sprintf("http://localhost:%d", freePort(t))
	startServer(t, serverConfig{args: []string{"-addr", strings.TrimPrefix(base, "http://")}})

	// The Inspector's web UI, in its own process group so that every
	// process it starts ends with the test.
	home := t.TempDir() // its server list and settings; not in the real home
	cmd := exec.Command(node, launcher, "--web")
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Dir(node)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+home, "MCP_CATALOG_PATH="+filepath.Join(home, "mcp.json"),
		fmt.Sprintf("CLIENT_PORT=%d", freePort(t)), fmt.Sprintf("SERVER_PORT=%d", freePort(t)),
		"MCP_APP_ORIGIN_PORT=0", "MCP_AUTO_OPEN_ENABLED=false", "MCP_INSPECTOR_SECRET_STORE=memory", "NO_COLOR=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var inspectorErr logBuffer
	cmd.Stderr = &inspectorErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		waited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-waited
		}
	}()
	urlRE := regexp.MustCompile(`http://127\.0\.0\.1:\d+\?MCP_INSPECTOR_API_TOKEN=[0-9a-f]+`)
	found := make(chan string, 1)
	var inspectorOut logBuffer
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			inspectorOut.Write([]byte(sc.Text() + "\n"))
			if u := urlRE.FindString(sc.Text()); u != "" {
				select {
				case found <- u:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var inspectorURL string
	select {
	case inspectorURL = <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("the Inspector printed no URL within 60s:\n%s%s", inspectorOut.String(), inspectorErr.String())
	}

	shots := os.Getenv("MCP_BROWSER_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	for _, tc := range []struct{ transport, path string }{{"streamable-http", "/mcp"}, {"sse", "/sse"}} {
		t.Run(tc.transport, func(t *testing.T) {
			nctx, ncancel := context.WithTimeout(ctx, 3*time.Minute)
			defer ncancel()
			c := exec.CommandContext(nctx, node, filepath.Join(".ci", "interop", "inspector-web.mjs"), inspectorURL, base+tc.path, tc.transport)
			c.Env = append(os.Environ(), "MCP_BROWSER_CHROMIUM="+chromium, "MCP_BROWSER_SCREENSHOTS="+shots)
			c.WaitDelay = 5 * time.Second
			out, err := c.CombinedOutput()
			t.Logf("inspector-web.mjs:\n%s", out)
			if err != nil || !strings.Contains(string(out), "inspector-web: ok\n") {
				t.Fatalf("inspector-web.mjs: %v\nInspector:\n%s%s", err, inspectorOut.String(), inspectorErr.String())
			}
		})
	}
}
