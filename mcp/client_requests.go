package mcp

// Server-to-client requests: MCP 2025-11-25, client/sampling.mdx
// (sampling/createMessage) and client/elicitation.mdx (elicitation/create).
// A tool handler, while it runs, asks the client for an LLM completion or
// for input from the user. The request travels on the session's transport
// and the answer is routed back to the waiting handler; the handler's
// context bounds the wait.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
)

// ErrClientCapability is returned, wrapped, by CreateMessage and Elicit when
// the client did not declare the capability the request needs in
// initialize. Sending it anyway is forbidden (lifecycle, "Capability
// Negotiation"; elicitation: "Servers MUST NOT send elicitation requests
// with modes that are not supported by the client").
var ErrClientCapability = errors.New("client did not declare the capability")

// ErrNoSession is returned by CreateMessage and Elicit when ctx does not
// come from a request the Server is handling, so there is no client to ask.
var ErrNoSession = errors.New("mcp: no session in context")

// SamplingMessage is one message of a sampling conversation (schema:
// SamplingMessage). Content is a single content block or an array of them
// (text, image, audio, tool_use, tool_result), kept as JSON because the
// tool-use blocks carry fields Content does not.
type SamplingMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Meta    json.RawMessage `json:"_meta,omitempty"`
}

// TextSamplingMessage returns a message with one text block.
func TextSamplingMessage(role, text string) SamplingMessage {
	b, _ := json.Marshal(TextContent(text)) // a struct of strings cannot fail
	return SamplingMessage{Role: role, Content: b}
}

// ModelPreferences are the server's hints for the client's model choice
// (schema: ModelPreferences). Priorities range over 0 to 1; nil means no
// preference.
type ModelPreferences struct {
	Hints                []ModelHint `json:"hints,omitempty"`
	CostPriority         *float64    `json:"costPriority,omitempty"`
	SpeedPriority        *float64    `json:"speedPriority,omitempty"`
	IntelligencePriority *float64    `json:"intelligencePriority,omitempty"`
}

// ModelHint names a model or family, matched by substring (schema:
// ModelHint).
type ModelHint struct {
	Name string `json:"name,omitempty"`
}

