package mcp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Observe hears each answered request once, with its method, era, tool and
// error code, under the request's context; Stats counts sessions, streams
// and listeners.
func TestObserveAndStats(t *testing.T) {
	type ctxKey struct{}
	var mu sync.Mutex
	var got []RequestInfo
	var tagged int
	s := NewServer(ServerOptions{Info: Implementation{Name: "t", Version: "1"}, Tools: newTestTools(), Logger: quietLogger(),
		Observe: func(ctx context.Context, r RequestInfo) {
			mu.Lock()
			got = append(got, r)
			if ctx.Value(ctxKey{}) == "tag" {
				tagged++
			}
			mu.Unlock()
		}})
	h := s.StreamableHTTPHandler(HTTPOptions{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "tag")))
	}))
	defer ts.Close()
	defer s.Shutdown(context.Background())

	c := newHTTPClient(t, ts.URL)
	c.initialize("2025-11-25")
	c.result("tools/call", map[string]any{"name": "echo", "arguments": map[string]any{"text": "hi"}})
	c.rpcError("no/such/method", nil)
	c.rpcError("tools/call", map[string]any{"name": "nope", "arguments": map[string]any{}})

	mu.Lock()
	var lines []string
	for _, r := range got {
		lines = append(lines, r.Method+"|"+r.Era+"|"+r.Tool+"|"+strconv.Itoa(r.ErrorCode))
	}
	n := tagged
	mu.Unlock()
	want := "initialize|legacy||0 tools/call|legacy|echo|0 no/such/method|legacy||-32601 tools/call|legacy|nope|-32602"
	if strings.Join(lines, " ") != want {
		t.Fatalf("observed %s\nwant     %s", strings.Join(lines, " "), want)
	}
	if n != 4 {
		t.Fatalf("%d of 4 observations carried the request's context", n)
	}

	if st := s.Stats(); st.Sessions != 1 || st.Streams != 0 || st.Listeners != 0 {
		t.Fatalf("before the GET stream: %+v", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", c.sid)
	req.Header.Set("MCP-Protocol-Version", c.version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET stream: %v %v", err, resp)
	}
	waitFor(t, "the GET stream counted", func() bool { st := s.Stats(); return st.Streams == 1 && st.Listeners == 1 })
	cancel()
	resp.Body.Close()
	waitFor(t, "the GET stream gone", func() bool { st := s.Stats(); return st.Streams == 0 && st.Listeners == 0 })
}

// A 2026-07-28 request is observed too, in the modern era, with the
// traceparent its _meta carries.
func TestObserveModern(t *testing.T) {
	var mu sync.Mutex
	var got []RequestInfo
	s := NewServer(ServerOptions{Info: Implementation{Name: "t", Version: "1"}, Tools: newTestTools(), Logger: quietLogger(),
		Observe: func(ctx context.Context, r RequestInfo) {
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
		}})
	ts := httptest.NewServer(s.StreamableHTTPHandler(HTTPOptions{}))
	defer ts.Close()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	meta := strings.Replace(modernMeta, "{", `{"traceparent":"`+tp+`",`, 1)
	resp, msgs := modernPost(t, ts.URL, 3, "tools/call", `{"_meta":`+meta+`,"name":"echo","arguments":{"text":"hi"}}`, nil)
	if resp.StatusCode != 200 || len(msgs) != 1 || msgs[0].Error != nil {
		t.Fatalf("modern tools/call: %d %+v", resp.StatusCode, msgs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Method != "tools/call" || got[0].Era != "modern" || got[0].Tool != "echo" || got[0].TraceParent != tp || got[0].ErrorCode != 0 {
		t.Fatalf("observed %+v", got)
	}
}
