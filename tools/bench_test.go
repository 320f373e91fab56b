package tools

import (
	"context"
	"encoding/json"
	"testing"

	"remote-mcp-authkit/oauth"
)

// The per-request cost of the table: listing for a caller, and a call whose
// arguments are validated and defaulted before the handler runs.

func BenchmarkListTools(b *testing.B) {
	tb, err := Default(OfflineRenderer{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "u", Permissions: []string{"image_generation"}})
	b.ReportAllocs()
	for b.Loop() {
		if len(tb.ListTools(ctx)) != 3 {
			b.Fatal("wrong list")
		}
	}
}

// BenchmarkListToolsScoped is BenchmarkListTools for a token limited by
// scopes (every token a scoped server issues): the scope check per tool.
func BenchmarkListToolsScoped(b *testing.B) {
	tb, err := Default(OfflineRenderer{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "u", Permissions: []string{"image_generation"},
		Scopes: []string{BaselineScope, "image_generation", oauth.ScopeOfflineAccess}})
	b.ReportAllocs()
	for b.Loop() {
		if len(tb.ListTools(ctx)) != 3 {
			b.Fatal("wrong list")
		}
	}
}

func BenchmarkCallToolAdd(b *testing.B) {
	tb, err := Default(OfflineRenderer{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "u"})
	args := json.RawMessage(`{"a":1.5,"b":2.25}`)
	b.ReportAllocs()
	for b.Loop() {
		res, err := tb.CallTool(ctx, "add", args)
		if err != nil || res.Content[0].Text != "3.75" {
			b.Fatal(res, err)
		}
	}
}

func BenchmarkValidateGenerateImageArgs(b *testing.B) {
	s := GenerateImage(OfflineRenderer{}).InputSchema
	args := json.RawMessage(`{"prompt":"a lighthouse at dusk, oil painting"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Validate(args); err != nil {
			b.Fatal(err)
		}
	}
}

// The same arguments with every property given: nothing to fill in, so
// Validate can answer from the bytes alone.
func BenchmarkValidateGenerateImageArgsComplete(b *testing.B) {
	s := GenerateImage(OfflineRenderer{}).InputSchema
	args := json.RawMessage(`{"prompt":"a lighthouse at dusk, oil painting","steps":8}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Validate(args); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateAddArgs(b *testing.B) {
	s := Add().InputSchema
	args := json.RawMessage(`{"a":1.5,"b":2.25}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Validate(args); err != nil {
			b.Fatal(err)
		}
	}
}
