package oauth_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/oauth/authkit"
	"remote-mcp-authkit/oauth/authkittest"
	"remote-mcp-authkit/store"
)

// How main.go wires the authorization server: its Handler at the root, and
// each MCP endpoint behind CORS and RequireBearer. An MCP client's first
// request gets a 401 that tells it where to find the resource metadata.
func ExampleNewServer() {
	ak := authkittest.NewServer() // or real WorkOS credentials
	defer ak.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	provider, _ := authkit.New(authkit.Config{ClientID: ak.ClientID(), APIKey: ak.APIKey(), APIURL: ak.URL, Logger: quiet})

	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String() // the public base URL
	as, err := oauth.NewServer(oauth.Config{
		Issuer:    base,
		Resources: []string{base + "/mcp"},
		Store:     store.NewMemoryStore(), // store.OpenFileStore(path) for real runs
		Provider:  provider,
		Secret:    []byte("a secret of at least 32 bytes, from LoadOrCreateSecret"),
		Logger:    quiet,
	})
	if err != nil {
		panic(err)
	}
	mcpHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello", oauth.IdentityFromContext(r.Context()).Email)
	})
	mux := http.NewServeMux()
	mux.Handle("/mcp", oauth.CORS(as.RequireBearer(base+"/mcp", mcpHandler)))
	mux.Handle("/", as.Handler())
	ts.Config.Handler = mux
	ts.Start()
	defer ts.Close()

	resp, _ := http.Post(base+"/mcp", "application/json", strings.NewReader(`{}`))
	resp.Body.Close()
	fmt.Println(resp.StatusCode, strings.Replace(resp.Header.Get("WWW-Authenticate"), base, "BASE", 1))
	// Output: 401 Bearer resource_metadata="BASE/.well-known/oauth-protected-resource/mcp"
}
