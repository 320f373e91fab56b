package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
)

func TestParseRateLimits(t *testing.T) {
	got, err := ParseRateLimits(" generateImage=10/1m, add=off ,whoami=3/30s")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]RateLimit{"generateImage": {10, time.Minute}, "add": {}, "whoami": {3, 30 * time.Second}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %v, want %v", k, got[k], v)
		}
	}
	for _, bad := range []string{"add", "=1/1m", "add=x/1m", "add=0/1m", "add=1/1ms", "add=1/48h", "add=1", "add=2000000/1m"} {
		if _, err := ParseRateLimits(bad); err == nil {
			t.Errorf("ParseRateLimits(%q) accepted", bad)
		}
	}
}

// A user past a tool's limit gets an isError result saying when to retry;
// another user, and the same user once the bucket refilled, are served; the
// observer sees each outcome.
func TestRateLimitPerUserAndTool(t *testing.T) {
	counted := Tool{
		Name: "counted", InputSchema: &Schema{Type: "object"},
		RateLimit: RateLimit{Calls: 2, Per: time.Minute},
		Handler: func(context.Context, *oauth.Identity, json.RawMessage) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent("done")}}, nil
		},
	}
	free := counted
	free.Name, free.RateLimit = "free", RateLimit{}
	table, err := NewTable(counted, free)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	table.now = func() time.Time { return now }
	var outcomes []string
	table.SetObserver(func(_ context.Context, c CallInfo) { outcomes = append(outcomes, c.Tool+":"+c.Outcome) })
	ada := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "user_ada"})
	grace := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "user_grace"})
	call := func(ctx context.Context, name string) *mcp.CallToolResult {
		t.Helper()
		res, err := table.CallTool(ctx, name, json.RawMessage(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for range 2 {
		if res := call(ada, "counted"); res.IsError {
			t.Fatalf("within the limit: %v", res.Content)
		}
	}
	res := call(ada, "counted")
	if !res.IsError || !strings.Contains(res.Content[0].Text, "rate limited: counted may be called 2 times per 1m0s by each user; retry after 30 seconds (at 2026-12-04T12:00:30Z)") {
		t.Fatalf("past the limit: %+v", res)
	}
	if res := call(grace, "counted"); res.IsError {
		t.Fatalf("another user is limited by ada's calls: %v", res.Content)
	}
	for range 5 {
		if res := call(ada, "free"); res.IsError {
			t.Fatalf("a tool without a limit: %v", res.Content)
		}
	}
	now = now.Add(30 * time.Second)
	if res := call(ada, "counted"); res.IsError {
		t.Fatalf("after the refill: %v", res.Content)
	}
	if res := call(ada, "counted"); !res.IsError {
		t.Fatal("one call back per 30s, and it was spent")
	}
	if err := table.SetRateLimit("counted", RateLimit{}); err != nil {
		t.Fatal(err)
	}
	if res := call(ada, "counted"); res.IsError {
		t.Fatalf("limit removed by the operator: %v", res.Content)
	}
	if err := table.SetRateLimit("nope", RateLimit{1, time.Second}); err == nil || !strings.Contains(err.Error(), "counted, free") {
		t.Fatalf("unknown tool: %v", err)
	}
	want := "counted:ok counted:ok counted:rate_limited counted:ok free:ok free:ok free:ok free:ok free:ok counted:ok counted:rate_limited counted:ok"
	if got := strings.Join(outcomes, " "); got != want {
		t.Fatalf("observed %s\nwant     %s", got, want)
	}
}

// generateImage carries a default limit of a few calls a minute; the other
// built-in tools carry none.
func TestDefaultRateLimits(t *testing.T) {
	table, err := Default(OfflineRenderer{})
	if err != nil {
		t.Fatal(err)
	}
	got := table.RateLimits()
	if l := got["generateImage"]; l.Calls < 1 || l.Calls > 10 || l.Per != time.Minute {
		t.Fatalf("generateImage: %v, want a few per minute", l)
	}
	if !got["add"].IsZero() || !got["whoami"].IsZero() {
		t.Fatalf("add and whoami should be unlimited: %v", got)
	}
}
