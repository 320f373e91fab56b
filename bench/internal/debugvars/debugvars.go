// Package debugvars serves the small loopback-only diagnostics listener that
// the load tool reads: GET /debug/vars (expvar JSON with "goroutines" and
// "memstats") and POST /debug/gc (run a collection so the next HeapAlloc is
// the live heap). The comparison servers use it so their memory can be
// measured the same way as the product's.
package debugvars

import (
	"errors"
	"expvar"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"
)

func init() {
	// expvar already publishes "memstats" (runtime.MemStats) and "cmdline".
	expvar.Publish("goroutines", expvar.Func(func() any { return runtime.NumGoroutine() }))
}

// Handler returns the diagnostics handler: /debug/vars and /debug/gc.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /debug/vars", expvar.Handler())
	mux.HandleFunc("POST /debug/gc", func(w http.ResponseWriter, r *http.Request) {
		// One cycle and no debug.FreeOSMemory, as the product's listener
		// does, so RSS compares on equal terms; the load tool posts twice.
		runtime.GC()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// Serve starts the diagnostics listener on addr, which must be a loopback
// address: these endpoints reveal process internals and trigger GC.
func Serve(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("debug address %q is not a loopback IP", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Println("debug listener:", err)
		}
	}()
	return nil
}
