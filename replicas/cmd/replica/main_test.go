package main

import (
	"bytes"
	"context"
	"net"
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

// Both required settings are named when missing.
func TestRequiredEnvironment(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "DATABASE_URL is required"},
		{map[string]string{"DATABASE_URL": "postgres://127.0.0.1:1/x"}, "SERVER_SECRET is required"},
	} {
		err := run(context.Background(), nil, func(k string) string { return c.env[k] }, &syncBuffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("env %v: %v, want %q", c.env, err, c.want)
		}
	}
}
