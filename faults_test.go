package main

// Faults of the whole server: a stream outliving the read timeout while the
// user's permissions change upstream; the process killed with SIGKILL
// mid-traffic. Each case asserts what the client sees, in the protocol's
// own form, and that whatever does not need the failed part keeps working.
// The identity provider slow, failing or gone is the authorization
// server's to answer: oauth/authkit_hostile_test.go.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"remote-mcp-authkit/oauth/authkittest"
)

// TestFaultStreamOutlivesReadTimeout: a standalone GET stream stays open
// past the body read deadline and the header timeout, and carries a
// notification sent later (tools/list_changed after the user's permissions
// changed upstream and the client refreshed).
func TestFaultStreamOutlivesReadTimeout(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverConfig{external: true, args: []string{"-read-timeout", "1s"}})
	emu := s.emu
	client, access, rt := s.tokens("ada@example.com")
	sid := s.initialize(access)
	req, _ := http.NewRequest("GET", s.base+"/mcp", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("Mcp-Session-Id", sid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET stream: %d", resp.StatusCode)
	}
	got := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "notifications/tools/list_changed") {
				got <- sc.Text()
				return
			}
		}
		got <- "stream ended: " + resp.Header.Get("Content-Type")
	}()
	time.Sleep(2500 * time.Millisecond) // past -read-timeout
	if err := emu.SetPermissions("ada@example.com", nil); err != nil {
		t.Fatal(err)
	}
	if st, _, out := s.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {client}}); st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	select {
	case line := <-got:
		if !strings.Contains(line, "list_changed") {
			t.Fatalf("no notification: %s", line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no notification on the stream")
	}
}

// hxChildEnv, when set, makes the test binary run the server instead of
// the tests: the kill test starts it as a child process so that it can be
// killed with SIGKILL. The arguments are separated by \x1f; the bound
// address is printed to stdout as "ADDR host:port".
const hxChildEnv = "HOSTILE_TEST_CHILD_ARGS"

func init() {
	args := os.Getenv(hxChildEnv)
	if args == "" {
		return
	}
	ready := make(chan string, 1)
	go func() { fmt.Printf("ADDR %s\n", <-ready) }()
	err := run(context.Background(), strings.Split(args, "\x1f"), os.Getenv, io.Discard, ready)
	fmt.Fprintln(os.Stderr, "run:", err)
	os.Exit(1)
}

// hxChild is one server process on a data directory.
type hxChild struct {
	cmd *exec.Cmd
	srv *testServer
}

func hxStartChild(t *testing.T, env []string, addr, dataDir string) *hxChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append([]string{hxChildEnv + "=" + strings.Join([]string{"-addr", addr, "-data-dir", dataDir}, "\x1f")}, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- l
		io.Copy(io.Discard, out)
	}()
	select {
	case l := <-line:
		addr, ok := strings.CutPrefix(strings.TrimSpace(l), "ADDR ")
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child did not start: %q %s", l, stderr.String())
		}
		return &hxChild{cmd: cmd, srv: &testServer{t: t, base: "http://" + addr, logs: &logBuffer{}}}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child did not start within 30s: %s", stderr.String())
	}
	return nil
}

func (c *hxChild) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

// hxGrant is what a client holds for one grant: everything the server
// acknowledged (returned at /token) and that must therefore survive.
type hxGrant struct {
	client, refresh string
	access          []string
}

