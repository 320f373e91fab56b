package tools

// Recorded answers of the image services (testdata/*/*.http: status line,
// headers and body, as the services send them and document them), and
// strict stand-ins that refuse what the real services refuse, answering
// with those recordings.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// recording is one recorded answer of a service.
type recording struct {
	status int
	header http.Header
	body   []byte
}

// loadRecording reads testdata/name.http, replacing each {{KEY}} by its
// value from vars (pairs of KEY, value); a value is inserted as the inside
// of a JSON string. It runs in stand-ins' handlers too, so a failure is
// reported with t.Errorf and answered as a 500, never with t.Fatal.
func loadRecording(t *testing.T, name string, vars ...string) recording {
	t.Helper()
	fail := func(format string, args ...any) recording {
		t.Errorf("%s: "+format, append([]any{name}, args...)...)
		return recording{status: http.StatusInternalServerError, header: http.Header{}}
	}
	raw, err := os.ReadFile(filepath.Join("testdata", name+".http"))
	if err != nil {
		return fail("%v", err)
	}
	for i := 0; i+1 < len(vars); i += 2 {
		q, _ := json.Marshal(vars[i+1])
		raw = bytes.ReplaceAll(raw, []byte("{{"+vars[i]+"}}"), q[1:len(q)-1])
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		return fail("%v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fail("%v", err)
	}
	if bytes.Contains(body, []byte("{{")) {
		return fail("a placeholder was left unfilled: %s", body)
	}
	return recording{status: resp.StatusCode, header: resp.Header, body: body}
}

// replyError answers with a JSON error body the way the service does.
func replyError(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (rec recording) write(w http.ResponseWriter) {
	for k, vs := range rec.header {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.status)
	w.Write(rec.body)
}

// replyRecorded answers every request with the recording name.
func replyRecorded(t *testing.T, name string, vars ...string) http.HandlerFunc {
	rec := loadRecording(t, name, vars...)
	return func(w http.ResponseWriter, _ *http.Request) { rec.write(w) }
}

// recordedImage is the image inside a recorded success answer.
func recordedImage(t *testing.T, name string, field func(map[string]any) string) []byte {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(loadRecording(t, name).body, &body); err != nil {
		t.Fatal(err)
	}
	data, err := base64.StdEncoding.DecodeString(field(body))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func openAIRecordedPNG(t *testing.T) []byte {
	return recordedImage(t, "openai/generation_b64", func(b map[string]any) string {
		return b["data"].([]any)[0].(map[string]any)["b64_json"].(string)
	})
}

func workersAIRecordedJPEG(t *testing.T) []byte {
	return recordedImage(t, "workersai/flux_ok", func(b map[string]any) string {
		return b["result"].(map[string]any)["image"].(string)
	})
}

// standIn is a local server standing in for an image service; it keeps
// the bodies of the requests it served.
type standIn struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
}

func (s *standIn) requests() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bodies)
}

func (s *standIn) record(body map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies = append(s.bodies, body)
}

// decodeObject reads a JSON object body, or answers 400 itself.
func decodeObject(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		replyError(w, http.StatusBadRequest, `{"error":{"message":"We could not parse the JSON body of your request.","type":"invalid_request_error","param":null,"code":null}}`)
		return nil, false
	}
	return body, true
}

// gptImageParams are the parameters the images endpoint takes for the GPT
// image models (API reference, "Create image"); any other is refused as an
// unknown parameter, the way OpenAI refuses response_format and style.
var gptImageParams = []string{"model", "prompt", "n", "size", "quality", "output_format", "output_compression",
	"background", "moderation", "user", "stream", "partial_images"}

