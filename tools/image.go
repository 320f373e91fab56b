package tools

// Image generation: the generator interface, the errors an image service can
// cause, and the generateImage tool that reports progress while it waits.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
)

// ImageRequest is what the generateImage tool asks a generator for.
type ImageRequest struct {
	Prompt string
	// Steps is the number of diffusion steps (4 to 8 for flux-1-schnell).
	// Services without such a parameter (the OpenAI images API) ignore it.
	Steps int
}

// Image is a generated image.
type Image struct {
	Data     []byte // the encoded image
	MimeType string // "image/png", "image/jpeg" or "image/webp", detected from Data
	// Notice, when set, is shown beside the image as a text block, to say
	// something the user should know about how it was made.
	Notice string
}

// ImageGenerator makes images from prompts. Generate must stop when ctx is
// done, and its errors are shown to the user as they are, so they must say
// what happened without containing credentials.
type ImageGenerator interface {
	Generate(ctx context.Context, req ImageRequest) (*Image, error)
	// Name says which service this is, for messages and logs.
	Name() string
}

// toolDescriber is implemented by the generators of this package, so that
// generateImage's description says what the server will use instead of
// naming a model it may not run.
type toolDescriber interface {
	// describe returns how the image is made, completing "Generate an
	// image from a text prompt ..." (e.g. "with Workers AI (model
	// @cf/black-forest-labs/flux-1-schnell)"), and a sentence on what the
	// steps argument does there.
	describe() (how, steps string)
}

var (
	_ toolDescriber = (*WorkersAI)(nil)
	_ toolDescriber = (*OpenAIImages)(nil)
	_ toolDescriber = OfflineRenderer{}
)

// Kinds of upstream failure, wrapped by *UpstreamError so that callers can
// tell them apart with errors.Is.
var (
	ErrUpstreamCredentials = errors.New("credentials refused")        // 401, 403
	ErrUpstreamRateLimited = errors.New("rate limited")               // 429
	ErrUpstreamFailed      = errors.New("service failed")             // 5xx, network failure
	ErrUpstreamRejected    = errors.New("request rejected")           // other 4xx, success:false
	ErrUpstreamMalformed   = errors.New("malformed response")         // not the documented shape
	ErrUpstreamTimeout     = errors.New("timed out")                  // our own deadline passed
	ErrUpstreamCanceled    = errors.New("cancelled by the requester") // the caller's ctx ended
)

// UpstreamError is a failure of an image service, worded for the person who
// asked for the image. It never contains the service's credentials.
type UpstreamError struct {
	Service    string // e.g. "Workers AI"
	Kind       error  // one of the ErrUpstream... values
	StatusCode int    // HTTP status, 0 when there was no response
	// RetryAfter is the service's Retry-After header (RFC 9110 section
	// 10.2.3) for the user to read: "20s" for a number of seconds, else the
	// HTTP date as sent.
	RetryAfter string
	// Detail is what the service or the transport said, already cleaned of
	// credentials and shortened.
	Detail string
	// Hint says what the operator can do, e.g. which variable to check.
	Hint string
}

// Error is the sentence shown to the user: what the service did, what it
// said, and what to do about it.
func (e *UpstreamError) Error() string {
	var b strings.Builder
	switch e.Kind {
	case ErrUpstreamCredentials:
		fmt.Fprintf(&b, "%s refused this server's credentials (HTTP %d)", e.Service, e.StatusCode)
	case ErrUpstreamRateLimited:
		fmt.Fprintf(&b, "%s is rate limiting this server (HTTP 429)", e.Service)
		if e.RetryAfter != "" {
			fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
		}
	case ErrUpstreamFailed:
		if e.StatusCode != 0 {
			fmt.Fprintf(&b, "%s failed (HTTP %d)", e.Service, e.StatusCode)
		} else {
			fmt.Fprintf(&b, "could not reach %s", e.Service)
		}
	case ErrUpstreamRejected:
		fmt.Fprintf(&b, "%s rejected the request", e.Service)
		if e.StatusCode != 0 && e.StatusCode != http.StatusOK {
			fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
		}
	case ErrUpstreamMalformed:
		fmt.Fprintf(&b, "%s sent a response this server cannot read", e.Service)
	case ErrUpstreamTimeout:
		fmt.Fprintf(&b, "%s did not answer in time", e.Service)
	case ErrUpstreamCanceled:
		fmt.Fprintf(&b, "the request to %s was cancelled", e.Service)
	default:
		fmt.Fprintf(&b, "%s: %v", e.Service, e.Kind)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(strings.TrimRight(e.Detail, ". "))
	}
	hint := e.Hint
	if hint == "" && (e.Kind == ErrUpstreamFailed || e.Kind == ErrUpstreamTimeout) {
		hint = "Try again later"
	}
	if hint != "" {
		b.WriteString(". ")
		b.WriteString(hint)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrUpstreamRateLimited) and the like hold.
func (e *UpstreamError) Unwrap() error { return e.Kind }

// detectImage returns the media type of data when it is one of the formats a
// client can be expected to show, else an error naming what it looks like.
func detectImage(data []byte) (string, error) {
	if len(data) == 0 {
		return "", errors.New("the image is empty")
	}
	// http.DetectContentType implements the WHATWG MIME sniffing patterns,
	// which know PNG, JPEG and WebP by their signatures.
	switch ct := http.DetectContentType(data); ct {
	case "image/png", "image/jpeg", "image/webp":
		return ct, nil
	default:
		return "", fmt.Errorf("the data is not a PNG, JPEG or WebP image (it looks like %s)", ct)
	}
}

// decodeImage decodes base64 image data and checks that it is an image.
func decodeImage(b64 string) ([]byte, string, error) {
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, "", errors.New("the image is not valid base64")
	}
	mt, err := detectImage(data)
	if err != nil {
		return nil, "", err
	}
	return data, mt, nil
}

