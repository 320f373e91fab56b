package authkit_test

import (
	"errors"
	"log"
	"os"

	"remote-mcp-authkit/oauth/authkit"
)

// Configuration from the environment: WorkOS credentials when they are
// set; otherwise the caller falls back to the authkittest emulator (see
// authkittest.NewHandler's example).
func ExampleConfigFromEnv() {
	cfg, err := authkit.ConfigFromEnv(os.Getenv)
	switch {
	case errors.Is(err, authkit.ErrNotConfigured):
		log.Print("no WorkOS credentials: mount the emulator")
		return
	case err != nil:
		log.Fatal(err)
	}
	provider, err := authkit.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	_ = provider // an oauth.IdentityProvider for the authorization server
}
