// Command mcpgo is a comparison server built on github.com/mark3labs/mcp-go:
// one tool, "add", served over its streamable HTTP server at /mcp and its SSE
// server at /sse (messages at /message), with the library's defaults.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"remote-mcp-authkit/bench/internal/debugvars"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8792", "listen address")
	debugAddr := flag.String("debug-addr", "", "loopback address for /debug/vars and /debug/gc (empty: off)")
	lifetime := flag.Duration("max-lifetime", 30*time.Minute, "exit after this long, so a forgotten server stops itself")
	flag.Parse()
	if *debugAddr != "" {
		if err := debugvars.Serve(*debugAddr); err != nil {
			log.Fatal(err)
		}
	}
	time.AfterFunc(*lifetime, func() { log.Print("max lifetime reached"); os.Exit(0) })

	s := server.NewMCPServer("mcpgo-peer", "1", server.WithToolCapabilities(false))
	tool := mcp.NewTool("add", mcp.WithDescription("Add two numbers"),
		mcp.WithNumber("a", mcp.Required()), mcp.WithNumber("b", mcp.Required()))
	s.AddTool(tool, func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		a, err := req.RequireFloat("a")
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		b, err := req.RequireFloat("b")
		if err != nil {
			return mcp.NewToolResultError(err.Error()), nil
		}
		return mcp.NewToolResultText(strconv.FormatFloat(a+b, 'f', -1, 64)), nil
	})
	mux := http.NewServeMux()
	mux.Handle("/mcp", server.NewStreamableHTTPServer(s))
	sse := server.NewSSEServer(s)
	mux.Handle("/sse", sse)
	mux.Handle("/message", sse)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
