// Command gosdk is a comparison server built on the official MCP Go SDK: one
// tool, "add", served over its StreamableHTTPHandler at /mcp and its SSE
// handler at /sse, with the SDK's default options.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"remote-mcp-authkit/bench/internal/debugvars"
)

type addArgs struct {
	A float64 `json:"a" jsonschema:"first addend"`
	B float64 `json:"b" jsonschema:"second addend"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8791", "listen address")
	debugAddr := flag.String("debug-addr", "", "loopback address for /debug/vars and /debug/gc (empty: off)")
	lifetime := flag.Duration("max-lifetime", 30*time.Minute, "exit after this long, so a forgotten server stops itself")
	jsonResp := flag.Bool("json-response", false, "answer POSTs with application/json instead of an SSE stream")
	flag.Parse()
	if *debugAddr != "" {
		if err := debugvars.Serve(*debugAddr); err != nil {
			log.Fatal(err)
		}
	}
	time.AfterFunc(*lifetime, func() { log.Print("max lifetime reached"); os.Exit(0) })

	server := mcp.NewServer(&mcp.Implementation{Name: "gosdk-peer", Version: "1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "add", Description: "Add two numbers"},
		func(ctx context.Context, req *mcp.CallToolRequest, in addArgs) (*mcp.CallToolResult, any, error) {
			text := strconv.FormatFloat(in.A+in.B, 'f', -1, 64)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil, nil
		})
	get := func(*http.Request) *mcp.Server { return server }
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{JSONResponse: *jsonResp}))
	mux.Handle("/sse", mcp.NewSSEHandler(get, nil))
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
