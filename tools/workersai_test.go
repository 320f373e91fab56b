package tools

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestWorkersAIEndpoint(t *testing.T) {
	for _, c := range []struct {
		w    WorkersAI
		want string
	}{
		{WorkersAI{AccountID: "acct 42"}, "https://api.cloudflare.com/client/v4/accounts/acct%2042/ai/run/@cf/black-forest-labs/flux-1-schnell"},
		{WorkersAI{AccountID: "a", BaseURL: "https://gateway.ai.cloudflare.com/v1/a/images/workers-ai/"},
			"https://gateway.ai.cloudflare.com/v1/a/images/workers-ai/@cf/black-forest-labs/flux-1-schnell"},
	} {
		if got := c.w.endpoint(); got != c.want {
			t.Errorf("endpoint %s, want %s", got, c.want)
		}
	}
	if (&WorkersAI{}).Name() != "Workers AI" ||
		(&WorkersAI{BaseURL: "https://gateway.ai.cloudflare.com/v1/a/g/workers-ai"}).Name() != "Workers AI through AI Gateway" {
		t.Error("Name does not say whether the gateway is used")
	}
}

// The gateway token goes in cf-aig-authorization, beside the API token, and
// is kept out of messages like the API token.
func TestWorkersAIGatewayToken(t *testing.T) {
	const token, gatewayToken = "cf-5ecret", "aig-5ecret"
	var got http.Header
	f := newFakeService(t)
	f.set(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		replyJSON(400, `{"success":false,"result":[],"messages":[],"error":[{"code":2001,"message":"bad header cf-aig-authorization: Bearer `+gatewayToken+`"}]}`)(w, r)
	})
	gen := &WorkersAI{AccountID: "a", APIToken: token, GatewayToken: gatewayToken, BaseURL: f.URL + "/v1/a/g/workers-ai"}
	_, err := gen.Generate(context.Background(), ImageRequest{Prompt: "p"})
	if got.Get("Authorization") != "Bearer "+token || got.Get("cf-aig-authorization") != "Bearer "+gatewayToken {
		t.Errorf("headers %v", got)
	}
	if !errors.Is(err, ErrUpstreamRejected) || !strings.Contains(err.Error(), "Workers AI through AI Gateway rejected the request (HTTP 400): 2001: bad header cf-aig-authorization: Bearer [redacted]") {
		t.Errorf("got %v", err)
	}
}

// generateImage's description names the configured service and model, and
// steps says whether that service uses it.
func TestGenerateImageDescription(t *testing.T) {
	for _, c := range []struct {
		gen         ImageGenerator
		desc, steps string
	}{
		{&WorkersAI{}, "Generate an image from a text prompt with Workers AI (model @cf/black-forest-labs/flux-1-schnell).", "runs that many steps"},
		{&WorkersAI{BaseURL: "https://gateway.ai.cloudflare.com/v1/a/g/workers-ai"}, "with Workers AI through AI Gateway (model @cf/black-forest-labs/flux-1-schnell).", "runs that many steps"},
		{&OpenAIImages{}, "Generate an image from a text prompt with OpenAI (model gpt-image-2).", "has no steps parameter and ignores it"},
		{&OpenAIImages{BaseURL: "http://127.0.0.1:8080/v1", Model: "sdxl"}, "with the OpenAI-compatible image service (model sdxl).", "ignores it"},
		{OfflineRenderer{}, "with this server's offline renderer", "draws more shapes"},
		{namedOnly{}, "Generate an image from a text prompt with some service.", "Services without such a parameter ignore it."},
	} {
		tool := GenerateImage(c.gen)
		if !strings.Contains(tool.Description, c.desc) || strings.Contains(tool.Description, "Works best") {
			t.Errorf("%s: description %q, want %q", c.gen.Name(), tool.Description, c.desc)
		}
		if s := tool.InputSchema.Properties["steps"].Description; !strings.Contains(s, c.steps) {
			t.Errorf("%s: steps %q, want %q", c.gen.Name(), s, c.steps)
		}
	}
}

// namedOnly is a generator from outside this package.
type namedOnly struct{ ImageGenerator }

func (namedOnly) Name() string { return "some service" }
