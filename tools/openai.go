package tools

// OpenAI-compatible image generation: POST {base}/images/generations, as the
// OpenAI API reference describes it ("Images" > "Create image",
// https://platform.openai.com/docs/api-reference/images/create). The answer
// is {"created":…, "data":[{"b64_json":"…"} or {"url":"…"}]}, a failure
// {"error":{"message","type","param","code"}}. Many servers besides
// OpenAI's speak this shape, hence a configurable base.
//
// Each model family takes its own parameters, and OpenAI answers 400
// unknown_parameter to any other (that is how the GPT image models refuse
// response_format), so the request is built per family:
//
//   - GPT image models (gpt-image-*, chatgpt-image-*): model, prompt, n,
//     size and output_format; "This parameter isn't supported for the GPT
//     image models, which always return base64-encoded images" says the
//     reference of response_format, and style is DALL·E 3's alone. Sizes
//     are 1024x1024, 1536x1024, 1024x1536 or auto; gpt-image-2 also takes
//     WIDTHxHEIGHT with both sides multiples of 16 and an aspect ratio
//     between 1:3 and 3:1.
//   - Any other model: the DALL·E-era request, response_format b64_json
//     included, which is what OpenAI-compatible servers implement. Some
//     answer with data[].url anyway; the image is then fetched through
//     newImageFetchClient.
//
// Which models OpenAI still serves (its "Deprecations" page): dall-e-2 and
// dall-e-3 were shut down on 2026-05-12, gpt-image-1 on 2026-10-23
// (replacement gpt-image-2), gpt-image-1-mini, gpt-image-1.5 and
// chatgpt-image-latest on 2026-12-01 (replacement gpt-image-2, and in
// later versions of the page the gpt-image-2.x Sunburst and Flare models).
// The default is therefore gpt-image-2, which has no announced shutdown.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OpenAI-compatible defaults.
const (
	DefaultOpenAIBaseURL = "https://api.openai.com/v1"
	// DefaultOpenAIImageModel is gpt-image-2, the replacement OpenAI names
	// for every GPT image model it has shut down, and not itself scheduled
	// for shutdown. The cheaper gpt-image-1-mini, like gpt-image-1, no
	// longer answers (see the file comment); gpt-image-2's own quality
	// setting is what trades cost for detail now.
	DefaultOpenAIImageModel = "gpt-image-2"
	DefaultOpenAIImageSize  = "1024x1024"
)

// gptImageSizes are the sizes every GPT image model makes (reference of
// "size": 1024x1024, 1536x1024, 1024x1536 or auto).
var gptImageSizes = []string{"1024x1024", "1536x1024", "1024x1536", "auto"}

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
	// HTTPClient, Timeout and MaxResponseBytes: as for WorkersAI. The image
	// fetched from a data[].url answer gets the same timeout and cap, but
	// its own guarded client, never HTTPClient.
	HTTPClient       *http.Client
	Timeout          time.Duration
	MaxResponseBytes int64

	// allowPrivateImageHosts lets tests fetch data[].url from a loopback
	// stand-in. There is no way to set it from outside the package.
	allowPrivateImageHosts bool
	fetchOnce              sync.Once
	fetchClient            *http.Client
}

// Name implements ImageGenerator.
func (o *OpenAIImages) Name() string {
	if o.official() {
		return "OpenAI"
	}
	return "the OpenAI-compatible image service"
}

// official reports whether the base URL is OpenAI's own API.
func (o *OpenAIImages) official() bool {
	return strings.TrimRight(orDefault(o.BaseURL, DefaultOpenAIBaseURL), "/") == DefaultOpenAIBaseURL
}

func (o *OpenAIImages) model() string { return orDefault(o.Model, DefaultOpenAIImageModel) }

// describe implements toolDescriber.
func (o *OpenAIImages) describe() (string, string) {
	return fmt.Sprintf("with %s (model %s)", o.Name(), o.model()),
		"This server's image service (" + o.Name() + ", " + o.model() + ") has no steps parameter and ignores it."
}

// isGPTImageModel reports whether model is one of OpenAI's GPT image models
// (gpt-image-2, gpt-image-2.5-flare, gpt-image-2.5-sunburst, their dated
// snapshots, and the shut-down gpt-image-1 family and
// chatgpt-image-latest, which compatible servers may still serve).
func isGPTImageModel(model string) bool {
	return strings.HasPrefix(model, "gpt-image-") || strings.HasPrefix(model, "chatgpt-image-")
}

// requestBody is what model accepts, per family (see the file comment).
func (o *OpenAIImages) requestBody(prompt string) (map[string]any, error) {
	model, size := o.model(), orDefault(o.Size, DefaultOpenAIImageSize)
	body := map[string]any{"model": model, "prompt": prompt, "n": 1, "size": size}
	if isGPTImageModel(model) {
		if !slices.Contains(gptImageSizes, size) && !(strings.HasPrefix(model, "gpt-image-2") && freeSize(size)) {
			return nil, fmt.Errorf("the image size %q is not one %s takes (%s)", size, model, strings.Join(gptImageSizes, ", "))
		}
		body["output_format"] = "png"
		return body, nil
	}
	body["response_format"] = "b64_json"
	return body, nil
}

