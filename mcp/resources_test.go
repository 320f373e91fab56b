package mcp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// errorCode returns the JSON-RPC code the client sees for an error of the
// method logic: its own code, or -32603 for a plain error (which the server
// logs), or 0 for no error.
func errorCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var rpcErr *JSONRPCError
	if !errors.As(err, &rpcErr) {
		return CodeInternalError
	}
	return rpcErr.Code
}

func staticText(text string) ReadResourceFunc {
	return func(_ context.Context, uri string, _ map[string]string) ([]ResourceContents, error) {
		return []ResourceContents{{URI: uri, MimeType: "text/plain", Text: text}}, nil
	}
}

func TestURITemplateMatch(t *testing.T) {
	cases := []struct {
		tmpl, uri string
		want      map[string]string // nil: no match
	}{
		{"test://template/{id}/data", "test://template/123/data", map[string]string{"id": "123"}},
		{"test://template/{id}/data", "test://template/a%20b/data", map[string]string{"id": "a b"}},
		{"test://template/{id}/data", "test://template/1/2/data", nil},
		{"test://template/{id}/data", "test://template//data", nil},
		{"test://template/{id}/data", "test://template/123/data/more", nil},
		{"test://template/{id}/data", "xtest://template/123/data", nil},
		{"file:///{+path}", "file:///src/main.go", map[string]string{"path": "src/main.go"}},
		{"users://{org}/{user}", "users://acme/bob", map[string]string{"org": "acme", "user": "bob"}},
		{"a.b://{x}", "aXb://1", nil}, // literal dots are literal
		{"q://{id}", "q://1?x=2", nil},
		{"q://{id}", "q://%zz", nil}, // malformed percent-encoding
	}
	for _, c := range cases {
		m, err := parseURITemplate(c.tmpl)
		if err != nil {
			t.Fatalf("parse %q: %v", c.tmpl, err)
		}
		got, ok := m.match(c.uri)
		if ok != (c.want != nil) || (ok && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("%q match %q = %v, %v; want %v", c.tmpl, c.uri, got, ok, c.want)
		}
	}
}

func TestURITemplateRejectsUnsupported(t *testing.T) {
	for _, tmpl := range []string{"x://{?q}", "x://{a,b}", "x://{a}{a}", "x://{", "x://}", "x://{#f}"} {
		if _, err := parseURITemplate(tmpl); err == nil {
			t.Errorf("parseURITemplate(%q) accepted an unsupported template", tmpl)
		}
	}
}

func TestResourcesListPaginates(t *testing.T) {
	tab := newResourceTable()
	for i := range 5 {
		tab.add(Resource{URI: fmt.Sprintf("test://r%d", i), Name: fmt.Sprintf("r%d", i)}, staticText("x"))
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		params, _ := json.Marshal(map[string]string{"cursor": cursor})
		res, err := tab.list(params, 2)
		if err != nil {
			t.Fatal(err)
		}
		r := res.(*ListResourcesResult)
		if len(r.Resources) > 2 {
			t.Fatalf("page of %d items, page size 2", len(r.Resources))
		}
		for _, x := range r.Resources {
			got = append(got, x.URI)
		}
		if r.NextCursor == "" {
			break
		}
		cursor = r.NextCursor
	}
	want := []string{"test://r0", "test://r1", "test://r2", "test://r3", "test://r4"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("listed %v, want %v in registration order", got, want)
	}
}

