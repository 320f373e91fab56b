package mcp

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// Every client request of the index is refused with -32601 in the era it
// does not exist in, and reaches its handler (any answer but -32601) in
// the era it does: the index is what the dispatcher obeys.
func TestIndexErasAreEnforced(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{})
	s.AddResource(Resource{URI: "test://a", Name: "a"}, staticText("a"))
	s.AddPrompt(Prompt{Name: "p"}, func(context.Context, map[string]string) (*GetPromptResult, error) {
		return &GetPromptResult{Messages: []PromptMessage{}}, nil
	})
	s.SetCompletion(func(_ context.Context, _ CompleteRequest) (*Completion, error) {
		return &Completion{Values: []string{}}, nil
	})
	// The client requests of each revision's schema (ClientRequest in
	// schema/2025-11-25 and schema/2026-07-28), which the index must match.
	spec := map[string]Era{
		"initialize": EraLegacy, "ping": EraLegacy, "logging/setLevel": EraLegacy,
		"resources/subscribe": EraLegacy, "resources/unsubscribe": EraLegacy,
		"server/discover": EraModern, "subscriptions/listen": EraModern,
		"tools/list": BothEras, "tools/call": BothEras, "resources/list": BothEras,
		"resources/templates/list": BothEras, "resources/read": BothEras,
		"prompts/list": BothEras, "prompts/get": BothEras, "completion/complete": BothEras,
		// The tasks extension's (ext-tasks schema/draft), on 2026-07-28.
		"tasks/get": EraModern, "tasks/update": EraModern, "tasks/cancel": EraModern,
	}
	for _, m := range Methods() {
		if m.Direction == "client request" && spec[m.Name] != m.Eras {
			t.Errorf("%s: the index says %s, the schemas say %s", m.Name, m.Eras, spec[m.Name])
		}
	}
	legacy := newHTTPClient(t, ts.URL+"/mcp")
	legacy.initialize("2025-11-25")
	for _, m := range Methods() {
		if m.Direction != "client request" || m.Name == "initialize" || m.Name == "subscriptions/listen" {
			continue // the transports answer these two
		}
		if m.Capability == "tasks" {
			continue // an extension this server does not turn on; tasks_test.go serves it
		}
		if !strings.Contains(m.Spec, "20") {
			t.Errorf("%s: no spec section", m.Name)
		}
		_, lmsgs := legacy.call(m.Name, map[string]any{})
		lcode := 0
		if len(lmsgs) > 0 && lmsgs[len(lmsgs)-1].Error != nil {
			lcode = lmsgs[len(lmsgs)-1].Error.Code
		}
		if (m.Eras&EraLegacy != 0) == (lcode == CodeMethodNotFound) {
			t.Errorf("%s (%s) in a legacy session: code %d", m.Name, m.Eras, lcode)
		}
		resp, mmsgs := modernPost(t, ts.URL+"/mcp", 9, m.Name, withMeta(`"name":"p","uri":"test://a"`), func(r *http.Request) {
			if m.Name == "resources/read" {
				r.Header.Set("Mcp-Name", "test://a")
			}
		})
		mcode := 0
		if len(mmsgs) > 0 && mmsgs[len(mmsgs)-1].Error != nil {
			mcode = mmsgs[len(mmsgs)-1].Error.Code
		}
		if (m.Eras&EraModern != 0) == (mcode == CodeMethodNotFound) || (mcode == CodeMethodNotFound) != (resp.StatusCode == 404) {
			t.Errorf("%s (%s) in the modern era: HTTP %d, code %d", m.Name, m.Eras, resp.StatusCode, mcode)
		}
	}
}
