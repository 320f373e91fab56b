package main

// Health endpoints on the public listener, for load balancers and
// orchestrators: /healthz says the process is alive, /readyz that it can
// serve now (its store answers and it is not shutting down). Both answer
// plain text and are cheap, as they are polled every few seconds.

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"remote-mcp-authkit/oauth"
)

// health answers /healthz and /readyz.
type health struct {
	store oauth.Store
	// draining is set when graceful shutdown begins: /readyz then answers
	// 503 so that a balancer stops sending new requests here, while the
	// requests already here finish.
	draining atomic.Bool
}

// livez answers /healthz: 200 as long as the process serves HTTP at all.
// It checks nothing else on purpose: an orchestrator restarts a process
// whose liveness fails, and a restart does not cure an unreachable store.
func (h *health) livez(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	plain(w, http.StatusOK, "ok\n")
}

// readyz answers /readyz: 200 when a request sent here now would be served,
// else 503 with the reason (never an internal detail such as a path: the
// log has that).
func (h *health) readyz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if h.draining.Load() {
		plain(w, http.StatusServiceUnavailable, "shutting down\n")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		plain(w, http.StatusServiceUnavailable, "store unavailable\n")
		return
	}
	plain(w, http.StatusOK, "ok\n")
}

func plain(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(body))
}
