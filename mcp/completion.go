package mcp

// Completion: MCP 2025-11-25, server/utilities/completion.mdx. While a
// user fills in a prompt's arguments or a resource template's variables,
// the client asks completion/complete for suggestions.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// CompleteReference names what is being completed (schema: PromptReference
// and ResourceTemplateReference): Type is "ref/prompt" with Name, or
// "ref/resource" with URI, the template's text.
type CompleteReference struct {
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
	URI  string `json:"uri,omitempty"`
}

// CompleteArgument is the argument being typed and its current value.
type CompleteArgument struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CompleteRequest is what a CompleteFunc is asked (schema:
// CompleteRequestParams). Context holds the values of arguments the user
// has already resolved, so that a suggestion can depend on them.
type CompleteRequest struct {
	Ref      CompleteReference `json:"ref"`
	Argument CompleteArgument  `json:"argument"`
	Context  map[string]string `json:"-"`
}

// Completion is the answer of completion/complete (schema: CompleteResult's
// completion). The server sends at most 100 values (completion,
// "Completion Results"); longer answers are cut, with HasMore set and Total
// kept.
type Completion struct {
	Values  []string `json:"values"`
	Total   int      `json:"total,omitempty"`
	HasMore bool     `json:"hasMore,omitempty"`
}

// CompleteResult is the result of completion/complete.
type CompleteResult struct {
	Completion Completion `json:"completion"`
}

// CompleteFunc suggests values. The server has already checked that the
// reference names a registered prompt argument or template variable.
type CompleteFunc func(ctx context.Context, req CompleteRequest) (*Completion, error)

// maxCompletionValues is the spec's cap on values in one response.
const maxCompletionValues = 100

// CompleteFromList is a ready-made suggestion strategy: the candidates that
// start with typed, case-insensitively, in their given order, with Total
// counting every match.
func CompleteFromList(candidates []string, typed string) *Completion {
	c := &Completion{Values: []string{}}
	lower := strings.ToLower(typed)
	for _, v := range candidates {
		if strings.HasPrefix(strings.ToLower(v), lower) {
			c.Values = append(c.Values, v)
		}
	}
	c.Total = len(c.Values)
	return c
}

// completeParams is the wire form of completion/complete's params.
type completeParams struct {
	Ref      CompleteReference `json:"ref"`
	Argument *CompleteArgument `json:"argument"`
	Context  *struct {
		Arguments map[string]string `json:"arguments"`
	} `json:"context,omitempty"`
}

// completer joins the completion function to the tables it checks
// references against.
type completer struct {
	fn        CompleteFunc
	prompts   *promptTable
	resources *resourceTable
}

// complete implements completion/complete. A reference to a prompt or
// template the server does not have, or to an argument it does not take, is
// -32602 (completion, "Error Handling").
func (c *completer) complete(ctx context.Context, params json.RawMessage) (any, error) {
	var p completeParams
	if merr := DecodeParams(params, &p); merr != nil {
		return nil, merr
	}
	if p.Argument == nil || p.Argument.Name == "" {
		return nil, NewInvalidParams("Missing required parameter: argument.name")
	}
	if len(p.Argument.Value) > maxPromptArgumentBytes {
		return nil, NewInvalidParams("argument.value is longer than %d bytes", maxPromptArgumentBytes)
	}
	switch p.Ref.Type {
	case "ref/prompt":
		var e promptEntry
		ok := false
		if c.prompts != nil {
			e, ok = c.prompts.find(p.Ref.Name)
		}
		if !ok {
			name := truncate(p.Ref.Name, maxEchoedName)
			return nil, errorWithData(NewInvalidParams("Unknown prompt: %s", name), map[string]string{"name": name})
		}
		if !slices.ContainsFunc(e.Arguments, func(a PromptArgument) bool { return a.Name == p.Argument.Name }) {
			return nil, NewInvalidParams("Prompt %s has no argument %s", p.Ref.Name, truncate(p.Argument.Name, maxEchoedName))
		}
	case "ref/resource":
		var vars []string
		ok := false
		if c.resources != nil {
			vars, ok = c.resources.templateVariables(p.Ref.URI)
		}
		if !ok {
			uri := truncate(p.Ref.URI, maxEchoedName)
			return nil, errorWithData(NewInvalidParams("Unknown resource template: %s", uri), map[string]string{"uri": uri})
		}
		if !slices.Contains(vars, p.Argument.Name) {
			return nil, NewInvalidParams("Resource template %s has no variable %s", p.Ref.URI, truncate(p.Argument.Name, maxEchoedName))
		}
	default:
		return nil, NewInvalidParams("Unknown reference type %q: want ref/prompt or ref/resource", truncate(p.Ref.Type, maxEchoedName))
	}
	req := CompleteRequest{Ref: p.Ref, Argument: *p.Argument}
	if p.Context != nil {
		req.Context = p.Context.Arguments
	}
	got, err := c.fn(ctx, req)
	if err != nil {
		var rpcErr *JSONRPCError
		if errors.As(err, &rpcErr) {
			return nil, rpcErr
		}
		return nil, fmt.Errorf("completion: %w", err) // logged; the client sees -32603
	}
	var out Completion
	if got != nil {
		out = *got
	}
	if out.Values == nil {
		out.Values = []string{}
	}
	if len(out.Values) > maxCompletionValues {
		out.Total = max(out.Total, len(out.Values))
		out.Values = out.Values[:maxCompletionValues]
		out.HasMore = true
	}
	return &CompleteResult{Completion: out}, nil
}

// SetCompletion makes the server answer completion/complete with fn and
// declares the completions capability (completion, "Capabilities"). The
// server checks each reference against the prompts and resource templates
// registered at the time of the request, so fn sees only arguments that
// exist.
func (s *Server) SetCompletion(fn CompleteFunc) {
	if fn == nil {
		panic("mcp: SetCompletion needs a CompleteFunc")
	}
	f := s.features
	f.mu.Lock()
	first := f.completion == nil
	f.completion = fn
	f.mu.Unlock()
	if !first {
		return
	}
	s.AddCapability("completions", struct{}{})
}

// complete answers completion/complete (server/utilities/completion) once
// SetCompletion declared the capability.
func (s *Server) complete(ctx context.Context, params json.RawMessage, _ *requestParams) (any, error) {
	f := s.features
	f.mu.Lock()
	c := &completer{fn: f.completion, prompts: f.prompts, resources: f.resources}
	f.mu.Unlock()
	if c.fn == nil {
		return nil, NewMethodNotFound("method not found: completion/complete (no completions here)")
	}
	return c.complete(ctx, params)
}
