package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"remote-mcp-authkit/audit"
	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/tools"
)

// nopResponse is a ResponseWriter that keeps nothing, so that a benchmark
// measures the middleware rather than a recorder.
type nopResponse struct{ h http.Header }

func (w *nopResponse) Header() http.Header         { return w.h }
func (w *nopResponse) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopResponse) WriteHeader(int)             {}

// toolCallHandler does what the layers under observeHTTP do for an
// authenticated tools/call, for the log: the identity, the MCP request and
// the tool call's audit event.
func toolCallHandler(trail *audit.Trail, om *opsMetrics) http.Handler {
	id := &oauth.Identity{Subject: "user_01HXYZABCDEFGHJKMNPQRSTV", OrganizationID: "org_01HXYZABCDEFGHJKMNPQRSTV",
		ClientID: "mcp_client_0123456789abcdef", GrantID: "grant_0123456789abcdef", Email: "ada@example.com"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if rec := recordFrom(ctx); rec != nil {
			rec.mu.Lock()
			rec.user, rec.org, rec.client = id.Subject, id.OrganizationID, id.ClientID
			rec.mu.Unlock()
		}
		auditToolCall(ctx, trail, om, tools.CallInfo{Tool: "add", Identity: id, Outcome: tools.OutcomeOK})
		recordMCP(ctx, mcp.RequestInfo{Method: "tools/call", Era: "legacy", Tool: "add"})
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
	})
}

