package tools

// Cloudflare Workers AI, REST API ("Workers AI" > "Get started" > "REST
// API"): POST {base}/{model} with a bearer API token, where the base is
// https://api.cloudflare.com/client/v4/accounts/{account_id}/ai/run. The
// answer is Cloudflare's v4 envelope: {"result":…, "success":bool,
// "errors":[{"code","message"}], "messages":[…]}. For flux-1-schnell the
// input schema is {"prompt": 1 to 2048 characters, "steps": at most 8},
// additionalProperties false (anything else is refused with error 5006),
// and the result is {"image":"<base64 JPEG>"} (model page
// "flux-1-schnell", https://developers.cloudflare.com/workers-ai/models/flux-1-schnell/).
// The model is still in the catalog: it is not among those Cloudflare
// retired on 2026-05-30 (changelog "Planned model deprecations on Workers
// AI", 2026-05-08).
//
// Through AI Gateway ("AI Gateway" > "Providers" > "Workers AI",
// https://developers.cloudflare.com/ai-gateway/usage/providers/workersai/)
// the base becomes
// https://gateway.ai.cloudflare.com/v1/{account_id}/{gateway_id}/workers-ai
// with the same token and body. An authenticated gateway also wants its own
// token in cf-aig-authorization: Bearer … ("AI Gateway" > "Authenticated
// Gateway"); new gateways are authenticated by default since 2026-11-03.
// The gateway's own failures use the envelope with "error" in place of
// "errors": 2009 Unauthorized (HTTP 401), 2003 Rate limited (429), 2016
// Prompt blocked due to security configurations (guardrails).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Workers AI defaults.
const (
	// CloudflareAPIBaseURL is the Cloudflare API (v4); Workers AI's REST
	// endpoints are under {it}/accounts/{account_id}/ai/run.
	CloudflareAPIBaseURL  = "https://api.cloudflare.com/client/v4"
	DefaultWorkersAIModel = "@cf/black-forest-labs/flux-1-schnell"
	// AIGatewayHost is the host of AI Gateway's provider endpoints.
	AIGatewayHost = "gateway.ai.cloudflare.com"
)

