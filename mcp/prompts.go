package mcp

// Prompts: MCP 2025-11-25, server/prompts.mdx. A server offers message
// templates that a user picks (a slash command, typically) and fills in;
// prompts/get returns the messages with the arguments substituted.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Prompt describes one prompt in prompts/list (schema: Prompt).
type Prompt struct {
	Name        string           `json:"name"`
	Title       string           `json:"title,omitempty"`
	Description string           `json:"description,omitempty"`
	Arguments   []PromptArgument `json:"arguments,omitempty"`
	Meta        json.RawMessage  `json:"_meta,omitempty"`
}

// PromptArgument describes one argument a prompt accepts (schema:
// PromptArgument). Argument values are always strings.
type PromptArgument struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
}

// PromptMessage is one message of a prompt (schema: PromptMessage). Role is
// "user" or "assistant".
type PromptMessage struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// GetPromptResult is the result of prompts/get (schema: GetPromptResult).
type GetPromptResult struct {
	Description string          `json:"description,omitempty"`
	Messages    []PromptMessage `json:"messages"`
}

// ListPromptsResult is the result of prompts/list (schema:
// ListPromptsResult).
type ListPromptsResult struct {
	Prompts    []Prompt `json:"prompts"`
	NextCursor string   `json:"nextCursor,omitempty"`
}

// GetPromptFunc renders a prompt. The server has already checked the
// arguments against the Prompt's declaration: every required argument is
// present and no undeclared one is, so args can be indexed directly.
// Returning an error that wraps ErrInvalidPromptArguments answers -32602
// with the error's text (a value the prompt cannot use); a *JSONRPCError is
// answered as it is; any other error is logged and answers -32603 without
// its text.
type GetPromptFunc func(ctx context.Context, args map[string]string) (*GetPromptResult, error)

// ErrInvalidPromptArguments is wrapped by a GetPromptFunc that rejects an
// argument's value; the server answers -32602 (prompts, "Error Handling").
var ErrInvalidPromptArguments = errors.New("invalid prompt arguments")

// Limits on prompts/get, so that a request is never a way to make the
// server hold or copy unbounded text.
const (
	maxPromptArguments     = 64
	maxPromptArgumentBytes = 64 << 10
)

// promptTable is a Server's prompts in registration order.
type promptTable struct {
	mu      sync.RWMutex
	prompts []promptEntry
}

type promptEntry struct {
	Prompt
	get GetPromptFunc
}

// add registers or replaces a prompt; like AddResource it panics on a
// registration mistake.
func (t *promptTable) add(p Prompt, get GetPromptFunc) {
	if p.Name == "" || get == nil {
		panic("mcp: AddPrompt needs a Name and a GetPromptFunc")
	}
	seen := map[string]bool{}
	for _, a := range p.Arguments {
		if a.Name == "" || seen[a.Name] {
			panic("mcp: AddPrompt " + p.Name + ": argument names must be non-empty and distinct")
		}
		seen[a.Name] = true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.prompts {
		if t.prompts[i].Name == p.Name {
			t.prompts[i] = promptEntry{p, get}
			return
		}
	}
	t.prompts = append(t.prompts, promptEntry{p, get})
}

func (t *promptTable) remove(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.prompts)
	t.prompts = slices.DeleteFunc(t.prompts, func(e promptEntry) bool { return e.Name == name })
	return len(t.prompts) != n
}

// find returns a prompt by name.
func (t *promptTable) find(name string) (promptEntry, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, e := range t.prompts {
		if e.Name == name {
			return e, true
		}
	}
	return promptEntry{}, false
}

func (t *promptTable) list(params json.RawMessage, pageSize int) (any, error) {
	var p listParams
	if merr := DecodeParams(params, &p); merr != nil {
		return nil, merr
	}
	t.mu.RLock()
	all := make([]Prompt, len(t.prompts))
	for i, e := range t.prompts {
		all[i] = e.Prompt
	}
	t.mu.RUnlock()
	items, next, merr := listPage("prompts", all, p.Cursor, pageSize)
	if merr != nil {
		return nil, merr
	}
	return &ListPromptsResult{Prompts: items, NextCursor: next}, nil
}