// What the request and audit lines cost a tools/call in the process:
// "warn" is the metrics-only server (-log-level warn), the others write
// both lines through the batch writer (to a writer that keeps nothing),
// or, "-direct", straight to that writer: the loop outruns any server, so
// the batch writer's bound on waiting bytes makes it wait, and its time
// and CPU per call then count goroutine switches no server pays; the
// direct cases are the cost of making the lines.
func BenchmarkRequestLog(b *testing.B) {
	for _, c := range []struct {
		name   string
		json   bool
		level  slog.Level
		direct bool
	}{{"warn", false, slog.LevelWarn, false}, {"text", false, slog.LevelInfo, false}, {"json", true, slog.LevelInfo, false},
		{"text-direct", false, slog.LevelInfo, true}, {"json-direct", true, slog.LevelInfo, true}} {
		b.Run(c.name, func(b *testing.B) {
			lw := newLogWriter(discard{})
			defer lw.Close()
			var out io.Writer = lw
			if c.direct {
				out = discard{}
			}
			logger := slog.New(newFastHandler(out, c.json, &slog.HandlerOptions{Level: c.level}))
			om := newOpsMetrics()
			h := observeHTTP(om, logger, "", toolCallHandler(audit.New(logger, nil), om))
			req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
			w := &nopResponse{h: http.Header{}}
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
			lw.Flush()
			// The process's CPU time, the batch writer's included: the
			// loop's time per call also counts waiting for that writer
			// when the loop outruns it, which no server does.
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeCalls records each Write as it came: a record per call, or several.
type writeCalls struct {
	mu    sync.Mutex
	calls []string
}

func (w *writeCalls) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.calls = append(w.calls, string(p))
	w.mu.Unlock()
	return len(p), nil
}

func (w *writeCalls) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.calls)
}

// A POST's audit events go out with its request line, in one Write, the
// event first; a GET's (which may be a stream) at once; an event after the
// request ended at once too.
func TestRequestLinesOneWrite(t *testing.T) {
	for _, json := range []bool{false, true} {
		var out writeCalls
		logger := slog.New(newFastHandler(&out, json, &slog.HandlerOptions{}))
		om := newOpsMetrics()
		trail := audit.New(logger, nil)
		var during []string
		var late context.Context
		h := observeHTTP(om, logger, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			toolCallHandler(trail, om).ServeHTTP(w, r)
			during = out.all()
			late = r.Context()
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/mcp", nil))
		calls := out.all()
		if len(during) != 0 || len(calls) != 1 {
			t.Fatalf("json=%v: POST: %d writes during the handler, %d after, want 0 and 1: %q", json, len(during), len(calls), calls)
		}
		lines := strings.SplitAfter(calls[0], "\n")
		if len(lines) != 3 || lines[2] != "" || !strings.Contains(lines[0], "tool.called") || !strings.Contains(lines[1], "request") ||
			!strings.Contains(lines[1], "tools/call") {
			t.Fatalf("json=%v: POST's write is not the audit line then the request line: %q", json, calls[0])
		}
		// After the request: written at once.
		trail.Record(late, audit.Event{Action: audit.ActionToolCalled, Tool: "add", Outcome: "ok"})
		if n := len(out.all()); n != 2 {
			t.Errorf("json=%v: an event after its request ended was not written at once (%d writes)", json, n)
		}

		out.calls = nil
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/mcp", nil))
		if len(during) != 1 || len(out.all()) != 2 {
			t.Errorf("json=%v: GET: %d writes during the handler, %d in all, want 1 and 2", json, len(during), len(out.all()))
		}
	}
}

// Held lines are not lost: a handler that panics still gets its audit
// lines out, and a record logged the standard way with the request's
// context (one the fast path cannot write) goes after them.
func TestRequestHeldLinesKept(t *testing.T) {
	var out writeCalls
	logger := slog.New(newFastHandler(&out, false, &slog.HandlerOptions{}))
	om := newOpsMetrics()
	trail := audit.New(logger, nil)
	h := observeHTTP(om, logger, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trail.Record(r.Context(), audit.Event{Action: audit.ActionToolCalled, Tool: "first", Outcome: "ok"})
		if r.URL.Path == "/panic" {
			panic(http.ErrAbortHandler)
		}
		logger.WarnContext(r.Context(), "needs quoting", "why", "a space")
		trail.Record(r.Context(), audit.Event{Action: audit.ActionToolCalled, Tool: "second", Outcome: "ok"})
	}))
	func() {
		defer func() { recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/panic", nil))
	}()
	if calls := out.all(); len(calls) != 1 || !strings.Contains(calls[0], "tool=first") {
		t.Fatalf("after a panic: %q, want the held audit line", calls)
	}
	out.calls = nil
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/mcp", nil))
	all := strings.Join(out.all(), "")
	first, warn, second, req := strings.Index(all, "tool=first"), strings.Index(all, `why="a space"`),
		strings.Index(all, "tool=second"), strings.Index(all, "msg=request")
	if first < 0 || !(first < warn && warn < second && second < req) {
		t.Fatalf("lines out of order:\n%s", all)
	}
	// A request line that only slog's handler can write (a tool name
	// that needs quoting) still comes after the lines its request held.
	out.calls = nil
	quoted := observeHTTP(om, logger, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trail.Record(r.Context(), audit.Event{Action: audit.ActionToolCalled, Tool: "held", Outcome: "ok"})
		recordMCP(r.Context(), mcp.RequestInfo{Method: "tools/call", Era: "legacy", Tool: `quo"te`})
	}))
	quoted.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/mcp", nil))
	all = strings.Join(out.all(), "")
	held, req := strings.Index(all, "tool=held"), strings.Index(all, `msg=request`)
	if held < 0 || req < held || !strings.Contains(all[req:], `tool="quo\"te"`) {
		t.Fatalf("held line and slog's request line:\n%s", all)
	}
}