// WorkersAI generates images with a Workers AI text-to-image model.
type WorkersAI struct {
	AccountID string
	// APIToken is a Cloudflare API token with the Workers AI permission. It is
	// sent only in the Authorization header and never appears in an error.
	APIToken string
	// BaseURL is the URL the model id is appended to, without a trailing
	// slash. Empty means the REST API,
	// CloudflareAPIBaseURL/accounts/{AccountID}/ai/run. To route through
	// AI Gateway it is
	// https://gateway.ai.cloudflare.com/v1/{account_id}/{gateway_id}/workers-ai.
	BaseURL string
	// GatewayToken, when set, is sent as "cf-aig-authorization: Bearer …",
	// which an authenticated AI Gateway requires. Like APIToken it never
	// appears in an error.
	GatewayToken string
	// Model is the model to run; empty means DefaultWorkersAIModel.
	Model string
	// HTTPClient sends the requests; nil means a client without its own
	// timeout (Timeout below bounds each call).
	HTTPClient *http.Client
	// Timeout bounds one call, response included; 0 means
	// DefaultImageTimeout.
	Timeout time.Duration
	// MaxResponseBytes caps the response body; 0 means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// Name implements ImageGenerator.
func (w *WorkersAI) Name() string {
	if w.viaGateway() {
		return "Workers AI through AI Gateway"
	}
	return "Workers AI"
}

// viaGateway reports whether requests go through AI Gateway: BaseURL is on
// its host or has the shape of its Workers AI endpoint, or a gateway token
// is set.
func (w *WorkersAI) viaGateway() bool {
	u, err := url.Parse(w.BaseURL)
	return w.GatewayToken != "" ||
		err == nil && (u.Hostname() == AIGatewayHost || strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/workers-ai"))
}

func (w *WorkersAI) model() string { return orDefault(w.Model, DefaultWorkersAIModel) }

// describe implements toolDescriber.
func (w *WorkersAI) describe() (string, string) {
	return fmt.Sprintf("with %s (model %s)", w.Name(), w.model()),
		"This server's image service (" + w.Name() + ", " + w.model() + ") runs that many steps; it defaults to 4."
}

// cfEnvelope is Cloudflare's v4 API response envelope.
type cfEnvelope struct {
	Success *bool       `json:"success"`
	Errors  []cfMessage `json:"errors"`
	// Error is where AI Gateway puts its own errors.
	Error  []cfMessage     `json:"error"`
	Result json.RawMessage `json:"result"`
}

func (e *cfEnvelope) messages() []cfMessage {
	return append(e.Errors[:len(e.Errors):len(e.Errors)], e.Error...)
}

type cfMessage struct {
	Code    json.RawMessage `json:"code"` // a number in practice; kept raw so a string does not break decoding
	Message string          `json:"message"`
}

func (m cfMessage) String() string {
	if c := errorCode(m.Code); c != "" {
		return c + ": " + m.Message
	}
	return m.Message
}

// Generate implements ImageGenerator.
func (w *WorkersAI) Generate(ctx context.Context, req ImageRequest) (*Image, error) {
	hint := "Check CLOUDFLARE_API_TOKEN (it needs the Workers AI permission) and CLOUDFLARE_ACCOUNT_ID"
	if w.viaGateway() {
		hint += ", and CLOUDFLARE_AI_GATEWAY_TOKEN if the gateway is authenticated"
	}
	u := newUpstream(w.Name(), w.HTTPClient, w.Timeout, w.MaxResponseBytes, w.APIToken, hint)
	if w.GatewayToken != "" {
		u.setHeader("cf-aig-authorization", "Bearer "+w.GatewayToken)
		u.redact = append(u.redact, w.GatewayToken)
	}
	body := map[string]any{"prompt": req.Prompt}
	if req.Steps > 0 {
		body["steps"] = req.Steps
	}
	r, err := u.post(ctx, w.endpoint(), body)
	if err != nil {
		return nil, err
	}
	var env cfEnvelope
	envErr := json.Unmarshal(r.body, &env)
	if r.status < 200 || r.status > 299 {
		// Error statuses usually carry the envelope too; use its messages
		// when they are there.
		e := u.statusError(r, cfMessages(env.messages()))
		e.Hint = orDefault(w.hintFor(env.messages()), e.Hint)
		return nil, e
	}
	if envErr != nil || env.Success == nil {
		return nil, u.fail(ErrUpstreamMalformed, r.status, "the body is not a Cloudflare API envelope")
	}
	if !*env.Success {
		msgs := cfMessages(env.messages())
		if len(msgs) == 0 {
			msgs = []string{"success is false and no error was given"}
		}
		e := u.fail(ErrUpstreamRejected, r.status, strings.Join(msgs, "; "))
		e.Hint = w.hintFor(env.messages())
		return nil, e
	}
	var result struct {
		Image string `json:"image"`
	}
	if err := json.Unmarshal(env.Result, &result); err != nil || result.Image == "" {
		return nil, u.fail(ErrUpstreamMalformed, r.status, "the result has no image")
	}
	// The type is detected, not assumed: flux-1-schnell answers JPEG, other
	// models PNG.
	return u.image(r, result.Image)
}

// endpoint is the URL to POST the model's input to.
func (w *WorkersAI) endpoint() string {
	base := w.BaseURL
	if base == "" {
		base = CloudflareAPIBaseURL + "/accounts/" + url.PathEscape(w.AccountID) + "/ai/run"
	}
	// The model name keeps its slashes and '@': it is a path, not a segment.
	return strings.TrimRight(base, "/") + "/" + w.model()
}

// hintFor says what to do about the error codes whose remedy is not the
// HTTP status's usual one; "" for the others.
func (w *WorkersAI) hintFor(ms []cfMessage) string {
	for _, m := range ms {
		switch errorCode(m.Code) {
		case "5007": // "No such model … or task"
			return fmt.Sprintf("Workers AI does not serve the model %q; to draw with OpenAI instead, unset CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN and set OPENAI_API_KEY", w.model())
		case "2016", "2017": // AI Gateway guardrails
			return "The gateway's guardrails refused this prompt; rephrase it"
		}
	}
	return ""
}

// cfMessages renders at most five envelope errors.
func cfMessages(ms []cfMessage) []string {
	var out []string
	for i, m := range ms {
		if i == 5 {
			out = append(out, fmt.Sprintf("and %d more", len(ms)-5))
			break
		}
		out = append(out, m.String())
	}
	return out
}