// freeSize reports whether size is a WIDTHxHEIGHT gpt-image-2 takes: both
// sides multiples of 16, the aspect ratio between 1:3 and 3:1.
func freeSize(size string) bool {
	ws, hs, ok := strings.Cut(size, "x")
	w, errW := strconv.Atoi(ws)
	h, errH := strconv.Atoi(hs)
	return ok && errW == nil && errH == nil && w > 0 && h > 0 && w%16 == 0 && h%16 == 0 && w <= 3*h && h <= 3*w
}

// openAIError is the error object of the OpenAI API.
type openAIError struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Param   *string         `json:"param"`
	Code    json.RawMessage `json:"code"` // a string or null
}

func (e *openAIError) code() string { return errorCode(e.Code) }

func (e *openAIError) String() string {
	if c := e.code(); c != "" {
		return c + ": " + e.Message
	}
	if e.Type != "" {
		return e.Type + ": " + e.Message
	}
	return e.Message
}

// Generate implements ImageGenerator.
func (o *OpenAIImages) Generate(ctx context.Context, req ImageRequest) (*Image, error) {
	u := newUpstream(o.Name(), o.HTTPClient, o.Timeout, o.MaxResponseBytes, o.APIKey, "Check OPENAI_API_KEY")
	endpoint := strings.TrimRight(orDefault(o.BaseURL, DefaultOpenAIBaseURL), "/") + "/images/generations"
	body, err := o.requestBody(req.Prompt)
	if err != nil {
		return nil, u.fail(ErrUpstreamRejected, 0, err.Error())
	}
	r, err := u.post(ctx, endpoint, body)
	if err != nil {
		return nil, err
	}
	var answer struct {
		Data []struct {
			B64JSON string `json:"b64_json"`
			URL     string `json:"url"`
		} `json:"data"`
		Error *openAIError `json:"error"`
	}
	bodyErr := json.Unmarshal(r.body, &answer)
	if bodyErr == nil && answer.Error != nil {
		if answer.Error.code() == "unknown_parameter" && answer.Error.Param != nil && *answer.Error.Param == "response_format" {
			if _, sent := body["response_format"]; sent {
				// A compatible server that, like the GPT image models,
				// takes no response_format for this model: ask again
				// without it, and fetch the image if it answers with a URL.
				delete(body, "response_format")
				if r, err = u.post(ctx, endpoint, body); err != nil {
					return nil, err
				}
				answer.Data, answer.Error = nil, nil
				bodyErr = json.Unmarshal(r.body, &answer)
			}
		}
	}
	if bodyErr == nil && answer.Error != nil {
		return nil, o.serviceError(u, r, answer.Error)
	}
	if r.status < 200 || r.status > 299 {
		return nil, u.statusError(r, nil)
	}
	if bodyErr != nil {
		return nil, u.fail(ErrUpstreamMalformed, r.status, "the body is not JSON")
	}
	switch {
	case len(answer.Data) == 0:
		return nil, u.fail(ErrUpstreamMalformed, r.status, "the response has no data[0]")
	case answer.Data[0].B64JSON != "":
		return u.image(r, answer.Data[0].B64JSON)
	case answer.Data[0].URL != "":
		o.fetchOnce.Do(func() { o.fetchClient = newImageFetchClient(o.allowPrivateImageHosts) })
		return u.fetchImage(ctx, o.fetchClient, answer.Data[0].URL)
	default:
		return nil, u.fail(ErrUpstreamMalformed, r.status, "data[0] has neither b64_json nor url")
	}
}

// serviceError turns the API's error object into an *UpstreamError with a
// hint for the codes the OpenAI API documents ("Error codes" guide) and
// the image models add.
func (o *OpenAIImages) serviceError(u *upstream, r *response, e *openAIError) error {
	var ue *UpstreamError
	if r.status < 200 || r.status > 299 {
		ue = u.statusError(r, []string{e.String()})
	} else {
		ue = u.fail(ErrUpstreamRejected, r.status, e.String())
	}
	switch e.code() {
	case "model_not_found":
		// What OpenAI answers for a model it shut down, such as dall-e-3
		// since 2026-05-12.
		ue.Kind = ErrUpstreamRejected
		if o.Model == "" {
			ue.Hint = fmt.Sprintf("It does not serve the default image model %q; set OPENAI_IMAGE_MODEL to an image model it serves", o.model())
		} else {
			ue.Hint = fmt.Sprintf("It does not serve the image model %q that OPENAI_IMAGE_MODEL names; set OPENAI_IMAGE_MODEL to a current image model (for OpenAI, %s), or unset it for that default",
				o.model(), DefaultOpenAIImageModel)
		}
	case "unknown_parameter":
		ue.Hint = fmt.Sprintf("The model %q does not take a parameter this server sends; if it is not an image model this server knows, set OPENAI_IMAGE_MODEL to one that is", o.model())
	case "moderation_blocked", "content_policy_violation":
		// The GPT image models answer moderation_blocked, DALL·E answered
		// content_policy_violation: the prompt, not the server, is at fault.
		ue.Hint = "The service's safety system refused this prompt; rephrase it"
	case "insufficient_quota", "billing_hard_limit_reached":
		ue.Hint = "The account behind OPENAI_API_KEY has no quota left; retrying will not help until its billing is sorted"
	}
	return ue
}
