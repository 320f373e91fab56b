package tools

import (
	"strings"
	"testing"
	"time"
)

func TestImageGeneratorFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, g ImageGenerator)
		wantErr string
	}{
		{"nothing set: offline", nil, func(t *testing.T, g ImageGenerator) {
			if _, ok := g.(OfflineRenderer); !ok {
				t.Fatalf("got %T", g)
			}
		}, ""},
		{"Workers AI", map[string]string{"CLOUDFLARE_ACCOUNT_ID": "acc", "CLOUDFLARE_API_TOKEN": "tok", "OPENAI_API_KEY": "ignored"},
			func(t *testing.T, g ImageGenerator) {
				w, ok := g.(*WorkersAI)
				if !ok || w.AccountID != "acc" || w.APIToken != "tok" || w.Timeout != DefaultImageTimeout || w.BaseURL != "" {
					t.Fatalf("got %#v", g)
				}
			}, ""},
		{"Workers AI with timeout", map[string]string{"CLOUDFLARE_ACCOUNT_ID": "acc", "CLOUDFLARE_API_TOKEN": "tok", "IMAGE_TIMEOUT": "90s"},
			func(t *testing.T, g ImageGenerator) {
				if w := g.(*WorkersAI); w.Timeout != 90*time.Second {
					t.Fatalf("timeout %v", w.Timeout)
				}
			}, ""},
		{"Workers AI through AI Gateway", map[string]string{"CLOUDFLARE_ACCOUNT_ID": "acc", "CLOUDFLARE_API_TOKEN": "tok",
			"WORKERS_AI_BASE_URL": "https://gateway.ai.cloudflare.com/v1/acc/images/workers-ai/", "CLOUDFLARE_AI_GATEWAY_TOKEN": "aig"},
			func(t *testing.T, g ImageGenerator) {
				w := g.(*WorkersAI)
				if w.BaseURL != "https://gateway.ai.cloudflare.com/v1/acc/images/workers-ai" || w.GatewayToken != "aig" || w.Name() != "Workers AI through AI Gateway" {
					t.Fatalf("got %#v", w)
				}
			}, ""},
		{"Workers AI behind another base", map[string]string{"CLOUDFLARE_ACCOUNT_ID": "acc", "CLOUDFLARE_API_TOKEN": "tok",
			"WORKERS_AI_BASE_URL": "http://127.0.0.1:9000/client/v4/accounts/acc/ai/run"},
			func(t *testing.T, g ImageGenerator) {
				if w := g.(*WorkersAI); w.BaseURL != "http://127.0.0.1:9000/client/v4/accounts/acc/ai/run" || w.GatewayToken != "" {
					t.Fatalf("got %#v", w)
				}
			}, ""},
		{"gateway root instead of its Workers AI endpoint", map[string]string{"CLOUDFLARE_ACCOUNT_ID": "acc", "CLOUDFLARE_API_TOKEN": "tok",
			"WORKERS_AI_BASE_URL": "https://gateway.ai.cloudflare.com/v1/acc/images"}, nil, "/v1/{account_id}/{gateway_id}/workers-ai"},
		{"gateway's OpenAI-compatible endpoint", map[string]string{"CLOUDFLARE_ACCOUNT_ID": "acc", "CLOUDFLARE_API_TOKEN": "tok",
			"WORKERS_AI_BASE_URL": "https://gateway.ai.cloudflare.com/v1/acc/images/workers-ai/v1"}, nil, "is not an AI Gateway Workers AI endpoint"},
		{"gateway of another account", map[string]string{"CLOUDFLARE_ACCOUNT_ID": "acc", "CLOUDFLARE_API_TOKEN": "tok",
			"WORKERS_AI_BASE_URL": "https://gateway.ai.cloudflare.com/v1/other/images/workers-ai"}, nil, `names the account "other" but CLOUDFLARE_ACCOUNT_ID is "acc"`},
		{"bad Workers AI base", map[string]string{"CLOUDFLARE_ACCOUNT_ID": "acc", "CLOUDFLARE_API_TOKEN": "tok-secret-2",
			"WORKERS_AI_BASE_URL": "gateway.ai.cloudflare.com/v1/acc/images/workers-ai"}, nil, "is not an http or https URL"},
		{"gateway token without a gateway", map[string]string{"CLOUDFLARE_ACCOUNT_ID": "acc", "CLOUDFLARE_API_TOKEN": "tok",
			"CLOUDFLARE_AI_GATEWAY_TOKEN": "aig-secret-3"}, nil, "CLOUDFLARE_AI_GATEWAY_TOKEN is set but WORKERS_AI_BASE_URL is not"},
		{"gateway without Workers AI credentials", map[string]string{"WORKERS_AI_BASE_URL": "https://gateway.ai.cloudflare.com/v1/acc/images/workers-ai"},
			nil, "also needs CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN"},
		{"only the account id", map[string]string{"CLOUDFLARE_ACCOUNT_ID": "acc"}, nil, "CLOUDFLARE_API_TOKEN is not"},
		{"only the token", map[string]string{"CLOUDFLARE_API_TOKEN": "cf-secret-1"}, nil, "CLOUDFLARE_ACCOUNT_ID is not"},
		{"OpenAI with key", map[string]string{"OPENAI_API_KEY": "sk"}, func(t *testing.T, g ImageGenerator) {
			o, ok := g.(*OpenAIImages)
			if !ok || o.BaseURL != DefaultOpenAIBaseURL || o.APIKey != "sk" || o.Model != "" || o.model() != "gpt-image-2" || o.Name() != "OpenAI" {
				t.Fatalf("got %#v", g)
			}
		}, ""},
		{"OpenAI-compatible local server", map[string]string{"OPENAI_BASE_URL": "http://127.0.0.1:8080/v1", "OPENAI_IMAGE_MODEL": "sdxl"},
			func(t *testing.T, g ImageGenerator) {
				o, ok := g.(*OpenAIImages)
				if !ok || o.BaseURL != "http://127.0.0.1:8080/v1" || o.APIKey != "" || o.Model != "sdxl" {
					t.Fatalf("got %#v", g)
				}
			}, ""},
		{"OpenAI default base needs a key", map[string]string{"OPENAI_BASE_URL": DefaultOpenAIBaseURL}, nil, "OPENAI_API_KEY must be set"},
		{"bad base URL", map[string]string{"OPENAI_BASE_URL": "ftp://x", "OPENAI_API_KEY": "sk-secret-1"}, nil, "not an http or https URL"},
		{"bad timeout", map[string]string{"IMAGE_TIMEOUT": "soon"}, nil, `IMAGE_TIMEOUT "soon"`},
		{"negative timeout", map[string]string{"IMAGE_TIMEOUT": "-1s"}, nil, "positive duration"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := ImageGeneratorFromEnv(func(k string) string { return c.env[k] })
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", g, err, c.wantErr)
				}
				for k, v := range c.env {
					secret := strings.HasSuffix(k, "_TOKEN") || strings.HasSuffix(k, "_KEY")
					if secret && len(v) < 8 {
						continue // too short to tell a leak from a word
					}
					if secret && strings.Contains(err.Error(), v) {
						t.Errorf("error %q repeats the secret %s", err, k)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, g)
		})
	}
}
