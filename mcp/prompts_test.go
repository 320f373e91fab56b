package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func greetingPrompts() *promptTable {
	tab := &promptTable{}
	tab.add(Prompt{Name: "simple", Description: "no arguments"},
		func(context.Context, map[string]string) (*GetPromptResult, error) {
			return &GetPromptResult{Messages: []PromptMessage{{Role: "user", Content: TextContent("hi")}}}, nil
		})
	tab.add(Prompt{Name: "greet", Arguments: []PromptArgument{
		{Name: "name", Required: true},
		{Name: "tone"},
	}}, func(_ context.Context, args map[string]string) (*GetPromptResult, error) {
		switch args["tone"] {
		case "rude":
			return nil, fmt.Errorf("tone %q: %w", args["tone"], ErrInvalidPromptArguments)
		case "crash":
			return nil, errors.New("template engine failed")
		}
		return &GetPromptResult{Messages: []PromptMessage{{Role: "user", Content: TextContent("Hello, " + args["name"] + args["tone"])}}}, nil
	})
	return tab
}

func TestPromptsGet(t *testing.T) {
	tab := greetingPrompts()
	res, err := tab.get(context.Background(), json.RawMessage(`{"name":"greet","arguments":{"name":"Ada","tone":"!"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m := res.(*GetPromptResult).Messages; len(m) != 1 || m[0].Content.Text != "Hello, Ada!" || m[0].Role != "user" {
		t.Fatalf("messages = %+v", m)
	}
	// A prompt without arguments needs no arguments object.
	if _, err := tab.get(context.Background(), json.RawMessage(`{"name":"simple"}`)); err != nil {
		t.Fatal(err)
	}
}

func TestPromptsGetErrors(t *testing.T) {
	tab := greetingPrompts()
	cases := []struct {
		params   string
		code     int
		mentions string
	}{
		{`{"name":"nope"}`, CodeInvalidParams, "Unknown prompt: nope"},
		{`{"name":"greet"}`, CodeInvalidParams, "Missing required argument: name"},
		{`{"name":"greet","arguments":{"tone":"!"}}`, CodeInvalidParams, "Missing required argument: name"},
		{`{"name":"greet","arguments":{"name":"a","colour":"red"}}`, CodeInvalidParams, "colour"},
		{`{"name":"greet","arguments":{"name":5}}`, CodeInvalidParams, "params.arguments"},
		{`{"name":"greet","arguments":{"name":"a","tone":"rude"}}`, CodeInvalidParams, "rude"},
		{`{"name":"greet","arguments":{"name":"a","tone":"crash"}}`, CodeInternalError, "template engine failed"},
		{`{"name":"greet","arguments":{"name":"` + strings.Repeat("x", maxPromptArgumentBytes+1) + `"}}`, CodeInvalidParams, "longer than"},
		{`{}`, CodeInvalidParams, "name"},
		{``, CodeInvalidParams, "name"},
	}
	for _, c := range cases {
		_, err := tab.get(context.Background(), json.RawMessage(c.params))
		if got := errorCode(t, err); got != c.code || !strings.Contains(err.Error(), c.mentions) {
			t.Errorf("prompts/get %.60s: %v (code %d), want code %d mentioning %q", c.params, err, got, c.code, c.mentions)
		}
	}
}

func TestPromptsListAndReplace(t *testing.T) {
	tab := greetingPrompts()
	tab.add(Prompt{Name: "simple", Description: "replaced"}, func(context.Context, map[string]string) (*GetPromptResult, error) {
		return &GetPromptResult{}, nil
	})
	res, err := tab.list(nil, 50)
	if err != nil {
		t.Fatal(err)
	}
	ps := res.(*ListPromptsResult).Prompts
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if !reflect.DeepEqual(names, []string{"simple", "greet"}) || ps[0].Description != "replaced" {
		t.Fatalf("prompts = %+v", ps)
	}
	// A prompt returning no messages still answers messages: [] (required).
	got, err := tab.get(context.Background(), json.RawMessage(`{"name":"simple"}`))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(got); string(b) != `{"messages":[]}` {
		t.Fatalf("empty prompt encodes as %s", b)
	}
	if !tab.remove("simple") || tab.remove("simple") {
		t.Fatal("remove should report whether the prompt existed")
	}
	if _, err := tab.list(json.RawMessage(`{"cursor":"zzz"}`), 50); errorCode(t, err) != CodeInvalidParams {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestPromptRegistrationMistakesPanic(t *testing.T) {
	ok := func(context.Context, map[string]string) (*GetPromptResult, error) { return nil, nil }
	for name, f := range map[string]func(){
		"no name": func() { (&promptTable{}).add(Prompt{}, ok) },
		"no func": func() { (&promptTable{}).add(Prompt{Name: "p"}, nil) },
		"duplicate arg": func() {
			(&promptTable{}).add(Prompt{Name: "p", Arguments: []PromptArgument{{Name: "a"}, {Name: "a"}}}, ok)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestPromptsAndCompletionOverHTTP(t *testing.T) {
	s := newE2EServer(ServerOptions{})
	tab := greetingPrompts()
	for _, e := range tab.prompts {
		s.AddPrompt(e.Prompt, e.get)
	}
	s.SetCompletion(func(_ context.Context, req CompleteRequest) (*Completion, error) {
		return CompleteFromList([]string{"Ada", "Alan", "Grace"}, req.Argument.Value), nil
	})
	c, init := connect(t, e2eServer(t, s), `{}`)
	var ir struct {
		Capabilities map[string]json.RawMessage `json:"capabilities"`
	}
	json.Unmarshal(init, &ir)
	if string(ir.Capabilities["prompts"]) != `{"listChanged":true}` || string(ir.Capabilities["completions"]) != `{}` {
		t.Fatalf("capabilities = %s", init)
	}
	if _, ok := ir.Capabilities["resources"]; ok {
		t.Fatal("resources declared although none is registered")
	}

	var lp ListPromptsResult
	c.result("prompts/list", nil, &lp)
	if len(lp.Prompts) != 2 || lp.Prompts[1].Name != "greet" || !lp.Prompts[1].Arguments[0].Required {
		t.Fatalf("prompts/list = %+v", lp)
	}
	var gp GetPromptResult
	c.result("prompts/get", map[string]any{"name": "greet", "arguments": map[string]string{"name": "Ada"}}, &gp)
	if len(gp.Messages) != 1 || gp.Messages[0].Content.Text != "Hello, Ada" {
		t.Fatalf("prompts/get = %+v", gp)
	}

	e := c.rpcError("prompts/get", map[string]string{"name": "nope"})
	if e.Code != -32602 || !strings.Contains(e.Message, "nope") {
		t.Fatalf("unknown prompt: %+v", e)
	}
	e = c.rpcError("prompts/get", map[string]any{"name": "greet", "arguments": map[string]string{"tone": "!"}})
	if e.Code != -32602 || e.Message != "Missing required argument: name" || string(e.Data) != `{"argument":"name"}` {
		t.Fatalf("missing argument: %+v data %s", e, e.Data)
	}

	var cr CompleteResult
	c.result("completion/complete", map[string]any{
		"ref": map[string]string{"type": "ref/prompt", "name": "greet"}, "argument": map[string]string{"name": "name", "value": "a"}}, &cr)
	if !reflect.DeepEqual(cr.Completion.Values, []string{"Ada", "Alan"}) || cr.Completion.Total != 2 {
		t.Fatalf("completion = %+v", cr)
	}
	if e := c.rpcError("completion/complete", map[string]any{
		"ref": map[string]string{"type": "ref/prompt", "name": "nope"}, "argument": map[string]string{"name": "x", "value": ""}}); e.Code != -32602 {
		t.Fatalf("completion of unknown prompt: %+v", e)
	}

	// Adding and removing a prompt tells connected clients the list changed.
	stream := c.openGET()
	s.AddPrompt(Prompt{Name: "later"}, tab.prompts[0].get)
	if m := next(t, stream); m.Method != "notifications/prompts/list_changed" {
		t.Fatalf("after AddPrompt got %s", m.Method)
	}
	s.RemovePrompt("later")
	if m := next(t, stream); m.Method != "notifications/prompts/list_changed" {
		t.Fatalf("after RemovePrompt got %s", m.Method)
	}
	if e := c.rpcError("prompts/get", map[string]string{"name": "later"}); e.Code != -32602 {
		t.Fatalf("removed prompt still served: %+v", e)
	}
}