// progressInterval is how often generateImage reports that it is still
// waiting. Tests shorten it.
var progressInterval = 2 * time.Second

// GenerateImage is the image tool of the reference example, drawing with gen.
// It needs the "image_generation" permission.
func GenerateImage(gen ImageGenerator) Tool {
	how, steps := "with "+gen.Name(), "Services without such a parameter ignore it."
	if d, ok := gen.(toolDescriber); ok {
		how, steps = d.describe()
	}
	return Tool{
		Name:        "generateImage",
		Title:       "Generate an image",
		Description: "Generate an image from a text prompt " + how + ".",
		// A slow call to an image service: a client that declared the tasks
		// extension gets a task to poll instead of a long-held request.
		TaskSupport: mcp.TaskOptional,
		InputSchema: &Schema{
			Type: "object",
			Properties: map[string]*Schema{
				"prompt": {
					Type:        "string",
					Description: "A text description of the image you want to generate.",
					MinLength:   Ptr(1),
					MaxLength:   Ptr(2048),
				},
				"steps": {
					Type:        "integer",
					Description: "The number of diffusion steps, from 4 to 8, for image services that have such a parameter; higher values can improve quality but take longer. " + steps,
					Minimum:     Ptr(4.0),
					Maximum:     Ptr(8.0),
					Default:     4,
				},
			},
			Required:             []string{"prompt"},
			AdditionalProperties: Ptr(false),
		},
		// Truthful hints: making an image changes nothing anywhere (read-only,
		// not destructive), but it asks an outside service whose answer we do
		// not control (open world), and the same prompt gives a different
		// image each time (not idempotent). The offline renderer happens to be
		// deterministic, but the hints describe the tool, not one backend.
		Annotations: mcp.ToolAnnotations{
			ReadOnlyHint:    Ptr(true),
			DestructiveHint: Ptr(false),
			IdempotentHint:  Ptr(false),
			OpenWorldHint:   Ptr(true),
		},
		Permissions: []string{"image_generation"},
		// Each call spends the image service's budget and a minute of its
		// time; a few a minute per person is what a conversation needs.
		RateLimit: RateLimit{Calls: 5, Per: time.Minute},
		Handler: func(ctx context.Context, _ *oauth.Identity, raw json.RawMessage) (*mcp.CallToolResult, error) {
			var req ImageRequest
			if err := json.Unmarshal(raw, &req); err != nil {
				return nil, fmt.Errorf("invalid arguments: %v", err)
			}
			img, err := generateWithProgress(ctx, gen, req)
			if err != nil {
				err = fmt.Errorf("could not generate the image: %w", err)
				// Also to the client's log (server/utilities/logging), where an
				// operator looks for service failures; best effort, and the
				// text carries no credentials.
				_ = mcp.Log(ctx, mcp.LevelWarning, "generateImage", map[string]string{"service": gen.Name(), "error": err.Error()})
				return nil, err
			}
			res := &mcp.CallToolResult{Content: []mcp.Content{
				mcp.ImageContent(base64.StdEncoding.EncodeToString(img.Data), img.MimeType),
			}}
			if img.Notice != "" {
				res.Content = append(res.Content, mcp.TextContent(img.Notice))
			}
			return res, nil
		},
	}
}

// generateWithProgress runs gen and, when the caller asked for progress
// (basic/utilities/progress: a progressToken in the request's _meta), sends
// notifications/progress at the start, every progressInterval while waiting,
// and at the end. The service reports no progress of its own, so the total
// is unknown (0) until the image is there; progress only increases, as the
// specification requires.
func generateWithProgress(ctx context.Context, gen ImageGenerator, req ImageRequest) (*Image, error) {
	type outcome struct {
		img *Image
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		img, err := gen.Generate(ctx, req)
		done <- outcome{img, err}
	}()
	name := gen.Name()
	step := 0.0
	// Progress is best effort: a failed notification must not fail the call.
	_ = notifyProgress(ctx, step, 0, "asking "+name+" for an image")
	tick := time.NewTicker(progressInterval)
	defer tick.Stop()
	start := time.Now()
	for {
		select {
		case o := <-done:
			if o.err == nil && o.img == nil {
				o.err = fmt.Errorf("%s returned no image", name)
			}
			if o.err == nil {
				step++
				_ = notifyProgress(ctx, step, step, "image ready")
			}
			return o.img, o.err
		case <-tick.C:
			step++
			_ = notifyProgress(ctx, step, 0, fmt.Sprintf("waiting for %s (%ds)", name, int(time.Since(start).Seconds())))
		}
	}
}
