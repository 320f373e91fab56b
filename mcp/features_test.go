package mcp

import (
	"context"
	"encoding/json"
	"runtime"
	"testing"
	"time"
)

// Each Server keeps its own resources, prompts and completion: what one
// registers is neither listed nor declared by another.
func TestFeaturesArePerServer(t *testing.T) {
	a := newE2EServer(ServerOptions{})
	b := newE2EServer(ServerOptions{})
	a.AddResource(Resource{URI: "test://a", Name: "a"}, staticText("a"))
	a.AddPrompt(Prompt{Name: "p"}, func(context.Context, map[string]string) (*GetPromptResult, error) {
		return &GetPromptResult{}, nil
	})
	if a.features.resources == nil || a.features.prompts == nil {
		t.Fatal("server a has no tables after registering")
	}
	if b.features.resources != nil || b.features.prompts != nil || b.features.completion != nil {
		t.Fatal("server b got tables it never registered")
	}
	cb, initB := connect(t, e2eServer(t, b), `{}`)
	var caps struct {
		Capabilities map[string]json.RawMessage `json:"capabilities"`
	}
	if err := json.Unmarshal(initB, &caps); err != nil {
		t.Fatal(err)
	}
	if _, ok := caps.Capabilities["resources"]; ok {
		t.Fatalf("server b declares resources: %s", initB)
	}
	if e := cb.rpcError("resources/list", map[string]any{}); e.Code != CodeMethodNotFound {
		t.Fatalf("resources/list on b: %+v", e)
	}
}

// A Server that is dropped is collected together with its tables: nothing
// package-level keeps it alive.
func TestServerWithFeaturesIsCollected(t *testing.T) {
	collected := make(chan struct{})
	func() {
		s := newE2EServer(ServerOptions{})
		s.AddResource(Resource{URI: "test://x", Name: "x"}, staticText("x"))
		s.SetCompletion(func(context.Context, CompleteRequest) (*Completion, error) { return &Completion{}, nil })
		runtime.AddCleanup(s, func(ch chan struct{}) { close(ch) }, collected)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		select {
		case <-collected:
			return
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("a dropped Server with resources and completion was never collected")
		}
	}
}
