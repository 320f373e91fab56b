package tools

// The product's tools: add, whoami and generateImage.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"remote-mcp-authkit/internal/jsonscan"
	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
)

// Default builds the product's table: add, whoami, and generateImage (for
// callers holding the "image_generation" permission) drawing with gen.
func Default(gen ImageGenerator) (*Table, error) {
	if gen == nil {
		return nil, errors.New("tools: Default needs an image generator (OfflineRenderer{} draws without any service)")
	}
	return NewTable(Add(), WhoAmI(), GenerateImage(gen))
}

// Add is the "hello world" tool of the reference example: the sum of two
// numbers, as text.
func Add() Tool {
	return Tool{
		Name:        "add",
		Title:       "Add two numbers",
		Description: "Add two numbers the way only MCP can",
		InputSchema: &Schema{
			Type: "object",
			Properties: map[string]*Schema{
				"a": {Type: "number", Description: "The first number."},
				"b": {Type: "number", Description: "The second number."},
			},
			Required: []string{"a", "b"},
		},
		// Pure arithmetic: reads nothing, changes nothing, touches no other
		// system, and the same inputs always give the same answer.
		Annotations: mcp.ToolAnnotations{
			ReadOnlyHint:    Ptr(true),
			DestructiveHint: Ptr(false),
			IdempotentHint:  Ptr(true),
			OpenWorldHint:   Ptr(false),
		},
		Handler: func(_ context.Context, _ *oauth.Identity, raw json.RawMessage) (*mcp.CallToolResult, error) {
			// The schema has checked that a and b are present and are
			// numbers, so they are read where they are in the arguments
			// rather than decoded again (json.Unmarshal into a struct takes
			// six times as long for the same two numbers). As for the
			// schema, the last of a repeated name counts; a number past
			// float64's range (1e400) passes the schema but not ParseFloat.
			var rawA, rawB []byte
			for name, value := range jsonscan.Members(raw) {
				switch {
				case jsonscan.Equal(name, "a"):
					rawA = value
				case jsonscan.Equal(name, "b"):
					rawB = value
				}
			}
			a, errA := strconv.ParseFloat(string(rawA), 64)
			b, errB := strconv.ParseFloat(string(rawB), 64)
			if errA != nil || errB != nil {
				return nil, errors.New("invalid arguments: a and b must be numbers a float64 can hold")
			}
			// The reference example answers String(a + b); 'f' with
			// precision -1 prints the same digits for every sum a person is
			// likely to add (JavaScript switches to exponents past 1e21).
			total := a + b
			if math.IsInf(total, 0) {
				return nil, errors.New("the sum is too large for a 64-bit floating-point number")
			}
			sum := strconv.FormatFloat(total, 'f', -1, 64)
			return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(sum)}}, nil
		},
	}
}

// WhoAmIResult is the structured result of whoami.
type WhoAmIResult struct {
	User         WhoAmIUser          `json:"user"`
	Organization *WhoAmIOrganization `json:"organization,omitempty"`
	Role         string              `json:"role,omitempty"`
	Permissions  []string            `json:"permissions"`
	// Scopes are what the client's token carries (oauth.Identity.Scopes),
	// so a person sees why a tool they hold the permission for is missing.
	Scopes []string `json:"scopes,omitempty"`
	// Impersonator is present when someone else is acting as User (an
	// impersonated session): everything done here is done by them.
	Impersonator *WhoAmIImpersonator `json:"impersonator,omitempty"`
}

// WhoAmIImpersonator is who is acting as the user in a WhoAmIResult.
type WhoAmIImpersonator struct {
	Email  string `json:"email"`
	Reason string `json:"reason,omitempty"`
}

// WhoAmIUser is the signed-in user in a WhoAmIResult.
type WhoAmIUser struct {
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

// WhoAmIOrganization is the user's organization in a WhoAmIResult, absent
// when the user signed in without one.
type WhoAmIOrganization struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// WhoAmI reports the caller as the server sees it: user, organization, role
// and permissions. It is how a person checks why a tool is or is not listed.
func WhoAmI() Tool {
	str := func(d string) *Schema { return &Schema{Type: "string", Description: d} }
	return Tool{
		Name:        "whoami",
		Title:       "Who am I",
		Description: "Show the signed-in user, their organization, role and permissions, and the scopes this client was granted, as this server sees them.",
		InputSchema: &Schema{Type: "object", Properties: map[string]*Schema{}, AdditionalProperties: Ptr(false)},
		OutputSchema: &Schema{
			Type: "object",
			Properties: map[string]*Schema{
				"user": {
					Type: "object",
					Properties: map[string]*Schema{
						"id":    str("The user's id at the identity provider."),
						"email": str("The user's email address."),
						"name":  str("The user's display name."),
					},
					Required: []string{"id"},
				},
				"organization": {
					Type: "object",
					Properties: map[string]*Schema{
						"id":   str("The organization's id."),
						"name": str("The organization's name."),
					},
					Required: []string{"id"},
				},
				"impersonator": {
					Type:        "object",
					Description: "Present when someone else is acting as the user (an impersonated session).",
					Properties: map[string]*Schema{
						"email":  str("Who is acting as the user."),
						"reason": str("The reason they gave."),
					},
					Required: []string{"email"},
				},
				"role":        str("The user's role in the organization."),
				"permissions": {Type: "array", Items: &Schema{Type: "string"}, Description: "The permissions the user holds."},
				"scopes":      {Type: "array", Items: &Schema{Type: "string"}, Description: "The OAuth scopes this client's access token carries; absent when the token is not limited by scopes."},
			},
			Required: []string{"user", "permissions"},
		},
		// Reads only the caller's own identity, which the request carries:
		// no side effects, no outside system.
		Annotations: mcp.ToolAnnotations{
			ReadOnlyHint:    Ptr(true),
			DestructiveHint: Ptr(false),
			IdempotentHint:  Ptr(true),
			OpenWorldHint:   Ptr(false),
		},
		Handler: func(_ context.Context, id *oauth.Identity, _ json.RawMessage) (*mcp.CallToolResult, error) {
			if id == nil {
				return nil, errors.New("this request is not signed in, so there is no user to describe")
			}
			res := WhoAmIResult{
				User:        WhoAmIUser{ID: id.Subject, Email: id.Email, Name: id.Name},
				Role:        id.Role,
				Permissions: append([]string{}, id.Permissions...),
				Scopes:      slices.Clone(id.Scopes),
			}
			if id.OrganizationID != "" {
				res.Organization = &WhoAmIOrganization{ID: id.OrganizationID, Name: id.Organization}
			}
			if id.Impersonator != nil {
				res.Impersonator = &WhoAmIImpersonator{Email: id.Impersonator.Email, Reason: id.Impersonator.Reason}
			}
			text, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				return nil, err
			}
			// Structured content plus the same JSON as text, for clients
			// that predate structuredContent (tools, "Structured Content").
			content := []mcp.Content{mcp.TextContent(string(text))}
			if imp := res.Impersonator; imp != nil {
				// Said in words too, so that nobody reading the answer
				// misses that this is not the user acting.
				who := res.User.Email
				if who == "" {
					who = res.User.ID
				}
				line := fmt.Sprintf("Impersonated session: %s is acting as %s.", imp.Email, who)
				if imp.Reason != "" {
					line += fmt.Sprintf(" Reason given: %q.", imp.Reason)
				}
				content = append(content, mcp.TextContent(line))
			}
			return &mcp.CallToolResult{Content: content, StructuredContent: res}, nil
		},
	}
}
