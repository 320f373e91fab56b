package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// taskTools serve the task tests: "job" may run as a task and waits for
// release (or its context), "must" must run as one, "quick" never does,
// "confirm" asks the user through Elicit.
type taskTools struct {
	release   chan struct{}
	cancelled chan struct{}
}

func (tt *taskTools) ListTools(context.Context) []Tool {
	return []Tool{
		{Name: "job", InputSchema: objSchema, Execution: &ToolExecution{TaskSupport: TaskOptional}},
		{Name: "must", InputSchema: objSchema, Execution: &ToolExecution{TaskSupport: TaskRequired}},
		{Name: "quick", InputSchema: objSchema},
		{Name: "confirm", InputSchema: objSchema, Execution: &ToolExecution{TaskSupport: TaskOptional}},
		{Name: "gather", InputSchema: objSchema},
	}
}

func (tt *taskTools) TaskSupport(_ context.Context, name string) string {
	for _, t := range tt.ListTools(context.Background()) {
		if t.Name == name && t.Execution != nil {
			return t.Execution.TaskSupport
		}
	}
	return TaskForbidden
}

func (tt *taskTools) CallTool(ctx context.Context, name string, _ json.RawMessage) (*CallToolResult, error) {
	switch name {
	case "job", "must":
		_ = NotifyProgress(ctx, 1, 0, "warming up")
		select {
		case <-tt.release:
			return &CallToolResult{Content: []Content{TextContent("done")}}, nil
		case <-ctx.Done():
			tt.cancelled <- struct{}{}
			return nil, ctx.Err()
		}
	case "gather":
		r, ok := InputResponses(ctx)["who"]
		if !ok {
			return nil, &InputRequired{Requests: map[string]InputRequest{"who": ElicitInput(&ElicitParams{Message: "Who?"})}}
		}
		return nil, &ContinueAsTask{Run: func(context.Context) (*CallToolResult, error) {
			return &CallToolResult{Content: []Content{TextContent("gathered " + string(r))}}, nil
		}}
	case "quick":
		return &CallToolResult{Content: []Content{TextContent("quick")}}, nil
	case "confirm":
		res, err := Elicit(ctx, &ElicitParams{Message: "Sure?", RequestedSchema: json.RawMessage(`{"type":"object","properties":{"ok":{"type":"boolean"}}}`)})
		if err != nil {
			return nil, err
		}
		return &CallToolResult{Content: []Content{TextContent(fmt.Sprintf("%s %v", res.Action, res.Content["ok"]))}}, nil
	}
	return nil, ErrUnknownTool
}

// newTaskServer serves taskTools with the tasks extension on; the owner of
// a request is its X-User header.
func newTaskServer(t *testing.T, o TaskOptions) (*taskTools, string) {
	t.Helper()
	tt := &taskTools{release: make(chan struct{}), cancelled: make(chan struct{}, 8)}
	s := NewServer(ServerOptions{Info: Implementation{Name: "task-server", Version: "1"}, Tools: tt, Logger: quietLogger(), Tasks: &o})
	ts := httptest.NewServer(s.StreamableHTTPHandler(HTTPOptions{SessionOwner: func(r *http.Request) string { return r.Header.Get("X-User") }}))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		ts.Close()
	})
	return tt, ts.URL
}

const tasksCaps = `{"extensions":{"io.modelcontextprotocol/tasks":{}},"elicitation":{}}`

// taskCall sends a modern request as user, declaring the tasks extension
// when caps says so, with Mcp-Name set to the task id for tasks/*.
func taskCall(t *testing.T, url, user, caps, method, params string) rpcReply {
	t.Helper()
	meta := `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":` + caps + `}`
	body := `{"_meta":` + meta
	if params != "" {
		body += "," + params
	}
	body += "}"
	_, msgs := modernPost(t, url, 1, method, body, func(r *http.Request) {
		r.Header.Set("X-User", user)
		var p struct {
			TaskID string `json:"taskId"`
		}
		_ = json.Unmarshal([]byte(body), &p)
		if p.TaskID != "" {
			r.Header.Set("Mcp-Name", p.TaskID)
		}
	})
	if len(msgs) != 1 {
		t.Fatalf("%s: %d messages", method, len(msgs))
	}
	return msgs[0]
}

