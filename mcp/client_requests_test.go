package mcp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakePeer is a client that declared caps and answers every request with
// answer (or err), after recording what it was sent. A nil answer and nil
// err mean it never answers: Request waits for ctx.
type fakePeer struct {
	caps   string
	answer string
	err    error
	method string
	params []byte
}

func (f *fakePeer) ClientCapabilities() json.RawMessage { return json.RawMessage(f.caps) }

func (f *fakePeer) Request(ctx context.Context, method string, params any) (json.RawMessage, error) {
	f.method = method
	f.params, _ = json.Marshal(params)
	if f.answer == "" && f.err == nil {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return json.RawMessage(f.answer), f.err
}

func samplingParams() *CreateMessageParams {
	return &CreateMessageParams{Messages: []SamplingMessage{TextSamplingMessage("user", "What is 2+2?")}, MaxTokens: 100}
}

func TestCreateMessage(t *testing.T) {
	peer := &fakePeer{caps: `{"sampling":{}}`, answer: `{"role":"assistant","content":{"type":"text","text":"4"},"model":"m","stopReason":"endTurn"}`}
	res, err := createMessage(context.Background(), peer, samplingParams())
	if err != nil {
		t.Fatal(err)
	}
	if res.Text() != "4" || res.Model != "m" || res.StopReason != "endTurn" {
		t.Fatalf("result = %+v", res)
	}
	want := `{"messages":[{"role":"user","content":{"type":"text","text":"What is 2+2?"}}],"maxTokens":100}`
	if peer.method != "sampling/createMessage" || string(peer.params) != want {
		t.Fatalf("sent %s %s, want %s", peer.method, peer.params, want)
	}
	// Content may also be an array of blocks.
	peer.answer = `{"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"model":"m"}`
	if res, err := createMessage(context.Background(), peer, samplingParams()); err != nil || res.Text() != "ab" {
		t.Fatalf("array content: %+v, %v", res, err)
	}
}

func TestCreateMessageCapabilities(t *testing.T) {
	withTools := samplingParams()
	withTools.Tools = []Tool{{Name: "t", InputSchema: json.RawMessage(`{"type":"object"}`)}}
	withContext := samplingParams()
	withContext.IncludeContext = "thisServer"
	cases := []struct {
		caps   string
		params *CreateMessageParams
	}{
		{`{}`, samplingParams()},
		{``, samplingParams()},
		{`{"elicitation":{}}`, samplingParams()},
		{`{"sampling":{}}`, withTools},
		{`{"sampling":{}}`, withContext},
	}
	for _, c := range cases {
		peer := &fakePeer{caps: c.caps, answer: `{}`}
		_, err := createMessage(context.Background(), peer, c.params)
		if !errors.Is(err, ErrClientCapability) {
			t.Errorf("caps %s: err %v, want ErrClientCapability", c.caps, err)
		}
		if peer.method != "" {
			t.Errorf("caps %s: the request was sent anyway", c.caps)
		}
	}
	peer := &fakePeer{caps: `{"sampling":{"tools":{}}}`, answer: `{"role":"assistant","content":{"type":"text","text":"x"},"model":"m"}`}
	if _, err := createMessage(context.Background(), peer, withTools); err != nil {
		t.Fatalf("sampling.tools declared: %v", err)
	}
}

func TestCreateMessageBadInputAndAnswers(t *testing.T) {
	bad := []*CreateMessageParams{
		nil,
		{MaxTokens: 10},
		{Messages: []SamplingMessage{TextSamplingMessage("user", "x")}},
		{Messages: []SamplingMessage{TextSamplingMessage("system", "x")}, MaxTokens: 10},
		{Messages: []SamplingMessage{{Role: "user"}}, MaxTokens: 10},
	}
	for i, p := range bad {
		peer := &fakePeer{caps: `{"sampling":{}}`, answer: `{}`}
		if _, err := createMessage(context.Background(), peer, p); err == nil || peer.method != "" {
			t.Errorf("bad params %d: err %v, sent %q", i, err, peer.method)
		}
	}
	for _, answer := range []string{`{}`, `{"role":"assistant"}`, `[1]`, `{"role":"assistant","content":null,"model":"m"}`} {
		peer := &fakePeer{caps: `{"sampling":{}}`, answer: answer}
		if _, err := createMessage(context.Background(), peer, samplingParams()); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("answer %s: err %v, want a malformed-result error", answer, err)
		}
	}
}

