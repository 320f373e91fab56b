package app

// Health endpoints on the public listener, for load balancers and
// orchestrators: /healthz says the process is alive, /readyz that it can
// serve now (its store answers and it is not shutting down). Both answer
// plain text and are cheap, as they are polled every few seconds.

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"remote-mcp-authkit/store"
)

// readyTimeout bounds /readyz's round trip to the store: a balancer's health
// check has its own timeout, and a store that takes longer than this to
// answer is not one to send traffic to.
const readyTimeout = 2 * time.Second

// health answers /healthz and /readyz.
type health struct {
	store store.Store
	// draining is set when graceful shutdown begins: /readyz then answers
	// 503 so that a balancer stops sending new requests here, while the
	// requests already here finish.
	draining atomic.Bool
}

// mount serves the probes under the public URL's path and, when that is
// not the site's root, at the root too: a balancer in front of the
// replicas probes the process, not the public URL. Neither says anything
// about a user, a token or the store's contents.
func (h *health) mount(mux *http.ServeMux, basePath string) {
	mux.HandleFunc(basePath+"/healthz", h.livez)
	mux.HandleFunc(basePath+"/readyz", h.readyz)
	if basePath != "" {
		mux.HandleFunc("/healthz", h.livez)
		mux.HandleFunc("/readyz", h.readyz)
	}
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
// else 503 with the reason (never an internal detail such as a path or a
// database address: the log has that). The store's Ping is a round trip
// for an engine shared over a network, so a PostgreSQL outage shows here.
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
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		w.Header().Set("Retry-After", "5")
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