// getPromptParams are the params of prompts/get (schema:
// GetPromptRequestParams).
type getPromptParams struct {
	Name      string            `json:"name"`
	Arguments map[string]string `json:"arguments,omitempty"`
}

// get implements prompts/get. Its errors are those prompts, "Error
// Handling" lists: an unknown name and a missing required argument are both
// -32602, and the message says which.
func (t *promptTable) get(ctx context.Context, params json.RawMessage) (any, error) {
	var p getPromptParams
	if merr := DecodeParams(params, &p); merr != nil {
		return nil, merr
	}
	if p.Name == "" {
		return nil, NewInvalidParams("Missing required parameter: name")
	}
	e, ok := t.find(p.Name)
	if !ok {
		name := truncate(p.Name, maxEchoedName)
		return nil, errorWithData(NewInvalidParams("Unknown prompt: %s", name), map[string]string{"name": name})
	}
	if len(p.Arguments) > maxPromptArguments {
		return nil, NewInvalidParams("Too many arguments: at most %d", maxPromptArguments)
	}
	for name, v := range p.Arguments {
		if !slices.ContainsFunc(e.Arguments, func(a PromptArgument) bool { return a.Name == name }) {
			name = truncate(name, maxEchoedName)
			return nil, errorWithData(NewInvalidParams("Unknown argument for prompt %s: %s", p.Name, name), map[string]string{"argument": name})
		}
		if len(v) > maxPromptArgumentBytes {
			return nil, NewInvalidParams("Argument %s is longer than %d bytes", name, maxPromptArgumentBytes)
		}
	}
	for _, a := range e.Arguments {
		if _, present := p.Arguments[a.Name]; a.Required && !present {
			return nil, errorWithData(NewInvalidParams("Missing required argument: %s", a.Name), map[string]string{"argument": a.Name})
		}
	}
	args := p.Arguments
	if args == nil {
		args = map[string]string{}
	}
	res, err := e.get(ctx, args)
	switch {
	case errors.Is(err, ErrInvalidPromptArguments):
		return nil, NewInvalidParams("%s", err.Error())
	case err != nil:
		var rpcErr *JSONRPCError
		if errors.As(err, &rpcErr) {
			return nil, rpcErr
		}
		return nil, fmt.Errorf("prompt %s: %w", p.Name, err) // logged; the client sees -32603
	case res == nil:
		return nil, fmt.Errorf("prompt %s returned no result", p.Name)
	}
	if res.Messages == nil {
		res.Messages = []PromptMessage{}
	}
	return res, nil
}

// promptTableOf returns s's prompt table, creating it on first use: then
// the prompts capability is declared, which lets the index (protocol.go)
// serve prompts/list and prompts/get (prompts, "Capabilities").
func promptTableOf(s *Server) *promptTable {
	f := s.features
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.prompts != nil {
		return f.prompts
	}
	t := &promptTable{}
	f.prompts = t
	s.AddCapability("prompts", map[string]bool{"listChanged": true})
	return t
}

// AddPrompt serves a prompt in prompts/list and prompts/get, replacing any
// prompt with the same name. The first call declares the prompts
// capability; later calls tell connected clients that the list changed. It
// panics when p has no Name, repeats an argument name, or get is nil.
func (s *Server) AddPrompt(p Prompt, get GetPromptFunc) {
	promptTableOf(s).add(p, get)
	notifyListChanged(s, "notifications/prompts/list_changed")
}

// RemovePrompt stops serving a prompt and tells connected clients that the
// list changed.
func (s *Server) RemovePrompt(name string) {
	if promptTableOf(s).remove(name) {
		notifyListChanged(s, "notifications/prompts/list_changed")
	}
}
