package tools

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image/png"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"remote-mcp-authkit/oauth"
)

func defaultTable(t *testing.T, gen ImageGenerator) *Table {
	t.Helper()
	tb, err := Default(gen)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestAdd(t *testing.T) {
	tb := defaultTable(t, OfflineRenderer{})
	cases := []struct{ args, want string }{
		{`{"a":1,"b":2}`, "3"},
		{`{"a":-1.5,"b":0.25}`, "-1.25"},
		{`{"a":0.1,"b":0.2}`, "0.30000000000000004"}, // what String(0.1 + 0.2) gives
		{`{"a":1e20,"b":1}`, "100000000000000000000"},
		{`{"a":-7,"b":7}`, "0"},
		{`{"\u0061":1,"b":2}`, "3"},    // names are compared unescaped
		{`{"a":"x","a":1,"b":2}`, "3"}, // the last of a repeated name counts, as for the schema
		{`{"a":1,"b":2,"A":40}`, "3"},  // "A" is another property, not a
	}
	for _, c := range cases {
		res, err := tb.CallTool(context.Background(), "add", json.RawMessage(c.args))
		if err != nil || res.IsError || len(res.Content) != 1 || res.Content[0].Type != "text" {
			t.Fatalf("add %s: %+v, %v", c.args, res, err)
		}
		if res.Content[0].Text != c.want {
			t.Errorf("add %s = %q, want %q", c.args, res.Content[0].Text, c.want)
		}
	}
	for args, want := range map[string]string{
		`{"a":1}`:                   "b: is required",
		`{"a":"1","b":2}`:           "a: must be a number, got a string",
		`{"a":1,"b":1e400}`:         "b: must be a number", // past float64: refused, never +Inf
		`{"a":1.7e308,"b":1.7e308}`: "too large",           // each fits, the sum does not
	} {
		res, err := tb.CallTool(context.Background(), "add", json.RawMessage(args))
		if err != nil || !res.IsError || !strings.Contains(res.Content[0].Text, want) {
			t.Errorf("add %s: %+v, %v; want an isError result containing %q", args, res, err, want)
		}
	}
	// Called directly, without the table's validation, it still refuses
	// what it cannot add.
	for _, args := range []string{`{}`, `{"a":1,"b":"2"}`, `not JSON`} {
		if _, err := Add().Handler(context.Background(), nil, json.RawMessage(args)); err == nil {
			t.Errorf("add handler accepted %s", args)
		}
	}
}

func TestWhoAmI(t *testing.T) {
	tb := defaultTable(t, OfflineRenderer{})
	id := &oauth.Identity{
		Subject: "user_01", Email: "ada@example.com", Name: "Ada Lovelace",
		OrganizationID: "org_01", Organization: "Analytical Engines", Role: "admin",
		Permissions: []string{"image_generation", "billing"},
		SessionID:   "session_secret", ClientID: "client_x", GrantID: "grant_y",
	}
	res, err := tb.CallTool(oauth.WithIdentity(context.Background(), id), "whoami", nil)
	if err != nil || res.IsError {
		t.Fatalf("whoami: %+v, %v", res, err)
	}
	want := `{"user":{"id":"user_01","email":"ada@example.com","name":"Ada Lovelace"},"organization":{"id":"org_01","name":"Analytical Engines"},"role":"admin","permissions":["image_generation","billing"]}`
	got, _ := json.Marshal(res.StructuredContent)
	if string(got) != want {
		t.Fatalf("structuredContent\n got %s\nwant %s", got, want)
	}
	var fromText any
	if err := json.Unmarshal([]byte(res.Content[0].Text), &fromText); err != nil {
		t.Fatalf("text block is not JSON: %v", err)
	}
	compact, _ := json.Marshal(fromText)
	var wantAny any
	_ = json.Unmarshal([]byte(want), &wantAny)
	wantCompact, _ := json.Marshal(wantAny)
	if !bytes.Equal(compact, wantCompact) {
		t.Errorf("text block %s differs from structured content", res.Content[0].Text)
	}
	if strings.Contains(res.Content[0].Text, "session_secret") || strings.Contains(res.Content[0].Text, "grant_y") {
		t.Errorf("whoami shows internal grant data: %s", res.Content[0].Text)
	}

	// No organization and no permissions: organization is left out and
	// permissions is an empty list, both allowed by the outputSchema.
	res, err = tb.CallTool(oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "user_02"}), "whoami", json.RawMessage(`{}`))
	if err != nil || res.IsError {
		t.Fatalf("whoami without org: %+v, %v", res, err)
	}
	got, _ = json.Marshal(res.StructuredContent)
	if string(got) != `{"user":{"id":"user_02"},"permissions":[]}` {
		t.Errorf("whoami without org: %s", got)
	}

	res, err = tb.CallTool(context.Background(), "whoami", nil)
	if err != nil || !res.IsError || !strings.Contains(res.Content[0].Text, "not signed in") {
		t.Errorf("whoami without identity: %+v, %v", res, err)
	}
	res, _ = tb.CallTool(oauth.WithIdentity(context.Background(), id), "whoami", json.RawMessage(`{"verbose":true}`))
	if !res.IsError || !strings.Contains(res.Content[0].Text, "verbose: is not a known property") {
		t.Errorf("whoami with an unknown argument: %+v", res)
	}
}

