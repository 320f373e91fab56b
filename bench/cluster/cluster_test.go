// Package cluster runs the replicated server for real: two replica
// processes (the replicas module's cmd/replica) on one PostgreSQL, behind
// haproxy balancing round robin with no stickiness, and checks what issue 13
// asks of them through real HTTP. It needs DATABASE_URL (a PostgreSQL the
// test may write to) and haproxy on PATH (or HAPROXY); .ci/replicas.sh
// provides both. Without them it skips.
package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"remote-mcp-authkit/bench/internal/signin"
)

// replica is one server process.
type replica struct {
	name string
	url  string
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

type cluster struct {
	lb       string // the balancer's URL, the public base URL
	replicas []*replica
	haproxy  *exec.Cmd
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// syncBuffer is a bytes.Buffer a process's output and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func waitReady(t *testing.T, u string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(u + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s/readyz not 200 within %v", u, within)
}

func getStatus(u string) (int, error) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func waitStatus(t *testing.T, u string, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := getStatus(u)
		if st == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %v, want %d within %v", u, st, err, want, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startCluster builds cmd/replica, starts n replicas with args and haproxy
// in front.
func startCluster(t *testing.T, n int, args ...string) *cluster {
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		t.Skip("DATABASE_URL is not set; .ci/replicas.sh starts PostgreSQL and haproxy and sets it")
	}
	haproxy := os.Getenv("HAPROXY")
	if haproxy == "" {
		haproxy = "haproxy"
	}
	if _, err := exec.LookPath(haproxy); err != nil {
		t.Skipf("haproxy not found (%v); .ci/replicas.sh installs it", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "replica")
	build := exec.Command("go", "build", "-o", bin, "./cmd/replica")
	build.Dir = filepath.Join("..", "..", "replicas")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/replica: %v\n%s", err, out)
	}
	var secret [32]byte
	rand.Read(secret[:])
	c := &cluster{lb: "http://127.0.0.1:" + freePort(t)}
	cfg := fmt.Sprintf(`global
	maxconn 2000
defaults
	mode http
	timeout connect 1s
	timeout client 60s
	timeout server 60s
	# A connection refused by a dead replica is retried on another.
	retries 3
	option redispatch
frontend fe
	bind %s
	default_backend replicas
backend replicas
	balance roundrobin
	option httpchk GET /readyz
	http-check expect status 200
`, strings.TrimPrefix(c.lb, "http://"))
	for i := range n {
		r := &replica{name: fmt.Sprintf("r%d", i), url: "http://127.0.0.1:" + freePort(t), logs: &bytes.Buffer{}}
		out := &syncBuffer{}
		r.cmd = exec.Command(bin, append([]string{"-addr", strings.TrimPrefix(r.url, "http://"), "-base-url", c.lb}, args...)...)
		r.cmd.Env = append(os.Environ(), "DATABASE_URL="+dsn, "SERVER_SECRET="+base64.StdEncoding.EncodeToString(secret[:]),
			"REPLICA_LEASE="+clusterLease.String())
		r.cmd.Stdout, r.cmd.Stderr = out, out
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			r.cmd.Process.Kill()
			r.cmd.Wait()
			if t.Failed() {
				out.mu.Lock()
				t.Logf("replica %s output:\n%s", r.name, out.String())
				out.mu.Unlock()
			}
		})
		cfg += fmt.Sprintf("\tserver %s %s check inter 200ms fall 2 rise 2\n", r.name, strings.TrimPrefix(r.url, "http://"))
		c.replicas = append(c.replicas, r)
	}
	for _, r := range c.replicas {
		waitReady(t, r.url, 60*time.Second)
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	hout := &syncBuffer{}
	c.haproxy = exec.Command(haproxy, "-f", cfgPath, "-db")
	c.haproxy.Stdout, c.haproxy.Stderr = hout, hout
	if err := c.haproxy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.haproxy.Process.Kill()
		c.haproxy.Wait()
		if t.Failed() {
			t.Logf("haproxy output:\n%s", hout.String())
		}
	})
	waitReady(t, c.lb, 20*time.Second)
	return c
}

// client is an MCP client on one base URL.
type client struct {
	base, token, session string
	http                 *http.Client
}

