package tools

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Each model family is sent only the parameters it takes: the GPT image
// models refuse response_format and style (400 unknown_parameter), the
// others are asked for base64 the DALL·E way.
func TestOpenAIImagesRequestPerModel(t *testing.T) {
	f := newFakeService(t)
	for model, want := range map[string]string{
		"":                     `{"model":"gpt-image-2","n":1,"output_format":"png","prompt":"p","size":"1024x1024"}`,
		"gpt-image-2.5-flare":  `{"model":"gpt-image-2.5-flare","n":1,"output_format":"png","prompt":"p","size":"1024x1024"}`,
		"gpt-image-1":          `{"model":"gpt-image-1","n":1,"output_format":"png","prompt":"p","size":"1024x1024"}`,
		"gpt-image-1.5":        `{"model":"gpt-image-1.5","n":1,"output_format":"png","prompt":"p","size":"1024x1024"}`,
		"gpt-image-2":          `{"model":"gpt-image-2","n":1,"output_format":"png","prompt":"p","size":"1024x1024"}`,
		"chatgpt-image-latest": `{"model":"chatgpt-image-latest","n":1,"output_format":"png","prompt":"p","size":"1024x1024"}`,
		"dall-e-3":             `{"model":"dall-e-3","n":1,"prompt":"p","response_format":"b64_json","size":"1024x1024"}`,
		"flux-dev":             `{"model":"flux-dev","n":1,"prompt":"p","response_format":"b64_json","size":"1024x1024"}`,
	} {
		f.set(replyRecorded(t, "openai/generation_b64"))
		gen := &OpenAIImages{BaseURL: f.URL + "/v1", Model: model}
		if _, err := gen.Generate(context.Background(), ImageRequest{Prompt: "p", Steps: 8}); err != nil {
			t.Fatalf("%q: %v", model, err)
		}
		if got, _ := json.Marshal(f.requests()[0].Body); string(got) != want {
			t.Errorf("%q: body %s\nwant %s", model, got, want)
		}
	}

	// A size the model does not make is refused before anything is sent;
	// gpt-image-2 takes other sizes than the first GPT image models.
	f.set(replyRecorded(t, "openai/generation_b64"))
	_, err := (&OpenAIImages{BaseURL: f.URL + "/v1", Model: "gpt-image-1", Size: "1792x1024"}).Generate(context.Background(), ImageRequest{Prompt: "p"})
	if !errors.Is(err, ErrUpstreamRejected) || !strings.Contains(err.Error(), `the image size "1792x1024" is not one gpt-image-1 takes (1024x1024, 1536x1024, 1024x1536, auto)`) {
		t.Errorf("got %v", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent for a refused size", n)
	}
	if _, err := (&OpenAIImages{BaseURL: f.URL + "/v1", Model: "gpt-image-2", Size: "1536x864"}).Generate(context.Background(), ImageRequest{Prompt: "p"}); err != nil {
		t.Errorf("gpt-image-2 with its own size: %v", err)
	}
	for _, size := range []string{"1000x1000", "3200x1024", "1024x4096", "big"} {
		_, err := (&OpenAIImages{BaseURL: f.URL + "/v1", Size: size}).Generate(context.Background(), ImageRequest{Prompt: "p"})
		if !errors.Is(err, ErrUpstreamRejected) || !strings.Contains(err.Error(), "is not one gpt-image-2 takes") {
			t.Errorf("size %s: got %v", size, err)
		}
	}
}

// A compatible server that, like the GPT image models, refuses
// response_format for a model this server does not know is asked again
// without it.
func TestOpenAIImagesRetriesWithoutResponseFormat(t *testing.T) {
	img := openAIRecordedPNG(t)
	f := newFakeService(t)
	f.set(func(w http.ResponseWriter, r *http.Request) {
		if n := len(f.requests()); n == 1 {
			replyRecorded(t, "openai/unknown_parameter", "PARAM", "response_format")(w, r)
			return
		}
		replyRecorded(t, "openai/generation_b64")(w, r)
	})
	got, err := (&OpenAIImages{BaseURL: f.URL, Model: "some-diffusion"}).Generate(context.Background(), ImageRequest{Prompt: "p"})
	if err != nil || string(got.Data) != string(img) {
		t.Fatalf("got %v", err)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[0].Body["response_format"] != "b64_json" || reqs[1].Body["response_format"] != nil {
		t.Fatalf("requests %+v", reqs)
	}
}

// imageHost serves one image (or whatever reply says) on loopback.
func imageHost(t *testing.T, reply http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(reply)
	t.Cleanup(srv.Close)
	return srv
}

// OpenAI-compatible services may answer with data[].url; the image is
// fetched with the limits of the client metadata fetcher: public addresses
// only (redirects included), a size cap, a deadline.
func TestOpenAIImagesURLAnswer(t *testing.T) {
	pngData := testPNG(t)
	var served int
	images := imageHost(t, func(w http.ResponseWriter, r *http.Request) {
		served++
		switch r.URL.Path {
		case "/img.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(pngData)
		case "/moved.png":
			http.Redirect(w, r, "/img.png", http.StatusFound)
		case "/loop.png":
			http.Redirect(w, r, "/loop.png", http.StatusFound)
		case "/huge.png":
			w.Write(pngData)
			w.Write(make([]byte, 128<<10))
		case "/slow.png":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "/page.png":
			io.WriteString(w, "<!DOCTYPE html><title>sign in</title>")
		default:
			http.Error(w, "expired", http.StatusForbidden)
		}
	})
	f := newFakeService(t)
	gen := &OpenAIImages{BaseURL: f.URL, Model: "flux-dev", APIKey: "sk-5ecret", Timeout: 300 * time.Millisecond, MaxResponseBytes: 64 << 10}

	// By default a link into this server's own network is not fetched.
	f.set(replyRecorded(t, "openai/generation_url", "IMAGE_URL", images.URL+"/img.png"))
	_, err := gen.Generate(context.Background(), ImageRequest{Prompt: "p"})
	if !errors.Is(err, ErrUpstreamMalformed) || !strings.Contains(err.Error(), "the image link leads to a loopback, private or link-local address") || served != 0 {
		t.Fatalf("loopback link: %v (served %d)", err, served)
	}

	// The stand-in is on loopback, so the rest runs with the test-only
	// permission.
	gen = &OpenAIImages{BaseURL: f.URL, Model: "flux-dev", APIKey: "sk-5ecret", Timeout: 300 * time.Millisecond, MaxResponseBytes: 64 << 10,
		allowPrivateImageHosts: true}
	runUpstreamCases(t, f, gen, "sk-5ecret", []upstreamCase{
		{name: "fetched", reply: replyRecorded(t, "openai/generation_url", "IMAGE_URL", images.URL+"/img.png"), wantMime: "image/png", wantData: pngData},
		{name: "after a redirect", reply: replyRecorded(t, "openai/generation_url", "IMAGE_URL", images.URL+"/moved.png"), wantMime: "image/png", wantData: pngData},
		{name: "endless redirects", reply: replyRecorded(t, "openai/generation_url", "IMAGE_URL", images.URL+"/loop.png"),
			wantKind: ErrUpstreamFailed, wantText: []string{"could not reach the OpenAI-compatible image service's image host 127.0.0.1: more than 3 redirects"}},
		{name: "image larger than the cap", reply: replyRecorded(t, "openai/generation_url", "IMAGE_URL", images.URL+"/huge.png"),
			wantKind: ErrUpstreamMalformed, wantText: []string{"larger than 65536 bytes"}},
		{name: "image host too slow", reply: replyRecorded(t, "openai/generation_url", "IMAGE_URL", images.URL+"/slow.png"),
			wantKind: ErrUpstreamTimeout, wantText: []string{"did not answer in time"}},
		{name: "not an image", reply: replyRecorded(t, "openai/generation_url", "IMAGE_URL", images.URL+"/page.png"),
			wantKind: ErrUpstreamMalformed, wantText: []string{"the image at 127.0.0.1: the data is not a PNG, JPEG or WebP image"}},
		{name: "link no longer valid", reply: replyRecorded(t, "openai/generation_url", "IMAGE_URL", images.URL+"/gone.png?sig=s3cr3t"),
			wantKind: ErrUpstreamFailed, wantText: []string{"fetching the image from 127.0.0.1 answered HTTP 403"}},
	})
}