// TestFaultKillRestart kills the server with SIGKILL in the middle of
// traffic (MCP calls, code exchanges, registrations, revocations in
// flight), 50 times in a row, restarting it each time on the same data
// directory with the secret it generated there. After every restart, every
// access token the server had returned and still keeps (a grant's newest
// two) opens /mcp and every grant's latest refresh token still refreshes.
func TestFaultKillRestart(t *testing.T) {
	const cycles = 50 // about 5 s with -race: no -short variant needed
	emu := authkittest.NewServer()
	t.Cleanup(emu.Close)
	env := []string{"WORKOS_CLIENT_ID=" + emu.ClientID(), "WORKOS_CLIENT_SECRET=" + emu.APIKey(), "WORKOS_API_URL=" + emu.URL}
	dir := t.TempDir()
	// One address for every restart: tokens are bound to the resource URL,
	// which includes it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var grants []*hxGrant
	var mu sync.Mutex // guards grants during traffic
	var calls, exchanged, registered atomic.Int64
	for cycle := range cycles {
		c := hxStartChild(t, env, addr, dir)
		s := c.srv

		// Everything acknowledged before the last kill still works.
		for _, g := range grants {
			for _, a := range g.access {
				st, h, body := s.do(s.mcpReq(a, "", `{"jsonrpc":"2.0","id":1,"method":"ping"}`))
				if st != http.StatusBadRequest || !strings.Contains(body, "Mcp-Session-Id") {
					c.kill()
					t.Fatalf("cycle %d: acknowledged access token refused: %d %q %s", cycle, st, h.Get("WWW-Authenticate"), body)
				}
			}
			st, _, out := s.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.refresh}, "client_id": {g.client}})
			if st != http.StatusOK {
				c.kill()
				t.Fatalf("cycle %d: acknowledged refresh token refused: %d %v", cycle, st, out)
			}
			g.refresh = out["refresh_token"].(string)
			// A refresh keeps the grant's newest access token and the one
			// before it; older ones are deleted by design, so only these
			// two are still owed.
			g.access = append(g.access[len(g.access)-min(len(g.access), 1):], out["access_token"].(string))
		}
		if len(grants) == 0 {
			client, access, refresh := s.tokens("ada@example.com")
			grants = append(grants, &hxGrant{client: client, refresh: refresh, access: []string{access}})
		}

		// Traffic, then SIGKILL while it is in flight.
		client := s.register()
		code := s.code(client, "grace@example.com")
		access := grants[0].access[len(grants[0].access)-1]
		sid := s.initialize(access)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		quiet := &http.Client{Timeout: 10 * time.Second}
		send := func(req *http.Request) (int, []byte, bool) {
			resp, err := quiet.Do(req)
			if err != nil {
				return 0, nil, false
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, b, err == nil
		}
		wg.Add(3)
		go func() { // MCP calls
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, ok := send(s.mcpReq(access, sid, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"add","arguments":{"a":%d,"b":1}}}`, i+10, i))); !ok {
					return
				}
				calls.Add(1)
			}
		}()
		go func() { // a code exchange: acknowledged only if its answer arrives
			defer wg.Done()
			req, _ := http.NewRequest("POST", s.base+"/token", strings.NewReader(hxCodeForm(client, code).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			st, b, ok := send(req)
			var out map[string]any
			if ok && st == http.StatusOK && json.Unmarshal(b, &out) == nil {
				exchanged.Add(1)
				mu.Lock()
				grants = append(grants, &hxGrant{client: client, refresh: out["refresh_token"].(string), access: []string{out["access_token"].(string)}})
				mu.Unlock()
			}
		}()
		go func() { // registrations: writes in flight
			defer wg.Done()
			b, _ := json.Marshal(map[string]any{"redirect_uris": []string{hxRedirect}, "token_endpoint_auth_method": "none"})
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", s.base+"/register", bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				if _, _, ok := send(req); !ok {
					return
				}
				registered.Add(1)
			}
		}()
		time.Sleep(time.Duration(cycle%5) * 5 * time.Millisecond)
		c.kill()
		close(stop)
		wg.Wait()
		// Bound the work per cycle: keep the newest grants only.
		if len(grants) > 6 {
			grants = append(grants[:1], grants[len(grants)-5:]...)
		}
	}
	t.Logf("%d kills; completed before them: %d MCP calls, %d of %d code exchanges, %d registrations",
		cycles, calls.Load(), exchanged.Load(), cycles, registered.Load())
	// A last restart: the server starts and serves on what it left.
	s := hxStartChild(t, env, addr, dir)
	defer s.kill()
	access := grants[len(grants)-1].access[len(grants[len(grants)-1].access)-1]
	s.srv.serves(access, s.srv.initialize(access))
}
