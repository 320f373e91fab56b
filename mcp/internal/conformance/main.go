// Command conformance is the server that the official MCP conformance suite
// (npm package @modelcontextprotocol/conformance, pinned in .ci/package.json)
// tests: it serves, over Streamable HTTP at /mcp with no authentication,
// every tool, resource, prompt and completion the suite's server scenarios
// name, each behaving exactly as the scenario checks. It is built from
// package mcp alone, so a pass says that the package, not an adapter around
// it, speaks the protocol.
//
// What each scenario of the suite (version 0.1.16, `--suite all`) sends and
// checks, and what here answers it:
//
//   - server-initialize, ping, logging-set-level: the lifecycle, in package
//     mcp itself.
//   - tools-list: every tool has a name, a description and an inputSchema.
//   - tools-call-simple-text, -image, -audio (mimeType audio/wav),
//     -embedded-resource (uri, mimeType, text), -mixed-content (text, image
//     and resource blocks): the test_* tools of the same names.
//   - tools-call-with-logging: at least 3 notifications/message during the
//     call (test_tool_with_logging, 50 ms apart, level info; the client
//     sets debug first).
//   - tools-call-with-progress: at least 3 notifications/progress with
//     non-decreasing progress for the request's progressToken
//     (test_tool_with_progress: 0, 50, 100 of 100).
//   - tools-call-error: isError true and a text block (test_error_handling).
//   - tools-call-sampling, tools-call-elicitation: the tool sends
//     sampling/createMessage or elicitation/create to the client and
//     returns content (test_sampling, test_elicitation).
//   - elicitation-sep1034-defaults: a form whose string, integer, number,
//     enum and boolean fields carry defaults "John Doe", 30, 95.5, "active",
//     true (test_elicitation_sep1034_defaults).
//   - elicitation-sep1330-enums: the five enum shapes (untitled and titled
//     single-select, legacy enumNames, untitled and titled multi-select)
//     (test_elicitation_sep1330_enums).
//   - json-schema-2020-12: tools/list keeps $schema, $defs,
//     additionalProperties, allOf/anyOf, if/then/else and $anchor of
//     json_schema_2020_12_tool's inputSchema.
//   - resources-list, resources-read-text (test://static-text),
//     resources-read-binary (test://static-binary, a blob),
//     resources-templates-read (test://template/{id}/data; the text names
//     the id), resources-subscribe and resources-unsubscribe
//     (test://watched-resource, which changes every 3 s and tells its
//     subscribers).
//   - prompts-list (name and description each), prompts-get-simple,
//     prompts-get-with-args (both argument values appear in the messages),
//     prompts-get-embedded-resource, prompts-get-with-image.
//   - completion-complete: completion.values is an array for ref/prompt
//     test_prompt_with_arguments, argument arg1.
//   - server-sse-polling: test_reconnection answers on an SSE stream, which
//     must open with a priming event (an id, empty data, a retry field),
//     then closes the connection mid-call with mcp.CloseSSEStream (the
//     endpoint has HTTPOptions.Polling); the suite reconnects with GET and
//     Last-Event-ID and must get the result there.
//   - server-sse-multiple-streams: three concurrent POSTs on one session,
//     each answered.
//   - dns-rebinding-protection: a request whose Host and Origin name
//     another host gets 4xx, one naming this loopback address gets 2xx.
//
// Usage:
//
//	go run ./mcp/internal/conformance -addr 127.0.0.1:3001
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"remote-mcp-authkit/mcp"
)

