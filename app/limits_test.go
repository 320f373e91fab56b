package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/tools"
)

// failingStore is a memory store whose updates fail, as a store on the
// network does while it is unreachable.
type failingStore struct{ *oauth.MemoryStore }

func (failingStore) Update(context.Context, string, string, func([]byte) ([]byte, time.Time, error)) error {
	return errors.New("connection refused")
}

// TestRateLimitAcrossTables: two tables (two replicas) with a storeLimiter
// on one store share each user's allowance; with the store failing, each
// falls back to its own.
func TestRateLimitAcrossTables(t *testing.T) {
	st := oauth.NewMemoryStore()
	defer st.Close()
	newTable := func(l tools.Limiter) *tools.Table {
		tb, err := tools.NewTable(tools.Tool{
			Name: "counted", InputSchema: &tools.Schema{Type: "object"},
			RateLimit: tools.RateLimit{Calls: 3, Per: time.Hour},
			Handler: func(context.Context, *oauth.Identity, json.RawMessage) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("done")}}, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		tb.SetLogger(quietLogger())
		tb.SetLimiter(l)
		return tb
	}
	ada := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "user_ada"})
	grace := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "user_grace"})
	limited := func(tb *tools.Table, ctx context.Context) bool {
		t.Helper()
		res, err := tb.CallTool(ctx, "counted", json.RawMessage(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		return res.IsError
	}
	a, b := newTable(storeLimiter{st}), newTable(storeLimiter{st})
	for i, tb := range []*tools.Table{a, b, a} {
		if limited(tb, ada) {
			t.Fatalf("call %d within the limit refused", i)
		}
	}
	if !limited(b, ada) || !limited(a, ada) {
		t.Fatal("a fourth call within the hour was allowed on one of the tables")
	}
	if limited(b, grace) {
		t.Fatal("another user is limited by ada's calls")
	}
	// A store that cannot answer: each table's own limit still holds.
	down := newTable(storeLimiter{failingStore{st}})
	for range 3 {
		if limited(down, ada) {
			t.Fatal("the fallback refused a call within its own limit")
		}
	}
	if !limited(down, ada) {
		t.Fatal("the fallback did not limit")
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
