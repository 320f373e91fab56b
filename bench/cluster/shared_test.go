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