type wireTask struct {
	ResultType     string                     `json:"resultType"`
	TaskID         string                     `json:"taskId"`
	Status         string                     `json:"status"`
	TTLMs          *int64                     `json:"ttlMs"`
	PollIntervalMs int64                      `json:"pollIntervalMs"`
	CreatedAt      string                     `json:"createdAt"`
	Result         *CallToolResult            `json:"result"`
	Error          *JSONRPCError              `json:"error"`
	InputRequests  map[string]json.RawMessage `json:"inputRequests"`
}

func decodeTask(t *testing.T, r rpcReply) wireTask {
	t.Helper()
	if r.Error != nil {
		t.Fatalf("error %d %s", r.Error.Code, r.Error.Message)
	}
	var w wireTask
	if err := json.Unmarshal(r.Result, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// waitMessage polls tasks/get until the task has a statusMessage.
func waitMessage(t *testing.T, url, user, id string) string {
	t.Helper()
	for range 500 {
		var w struct {
			StatusMessage string `json:"statusMessage"`
		}
		r := taskCall(t, url, user, tasksCaps, "tasks/get", `"taskId":"`+id+`"`)
		if json.Unmarshal(r.Result, &w); w.StatusMessage != "" {
			return w.StatusMessage
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ""
}

// waitStatus polls tasks/get until the task has status want.
func waitStatus(t *testing.T, url, user, id string, want string) wireTask {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		w := decodeTask(t, taskCall(t, url, user, tasksCaps, "tasks/get", `"taskId":"`+id+`"`))
		if w.Status == want {
			return w
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s: status %s, want %s", id, w.Status, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTaskLifecycle(t *testing.T) {
	tt, url := newTaskServer(t, TaskOptions{TTL: time.Minute, PollInterval: 250 * time.Millisecond})
	created := decodeTask(t, taskCall(t, url, "ada", tasksCaps, "tools/call", `"name":"job","arguments":{}`))
	if created.ResultType != "task" || created.TaskID == "" || created.Status != "working" || created.TTLMs == nil || *created.TTLMs != 60000 ||
		created.PollIntervalMs != 250 || created.Result != nil {
		t.Fatalf("CreateTaskResult: %+v", created)
	}
	if _, err := time.Parse(time.RFC3339Nano, created.CreatedAt); err != nil {
		t.Errorf("createdAt %q is not ISO 8601: %v", created.CreatedAt, err)
	}
	got := decodeTask(t, taskCall(t, url, "ada", tasksCaps, "tasks/get", `"taskId":"`+created.TaskID+`"`))
	if got.ResultType != "complete" || got.Status != "working" || got.Result != nil {
		t.Fatalf("tasks/get while working: %+v", got)
	}
	// The work's progress message is the task's statusMessage: a task has
	// no stream for notifications/progress.
	if w := waitMessage(t, url, "ada", created.TaskID); w != "warming up" {
		t.Fatalf("statusMessage %q", w)
	}
	close(tt.release)
	done := waitStatus(t, url, "ada", created.TaskID, "completed")
	if done.Result == nil || len(done.Result.Content) != 1 || done.Result.Content[0].Text != "done" {
		t.Fatalf("completed task: %+v", done)
	}
	// Without the extension declared the same tool runs synchronously.
	sync := taskCall(t, url, "ada", `{}`, "tools/call", `"name":"job","arguments":{}`)
	if w := decodeTask(t, sync); w.ResultType != "complete" || w.TaskID != "" {
		t.Fatalf("call without the extension: %s", sync.Result)
	}
}

// TestTaskOfAnotherUserIsNotFound: a task handle is bound to the user who
// created it; to anyone else it is answered exactly as an unknown one.
func TestTaskOfAnotherUserIsNotFound(t *testing.T) {
	tt, url := newTaskServer(t, TaskOptions{})
	id := decodeTask(t, taskCall(t, url, "ada", tasksCaps, "tools/call", `"name":"job","arguments":{}`)).TaskID
	unknown := taskCall(t, url, "grace", tasksCaps, "tasks/get", `"taskId":"NOSUCHTASK"`)
	if unknown.Error == nil || unknown.Error.Code != CodeInvalidParams || string(unknown.ID) != "1" {
		t.Fatalf("unknown task: %+v", unknown)
	}
	for _, method := range []string{"tasks/get", "tasks/cancel"} {
		r := taskCall(t, url, "grace", tasksCaps, method, `"taskId":"`+id+`"`)
		if r.Error == nil || r.Error.Code != CodeInvalidParams || !strings.Contains(r.Error.Message, "unknown task") {
			t.Fatalf("grace's %s of ada's task: %+v", method, r)
		}
	}
	r := taskCall(t, url, "grace", tasksCaps, "tasks/update", `"taskId":"`+id+`","inputResponses":{}`)
	if r.Error == nil || r.Error.Code != CodeInvalidParams {
		t.Fatalf("grace's tasks/update of ada's task: %+v", r)
	}
	// Grace's cancel did nothing: Ada's task still runs, and completes.
	if w := decodeTask(t, taskCall(t, url, "ada", tasksCaps, "tasks/get", `"taskId":"`+id+`"`)); w.Status != "working" {
		t.Fatalf("ada's task after grace's cancel: %+v", w)
	}
	close(tt.release)
	waitStatus(t, url, "ada", id, "completed")
}

func TestTaskCancel(t *testing.T) {
	tt, url := newTaskServer(t, TaskOptions{})
	id := decodeTask(t, taskCall(t, url, "ada", tasksCaps, "tools/call", `"name":"job","arguments":{}`)).TaskID
	ack := taskCall(t, url, "ada", tasksCaps, "tasks/cancel", `"taskId":"`+id+`"`)
	if ack.Error != nil || string(ack.Result) != `{"resultType":"complete","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"task-server","version":"1"}}}` {
		t.Fatalf("cancel ack: %s %+v", ack.Result, ack.Error)
	}
	select {
	case <-tt.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the tool's context was not cancelled")
	}
	w := waitStatus(t, url, "ada", id, "cancelled")
	if w.Result != nil || w.Error != nil {
		t.Fatalf("cancelled task carries an outcome: %+v", w)
	}
	// Cancelling a terminal task is acknowledged and changes nothing.
	if again := taskCall(t, url, "ada", tasksCaps, "tasks/cancel", `"taskId":"`+id+`"`); again.Error != nil {
		t.Fatalf("second cancel: %+v", again.Error)
	}
}

// TestTaskInputViaUpdate: an Elicit inside a task becomes the task's input
// request, answered with tasks/update.
func TestTaskInputViaUpdate(t *testing.T) {
	_, url := newTaskServer(t, TaskOptions{})
	id := decodeTask(t, taskCall(t, url, "ada", tasksCaps, "tools/call", `"name":"confirm","arguments":{}`)).TaskID
	w := waitStatus(t, url, "ada", id, "input_required")
	if len(w.InputRequests) != 1 {
		t.Fatalf("input requests: %+v", w.InputRequests)
	}
	var key string
	for k, v := range w.InputRequests {
		key = k
		if !strings.Contains(string(v), `"method":"elicitation/create"`) || !strings.Contains(string(v), `"message":"Sure?"`) {
			t.Fatalf("input request %s", v)
		}
	}
	// An unknown key is ignored; the right one resumes the work.
	if r := taskCall(t, url, "ada", tasksCaps, "tasks/update", `"taskId":"`+id+`","inputResponses":{"nope":{"action":"accept"}}`); r.Error != nil {
		t.Fatal(r.Error)
	}
	if w := decodeTask(t, taskCall(t, url, "ada", tasksCaps, "tasks/get", `"taskId":"`+id+`"`)); w.Status != "input_required" {
		t.Fatalf("after an unknown key: %+v", w)
	}
	if r := taskCall(t, url, "ada", tasksCaps, "tasks/update", `"taskId":"`+id+`","inputResponses":{"`+key+`":{"action":"accept","content":{"ok":true}}}`); r.Error != nil {
		t.Fatal(r.Error)
	}
	done := waitStatus(t, url, "ada", id, "completed")
	if done.Result == nil || done.Result.Content[0].Text != "accept true" || done.InputRequests != nil {
		t.Fatalf("completed: %+v", done)
	}
	// inputResponses is required on tasks/update.
	if r := taskCall(t, url, "ada", tasksCaps, "tasks/update", `"taskId":"`+id+`"`); r.Error == nil || r.Error.Code != CodeInvalidParams {
		t.Fatalf("update without inputResponses: %+v", r)
	}
}

// TestTaskNeedsTheExtension: the tasks methods and a required-task tool
// answer -32021 naming the extension to a client that did not declare it.
func TestTaskNeedsTheExtension(t *testing.T) {
	_, url := newTaskServer(t, TaskOptions{})
	for _, c := range []struct{ method, params string }{
		{"tasks/get", `"taskId":"x"`}, {"tasks/cancel", `"taskId":"x"`}, {"tasks/update", `"taskId":"x","inputResponses":{}`},
		{"tools/call", `"name":"must","arguments":{}`},
	} {
		r := taskCall(t, url, "ada", `{}`, c.method, c.params)
		if r.Error == nil || r.Error.Code != CodeMissingRequiredClientCapability || !strings.Contains(string(r.Error.Data), `"io.modelcontextprotocol/tasks":{}`) {
			t.Errorf("%s without the extension: %+v", c.method, r)
		}
	}
}

// TestTasksBoundedPerUser: past MaxPerOwner live tasks an optional tool
// runs synchronously and a required one is refused; other users are not
// affected.
func TestTasksBoundedPerUser(t *testing.T) {
	tt, url := newTaskServer(t, TaskOptions{MaxPerOwner: 2})
	for range 2 {
		if w := decodeTask(t, taskCall(t, url, "ada", tasksCaps, "tools/call", `"name":"must","arguments":{}`)); w.ResultType != "task" {
			t.Fatalf("within the bound: %+v", w)
		}
	}
	if r := taskCall(t, url, "ada", tasksCaps, "tools/call", `"name":"must","arguments":{}`); r.Error == nil || !strings.Contains(r.Error.Message, "2 tasks are already live") {
		t.Fatalf("required past the bound: %+v", r)
	}
	quick := decodeTask(t, taskCall(t, url, "ada", tasksCaps, "tools/call", `"name":"quick","arguments":{}`))
	if quick.ResultType != "complete" {
		t.Fatalf("quick: %+v", quick)
	}
	if w := decodeTask(t, taskCall(t, url, "grace", tasksCaps, "tools/call", `"name":"must","arguments":{}`)); w.ResultType != "task" {
		t.Fatalf("another user: %+v", w)
	}
	close(tt.release)
}

// TestTaskExpires: past its TTL a task is forgotten (and its work stopped).
func TestTaskExpires(t *testing.T) {
	tt, url := newTaskServer(t, TaskOptions{TTL: 200 * time.Millisecond})
	id := decodeTask(t, taskCall(t, url, "ada", tasksCaps, "tools/call", `"name":"job","arguments":{}`)).TaskID
	select {
	case <-tt.cancelled: // the work ends with the TTL
	case <-time.After(5 * time.Second):
		t.Fatal("the work outlived the task's TTL")
	}
	time.Sleep(250 * time.Millisecond)
	if r := taskCall(t, url, "ada", tasksCaps, "tasks/get", `"taskId":"`+id+`"`); r.Error == nil || r.Error.Code != CodeInvalidParams {
		t.Fatalf("expired task: %+v", r)
	}
}

func TestMemoryTaskStore(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewMemoryTaskStore()
	m.now = func() time.Time { return now }
	ctx := context.Background()
	mk := func(id, owner string) *Task {
		return &Task{ID: id, Owner: owner, Status: TaskWorking, CreatedAt: now, TTL: time.Minute}
	}
	if err := m.Create(ctx, mk("a", "ada"), 1); err != nil {
		t.Fatal(err)
	}
	if err := m.Create(ctx, mk("b", "ada"), 1); !errors.Is(err, ErrTooManyTasks) {
		t.Fatalf("second of one: %v", err)
	}
	if _, err := m.Get(ctx, "grace", "a"); !errors.Is(err, ErrTaskNotFound) {
		t.Fatalf("another owner's Get: %v", err)
	}
	if _, err := m.Update(ctx, "grace", "a", func(t *Task) { t.Status = TaskCancelled }); !errors.Is(err, ErrTaskNotFound) {
		t.Fatalf("another owner's Update: %v", err)
	}
	got, _ := m.Get(ctx, "ada", "a")
	got.Status = TaskFailed // a copy
	if again, _ := m.Get(ctx, "ada", "a"); again.Status != TaskWorking {
		t.Fatal("Get returned the stored task, not a copy")
	}
	now = now.Add(time.Minute)
	if _, err := m.Get(ctx, "ada", "a"); !errors.Is(err, ErrTaskNotFound) {
		t.Fatalf("expired: %v", err)
	}
	if err := m.Create(ctx, mk("c", "ada"), 1); err != nil {
		t.Fatalf("an expired task still counted: %v", err)
	}
	if len(m.tasks) != 1 || len(m.byOwner["ada"]) != 1 {
		t.Fatalf("expired tasks kept: %d tasks, %d of ada's indexed", len(m.tasks), len(m.byOwner["ada"]))
	}
	// The sweep forgets tasks nobody asks about again, and their owners.
	now = now.Add(2 * time.Minute)
	_ = m.Create(ctx, &Task{ID: "d", Owner: "grace", CreatedAt: now, TTL: time.Minute}, 1)
	if _, kept := m.byOwner["ada"]; kept || len(m.tasks) != 1 {
		t.Fatalf("after a sweep: %d tasks, ada indexed %v", len(m.tasks), kept)
	}
}

// TestInputThenTask: a handler gathers input with an InputRequiredResult,
// then continues as a task (ContinueAsTask): the first answer carries no
// task, the retry creates one whose result has the input.
func TestInputThenTask(t *testing.T) {
	_, url := newTaskServer(t, TaskOptions{})
	first := taskCall(t, url, "ada", tasksCaps, "tools/call", `"name":"gather","arguments":{}`)
	var ir struct {
		ResultType string `json:"resultType"`
		TaskID     string `json:"taskId"`
	}
	if json.Unmarshal(first.Result, &ir); ir.ResultType != "input_required" || ir.TaskID != "" {
		t.Fatalf("first round: %s %+v", first.Result, first.Error)
	}
	retry := `"name":"gather","arguments":{},"inputResponses":{"who":{"action":"accept","content":{"n":"Ada"}}}`
	if r := taskCall(t, url, "ada", `{"elicitation":{}}`, "tools/call", retry); r.Error == nil || r.Error.Code != CodeMissingRequiredClientCapability {
		t.Fatalf("retry without the tasks extension: %s %+v", r.Result, r.Error)
	}
	created := decodeTask(t, taskCall(t, url, "ada", tasksCaps, "tools/call", retry))
	if created.ResultType != "task" {
		t.Fatalf("retry: %+v", created)
	}
	done := waitStatus(t, url, "ada", created.TaskID, "completed")
	if !strings.Contains(done.Result.Content[0].Text, `"n":"Ada"`) {
		t.Fatalf("task result: %+v", done.Result)
	}
}
