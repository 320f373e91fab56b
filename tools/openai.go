package tools

// OpenAI-compatible image generation: POST {base}/images/generations with
// {"model","prompt","n":1,"response_format":"b64_json","size"}; the answer is
// {"data":[{"b64_json":"…"}]}, a failure {"error":{"message","type","code"}}.
// Many servers besides OpenAI's speak this shape, hence a configurable base.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// OpenAI-compatible defaults.
const (
	DefaultOpenAIBaseURL    = "https://api.openai.com/v1"
	DefaultOpenAIImageModel = "dall-e-3"
	DefaultOpenAIImageSize  = "1024x1024"
)

// OpenAIImages generates images with an OpenAI-compatible images endpoint.
// Steps has no equivalent there and is not sent.
type OpenAIImages struct {
	// BaseURL is the API base without a trailing slash, e.g.
	// DefaultOpenAIBaseURL or a local server's ".../v1".
	BaseURL string
	// Model is the image model; empty means DefaultOpenAIImageModel.
	Model string
	// APIKey is sent as a bearer token; empty sends none (some local servers
	// need none). It never appears in an error.
	APIKey string
	// Size is the requested size; empty means DefaultOpenAIImageSize.
	Size string
	// HTTPClient, Timeout and MaxResponseBytes: as for WorkersAI.
	HTTPClient       *http.Client
	Timeout          time.Duration
	MaxResponseBytes int64
}

// Name implements ImageGenerator.
func (o *OpenAIImages) Name() string { return "the OpenAI-compatible image service" }

// Generate implements ImageGenerator.
func (o *OpenAIImages) Generate(ctx context.Context, req ImageRequest) (*Image, error) {
	u := newUpstream(o.Name(), o.HTTPClient, o.Timeout, o.MaxResponseBytes, o.APIKey, "Check OPENAI_API_KEY")
	endpoint := strings.TrimRight(orDefault(o.BaseURL, DefaultOpenAIBaseURL), "/") + "/images/generations"
	r, err := u.post(ctx, endpoint, map[string]any{
		"model":           orDefault(o.Model, DefaultOpenAIImageModel),
		"prompt":          req.Prompt,
		"n":               1,
		"response_format": "b64_json",
		"size":            orDefault(o.Size, DefaultOpenAIImageSize),
	})
	if err != nil {
		return nil, err
	}
	var body struct {
		Data []struct {
			B64JSON string `json:"b64_json"`
		} `json:"data"`
		Error *struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"` // a string or null
		} `json:"error"`
	}
	bodyErr := json.Unmarshal(r.body, &body)
	var details []string
	if bodyErr == nil && body.Error != nil {
		d := body.Error.Message
		if c := errorCode(body.Error.Code); c != "" {
			d = c + ": " + d
		} else if body.Error.Type != "" {
			d = body.Error.Type + ": " + d
		}
		details = append(details, d)
	}
	if r.status < 200 || r.status > 299 {
		return nil, u.statusError(r, details)
	}
	if bodyErr != nil {
		return nil, u.fail(ErrUpstreamMalformed, r.status, "the body is not JSON")
	}
	if body.Error != nil {
		return nil, u.fail(ErrUpstreamRejected, r.status, strings.Join(details, "; "))
	}
	if len(body.Data) == 0 || body.Data[0].B64JSON == "" {
		return nil, u.fail(ErrUpstreamMalformed, r.status, "the response has no data[0].b64_json")
	}
	return u.image(r, body.Data[0].B64JSON)
}
