package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestReadEvent(t *testing.T) {
	stream := ": keep-alive\n\n" +
		"id: 0_0\ndata:\n\n" + // a 2025-11-25 priming event: an id, empty data
		"event: endpoint\ndata: /sse/message?sessionId=abc\n\n" +
		"event: message\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n" +
		"data: cut"
	br := bufio.NewReader(strings.NewReader(stream))
	want := []event{
		{id: "0_0"},
		{name: "endpoint", data: []byte("/sse/message?sessionId=abc")},
		{name: "message", data: []byte("{\"a\":\n1}")},
	}
	for i, w := range want {
		ev, err := readEvent(br)
		if err != nil || ev.name != w.name || ev.id != w.id || string(ev.data) != string(w.data) {
			t.Fatalf("event %d = %+v (data %q), %v; want %+v (data %q)", i, ev, ev.data, err, w, w.data)
		}
	}
	if _, err := readEvent(br); err == nil {
		t.Fatal("a stream cut mid-event gave no error")
	}
}

func TestChecks(t *testing.T) {
	add := func(text string, isErr bool) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"content": []any{map[string]any{"type": "text", "text": text}}, "isError": isErr})
		return b
	}
	for _, tc := range []struct {
		name string
		err  error
		kind string // "" for success
	}{
		{"sum stated", checkAdd(add("The sum of 2 and 3 is 5.", false), 5), ""},
		{"bare sum", checkAdd(add("5", false), 5), ""},
		{"wrong sum", checkAdd(add("6", false), 5), "bad_result"},
		{"tool error", checkAdd(add("5", true), 5), "tool_error"},
		{"not a result", checkAdd(json.RawMessage(`[1]`), 5), "bad_response"},
	} {
		if got := kindOf(tc.err); got != tc.kind {
			t.Errorf("%s: %v (kind %q), want kind %q", tc.name, tc.err, got, tc.kind)
		}
	}

	who := func(email string, perms ...string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"content": []any{map[string]any{"type": "text", "text": "you"}},
			"structuredContent": map[string]any{"user": map[string]any{"id": "user_1", "email": email}, "permissions": perms}})
		return b
	}
	for _, tc := range []struct {
		name  string
		res   json.RawMessage
		email string
		perms []string
		kind  string
	}{
		{"same user", who("ada@example.com", "image_generation"), "ada@example.com", []string{"image_generation"}, ""},
		{"permissions not checked", who("ada@example.com", "x"), "ada@example.com", nil, ""},
		{"another user", who("grace@example.com"), "ada@example.com", nil, "bad_result"},
		{"permissions changed", who("ada@example.com"), "ada@example.com", []string{"image_generation"}, "bad_result"},
		{"no structured content", add("ada", false), "ada@example.com", nil, "bad_result"},
	} {
		_, err := checkWhoami(tc.res, tc.email, tc.perms)
		if got := kindOf(err); got != tc.kind {
			t.Errorf("whoami %s: %v, want kind %q", tc.name, err, tc.kind)
		}
	}

	tools := func(names ...string) json.RawMessage {
		var ts []any
		for _, n := range names {
			ts = append(ts, map[string]any{"name": n})
		}
		b, _ := json.Marshal(map[string]any{"tools": ts})
		return b
	}
	for _, tc := range []struct {
		name string
		res  json.RawMessage
		gen  bool
		kind string
	}{
		{"admin", tools("add", "whoami", "generateImage"), true, ""},
		{"member", tools("add", "whoami"), false, ""},
		{"member offered the gated tool", tools("add", "whoami", "generateImage"), false, "bad_result"},
		{"admin missing it", tools("add", "whoami"), true, "bad_result"},
		{"add missing", tools("whoami"), false, "bad_result"},
	} {
		if got := kindOf(checkTools(tc.res, tc.gen)); got != tc.kind {
			t.Errorf("tools/list %s: kind %q, want %q", tc.name, got, tc.kind)
		}
	}
}

func kindOf(err error) string {
	if err == nil {
		return ""
	}
	return errKind(err)
}

// TestRefresh checks the refresh request against a token endpoint written
// from RFC 6749 s6, and that a server which does not rotate, or answers
// with an error, is counted as failing.
func TestRefresh(t *testing.T) {
	var answer func(w http.ResponseWriter, old string)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		r.ParseForm()
		if r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("client_id") != "c1" || r.Form.Get("resource") != "http://x/mcp" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request"})
			return
		}
		answer(w, r.Form.Get("refresh_token"))
	}))
	defer srv.Close()
	c := &client{hc: srv.Client(), tokenURL: srv.URL, timeout: 5 * time.Second}
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter, old string)
		kind   string
	}{
		{"rotates", func(w http.ResponseWriter, old string) {
			json.NewEncoder(w).Encode(map[string]any{"access_token": "a-" + old, "token_type": "Bearer", "expires_in": 3600, "refresh_token": old + "+"})
		}, ""},
		{"does not rotate", func(w http.ResponseWriter, old string) {
			json.NewEncoder(w).Encode(map[string]any{"access_token": "a-" + old, "token_type": "Bearer", "expires_in": 3600, "refresh_token": old})
		}, "bad_result"},
		{"invalid_grant", func(w http.ResponseWriter, old string) {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
		}, "http_400"},
	} {
		answer = tc.answer
		cr := &cred{clientID: "c1", resource: "http://x/mcp", access: "a0", refresh: "r0"}
		err := c.refresh(cr)
		if got := kindOf(err); got != tc.kind {
			t.Errorf("%s: %v, want kind %q", tc.name, err, tc.kind)
			continue
		}
		if tc.kind == "" && (cr.token() != "a-r0" || cr.refresh != "r0+" || cr.gen != 1) {
			t.Errorf("%s: tokens now %q/%q after %d refreshes; want a-r0/r0+ after 1", tc.name, cr.token(), cr.refresh, cr.gen)
		}
		if tc.kind != "" && (cr.token() != "a0" || cr.refresh != "r0") {
			t.Errorf("%s: a failed refresh replaced the tokens", tc.name)
		}
	}
}
