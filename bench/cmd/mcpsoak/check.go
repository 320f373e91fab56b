package main

// Checks of every result the soak receives (MCP server/tools).

import (
	"encoding/json"
	"slices"

	"remote-mcp-authkit/bench/internal/load"
)

// toolResult is a CallToolResult (server/tools, "Tool Result").
type toolResult struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

func decodeTool(res json.RawMessage) (*toolResult, error) {
	var r toolResult
	if err := json.Unmarshal(res, &r); err != nil {
		return nil, failf("bad_response", "tools/call result: %v", err)
	}
	if r.IsError {
		text := ""
		if len(r.Content) > 0 {
			text = r.Content[0].Text
		}
		return nil, failf("tool_error", "%.200s", text)
	}
	return &r, nil
}

// checkAdd: the first text block states a+b.
func checkAdd(res json.RawMessage, want int64) error {
	r, err := decodeTool(res)
	if err != nil {
		return err
	}
	if len(r.Content) == 0 || r.Content[0].Type != "text" || !load.SumMatches(r.Content[0].Text, want) {
		return failf("bad_result", "add: %.200s does not state %d", res, want)
	}
	return nil
}

// whoami is the structured result of the whoami tool.
type whoami struct {
	User struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"user"`
	Permissions []string `json:"permissions"`
}

// checkWhoami: the tool names the signed-in user; with perms non-nil, also
// exactly those permissions.
func checkWhoami(res json.RawMessage, email string, perms []string) (*whoami, error) {
	r, err := decodeTool(res)
	if err != nil {
		return nil, err
	}
	var w whoami
	if err := json.Unmarshal(r.StructuredContent, &w); err != nil {
		return nil, failf("bad_result", "whoami: structuredContent: %v", err)
	}
	if w.User.ID == "" || w.User.Email != email {
		return nil, failf("bad_result", "whoami: user %q <%s>, signed in as %s", w.User.ID, w.User.Email, email)
	}
	if perms != nil {
		a, b := slices.Clone(w.Permissions), slices.Clone(perms)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			return nil, failf("bad_result", "whoami: permissions %v, at sign-in %v", w.Permissions, perms)
		}
	}
	return &w, nil
}

// checkTools: tools/list offers add and whoami, and generateImage exactly
// when the user holds image_generation (the product's permission gate).
func checkTools(res json.RawMessage, mayGenerate bool) error {
	var r struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return failf("bad_response", "tools/list: %v", err)
	}
	names := map[string]bool{}
	for _, t := range r.Tools {
		names[t.Name] = true
	}
	if !names["add"] || !names["whoami"] || names["generateImage"] != mayGenerate {
		return failf("bad_result", "tools/list: %v (generateImage expected: %v)", names, mayGenerate)
	}
	return nil
}