// A 1x1 red PNG and a minimal WAV file, base64, as the suite's reference
// server uses.
const (
	testImageBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
	testAudioBase64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3001", "listen address, HOST:PORT")
	flag.Parse()

	srv := newServer()
	stopWatch := watchResource(srv, 3*time.Second)
	defer stopWatch()

	mux := http.NewServeMux()
	mux.Handle("/mcp", srv.StreamableHTTPHandler(mcp.HTTPOptions{Polling: true}))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("conformance fixture serving MCP at http://%s/mcp", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		_ = hs.Shutdown(shutdown)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// newServer builds the fixture's server: the tools, resources, prompts and
// completion the scenarios name.
func newServer() *mcp.Server {
	tools := &fixtureToolSet{table: append(append(fixtureTools(), taskTools()...), mrtrTools()...)}
	var srv *mcp.Server
	tools.table = append(tools.table, modernTools(tools, func() *mcp.Server { return srv })...)
	srv = mcp.NewServer(mcp.ServerOptions{
		Info:         mcp.Implementation{Name: "remote-mcp-authkit-conformance", Version: "1.0.0"},
		Instructions: "Conformance fixture: serves what the MCP conformance suite tests.",
		Tools:        tools,
		Tasks:        &mcp.TaskOptions{TTL: 5 * time.Minute, PollInterval: 200 * time.Millisecond, MaxPerOwner: 64},
	})
	addResources(srv)
	addPrompts(srv)
	addMRTRPrompt(srv)
	srv.SetCompletion(complete)
	return srv
}

// ---- Tools ----

// toolFunc runs one tool; arguments is the tools/call arguments object.
type toolFunc func(ctx context.Context, arguments json.RawMessage) (*mcp.CallToolResult, error)

type fixtureTool struct {
	mcp.Tool
	run toolFunc
}

// toolTable is an mcp.ToolSet over a fixed list.
type toolTable []fixtureTool

func (t toolTable) ListTools(context.Context) []mcp.Tool {
	out := make([]mcp.Tool, len(t))
	for i, x := range t {
		out[i] = x.Tool
	}
	return out
}

func (t toolTable) CallTool(ctx context.Context, name string, arguments json.RawMessage) (*mcp.CallToolResult, error) {
	for _, x := range t {
		if x.Name == name {
			return x.run(ctx, arguments)
		}
	}
	return nil, fmt.Errorf("%w: %s", mcp.ErrUnknownTool, name)
}

var noArguments = json.RawMessage(`{"type":"object","properties":{}}`)

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(s)}}
}

func failed(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(s)}, IsError: true}
}

func fixed(content ...mcp.Content) toolFunc {
	return func(context.Context, json.RawMessage) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: content}, nil
	}
}

// sleep waits d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func fixtureTools() toolTable {
	return toolTable{
		{mcp.Tool{Name: "test_simple_text", Description: "Tests simple text content response", InputSchema: noArguments},
			fixed(mcp.TextContent("This is a simple text response for testing."))},
		{mcp.Tool{Name: "test_image_content", Description: "Tests image content response", InputSchema: noArguments},
			fixed(mcp.ImageContent(testImageBase64, "image/png"))},
		{mcp.Tool{Name: "test_audio_content", Description: "Tests audio content response", InputSchema: noArguments},
			fixed(mcp.Content{Type: "audio", Data: testAudioBase64, MimeType: "audio/wav"})},
		{mcp.Tool{Name: "test_embedded_resource", Description: "Tests embedded resource content response", InputSchema: noArguments},
			fixed(mcp.Content{Type: "resource", Resource: &mcp.ResourceContents{
				URI: "test://embedded-resource", MimeType: "text/plain", Text: "This is an embedded resource content."}})},
		{mcp.Tool{Name: "test_multiple_content_types", Description: "Tests response with multiple content types (text, image, resource)", InputSchema: noArguments},
			fixed(mcp.TextContent("Multiple content types test:"),
				mcp.ImageContent(testImageBase64, "image/png"),
				mcp.Content{Type: "resource", Resource: &mcp.ResourceContents{
					URI: "test://mixed-content-resource", MimeType: "application/json", Text: `{"test":"data","value":123}`}})},
		{mcp.Tool{Name: "test_tool_with_logging", Description: "Tests tool that emits log messages during execution", InputSchema: noArguments},
			toolWithLogging},
		{mcp.Tool{Name: "test_tool_with_progress", Description: "Tests tool that reports progress notifications", InputSchema: noArguments},
			toolWithProgress},
		{mcp.Tool{Name: "test_error_handling", Description: "Tests error response handling", InputSchema: noArguments},
			func(context.Context, json.RawMessage) (*mcp.CallToolResult, error) {
				return failed("This tool intentionally returns an error for testing"), nil
			}},
		{mcp.Tool{Name: "test_reconnection", Description: "Tests SSE stream disconnection and client reconnection (SEP-1699): the server closes the stream mid-call and sends the result after the client reconnects.", InputSchema: noArguments},
			toolReconnection},
		{mcp.Tool{Name: "test_sampling", Description: "Tests server-initiated sampling (LLM completion request)",
			InputSchema: json.RawMessage(`{"type":"object","properties":{"prompt":{"type":"string","description":"The prompt to send to the LLM"}},"required":["prompt"]}`)},
			toolSampling},
		{mcp.Tool{Name: "test_elicitation", Description: "Tests server-initiated elicitation (user input request)",
			InputSchema: json.RawMessage(`{"type":"object","properties":{"message":{"type":"string","description":"The message to show the user"}},"required":["message"]}`)},
			toolElicitation},
		{mcp.Tool{Name: "test_elicitation_sep1034_defaults", Description: "Tests elicitation with default values per SEP-1034", InputSchema: noArguments},
			elicitWith("Please review and update the form fields with defaults", sep1034Schema)},
		{mcp.Tool{Name: "test_elicitation_sep1330_enums", Description: "Tests elicitation with enum schema improvements per SEP-1330", InputSchema: noArguments},
			elicitWith("Please select options from the enum fields", sep1330Schema)},
		{mcp.Tool{Name: "json_schema_2020_12_tool", Description: "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)",
			InputSchema: json.RawMessage(jsonSchema202012)},
			func(_ context.Context, args json.RawMessage) (*mcp.CallToolResult, error) {
				return text("JSON Schema 2020-12 tool called with: " + string(args)), nil
			}},
	}
}

