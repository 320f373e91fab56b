package mcp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"remote-mcp-authkit/events"
)

// announceTools has one tool, "announce", which logs its text argument to
// its session outside the request (Session.Log with a context of its
// own): a message for the session's GET stream, not for the POST.
type announceTools struct{}

func (announceTools) ListTools(context.Context) []Tool {
	return []Tool{{Name: "announce", InputSchema: objSchema}}
}

func (announceTools) CallTool(ctx context.Context, name string, args json.RawMessage) (*CallToolResult, error) {
	var a struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(args, &a)
	if err := SessionFromContext(ctx).Log(context.Background(), LevelInfo, "announce", a.Text); err != nil {
		return nil, err
	}
	return &CallToolResult{Content: []Content{TextContent("announced")}}, nil
}

// TestNotificationForStreamOnAnotherServer: a message a handler on one
// server sends to a shared session's GET stream, connected to another
// server, arrives there through the relay; a notification every server
// sends on its own (tools/list_changed for a shared cause) arrives once.
func TestNotificationForStreamOnAnotherServer(t *testing.T) {
	dir := &mapDirectory{records: map[string][]byte{}}
	bus := events.NewLocal()
	opts := HTTPOptions{SessionOwner: func(r *http.Request) string { return r.Header.Get("X-Owner") }, Sessions: dir,
		Relay: eventsRelay{bus, events.StreamMessage}}
	var servers []*Server
	var urls []string
	for range 2 {
		s, ts := newTestServer(t, announceTools{}, opts)
		t.Cleanup(bus.Subscribe(func(e events.Event) {
			if e.Kind == events.StreamMessage {
				s.DeliverRelayed(e.Key, e.Data)
			}
		}))
		servers, urls = append(servers, s), append(urls, ts.URL+"/mcp")
	}
	a := newHTTPClient(t, urls[0])
	a.header.Set("X-Owner", "ada")
	a.initialize("2025-11-25")
	get := a.do(http.MethodGet, "", nil)
	defer get.Body.Close()
	if get.StatusCode != http.StatusOK {
		t.Fatalf("GET: %d", get.StatusCode)
	}
	msgs := make(chan rpcReply, 16)
	go func() {
		readEvents(get.Body, func(ev clientEvent) bool {
			var m rpcReply
			if json.Unmarshal([]byte(ev.Data), &m) == nil {
				msgs <- m
			}
			return false
		})
		close(msgs)
	}()
	waitFor(t, "the GET stream connected", func() bool { return servers[0].session(a.sid).standalone.connected() })

	b := newHTTPClient(t, urls[1])
	b.header.Set("X-Owner", "ada")
	b.sid, b.version = a.sid, a.version
	announce := func(text string) {
		t.Helper()
		if res := b.result("tools/call", map[string]any{"name": "announce", "arguments": map[string]any{"text": text}}); !strings.Contains(string(res), "announced") {
			t.Fatalf("announce: %s", res)
		}
	}
	next := func() rpcReply {
		t.Helper()
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("the GET stream ended")
			}
			return m
		case <-time.After(5 * time.Second):
			t.Fatal("nothing on the GET stream")
		}
		return rpcReply{}
	}
	announce("from b")
	if m := next(); m.Method != "notifications/message" || !strings.Contains(string(m.Params), `"data":"from b"`) {
		t.Fatalf("on the GET stream: %s %s", m.Method, m.Params)
	}
	// A permission change reaches every server, and each tells the
	// sessions it holds (b holds an adopted copy): one list_changed.
	for _, s := range servers {
		s.NotifyToolListChanged("ada")
	}
	announce("after")
	var changed int
	for {
		m := next()
		if m.Method == "notifications/tools/list_changed" {
			changed++
			continue
		}
		if strings.Contains(string(m.Params), `"data":"after"`) {
			break
		}
	}
	if changed != 1 {
		t.Fatalf("%d tools/list_changed on the stream, want 1", changed)
	}
}

// TestResourceUpdatedReachesListenerOnAnotherServer: with
// ServerOptions.Relay, a resource change announced on one server reaches a
// subscriptions/listen stream held by another, once.
func TestResourceUpdatedReachesListenerOnAnotherServer(t *testing.T) {
	bus := events.NewLocal()
	var servers []*Server
	var listening *httptest.Server
	for i := range 2 {
		s := NewServer(ServerOptions{Info: Implementation{Name: "test-server", Title: "Test", Version: "0.1"}, Tools: newTestTools(), Logger: quietLogger(),
			Relay: eventsRelay{bus, events.StreamMessage}})
		s.AddResource(Resource{URI: "test://a", Name: "a"}, staticText("a"))
		t.Cleanup(bus.Subscribe(func(e events.Event) {
			if e.Kind == events.StreamMessage {
				s.DeliverRelayed(e.Key, e.Data)
			}
		}))
		ts := httptest.NewServer(s.StreamableHTTPHandler(HTTPOptions{}))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Shutdown(ctx)
			ts.Close()
		})
		servers = append(servers, s)
		if i == 0 {
			listening = ts
		}
	}
	c, br := openListener(t, listening, 7, `{"resourceSubscriptions":["test://a"]}`, nil)
	defer c.Close()
	servers[1].NotifyResourceUpdated("test://a")
	want := `{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":7},"uri":"test://a"}}`
	if d := nextData(t, c, br); d != want {
		t.Fatalf("got %s", d)
	}
	// Announced on the listener's own server: once, not once per relay.
	servers[0].NotifyResourceUpdated("test://a")
	servers[1].NotifyToolListChanged("nobody") // nothing for this listener
	servers[0].NotifyResourceUpdated("test://a")
	for range 2 {
		if d := nextData(t, c, br); d != want {
			t.Fatalf("got %s", d)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			break // the deadline: nothing more
		}
		if strings.HasPrefix(l, "data: ") {
			t.Fatalf("a third notification: %s", l)
		}
	}
}
