package tools

// Cloudflare Workers AI, REST API: POST
// {base}/accounts/{account_id}/ai/run/{model} with a bearer API token. The
// answer is Cloudflare's v4 envelope: {"result":…, "success":bool,
// "errors":[{"code","message"}], "messages":[…]}; for flux-1-schnell the
// result is {"image":"<base64 JPEG>"}.

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
	DefaultWorkersAIBaseURL = "https://api.cloudflare.com/client/v4"
	DefaultWorkersAIModel   = "@cf/black-forest-labs/flux-1-schnell"
)

// WorkersAI generates images with a Workers AI text-to-image model.
type WorkersAI struct {
	AccountID string
	// APIToken is a Cloudflare API token with the Workers AI permission. It is
	// sent only in the Authorization header and never appears in an error.
	APIToken string
	// BaseURL is the API base without a trailing slash; empty means
	// DefaultWorkersAIBaseURL. Tests point it at a local server.
	BaseURL string
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
func (w *WorkersAI) Name() string { return "Workers AI" }

// cfEnvelope is Cloudflare's v4 API response envelope.
type cfEnvelope struct {
	Success *bool           `json:"success"`
	Errors  []cfMessage     `json:"errors"`
	Result  json.RawMessage `json:"result"`
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
	u := newUpstream(w.Name(), w.HTTPClient, w.Timeout, w.MaxResponseBytes, w.APIToken,
		"Check CLOUDFLARE_API_TOKEN (it needs the Workers AI permission) and CLOUDFLARE_ACCOUNT_ID")
	// The model name keeps its slashes and '@': it is a path, not a segment.
	endpoint := strings.TrimRight(orDefault(w.BaseURL, DefaultWorkersAIBaseURL), "/") +
		"/accounts/" + url.PathEscape(w.AccountID) + "/ai/run/" + orDefault(w.Model, DefaultWorkersAIModel)
	body := map[string]any{"prompt": req.Prompt}
	if req.Steps > 0 {
		body["steps"] = req.Steps
	}
	r, err := u.post(ctx, endpoint, body)
	if err != nil {
		return nil, err
	}
	var env cfEnvelope
	envErr := json.Unmarshal(r.body, &env)
	if r.status < 200 || r.status > 299 {
		// Error statuses usually carry the envelope too; use its messages
		// when they are there.
		return nil, u.statusError(r, cfMessages(env.Errors))
	}
	if envErr != nil || env.Success == nil {
		return nil, u.fail(ErrUpstreamMalformed, r.status, "the body is not a Cloudflare API envelope")
	}
	if !*env.Success {
		msgs := cfMessages(env.Errors)
		if len(msgs) == 0 {
			msgs = []string{"success is false and no error was given"}
		}
		return nil, u.fail(ErrUpstreamRejected, r.status, strings.Join(msgs, "; "))
	}
	var result struct {
		Image string `json:"image"`
	}
	if err := json.Unmarshal(env.Result, &result); err != nil || result.Image == "" {
		return nil, u.fail(ErrUpstreamMalformed, r.status, "the result has no image")
	}
	return u.image(r, result.Image)
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
