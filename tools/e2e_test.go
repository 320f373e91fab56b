package tools

// The product end to end against each image service: the generator chosen
// from the environment as main.go chooses it, the product's tool table
// served over Streamable HTTP, and tools/list and tools/call sent as a
// client sends them, with the service's variables pointing at a strict
// stand-in that refuses what the real service refuses.

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"remote-mcp-authkit/mcp"
)

// productClient builds the product's tools from env and serves them to a
// caller holding image_generation.
func productClient(t *testing.T, env map[string]string) *mcpClient {
	t.Helper()
	gen, err := ImageGeneratorFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return serveTable(t, defaultTable(t, gen), imageIdentity())
}

// listedImageTool is generateImage as tools/list shows it.
func listedImageTool(t *testing.T, c *mcpClient) mcp.Tool {
	t.Helper()
	msgs := readMessages(t, c.post(`{"jsonrpc":"2.0","id":"list","method":"tools/list"}`))
	var list struct{ Tools []mcp.Tool }
	if len(msgs) != 1 || json.Unmarshal(msgs[0].Result, &list) != nil {
		t.Fatalf("tools/list: %+v", msgs)
	}
	for _, tool := range list.Tools {
		if tool.Name == "generateImage" {
			return tool
		}
	}
	t.Fatalf("tools/list has no generateImage: %+v", list.Tools)
	return mcp.Tool{}
}

// callImage calls generateImage with args and returns its result.
func callImage(t *testing.T, c *mcpClient, args string) mcp.CallToolResult {
	t.Helper()
	msgs := readMessages(t, c.post(`{"jsonrpc":"2.0","id":"call","method":"tools/call","params":{"name":"generateImage","arguments":`+args+`}}`))
	for _, m := range msgs {
		if string(m.ID) == `"call"` {
			var res mcp.CallToolResult
			if m.Result == nil || json.Unmarshal(m.Result, &res) != nil {
				t.Fatalf("tools/call: %+v", m)
			}
			return res
		}
	}
	t.Fatalf("no answer to tools/call: %+v", msgs)
	return mcp.CallToolResult{}
}

func wantImage(t *testing.T, res mcp.CallToolResult, mime string, data []byte) {
	t.Helper()
	if res.IsError || len(res.Content) != 1 || res.Content[0].Type != "image" || res.Content[0].MimeType != mime ||
		res.Content[0].Data != base64.StdEncoding.EncodeToString(data) {
		t.Fatalf("got %+v, want one %s image", res, mime)
	}
}

func wantError(t *testing.T, res mcp.CallToolResult, parts ...string) {
	t.Helper()
	if !res.IsError || len(res.Content) != 1 {
		t.Fatalf("got %+v, want an isError result", res)
	}
	for _, p := range parts {
		if !strings.Contains(res.Content[0].Text, p) {
			t.Errorf("error %q does not contain %q", res.Content[0].Text, p)
		}
	}
}

func TestEndToEndOpenAI(t *testing.T) {
	const key = "sk-e2e-5ecret"
	s := newOpenAIStandIn(t, key, "gpt-image-2", "gpt-image-2.5-flare", "gpt-image-2.5-sunburst")
	env := map[string]string{"OPENAI_API_KEY": key, "OPENAI_BASE_URL": s.URL + "/v1"}

	// With no model named, the default is one the service serves, asked
	// only what it takes.
	c := productClient(t, env)
	tool := listedImageTool(t, c)
	if !strings.Contains(tool.Description, "gpt-image-2") || strings.Contains(tool.Description, "flux") {
		t.Errorf("description %q does not name the configured model", tool.Description)
	}
	var schema struct {
		Properties map[string]struct{ Description string }
	}
	if err := json.Unmarshal(tool.InputSchema, &schema); err != nil || !strings.Contains(schema.Properties["steps"].Description, "ignores it") {
		t.Errorf("steps is not said to be ignored: %s", tool.InputSchema)
	}
	wantImage(t, callImage(t, c, `{"prompt":"a lighthouse at dusk","steps":8}`), "image/png", openAIRecordedPNG(t))
	if got, _ := json.Marshal(s.requests()[0]); string(got) != `{"model":"gpt-image-2","n":1,"output_format":"png","prompt":"a lighthouse at dusk","size":"1024x1024"}` {
		t.Errorf("request body %s", got)
	}

	// A newer GPT image model named by the operator works the same way.
	env["OPENAI_IMAGE_MODEL"] = "gpt-image-2.5-flare"
	wantImage(t, callImage(t, productClient(t, env), `{"prompt":"x"}`), "image/png", openAIRecordedPNG(t))

	// The shut-down models (the DALL·E ones since 2026-05-12, gpt-image-1
	// since 2026-10-23, gpt-image-1-mini since 2026-12-01): the message names
	// the model and the variable to change.
	for _, model := range []string{"dall-e-3", "gpt-image-1", "gpt-image-1-mini"} {
		env["OPENAI_IMAGE_MODEL"] = model
		wantError(t, callImage(t, productClient(t, env), `{"prompt":"x"}`),
			"(HTTP 404)", "model_not_found: The model `"+model+"` has been deprecated",
			`does not serve the image model "`+model+`"`, "set OPENAI_IMAGE_MODEL")
	}

	// A wrong key: refused, and the key is not repeated.
	env["OPENAI_IMAGE_MODEL"], env["OPENAI_API_KEY"] = "", "sk-wrong-5ecret"
	res := callImage(t, productClient(t, env), `{"prompt":"x"}`)
	wantError(t, res, "(HTTP 401)", "Check OPENAI_API_KEY")
	if strings.Contains(res.Content[0].Text, "sk-wrong-5ecret") {
		t.Errorf("the key reached the client: %s", res.Content[0].Text)
	}
}

