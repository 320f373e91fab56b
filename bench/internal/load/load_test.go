package load

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosdk "github.com/modelcontextprotocol/go-sdk/mcp"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	mcpgoserver "github.com/mark3labs/mcp-go/server"
)

func TestReadEvent(t *testing.T) {
	cases := []struct {
		name   string
		stream string
		want   []event
		end    error
	}{
		{"one message", "event: message\ndata: {}\n\n", []event{{"message", []byte("{}")}}, io.EOF},
		{"crlf, comments, id, multi-line data", ": ping\r\nid: 7\r\ndata: a\r\ndata: b\r\n\r\n", []event{{"", []byte("a\nb")}}, io.EOF},
		{"empty events skipped", "event: x\n\n\ndata:z\n\n", []event{{"", []byte("z")}}, io.EOF},
		{"endpoint then message", "event: endpoint\ndata: /m?s=1\n\nevent: message\ndata: 1\n\n",
			[]event{{"endpoint", []byte("/m?s=1")}, {"message", []byte("1")}}, io.EOF},
		{"torn event", "data: {\"a\"", nil, io.ErrUnexpectedEOF},
		{"long line", "data: " + strings.Repeat("x", 10000) + "\n\n", []event{{"", []byte(strings.Repeat("x", 10000))}}, io.EOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(c.stream), 16)
			for i, w := range c.want {
				ev, err := readEvent(br)
				if err != nil || ev.Name != w.Name || string(ev.Data) != string(w.Data) {
					t.Fatalf("event %d = %q %q, %v; want %q %q", i, ev.Name, ev.Data, err, w.Name, w.Data)
				}
			}
			if _, err := readEvent(br); err != c.end {
				t.Fatalf("end: %v, want %v", err, c.end)
			}
		})
	}
}

func TestSumMatches(t *testing.T) {
	cases := []struct {
		text string
		want int64
		ok   bool
	}{
		{"5", 5, true}, {" 5\n", 5, true}, {"2 + 3 = 5", 5, true}, {"2+3=5.", 5, true}, {"5.0", 5, true},
		{"The sum is 5", 5, true}, {"6", 5, false}, {"5 is the sum", 5, false}, {"", 0, false}, {"15", 5, false},
	}
	for _, c := range cases {
		if got := SumMatches(c.text, c.want); got != c.ok {
			t.Errorf("SumMatches(%q, %d) = %v, want %v", c.text, c.want, got, c.ok)
		}
	}
}

func TestSummarize(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	got := Summarize(lat)
	want := Latency{P50: 50, P90: 90, P99: 99, Max: 100, Mean: 50.5}
	if got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	if (Summarize(nil) != Latency{}) {
		t.Error("Summarize(nil) is not zero")
	}
}

// servers returns real MCP servers from the two SDKs, with an add tool that
// is off by one when wrong is set.
func servers(wrong bool) map[string]http.Handler {
	off := 0.0
	if wrong {
		off = 1
	}
	type args struct {
		A float64 `json:"a"`
		B float64 `json:"b"`
	}
	gs := gosdk.NewServer(&gosdk.Implementation{Name: "t", Version: "1"}, nil)
	gosdk.AddTool(gs, &gosdk.Tool{Name: "add"}, func(ctx context.Context, _ *gosdk.CallToolRequest, in args) (*gosdk.CallToolResult, any, error) {
		return &gosdk.CallToolResult{Content: []gosdk.Content{&gosdk.TextContent{Text: strconv.FormatFloat(in.A+in.B+off, 'f', -1, 64)}}}, nil, nil
	})
	get := func(*http.Request) *gosdk.Server { return gs }
	ms := mcpgoserver.NewMCPServer("t", "1")
	ms.AddTool(mcpgo.NewTool("add", mcpgo.WithNumber("a"), mcpgo.WithNumber("b")),
		func(ctx context.Context, r mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
			return mcpgo.NewToolResultText(strconv.FormatFloat(r.GetFloat("a", 0)+r.GetFloat("b", 0)+off, 'f', -1, 64)), nil
		})
	return map[string]http.Handler{
		"gosdk-streamable": gosdk.NewStreamableHTTPHandler(get, nil),
		"gosdk-json":       gosdk.NewStreamableHTTPHandler(get, &gosdk.StreamableHTTPOptions{JSONResponse: true}),
		"gosdk-sse":        gosdk.NewSSEHandler(get, nil),
		"mcpgo-streamable": mcpgoserver.NewStreamableHTTPServer(ms),
	}
}

