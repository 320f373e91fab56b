package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pollTools runs one tool, "poll", whose body the test supplies.
type pollTools struct {
	body func(ctx context.Context) (*CallToolResult, error)
}

func (p *pollTools) ListTools(context.Context) []Tool {
	return []Tool{{Name: "poll", InputSchema: objSchema}}
}

func (p *pollTools) CallTool(ctx context.Context, _ string, _ json.RawMessage) (*CallToolResult, error) {
	return p.body(ctx)
}

func note(ctx context.Context, n int) error {
	return SessionFromContext(ctx).Notify(ctx, "notifications/message",
		map[string]any{"level": "info", "data": n})
}

// startPoll initializes a session and POSTs tools/call "poll"; the answer
// is returned unread.
func startPoll(t *testing.T, opts HTTPOptions, version string, body func(ctx context.Context) (*CallToolResult, error)) (*httpClient, *http.Response, *Server) {
	t.Helper()
	s, ts := newTestServer(t, &pollTools{body: body}, opts)
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize(version)
	resp := c.do(http.MethodPost, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"poll","arguments":{}}}`, nil)
	t.Cleanup(func() { resp.Body.Close() })
	return c, resp, s
}

// resume is the client's reconnection: GET with Last-Event-ID.
func resume(t *testing.T, c *httpClient, lastID string) *http.Response {
	t.Helper()
	resp := c.do(http.MethodGet, "", func(r *http.Request) { r.Header.Set("Last-Event-ID", lastID) })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resume GET: status %d", resp.StatusCode)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func dataOf(evs []clientEvent) []string {
	var out []string
	for _, ev := range evs {
		if ev.Data != "" {
			out = append(out, ev.Data)
		}
	}
	return out
}

// The spec's polling flow end to end: the handler sends a message, closes
// its connection, sends another while the client is away, and finishes
// after the client has reconnected; the client sees the priming event and
// the first message on the POST, then the missed message replayed and the
// result live on the GET.
func TestCloseSSEStreamResumes(t *testing.T) {
	closed := make(chan error, 1)
	finish := make(chan struct{})
	c, post, _ := startPoll(t, HTTPOptions{Polling: true}, "2025-11-25", func(ctx context.Context) (*CallToolResult, error) {
		if err := note(ctx, 1); err != nil {
			return nil, err
		}
		err := CloseSSEStream(ctx)
		closed <- err
		if err != nil {
			return nil, err
		}
		if err := note(ctx, 2); err != nil { // kept for the resumption
			return nil, err
		}
		select {
		case <-finish:
		case <-ctx.Done():
			return nil, ctx.Err() // a closed connection must not cancel the request
		}
		return &CallToolResult{Content: []Content{TextContent("done")}}, nil
	})
	if err := <-closed; err != nil {
		t.Fatalf("CloseSSEStream: %v", err)
	}
	if ct := post.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("POST answer is %q, want an event stream", ct)
	}
	evs := readEvents(post.Body, nil) // to EOF: the server ended the response
	if len(evs) != 2 {
		t.Fatalf("POST stream carried %+v, want the priming event and one message", evs)
	}
	if evs[0].ID == "" || evs[0].Data != "" || evs[0].Retry == "" {
		t.Fatalf("first event %+v is not a priming event with id and retry", evs[0])
	}
	if evs[1].ID == "" || !strings.Contains(evs[1].Data, `"data":1`) {
		t.Fatalf("second event %+v, want message 1 with an id", evs[1])
	}

	get := resume(t, c, evs[1].ID)
	replayed := readEvents(get.Body, func(ev clientEvent) bool { return strings.Contains(ev.Data, `"data":2`) })
	if d := dataOf(replayed); len(d) != 1 {
		t.Fatalf("resumed stream began with %v, want message 2 only", d)
	}
	close(finish)
	rest := readEvents(get.Body, nil) // the stream ends after the response
	d := dataOf(rest)
	if len(d) != 1 || !strings.Contains(d[0], `"id":7`) || !strings.Contains(d[0], `"text":"done"`) {
		t.Fatalf("resumed stream then carried %v, want the response to id 7", d)
	}
	if rest[0].ID == "" {
		t.Fatal("the response on the resumed stream has no event id")
	}
}

// A handler that closes before sending anything still gives the client an
// id to resume from (the priming event); a resumption after the request
// has finished replays the response.
func TestCloseSSEStreamBeforeAnyMessage(t *testing.T) {
	c, post, _ := startPoll(t, HTTPOptions{Polling: true}, "2025-11-25", func(ctx context.Context) (*CallToolResult, error) {
		if err := CloseSSEStream(ctx); err != nil {
			return nil, err
		}
		return &CallToolResult{Content: []Content{TextContent("late")}}, nil
	})
	evs := readEvents(post.Body, nil)
	if len(evs) != 1 || evs[0].ID == "" || evs[0].Data != "" {
		t.Fatalf("POST stream carried %+v, want only the priming event", evs)
	}
	d := dataOf(readEvents(resume(t, c, evs[0].ID).Body, nil))
	if len(d) != 1 || !strings.Contains(d[0], `"text":"late"`) {
		t.Fatalf("resumed stream carried %v, want the response", d)
	}
}

// Closing again closes the resumed connection the same way, and a second
// resumption picks up from the last event the client saw.
func TestCloseSSEStreamTwice(t *testing.T) {
	step := make(chan struct{})
	c, post, _ := startPoll(t, HTTPOptions{Polling: true}, "2025-11-25", func(ctx context.Context) (*CallToolResult, error) {
		for i := 1; i <= 2; i++ {
			if err := note(ctx, i); err != nil {
				return nil, err
			}
			if err := CloseSSEStream(ctx); err != nil {
				return nil, err
			}
			<-step
		}
		return &CallToolResult{Content: []Content{TextContent("third")}}, nil
	})
	evs := readEvents(post.Body, nil)
	last := evs[len(evs)-1].ID
	if d := dataOf(evs); len(d) != 1 || !strings.Contains(d[0], `"data":1`) {
		t.Fatalf("POST carried %v", d)
	}
	get := resume(t, c, last)
	step <- struct{}{}
	evs = readEvents(get.Body, nil) // ends when the handler closes it again
	if d := dataOf(evs); len(d) != 1 || !strings.Contains(d[0], `"data":2`) {
		t.Fatalf("first resumption carried %v, want message 2", d)
	}
	get2 := resume(t, c, evs[len(evs)-1].ID)
	step <- struct{}{}
	if d := dataOf(readEvents(get2.Body, nil)); len(d) != 1 || !strings.Contains(d[0], `"text":"third"`) {
		t.Fatalf("second resumption carried %v, want the response only", d)
	}
}

// Where the client cannot resume, or polling is off, CloseSSEStream
// refuses and the request is answered as usual.
func TestCloseSSEStreamRefused(t *testing.T) {
	cases := []struct {
		name    string
		opts    HTTPOptions
		version string
	}{
		{"polling off", HTTPOptions{}, "2025-11-25"},
		{"session before 2025-11-25", HTTPOptions{Polling: true}, "2025-06-18"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan error, 1)
			_, post, _ := startPoll(t, tc.opts, tc.version, func(ctx context.Context) (*CallToolResult, error) {
				got <- CloseSSEStream(ctx)
				return &CallToolResult{Content: []Content{TextContent("inline")}}, nil
			})
			if err := <-got; !errors.Is(err, ErrStreamNotClosable) {
				t.Fatalf("CloseSSEStream = %v, want ErrStreamNotClosable", err)
			}
			msgs := decodeAnswer(t, post)
			if len(msgs) != 1 || !strings.Contains(string(msgs[0].Result), `"inline"`) {
				t.Fatalf("answer %+v", msgs)
			}
		})
	}
	// The HTTP+SSE transport has one stream per session, which is not the
	// request's to close.
	t.Run("HTTP+SSE", func(t *testing.T) {
		got := make(chan error, 1)
		_, ts := newTestServer(t, &pollTools{body: func(ctx context.Context) (*CallToolResult, error) {
			got <- CloseSSEStream(ctx)
			return &CallToolResult{Content: []Content{TextContent("legacy")}}, nil
		}}, HTTPOptions{Polling: true})
		c := openLegacy(t, ts.URL, "/sse", nil)
		c.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"old","version":"1"}}}`, "1")
		c.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil).Body.Close()
		msgs := c.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"poll","arguments":{}}}`, "2")
		if err := <-got; !errors.Is(err, ErrStreamNotClosable) {
			t.Fatalf("CloseSSEStream = %v, want ErrStreamNotClosable", err)
		}
		if !strings.Contains(string(msgs[len(msgs)-1].Result), `"legacy"`) {
			t.Fatalf("answer %+v", msgs)
		}
	})
	if err := CloseSSEStream(context.Background()); !errors.Is(err, ErrNoSession) {
		t.Fatalf("outside a handler: %v", err)
	}
}

// After the result has been sent it is too late to close: the call fails
// and nothing else happens.
func TestCloseSSEStreamAfterFinish(t *testing.T) {
	ctxc := make(chan context.Context, 1)
	_, post, _ := startPoll(t, HTTPOptions{Polling: true}, "2025-11-25", func(ctx context.Context) (*CallToolResult, error) {
		ctxc <- ctx
		return &CallToolResult{Content: []Content{TextContent("quick")}}, nil
	})
	msgs := decodeAnswer(t, post)
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Result), `"quick"`) {
		t.Fatalf("answer %+v", msgs)
	}
	if err := CloseSSEStream(<-ctxc); !errors.Is(err, ErrStreamNotClosable) {
		t.Fatalf("CloseSSEStream after the response = %v", err)
	}
}

// Shutdown ends a request whose connection was closed: its context is
// cancelled, and Shutdown waits for it.
func TestShutdownEndsDetachedRequest(t *testing.T) {
	ended := make(chan struct{})
	_, post, s := startPoll(t, HTTPOptions{Polling: true}, "2025-11-25", func(ctx context.Context) (*CallToolResult, error) {
		defer close(ended)
		if err := CloseSSEStream(ctx); err != nil {
			return nil, err
		}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	readEvents(post.Body, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-ended:
	default:
		t.Fatal("Shutdown returned before the detached request ended")
	}
}

// A request cancelled while its connection is closed sends no response
// (cancellation); the resumed stream just ends.
func TestCloseSSEStreamThenCancelled(t *testing.T) {
	c, post, _ := startPoll(t, HTTPOptions{Polling: true}, "2025-11-25", func(ctx context.Context) (*CallToolResult, error) {
		if err := CloseSSEStream(ctx); err != nil {
			return nil, err
		}
		<-ctx.Done()
		return &CallToolResult{Content: []Content{TextContent("too late")}}, nil
	})
	evs := readEvents(post.Body, nil)
	get := resume(t, c, evs[len(evs)-1].ID)
	n := c.do(http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}`, nil)
	n.Body.Close()
	if n.StatusCode != http.StatusAccepted {
		t.Fatalf("cancel: %d", n.StatusCode)
	}
	if d := dataOf(readEvents(get.Body, nil)); len(d) != 0 {
		t.Fatalf("resumed stream of a cancelled request carried %v", d)
	}
}

type panicMarshaler struct{}

func (panicMarshaler) MarshalJSON() ([]byte, error) { panic("broken encoder") }

// A request that runs apart from its handler and panics past the method
// layer's recovery (while its result is encoded) is answered -32603, and
// the server lives on.
func TestPollingRequestPanicIsAnswered(t *testing.T) {
	c, post, _ := startPoll(t, HTTPOptions{Polling: true}, "2025-11-25", func(ctx context.Context) (*CallToolResult, error) {
		return &CallToolResult{Content: []Content{}, StructuredContent: panicMarshaler{}}, nil
	})
	msgs := decodeAnswer(t, post)
	if len(msgs) != 1 || msgs[0].Error == nil || msgs[0].Error.Code != CodeInternalError {
		t.Fatalf("answer %+v, want -32603", msgs)
	}
	if _, msgs := c.call("ping", nil); len(msgs) != 1 || msgs[0].Error != nil {
		t.Fatalf("ping after the panic: %+v", msgs)
	}
}