func TestClientRequestErrorAnswerIsReturned(t *testing.T) {
	rejected := errors.New("jsonrpc error -1: User rejected sampling request")
	peer := &fakePeer{caps: `{"sampling":{},"elicitation":{}}`, err: rejected}
	if _, err := createMessage(context.Background(), peer, samplingParams()); !errors.Is(err, rejected) {
		t.Fatalf("createMessage: %v, want the client's error", err)
	}
	if _, err := elicit(context.Background(), peer, formParams()); !errors.Is(err, rejected) {
		t.Fatalf("elicit: %v, want the client's error", err)
	}
}

func TestClientRequestEndsWithContext(t *testing.T) {
	peer := &fakePeer{caps: `{"sampling":{},"elicitation":{}}`} // never answers
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := createMessage(ctx, peer, samplingParams()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("createMessage: %v, want the context's error", err)
	}
	if _, err := elicit(ctx, peer, formParams()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("elicit: %v, want the context's error", err)
	}
}

func formParams() *ElicitParams {
	return &ElicitParams{Message: "Who are you?", RequestedSchema: json.RawMessage(
		`{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}`)}
}

func TestElicit(t *testing.T) {
	peer := &fakePeer{caps: `{"elicitation":{}}`, answer: `{"action":"accept","content":{"name":"Ada"}}`}
	res, err := elicit(context.Background(), peer, formParams())
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "accept" || res.Content["name"] != "Ada" {
		t.Fatalf("result = %+v", res)
	}
	if peer.method != "elicitation/create" || !strings.Contains(string(peer.params), `"requestedSchema":{"type":"object"`) {
		t.Fatalf("sent %s %s", peer.method, peer.params)
	}
	for _, a := range []string{`{"action":"decline"}`, `{"action":"cancel"}`} {
		peer.answer = a
		if _, err := elicit(context.Background(), peer, formParams()); err != nil {
			t.Fatalf("answer %s: %v", a, err)
		}
	}
	peer.answer = `{"action":"maybe"}`
	if _, err := elicit(context.Background(), peer, formParams()); err == nil {
		t.Fatal("an unknown action was accepted")
	}
}

func TestElicitModesAndCapabilities(t *testing.T) {
	url := &ElicitParams{Mode: "url", Message: "Connect your account", URL: "https://example.com/connect?id=1", ElicitationID: "e1"}
	cases := []struct {
		caps   string
		params *ElicitParams
		ok     bool
	}{
		{`{"elicitation":{}}`, formParams(), true},
		{`{"elicitation":{"form":{}}}`, formParams(), true},
		{`{"elicitation":{"url":{}}}`, formParams(), false}, // url only: no form
		{`{"elicitation":{}}`, url, false},                  // empty object means form only
		{`{"elicitation":{"url":{}}}`, url, true},
		{`{"sampling":{}}`, formParams(), false},
	}
	for _, c := range cases {
		peer := &fakePeer{caps: c.caps, answer: `{"action":"cancel"}`}
		_, err := elicit(context.Background(), peer, c.params)
		if c.ok != (err == nil) || (!c.ok && !errors.Is(err, ErrClientCapability)) {
			t.Errorf("caps %s mode %q: err %v, want ok=%v", c.caps, c.params.Mode, err, c.ok)
		}
	}
	bad := []*ElicitParams{
		nil,
		{Message: ""},
		{Message: "m"}, // form without schema
		{Message: "m", RequestedSchema: json.RawMessage(`{"type":"string"}`)},
		{Message: "m", Mode: "url", URL: "/relative", ElicitationID: "e"},
		{Message: "m", Mode: "url", URL: "https://example.com"},
		{Message: "m", Mode: "telepathy"},
	}
	for i, p := range bad {
		peer := &fakePeer{caps: `{"elicitation":{"form":{},"url":{}}}`, answer: `{"action":"cancel"}`}
		if _, err := elicit(context.Background(), peer, p); err == nil || peer.method != "" {
			t.Errorf("bad params %d: err %v, sent %q", i, err, peer.method)
		}
	}
}

// ---- End to end: the request travels to a real client and back ----

