package signin_test

import (
	"context"
	"fmt"
	"time"

	"remote-mcp-authkit/bench/internal/signin"
)

// A load test signs in once as a demo user of the server's AuthKit
// emulator and sends the token with every request.
func ExampleSignIn() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := signin.SignIn(ctx, signin.Options{
		BaseURL: "http://127.0.0.1:8788",
		Email:   "ada@example.com",
	})
	if err != nil {
		fmt.Println("sign-in failed:", err)
		return
	}
	fmt.Println("Authorization: Bearer " + tok.AccessToken)
}