// jsonSchema202012 is the scenario's schema: the keywords SEP-1613 says must
// survive tools/list untouched ($schema, $defs with a $ref into it,
// additionalProperties) and the wider 2020-12 vocabulary SEP-2106 allows
// (allOf/anyOf, if/then/else, $anchor).
const jsonSchema202012 = `{
	"$schema": "https://json-schema.org/draft/2020-12/schema",
	"type": "object",
	"$defs": {"address": {"$anchor": "addressDef", "type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
	"properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"},
		"contactMethod": {"type": "string", "enum": ["phone", "email"]}, "phone": {"type": "string"}, "email": {"type": "string"}},
	"allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
	"if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
	"then": {"required": ["phone"]},
	"else": {"required": ["email"]},
	"additionalProperties": false
}`

func toolWithLogging(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
	for i, msg := range []string{"Tool execution started", "Tool processing data", "Tool execution completed"} {
		if i > 0 {
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return nil, err
			}
		}
		if err := mcp.Log(ctx, mcp.LevelInfo, "conformance", msg); err != nil {
			return nil, err
		}
	}
	return text("Tool with logging executed successfully"), nil
}

func toolWithProgress(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
	for i, p := range []float64{0, 50, 100} {
		if i > 0 {
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return nil, err
			}
		}
		if err := mcp.NotifyProgress(ctx, p, 100, fmt.Sprintf("Completed step %v of 100", p)); err != nil {
			return nil, err
		}
	}
	return text("Tool with progress executed successfully"), nil
}

// toolReconnection is SEP-1699's polling test. The suite accepts either
// behaviour: closing the request's SSE stream mid-call (the client then
// resumes with GET and Last-Event-ID), or answering on the open stream.
// Package mcp has no public way to close one request's stream while its
// handler runs, so this answers on the stream. It first sends a log
// message, so that the answer is an SSE stream rather than plain JSON and
// the suite checks the stream's priming event and retry field.
func toolReconnection(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
	if err := mcp.Log(ctx, mcp.LevelNotice, "conformance", "test_reconnection: stream open"); err != nil {
		return nil, err
	}
	// Close the connection, not the stream: the result below reaches the
	// client on its GET with Last-Event-ID. A session that cannot resume
	// (before 2025-11-25) simply gets the result on the open stream.
	if err := mcp.CloseSSEStream(ctx); err != nil && !errors.Is(err, mcp.ErrStreamNotClosable) {
		return nil, err
	}
	if err := sleep(ctx, 100*time.Millisecond); err != nil {
		return nil, err
	}
	return text("Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure."), nil
}

func toolSampling(ctx context.Context, args json.RawMessage) (*mcp.CallToolResult, error) {
	var in struct {
		Prompt string `json:"prompt"`
	}
	if err := json.Unmarshal(args, &in); err != nil || in.Prompt == "" {
		return failed("test_sampling needs a prompt (string)"), nil
	}
	res, err := mcp.CreateMessage(ctx, &mcp.CreateMessageParams{
		Messages:  []mcp.SamplingMessage{mcp.TextSamplingMessage("user", in.Prompt)},
		MaxTokens: 100,
	})
	if err != nil {
		return failed("Sampling failed: " + err.Error()), nil
	}
	return text("LLM response: " + res.Text()), nil
}