// progressRecorder replaces the progress seam for one test.
type progressRecorder struct {
	mu    sync.Mutex
	calls []progressCall
}

type progressCall struct {
	progress, total float64
	message         string
}

func recordProgress(t *testing.T) *progressRecorder {
	r := &progressRecorder{}
	old := notifyProgress
	notifyProgress = func(_ context.Context, p, total float64, msg string) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls = append(r.calls, progressCall{p, total, msg})
		return nil
	}
	t.Cleanup(func() { notifyProgress = old })
	return r
}

// slowGenerator answers after a delay, or fails when ctx ends first.
type slowGenerator struct {
	delay time.Duration
	got   chan ImageRequest
}

func (g slowGenerator) Name() string { return "the slow test service" }

func (g slowGenerator) Generate(ctx context.Context, req ImageRequest) (*Image, error) {
	if g.got != nil {
		g.got <- req
	}
	select {
	case <-time.After(g.delay):
		return OfflineRenderer{}.Generate(ctx, req)
	case <-ctx.Done():
		return nil, &UpstreamError{Service: g.Name(), Kind: ErrUpstreamCanceled}
	}
}

func TestGenerateImageOffline(t *testing.T) {
	tb := defaultTable(t, OfflineRenderer{})
	ctx := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "u", Permissions: []string{"image_generation"}})
	res, err := tb.CallTool(ctx, "generateImage", json.RawMessage(`{"prompt":"a red fox"}`))
	if err != nil || res.IsError {
		t.Fatalf("generateImage: %+v, %v", res, err)
	}
	if len(res.Content) != 2 || res.Content[0].Type != "image" || res.Content[0].MimeType != "image/png" || res.Content[1].Type != "text" {
		t.Fatalf("want an image/png block and a text block, got %+v", res.Content)
	}
	if !strings.Contains(res.Content[1].Text, "offline renderer") || !strings.Contains(res.Content[1].Text, "CLOUDFLARE_API_TOKEN") {
		t.Errorf("notice does not say what drew it and how to configure a service: %q", res.Content[1].Text)
	}
	data, err := base64.StdEncoding.DecodeString(res.Content[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	// The default of 4 steps was applied: the image equals a direct render
	// with steps 4.
	direct, _ := OfflineRenderer{}.Generate(context.Background(), ImageRequest{Prompt: "a red fox", Steps: 4})
	if !bytes.Equal(data, direct.Data) {
		t.Errorf("tool image differs from a direct 4-step render: the default was not applied")
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Errorf("not a PNG: %v", err)
	}
}

func TestGenerateImagePassesArguments(t *testing.T) {
	got := make(chan ImageRequest, 1)
	tb := defaultTable(t, slowGenerator{got: got})
	ctx := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "u", Permissions: []string{"image_generation"}})
	res, err := tb.CallTool(ctx, "generateImage", json.RawMessage(`{"prompt":"sea","steps":8}`))
	if err != nil || res.IsError {
		t.Fatalf("%+v, %v", res, err)
	}
	if r := <-got; r != (ImageRequest{Prompt: "sea", Steps: 8}) {
		t.Fatalf("generator got %+v", r)
	}
	for args, want := range map[string]string{
		`{"prompt":""}`:              "prompt: must be at least 1 characters long",
		`{"prompt":"x","steps":9}`:   "steps: must be at most 8, got 9 (maximum)",
		`{"prompt":"x","steps":3}`:   "steps: must be at least 4, got 3 (minimum)",
		`{"steps":5}`:                "prompt: is required",
		`{"prompt":"x","seed":1}`:    "seed: is not a known property",
		`{"prompt":"x","steps":4.5}`: "steps: must be an integer",
	} {
		res, err := tb.CallTool(ctx, "generateImage", json.RawMessage(args))
		if err != nil || !res.IsError || !strings.Contains(res.Content[0].Text, want) {
			t.Errorf("%s: %+v, %v; want isError containing %q", args, res, err, want)
		}
	}
	long := `{"prompt":"` + strings.Repeat("x", 2049) + `"}`
	if res, _ := tb.CallTool(ctx, "generateImage", json.RawMessage(long)); !res.IsError || !strings.Contains(res.Content[0].Text, "at most 2048") {
		t.Errorf("2049-character prompt: %+v", res)
	}
}

