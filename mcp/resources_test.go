package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// errorCode returns the JSON-RPC code of an error from the method logic, or
// 0 when err is nil or has none.
func errorCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var me *methodError
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not a JSON-RPC error", err, err)
	}
	return me.Code
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
		`{"cursor":"` + encodeListCursor("prompts", 0) + `"}`, // another list's cursor
		`{"cursor":"` + encodeListCursor("resources", -1) + `"}`,
		`{"cursor":5}`,
		`[1,2]`,
	} {
		if _, err := tab.list(json.RawMessage(params), 10); errorCode(t, err) != methodInvalidParams {
			t.Errorf("resources/list %s: error %v, want -32602", params, err)
		}
		if _, err := tab.listTemplates(json.RawMessage(params), 10); errorCode(t, err) != methodInvalidParams {
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
		{`{"uri":"test://nope"}`, methodResourceNotFound},
		{`{"uri":"test://items/missing"}`, methodResourceNotFound},
		{`{"uri":"test://items/broken"}`, methodInternalError},
		{`{}`, methodInvalidParams},
		{``, methodInvalidParams},
		{`{"uri":7}`, methodInvalidParams},
		{`{"uri":"test://` + strings.Repeat("a", maxURIBytes) + `"}`, methodInvalidParams},
	}
	for _, c := range cases {
		_, err := tab.read(context.Background(), json.RawMessage(c.params))
		if got := errorCode(t, err); got != c.code {
			t.Errorf("read %.40s: code %d (%v), want %d", c.params, got, err, c.code)
		}
	}
	// The spec's exact form for an unknown resource: message and data.uri.
	_, err = tab.read(context.Background(), json.RawMessage(`{"uri":"test://nope"}`))
	var me *methodError
	errors.As(err, &me)
	if me.Message != "Resource not found" || !reflect.DeepEqual(me.Data, map[string]string{"uri": "test://nope"}) {
		t.Fatalf("not-found error = %+v", me)
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
	if _, err := tab.read(context.Background(), json.RawMessage(`{"uri":"test://a"}`)); errorCode(t, err) != methodResourceNotFound {
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
	if _, err := tab.subscribe(a, json.RawMessage(`{"uri":"test://unknown"}`)); errorCode(t, err) != methodResourceNotFound {
		t.Fatalf("subscribe to unknown URI: %v, want -32002", err)
	}
	if _, err := tab.subscribe(a, json.RawMessage(`{}`)); errorCode(t, err) != methodInvalidParams {
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
	if errorCode(t, err) != methodInvalidParams {
		t.Fatalf("subscription past the limit: %v", err)
	}
}