func TestResourcesListBadInput(t *testing.T) {
	tab := newResourceTable()
	tab.add(Resource{URI: "test://a", Name: "a"}, staticText("x"))
	tab.addTemplate(ResourceTemplate{URITemplate: "test://{id}", Name: "t"}, staticText("x"))
	for _, params := range []string{
		`{"cursor":"not-base64!"}`,
		`{"cursor":"` + EncodeCursor("prompts", 0) + `"}`, // another list's cursor
		`{"cursor":"` + EncodeCursor("resources", -1) + `"}`,
		`{"cursor":5}`,
		`[1,2]`,
	} {
		if _, err := tab.list(json.RawMessage(params), 10); errorCode(t, err) != CodeInvalidParams {
			t.Errorf("resources/list %s: error %v, want -32602", params, err)
		}
		if _, err := tab.listTemplates(json.RawMessage(params), 10); errorCode(t, err) != CodeInvalidParams {
			t.Errorf("resources/templates/list %s: error %v, want -32602", params, err)
		}
	}
	// Absent params are the first page.
	res, err := tab.listTemplates(nil, 10)
	if err != nil || len(res.(*ListResourceTemplatesResult).ResourceTemplates) != 1 {
		t.Fatalf("templates/list without params = %v, %v", res, err)
	}
}