func toolElicitation(ctx context.Context, args json.RawMessage) (*mcp.CallToolResult, error) {
	var in struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(args, &in); err != nil || in.Message == "" {
		return failed("test_elicitation needs a message (string)"), nil
	}
	res, err := mcp.Elicit(ctx, &mcp.ElicitParams{Message: in.Message, RequestedSchema: json.RawMessage(`{
		"type": "object",
		"properties": {
			"username": {"type": "string", "description": "User's response"},
			"email": {"type": "string", "description": "User's email address"}
		},
		"required": ["username", "email"]
	}`)})
	if err != nil {
		return failed("Elicitation failed: " + err.Error()), nil
	}
	content, _ := json.Marshal(res.Content)
	return text(fmt.Sprintf("User response: action=%s, content=%s", res.Action, content)), nil
}

// sep1034Schema gives every primitive type a default (SEP-1034).
const sep1034Schema = `{
	"type": "object",
	"properties": {
		"name": {"type": "string", "description": "User name", "default": "John Doe"},
		"age": {"type": "integer", "description": "User age", "default": 30},
		"score": {"type": "number", "description": "User score", "default": 95.5},
		"status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"], "default": "active"},
		"verified": {"type": "boolean", "description": "Verification status", "default": true}
	},
	"required": []
}`

// sep1330Schema has the five enum shapes of SEP-1330.
const sep1330Schema = `{
	"type": "object",
	"properties": {
		"untitledSingle": {"type": "string", "description": "Select one option", "enum": ["option1", "option2", "option3"]},
		"titledSingle": {"type": "string", "description": "Select one option with titles", "oneOf": [
			{"const": "value1", "title": "First Option"},
			{"const": "value2", "title": "Second Option"},
			{"const": "value3", "title": "Third Option"}]},
		"legacyEnum": {"type": "string", "description": "Select one option (legacy)", "enum": ["opt1", "opt2", "opt3"],
			"enumNames": ["Option One", "Option Two", "Option Three"]},
		"untitledMulti": {"type": "array", "description": "Select multiple options", "minItems": 1, "maxItems": 3,
			"items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
		"titledMulti": {"type": "array", "description": "Select multiple options with titles", "minItems": 1, "maxItems": 3,
			"items": {"anyOf": [
				{"const": "value1", "title": "First Choice"},
				{"const": "value2", "title": "Second Choice"},
				{"const": "value3", "title": "Third Choice"}]}}
	},
	"required": []
}`

func elicitWith(message, schema string) toolFunc {
	return func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
		res, err := mcp.Elicit(ctx, &mcp.ElicitParams{Message: message, RequestedSchema: json.RawMessage(schema)})
		if err != nil {
			return failed("Elicitation failed: " + err.Error()), nil
		}
		content, _ := json.Marshal(res.Content)
		return text(fmt.Sprintf("Elicitation completed: action=%s, content=%s", res.Action, content)), nil
	}
}

// ---- Resources ----

func staticResource(contents mcp.ResourceContents) mcp.ReadResourceFunc {
	return func(context.Context, string, map[string]string) ([]mcp.ResourceContents, error) {
		return []mcp.ResourceContents{contents}, nil
	}
}

// watched is the content of test://watched-resource, which changes on a
// timer so that subscribers have something to hear about.
var watched struct {
	sync.Mutex
	version int
}