// A request holds at most maxHeld bytes: a batch's many events all get
// out, in order, with no more waiting than that.
func TestRequestHeldBounded(t *testing.T) {
	var out writeCalls
	logger := slog.New(newFastHandler(&out, true, &slog.HandlerOptions{}))
	om := newOpsMetrics()
	trail := audit.New(logger, nil)
	const events = 200
	h := observeHTTP(om, logger, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range events {
			trail.Record(r.Context(), audit.Event{Action: audit.ActionToolCalled, Tool: "t" + strconv.Itoa(i), Outcome: "ok"})
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/mcp", nil))
	calls := out.all()
	if len(calls) < 2 {
		t.Fatalf("%d writes for %d events", len(calls), events)
	}
	for _, c := range calls[:len(calls)-1] {
		if len(c) > maxHeld+1024 {
			t.Fatalf("a write of %d bytes: more than maxHeld waited", len(c))
		}
	}
	all := strings.Join(calls, "")
	last := -1
	for i := range events {
		at := strings.Index(all, `"tool":"t`+strconv.Itoa(i)+`"`)
		if at <= last {
			t.Fatalf("event %d missing or out of order", i)
		}
		last = at
	}
	if !strings.HasSuffix(all, "}\n") || !strings.Contains(all[last:], `"msg":"request"`) {
		t.Fatal("the request line is not last")
	}
}

// The request's context is its own but for the record: values and
// cancellation come through.
func TestRequestContext(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	var got any
	var rec *reqRecord
	var child context.Context
	var stop context.CancelFunc
	h := observeHTTP(newOpsMetrics(), slog.New(slog.DiscardHandler), "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, rec = r.Context().Value(key{}), recordFrom(r.Context())
		child, stop = context.WithCancel(r.Context())
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/mcp", nil).WithContext(parent))
	if got != "v" || rec == nil {
		t.Fatalf("value %v, record %v", got, rec)
	}
	defer stop()
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the request's context did not reach a context made from it")
	}
}

// The request line written by hand is what slog's handlers write for
// requestAttrs, for every shape of request, or is left to them.
func TestRequestLineMatchesSlog(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 41, 14, 922_207_001, time.UTC)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	n := 0
	for _, json := range []bool{false, true} {
		for _, mcpMethod := range []string{"", "tools/call", "odd method"} {
			for _, count := range []int{1, 3} {
				for _, code := range []int{0, -32601} {
					for _, tool := range []string{"", "add", `quo"te`} {
						for _, user := range []string{"", "user_01H"} {
							for _, org := range []string{"", "org_1"} {
								for _, client := range []string{"", "mcp_client_1"} {
									for _, trace := range []string{"", tp} {
										for _, d := range []time.Duration{0, 999, 1500 * time.Microsecond, 2 * time.Hour} {
											rec := &reqRecord{mcpMethod: mcpMethod, mcpEra: "legacy", mcpCount: count, mcpError: code, tool: tool,
												user: user, org: org, client: client, traceparent: trace}
											var want bytes.Buffer
											opts := &slog.HandlerOptions{}
											var std slog.Handler = slog.NewTextHandler(&want, opts)
											if json {
												std = slog.NewJSONHandler(&want, opts)
											}
											var buf [14]slog.Attr
											r := slog.NewRecord(at, slog.LevelInfo, "request", 0)
											r.AddAttrs(requestAttrs(buf[:0], rec, "/mcp", "POST", 404, d)...)
											std.Handle(context.Background(), r)
											fh := newFastHandler(io.Discard, json, opts)
											got, ok := fh.appendRequestLine(nil, at, rec, "/mcp", "POST", 404, d)
											plain := !strings.Contains(mcpMethod+tool, " ") && !strings.Contains(tool, `"`)
											if ok != plain || ok && string(got) != want.String() {
												t.Fatalf("json=%v ok=%v:\nfast %s\nslog %s", json, ok, got, want.String())
											}
											n++
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d lines compared", n)
	// The line writes route labels and valid traceparents unchecked.
	for _, r := range append(slices.Clone(routes), "other", emulatorPrefix, "/.well-known/oauth-protected-resource",
		"/.well-known/oauth-authorization-server") {
		if !plainText(r) {
			t.Errorf("route label %q is not plain text", r)
		}
	}
	if !validTraceparent(tp) || !plainText(tp) {
		t.Error("a valid traceparent is not plain text")
	}
}

// A POST answered with a stream (SSE) holds its lines only until the
// stream starts: they must not wait for a stream's end.
func TestRequestStreamReleasesHeld(t *testing.T) {
	var out writeCalls
	logger := slog.New(newFastHandler(&out, false, &slog.HandlerOptions{}))
	om := newOpsMetrics()
	trail := audit.New(logger, nil)
	var afterFlush, afterLater []string
	h := observeHTTP(om, logger, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trail.Record(r.Context(), audit.Event{Action: audit.ActionToolCalled, Tool: "before", Outcome: "ok"})
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("data: {}\n\n"))
		http.NewResponseController(w).Flush()
		afterFlush = out.all()
		trail.Record(r.Context(), audit.Event{Action: audit.ActionToolCalled, Tool: "later", Outcome: "ok"})
		afterLater = out.all()
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/mcp", nil))
	if len(afterFlush) != 1 || !strings.Contains(afterFlush[0], "tool=before") || len(afterLater) != 2 {
		t.Fatalf("held lines not written when the stream started: %q, then %q", afterFlush, afterLater)
	}
	if calls := out.all(); len(calls) != 3 || !strings.Contains(calls[2], "msg=request") {
		t.Fatalf("writes %q", calls)
	}
}
