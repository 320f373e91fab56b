package app

import (
	"net/http/httptest"
	"testing"

	"remote-mcp-authkit/store"
)

// /readyz says 503 when the store cannot serve, /healthz stays 200 (a
// restart would not bring a store back); other methods are refused.
func TestReadyzStoreDown(t *testing.T) {
	st := store.NewMemoryStore()
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