func TestGenerateImageReportsProgress(t *testing.T) {
	old := progressInterval
	progressInterval = 10 * time.Millisecond
	t.Cleanup(func() { progressInterval = old })
	rec := recordProgress(t)

	tb := defaultTable(t, slowGenerator{delay: 80 * time.Millisecond})
	ctx := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "u", Permissions: []string{"image_generation"}})
	res, err := tb.CallTool(ctx, "generateImage", json.RawMessage(`{"prompt":"x"}`))
	if err != nil || res.IsError {
		t.Fatalf("%+v, %v", res, err)
	}
	rec.mu.Lock()
	calls := rec.calls
	rec.mu.Unlock()
	// Start, at least one "still waiting", done.
	if len(calls) < 3 {
		t.Fatalf("got %d progress notifications, want at least 3: %+v", len(calls), calls)
	}
	if calls[0].progress != 0 || !strings.Contains(calls[0].message, "asking the slow test service") {
		t.Errorf("first notification: %+v", calls[0])
	}
	if !strings.Contains(calls[1].message, "waiting for the slow test service") {
		t.Errorf("second notification: %+v", calls[1])
	}
	last := calls[len(calls)-1]
	if last.progress != last.total || last.total == 0 || last.message != "image ready" {
		t.Errorf("last notification %+v should complete progress", last)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].progress <= calls[i-1].progress {
			t.Errorf("progress did not increase: %+v then %+v", calls[i-1], calls[i])
		}
	}
}

func TestGenerateImageCancelled(t *testing.T) {
	tb := defaultTable(t, slowGenerator{delay: time.Hour})
	ctx, cancel := context.WithCancel(oauth.WithIdentity(context.Background(),
		&oauth.Identity{Subject: "u", Permissions: []string{"image_generation"}}))
	time.AfterFunc(20*time.Millisecond, cancel)
	res, err := tb.CallTool(ctx, "generateImage", json.RawMessage(`{"prompt":"x"}`))
	if err != nil || !res.IsError || !strings.Contains(res.Content[0].Text, "cancelled") {
		t.Fatalf("%+v, %v; want an isError result saying the request was cancelled", res, err)
	}
}

func TestGenerateImageNeedsPermission(t *testing.T) {
	tb := defaultTable(t, OfflineRenderer{})
	ctx := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "u"})
	_, err := tb.CallTool(ctx, "generateImage", json.RawMessage(`{"prompt":"x"}`))
	var ae *AccessError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), `"image_generation"`) {
		t.Fatalf("got %v, want a refusal naming image_generation", err)
	}
}

func TestDefaultNeedsGenerator(t *testing.T) {
	if _, err := Default(nil); err == nil {
		t.Fatal("Default(nil) succeeded")
	}
}

func identityCtx(perms ...string) context.Context {
	return oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "u", Permissions: perms})
}