func TestResourcesRead(t *testing.T) {
	tab := newResourceTable()
	tab.add(Resource{URI: "test://static-text", Name: "static"}, staticText("hello"))
	tab.addTemplate(ResourceTemplate{URITemplate: "test://items/{id}", Name: "item"},
		func(_ context.Context, uri string, vars map[string]string) ([]ResourceContents, error) {
			if vars["id"] == "missing" {
				return nil, fmt.Errorf("item %s: %w", vars["id"], ErrResourceNotFound)
			}
			if vars["id"] == "broken" {
				return nil, errors.New("disk on fire")
			}
			return []ResourceContents{{MimeType: "application/json", Text: `{"id":"` + vars["id"] + `"}`}}, nil
		})

	res, err := tab.read(context.Background(), json.RawMessage(`{"uri":"test://static-text"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c := res.(*ReadResourceResult).Contents; len(c) != 1 || c[0].Text != "hello" || c[0].URI != "test://static-text" {
		t.Fatalf("read static = %+v", c)
	}

	res, err = tab.read(context.Background(), json.RawMessage(`{"uri":"test://items/42"}`))
	if err != nil {
		t.Fatal(err)
	}
	c := res.(*ReadResourceResult).Contents
	if len(c) != 1 || c[0].Text != `{"id":"42"}` || c[0].URI != "test://items/42" {
		t.Fatalf("read template = %+v (the URI should default to the one read)", c)
	}

	cases := []struct {
		params string
		code   int
	}{
		{`{"uri":"test://nope"}`, CodeResourceNotFound},
		{`{"uri":"test://items/missing"}`, CodeResourceNotFound},
		{`{"uri":"test://items/broken"}`, CodeInternalError},
		{`{}`, CodeInvalidParams},
		{``, CodeInvalidParams},
		{`{"uri":7}`, CodeInvalidParams},
		{`{"uri":"test://` + strings.Repeat("a", maxURIBytes) + `"}`, CodeInvalidParams},
	}
	for _, c := range cases {
		_, err := tab.read(context.Background(), json.RawMessage(c.params))
		if got := errorCode(t, err); got != c.code {
			t.Errorf("read %.40s: code %d (%v), want %d", c.params, got, err, c.code)
		}
	}
	// The spec's exact form for an unknown resource: message and data.uri.
	_, err = tab.read(context.Background(), json.RawMessage(`{"uri":"test://nope"}`))
	var rpcErr *JSONRPCError
	errors.As(err, &rpcErr)
	if rpcErr.Message != "Resource not found" || string(rpcErr.Data) != `{"uri":"test://nope"}` {
		t.Fatalf("not-found error = %+v", rpcErr)
	}
}

func TestReadResultEncoding(t *testing.T) {
	res := ReadResourceResult{Contents: []ResourceContents{
		{URI: "test://empty", MimeType: "text/plain"},
		{URI: "test://bin", MimeType: "image/png", Blob: "AAEC"},
		{URI: "test://txt", Text: "hi"},
	}}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"contents":[{"uri":"test://empty","mimeType":"text/plain","text":""},` +
		`{"uri":"test://bin","mimeType":"image/png","blob":"AAEC"},{"uri":"test://txt","text":"hi"}]}`
	if string(b) != want {
		t.Fatalf("encoded %s\nwant    %s", b, want)
	}
	if b, _ := json.Marshal(ReadResourceResult{}); string(b) != `{"contents":[]}` {
		t.Fatalf("no contents encodes as %s", b)
	}
}

func TestResourcesRemove(t *testing.T) {
	tab := newResourceTable()
	for _, u := range []string{"test://a", "test://b", "test://c"} {
		tab.add(Resource{URI: u, Name: u}, staticText(u))
	}
	if !tab.remove("test://a") || tab.remove("test://a") {
		t.Fatal("remove should report whether the resource existed")
	}
	// The index of the resources after the removed one must still be right.
	res, err := tab.read(context.Background(), json.RawMessage(`{"uri":"test://c"}`))
	if err != nil || res.(*ReadResourceResult).Contents[0].Text != "test://c" {
		t.Fatalf("read after remove = %v, %v", res, err)
	}
	if _, err := tab.read(context.Background(), json.RawMessage(`{"uri":"test://a"}`)); errorCode(t, err) != CodeResourceNotFound {
		t.Fatalf("removed resource still readable: %v", err)
	}
}

// recordingSession is a stand-in for a session that records notifications.
type recordingSession struct {
	mu   sync.Mutex
	got  []string
	fail bool
}

func (r *recordingSession) Notify(_ context.Context, method string, params any) error {
	if r.fail {
		return errors.New("session closed")
	}
	b, _ := json.Marshal(params)
	r.mu.Lock()
	r.got = append(r.got, method+" "+string(b))
	r.mu.Unlock()
	return nil
}

func TestResourcesSubscribe(t *testing.T) {
	tab := newResourceTable()
	tab.add(Resource{URI: "test://watched", Name: "w"}, staticText("x"))
	tab.add(Resource{URI: "test://other", Name: "o"}, staticText("x"))
	a, b, gone := &recordingSession{}, &recordingSession{}, &recordingSession{fail: true}

	for _, s := range []*recordingSession{a, b, gone} {
		if _, err := tab.subscribe(s, json.RawMessage(`{"uri":"test://watched"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tab.subscribe(a, json.RawMessage(`{"uri":"test://watched"}`)); err != nil {
		t.Fatalf("subscribing twice: %v", err)
	}
	if _, err := tab.subscribe(a, json.RawMessage(`{"uri":"test://unknown"}`)); errorCode(t, err) != CodeResourceNotFound {
		t.Fatalf("subscribe to unknown URI: %v, want -32002", err)
	}
	if _, err := tab.subscribe(a, json.RawMessage(`{}`)); errorCode(t, err) != CodeInvalidParams {
		t.Fatalf("subscribe without uri: %v, want -32602", err)
	}

	if n := tab.notifyUpdated(context.Background(), "test://watched"); n != 2 {
		t.Fatalf("notified %d sessions, want 2 (the failing one is dropped)", n)
	}
	if n := tab.notifyUpdated(context.Background(), "test://other"); n != 0 {
		t.Fatalf("notified %d sessions about an unsubscribed URI", n)
	}
	want := []string{`notifications/resources/updated {"uri":"test://watched"}`}
	if !reflect.DeepEqual(a.got, want) || !reflect.DeepEqual(b.got, want) {
		t.Fatalf("a got %v, b got %v; want %v each", a.got, b.got, want)
	}
	if _, ok := tab.perSession[gone]; ok {
		t.Fatal("a session whose notify failed keeps its subscriptions")
	}

	if _, err := tab.unsubscribe(a, json.RawMessage(`{"uri":"test://watched"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.unsubscribe(a, json.RawMessage(`{"uri":"test://watched"}`)); err != nil {
		t.Fatalf("unsubscribing twice: %v", err)
	}
	tab.notifyUpdated(context.Background(), "test://watched")
	if len(a.got) != 1 || len(b.got) != 2 {
		t.Fatalf("after a unsubscribed: a got %d, b got %d; want 1 and 2", len(a.got), len(b.got))
	}
	tab.forget(b)
	if len(tab.subs) != 0 || len(tab.perSession) != 0 {
		t.Fatalf("forget left state: %v %v", tab.subs, tab.perSession)
	}
}

func TestResourcesSubscribeLimit(t *testing.T) {
	tab := newResourceTable()
	tab.addTemplate(ResourceTemplate{URITemplate: "test://n/{i}", Name: "n"}, staticText("x"))
	s := &recordingSession{}
	for i := range maxSubscriptionsPerSession {
		if _, err := tab.subscribe(s, json.RawMessage(fmt.Sprintf(`{"uri":"test://n/%d"}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	_, err := tab.subscribe(s, json.RawMessage(`{"uri":"test://n/x"}`))
	if errorCode(t, err) != CodeInvalidParams {
		t.Fatalf("subscription past the limit: %v", err)
	}
}

// ---- End to end, through the Streamable HTTP transport ----

// e2eMessage is a JSON-RPC message as a client receives it.
type e2eMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *JSONRPCError   `json:"error"`
}

// e2eClient is a minimal Streamable HTTP client: enough to initialize with
// chosen capabilities, send requests, and read answers and streams.
type e2eClient struct {
	t      *testing.T
	url    string
	sid    string
	nextID int
}

// e2eServer serves s at /mcp on a loopback httptest server.
func e2eServer(t *testing.T, s *Server) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/mcp", s.StreamableHTTPHandler(HTTPOptions{}))
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		ts.Close()
	})
	return ts.URL + "/mcp"
}

func newE2EServer(opts ServerOptions) *Server {
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return NewServer(opts)
}

// connect initializes a session declaring caps and returns the client and
// the initialize result.
func connect(t *testing.T, url, caps string) (*e2eClient, json.RawMessage) {
	t.Helper()
	c := &e2eClient{t: t, url: url}
	resp := c.post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":` + caps + `,"clientInfo":{"name":"e2e","version":"1"}}}`)
	c.sid = resp.Header.Get("Mcp-Session-Id")
	msgs := c.readAll(resp)
	if len(msgs) != 1 || msgs[0].Error != nil {
		t.Fatalf("initialize: %+v", msgs)
	}
	c.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`).Body.Close()
	return c, msgs[0].Result
}

func (c *e2eClient) post(body string) *http.Response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	if c.sid != "" {
		req.Header.Set("Mcp-Session-Id", c.sid)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// open sends a request and returns its answer unread, for streaming.
func (c *e2eClient) open(method string, params any) *http.Response {
	c.t.Helper()
	c.nextID++
	p, _ := json.Marshal(params)
	return c.post(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, c.nextID, method, p))
}

// call sends a request and returns the response message (the last one of
// its answer).
func (c *e2eClient) call(method string, params any) e2eMessage {
	c.t.Helper()
	msgs := c.readAll(c.open(method, params))
	if len(msgs) == 0 {
		c.t.Fatalf("%s: no answer", method)
	}
	return msgs[len(msgs)-1]
}

// result calls and decodes the result into v, failing on an error.
func (c *e2eClient) result(method string, params, v any) {
	c.t.Helper()
	m := c.call(method, params)
	if m.Error != nil {
		c.t.Fatalf("%s: %v", method, m.Error)
	}
	if err := json.Unmarshal(m.Result, v); err != nil {
		c.t.Fatalf("%s: %s: %v", method, m.Result, err)
	}
}

// rpcError calls a method that must fail and returns its error.
func (c *e2eClient) rpcError(method string, params any) *JSONRPCError {
	c.t.Helper()
	m := c.call(method, params)
	if m.Error == nil {
		c.t.Fatalf("%s: want an error, got %s", method, m.Result)
	}
	return m.Error
}

// readAll reads every message of a JSON or SSE answer.
func (c *e2eClient) readAll(resp *http.Response) []e2eMessage {
	c.t.Helper()
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		body, _ := io.ReadAll(resp.Body)
		if len(body) == 0 {
			return nil
		}
		var m e2eMessage
		if err := json.Unmarshal(body, &m); err != nil {
			c.t.Fatalf("answer %q (status %d): %v", body, resp.StatusCode, err)
		}
		return []e2eMessage{m}
	}
	var out []e2eMessage
	events := e2eEvents(resp.Body)
	for m := range events {
		out = append(out, m)
	}
	return out
}

// e2eEvents yields the JSON-RPC messages of an SSE body as they arrive,
// skipping priming events and comments, until the body ends.
func e2eEvents(body io.Reader) <-chan e2eMessage {
	ch := make(chan e2eMessage, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data:")
			if !ok || strings.TrimSpace(data) == "" {
				continue
			}
			var m e2eMessage
			if json.Unmarshal([]byte(strings.TrimSpace(data)), &m) == nil {
				ch <- m
			}
		}
	}()
	return ch
}

// next returns the next message of a stream, failing after a timeout.
func next(t *testing.T, ch <-chan e2eMessage) e2eMessage {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("stream ended")
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a message")
	}
	return e2eMessage{}
}

// openGET opens the session's standalone stream (transports, "Listening
// for Messages from the Server").
func (c *e2eClient) openGET() <-chan e2eMessage {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.url, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", c.sid)
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET stream: %v %v", resp, err)
	}
	c.t.Cleanup(func() { resp.Body.Close() })
	return e2eEvents(resp.Body)
}

func fixtureResources(s *Server) {
	s.AddResource(Resource{URI: "test://static-text", Name: "static-text", MimeType: "text/plain"}, staticText("This is the content."))
	s.AddResource(Resource{URI: "test://watched", Name: "watched"}, staticText("v1"))
	s.AddResource(Resource{URI: "test://other", Name: "other"}, staticText("x"))
	s.AddResourceTemplate(ResourceTemplate{URITemplate: "test://template/{id}/data", Name: "template"},
		func(_ context.Context, uri string, vars map[string]string) ([]ResourceContents, error) {
			return []ResourceContents{{URI: uri, MimeType: "application/json", Text: `{"id":"` + vars["id"] + `"}`}}, nil
		})
}

func TestResourcesOverHTTP(t *testing.T) {
	s := newE2EServer(ServerOptions{PageSize: 2})
	fixtureResources(s)
	c, init := connect(t, e2eServer(t, s), `{}`)
	var ir struct {
		Capabilities map[string]json.RawMessage `json:"capabilities"`
	}
	json.Unmarshal(init, &ir)
	if string(ir.Capabilities["resources"]) != `{"listChanged":true,"subscribe":true}` {
		t.Fatalf("resources capability = %s", ir.Capabilities["resources"])
	}
	if _, ok := ir.Capabilities["prompts"]; ok {
		t.Fatal("prompts declared although none is registered")
	}

	var uris []string
	cursor := ""
	for range 3 {
		var page ListResourcesResult
		c.result("resources/list", map[string]string{"cursor": cursor}, &page)
		for _, r := range page.Resources {
			uris = append(uris, r.URI)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if !reflect.DeepEqual(uris, []string{"test://static-text", "test://watched", "test://other"}) {
		t.Fatalf("listed %v", uris)
	}

	var tl ListResourceTemplatesResult
	c.result("resources/templates/list", nil, &tl)
	if len(tl.ResourceTemplates) != 1 || tl.ResourceTemplates[0].URITemplate != "test://template/{id}/data" {
		t.Fatalf("templates = %+v", tl)
	}

	var rr ReadResourceResult
	c.result("resources/read", map[string]string{"uri": "test://template/123/data"}, &rr)
	if len(rr.Contents) != 1 || rr.Contents[0].Text != `{"id":"123"}` || rr.Contents[0].URI != "test://template/123/data" {
		t.Fatalf("template read = %+v", rr)
	}

	e := c.rpcError("resources/read", map[string]string{"uri": "test://nowhere"})
	if e.Code != -32002 || e.Message != "Resource not found" || string(e.Data) != `{"uri":"test://nowhere"}` {
		t.Fatalf("unknown resource: %+v data %s", e, e.Data)
	}
	if e := c.rpcError("resources/read", map[string]int{"uri": 1}); e.Code != -32602 {
		t.Fatalf("bad params: %+v", e)
	}
	if e := c.rpcError("resources/list", map[string]string{"cursor": "bogus"}); e.Code != -32602 {
		t.Fatalf("bad cursor: %+v", e)
	}
}

func TestResourceSubscriptionOverHTTP(t *testing.T) {
	s := newE2EServer(ServerOptions{})
	fixtureResources(s)
	url := e2eServer(t, s)
	subscriber, _ := connect(t, url, `{}`)
	bystander, _ := connect(t, url, `{}`)
	subStream, byStream := subscriber.openGET(), bystander.openGET()

	if m := subscriber.call("resources/subscribe", map[string]string{"uri": "test://watched"}); m.Error != nil || string(m.Result) != `{}` {
		t.Fatalf("subscribe: %+v %s", m.Error, m.Result)
	}
	if m := bystander.call("resources/subscribe", map[string]string{"uri": "test://other"}); m.Error != nil {
		t.Fatalf("subscribe: %+v", m.Error)
	}
	if e := subscriber.rpcError("resources/subscribe", map[string]string{"uri": "test://nowhere"}); e.Code != -32002 {
		t.Fatalf("subscribe to unknown URI: %+v", e)
	}

	s.NotifyResourceUpdated("test://watched")
	m := next(t, subStream)
	if m.Method != "notifications/resources/updated" || string(m.Params) != `{"uri":"test://watched"}` {
		t.Fatalf("subscriber got %s %s", m.Method, m.Params)
	}
	// The bystander did not subscribe to test://watched: the first thing it
	// hears is the update of the URI it did subscribe to.
	s.NotifyResourceUpdated("test://other")
	if m := next(t, byStream); string(m.Params) != `{"uri":"test://other"}` {
		t.Fatalf("bystander got %s %s", m.Method, m.Params)
	}

	// After unsubscribing, the subscriber hears only list changes.
	if m := subscriber.call("resources/unsubscribe", map[string]string{"uri": "test://watched"}); m.Error != nil {
		t.Fatalf("unsubscribe: %+v", m.Error)
	}
	s.NotifyResourceUpdated("test://watched")
	s.AddResource(Resource{URI: "test://new", Name: "new"}, staticText("n"))
	if m := next(t, subStream); m.Method != "notifications/resources/list_changed" {
		t.Fatalf("after unsubscribe got %s %s, want only list_changed", m.Method, m.Params)
	}
}

// A server that serves one file-like resource per user, found by a URI
// template, and tells subscribers when one changes.
func ExampleServer_AddResourceTemplate() {
	s := NewServer(ServerOptions{Info: Implementation{Name: "notes", Version: "1.0.0"}})
	notes := map[string]string{"ada": "Remember the engine."}
	s.AddResourceTemplate(ResourceTemplate{URITemplate: "notes://{user}", Name: "note", MimeType: "text/plain"},
		func(_ context.Context, uri string, vars map[string]string) ([]ResourceContents, error) {
			text, ok := notes[vars["user"]]
			if !ok {
				return nil, ErrResourceNotFound // answered as -32002
			}
			return []ResourceContents{{URI: uri, MimeType: "text/plain", Text: text}}, nil
		})
	// Later, after notes["ada"] changed:
	s.NotifyResourceUpdated("notes://ada")
}
