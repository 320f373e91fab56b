package authkit

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotConfigured is returned by ConfigFromEnv when neither
// WORKOS_CLIENT_ID nor WORKOS_CLIENT_SECRET is set: the caller may then run
// against the authkittest emulator instead.
var ErrNotConfigured = errors.New("authkit: WORKOS_CLIENT_ID and WORKOS_CLIENT_SECRET are not set")

// ConfigFromEnv reads the WorkOS settings the reference deployment uses:
//
//	WORKOS_CLIENT_ID      Config.ClientID
//	WORKOS_CLIENT_SECRET  Config.APIKey (WORKOS_API_KEY is accepted too)
//	WORKOS_API_URL        Config.APIURL (optional)
//	WORKOS_ISSUER         Config.Issuers, comma separated (optional)
//
// getenv is usually os.Getenv. Setting only one of the two credentials is
// an error, not a silent fall back to the emulator.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	cfg := Config{
		ClientID: get("WORKOS_CLIENT_ID"),
		APIKey:   get("WORKOS_CLIENT_SECRET"),
		APIURL:   get("WORKOS_API_URL"),
	}
	if cfg.APIKey == "" {
		cfg.APIKey = get("WORKOS_API_KEY")
	}
	for iss := range strings.SplitSeq(get("WORKOS_ISSUER"), ",") {
		if iss = strings.TrimSpace(iss); iss != "" {
			cfg.Issuers = append(cfg.Issuers, iss)
		}
	}
	switch {
	case cfg.ClientID == "" && cfg.APIKey == "":
		return Config{}, ErrNotConfigured
	case cfg.ClientID == "":
		return Config{}, errors.New("authkit: WORKOS_CLIENT_SECRET is set but WORKOS_CLIENT_ID is not")
	case cfg.APIKey == "":
		return Config{}, fmt.Errorf("authkit: WORKOS_CLIENT_ID is set (%s) but WORKOS_CLIENT_SECRET is not", cfg.ClientID)
	}
	return cfg, nil
}
