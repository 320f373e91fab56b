package mcp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"remote-mcp-authkit/events"
)

// eventsRelay relays over an events bus, as the replicated server's wiring
// does: the message goes to every process, the one holding the task or
// stream takes it.
type eventsRelay struct {
	bus  events.Bus
	kind events.Kind
}

func (r eventsRelay) Send(ctx context.Context, key string, msg []byte) error {
	return r.bus.Publish(ctx, events.Event{Kind: r.kind, Key: key, Data: msg})
}

// newTaskPair starts two servers sharing one task store and one events bus,
// as two replicas sharing PostgreSQL do, and returns their tools and URLs.
func newTaskPair(t *testing.T) (tools [2]*taskTools, urls [2]string) {
	t.Helper()
	bus := events.NewLocal()
	shared := NewMemoryTaskStore()
	for i := range 2 {
		tt := &taskTools{release: make(chan struct{}), cancelled: make(chan struct{}, 8)}
		s := NewServer(ServerOptions{Info: Implementation{Name: "task-server", Version: "1"}, Tools: tt, Logger: quietLogger(),
			Tasks: &TaskOptions{Store: shared, Relay: eventsRelay{bus, events.TaskMessage}}})
		unsub := bus.Subscribe(func(e events.Event) {
			if e.Kind == events.TaskMessage {
				s.DeliverTaskMessage(e.Key, e.Data)
			}
		})
		ts := httptest.NewServer(s.StreamableHTTPHandler(HTTPOptions{SessionOwner: func(r *http.Request) string { return r.Header.Get("X-User") }}))
		t.Cleanup(func() {
			unsub()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Shutdown(ctx)
			ts.Close()
		})
		tools[i], urls[i] = tt, ts.URL
	}
	return tools, urls
}

// TestTaskAcrossServers: a task started on one server is polled,
// cancelled and answered through another sharing its store and bus; the
// owner check holds there too.
func TestTaskAcrossServers(t *testing.T) {
	tt, url := newTaskPair(t)
	id := decodeTask(t, taskCall(t, url[0], "ada", tasksCaps, "tools/call", `"name":"job","arguments":{}`)).TaskID
	if w := decodeTask(t, taskCall(t, url[1], "ada", tasksCaps, "tasks/get", `"taskId":"`+id+`"`)); w.Status != "working" {
		t.Fatalf("tasks/get on the other server: %+v", w)
	}
	for _, m := range []string{"tasks/get", "tasks/cancel"} {
		if r := taskCall(t, url[1], "grace", tasksCaps, m, `"taskId":"`+id+`"`); r.Error == nil || r.Error.Code != CodeInvalidParams {
			t.Fatalf("another user's %s on the other server: %+v", m, r)
		}
	}
	if r := taskCall(t, url[1], "ada", tasksCaps, "tasks/cancel", `"taskId":"`+id+`"`); r.Error != nil {
		t.Fatal(r.Error)
	}
	select {
	case <-tt[0].cancelled: // the work stopped where it ran
	case <-time.After(5 * time.Second):
		t.Fatal("tasks/cancel on the other server did not stop the work")
	}
	waitStatus(t, url[0], "ada", id, "cancelled")

	// Input asked on the first server, answered through the second.
	id = decodeTask(t, taskCall(t, url[0], "ada", tasksCaps, "tools/call", `"name":"confirm","arguments":{}`)).TaskID
	w := waitStatus(t, url[1], "ada", id, "input_required")
	var key string
	for k := range w.InputRequests {
		key = k
	}
	if r := taskCall(t, url[1], "ada", tasksCaps, "tasks/update", `"taskId":"`+id+`","inputResponses":{"`+key+`":{"action":"accept","content":{"ok":true}}}`); r.Error != nil {
		t.Fatal(r.Error)
	}
	done := waitStatus(t, url[1], "ada", id, "completed")
	if done.Result == nil || !strings.Contains(done.Result.Content[0].Text, "accept true") {
		t.Fatalf("completed: %+v", done)
	}
}