// newOpenAIStandIn is a strict stand-in for POST /v1/images/generations of
// OpenAI's API as it answers today: only key is accepted, only the models in
// served exist (the DALL·E models answer model_not_found, as since their
// shutdown), and the GPT image models refuse the parameters they do not
// take and sizes they do not make. It answers b64_json.
func newOpenAIStandIn(t *testing.T, key string, served ...string) *standIn {
	t.Helper()
	s := &standIn{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/images/generations" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+key {
			loadRecording(t, "openai/invalid_api_key", "KEY", strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")).write(w)
			return
		}
		body, ok := decodeObject(w, r)
		if !ok {
			return
		}
		s.record(body)
		model, _ := body["model"].(string)
		if !slices.Contains(served, model) {
			loadRecording(t, "openai/model_not_found", "MODEL", model).write(w)
			return
		}
		var names []string
		for name := range body {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !slices.Contains(gptImageParams, name) {
				loadRecording(t, "openai/unknown_parameter", "PARAM", name).write(w)
				return
			}
		}
		if size, ok := body["size"]; ok && !slices.Contains(gptImageSizes, fmt.Sprint(size)) && !(strings.HasPrefix(model, "gpt-image-2") && freeSize(fmt.Sprint(size))) {
			loadRecording(t, "openai/invalid_size", "VALUE", fmt.Sprint(size)).write(w)
			return
		}
		if p, _ := body["prompt"].(string); p == "" {
			replyError(w, http.StatusBadRequest, `{"error":{"message":"Missing required parameter: 'prompt'.","type":"invalid_request_error","param":"prompt","code":"missing_required_parameter"}}`)
			return
		}
		replyRecorded(t, "openai/generation_b64")(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// newWorkersAIStandIn is a strict stand-in for Workers AI running
// flux-1-schnell, at the REST API's path and at AI Gateway's: only token is
// accepted, at the gateway also gatewayToken in cf-aig-authorization (when
// not empty, an authenticated gateway), and the input is checked against
// the model's schema (prompt of 1 to 2048 characters, integer steps of at
// most 8, no other property), refused with error 5006 as Workers AI does.
func newWorkersAIStandIn(t *testing.T, account, token, gateway, gatewayToken string) *standIn {
	t.Helper()
	s := &standIn{}
	rest := "/client/v4/accounts/" + account + "/ai/run/"
	viaGateway := "/v1/" + account + "/" + gateway + "/workers-ai/"
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var model string
		switch {
		case r.Method != http.MethodPost:
			http.NotFound(w, r)
			return
		case strings.HasPrefix(r.URL.Path, rest):
			model = strings.TrimPrefix(r.URL.Path, rest)
		case strings.HasPrefix(r.URL.Path, viaGateway):
			if gatewayToken != "" && r.Header.Get("cf-aig-authorization") != "Bearer "+gatewayToken {
				replyRecorded(t, "workersai/gateway_unauthorized")(w, r)
				return
			}
			model = strings.TrimPrefix(r.URL.Path, viaGateway)
		default:
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			replyRecorded(t, "workersai/auth_error")(w, r)
			return
		}
		if model != DefaultWorkersAIModel {
			replyRecorded(t, "workersai/no_such_model", "MODEL", model)(w, r)
			return
		}
		body, ok := decodeObject(w, r)
		if !ok {
			return
		}
		s.record(body)
		var extra []string
		for name := range body {
			if name != "prompt" && name != "steps" {
				extra = append(extra, "/"+name)
			}
		}
		if len(extra) > 0 {
			sort.Strings(extra)
			replyRecorded(t, "workersai/bad_input", "PROPS", strings.Join(extra, ", "))(w, r)
			return
		}
		if p, ok := body["prompt"].(string); !ok || p == "" || utf8.RuneCountInString(p) > 2048 {
			replyError(w, http.StatusBadRequest, `{"errors":[{"message":"AiError: Bad input: Error: Value at '/prompt' is invalid","code":5006}],"success":false,"result":{},"messages":[]}`)
			return
		}
		if steps, ok := body["steps"]; ok {
			if n, isNum := steps.(float64); !isNum || n != float64(int(n)) || n > 8 {
				replyRecorded(t, "workersai/bad_steps")(w, r)
				return
			}
		}
		replyRecorded(t, "workersai/flux_ok")(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}
