// Command remote-mcp-authkit is a remote MCP server that signs people in with
// WorkOS AuthKit and serves permission-gated tools to MCP clients, in one
// process with its state in a local file (or in memory with -memory).
//
// The wiring lives in package app, so that the replicas module's command
// (many processes sharing PostgreSQL) takes the same flags and environment.
// Configuration comes from flags first, then the environment; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"remote-mcp-authkit/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// -h prints the usage (the flag package does) and is a success, not an
	// error.
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// devPublicFlag and version name app's, for the tests here.
const (
	devPublicFlag = app.DevPublicFlag
	version       = app.Version
)

// run is app.Run with the single-process defaults: the file store (or
// memory with -memory) and in-process events.
func run(ctx context.Context, args []string, getenv func(string) string, logOut io.Writer, ready chan<- string) error {
	return app.Run(ctx, args, getenv, logOut, app.Options{Ready: ready})
}
