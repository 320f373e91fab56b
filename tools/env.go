package tools

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// ImageGeneratorFromEnv chooses the image service from the environment:
//
//   - CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN: Workers AI
//     (flux-1-schnell). Setting only one of them is an error.
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
	switch {
	case account != "" && token != "":
		return &WorkersAI{AccountID: account, APIToken: token, Timeout: timeout}, nil
	case account != "":
		return nil, errors.New("CLOUDFLARE_ACCOUNT_ID is set but CLOUDFLARE_API_TOKEN is not; Workers AI needs both")
	case token != "":
		return nil, errors.New("CLOUDFLARE_API_TOKEN is set but CLOUDFLARE_ACCOUNT_ID is not; Workers AI needs both")
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