// CreateMessageParams are the params of sampling/createMessage (schema:
// CreateMessageRequestParams).
type CreateMessageParams struct {
	Messages         []SamplingMessage `json:"messages"`
	ModelPreferences *ModelPreferences `json:"modelPreferences,omitempty"`
	SystemPrompt     string            `json:"systemPrompt,omitempty"`
	// IncludeContext is "none", "thisServer" or "allServers"; the last two
	// are soft-deprecated and need the client's sampling.context capability.
	IncludeContext string          `json:"includeContext,omitempty"`
	Temperature    *float64        `json:"temperature,omitempty"`
	MaxTokens      int             `json:"maxTokens"`
	StopSequences  []string        `json:"stopSequences,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	// Tools the model may call; they need the client's sampling.tools
	// capability (sampling, "Sampling with Tools").
	Tools      []Tool          `json:"tools,omitempty"`
	ToolChoice json.RawMessage `json:"toolChoice,omitempty"`
}

// CreateMessageResult is the client's answer to sampling/createMessage
// (schema: CreateMessageResult).
type CreateMessageResult struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Model   string          `json:"model"`
	// StopReason is "endTurn", "stopSequence", "maxTokens", "toolUse" or a
	// provider's own reason.
	StopReason string `json:"stopReason,omitempty"`
}

// Blocks decodes Content, which is one block or an array of blocks.
func (r *CreateMessageResult) Blocks() ([]Content, error) {
	var one Content
	if err := json.Unmarshal(r.Content, &one); err == nil {
		return []Content{one}, nil
	}
	var many []Content
	if err := json.Unmarshal(r.Content, &many); err != nil {
		return nil, fmt.Errorf("sampling result content: %w", err)
	}
	return many, nil
}

// Text returns the text of the result's text blocks, joined; "" when it
// has none.
func (r *CreateMessageResult) Text() string {
	blocks, _ := r.Blocks()
	s := ""
	for _, b := range blocks {
		if b.Type == "text" {
			s += b.Text
		}
	}
	return s
}

// ElicitParams are the params of elicitation/create (schema:
// ElicitRequestFormParams and ElicitRequestURLParams). Mode "" or "form"
// asks for structured input described by RequestedSchema (a flat object
// schema of primitive properties); mode "url" sends the user to URL, out of
// band, for anything sensitive, and needs ElicitationID.
type ElicitParams struct {
	Mode            string          `json:"mode,omitempty"`
	Message         string          `json:"message"`
	RequestedSchema json.RawMessage `json:"requestedSchema,omitempty"`
	ElicitationID   string          `json:"elicitationId,omitempty"`
	URL             string          `json:"url,omitempty"`
}

// ElicitResult is the client's answer to elicitation/create (schema:
// ElicitResult): Action is "accept", "decline" or "cancel", and Content
// holds the submitted values for an accepted form.
type ElicitResult struct {
	Action  string         `json:"action"`
	Content map[string]any `json:"content,omitempty"`
}

// clientPeer is what the two requests need of a session: the capabilities
// the client declared and a way to send it a request and wait for the
// answer. A *Session is one.
type clientPeer interface {
	ClientCapabilities() json.RawMessage
	Request(ctx context.Context, method string, params any) (json.RawMessage, error)
}

// declaredCapabilities is the part of ClientCapabilities these requests
// look at. A present but empty object is a declaration, so the fields keep
// the raw JSON: nil means absent.
type declaredCapabilities struct {
	Sampling *struct {
		Context json.RawMessage `json:"context"`
		Tools   json.RawMessage `json:"tools"`
	} `json:"sampling"`
	Elicitation *struct {
		Form json.RawMessage `json:"form"`
		URL  json.RawMessage `json:"url"`
	} `json:"elicitation"`
}

func capabilitiesOf(peer clientPeer) declaredCapabilities {
	var c declaredCapabilities
	_ = json.Unmarshal(peer.ClientCapabilities(), &c) // absent or malformed: nothing declared
	return c
}

// createMessage sends sampling/createMessage to peer and waits for the
// answer or for ctx to end.
func createMessage(ctx context.Context, peer clientPeer, p *CreateMessageParams) (*CreateMessageResult, error) {
	if p == nil || len(p.Messages) == 0 {
		return nil, errors.New("sampling/createMessage: at least one message is required")
	}
	if p.MaxTokens <= 0 {
		return nil, errors.New("sampling/createMessage: maxTokens must be positive")
	}
	for i, m := range p.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return nil, fmt.Errorf("sampling/createMessage: message %d: role %q, want user or assistant", i, m.Role)
		}
		if len(m.Content) == 0 {
			return nil, fmt.Errorf("sampling/createMessage: message %d has no content", i)
		}
	}
	caps := capabilitiesOf(peer)
	switch {
	case caps.Sampling == nil:
		return nil, fmt.Errorf("sampling/createMessage: %w: sampling", ErrClientCapability)
	case len(p.Tools) > 0 && caps.Sampling.Tools == nil:
		return nil, fmt.Errorf("sampling/createMessage: %w: sampling.tools", ErrClientCapability)
	case (p.IncludeContext == "thisServer" || p.IncludeContext == "allServers") && caps.Sampling.Context == nil:
		return nil, fmt.Errorf("sampling/createMessage: %w: sampling.context (includeContext %s)", ErrClientCapability, p.IncludeContext)
	}
	raw, err := peer.Request(ctx, "sampling/createMessage", p)
	if err != nil {
		return nil, fmt.Errorf("sampling/createMessage: %w", err)
	}
	var res CreateMessageResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("sampling/createMessage: malformed result: %w", err)
	}
	if res.Role == "" || len(res.Content) == 0 || string(res.Content) == "null" {
		return nil, errors.New("sampling/createMessage: malformed result: role and content are required")
	}
	return &res, nil
}

// elicit sends elicitation/create to peer and waits for the answer or for
// ctx to end.
func elicit(ctx context.Context, peer clientPeer, p *ElicitParams) (*ElicitResult, error) {
	if p == nil || p.Message == "" {
		return nil, errors.New("elicitation/create: a message is required")
	}
	caps := capabilitiesOf(peer)
	if caps.Elicitation == nil {
		return nil, fmt.Errorf("elicitation/create: %w: elicitation", ErrClientCapability)
	}
	// elicitation, "Capabilities": an empty elicitation object means form
	// mode only, for backwards compatibility.
	formOK := caps.Elicitation.Form != nil || caps.Elicitation.URL == nil
	switch p.Mode {
	case "", "form":
		var schema struct {
			Type       string          `json:"type"`
			Properties json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(p.RequestedSchema, &schema); err != nil || schema.Type != "object" || len(schema.Properties) == 0 {
			return nil, errors.New(`elicitation/create: form mode needs a requestedSchema of type "object" with properties`)
		}
		if !formOK {
			return nil, fmt.Errorf("elicitation/create: %w: elicitation.form", ErrClientCapability)
		}
	case "url":
		u, err := url.Parse(p.URL)
		if err != nil || !u.IsAbs() || u.Host == "" {
			return nil, fmt.Errorf("elicitation/create: url mode needs an absolute URL, got %q", p.URL)
		}
		if p.ElicitationID == "" {
			return nil, errors.New("elicitation/create: url mode needs an elicitationId")
		}
		if caps.Elicitation.URL == nil {
			return nil, fmt.Errorf("elicitation/create: %w: elicitation.url", ErrClientCapability)
		}
	default:
		return nil, fmt.Errorf("elicitation/create: unknown mode %q: want form or url", truncate(p.Mode, maxEchoedName))
	}
	raw, err := peer.Request(ctx, "elicitation/create", p)
	if err != nil {
		return nil, fmt.Errorf("elicitation/create: %w", err)
	}
	var res ElicitResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("elicitation/create: malformed result: %w", err)
	}
	switch res.Action {
	case "accept", "decline", "cancel":
	default:
		return nil, fmt.Errorf("elicitation/create: malformed result: action %q, want accept, decline or cancel", truncate(res.Action, maxEchoedName))
	}
	return &res, nil
}

// CreateMessage asks the client of the request ctx belongs to for an LLM
// completion (sampling/createMessage) and waits for the answer. Call it
// from a tool handler. It fails with ErrClientCapability, without sending
// anything, when the client did not declare sampling (or sampling.tools for
// params.Tools); with the client's *JSONRPCError when the client answers
// with an error (code -1: the user rejected the request); and with ctx's
// error when ctx ends first (the client is then sent
// notifications/cancelled).
//
// Sampling is deprecated by 2026-07-28 (SEP-2577) and kept for legacy
// sessions. A modern request has no session to ask through (ErrNoSession):
// the revision asks through an InputRequiredResult instead
// (basic/patterns/mrtr).
func CreateMessage(ctx context.Context, params *CreateMessageParams) (*CreateMessageResult, error) {
	if run := taskFromContext(ctx); run != nil {
		return createMessage(ctx, run, params) // a task's input request (tasks.go)
	}
	if peer := modernPeerOf(ctx); peer != nil {
		return createMessage(ctx, peer, params) // an input request of an InputRequiredResult (mrtr.go)
	}
	sess := SessionFromContext(ctx)
	if sess == nil {
		return nil, ErrNoSession
	}
	return createMessage(ctx, sess, params)
}

// Elicit asks the user, through the client of the request ctx belongs to,
// for input (elicitation/create) and waits for the answer. It fails like
// CreateMessage: ErrClientCapability when the client did not declare
// elicitation in the mode asked for, the client's *JSONRPCError, or ctx's
// error. Never use form mode for secrets (elicitation, "Security").
// Legacy sessions only, like CreateMessage: a modern request is asked
// through an InputRequiredResult (2026-07-28 basic/patterns/mrtr).
func Elicit(ctx context.Context, params *ElicitParams) (*ElicitResult, error) {
	if run := taskFromContext(ctx); run != nil {
		return elicit(ctx, run, params) // a task's input request (tasks.go)
	}
	if peer := modernPeerOf(ctx); peer != nil {
		return elicit(ctx, peer, params) // an input request of an InputRequiredResult (mrtr.go)
	}
	sess := SessionFromContext(ctx)
	if sess == nil {
		return nil, ErrNoSession
	}
	return elicit(ctx, sess, params)
}
