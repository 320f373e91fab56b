package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// get fetches u and returns its status and body; err when no answer came.
func get(u string) (int, string, error) {
	res, err := http.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), nil
}

// /healthz and /readyz on the real listener; at shutdown /readyz turns 503
// for the drain period while /healthz and the rest keep serving, then the
// listener closes.
func TestHealthAndDrain(t *testing.T) {
	ts := startServer(t, serverConfig{args: []string{"-shutdown-drain", "1500ms"}})
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body, err := get(ts.base + p); err != nil || code != 200 || body != "ok\n" {
			t.Fatalf("GET %s: %d %q %v, want 200 ok", p, code, body, err)
		}
	}
	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop() }()
	deadline := time.Now().Add(1200 * time.Millisecond)
	for {
		code, body, err := get(ts.base + "/readyz")
		if err == nil && code == 503 && strings.Contains(body, "shutting down") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz during drain: %d %q %v, want 503 shutting down", code, body, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _, err := get(ts.base + "/healthz"); err != nil || code != 200 {
		t.Fatalf("/healthz during drain: %d %v, want 200 (alive, only not ready)", code, err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(ts.base + "/healthz"); err == nil {
		t.Fatal("the listener still answers after shutdown")
	}
}
