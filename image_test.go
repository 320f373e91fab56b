package main

// The product with each image service configured as an operator would, the
// service being a strict local stand-in that answers with the recorded
// answers of tools/testdata and refuses, as the real service does, any
// parameter its model does not take.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// recordedAnswer serves tools/testdata/name.http, {{KEY}} filled from vars.
func recordedAnswer(t *testing.T, w http.ResponseWriter, name string, vars ...string) {
	raw, err := os.ReadFile("tools/testdata/" + name + ".http")
	if err != nil {
		t.Error(err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	for i := 0; i+1 < len(vars); i += 2 {
		raw = bytes.ReplaceAll(raw, []byte("{{"+vars[i]+"}}"), []byte(vars[i+1]))
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Error(err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	bufio.NewReader(resp.Body).WriteTo(w)
}

// strictImageService accepts POSTs to path whose JSON body has only the
// given members, answering ok; anything else gets the service's recorded
// refusal, and counts as refused.
func strictImageService(t *testing.T, path, bearer string, members []string, ok string, refuse func(w http.ResponseWriter, member string)) (*httptest.Server, *atomic.Int32) {
	var refused atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if r.Method != http.MethodPost || r.URL.Path != path || r.Header.Get("Authorization") != "Bearer "+bearer ||
			json.NewDecoder(r.Body).Decode(&body) != nil {
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			http.NotFound(w, r)
			return
		}
		for k := range body {
			if !slices.Contains(members, k) {
				refused.Add(1)
				refuse(w, k)
				return
			}
		}
		recordedAnswer(t, w, ok)
	}))
	t.Cleanup(srv.Close)
	return srv, &refused
}

func TestImageServices(t *testing.T) {
	cases := []struct {
		name  string
		env   func(base string) map[string]string
		path  string
		model string // what generateImage's description must name
		mime  string
		srv   func(t *testing.T, path string) (*httptest.Server, *atomic.Int32)
	}{{
		name: "OpenAI",
		env: func(base string) map[string]string {
			return map[string]string{"OPENAI_API_KEY": "sk-root-5ecret", "OPENAI_BASE_URL": base + "/v1"}
		},
		path: "/v1/images/generations", model: "gpt-image-2", mime: "image/png",
		srv: func(t *testing.T, path string) (*httptest.Server, *atomic.Int32) {
			return strictImageService(t, path, "sk-root-5ecret",
				[]string{"model", "prompt", "n", "size", "quality", "output_format", "background", "moderation"},
				"openai/generation_b64", func(w http.ResponseWriter, member string) {
					recordedAnswer(t, w, "openai/unknown_parameter", "PARAM", member)
				})
		},
	}, {
		name: "Workers AI",
		env: func(base string) map[string]string {
			return map[string]string{"CLOUDFLARE_ACCOUNT_ID": "acct", "CLOUDFLARE_API_TOKEN": "cf-root-5ecret",
				"WORKERS_AI_BASE_URL": base + "/client/v4/accounts/acct/ai/run"}
		},
		path: "/client/v4/accounts/acct/ai/run/@cf/black-forest-labs/flux-1-schnell", model: "flux-1-schnell", mime: "image/jpeg",
		srv: func(t *testing.T, path string) (*httptest.Server, *atomic.Int32) {
			return strictImageService(t, path, "cf-root-5ecret", []string{"prompt", "steps"},
				"workersai/flux_ok", func(w http.ResponseWriter, member string) {
					recordedAnswer(t, w, "workersai/bad_input", "PROPS", "/"+member)
				})
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
			defer cancel()
			service, refused := c.srv(t, c.path)
			srv := startServer(t, serverConfig{env: c.env(service.URL)})
			client := discover(ctx, t, srv.base+"/mcp")
			client.register(ctx, t, "image client")
			tok := client.authorize(ctx, t, newBrowser(t), "ada@example.com")
			m := newStreamable(ctx, srv.base+"/mcp", tok.AccessToken)
			m.initialize(t)

			var list struct {
				Tools []struct{ Name, Description string }
			}
			if err := json.Unmarshal(mustCall(t, m, "tools/list", map[string]any{}), &list); err != nil {
				t.Fatal(err)
			}
			for _, tool := range list.Tools {
				if tool.Name == "generateImage" && !strings.Contains(tool.Description, c.model) {
					t.Errorf("generateImage description %q does not name %s", tool.Description, c.model)
				}
			}
			r, rerr := callTool(t, m, "generateImage", map[string]any{"prompt": "a lighthouse at dusk", "steps": 8})
			if rerr != nil || r.IsError || len(r.Content) != 1 || r.Content[0].Type != "image" || r.Content[0].MimeType != c.mime {
				t.Fatalf("generateImage: %+v, %v", r, rerr)
			}
			if _, err := base64.StdEncoding.DecodeString(r.Content[0].Data); err != nil {
				t.Fatalf("image data: %v", err)
			}
			// Asked right the first time: nothing the model does not take.
			if n := refused.Load(); n != 0 {
				t.Errorf("the service refused %d requests", n)
			}
		})
	}
}
