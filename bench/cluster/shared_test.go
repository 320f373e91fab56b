package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// modernReply is one JSON-RPC response to a 2026-07-28 request.
type modernReply struct {
	Status int
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// tasksCaps declares the tasks extension (io.modelcontextprotocol/tasks).
const tasksCaps = `{"extensions":{"io.modelcontextprotocol/tasks":{}}}`

// modernCall sends one 2026-07-28 request (no session) to base's /mcp and
// returns its answer, from a JSON body or the last message of an SSE one.
func modernCall(ctx context.Context, t *testing.T, base, token, method, params, mcpName string) modernReply {
	t.Helper()
	meta := `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"cluster-test","version":"1"},"io.modelcontextprotocol/clientCapabilities":` + tasksCaps + `}`
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":{"_meta":%s%s}}`, method, meta, params)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/mcp", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", method)
	if mcpName != "" {
		req.Header.Set("Mcp-Name", mcpName)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	reply := modernReply{Status: res.StatusCode}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if data, ok := strings.CutPrefix(line, "data:"); ok {
			line = data
		}
		if strings.Contains(line, `"jsonrpc"`) {
			if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &reply); err != nil {
				t.Fatalf("%s: %v", method, err)
			}
		}
	}
	return reply
}

// testTaskOnTheOtherReplica: a task started through one replica is polled
// to completion through the other, which refuses it to another user.
func testTaskOnTheOtherReplica(t *testing.T, c *cluster, ada, grace string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call := modernCall(ctx, t, c.replicas[0].url, ada, "tools/call", `,"name":"generateImage","arguments":{"prompt":"a red fox"}`, "generateImage")
	var created struct {
		ResultType string `json:"resultType"`
		TaskID     string `json:"taskId"`
	}
	if call.Error != nil || json.Unmarshal(call.Result, &created) != nil || created.ResultType != "task" || created.TaskID == "" {
		t.Fatalf("generateImage as a task on %s: %d %s %+v", c.replicas[0].name, call.Status, call.Result, call.Error)
	}
	id := `,"taskId":"` + created.TaskID + `"`
	for {
		r := modernCall(ctx, t, c.replicas[1].url, ada, "tasks/get", id, created.TaskID)
		var got struct {
			Status string `json:"status"`
			Result struct {
				Content []struct {
					Type string `json:"type"`
				} `json:"content"`
			} `json:"result"`
		}
		if r.Error != nil || json.Unmarshal(r.Result, &got) != nil {
			t.Fatalf("tasks/get on %s: %d %s %+v", c.replicas[1].name, r.Status, r.Result, r.Error)
		}
		if got.Status == "completed" {
			if len(got.Result.Content) == 0 || got.Result.Content[0].Type != "image" {
				t.Fatalf("completed task's result: %s", r.Result)
			}
			break
		}
		if got.Status != "working" {
			t.Fatalf("task status %s: %s", got.Status, r.Result)
		}
		if ctx.Err() != nil {
			t.Fatal("the task did not complete")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Another user's tasks/get of the same id, on either replica: as an
	// unknown task.
	for _, r := range c.replicas {
		got := modernCall(ctx, t, r.url, grace, "tasks/get", id, created.TaskID)
		if got.Error == nil || got.Error.Code != -32602 {
			t.Fatalf("grace's tasks/get on %s: %d %s %+v", r.name, got.Status, got.Result, got.Error)
		}
	}
}

// The limits the cluster test starts its replicas with. A token of the
// generateImage allowance comes back every clusterImagePeriod /
// clusterImageLimit (5 s): far longer than the subtests' calls take, and
// short enough that the task subtest finds one even when a run follows an
// earlier one closely (the database keeps ada's bucket between runs).
const (
	clusterSessionLimit = 6
	clusterImageLimit   = 3 // generateImage calls per user per clusterImagePeriod
	clusterImagePeriod  = 15 * time.Second
)

// testRateLimitAcrossReplicas: a user's generateImage allowance is one
// across the replicas: calls through the balancer alternate between them,
// and the allowance runs out after at most clusterImageLimit calls (fewer
// when the task subtest or an earlier run spent some), where per-replica
// limits, fresh in each process, would allow at least twice that less one.
func testRateLimitAcrossReplicas(t *testing.T, c *cluster, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := newClient(c.lb, token)
	if err := cl.initialize(ctx); err != nil {
		t.Fatal(err)
	}
	allowed := 0
	for i := range 2 * clusterImageLimit {
		st, body, _, err := cl.post(ctx, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"generateImage","arguments":{"prompt":"fox %d"}}}`, 10+i, i))
		if err != nil || st != 200 {
			t.Fatalf("call %d: %d %s %v", i, st, body, err)
		}
		if strings.Contains(body, "rate limited: generateImage may be called") {
			if allowed > clusterImageLimit {
				t.Fatalf("limited after %d calls", allowed)
			}
			// Limited on both replicas from now on.
			for j := range 2 {
				_, body, _, _ := cl.post(ctx, `{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"generateImage","arguments":{"prompt":"again"}}}`)
				if !strings.Contains(body, "rate limited") {
					t.Fatalf("call %d after the limit: %s", j, body)
				}
			}
			return
		}
		if !strings.Contains(body, `"type":"image"`) {
			t.Fatalf("call %d: %s", i, body)
		}
		allowed++
	}
	t.Fatalf("%d generateImage calls through the balancer allowed; the limit is %d per user across the replicas", allowed, clusterImageLimit)
}

// testSessionLimitAcrossReplicas: a user's sessions are bounded across
// the replicas: opening one past the limit (through the balancer, so on
// both) ends the least recently renewed, the first, on both replicas;
// the others stay.
func testSessionLimitAcrossReplicas(t *testing.T, c *cluster, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var sessions []string
	for range clusterSessionLimit + 1 {
		cl := newClient(c.lb, token)
		if err := cl.initialize(ctx); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, cl.session)
	}
	// The replica that admitted the last session ends the first at once;
	// the other hears of it on the bus, within a NOTIFY's round trip.
	deadline := time.Now().Add(2 * time.Second)
	for _, r := range c.replicas {
		for i, sid := range sessions {
			cl := newClient(r.url, token)
			cl.session = sid
			want := 200
			if i == 0 {
				want = 404
			}
			for {
				st, body, _, err := cl.post(ctx, `{"jsonrpc":"2.0","id":5,"method":"ping"}`)
				if err == nil && st == want {
					break
				}
				if want == 200 || time.Now().After(deadline) {
					t.Fatalf("session %d of %d on %s: %d %s %v, want %d", i+1, len(sessions), r.name, st, body, err, want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
}

// clusterLease is the replicas' REPLICA_LEASE: short, so that what a
// killed replica held lapses within the kill test.
const clusterLease = 2 * time.Second

// openSSE opens an HTTP+SSE stream on base and returns the endpoint its
// first event names; the stream closes with the test.
func openSSE(ctx context.Context, t *testing.T, base, token string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/sse", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		t.Fatalf("GET /sse on %s: %d", base, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
			return strings.TrimSpace(data)
		}
	}
	t.Fatalf("GET /sse on %s: no endpoint event", base)
	return ""
}

// postSSE POSTs a notification to an HTTP+SSE message URL: its status.
func postSSE(ctx context.Context, t *testing.T, u, token string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "POST", u, strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
