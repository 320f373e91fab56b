package tools

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// ImageGeneratorFromEnv chooses the image service from the environment:
//
//   - CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN: Workers AI
//     (flux-1-schnell). Setting only one of them is an error.
//     WORKERS_AI_BASE_URL, when set, replaces the REST API's
//     .../accounts/{id}/ai/run, for instance with an AI Gateway's
//     https://gateway.ai.cloudflare.com/v1/{account_id}/{gateway_id}/workers-ai;
//     CLOUDFLARE_AI_GATEWAY_TOKEN is that gateway's token, for an
//     authenticated gateway.
//   - else OPENAI_API_KEY or OPENAI_BASE_URL: an OpenAI-compatible images
//     endpoint (OPENAI_BASE_URL defaults to DefaultOpenAIBaseURL, which needs
//     a key; OPENAI_IMAGE_MODEL defaults to DefaultOpenAIImageModel).
//   - else the OfflineRenderer.
//
// IMAGE_TIMEOUT (a Go duration such as "90s") overrides DefaultImageTimeout
// for the services. getenv is os.Getenv in production and a map in tests.
func ImageGeneratorFromEnv(getenv func(string) string) (ImageGenerator, error) {
	timeout := DefaultImageTimeout
	if s := getenv("IMAGE_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("IMAGE_TIMEOUT %q is not a positive duration such as \"90s\"", s)
		}
		timeout = d
	}
	account, token := getenv("CLOUDFLARE_ACCOUNT_ID"), getenv("CLOUDFLARE_API_TOKEN")
	cfBase, gatewayToken := getenv("WORKERS_AI_BASE_URL"), getenv("CLOUDFLARE_AI_GATEWAY_TOKEN")
	switch {
	case account != "" && token != "":
		if cfBase != "" {
			if err := checkWorkersAIBaseURL(cfBase, account); err != nil {
				return nil, err
			}
		}
		if gatewayToken != "" && cfBase == "" {
			return nil, errors.New("CLOUDFLARE_AI_GATEWAY_TOKEN is set but WORKERS_AI_BASE_URL is not; the gateway token is for requests through AI Gateway " +
				"(WORKERS_AI_BASE_URL=https://" + AIGatewayHost + "/v1/{account_id}/{gateway_id}/workers-ai)")
		}
		return &WorkersAI{AccountID: account, APIToken: token, BaseURL: strings.TrimRight(cfBase, "/"), GatewayToken: gatewayToken, Timeout: timeout}, nil
	case account != "":
		return nil, errors.New("CLOUDFLARE_ACCOUNT_ID is set but CLOUDFLARE_API_TOKEN is not; Workers AI needs both")
	case token != "":
		return nil, errors.New("CLOUDFLARE_API_TOKEN is set but CLOUDFLARE_ACCOUNT_ID is not; Workers AI needs both")
	case cfBase != "" || gatewayToken != "":
		return nil, errors.New("WORKERS_AI_BASE_URL and CLOUDFLARE_AI_GATEWAY_TOKEN are for Workers AI, which also needs CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN")
	}
	base, key, model := getenv("OPENAI_BASE_URL"), getenv("OPENAI_API_KEY"), getenv("OPENAI_IMAGE_MODEL")
	if base != "" || key != "" {
		if base == "" {
			base = DefaultOpenAIBaseURL
		}
		if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("OPENAI_BASE_URL %q is not an http or https URL", base)
		}
		if key == "" && base == DefaultOpenAIBaseURL {
			return nil, errors.New("OPENAI_API_KEY must be set to use " + DefaultOpenAIBaseURL)
		}
		return &OpenAIImages{BaseURL: base, APIKey: key, Model: model, Timeout: timeout}, nil
	}
	return OfflineRenderer{}, nil
}

// checkWorkersAIBaseURL refuses a WORKERS_AI_BASE_URL that cannot work: not
// http(s), or an AI Gateway URL of another shape than the documented
// /v1/{account_id}/{gateway_id}/workers-ai (the likely slips: the gateway's
// root, its OpenAI-compatible /workers-ai/v1, or another account's id).
func checkWorkersAIBaseURL(base, account string) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("WORKERS_AI_BASE_URL %q is not an http or https URL without query or fragment", base)
	}
	if u.Hostname() != AIGatewayHost {
		return nil
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if u.Scheme != "https" || len(parts) != 4 || parts[0] != "v1" || parts[3] != "workers-ai" || parts[2] == "" {
		return fmt.Errorf("WORKERS_AI_BASE_URL %q is not an AI Gateway Workers AI endpoint; it must be https://%s/v1/{account_id}/{gateway_id}/workers-ai", base, AIGatewayHost)
	}
	if parts[1] != account {
		return fmt.Errorf("WORKERS_AI_BASE_URL names the account %q but CLOUDFLARE_ACCOUNT_ID is %q; they must be the same account", parts[1], account)
	}
	return nil
}
