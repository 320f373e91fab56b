package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func testCompleter(fn CompleteFunc) *completer {
	res := newResourceTable()
	res.addTemplate(ResourceTemplate{URITemplate: "test://template/{id}/data", Name: "t"}, staticText("x"))
	return &completer{fn: fn, prompts: greetingPrompts(), resources: res}
}

func TestCompleteFromList(t *testing.T) {
	got := CompleteFromList([]string{"Paris", "park", "London", "party"}, "PAR")
	if !reflect.DeepEqual(got.Values, []string{"Paris", "park", "party"}) || got.Total != 3 {
		t.Fatalf("CompleteFromList = %+v", got)
	}
	if got := CompleteFromList([]string{"a"}, "z"); got.Values == nil || len(got.Values) != 0 {
		t.Fatalf("no match should be an empty, non-nil list: %#v", got.Values)
	}
}

func TestComplete(t *testing.T) {
	var seen CompleteRequest
	c := testCompleter(func(_ context.Context, req CompleteRequest) (*Completion, error) {
		seen = req
		return CompleteFromList([]string{"Ada", "Alan", "Grace"}, req.Argument.Value), nil
	})
	res, err := c.complete(context.Background(), json.RawMessage(
		`{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"name","value":"a"},"context":{"arguments":{"tone":"!"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	if string(b) != `{"completion":{"values":["Ada","Alan"],"total":2}}` {
		t.Fatalf("result = %s", b)
	}
	if seen.Context["tone"] != "!" || seen.Ref.Name != "greet" {
		t.Fatalf("the function saw %+v", seen)
	}

	if _, err := c.complete(context.Background(), json.RawMessage(
		`{"ref":{"type":"ref/resource","uri":"test://template/{id}/data"},"argument":{"name":"id","value":"1"}}`)); err != nil {
		t.Fatalf("ref/resource: %v", err)
	}
}

func TestCompleteCapsAt100(t *testing.T) {
	c := testCompleter(func(context.Context, CompleteRequest) (*Completion, error) {
		vals := make([]string, 250)
		for i := range vals {
			vals[i] = fmt.Sprint(i)
		}
		return &Completion{Values: vals}, nil
	})
	res, err := c.complete(context.Background(), json.RawMessage(`{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"tone","value":""}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := res.(*CompleteResult).Completion
	if len(got.Values) != 100 || !got.HasMore || got.Total != 250 || got.Values[99] != "99" {
		t.Fatalf("capped completion = %d values, hasMore %v, total %d", len(got.Values), got.HasMore, got.Total)
	}
}

func TestCompleteErrors(t *testing.T) {
	c := testCompleter(func(_ context.Context, req CompleteRequest) (*Completion, error) {
		if req.Argument.Value == "boom" {
			return nil, errors.New("index unavailable")
		}
		return nil, nil
	})
	cases := []struct {
		params string
		code   int
	}{
		{`{"ref":{"type":"ref/prompt","name":"nope"},"argument":{"name":"name","value":""}}`, CodeInvalidParams},
		{`{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"colour","value":""}}`, CodeInvalidParams},
		{`{"ref":{"type":"ref/resource","uri":"test://other/{id}"},"argument":{"name":"id","value":""}}`, CodeInvalidParams},
		{`{"ref":{"type":"ref/resource","uri":"test://template/{id}/data"},"argument":{"name":"nope","value":""}}`, CodeInvalidParams},
		{`{"ref":{"type":"ref/tool","name":"x"},"argument":{"name":"name","value":""}}`, CodeInvalidParams},
		{`{"ref":{"type":"ref/prompt","name":"greet"}}`, CodeInvalidParams},
		{`{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"name","value":"boom"}}`, CodeInternalError},
		{`not json`, CodeInvalidParams},
	}
	for _, cs := range cases {
		_, err := c.complete(context.Background(), json.RawMessage(cs.params))
		if got := errorCode(t, err); got != cs.code {
			t.Errorf("complete %s: %v (code %d), want %d", cs.params, err, got, cs.code)
		}
	}
	// A function that answers nothing yields values: [] (required).
	res, err := c.complete(context.Background(), json.RawMessage(`{"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"name","value":""}}`))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(res); string(b) != `{"completion":{"values":[]}}` {
		t.Fatalf("empty completion encodes as %s", b)
	}
}

func ExampleCompleteFromList() {
	c := CompleteFromList([]string{"python", "pytorch", "rust"}, "py")
	fmt.Println(c.Values, c.Total)
	// Output: [python pytorch] 2
}