func newClient(base, token string) *client {
	return &client{base: base, token: token, http: &http.Client{Timeout: 10 * time.Second}}
}

// post sends one JSON-RPC message to /mcp and returns the status and body.
func (c *client) post(ctx context.Context, body string) (int, string, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/mcp", strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	if c.session != "" {
		req.Header.Set("Mcp-Session-Id", c.session)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header, err
}

// initialize opens a legacy (2025-11-25) session.
func (c *client) initialize(ctx context.Context) error {
	c.session = ""
	st, body, h, err := c.post(ctx, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"cluster-test","version":"1"}}}`)
	if err != nil {
		return err
	}
	if st != 200 || h.Get("Mcp-Session-Id") == "" {
		return fmt.Errorf("initialize: %d %s", st, body)
	}
	c.session = h.Get("Mcp-Session-Id")
	st, body, _, err = c.post(ctx, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if err != nil {
		return err
	}
	if st != 202 {
		return fmt.Errorf("notifications/initialized: %d %s", st, body)
	}
	return nil
}

// add calls the add tool and checks the sum.
func (c *client) add(ctx context.Context, a, b int) error {
	st, body, _, err := c.post(ctx, fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"add","arguments":{"a":%d,"b":%d}}}`, a, b))
	if err != nil {
		return err
	}
	if st != 200 {
		return fmt.Errorf("tools/call: %d %s", st, body)
	}
	var out struct {
		Result struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
			IsError bool `json:"isError"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Result.IsError || len(out.Result.Content) == 0 ||
		!strings.Contains(out.Result.Content[0].Text, fmt.Sprint(a+b)) {
		return fmt.Errorf("tools/call result %s", body)
	}
	return nil
}

func signIn(t *testing.T, base, email, clientID string) *signin.Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := signin.SignIn(ctx, signin.Options{BaseURL: base, Email: email, ClientName: "cluster-test", ClientID: clientID})
	if err != nil {
		t.Fatalf("sign-in through %s: %v", base, err)
	}
	return tok
}

// refresh redeems a refresh token at base's token endpoint.
func refresh(base string, tok *signin.Token) (*signin.Token, error) {
	resp, err := http.PostForm(base+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_id": {tok.ClientID}, "resource": {base + "/mcp"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("refresh: %d %s", resp.StatusCode, b)
	}
	var next signin.Token
	if err := json.Unmarshal(b, &next); err != nil {
		return nil, err
	}
	next.ClientID = tok.ClientID
	return &next, nil
}

func TestCluster(t *testing.T) {
	// Limits low enough for the subtests below to reach them across the
	// replicas: ada holds at most 5 sessions at once elsewhere (the kill
	// test's 4 and the legacy one).
	c := startCluster(t, 2, "-max-sessions-per-user", fmt.Sprint(clusterSessionLimit), "-tool-rate-limits", fmt.Sprintf("generateImage=%d/%s", clusterImageLimit, clusterImagePeriod))
	ctx := context.Background()

	// Every request of the sign-in (discovery, registration, consent with
	// its cookies and CSRF token, the emulated AuthKit, the callback, the
	// token endpoint) may land on either replica.
	tok := signIn(t, c.lb, "ada@example.com", "")

	t.Run("legacy session through the balancer", func(t *testing.T) {
		cl := newClient(c.lb, tok.AccessToken)
		if err := cl.initialize(ctx); err != nil {
			t.Fatal(err)
		}
		// Round robin: consecutive calls alternate between the replicas,
		// so half of them name a session the other replica opened.
		for i := range 10 {
			if err := cl.add(ctx, i, 1); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
	})

	t.Run("HTTP+SSE through the balancer", func(t *testing.T) {
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		// A token for the /sse resource (RFC 8707: its own audience).
		tok, err := signin.SignIn(sctx, signin.Options{BaseURL: c.lb, Resource: c.lb + "/sse", Email: "ada@example.com", ClientID: tok.ClientID})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(sctx, "GET", c.lb+"/sse", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET /sse: %d", resp.StatusCode)
		}
		events := make(chan [2]string, 16) // event, data
		go func() {
			defer close(events)
			sc := bufio.NewScanner(resp.Body)
			var ev, data string
			for sc.Scan() {
				switch line := sc.Text(); {
				case line == "":
					if data != "" {
						events <- [2]string{ev, data}
					}
					ev, data = "", ""
				case strings.HasPrefix(line, "event:"):
					ev = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
				case strings.HasPrefix(line, "data:"):
					data = strings.TrimSpace(strings.TrimPrefix(line, "data:"))
				}
			}
		}()
		next := func() [2]string {
			select {
			case e, ok := <-events:
				if !ok {
					t.Fatal("the stream ended")
				}
				return e
			case <-sctx.Done():
				t.Fatal("no event")
			}
			return [2]string{}
		}
		endpoint := next()
		if endpoint[0] != "endpoint" {
			t.Fatalf("first event %v", endpoint)
		}
		post := func(body string) {
			req, _ := http.NewRequestWithContext(sctx, "POST", c.lb+endpoint[1], strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 202 {
				t.Fatalf("POST %s: %d", body, resp.StatusCode)
			}
		}
		post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"cluster-test","version":"1"}}}`)
		if e := next(); !strings.Contains(e[1], `"protocolVersion"`) {
			t.Fatalf("initialize answer %v", e)
		}
		post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		// Round robin: these POSTs alternate between the replicas, and
		// every answer comes on the one stream.
		for i := range 6 {
			post(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"add","arguments":{"a":%d,"b":1}}}`, 10+i, i))
			if e := next(); !strings.Contains(e[1], fmt.Sprintf(`"id":%d`, 10+i)) || !strings.Contains(e[1], fmt.Sprint(i+1)) {
				t.Fatalf("call %d: answer %v", i, e)
			}
		}
		// Messages larger than an event carries (4 KiB): twice, so that
		// one lands on the replica not holding the stream, which relays
		// it through the store.
		pad := strings.Repeat("x", 6000)
		for i := range 2 {
			post(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"ping","params":{"_meta":{"pad":%q}}}`, 20+i, pad))
			if e := next(); !strings.Contains(e[1], fmt.Sprintf(`"id":%d`, 20+i)) || !strings.Contains(e[1], `"result"`) {
				t.Fatalf("large message %d: answer %v", i, e)
			}
		}
	})

	t.Run("task polled on the other replica", func(t *testing.T) {
		grace := signIn(t, c.lb, "grace@example.com", tok.ClientID)
		testTaskOnTheOtherReplica(t, c, tok.AccessToken, grace.AccessToken)
	})

	t.Run("tool rate limit across replicas", func(t *testing.T) {
		testRateLimitAcrossReplicas(t, c, tok.AccessToken)
	})

	t.Run("sessions per user across replicas", func(t *testing.T) {
		grace := signIn(t, c.lb, "grace@example.com", tok.ClientID)
		testSessionLimitAcrossReplicas(t, c, grace.AccessToken)
	})

	t.Run("revocation refused on the other replica", func(t *testing.T) {
		tk := signIn(t, c.lb, "grace@example.com", tok.ClientID)
		a, b := newClient(c.replicas[0].url, tk.AccessToken), newClient(c.replicas[1].url, tk.AccessToken)
		// Both replicas check the token and cache it.
		for _, cl := range []*client{a, b} {
			if err := cl.initialize(ctx); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		resp, err := http.PostForm(c.replicas[0].url+"/revoke", url.Values{"token": {tk.RefreshToken}, "client_id": {tk.ClientID}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("revoke: %d", resp.StatusCode)
		}
		revoked := time.Now()
		for {
			st, _, _, err := b.post(ctx, `{"jsonrpc":"2.0","id":3,"method":"ping"}`)
			if err == nil && st == 401 {
				break
			}
			if time.Since(revoked) > time.Second {
				t.Fatalf("the other replica still answers %d (%v) a second after the revocation", st, err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Logf("revocation on %s refused on %s %v after the revoke response (%v after the request)",
			c.replicas[0].name, c.replicas[1].name, time.Since(revoked).Round(100*time.Microsecond), time.Since(start).Round(100*time.Microsecond))
	})

	t.Run("one code redeemed on two replicas at once", func(t *testing.T) {
		winners := 0
		defer func() {
			t.Logf("one code sent to both replicas at once, 5 times: %d redeemed once, %d refused on both (the replay revoked the grant first)", winners, 5-winners)
		}()
		for round := range 5 {
			type answer struct {
				status int
				body   string
			}
			answers := make(chan answer, 2)
			_, err := signin.SignIn(ctx, signin.Options{BaseURL: c.lb, Email: "ada@example.com", ClientID: tok.ClientID,
				Redeem: func(ctx context.Context, _ string, form url.Values) (*signin.Token, error) {
					var wg sync.WaitGroup
					for _, r := range c.replicas {
						wg.Go(func() {
							resp, err := http.PostForm(r.url+"/token", form)
							if err != nil {
								answers <- answer{0, err.Error()}
								return
							}
							defer resp.Body.Close()
							b, _ := io.ReadAll(resp.Body)
							answers <- answer{resp.StatusCode, string(b)}
						})
					}
					wg.Wait()
					return nil, nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			a, b := <-answers, <-answers
			if a.status == 200 && b.status == 200 {
				t.Fatalf("round %d: one code redeemed twice: %s / %s", round, a.body, b.body)
			}
			for _, x := range []answer{a, b} {
				if x.status != 200 && (x.status != 400 || !strings.Contains(x.body, "invalid_grant")) {
					t.Fatalf("round %d: the loser got %d %s, want 400 invalid_grant", round, x.status, x.body)
				}
			}
			// The replay revokes the grant (RFC 9700 s4.2.4), so the winner,
			// if it had not finished issuing yet, is refused too; that is
			// the safe side. What it did get must not work anywhere.
			if a.status != 200 {
				a = b
			}
			if a.status != 200 {
				continue
			}
			winners++
			var issued signin.Token
			json.Unmarshal([]byte(a.body), &issued)
			for _, r := range c.replicas {
				cl := newClient(r.url, issued.AccessToken)
				deadline := time.Now().Add(time.Second)
				for {
					st, _, _, err := cl.post(ctx, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
					if err == nil && st == 401 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("round %d: the token from a replayed code still answers %d on %s", round, st, r.name)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		}
	})

	t.Run("PostgreSQL stopped and started", func(t *testing.T) {
		stopCmd, startCmd := os.Getenv("PG_STOP"), os.Getenv("PG_START")
		if stopCmd == "" || startCmd == "" {
			t.Skip("PG_STOP and PG_START (shell commands) are not set; .ci/replicas.sh sets them")
		}
		tk := signIn(t, c.lb, "ada@example.com", tok.ClientID)
		sh := func(cmd string) {
			t.Helper()
			if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", cmd, err, out)
			}
		}
		sh(stopCmd)
		stopped := true
		defer func() {
			if stopped {
				sh(startCmd)
			}
		}()
		for _, r := range c.replicas {
			waitStatus(t, r.url+"/readyz", 503, 10*time.Second)
		}
		// Still alive, so an orchestrator does not restart them.
		if st, _ := getStatus(c.replicas[0].url + "/healthz"); st != 200 {
			t.Fatalf("/healthz with PostgreSQL down: %d", st)
		}
		// What needs the database answers a clear error, not a hang.
		_, err := refresh(c.lb, tk)
		if err == nil || !strings.Contains(err.Error(), "temporarily_unavailable") && !strings.Contains(err.Error(), "503") && !strings.Contains(err.Error(), "server_error") {
			t.Fatalf("refresh with PostgreSQL down: %v", err)
		}
		t.Logf("refresh with PostgreSQL down: %v", err)
		sh(startCmd)
		stopped = false
		for _, r := range c.replicas {
			waitStatus(t, r.url+"/readyz", 200, 30*time.Second)
		}
		// haproxy takes them back after two good checks 200ms apart.
		waitStatus(t, c.lb+"/readyz", 200, 10*time.Second)
		time.Sleep(time.Second)
		// Recovered with no restart: refresh works, and revocation events
		// flow again (the listener reconnected).
		next, err := refresh(c.lb, tk)
		if err != nil {
			t.Fatalf("refresh after PostgreSQL came back: %v", err)
		}
		b := newClient(c.replicas[1].url, next.AccessToken)
		if err := b.initialize(ctx); err != nil {
			t.Fatal(err)
		}
		resp, err := http.PostForm(c.replicas[0].url+"/revoke", url.Values{"token": {next.RefreshToken}, "client_id": {next.ClientID}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		deadline := time.Now().Add(time.Second)
		for {
			st, _, _, err := b.post(ctx, `{"jsonrpc":"2.0","id":3,"method":"ping"}`)
			if err == nil && st == 401 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after PostgreSQL came back, a revocation on one replica is not refused on the other within 1s: %d %v", st, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})

	t.Run("kill -9 of a replica under load", func(t *testing.T) {
		tk := signIn(t, c.lb, "ada@example.com", tok.ClientID)
		var killedAt atomic.Int64
		var okBefore, okAfter, failDuring, failAfter atomic.Int64
		var firstLate atomic.Value
		const settle = 1500 * time.Millisecond // haproxy: 2 failed checks 200ms apart, then redispatch
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				cl := newClient(c.lb, tk.AccessToken)
				if err := cl.initialize(ctx); err != nil {
					t.Error(err)
					return
				}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					err := cl.add(ctx, w, i)
					k := killedAt.Load()
					switch {
					case k == 0 && err == nil:
						okBefore.Add(1)
					case k == 0:
						t.Errorf("before the kill: %v", err)
						return
					case err == nil:
						okAfter.Add(1)
					case time.Since(time.Unix(0, k)) < settle:
						failDuring.Add(1)
					default:
						failAfter.Add(1)
						firstLate.CompareAndSwap(nil, err.Error())
					}
				}
			})
		}
		time.Sleep(time.Second)
		victim := c.replicas[0]
		// An HTTP+SSE stream held by the victim, reachable through the
		// survivor until the kill.
		sseTok, err := signin.SignIn(ctx, signin.Options{BaseURL: c.lb, Resource: c.lb + "/sse", Email: "ada@example.com", ClientID: tok.ClientID})
		if err != nil {
			t.Fatal(err)
		}
		endpoint := openSSE(ctx, t, victim.url, sseTok.AccessToken)
		if st := postSSE(ctx, t, c.replicas[1].url+endpoint, sseTok.AccessToken); st != http.StatusAccepted {
			t.Fatalf("a message for the victim's stream through the survivor before the kill: %d, want 202", st)
		}
		killedAt.Store(time.Now().UnixNano())
		victim.cmd.Process.Signal(syscall.SIGKILL)
		time.Sleep(3 * time.Second)
		close(stop)
		wg.Wait()
		t.Logf("calls: %d before the kill, %d after it; failed: %d within %v of it, %d later", okBefore.Load(), okAfter.Load(), failDuring.Load(), settle, failAfter.Load())
		if okBefore.Load() == 0 || okAfter.Load() == 0 {
			t.Fatal("no successful calls on one side of the kill")
		}
		if n := failAfter.Load(); n > 0 {
			t.Fatalf("%d calls failed more than %v after the kill; first: %v", n, settle, firstLate.Load())
		}
		// No acknowledged token is lost: the refresh token issued before
		// the kill (by either replica) still works on the survivor.
		if _, err := refresh(c.lb, tk); err != nil {
			t.Fatalf("refresh after the kill: %v", err)
		}
		if _, err := refresh(c.lb, tok); err != nil {
			t.Fatalf("refresh of the first sign-in after the kill: %v", err)
		}
		// The dead replica's HTTP+SSE session lapses with its lease: a
		// message for it gets 404, so its client reconnects.
		for {
			st := postSSE(ctx, t, c.replicas[1].url+endpoint, sseTok.AccessToken)
			if st == http.StatusNotFound {
				t.Logf("HTTP+SSE session of the killed replica: 404 on the survivor when checked, %v after the kill (lease %v)", time.Since(time.Unix(0, killedAt.Load())).Round(10*time.Millisecond), clusterLease)
				break
			}
			if time.Since(time.Unix(0, killedAt.Load())) > clusterLease+5*time.Second {
				t.Fatalf("a message for the killed replica's HTTP+SSE session, %v after the kill: %d, want 404", clusterLease+5*time.Second, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
