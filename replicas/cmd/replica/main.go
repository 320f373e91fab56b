// Command replica is the replicated server: the same server as the
// repository's root command, with the same flags and environment, keeping
// its state in PostgreSQL (DATABASE_URL) and telling the other replicas of
// revocations and permission changes over LISTEN/NOTIFY. Run as many as you
// like behind any load balancer; give each the same SERVER_SECRET and the
// same -base-url (the balancer's public URL).
//
// PostgreSQL unreachable at start: it says so and retries until it can
// connect (or is stopped). /readyz answers 503 while PostgreSQL is gone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"remote-mcp-authkit/app"
	"remote-mcp-authkit/replicas/pg"
)

const usage = `
Environment, beyond the flags above:
  DATABASE_URL   PostgreSQL connection string (required), e.g.
                 postgres://mcp:PASSWORD@db.internal:5432/mcp?sslmode=verify-full
  SERVER_SECRET  required, the same in every replica
  REPLICA_LEASE  how long a replica's HTTP+SSE sessions and running tasks
                 outlive it if it dies (default 90s; renewed every third)`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// retryMax is the longest wait between attempts to reach PostgreSQL at
// start.
const retryMax = 5 * time.Second

func run(ctx context.Context, args []string, getenv func(string) string, logOut io.Writer) error {
	opts := app.Options{Name: "replica", Usage: usage}
	if slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
		return app.Run(ctx, args, getenv, logOut, opts)
	}
	dsn := getenv("DATABASE_URL")
	if dsn == "" {
		return errors.New("DATABASE_URL is required: the PostgreSQL every replica shares (see -h)")
	}
	if getenv("SERVER_SECRET") == "" {
		return errors.New("SERVER_SECRET is required: every replica needs the same one (generate one with: openssl rand -base64 32)")
	}
	if v := getenv("REPLICA_LEASE"); v != "" {
		// For tests that kill a replica and cannot wait 90 s for its
		// HTTP+SSE sessions and tasks to lapse.
		d, err := time.ParseDuration(v)
		if err != nil || d < 30*time.Millisecond || d > time.Hour {
			return fmt.Errorf("REPLICA_LEASE %q: want a duration from 30ms to 1h", v)
		}
		opts.Lease = d
	}
	logger := slog.New(slog.NewTextHandler(logOut, nil))
	var st *pg.Store
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, retryMax) {
		octx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := pg.Open(octx, dsn, pg.WithLogger(logger))
		cancel()
		if err == nil {
			st = s
			break
		}
		// The error names host and port, never the password.
		logger.Error("PostgreSQL unreachable; retrying", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	defer st.Close()
	bus := pg.NewBus(st.Pool(), dsn, pg.WithBusLogger(logger))
	defer bus.Close()
	opts.Store, opts.Events = st, bus
	return app.Run(ctx, args, getenv, logOut, opts)
}
