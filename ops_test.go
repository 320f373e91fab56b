package main

// The operator's view of the whole product, through its real listeners:
// rate limits reached by real calls, the metrics endpoint held to promtool,
// the request log and the audit trail.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// signedIn starts a development-mode server with extra flags and returns an
// initialized Streamable HTTP session signed in as email.
func signedIn(ctx context.Context, t *testing.T, email string, extra ...string) (*testServer, *streamable) {
	t.Helper()
	srv := startServer(t, serverConfig{args: extra})
	c := discover(ctx, t, srv.base+"/mcp")
	c.register(ctx, t, "ops client")
	tok := c.authorize(ctx, t, newBrowser(t), email)
	m := newStreamable(ctx, srv.base+"/mcp", tok.AccessToken)
	m.initialize(t)
	return srv, m
}

// An operator's limit is reached by real calls: the third add within the
// minute is an isError result that says when to retry.
func TestToolRateLimitReached(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	_, m := signedIn(ctx, t, "grace@example.com", "-tool-rate-limits", "add=2/1m")
	for i := range 2 {
		r, rerr := callTool(t, m, "add", map[string]any{"a": 1, "b": i})
		if rerr != nil || r.IsError {
			t.Fatalf("call %d within the limit: %+v %v", i, r, rerr)
		}
	}
	r, rerr := callTool(t, m, "add", map[string]any{"a": 1, "b": 2})
	if rerr != nil || !r.IsError || !strings.Contains(r.Content[0].Text, "rate limited: add may be called 2 times per 1m0s by each user; retry after 30 seconds") {
		t.Fatalf("past the limit: %+v %v", r, rerr)
	}
}

// The audit trail in development: sign-in, consent, token issue and a tool
// call are log records, and with -audit-workos they reach the built-in
// emulator through workos-go, which lists them at /_authkit/audit_logs/events.
func TestAuditTrailToEmulator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv, m := signedIn(ctx, t, "ada@example.com", "-audit-workos")
	if r, rerr := callTool(t, m, "add", map[string]any{"a": 2, "b": 3}); rerr != nil || r.IsError {
		t.Fatalf("add: %+v %v", r, rerr)
	}
	// Two workers send: the order of arrival is not the order of events.
	want := []string{"token.issued", "tool.called", "user.consented", "user.signed_in"}
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var list struct {
			Data []struct {
				OrganizationID string `json:"organization_id"`
				IdempotencyKey string `json:"idempotency_key"`
				Event          struct {
					Action string `json:"action"`
					Actor  struct{ ID, Name string }
				} `json:"event"`
			} `json:"data"`
		}
		if err := getJSON(ctx, http.DefaultClient, srv.base+"/_authkit/audit_logs/events", &list); err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, e := range list.Data {
			if e.OrganizationID == "" || e.IdempotencyKey == "" || e.Event.Actor.Name != "ada@example.com" {
				t.Fatalf("event without organization, key or actor: %+v", e)
			}
			got = append(got, e.Event.Action)
		}
		slices.Sort(got)
		if slices.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulator received %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := srv.stop(); err != nil { // the log is complete once the server stopped
		t.Fatal(err)
	}
	logs := srv.logs.String()
	for _, a := range want {
		if !strings.Contains(logs, "msg=audit action="+a) {
			t.Errorf("no audit record for %s in the log", a)
		}
	}
	if !strings.Contains(logs, "tool=add outcome=ok") {
		t.Errorf("the tool call's record lacks its tool or outcome:\n%s", logs)
	}
}

// adminBase finds the admin listener's address in the server's log.
func adminBase(t *testing.T, srv *testServer) string {
	t.Helper()
	m := regexp.MustCompile(`admin listener"? metrics=(http://[0-9.:]+)/metrics`).FindStringSubmatch(srv.logs.String())
	if m == nil {
		t.Fatalf("no admin listener in the log:\n%s", srv.logs)
	}
	return m[1]
}

// promtool runs `promtool check metrics` on an exposition. Under CI=true a
// missing promtool fails the test: .ci/test installs it.
func promtool(t *testing.T, exposition string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed (apt-get install prometheus); CI=true requires it")
		}
		t.Skip("promtool is not installed (apt-get install prometheus)")
	}
	cmd := exec.Command(bin, "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s\nexposition:\n%s", err, out, exposition)
	}
}

