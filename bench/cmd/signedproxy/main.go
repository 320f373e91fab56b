// Command signedproxy lets a tool that cannot send a bearer token (the MCP
// conformance suite has no option for one) test a server's real, signed-in
// MCP endpoint: it signs in once through the server's AuthKit emulator, as
// an MCP client and its user's browser would (package signin), then serves
// a loopback reverse proxy that adds "Authorization: Bearer <token>" to
// every request and forwards it unchanged otherwise: the Host and Origin
// headers the client sent (the DNS-rebinding checks depend on them), the
// MCP headers, and streamed SSE responses, which are flushed as they come.
//
// It prints the proxied MCP URL on stdout once it listens; the token is
// never printed.
//
// Usage:
//
//	signedproxy -server http://127.0.0.1:8788 -email ada@example.com
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"remote-mcp-authkit/bench/internal/signin"
)

func main() {
	server := flag.String("server", "http://127.0.0.1:8788", "the server's origin")
	email := flag.String("email", "ada@example.com", "the emulator account to sign in as")
	addr := flag.String("addr", "127.0.0.1:0", "the proxy's listen address (loopback)")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	tok, err := signin.SignIn(ctx, signin.Options{BaseURL: *server, Email: *email, ClientName: "signedproxy"})
	cancel()
	if err != nil {
		log.Fatalf("signedproxy: sign-in failed: %v", err)
	}
	target, err := url.Parse(*server)
	if err != nil {
		log.Fatal(err)
	}
	bearer := "Bearer " + tok.AccessToken
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // as the client sent it: Host checks see what the client said
			r.Out.Header.Set("Authorization", bearer)
		},
		FlushInterval: -1, // SSE: every write reaches the client at once
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("http://%s/mcp\n", ln.Addr())
	hs := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	sig, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-sig.Done()
		_ = hs.Close()
	}()
	if err := hs.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
