package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// PostgreSQL unreachable at start: the replica says so, keeps retrying
// rather than exiting, and stops cleanly when told to.
func TestUnreachableDatabaseAtStart(t *testing.T) {
	// A loopback port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := map[string]string{
		"DATABASE_URL":  "postgres://mcp:hunter2@" + addr + "/mcp?connect_timeout=1",
		"SERVER_SECRET": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, &logs)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(logs.String(), "PostgreSQL unreachable; retrying") < 2 {
		select {
		case err := <-done:
			t.Fatalf("run returned %v while the database was unreachable; logs:\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two retries logged within 20s:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Fatalf("the database password reached the log:\n%s", logs.String())
	}
}

// Both required settings are named when missing, and a bad lease.
func TestRequiredEnvironment(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "DATABASE_URL is required"},
		{map[string]string{"DATABASE_URL": "postgres://127.0.0.1:1/x"}, "SERVER_SECRET is required"},
		{map[string]string{"DATABASE_URL": "postgres://127.0.0.1:1/x", "SERVER_SECRET": "s", "REPLICA_LEASE": "soon"}, `REPLICA_LEASE "soon"`},
		{map[string]string{"DATABASE_URL": "postgres://127.0.0.1:1/x", "SERVER_SECRET": "s", "REPLICA_LEASE": "1ms"}, `REPLICA_LEASE "1ms"`},
	} {
		err := run(context.Background(), nil, func(k string) string { return c.env[k] }, &syncBuffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("env %v: %v, want %q", c.env, err, c.want)
		}
	}
}

// freeAddr is a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// getBody fetches u: its status and body; err when no answer came.
func getBody(u string) (int, string, error) {
	res, err := http.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), err
}

// The replica is operated like the single process: readiness asks
// PostgreSQL, the admin listener serves the metrics, the request log is
// JSON when asked, and a shutdown drains (/readyz 503 while the listener
// still serves). Needs DATABASE_URL (.ci/replicas.sh sets it).
func TestOperationsOnPostgreSQL(t *testing.T) {
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		t.Skip("DATABASE_URL not set (.ci/replicas.sh starts a PostgreSQL)")
	}
	addr, admin := freeAddr(t), freeAddr(t)
	env := map[string]string{
		"DATABASE_URL":  dsn,
		"SERVER_SECRET": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", addr, "-admin-addr", admin, "-log-format", "json", "-shutdown-drain", "1500ms"},
			func(k string) string { return env[k] }, &logs)
	}()
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, err := getBody(base + "/readyz")
		if err == nil && code == 200 && body == "ok\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %q %v; logs:\n%s", code, body, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body, err := getBody(base + "/healthz"); err != nil || code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q %v", code, body, err)
	}
	code, metrics, err := getBody("http://" + admin + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("admin /metrics: %d %v", code, err)
	}
	if !strings.Contains(metrics, `http_request_duration_seconds_count{route="/readyz",status="200"}`) {
		t.Fatalf("/metrics does not count the /readyz requests:\n%s", metrics)
	}
	if code, _, err := getBody(base + "/metrics"); err == nil && code == 200 {
		t.Fatal("/metrics is served on the public listener")
	}
	cancel()
	deadline = time.Now().Add(1200 * time.Millisecond)
	for {
		code, body, err := getBody(base + "/readyz")
		if err == nil && code == 503 && body == "shutting down\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz during the drain: %d %q %v", code, body, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if !strings.Contains(logs.String(), `"route":"/readyz"`) {
		t.Fatalf("no JSON request log line for /readyz:\n%s", logs.String())
	}
}
