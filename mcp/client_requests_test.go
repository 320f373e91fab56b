package mcp

import (
	"context"
	"encoding/json"
	"errors"
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