// An impersonated session is visible: whoami names who is acting as the
// user, in its structured result and in words.
func TestWhoAmIImpersonated(t *testing.T) {
	tb := defaultTable(t, OfflineRenderer{})
	id := &oauth.Identity{
		Subject: "user_01", Email: "ada@example.com", OrganizationID: "org_01", Role: "member",
		Impersonator: &oauth.Impersonator{Email: "support@example.com", Reason: "ticket 42"},
	}
	res, err := tb.CallTool(oauth.WithIdentity(context.Background(), id), "whoami", nil)
	if err != nil || res.IsError {
		t.Fatalf("whoami: %+v, %v", res, err)
	}
	got, _ := json.Marshal(res.StructuredContent)
	if !strings.Contains(string(got), `"impersonator":{"email":"support@example.com","reason":"ticket 42"}`) ||
		!strings.Contains(string(got), `"user":{"id":"user_01","email":"ada@example.com"}`) {
		t.Fatalf("structuredContent %s does not show who acts as whom", got)
	}
	if len(res.Content) != 2 || !strings.Contains(res.Content[1].Text, "support@example.com is acting as ada@example.com") ||
		!strings.Contains(res.Content[1].Text, "ticket 42") {
		t.Fatalf("content %+v does not say who acts as whom", res.Content)
	}
	// Without impersonation, nothing of it shows.
	id.Impersonator = nil
	res, _ = tb.CallTool(oauth.WithIdentity(context.Background(), id), "whoami", nil)
	if got, _ := json.Marshal(res.StructuredContent); strings.Contains(string(got), "impersonator") || len(res.Content) != 1 {
		t.Fatalf("whoami of a plain session: %s %+v", got, res.Content)
	}
}

// Every tool call is logged with the caller, their organization, the tool
// and, in an impersonated session, the impersonator; never the arguments.
// Calls in an impersonated session and refused calls are logged at Info,
// the rest at Debug.
func TestToolCallLogLine(t *testing.T) {
	tb := defaultTable(t, OfflineRenderer{})
	var buf lockedLog
	tb.SetLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	id := &oauth.Identity{Subject: "user_01", OrganizationID: "org_01", ClientID: "client_x",
		Impersonator: &oauth.Impersonator{Email: "support@example.com"}}
	ctx := oauth.WithIdentity(context.Background(), id)
	if res, err := tb.CallTool(ctx, "add", json.RawMessage(`{"a":123456789,"b":987654321}`)); err != nil || res.IsError {
		t.Fatalf("add: %+v %v", res, err)
	}
	if _, err := tb.CallTool(ctx, "generateImage", json.RawMessage(`{"prompt":"secret plans"}`)); err == nil {
		t.Fatal("generateImage without the permission was not refused")
	}
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("log lines %q, want one per call", out)
	}
	for _, want := range []string{"tool=add", "user=user_01", "org=org_01", "client_id=client_x", "impersonator=support@example.com"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("call log line %q lacks %s", lines[0], want)
		}
	}
	if !strings.Contains(lines[1], "call refused") || !strings.Contains(lines[1], "tool=generateImage") || !strings.Contains(lines[1], "impersonator=support@example.com") {
		t.Errorf("refused call log line %q", lines[1])
	}
	if strings.Contains(out, "123456789") || strings.Contains(out, "secret plans") {
		t.Errorf("log holds arguments: %q", out)
	}

	// A call in a plain session is logged at Debug, with the same
	// attributes: nothing at Info, so the hot path pays nothing for it.
	plain := oauth.WithIdentity(context.Background(), &oauth.Identity{Subject: "user_02", OrganizationID: "org_01"})
	var info, debug lockedLog
	tb.SetLogger(slog.New(slog.NewTextHandler(&info, nil)))
	tb.CallTool(plain, "add", json.RawMessage(`{"a":1,"b":2}`))
	if info.String() != "" {
		t.Errorf("a plain call logged at Info: %q", info.String())
	}
	tb.SetLogger(slog.New(slog.NewTextHandler(&debug, &slog.HandlerOptions{Level: slog.LevelDebug})))
	tb.CallTool(plain, "add", json.RawMessage(`{"a":1,"b":2}`))
	if line := debug.String(); !strings.Contains(line, "level=DEBUG") || !strings.Contains(line, "tools: call") ||
		!strings.Contains(line, "tool=add") || !strings.Contains(line, "user=user_02") || strings.Contains(line, "impersonator") {
		t.Errorf("plain call debug line %q", line)
	}
}

// lockedLog is a log destination safe for concurrent writes.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
