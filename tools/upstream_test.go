package tools

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorded is one request a fake service received.
type recorded struct {
	Method, Path, Authorization, ContentType string
	Body                                     map[string]any
}

// fakeService is a local HTTP server standing in for an image service. It
// records every request and answers with the current reply function.
type fakeService struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []recorded
	reply http.HandlerFunc
}

func newFakeService(t *testing.T) *fakeService {
	t.Helper()
	f := &fakeService{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := recorded{Method: r.Method, Path: r.URL.EscapedPath(), Authorization: r.Header.Get("Authorization"), ContentType: r.Header.Get("Content-Type")}
		if err := json.Unmarshal(body, &rec.Body); err != nil {
			t.Errorf("request body is not a JSON object: %q", body)
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, rec)
		reply := f.reply
		f.mu.Unlock()
		reply(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeService) set(h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reply = h
	f.reqs = nil
}

func (f *fakeService) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// replyJSON answers with a status, headers and a body.
func replyJSON(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// replySlow answers only after the client has given up (or after d).
func replySlow(d time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
	}
}

// replyHuge streams n bytes of a JSON string, more than the client accepts.
func replyHuge(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"success":true,"result":{"image":"`)
		chunk := bytes.Repeat([]byte("A"), 4096)
		for written := 0; written < n; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		io.WriteString(w, `"}}`)
	}
}

func testJPEG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 4, 4)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func testPNG(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// upstreamCase is one reply of a fake service and what Generate must make
// of it.
type upstreamCase struct {
	name  string
	reply http.HandlerFunc
	ctx   func() (context.Context, context.CancelFunc)
	// On success: the expected media type and bytes.
	wantMime string
	wantData []byte
	// On failure: the error kind and substrings of the message.
	wantKind error
	wantText []string
}

// runUpstreamCases drives gen against f for each case and checks that the
// secret never appears in an error.
func runUpstreamCases(t *testing.T, f *fakeService, gen ImageGenerator, secret string, cases []upstreamCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.set(c.reply)
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if c.ctx != nil {
				ctx, cancel = c.ctx()
			}
			defer cancel()
			img, err := gen.Generate(ctx, ImageRequest{Prompt: "a lighthouse at dusk", Steps: 8})
			if c.wantKind == nil {
				if err != nil {
					t.Fatalf("Generate: %v", err)
				}
				if img.MimeType != c.wantMime || !bytes.Equal(img.Data, c.wantData) {
					t.Fatalf("got %s (%d bytes), want %s (%d bytes)", img.MimeType, len(img.Data), c.wantMime, len(c.wantData))
				}
				return
			}
			if err == nil {
				t.Fatalf("Generate succeeded, want %v", c.wantKind)
			}
			var ue *UpstreamError
			if !errors.As(err, &ue) || !errors.Is(err, c.wantKind) {
				t.Fatalf("got %v (%T), want an *UpstreamError of kind %v", err, err, c.wantKind)
			}
			for _, w := range c.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}

func cancelledCtx() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	return ctx, cancel
}

func TestWorkersAI(t *testing.T) {
	const token = "cf-token-5ecret"
	f := newFakeService(t)
	jpg, pngData := testJPEG(t), testPNG(t)
	gen := &WorkersAI{
		AccountID: "acct 42", APIToken: token, BaseURL: f.URL + "/client/v4/accounts/acct%2042/ai/run/",
		Timeout: 300 * time.Millisecond, MaxResponseBytes: 64 << 10,
	}
	b64 := base64.StdEncoding.EncodeToString
	ok := func(img []byte) string {
		return `{"result":{"image":"` + b64(img) + `"},"success":true,"errors":[],"messages":[]}`
	}
	runUpstreamCases(t, f, gen, token, []upstreamCase{
		{name: "success", reply: replyJSON(200, ok(jpg)), wantMime: "image/jpeg", wantData: jpg},
		{name: "success with a PNG", reply: replyJSON(200, ok(pngData)), wantMime: "image/png", wantData: pngData},
		{name: "success false", reply: replyJSON(200, `{"result":null,"success":false,"errors":[{"code":5006,"message":"prompt flagged"},{"code":"x1","message":"second"}],"messages":[]}`),
			wantKind: ErrUpstreamRejected, wantText: []string{"Workers AI rejected the request: 5006: prompt flagged; x1: second"}},
		{name: "success false without errors", reply: replyJSON(200, `{"success":false,"errors":[]}`),
			wantKind: ErrUpstreamRejected, wantText: []string{"no error was given"}},
		{name: "400 with envelope", reply: replyJSON(400, `{"success":false,"errors":[{"code":7001,"message":"steps must be at most 8"}]}`),
			wantKind: ErrUpstreamRejected, wantText: []string{"(HTTP 400)", "7001: steps must be at most 8"}},
		{name: "401", reply: replyJSON(401, `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}`),
			wantKind: ErrUpstreamCredentials, wantText: []string{"refused this server's credentials (HTTP 401)", "Authentication error", "CLOUDFLARE_API_TOKEN"}},
		{name: "403 without body", reply: replyJSON(403, ``),
			wantKind: ErrUpstreamCredentials, wantText: []string{"(HTTP 403)"}},
		{name: "recorded answer", reply: replyRecorded(t, "workersai/flux_ok"), wantMime: "image/jpeg", wantData: workersAIRecordedJPEG(t)},
		{name: "recorded 429 with Retry-After", reply: replyRecorded(t, "workersai/capacity"),
			wantKind: ErrUpstreamRateLimited, wantText: []string{"(HTTP 429); retry after 30s: 3040: AiError: Capacity temporarily exceeded"}},
		{name: "recorded unknown property", reply: replyRecorded(t, "workersai/bad_input", "PROPS", "/width, /height"),
			wantKind: ErrUpstreamRejected, wantText: []string{"(HTTP 400): 5006: AiError: Bad input: Additional or unevaluated properties '/width, /height' at '/' not allowed"}},
		{name: "recorded steps too high", reply: replyRecorded(t, "workersai/bad_steps"),
			wantKind: ErrUpstreamRejected, wantText: []string{"(HTTP 400): 5006:", "'/steps' must be <= 8"}},
		{name: "recorded no such model", reply: replyRecorded(t, "workersai/no_such_model", "MODEL", DefaultWorkersAIModel),
			wantKind: ErrUpstreamRejected, wantText: []string{"5007: No such model", `does not serve the model "` + DefaultWorkersAIModel + `"`, "OPENAI_API_KEY"}},
		{name: "recorded authentication error", reply: replyRecorded(t, "workersai/auth_error"),
			wantKind: ErrUpstreamCredentials, wantText: []string{"(HTTP 401): 10000: Authentication error. Check CLOUDFLARE_API_TOKEN"}},
		{name: "recorded gateway rate limit", reply: replyRecorded(t, "workersai/gateway_rate_limited"),
			wantKind: ErrUpstreamRateLimited, wantText: []string{"(HTTP 429); retry after 60s: 2003: Rate limited"}},
		{name: "recorded gateway guardrail refusal", reply: replyRecorded(t, "workersai/gateway_prompt_blocked"),
			wantKind: ErrUpstreamRejected, wantText: []string{"(HTTP 424): 2016: Prompt blocked due to security configurations. The gateway's guardrails refused this prompt; rephrase it"}},
		{name: "500", reply: replyJSON(500, `<html>oops</html>`),
			wantKind: ErrUpstreamFailed, wantText: []string{"Workers AI failed (HTTP 500). Try again later"}},
		{name: "502 with envelope", reply: replyJSON(502, `{"success":false,"errors":[{"code":1,"message":"bad gateway"}]}`),
			wantKind: ErrUpstreamFailed, wantText: []string{"(HTTP 502): 1: bad gateway. Try again later"}},
		{name: "malformed JSON", reply: replyJSON(200, `{"result":{"image":`),
			wantKind: ErrUpstreamMalformed, wantText: []string{"not a Cloudflare API envelope"}},
		{name: "not an envelope", reply: replyJSON(200, `{"image":"abc"}`),
			wantKind: ErrUpstreamMalformed, wantText: []string{"not a Cloudflare API envelope"}},
		{name: "no image", reply: replyJSON(200, `{"result":{},"success":true,"errors":[]}`),
			wantKind: ErrUpstreamMalformed, wantText: []string{"the result has no image"}},
		{name: "not base64", reply: replyJSON(200, `{"result":{"image":"@@@"},"success":true}`),
			wantKind: ErrUpstreamMalformed, wantText: []string{"not valid base64"}},
		{name: "non-image bytes", reply: replyJSON(200, ok([]byte("<!DOCTYPE html><p>hello</p>"))),
			wantKind: ErrUpstreamMalformed, wantText: []string{"not a PNG, JPEG or WebP image (it looks like text/html"}},
		{name: "oversize body", reply: replyHuge(128 << 10),
			wantKind: ErrUpstreamMalformed, wantText: []string{"larger than 65536 bytes"}},
		{name: "slow server beyond timeout", reply: replySlow(5 * time.Second),
			wantKind: ErrUpstreamTimeout, wantText: []string{"did not answer in time", "300ms"}},
		{name: "cancelled", reply: replySlow(5 * time.Second), ctx: cancelledCtx,
			wantKind: ErrUpstreamCanceled, wantText: []string{"the request to Workers AI was cancelled"}},
		{name: "caller's own deadline", reply: replySlow(5 * time.Second),
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 30*time.Millisecond)
			},
			wantKind: ErrUpstreamTimeout, wantText: []string{"the request's own deadline passed"}},
		{name: "token echoed back is redacted", reply: replyJSON(400, `{"success":false,"errors":[{"code":1,"message":"bad header Bearer `+token+`"}]}`),
			wantKind: ErrUpstreamRejected, wantText: []string{"Bearer [redacted]"}},
	})

	// The exact request, as recorded for the success case.
	f.set(replyJSON(200, ok(jpg)))
	if _, err := gen.Generate(context.Background(), ImageRequest{Prompt: "a lighthouse at dusk", Steps: 8}); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	want := recorded{
		Method:        "POST",
		Path:          "/client/v4/accounts/acct%2042/ai/run/@cf/black-forest-labs/flux-1-schnell",
		Authorization: "Bearer " + token,
		ContentType:   "application/json",
		Body:          map[string]any{"prompt": "a lighthouse at dusk", "steps": float64(8)},
	}
	got := reqs[0]
	if got.Method != want.Method || got.Path != want.Path || got.Authorization != want.Authorization || got.ContentType != want.ContentType {
		t.Errorf("request\n got %+v\nwant %+v", got, want)
	}
	if gb, _ := json.Marshal(got.Body); string(gb) != `{"prompt":"a lighthouse at dusk","steps":8}` {
		t.Errorf("body %s", gb)
	}
}

func TestWorkersAIUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	gen := &WorkersAI{AccountID: "a", APIToken: "tok-secret", BaseURL: url, Timeout: time.Second}
	_, err := gen.Generate(context.Background(), ImageRequest{Prompt: "x", Steps: 4})
	if !errors.Is(err, ErrUpstreamFailed) || !strings.Contains(err.Error(), "could not reach Workers AI") {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "tok-secret") || strings.Contains(err.Error(), "/accounts/") {
		t.Fatalf("error leaks the request: %v", err)
	}
}

func TestOpenAIImages(t *testing.T) {
	const key = "sk-test-5ecret"
	f := newFakeService(t)
	pngData, jpg := testPNG(t), testJPEG(t)
	gen := &OpenAIImages{
		BaseURL: f.URL + "/v1", Model: "gpt-image-2", APIKey: key,
		Timeout: 300 * time.Millisecond, MaxResponseBytes: 64 << 10,
	}
	b64 := base64.StdEncoding.EncodeToString
	ok := func(img []byte) string { return `{"created":1,"data":[{"b64_json":"` + b64(img) + `"}]}` }
	runUpstreamCases(t, f, gen, key, []upstreamCase{
		{name: "recorded answer", reply: replyRecorded(t, "openai/generation_b64"), wantMime: "image/png", wantData: openAIRecordedPNG(t)},
		{name: "success with a JPEG", reply: replyJSON(200, ok(jpg)), wantMime: "image/jpeg", wantData: jpg},
		{name: "recorded shut-down model", reply: replyRecorded(t, "openai/model_not_found", "MODEL", "gpt-image-2"),
			wantKind: ErrUpstreamRejected, wantText: []string{"rejected the request (HTTP 404): model_not_found: The model `gpt-image-2` has been deprecated",
				`It does not serve the image model "gpt-image-2" that OPENAI_IMAGE_MODEL names; set OPENAI_IMAGE_MODEL to a current image model`}},
		{name: "recorded unknown parameter", reply: replyRecorded(t, "openai/unknown_parameter", "PARAM", "style"),
			wantKind: ErrUpstreamRejected, wantText: []string{"(HTTP 400): unknown_parameter: Unknown parameter: 'style'", `The model "gpt-image-2" does not take a parameter`}},
		{name: "recorded content-policy refusal", reply: replyRecorded(t, "openai/moderation_blocked"),
			wantKind: ErrUpstreamRejected, wantText: []string{"(HTTP 400): moderation_blocked: Your request was rejected by the safety system", "refused this prompt; rephrase it"}},
		{name: "recorded invalid key", reply: replyRecorded(t, "openai/invalid_api_key", "KEY", key),
			wantKind: ErrUpstreamCredentials, wantText: []string{"(HTTP 401)", "Incorrect API key provided: [redacted]", "Check OPENAI_API_KEY"}},
		{name: "recorded rate limit with Retry-After", reply: replyRecorded(t, "openai/rate_limit"),
			wantKind: ErrUpstreamRateLimited, wantText: []string{"is rate limiting this server (HTTP 429); retry after 20s: rate_limit_exceeded: Rate limit reached"}},
		{name: "recorded quota exhausted", reply: replyRecorded(t, "openai/insufficient_quota"),
			wantKind: ErrUpstreamRateLimited, wantText: []string{"(HTTP 429): insufficient_quota: You exceeded your current quota", "retrying will not help"}},
		{name: "recorded server error", reply: replyRecorded(t, "openai/server_error"),
			wantKind: ErrUpstreamFailed, wantText: []string{"(HTTP 500): server_error: The server had an error", "Try again later"}},
		{name: "429 with Retry-After date", reply: replyJSON(429, `{"error":{"message":"Rate limit reached","type":"requests","code":null}}`, "Retry-After", "Wed, 25 Nov 2026 20:00:00 GMT"),
			wantKind: ErrUpstreamRateLimited, wantText: []string{"retry after Wed, 25 Nov 2026 20:00:00 GMT", "requests: Rate limit reached"}},
		{name: "error object with 200", reply: replyJSON(200, `{"error":{"message":"odd","type":"x","code":null}}`),
			wantKind: ErrUpstreamRejected, wantText: []string{"x: odd"}},
		{name: "malformed JSON", reply: replyJSON(200, `not json`),
			wantKind: ErrUpstreamMalformed, wantText: []string{"the body is not JSON"}},
		{name: "empty data", reply: replyJSON(200, `{"data":[]}`),
			wantKind: ErrUpstreamMalformed, wantText: []string{"no data[0]"}},
		{name: "neither b64_json nor url", reply: replyJSON(200, `{"data":[{"revised_prompt":"x"}]}`),
			wantKind: ErrUpstreamMalformed, wantText: []string{"neither b64_json nor url"}},
		{name: "url that is not http", reply: replyJSON(200, `{"data":[{"url":"file:///etc/passwd"}]}`),
			wantKind: ErrUpstreamMalformed, wantText: []string{"data[0].url is not an http or https URL"}},
		{name: "non-image bytes", reply: replyJSON(200, ok([]byte("just some text"))),
			wantKind: ErrUpstreamMalformed, wantText: []string{"it looks like text/plain"}},
		{name: "oversize body", reply: replyHuge(128 << 10),
			wantKind: ErrUpstreamMalformed, wantText: []string{"larger than 65536 bytes"}},
		{name: "slow server beyond timeout", reply: replySlow(5 * time.Second),
			wantKind: ErrUpstreamTimeout, wantText: []string{"did not answer in time"}},
		{name: "cancelled", reply: replySlow(5 * time.Second), ctx: cancelledCtx,
			wantKind: ErrUpstreamCanceled, wantText: []string{"cancelled"}},
	})

	f.set(replyJSON(200, ok(pngData)))
	if _, err := gen.Generate(context.Background(), ImageRequest{Prompt: "a lighthouse at dusk", Steps: 8}); err != nil {
		t.Fatal(err)
	}
	got := f.requests()[0]
	if got.Method != "POST" || got.Path != "/v1/images/generations" || got.Authorization != "Bearer "+key || got.ContentType != "application/json" {
		t.Errorf("request %+v", got)
	}

	// Without a key, no Authorization header is sent at all; without a
	// model, the default is asked for.
	keyless := &OpenAIImages{BaseURL: f.URL + "/v1"}
	f.set(replyJSON(200, ok(pngData)))
	if _, err := keyless.Generate(context.Background(), ImageRequest{Prompt: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := f.requests()[0]; got.Authorization != "" || got.Body["model"] != DefaultOpenAIImageModel {
		t.Errorf("keyless request %+v", got)
	}
	// The default model shut down: the message says which variable names
	// another.
	f.set(replyRecorded(t, "openai/model_not_found", "MODEL", DefaultOpenAIImageModel))
	_, err := keyless.Generate(context.Background(), ImageRequest{Prompt: "x"})
	if err == nil || !strings.Contains(err.Error(), `It does not serve the default image model "gpt-image-2"; set OPENAI_IMAGE_MODEL`) {
		t.Errorf("default model refused: %v", err)
	}
}

// The whole tool path: a Workers AI failure reaches the model as an isError
// result that says what happened.
func TestGenerateImageUpstreamFailureIsAnErrorResult(t *testing.T) {
	f := newFakeService(t)
	f.set(replyJSON(429, `{"success":false,"errors":[]}`, "Retry-After", "12"))
	tb := defaultTable(t, &WorkersAI{AccountID: "a", APIToken: "t0ken", BaseURL: f.URL})
	res, err := tb.CallTool(identityCtx("image_generation"), "generateImage", json.RawMessage(`{"prompt":"x"}`))
	if err != nil || !res.IsError {
		t.Fatalf("%+v, %v", res, err)
	}
	want := `could not generate the image: Workers AI is rate limiting this server (HTTP 429); retry after 12s`
	if res.Content[0].Text != want {
		t.Fatalf("got  %q\nwant %q", res.Content[0].Text, want)
	}
}