func TestEndToEndWorkersAI(t *testing.T) {
	const account, token = "acct-1", "cf-e2e-5ecret"
	s := newWorkersAIStandIn(t, account, token, "", "")
	env := map[string]string{
		"CLOUDFLARE_ACCOUNT_ID": account, "CLOUDFLARE_API_TOKEN": token,
		"WORKERS_AI_BASE_URL": s.URL + "/client/v4/accounts/" + account + "/ai/run",
	}
	c := productClient(t, env)
	tool := listedImageTool(t, c)
	if !strings.Contains(tool.Description, "Workers AI") || !strings.Contains(tool.Description, DefaultWorkersAIModel) {
		t.Errorf("description %q does not name the service and model", tool.Description)
	}
	// flux-1-schnell answers JPEG, and the result says so.
	wantImage(t, callImage(t, c, `{"prompt":"a lighthouse at dusk","steps":8}`), "image/jpeg", workersAIRecordedJPEG(t))
	if got, _ := json.Marshal(s.requests()[0]); string(got) != `{"prompt":"a lighthouse at dusk","steps":8}` {
		t.Errorf("request body %s", got)
	}
	// The default steps of the tool's schema are sent, and accepted.
	wantImage(t, callImage(t, c, `{"prompt":"x"}`), "image/jpeg", workersAIRecordedJPEG(t))

	env["CLOUDFLARE_API_TOKEN"] = "cf-wrong-5ecret"
	res := callImage(t, productClient(t, env), `{"prompt":"x"}`)
	wantError(t, res, "(HTTP 401)", "10000: Authentication error", "Check CLOUDFLARE_API_TOKEN")
	if strings.Contains(res.Content[0].Text, "cf-wrong-5ecret") {
		t.Errorf("the token reached the client: %s", res.Content[0].Text)
	}
}

// Through an authenticated AI Gateway: the gateway's URL shape and its
// cf-aig-authorization header.
func TestEndToEndWorkersAIThroughGateway(t *testing.T) {
	const account, token, gateway, gatewayToken = "acct-1", "cf-e2e-5ecret", "images", "aig-e2e-5ecret"
	s := newWorkersAIStandIn(t, account, token, gateway, gatewayToken)
	env := map[string]string{
		"CLOUDFLARE_ACCOUNT_ID": account, "CLOUDFLARE_API_TOKEN": token,
		"WORKERS_AI_BASE_URL":         s.URL + "/v1/" + account + "/" + gateway + "/workers-ai/",
		"CLOUDFLARE_AI_GATEWAY_TOKEN": gatewayToken,
	}
	wantImage(t, callImage(t, productClient(t, env), `{"prompt":"a lighthouse","steps":6}`), "image/jpeg", workersAIRecordedJPEG(t))

	env["CLOUDFLARE_AI_GATEWAY_TOKEN"] = "aig-wrong-5ecret"
	res := callImage(t, productClient(t, env), `{"prompt":"x"}`)
	wantError(t, res, "(HTTP 401)", "2009: Unauthorized", "CLOUDFLARE_AI_GATEWAY_TOKEN")
	if strings.Contains(res.Content[0].Text, "aig-wrong-5ecret") {
		t.Errorf("the gateway token reached the client: %s", res.Content[0].Text)
	}
}
