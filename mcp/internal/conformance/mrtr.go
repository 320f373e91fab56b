package main

// The tools and prompt of the input-required-result-* scenarios (multi
// round-trip requests, 2026-07-28 basic/patterns/mrtr, SEP-2322): each asks
// for input with an InputRequiredResult under the keys the scenario names,
// and answers once the retry brings the responses.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"remote-mcp-authkit/mcp"
)

func objectSchema(props string, required ...string) json.RawMessage {
	req, _ := json.Marshal(required)
	return json.RawMessage(`{"type":"object","properties":` + props + `,"required":` + string(req) + `}`)
}

var (
	askName = mcp.ElicitInput(&mcp.ElicitParams{Message: "What is your name?",
		RequestedSchema: objectSchema(`{"name":{"type":"string"}}`, "name")})
	askCapital = mcp.SamplingInput(&mcp.CreateMessageParams{MaxTokens: 100, Messages: []mcp.SamplingMessage{
		{Role: "user", Content: json.RawMessage(`{"type":"text","text":"What is the capital of France?"}`)}}})
	askGreeting = mcp.SamplingInput(&mcp.CreateMessageParams{MaxTokens: 50, Messages: []mcp.SamplingMessage{
		{Role: "user", Content: json.RawMessage(`{"type":"text","text":"Generate a greeting"}`)}}})
	askConfirm = mcp.ElicitInput(&mcp.ElicitParams{Message: "Please confirm",
		RequestedSchema: objectSchema(`{"ok":{"type":"boolean"}}`, "ok")})
)

// responses returns the retry's responses to every key, or false when one
// is missing (the scenario then expects the request again).
func responses(ctx context.Context, keys ...string) ([]json.RawMessage, bool) {
	in := mcp.InputResponses(ctx)
	out := make([]json.RawMessage, len(keys))
	for i, k := range keys {
		r, ok := in[k]
		if !ok {
			return nil, false
		}
		out[i] = r
	}
	return out, true
}

// field reads one string from an ElicitResult's content, or a
// CreateMessageResult's text.
func field(r json.RawMessage, name string) string {
	var v struct {
		Content map[string]any `json:"content"`
	}
	_ = json.Unmarshal(r, &v)
	if s, ok := v.Content[name].(string); ok {
		return s
	}
	var m struct {
		Content struct{ Text string } `json:"content"`
	}
	_ = json.Unmarshal(r, &m)
	return m.Content.Text
}

func ask(state []byte, pairs ...any) *mcp.InputRequired {
	ir := &mcp.InputRequired{Requests: map[string]mcp.InputRequest{}, State: state}
	for i := 0; i < len(pairs); i += 2 {
		ir.Requests[pairs[i].(string)] = pairs[i+1].(mcp.InputRequest)
	}
	return ir
}