// e2eTools is a ToolSet of functions taking no arguments.
type e2eTools map[string]func(ctx context.Context) (*CallToolResult, error)

func (m e2eTools) ListTools(context.Context) []Tool {
	var out []Tool
	for name := range m {
		out = append(out, Tool{Name: name, Description: name, InputSchema: json.RawMessage(`{"type":"object"}`)})
	}
	return out
}

func (m e2eTools) CallTool(ctx context.Context, name string, _ json.RawMessage) (*CallToolResult, error) {
	f, ok := m[name]
	if !ok {
		return nil, ErrUnknownTool
	}
	return f(ctx)
}

// samplingTools asks the client for a completion; "sample_briefly" waits at
// most 200 ms for the answer.
func samplingTools() e2eTools {
	sample := func(ctx context.Context) (*CallToolResult, error) {
		res, err := CreateMessage(ctx, samplingParams())
		var rpcErr *JSONRPCError
		switch {
		case errors.As(err, &rpcErr):
			return &CallToolResult{Content: []Content{TextContent(fmt.Sprintf("client error %d: %s", rpcErr.Code, rpcErr.Message))}, IsError: true}, nil
		case err != nil:
			return &CallToolResult{Content: []Content{TextContent(err.Error())}, IsError: true}, nil
		}
		return &CallToolResult{Content: []Content{TextContent("LLM said: " + res.Text())}}, nil
	}
	return e2eTools{
		"sample": sample,
		"sample_briefly": func(ctx context.Context) (*CallToolResult, error) {
			ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			return sample(ctx)
		},
	}
}

func toolText(t *testing.T, m e2eMessage) string {
	t.Helper()
	var r CallToolResult
	if m.Error != nil || json.Unmarshal(m.Result, &r) != nil || len(r.Content) == 0 {
		t.Fatalf("not a tool result: %+v %s", m.Error, m.Result)
	}
	return r.Content[0].Text
}

func TestSamplingOverHTTP(t *testing.T) {
	url := e2eServer(t, newE2EServer(ServerOptions{Tools: samplingTools()}))
	c, _ := connect(t, url, `{"sampling":{}}`)

	for _, tc := range []struct {
		name, answer, want string
	}{
		{"result", `"result":{"role":"assistant","content":{"type":"text","text":"4"},"model":"m"}`, "LLM said: 4"},
		{"client error", `"error":{"code":-1,"message":"User rejected sampling request"}`, "client error -1: User rejected sampling request"},
	} {
		resp := c.open("tools/call", map[string]string{"name": "sample"})
		stream := e2eEvents(resp.Body)
		req := next(t, stream)
		if req.Method != "sampling/createMessage" || req.ID == nil {
			t.Fatalf("%s: first message %s %s, want the sampling request", tc.name, req.Method, req.ID)
		}
		var p CreateMessageParams
		if err := json.Unmarshal(req.Params, &p); err != nil || p.MaxTokens != 100 || len(p.Messages) != 1 {
			t.Fatalf("%s: sampling params %s", tc.name, req.Params)
		}
		ack := c.post(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,` + tc.answer + `}`)
		ack.Body.Close()
		if ack.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: posting the answer: status %d", tc.name, ack.StatusCode)
		}
		if got := toolText(t, next(t, stream)); got != tc.want {
			t.Fatalf("%s: tool said %q, want %q", tc.name, got, tc.want)
		}
		resp.Body.Close()
	}
}

func TestSamplingAnswerNeverComes(t *testing.T) {
	url := e2eServer(t, newE2EServer(ServerOptions{Tools: samplingTools()}))
	c, _ := connect(t, url, `{"sampling":{}}`)
	resp := c.open("tools/call", map[string]string{"name": "sample_briefly"})
	defer resp.Body.Close()
	stream := e2eEvents(resp.Body)
	req := next(t, stream)
	if req.Method != "sampling/createMessage" {
		t.Fatalf("first message %s", req.Method)
	}
	// No answer: the handler's context ends the wait, the client is told
	// the request is cancelled, and the tool still answers.
	cancelled := next(t, stream)
	var cp struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	json.Unmarshal(cancelled.Params, &cp)
	if cancelled.Method != "notifications/cancelled" || string(cp.RequestID) != string(req.ID) {
		t.Fatalf("got %s %s, want notifications/cancelled for %s", cancelled.Method, cancelled.Params, req.ID)
	}
	if got := toolText(t, next(t, stream)); !strings.Contains(got, "deadline exceeded") {
		t.Fatalf("tool said %q, want the context's error", got)
	}
	// An answer arriving after the wait ended is dropped harmlessly.
	late := c.post(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":{"role":"assistant","content":{"type":"text","text":"late"},"model":"m"}}`)
	late.Body.Close()
	if m := c.call("ping", nil); m.Error != nil {
		t.Fatalf("session unusable after a late answer: %+v", m.Error)
	}
}