func addResources(srv *mcp.Server) {
	srv.AddResource(mcp.Resource{URI: "test://static-text", Name: "static-text", Title: "Static Text Resource",
		Description: "A static text resource for testing", MimeType: "text/plain"},
		staticResource(mcp.ResourceContents{URI: "test://static-text", MimeType: "text/plain",
			Text: "This is the content of the static text resource."}))
	srv.AddResource(mcp.Resource{URI: "test://static-binary", Name: "static-binary", Title: "Static Binary Resource",
		Description: "A static binary resource (image) for testing", MimeType: "image/png"},
		staticResource(mcp.ResourceContents{URI: "test://static-binary", MimeType: "image/png", Blob: testImageBase64}))
	srv.AddResourceTemplate(mcp.ResourceTemplate{URITemplate: "test://template/{id}/data", Name: "template",
		Title: "Resource Template", Description: "A resource template with parameter substitution", MimeType: "application/json"},
		func(_ context.Context, uri string, vars map[string]string) ([]mcp.ResourceContents, error) {
			b, _ := json.Marshal(map[string]any{"id": vars["id"], "templateTest": true, "data": "Data for ID: " + vars["id"]})
			return []mcp.ResourceContents{{URI: uri, MimeType: "application/json", Text: string(b)}}, nil
		})
	srv.AddResource(mcp.Resource{URI: "test://watched-resource", Name: "watched-resource", Title: "Watched Resource",
		Description: "A resource that changes every 3 seconds; subscribe to hear of it", MimeType: "text/plain"},
		func(context.Context, string, map[string]string) ([]mcp.ResourceContents, error) {
			watched.Lock()
			defer watched.Unlock()
			return []mcp.ResourceContents{{URI: "test://watched-resource", MimeType: "text/plain",
				Text: fmt.Sprintf("Watched resource content, version %d", watched.version)}}, nil
		})
}

// watchResource changes test://watched-resource every period and tells its
// subscribers, until the returned stop is called.
func watchResource(srv *mcp.Server, period time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				watched.Lock()
				watched.version++
				watched.Unlock()
				srv.NotifyResourceUpdated("test://watched-resource")
			}
		}
	}()
	return func() { close(done) }
}

// ---- Prompts ----

func userText(s string) mcp.PromptMessage {
	return mcp.PromptMessage{Role: "user", Content: mcp.TextContent(s)}
}

func addPrompts(srv *mcp.Server) {
	srv.AddPrompt(mcp.Prompt{Name: "test_simple_prompt", Title: "Simple Test Prompt", Description: "A simple prompt without arguments"},
		func(context.Context, map[string]string) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{userText("This is a simple prompt for testing.")}}, nil
		})
	srv.AddPrompt(mcp.Prompt{Name: "test_prompt_with_arguments", Title: "Prompt With Arguments", Description: "A prompt with required arguments",
		Arguments: []mcp.PromptArgument{
			{Name: "arg1", Description: "First test argument", Required: true},
			{Name: "arg2", Description: "Second test argument", Required: true},
		}},
		func(_ context.Context, args map[string]string) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{
				userText(fmt.Sprintf("Prompt with arguments: arg1='%s', arg2='%s'", args["arg1"], args["arg2"])),
			}}, nil
		})
	srv.AddPrompt(mcp.Prompt{Name: "test_prompt_with_embedded_resource", Title: "Prompt With Embedded Resource",
		Description: "A prompt that includes an embedded resource",
		Arguments:   []mcp.PromptArgument{{Name: "resourceUri", Description: "URI of the resource to embed", Required: true}}},
		func(_ context.Context, args map[string]string) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{
				{Role: "user", Content: mcp.Content{Type: "resource", Resource: &mcp.ResourceContents{
					URI: args["resourceUri"], MimeType: "text/plain", Text: "Embedded resource content for testing."}}},
				userText("Please process the embedded resource above."),
			}}, nil
		})
	srv.AddPrompt(mcp.Prompt{Name: "test_prompt_with_image", Title: "Prompt With Image", Description: "A prompt that includes image content"},
		func(context.Context, map[string]string) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{
				{Role: "user", Content: mcp.ImageContent(testImageBase64, "image/png")},
				userText("Please analyze the image above."),
			}}, nil
		})
}

// ---- Completion ----

// suggestions are the candidate values of each completable argument,
// keyed by prompt name or template text, then argument name.
var suggestions = map[string]map[string][]string{
	"test_prompt_with_arguments": {
		"arg1": {"paris", "park", "party", "test", "testing", "tester"},
		"arg2": {"hello", "help", "world"},
	},
	"test://template/{id}/data": {"id": {"1", "2", "3", "123"}},
}

func complete(_ context.Context, req mcp.CompleteRequest) (*mcp.Completion, error) {
	key := req.Ref.Name
	if req.Ref.Type == "ref/resource" {
		key = req.Ref.URI
	}
	return mcp.CompleteFromList(suggestions[key][req.Argument.Name], req.Argument.Value), nil
}
