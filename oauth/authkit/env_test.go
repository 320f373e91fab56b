package authkit

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name            string
		env             map[string]string
		wantErr         error // nil: success; ErrNotConfigured; errAny for other errors
		id, key, apiURL string
	}{
		{"nothing set", map[string]string{}, ErrNotConfigured, "", "", ""},
		{"both set", map[string]string{"WORKOS_CLIENT_ID": "client_1", "WORKOS_CLIENT_SECRET": "sk_1"}, nil, "client_1", "sk_1", ""},
		{"API key alias and URL", map[string]string{"WORKOS_CLIENT_ID": " client_1 ", "WORKOS_API_KEY": "sk_2", "WORKOS_API_URL": "https://auth.example"}, nil, "client_1", "sk_2", "https://auth.example"},
		{"secret wins over alias", map[string]string{"WORKOS_CLIENT_ID": "c", "WORKOS_CLIENT_SECRET": "sk_s", "WORKOS_API_KEY": "sk_a"}, nil, "c", "sk_s", ""},
		{"only client ID", map[string]string{"WORKOS_CLIENT_ID": "client_1"}, errAny, "", "", ""},
		{"only secret", map[string]string{"WORKOS_CLIENT_SECRET": "sk_1"}, errAny, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ConfigFromEnv(func(k string) string { return tt.env[k] })
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatal(err)
			case tt.wantErr == errAny && (err == nil || errors.Is(err, ErrNotConfigured)):
				t.Fatalf("err %v, want a configuration error", err)
			case tt.wantErr == ErrNotConfigured && !errors.Is(err, ErrNotConfigured):
				t.Fatalf("err %v, want ErrNotConfigured", err)
			}
			if cfg.ClientID != tt.id || cfg.APIKey != tt.key || cfg.APIURL != tt.apiURL {
				t.Fatalf("cfg %+v", cfg)
			}
			if err != nil && tt.env["WORKOS_CLIENT_SECRET"] != "" && strings.Contains(err.Error(), tt.env["WORKOS_CLIENT_SECRET"]) {
				t.Fatalf("error %q repeats the secret", err)
			}
		})
	}
}

var errAny = errors.New("any error")