func TestRunAgainstSDKs(t *testing.T) {
	for name, h := range servers(false) {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			transport := "streamable"
			if strings.HasSuffix(name, "-sse") {
				transport = "sse"
			}
			rep := Run(context.Background(), Config{
				Target:   Target{URL: srv.URL, Transport: transport, ProtocolVersion: "2025-06-18", Timeout: 5 * time.Second},
				Sessions: 2, Concurrency: 4, Duration: 200 * time.Millisecond, Idle: 3, IdleDelete: true,
			})
			if rep.OK == 0 || len(rep.Errors) != 0 || len(rep.SetupErrors) != 0 {
				t.Fatalf("ok %d, errors %v, setup errors %v, first %v", rep.OK, rep.Errors, rep.SetupErrors, rep.FirstError)
			}
			if rep.Sessions != 2 || rep.IdleOpen != 3 {
				t.Errorf("sessions %d, idle %d; want 2, 3", rep.Sessions, rep.IdleOpen)
			}
			if rep.Requests != rep.OK || rep.Latency.P50 <= 0 || rep.Latency.Max < rep.Latency.P99 {
				t.Errorf("inconsistent report: %+v", rep)
			}
		})
	}
}

func TestRunCountsWrongSums(t *testing.T) {
	srv := httptest.NewServer(servers(true)["mcpgo-streamable"])
	defer srv.Close()
	rep := Run(context.Background(), Config{
		Target:      Target{URL: srv.URL, ProtocolVersion: "2025-06-18", Timeout: 5 * time.Second},
		Concurrency: 2, Duration: 100 * time.Millisecond,
	})
	if rep.OK != 0 || rep.Errors["bad_result"] == 0 || rep.Errors["bad_result"] != rep.Requests {
		t.Fatalf("off-by-one server: ok %d, errors %v of %d requests", rep.OK, rep.Errors, rep.Requests)
	}
}

func TestRunUnauthorized(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="x"`)
		http.Error(w, "no token", http.StatusUnauthorized)
	}))
	defer srv.Close()
	rep := Run(context.Background(), Config{
		Target:      Target{URL: srv.URL, ProtocolVersion: "2025-06-18", Timeout: time.Second},
		Concurrency: 2, Duration: 50 * time.Millisecond,
	})
	if rep.Sessions != 0 || rep.SetupErrors["http_401"] != 2 {
		t.Fatalf("sessions %d, setup errors %v", rep.Sessions, rep.SetupErrors)
	}
}

func TestRunSpreadsTokens(t *testing.T) {
	var mu sync.Mutex
	inits := map[string]int{}
	h := servers(false)["gosdk-json"]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Mcp-Session-Id") == "" {
			mu.Lock()
			inits[r.Header.Get("Authorization")]++
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	rep := Run(context.Background(), Config{
		Target:   Target{URL: srv.URL, ProtocolVersion: "2025-06-18", Timeout: 5 * time.Second},
		Tokens:   []string{"a", "b", "c"},
		Sessions: 6, Concurrency: 2, Duration: 50 * time.Millisecond, Idle: 6,
	})
	if rep.Sessions != 6 || rep.IdleOpen != 6 {
		t.Fatalf("sessions %d, idle %d, errors %v", rep.Sessions, rep.IdleOpen, rep.SetupErrors)
	}
	want := map[string]int{"Bearer a": 4, "Bearer b": 4, "Bearer c": 4}
	if !reflect.DeepEqual(inits, want) {
		t.Errorf("initializations by token %v, want %v", inits, want)
	}
}

// TestRunOpenLoop: with a rate, the calls follow the schedule whatever the
// server's pace, and a slow server is charged for the calls it held back:
// a worker due every 10 ms against a server that takes 30 ms falls further
// behind with each call, and its latencies, counted from when each call was
// due, grow well past one call's 30 ms (a closed loop would report 30 ms).
func TestRunOpenLoop(t *testing.T) {
	fast := httptest.NewServer(servers(false)["gosdk-json"])
	defer fast.Close()
	rep := Run(context.Background(), Config{
		Target:      Target{URL: fast.URL, ProtocolVersion: "2025-06-18", Timeout: 5 * time.Second},
		Concurrency: 4, Duration: 500 * time.Millisecond, Rate: 200,
	})
	if len(rep.Errors) != 0 || rep.OK < 90 || rep.OK > 104 {
		t.Fatalf("rate 200/s for 0.5 s: %d calls answered, errors %v (want about 100)", rep.OK, rep.Errors)
	}

	h := servers(false)["gosdk-json"]
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Mcp-Session-Id") != "" {
			time.Sleep(30 * time.Millisecond)
		}
		h.ServeHTTP(w, r)
	}))
	defer slow.Close()
	rep = Run(context.Background(), Config{
		Target:      Target{URL: slow.URL, ProtocolVersion: "2025-06-18", Timeout: 5 * time.Second},
		Concurrency: 1, Duration: 400 * time.Millisecond, Rate: 100,
	})
	if len(rep.Errors) != 0 || rep.OK == 0 {
		t.Fatalf("slow server: %d answered, errors %v", rep.OK, rep.Errors)
	}
	if rep.Latency.Max < 100 {
		t.Fatalf("slow server: max latency %.1f ms; a call due every 10 ms taking 30 ms should fall far behind", rep.Latency.Max)
	}
}
