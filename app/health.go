package app

import (
	"context"
	"net/http"
	"time"

	"remote-mcp-authkit/store"
)

// readyTimeout bounds /readyz's round trip to the store: a balancer's health
// check has its own timeout, and a store that takes longer than this to
// answer is not one to send traffic to.
const readyTimeout = 2 * time.Second

// mountHealth serves the two probes a load balancer or orchestrator needs,
// on the public listener at the site's root (a balancer probes the process,
// not the public URL):
//
//   - /healthz: 200 while the process serves HTTP at all (liveness: restart
//     it if this fails);
//   - /readyz: 200 while the store answers (store.Pinger), 503 with the
//     reason otherwise (readiness: send it no traffic meanwhile). A store
//     without Ping is in-process and ready while open.
//
// Neither says anything about a user, a token or the store's contents.
func mountHealth(mux *http.ServeMux, st store.Store) {
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if p, ok := st.(store.Pinger); ok {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := p.Ping(ctx); err != nil {
				w.Header().Set("Retry-After", "5")
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("store unreachable\n"))
				return
			}
		}
		w.Write([]byte("ready\n"))
	})
}