func mrtrTools() toolTable {
	return toolTable{
		{mcp.Tool{Name: "test_input_required_result_elicitation", Description: "Asks for the user's name (InputRequiredResult)", InputSchema: noArguments},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				r, ok := responses(ctx, "user_name")
				if !ok {
					return nil, ask(nil, "user_name", askName)
				}
				return text("Hello, " + field(r[0], "name") + "!"), nil
			}},
		{mcp.Tool{Name: "test_input_required_result_sampling", Description: "Asks the client's model a question (InputRequiredResult)", InputSchema: noArguments},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				r, ok := responses(ctx, "capital_question")
				if !ok {
					return nil, ask(nil, "capital_question", askCapital)
				}
				return text("The model says: " + field(r[0], "")), nil
			}},
		{mcp.Tool{Name: "test_input_required_result_list_roots", Description: "Asks for the client's roots (InputRequiredResult)", InputSchema: noArguments},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				r, ok := responses(ctx, "client_roots")
				if !ok {
					return nil, ask(nil, "client_roots", mcp.RootsInput())
				}
				var roots struct{ Roots []struct{ URI string } }
				_ = json.Unmarshal(r[0], &roots)
				uris := make([]string, len(roots.Roots))
				for i, x := range roots.Roots {
					uris[i] = x.URI
				}
				return text("Roots: " + strings.Join(uris, ", ")), nil
			}},
		{mcp.Tool{Name: "test_input_required_result_request_state", Description: "Round-trips a sealed requestState", InputSchema: noArguments},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				_, ok := responses(ctx, "confirm")
				if !ok || string(mcp.RequestState(ctx)) != "confirm-round" {
					return nil, ask([]byte("confirm-round"), "confirm", askConfirm)
				}
				return text("state-ok: confirmed"), nil
			}},
		{mcp.Tool{Name: "test_input_required_result_tampered_state", Description: "Refuses a requestState that was changed", InputSchema: noArguments},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				if _, ok := responses(ctx, "confirm"); !ok || mcp.RequestState(ctx) == nil {
					return nil, ask([]byte("tamper-me"), "confirm", askConfirm)
				}
				return text("state-ok"), nil
			}},
		{mcp.Tool{Name: "test_input_required_result_multiple_inputs", Description: "Asks for three inputs at once", InputSchema: noArguments},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				r, ok := responses(ctx, "user_name", "greeting", "client_roots")
				if !ok || mcp.RequestState(ctx) == nil {
					return nil, ask([]byte("multiple"), "user_name", askName, "greeting", askGreeting, "client_roots", mcp.RootsInput())
				}
				return text(fmt.Sprintf("%s, %s", field(r[1], ""), field(r[0], "name"))), nil
			}},
		{mcp.Tool{Name: "test_input_required_result_multi_round", Description: "Asks twice, carrying the first answer in requestState", InputSchema: noArguments},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				state := string(mcp.RequestState(ctx))
				if r, ok := responses(ctx, "step2"); ok && strings.HasPrefix(state, "round-2:") {
					return text(strings.TrimPrefix(state, "round-2:") + " likes " + field(r[0], "color")), nil
				}
				if r, ok := responses(ctx, "step1"); ok && state == "round-1" {
					return nil, ask([]byte("round-2:"+field(r[0], "name")), "step2", mcp.ElicitInput(&mcp.ElicitParams{
						Message: "Step 2: What is your favorite color?", RequestedSchema: objectSchema(`{"color":{"type":"string"}}`, "color")}))
				}
				return nil, ask([]byte("round-1"), "step1", mcp.ElicitInput(&mcp.ElicitParams{
					Message: "Step 1: What is your name?", RequestedSchema: objectSchema(`{"name":{"type":"string"}}`, "name")}))
			}},
		{mcp.Tool{Name: "test_input_required_result_capabilities", Description: "Asks only for what the client declared", InputSchema: noArguments},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				if len(mcp.InputResponses(ctx)) > 0 {
					return text("thanks"), nil
				}
				ir := ask(nil)
				if mcp.ClientHasCapability(ctx, "elicitation") {
					ir.Requests["user_name"] = askName
				}
				if mcp.ClientHasCapability(ctx, "sampling") {
					ir.Requests["capital_question"] = askCapital
				}
				if mcp.ClientHasCapability(ctx, "roots") {
					ir.Requests["client_roots"] = mcp.RootsInput()
				}
				if len(ir.Requests) == 0 {
					return text("the client declared no capability to ask through"), nil
				}
				return nil, ir
			}},
		// server-stateless "no independent requests on stream": the
		// handler asks through mcp.Elicit, which in the 2026-07-28 era is
		// an InputRequiredResult, never a request on the stream.
		{mcp.Tool{Name: "test_streaming_elicitation", Description: "Asks through Elicit: a request in a legacy session, input_required in 2026-07-28", InputSchema: noArguments},
			func(ctx context.Context, _ json.RawMessage) (*mcp.CallToolResult, error) {
				res, err := mcp.Elicit(ctx, &mcp.ElicitParams{Message: "Your name?", RequestedSchema: objectSchema(`{"name":{"type":"string"}}`, "name")})
				if err != nil {
					return nil, err
				}
				return text("elicitation: " + res.Action), nil
			}},
	}
}

// addMRTRPrompt adds the prompt of input-required-result-non-tool-request.
func addMRTRPrompt(srv *mcp.Server) {
	srv.AddPrompt(mcp.Prompt{Name: "test_input_required_result_prompt", Description: "Asks for context before it is built (InputRequiredResult)"},
		func(ctx context.Context, _ map[string]string) (*mcp.GetPromptResult, error) {
			r, ok := responses(ctx, "user_context")
			if !ok {
				return nil, ask(nil, "user_context", mcp.ElicitInput(&mcp.ElicitParams{Message: "What context should the prompt use?",
					RequestedSchema: objectSchema(`{"context":{"type":"string"}}`, "context")}))
			}
			return &mcp.GetPromptResult{Messages: []mcp.PromptMessage{userText("Context: " + field(r[0], "context"))}}, nil
		})
}
