package mcp

// The fast paths of a modern (2026-07-28) request held to the general ones
// they replace: the one walk that reads body, params and _meta against
// decodeBody then readParams; the task decision taken from the one tool
// lookup against TaskSupport; the answer encoded into a pooled buffer
// against a fresh one.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// diffTools is a ToolSet with every kind of tool a modern tools/call
// treats differently: plain, with x-mcp-header parameters, listed with
// optional or required task support, listed optional but narrowed to
// synchronous by TaskSupport (its handler decides, as the conformance
// fixture's test_tool_with_task), and one only the caller "admin" sees.
type diffTools struct {
	taskSupportAsked atomic.Int64
	lookupSawRequest atomic.Int64 // LookupTool calls whose ctx was the modern request's
}

var diffToolList = []Tool{
	{Name: "add", InputSchema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}}}`)},
	{Name: "sql", InputSchema: json.RawMessage(`{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},"limit":{"type":"integer","x-mcp-header":"Limit"},"query":{"type":"string"}}}`)},
	{Name: "job", InputSchema: objSchema, Execution: &ToolExecution{TaskSupport: TaskOptional}},
	{Name: "must", InputSchema: objSchema, Execution: &ToolExecution{TaskSupport: TaskRequired}},
	{Name: "decides", InputSchema: objSchema, Execution: &ToolExecution{TaskSupport: TaskOptional}},
	{Name: "forbidden", InputSchema: objSchema, Execution: &ToolExecution{TaskSupport: TaskForbidden}},
	{Name: "secret", InputSchema: objSchema, Execution: &ToolExecution{TaskSupport: TaskOptional}},
}

func diffCaller(ctx context.Context) string { c, _ := ctx.Value(callerKey{}).(string); return c }

func (d *diffTools) visible(ctx context.Context, name string) (Tool, bool) {
	for _, t := range diffToolList {
		if t.Name == name && (name != "secret" || diffCaller(ctx) == "admin") {
			return t, true
		}
	}
	return Tool{}, false
}

func (d *diffTools) ListTools(ctx context.Context) []Tool {
	var out []Tool
	for _, t := range diffToolList {
		if _, ok := d.visible(ctx, t.Name); ok {
			out = append(out, t)
		}
	}
	return out
}

func (d *diffTools) LookupTool(ctx context.Context, name string) (Tool, bool) {
	if RequestMetaFromContext(ctx) != nil {
		d.lookupSawRequest.Add(1)
	}
	return d.visible(ctx, name)
}

// TaskSupport honours the contract: what the listing says, narrowed for
// "decides", TaskForbidden for what the caller cannot see.
func (d *diffTools) TaskSupport(ctx context.Context, name string) string {
	d.taskSupportAsked.Add(1)
	t, ok := d.visible(ctx, name)
	if !ok || name == "decides" || t.Execution == nil {
		return TaskForbidden
	}
	return t.Execution.TaskSupport
}

func (d *diffTools) CallTool(ctx context.Context, name string, args json.RawMessage) (*CallToolResult, error) {
	if _, ok := d.visible(ctx, name); !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownTool, name)
	}
	return &CallToolResult{Content: []Content{TextContent(name + " " + string(args))}}, nil
}

// listOnly is diffTools without LookupTool, so that a modern call's
// header check finds its tool by listing them.
type listOnly struct{ d *diffTools }

func (l listOnly) ListTools(ctx context.Context) []Tool { return l.d.ListTools(ctx) }
func (l listOnly) CallTool(ctx context.Context, name string, args json.RawMessage) (*CallToolResult, error) {
	return l.d.CallTool(ctx, name, args)
}
func (l listOnly) TaskSupport(ctx context.Context, name string) string {
	return l.d.TaskSupport(ctx, name)
}

// newDiffHandler is a Streamable HTTP handler over tools with the tasks
// extension on, the caller taken from the X-Caller header.
func newDiffHandler(t *testing.T, tools ToolSet) *streamableHandler {
	t.Helper()
	s := NewServer(ServerOptions{Info: Implementation{Name: "diff", Version: "1"}, Tools: tools, Tasks: &TaskOptions{}, Logger: quietLogger()})
	s.AddExtension(TasksExtension, struct{}{})
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s.StreamableHTTPHandler(HTTPOptions{}).(*streamableHandler)
}

func withCaller(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), callerKey{}, r.Header.Get("X-Caller")))
}

// generalModernPost serves a modern POST the general way: the body
// decoded by decodeBody, its params read by readParams (which allocates
// their modern part only when they have one), then postModern, as a
// request whose era only its _meta names is served.
func generalModernPost(h *streamableHandler, w http.ResponseWriter, r *http.Request, body []byte) {
	_, m, rpcErr := decodeBody(body)
	if rpcErr != nil {
		var id json.RawMessage
		if m != nil && m.ID != nil && m.isRequest() {
			id = m.ID
		}
		writeError(w, http.StatusBadRequest, id, rpcErr)
		return
	}
	c := new(modernCall)
	c.m, c.p = *m, readParams(m.Params)
	h.postModern(w, r, headerValue(r.Header, headerProtocolVersion), &c.m, c)
}

// volatileMembers are the members of a task's answer that differ between
// two calls.
var volatileMembers = map[string]bool{"taskId": true, "createdAt": true, "lastUpdatedAt": true}

// normalizeAnswer is a JSON answer with its volatile members dropped.
func normalizeAnswer(t *testing.T, body []byte) any {
	t.Helper()
	var v any
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, body)
	}
	var drop func(any)
	drop = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if volatileMembers[k] {
					delete(x, k)
				} else {
					drop(e)
				}
			}
		case []any:
			for _, e := range x {
				drop(e)
			}
		}
	}
	drop(v)
	return v
}

// modernShape is one request: its body, and headers over the standard
// ones (a value "" deletes the header).
type modernShape struct {
	name    string
	body    string
	headers []string
	// status and code, when set, are what both paths must answer.
	status, code int
}

func modernShapes() []modernShape {
	meta := modernMeta
	tasksMeta := `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}}`
	call := func(id, name, args, meta string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"` + name + `","arguments":` + args + `,"_meta":` + meta + `}}`
	}
	req := func(method, params string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"` + method + `","params":` + params + `}`
	}
	return []modernShape{
		{name: "tools/call", body: call("1", "add", `{"a":2,"b":3}`, meta), status: 200},
		{name: "string id", body: call(`"r-1"`, "add", `{}`, meta), status: 200},
		{name: "no arguments", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":` + meta + `}}`, status: 200},
		{name: "_meta first", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":` + meta + `,"name":"add","arguments":{}}}`, headers: []string{"Mcp-Name", "add"}, status: 200},
		{name: "clientInfo missing", body: call("1", "add", `{}`, `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`), status: 200},
		{name: "clientInfo not an object", body: call("1", "add", `{}`, `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":"me","io.modelcontextprotocol/clientCapabilities":{}}`), status: 400, code: CodeInvalidParams},
		{name: "clientCapabilities missing", body: call("1", "add", `{}`, `{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}`), status: 400, code: CodeInvalidParams},
		{name: "protocolVersion missing", body: call("1", "add", `{}`, `{"io.modelcontextprotocol/clientCapabilities":{}}`), status: 400, code: CodeInvalidParams},
		{name: "protocolVersion a number", body: call("1", "add", `{}`, `{"io.modelcontextprotocol/protocolVersion":20260728,"io.modelcontextprotocol/clientCapabilities":{}}`), status: 400, code: CodeInvalidParams},
		{name: "wrong protocolVersion", body: call("1", "add", `{}`, `{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}`), headers: []string{"MCP-Protocol-Version", "2099-01-01"}, status: 400, code: CodeUnsupportedProtocolVersion},
		{name: "legacy protocolVersion", body: call("1", "add", `{}`, `{"io.modelcontextprotocol/protocolVersion":"2025-11-25","io.modelcontextprotocol/clientCapabilities":{}}`), status: 400, code: CodeHeaderMismatch},
		{name: "protocolVersion differs from its header", body: call("1", "add", `{}`, `{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}`), status: 400, code: CodeHeaderMismatch},
		{name: "escaped protocolVersion", body: call("1", "add", `{}`, `{"io.modelcontextprotocol/protocolVersion":"2026\u002d07-28","io.modelcontextprotocol/clientCapabilities":{}}`), status: 200},
		{name: "escaped member names", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n\u0061me":"add","arguments":{},"_meta":{"io.modelcontextprotocol/protocol\u0056ersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`, status: 200},
		{name: "_meta null", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":null}}`, status: 400, code: CodeInvalidParams},
		{name: "_meta an array", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":[]}}`, status: 400, code: CodeInvalidParams},
		{name: "_meta twice, the last valid", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":{"io.modelcontextprotocol/protocolVersion":"v1","io.modelcontextprotocol/logLevel":"debug"},"_meta":` + meta + `}}`, status: 200},
		{name: "_meta twice, the last incomplete", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":` + meta + `,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`, status: 400, code: CodeInvalidParams},
		{name: "_meta null, then an object", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":null,"_meta":` + meta + `}}`, status: 200},
		{name: "_meta an object, then null", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":` + meta + `,"_meta":null}}`, status: 400, code: CodeInvalidParams},
		{name: "params twice, the last counts", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sql","arguments":{"region":"eu"},"_meta":` + meta + `},"params":{"name":"add","arguments":{},"_meta":` + meta + `}}`, headers: []string{"Mcp-Name", "add"}, status: 200},
		{name: "params twice, the last without _meta", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":` + meta + `},"params":{"name":"add"}}`, status: 400, code: CodeInvalidParams},
		{name: "params an object, then null", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":` + meta + `},"params":null}`, status: 400, code: CodeInvalidParams},
		{name: "params an object, then an array", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","_meta":` + meta + `},"params":[1]}`},
		{name: "logLevel", body: call("1", "add", `{}`, `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"debug"}`), status: 200},
		{name: "bad logLevel", body: call("1", "add", `{}`, `{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"loud"}`), status: 400, code: CodeInvalidParams},
		{name: "progress token", body: call("1", "add", `{}`, `{"progressToken":"p1","io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`), status: 200},
		{name: "Mcp-Name differs from params.name", body: call("1", "add", `{}`, meta), headers: []string{"Mcp-Name", "sql"}, status: 400, code: CodeHeaderMismatch},
		{name: "Mcp-Name missing", body: call("1", "add", `{}`, meta), headers: []string{"Mcp-Name", ""}, status: 400, code: CodeHeaderMismatch},
		{name: "Mcp-Name in Base64", body: call("1", "add", `{}`, meta), headers: []string{"Mcp-Name", "=?base64?YWRk?="}, status: 200},
		{name: "Mcp-Name not ASCII", body: call("1", "add", `{}`, meta), headers: []string{"Mcp-Name", "add\x80"}, status: 400, code: CodeHeaderMismatch},
		{name: "Mcp-Name with spaces around", body: call("1", "add", `{}`, meta), headers: []string{"Mcp-Name", "  add\t"}, status: 200},
		{name: "Mcp-Method differs", body: call("1", "add", `{}`, meta), headers: []string{"Mcp-Method", "tools/list"}, status: 400, code: CodeHeaderMismatch},
		{name: "Mcp-Method missing", body: call("1", "add", `{}`, meta), headers: []string{"Mcp-Method", ""}, status: 400, code: CodeHeaderMismatch},
		{name: "unknown tool", body: call("1", "nope", `{}`, meta), status: 200, code: CodeInvalidParams},
		{name: "a tool the caller cannot see", body: call("1", "secret", `{}`, tasksMeta), status: 200, code: CodeInvalidParams},
		{name: "a tool the admin sees, as a task", body: call("1", "secret", `{}`, tasksMeta), headers: []string{"X-Caller", "admin"}, status: 200},
		{name: "Mcp-Param header matches", body: call("1", "sql", `{"region":"eu","limit":5}`, meta), headers: []string{"Mcp-Param-Region", "eu", "Mcp-Param-Limit", "5.0"}, status: 200},
		{name: "Mcp-Param header missing", body: call("1", "sql", `{"region":"eu"}`, meta), status: 400, code: CodeHeaderMismatch},
		{name: "Mcp-Param header differs", body: call("1", "sql", `{"region":"eu"}`, meta), headers: []string{"Mcp-Param-Region", "us"}, status: 400, code: CodeHeaderMismatch},
		{name: "task optional, extension declared", body: call("1", "job", `{}`, tasksMeta), status: 200},
		{name: "task optional, no extension", body: call("1", "job", `{}`, meta), status: 200},
		{name: "task required, no extension", body: call("1", "must", `{}`, meta), status: 400, code: CodeMissingRequiredClientCapability},
		{name: "task required, extension declared", body: call("1", "must", `{}`, tasksMeta), status: 200},
		{name: "listed optional, narrowed by TaskSupport", body: call("1", "decides", `{}`, tasksMeta), status: 200},
		{name: "listed forbidden", body: call("1", "forbidden", `{}`, tasksMeta), status: 200},
		{name: "tools/list", body: req("tools/list", `{"_meta":`+meta+`}`), headers: []string{"Mcp-Method", "tools/list", "Mcp-Name", ""}, status: 200},
		{name: "server/discover", body: req("server/discover", `{"_meta":`+meta+`}`), headers: []string{"Mcp-Method", "server/discover", "Mcp-Name", ""}, status: 200},
		{name: "unknown method", body: req("tools/nope", `{"_meta":`+meta+`}`), headers: []string{"Mcp-Method", "tools/nope", "Mcp-Name", ""}, status: 404, code: CodeMethodNotFound},
		{name: "ping is legacy only", body: req("ping", `{"_meta":`+meta+`}`), headers: []string{"Mcp-Method", "ping", "Mcp-Name", ""}, status: 404, code: CodeMethodNotFound},
		{name: "resources/read of nothing", body: req("resources/read", `{"uri":"test://x","_meta":`+meta+`}`), headers: []string{"Mcp-Method", "resources/read", "Mcp-Name", "test://x"}},
		{name: "notification", body: `{"jsonrpc":"2.0","method":"notifications/progress","params":{"_meta":` + meta + `}}`, status: 202},
		{name: "a response", body: `{"jsonrpc":"2.0","id":3,"result":{}}`, status: 400},
		{name: "not JSON", body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{`, status: 400, code: CodeParseError},
		{name: "wrong jsonrpc, id echoed", body: `{"jsonrpc":"1.0","id":9,"method":"tools/call","params":{}}`, status: 400, code: CodeInvalidRequest},
		{name: "id null", body: `{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"add","_meta":` + meta + `}}`, status: 400},
	}
}

// TestModernOneWalkAgrees serves each request shape twice, through the
// handler (whose modern requests take the one walk into one allocation)
// and through generalModernPost, and requires the same status,
// Content-Type and answer.
func TestModernOneWalkAgrees(t *testing.T) {
	h := newDiffHandler(t, &diffTools{})
	for _, sh := range modernShapes() {
		t.Run(sh.name, func(t *testing.T) {
			newReq := func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(sh.body))
				r.Header.Set("Content-Type", "application/json")
				r.Header.Set("Accept", "application/json, text/event-stream")
				r.Header.Set("MCP-Protocol-Version", "2026-07-28")
				r.Header.Set("Mcp-Method", "tools/call")
				r.Header.Set("Mcp-Name", "add")
				if i := strings.Index(sh.body, `"name":"`); i >= 0 {
					r.Header.Set("Mcp-Name", strings.SplitN(sh.body[i+8:], `"`, 2)[0])
				}
				for i := 0; i < len(sh.headers); i += 2 {
					if sh.headers[i+1] == "" {
						r.Header.Del(sh.headers[i])
					} else {
						r.Header.Set(sh.headers[i], sh.headers[i+1])
					}
				}
				return withCaller(r)
			}
			fast := httptest.NewRecorder()
			h.ServeHTTP(fast, newReq())
			general := httptest.NewRecorder()
			generalModernPost(h, general, newReq(), []byte(sh.body))
			if fast.Code != general.Code || fast.Header().Get("Content-Type") != general.Header().Get("Content-Type") {
				t.Fatalf("one walk: %d %q %s\ngeneral: %d %q %s", fast.Code, fast.Header().Get("Content-Type"), fast.Body,
					general.Code, general.Header().Get("Content-Type"), general.Body)
			}
			if f, g := normalizeAnswer(t, fast.Body.Bytes()), normalizeAnswer(t, general.Body.Bytes()); !reflect.DeepEqual(f, g) {
				t.Fatalf("one walk: %s\ngeneral: %s", fast.Body, general.Body)
			}
			if sh.status != 0 && fast.Code != sh.status {
				t.Errorf("status %d, want %d: %s", fast.Code, sh.status, fast.Body)
			}
			if sh.code != 0 {
				var a struct{ Error *JSONRPCError }
				if json.Unmarshal(fast.Body.Bytes(), &a) != nil || a.Error == nil || a.Error.Code != sh.code {
					t.Errorf("want error %d: %s", sh.code, fast.Body)
				}
			}
		})
	}
}

// TestTaskDecisionFromListingAgrees holds the task decision a modern
// tools/call takes from its one tool lookup (checkParamHeaders leaves the
// listing in the params) to the general one, which asks TaskSupport, for
// every tool, caller and declared capability, with the lookup made
// through ToolLookup and through ListTools.
func TestTaskDecisionFromListingAgrees(t *testing.T) {
	d := &diffTools{}
	for _, tools := range []ToolSet{d, listOnly{d}} {
		s := NewServer(ServerOptions{Tools: tools, Tasks: &TaskOptions{}, Logger: quietLogger()})
		t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
		for _, caller := range []string{"", "admin"} {
			for _, caps := range []string{`{}`, `{"extensions":{"io.modelcontextprotocol/tasks":{}}}`} {
				for _, name := range []string{"add", "sql", "job", "must", "decides", "forbidden", "secret", "nope"} {
					rs := &requestState{Context: context.WithValue(context.Background(), callerKey{}, caller),
						meta: &RequestMeta{ProtocolVersion: "2026-07-28", ClientCapabilities: json.RawMessage(caps)}}
					r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
					var p requestParams
					p.name = []byte(`"` + name + `"`)
					if err := s.checkParamHeaders(rs, r, &p); err != nil {
						t.Fatalf("%s: header check: %v", name, err)
					}
					run, required, err := s.taskDecision(rs, name, &p)
					grun, grequired, gerr := s.taskDecision(rs, name, nil)
					if run != grun || required != grequired || !reflect.DeepEqual(err, gerr) {
						t.Errorf("%T caller %q caps %s tool %s: from the listing %v %v %v, general %v %v %v",
							tools, caller, caps, name, run, required, err, grun, grequired, gerr)
					}
				}
			}
		}
	}
}

// TestModernCallLooksItsToolUpOnce: a modern tools/call of a tool listed
// without task support asks neither a second lookup nor TaskSupport, and
// the one lookup sees the request's own context (its _meta and era), as
// CallTool does.
func TestModernCallLooksItsToolUpOnce(t *testing.T) {
	d := &diffTools{}
	h := newDiffHandler(t, d)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{},"_meta":` + modernMeta + `}}`
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	r.Header.Set("MCP-Protocol-Version", "2026-07-28")
	r.Header.Set("Mcp-Method", "tools/call")
	r.Header.Set("Mcp-Name", "add")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, withCaller(r))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"text":"add {}"`) {
		t.Fatalf("call: %d %s", w.Code, w.Body)
	}
	if n := d.taskSupportAsked.Load(); n != 0 {
		t.Errorf("TaskSupport asked %d times for a tool listed without task support", n)
	}
	if n := d.lookupSawRequest.Load(); n != 1 {
		t.Errorf("LookupTool saw the modern request's context %d times, want 1", n)
	}
}

// TestModernAnswersOwnTheirBuffers: modern answers encoded into pooled
// buffers, concurrently, small and past maxPooledResponse, each carry
// their own result and nothing of another's.
func TestModernAnswersOwnTheirBuffers(t *testing.T) {
	_, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				text := fmt.Sprintf("g%d-i%d-", g, i)
				if i%5 == 0 {
					text += strings.Repeat("x", maxPooledResponse+g)
				} else {
					text += strings.Repeat("y", i*g)
				}
				args, _ := json.Marshal(map[string]string{"text": text})
				resp, msgs := modernPost(t, ts.URL+"/mcp", g*100+i, "tools/call", withMeta(`"name":"echo","arguments":`+string(args)), nil)
				if resp.StatusCode != 200 || len(msgs) != 1 || msgs[0].ID == nil || string(msgs[0].ID) != fmt.Sprint(g*100+i) {
					errs <- fmt.Sprintf("%s: %d %+v", text[:12], resp.StatusCode, msgs)
					return
				}
				var res CallToolResult
				if err := json.Unmarshal(msgs[0].Result, &res); err != nil || len(res.Content) != 1 || res.Content[0].Text != text {
					errs <- fmt.Sprintf("%s: answer %.200s", text[:12], msgs[0].Result)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestAppendModernResultAgrees holds a modern result encoded into a used
// buffer (a pooled one's) to the same result encoded fresh.
func TestAppendModernResultAgrees(t *testing.T) {
	s := NewServer(ServerOptions{Info: Implementation{Name: "enc", Version: "1"}, ToolsVaryByCaller: true, Logger: quietLogger()})
	dirty := []byte(strings.Repeat("#", 900))
	results := []any{
		nil,
		struct{}{},
		&CallToolResult{Content: []Content{TextContent("ok")}},
		&CallToolResult{Content: []Content{TextContent("a \"quoted\"\n\u2028 text")}, IsError: true},
		&CallToolResult{Content: []Content{TextContent(strings.Repeat("z", 2000))}},
		&CallToolResult{Content: []Content{TextContent("s")}, StructuredContent: map[string]int{"n": 1}},
		map[string]any{"resultType": "input_required", "inputRequests": map[string]any{}},
		map[string]any{"_meta": map[string]any{"k": "v"}, "tools": []any{}},
	}
	for _, id := range []string{`1`, `"a"`, `"\u00e9"`} {
		for _, m := range []*methodInfo{nil, clientMethods["tools/call"], clientMethods["tools/list"]} {
			for i, res := range results {
				fresh := s.encodeModernResponse(json.RawMessage(id), res, nil, m)
				used := s.appendModernResult(dirty, json.RawMessage(id), res, m)
				if !bytes.Equal(fresh, used) {
					t.Errorf("id %s result %d: fresh %s\nused buffer %s", id, i, fresh, used)
				}
			}
		}
	}
}

// TestInternLevelAgrees holds internLevel to the general reading of a
// _meta logLevel (unquote, then the level's severity) for every level,
// escaped spellings and values that are not levels; the known levels, as
// written by nearly every client, are read without a copy.
func TestInternLevelAgrees(t *testing.T) {
	values := []string{`"d\u0065bug"`, `"DEBUG"`, `"loud"`, `""`, `"debug "`, `1`, `null`, `true`, `{}`, `"\u0069nfo"`}
	for _, l := range levelOrder {
		values = append(values, `"`+string(l)+`"`)
	}
	for _, v := range values {
		got, ok := internLevel([]byte(v))
		want := LoggingLevel("")
		wantOK := false
		if strings.HasPrefix(v, `"`) {
			want = LoggingLevel(unquote([]byte(v)))
			wantOK = want.severity() >= 0
		}
		if ok != wantOK || (ok && got != want) {
			t.Errorf("%s: internLevel %q %v, general %q %v", v, got, ok, want, wantOK)
		}
	}
	if n := testing.AllocsPerRun(100, func() { internLevel([]byte(`"warning"`)) }); n != 0 {
		t.Errorf("reading a known level allocated %v times", n)
	}
}
