package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSoakAgainstProduct builds the product from the repository root,
// starts it on loopback with its diagnostics listener, and runs a few
// seconds of the soak: every kind of step happens, none fails, and the
// server is sampled before, during and after.
func TestSoakAgainstProduct(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the product")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "product")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("..", "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the product: %v\n%s", err, out)
	}
	addr, dbg := freePort(t), freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-addr", addr, "-data-dir", filepath.Join(dir, "data"), "-debug-addr", dbg)
	cmd.Env = withoutWorkOS(os.Environ())
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("product log:\n%s", logs.String())
		}
	}()
	for _, a := range []string{addr, dbg} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := net.Dial("tcp", a)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the product does not listen on %s", a)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	cfg := config{base: "http://" + addr, debug: "http://" + dbg, pid: cmd.Process.Pid,
		dur: 6 * time.Second, every: time.Second, refreshEvery: time.Second, timeout: 10 * time.Second,
		think: 5 * time.Millisecond, settle: 300 * time.Millisecond, workers: 3, clients: 1, maxOpen: 3,
		users: []string{"ada@example.com", "grace@example.com"},
		lim:   limits{heapPctPerMin: 1, goroutineRise: 20, goroutineSlack: 10, minWindowSamples: 3}}
	rep, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.print(&out, cfg)
	t.Log("\n" + out.String())
	if len(rep.errs) > 0 {
		t.Errorf("errors: %v", rep.errs)
	}
	for _, k := range []string{"initialize", "delete", "tools/call add", "tools/call whoami", "tools/list", "ping",
		"GET stream", "sse open", "sse close", "sse tools/call add", "sse tools/call whoami", "refresh"} {
		if rep.reqs[k] == 0 {
			t.Errorf("no %q step in %v", k, rep.reqs)
		}
	}
	for _, cr := range rep.creds {
		if cr.gen < 3 {
			t.Errorf("client %s for %s refreshed %d times in 6 s at 1 s", cr.clientID, cr.resource, cr.gen)
		}
	}
	if len(rep.samples) < 4 || rep.before.Goroutines <= 0 || rep.after.Goroutines <= 0 || rep.before.HeapAlloc <= 0 || rep.before.FDs <= 0 {
		t.Errorf("samples: %d during; before %+v; after %+v", len(rep.samples), rep.before, rep.after)
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// withoutWorkOS drops WorkOS credentials, so the product mounts its
// AuthKit emulator.
func withoutWorkOS(env []string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, "WORKOS_") {
			out = append(out, e)
		}
	}
	return out
}
