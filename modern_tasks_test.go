package main

// The product's /mcp in the 2026-07-28 era, signed in: generateImage as a
// task of the tasks extension (io.modelcontextprotocol/tasks), bound to the
// user who started it.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// modernReply is one JSON-RPC response to a modern request.
type modernReply struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
}

// modernCall sends one 2026-07-28 request with token, declaring caps, and
// returns its response (from a JSON body or the last message of an SSE
// stream).
func modernCall(ctx context.Context, t *testing.T, url, token, caps, method, params, mcpName string) modernReply {
	t.Helper()
	meta := `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"test","version":"1"},"io.modelcontextprotocol/clientCapabilities":` + caps + `}`
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":{"_meta":%s%s}}`, method, meta, params)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
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
	var reply modernReply
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok && strings.Contains(data, `"id"`) {
				if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &reply); err != nil {
					t.Fatalf("%s: %v", method, err)
				}
			}
		}
	} else if err := json.NewDecoder(res.Body).Decode(&reply); err != nil {
		t.Fatalf("%s: %s: %v", method, res.Status, err)
	}
	return reply
}

const tasksExtension = `{"extensions":{"io.modelcontextprotocol/tasks":{}}}`

func TestModernImageTask(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	srv := startServer(t, serverConfig{})
	c := discover(ctx, t, srv.base+"/mcp")
	c.register(ctx, t, "modern client")
	ada := c.authorize(ctx, t, newBrowser(t), "ada@example.com").AccessToken
	grace := c.authorize(ctx, t, newBrowser(t), "grace@example.com").AccessToken
	url := srv.base + "/mcp"

	call := modernCall(ctx, t, url, ada, tasksExtension, "tools/call", `,"name":"generateImage","arguments":{"prompt":"a red fox"}`, "generateImage")
	var task struct {
		ResultType string `json:"resultType"`
		TaskID     string `json:"taskId"`
		Status     string `json:"status"`
		Result     *struct {
			Content []struct{ Type, MimeType, Data string }
		} `json:"result"`
	}
	if call.Error != nil || json.Unmarshal(call.Result, &task) != nil || task.ResultType != "task" || task.TaskID == "" {
		t.Fatalf("generateImage with the tasks extension: %s %+v", call.Result, call.Error)
	}

	// Grace is told the handle does not exist, as for one that never did.
	for _, id := range []string{task.TaskID, "NOTATASK"} {
		r := modernCall(ctx, t, url, grace, tasksExtension, "tasks/get", `,"taskId":"`+id+`"`, id)
		if r.Error == nil || r.Error.Code != -32602 || !strings.Contains(r.Error.Message, "unknown task") || string(r.ID) != "1" {
			t.Fatalf("grace's tasks/get of %s: %+v", id, r)
		}
	}
	// Grace cannot start one either: the permission check comes first.
	if r := modernCall(ctx, t, url, grace, tasksExtension, "tools/call", `,"name":"generateImage","arguments":{"prompt":"x"}`, "generateImage"); r.Error == nil || !strings.Contains(r.Error.Message, "image_generation") {
		t.Fatalf("grace's generateImage: %s %+v", r.Result, r.Error)
	}

	deadline := time.Now().Add(eventWait)
	for task.Status != "completed" {
		if time.Now().After(deadline) {
			t.Fatalf("the task is still %s", task.Status)
		}
		time.Sleep(50 * time.Millisecond)
		r := modernCall(ctx, t, url, ada, tasksExtension, "tasks/get", `,"taskId":"`+task.TaskID+`"`, task.TaskID)
		if r.Error != nil || json.Unmarshal(r.Result, &task) != nil {
			t.Fatalf("ada's tasks/get: %s %+v", r.Result, r.Error)
		}
	}
	if task.Result == nil || len(task.Result.Content) == 0 || task.Result.Content[0].Type != "image" || task.Result.Content[0].Data == "" {
		t.Fatalf("completed task: %+v", task)
	}
}

// TestRevokedGrantCancelsItsTasks: revoking a grant (RFC 7009) stops the
// tasks its tokens started: the image service sees its request abandoned,
// and the user, signed in again, finds the task cancelled with the reason.
func TestRevokedGrantCancelsItsTasks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
	defer cancel()
	started, abandoned := make(chan struct{}, 1), make(chan struct{}, 1)
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// net/http notices the client has gone only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			abandoned <- struct{}{}
		case <-time.After(flowTimeout):
		}
	}))
	defer service.Close()
	srv := startServer(t, serverConfig{env: map[string]string{"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": service.URL + "/v1"}})
	c := discover(ctx, t, srv.base+"/mcp")
	c.register(ctx, t, "modern client")
	tok := c.authorize(ctx, t, newBrowser(t), "ada@example.com")
	url := srv.base + "/mcp"

	call := modernCall(ctx, t, url, tok.AccessToken, tasksExtension, "tools/call", `,"name":"generateImage","arguments":{"prompt":"a red fox"}`, "generateImage")
	var task struct {
		TaskID        string `json:"taskId"`
		Status        string `json:"status"`
		StatusMessage string `json:"statusMessage"`
	}
	if call.Error != nil || json.Unmarshal(call.Result, &task) != nil || task.TaskID == "" {
		t.Fatalf("generateImage as a task: %s %+v", call.Result, call.Error)
	}
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the image service was never called")
	}

	c.revoke(ctx, t, tok.RefreshToken, "refresh_token")
	select {
	case <-abandoned:
	case <-time.After(eventWait):
		t.Fatal("the revoked grant's task still waits on the image service")
	}
	again := c.authorize(ctx, t, newBrowser(t), "ada@example.com").AccessToken
	r := modernCall(ctx, t, url, again, tasksExtension, "tasks/get", `,"taskId":"`+task.TaskID+`"`, task.TaskID)
	if r.Error != nil || json.Unmarshal(r.Result, &task) != nil || task.Status != "cancelled" || !strings.Contains(task.StatusMessage, "revoked") {
		t.Fatalf("the task after its grant was revoked: %s %+v", r.Result, r.Error)
	}
}