// /metrics on the admin listener, after real traffic: every family the
// issue asks for, held to promtool, with no user or token in it; and no
// /metrics on the public listener.
func TestMetricsEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv, m := signedIn(ctx, t, "ada@example.com", "-admin-addr", "127.0.0.1:0", "-tool-rate-limits", "add=1/1m", "-audit-workos")
	callTool(t, m, "add", map[string]any{"a": 1, "b": 2})
	callTool(t, m, "add", map[string]any{"a": 1, "b": 2}) // past the limit
	if r, rerr := callTool(t, m, "generateImage", map[string]any{"prompt": "a lighthouse"}); rerr != nil || r.IsError {
		t.Fatalf("generateImage: %+v %v", r, rerr)
	}
	if code, _, _ := get(srv.base + "/metrics"); code != 404 {
		t.Fatalf("/metrics on the public listener: %d, want 404", code)
	}
	admin := adminBase(t, srv)
	var body string
	want := []string{
		`http_request_duration_seconds_count{route="/mcp",status="200"} `,
		`http_request_duration_seconds_bucket{route="/token",status="200",le="+Inf"} 1`,
		`http_request_duration_seconds_count{route="/metrics"`, // absent: see below
		`mcp_requests_total{method="initialize",era="legacy",outcome="ok"} 1`,
		`mcp_requests_total{method="tools/call",era="legacy",outcome="ok"} 3`,
		`mcp_tool_calls_total{tool="add",outcome="ok"} 1`,
		`mcp_tool_calls_total{tool="add",outcome="rate_limited"} 1`,
		`mcp_tool_calls_total{tool="generateImage",outcome="ok"} 1`,
		`mcp_tool_call_duration_seconds_count{tool="generateImage"} 1`,
		`mcp_open{kind="sessions"} 1`,
		`mcp_open{kind="streams"} 0`,
		`oauth_events_total{event="client.registered",grant_type=""} 1`,
		`oauth_events_total{event="user.signed_in",grant_type=""} 1`,
		`oauth_events_total{event="token.issued",grant_type="authorization_code"} 1`,
		`ratelimit_refusals_total{limit="tool",name="add"} 1`,
		`upstream_requests_total{service="workos",operation="authenticate",outcome="ok"} 1`,
		`upstream_requests_total{service="image",operation="generate",outcome="ok"} 1`,
		`upstream_request_duration_seconds_count{service="workos",operation="authenticate"} 1`,
		`audit_events_total{action="tool.called"} 3`,
		`audit_workos_events_total{result="dropped_queue_full"} 0`,
		`go_goroutines `,
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, b, err := get(admin + "/metrics")
		if err != nil || code != 200 {
			t.Fatalf("GET admin /metrics: %d %v", code, err)
		}
		body = b
		missing := 0
		for _, w := range want {
			if !strings.Contains(body, w) && !strings.Contains(w, `route="/metrics"`) {
				missing++
			}
		}
		if missing == 0 && strings.Contains(body, `upstream_requests_total{service="workos",operation="create_audit_event",outcome="ok"}`) {
			break
		}
		if time.Now().After(deadline) {
			for _, w := range want {
				if !strings.Contains(body, w) && !strings.Contains(w, `route="/metrics"`) {
					t.Errorf("missing %s", w)
				}
			}
			t.Fatalf("exposition:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(body, `route="/metrics"`) {
		t.Error("the admin listener's own requests are counted as public ones")
	}
	for _, secret := range []string{"ada@example.com", "user_", m.token, "mcp_client_"} {
		if strings.Contains(body, secret) {
			t.Errorf("the exposition holds %q", secret)
		}
	}
	promtool(t, body)
	if code, _, _ := get(admin + "/debug/vars"); code != 200 {
		t.Fatalf("/debug/vars on the admin listener: %d", code)
	}
}

// One request log line per request, in JSON with -log-format json: route,
// status, duration, MCP method and tool, user, organization, client and the
// traceparent; never a token or code anywhere in the log.
func TestRequestLog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv, m := signedIn(ctx, t, "ada@example.com", "-log-format", "json")
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	body := []byte(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":1}}}`)
	for _, trace := range []string{tp, "not-a-traceparent"} {
		req := m.request(http.MethodPost, body)
		req.Header.Set("Traceparent", trace)
		res, err := m.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	if err := srv.stop(); err != nil { // the log is complete once the server stopped
		t.Fatal(err)
	}
	var lines []map[string]any
	for _, l := range strings.Split(srv.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) == nil && rec["msg"] == "request" && rec["mcp_method"] == "tools/call" {
			lines = append(lines, rec)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d request lines for two tools/call:\n%s", len(lines), srv.logs)
	}
	l := lines[0]
	for k, v := range map[string]any{"route": "/mcp", "method": "POST", "status": float64(200), "tool": "add",
		"mcp_era": "legacy", "traceparent": tp} {
		if l[k] != v {
			t.Errorf("%s = %v, want %v (line %v)", k, l[k], v, l)
		}
	}
	for _, k := range []string{"user_id", "org_id", "client_id", "duration"} {
		if l[k] == nil || l[k] == "" {
			t.Errorf("no %s in %v", k, l)
		}
	}
	if _, ok := lines[1]["traceparent"]; ok {
		t.Errorf("a malformed traceparent was logged: %v", lines[1])
	}
	logs := srv.logs.String()
	if strings.Contains(logs, m.token) || strings.Contains(logs, "Bearer") {
		t.Fatal("the log holds the access token")
	}
	// Every request gets its line, the OAuth ones too.
	for _, route := range []string{"/register", "/authorize", "/callback", "/token"} {
		if !strings.Contains(logs, `"msg":"request","route":"`+route+`"`) {
			t.Errorf("no request line for %s", route)
		}
	}
}
