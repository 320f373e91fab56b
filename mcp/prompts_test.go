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
		{`{"name":"nope"}`, methodInvalidParams, "Unknown prompt: nope"},
		{`{"name":"greet"}`, methodInvalidParams, "Missing required argument: name"},
		{`{"name":"greet","arguments":{"tone":"!"}}`, methodInvalidParams, "Missing required argument: name"},
		{`{"name":"greet","arguments":{"name":"a","colour":"red"}}`, methodInvalidParams, "colour"},
		{`{"name":"greet","arguments":{"name":5}}`, methodInvalidParams, "Invalid params"},
		{`{"name":"greet","arguments":{"name":"a","tone":"rude"}}`, methodInvalidParams, "rude"},
		{`{"name":"greet","arguments":{"name":"a","tone":"crash"}}`, methodInternalError, "template engine failed"},
		{`{"name":"greet","arguments":{"name":"` + strings.Repeat("x", maxPromptArgumentBytes+1) + `"}}`, methodInvalidParams, "longer than"},
		{`{}`, methodInvalidParams, "name"},
		{``, methodInvalidParams, "name"},
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
	if _, err := tab.list(json.RawMessage(`{"cursor":"zzz"}`), 50); errorCode(t, err) != methodInvalidParams {
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