func TestSamplingWithoutCapabilitySendsNothing(t *testing.T) {
	url := e2eServer(t, newE2EServer(ServerOptions{Tools: samplingTools()}))
	c, _ := connect(t, url, `{"elicitation":{}}`)
	msgs := c.readAll(c.open("tools/call", map[string]string{"name": "sample"}))
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want only the tool result: %+v", len(msgs), msgs)
	}
	if got := toolText(t, msgs[0]); !strings.Contains(got, ErrClientCapability.Error()) {
		t.Fatalf("tool said %q", got)
	}
}

// elicitTools asks the user for a name.
func elicitTools() e2eTools {
	return e2eTools{"ask": func(ctx context.Context) (*CallToolResult, error) {
		res, err := Elicit(ctx, formParams())
		if err != nil {
			return &CallToolResult{Content: []Content{TextContent(err.Error())}, IsError: true}, nil
		}
		return &CallToolResult{Content: []Content{TextContent(fmt.Sprintf("%s %v", res.Action, res.Content["name"]))}}, nil
	}}
}

func TestElicitationOverHTTP(t *testing.T) {
	url := e2eServer(t, newE2EServer(ServerOptions{Tools: elicitTools()}))
	c, _ := connect(t, url, `{"elicitation":{"form":{}}}`)
	resp := c.open("tools/call", map[string]string{"name": "ask"})
	defer resp.Body.Close()
	stream := e2eEvents(resp.Body)
	req := next(t, stream)
	if req.Method != "elicitation/create" || !strings.Contains(string(req.Params), `"message":"Who are you?"`) {
		t.Fatalf("first message %s %s", req.Method, req.Params)
	}
	c.post(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":{"action":"accept","content":{"name":"Ada"}}}`).Body.Close()
	if got := toolText(t, next(t, stream)); got != "accept Ada" {
		t.Fatalf("tool said %q", got)
	}
}

// TestElicitationOverLegacySSE routes the same round trip through the
// HTTP+SSE transport (2024-11-05): requests and answers on one stream,
// client messages POSTed to the endpoint it names.
func TestElicitationOverLegacySSE(t *testing.T) {
	s := newE2EServer(ServerOptions{Tools: elicitTools()})
	mux := http.NewServeMux()
	h := s.SSEHandler(HTTPOptions{})
	mux.Handle("/sse", h)
	mux.Handle("/sse/message", h)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer s.Shutdown(context.Background())

	resp, err := http.Get(ts.URL + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	endpoint := ""
	for endpoint == "" && sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			endpoint = data
		}
	}
	if !strings.Contains(endpoint, "sessionId=") {
		t.Fatalf("endpoint event = %q", endpoint)
	}
	post := func(body string) {
		r, err := http.Post(ts.URL+endpoint, "application/json", strings.NewReader(body))
		if err != nil || r.StatusCode != http.StatusAccepted {
			t.Fatalf("POST %s: %v %v", body, r, err)
		}
		r.Body.Close()
	}
	messages := make(chan e2eMessage, 16)
	go func() {
		defer close(messages)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var m e2eMessage
				if json.Unmarshal([]byte(data), &m) == nil {
					messages <- m
				}
			}
		}
	}()
	post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{"elicitation":{}},"clientInfo":{"name":"e2e","version":"1"}}}`)
	if m := next(t, messages); m.Error != nil {
		t.Fatalf("initialize: %+v", m.Error)
	}
	post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ask"}}`)
	req := next(t, messages)
	if req.Method != "elicitation/create" {
		t.Fatalf("got %s, want elicitation/create", req.Method)
	}
	post(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,"result":{"action":"decline"}}`)
	if got := toolText(t, next(t, messages)); got != "decline <nil>" {
		t.Fatalf("tool said %q", got)
	}
}
