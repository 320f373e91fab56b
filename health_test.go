package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"remote-mcp-authkit/oauth"
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
	ts := startServerArgs(t, false, "", "-shutdown-drain", "1500ms")
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

// /readyz says 503 when the store cannot serve, /healthz stays 200 (a
// restart would not bring a store back); other methods are refused.
func TestReadyzStoreDown(t *testing.T) {
	st := oauth.NewMemoryStore()
	h := &health{store: st}
	rec := httptest.NewRecorder()
	h.readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 {
		t.Fatalf("store up: %d", rec.Code)
	}
	st.Close()
	rec = httptest.NewRecorder()
	h.readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || rec.Body.String() != "store unavailable\n" {
		t.Fatalf("store closed: %d %q, want 503 store unavailable", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.livez(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Fatalf("/healthz with the store down: %d, want 200", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.readyz(rec, httptest.NewRequest("POST", "/readyz", nil))
	if rec.Code != 405 {
		t.Fatalf("POST /readyz: %d, want 405", rec.Code)
	}
}
