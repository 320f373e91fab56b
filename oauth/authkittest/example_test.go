package authkittest_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"

	"remote-mcp-authkit/oauth/authkit"
	"remote-mcp-authkit/oauth/authkittest"
)

// A test starts the emulator, points the real provider at it, and plays
// the browser on the sign-in page.
func ExampleNewServer() {
	ak := authkittest.NewServer()
	defer ak.Close()

	p, err := authkit.New(authkit.Config{ClientID: ak.ClientID(), APIKey: ak.APIKey(), APIURL: ak.URL})
	if err != nil {
		panic(err)
	}
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	authURL, _ := p.AuthorizationURL("state-1", base64.RawURLEncoding.EncodeToString(sum[:]), "http://127.0.0.1:9/callback")

	// Stop at the redirect back to our (here absent) callback.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := authkittest.SignIn(context.Background(), browser, authURL, "ada@example.com")
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	back, _ := url.Parse(res.Header.Get("Location"))

	s, err := p.Exchange(context.Background(), back.Query().Get("code"), verifier)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Identity.Email, s.Identity.Name, s.Identity.Organization, s.Identity.Role, s.Identity.Permissions)
	// Output: ada@example.com Ada Lovelace Acme admin [image_generation]
}

// A server with no WorkOS account mounts the emulator under a path prefix
// of its own mux and configures the provider with the emulator's URL. The
// in-process client spares the server calling its own public URL.
func ExampleNewHandler() {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux) // stands in for the real http.Server
	defer srv.Close()
	publicURL := srv.URL // the server's externally visible base URL

	ak, err := authkittest.NewHandler(publicURL+"/_authkit",
		authkittest.WithRedirectURIs(publicURL+"/callback"))
	if err != nil {
		panic(err)
	}
	mux.Handle("/_authkit/", http.StripPrefix("/_authkit", ak.Handler()))

	p, err := authkit.New(authkit.Config{
		ClientID:   ak.ClientID(),
		APIKey:     ak.APIKey(),
		APIURL:     ak.URL,
		HTTPClient: ak.Client(),
	})
	if err != nil {
		panic(err)
	}
	u, _ := p.AuthorizationURL("st", "challenge", publicURL+"/callback")
	pu, _ := url.Parse(u)
	fmt.Println(pu.Path)
	// Output: /_authkit/user_management/authorize
}
