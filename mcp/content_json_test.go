package mcp

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Each content variant carries the fields the schema requires of it, even
// when they are empty, and nothing of the other variants.
func TestContentEncoding(t *testing.T) {
	ann := json.RawMessage(`{"audience":["user"],"priority":0.5}`)
	cases := []struct {
		name string
		in   Content
		want string
	}{
		{"empty text", TextContent(""), `{"type":"text","text":""}`},
		{"text", Content{Type: "text", Text: "hi", Annotations: ann},
			`{"type":"text","text":"hi","annotations":{"audience":["user"],"priority":0.5}}`},
		{"text ignores other variants' fields", Content{Type: "text", Text: "x", URI: "test://u", Data: "AA=="},
			`{"type":"text","text":"x"}`},
		{"empty image", Content{Type: "image"}, `{"type":"image","data":"","mimeType":""}`},
		{"image", ImageContent("AAEC", "image/png"), `{"type":"image","data":"AAEC","mimeType":"image/png"}`},
		{"audio", Content{Type: "audio", Data: "AAEC", MimeType: "audio/wav"}, `{"type":"audio","data":"AAEC","mimeType":"audio/wav"}`},
		{"embedded empty text", Content{Type: "resource", Resource: &ResourceContents{URI: "test://e", MimeType: "text/plain"}},
			`{"type":"resource","resource":{"uri":"test://e","mimeType":"text/plain","text":""}}`},
		{"embedded blob", Content{Type: "resource", Resource: &ResourceContents{URI: "test://b", Blob: "AAEC", Text: "ignored"}},
			`{"type":"resource","resource":{"uri":"test://b","blob":"AAEC"}}`},
		{"embedded missing", Content{Type: "resource"}, `{"type":"resource","resource":{"uri":"","text":""}}`},
		{"resource link", Content{Type: "resource_link", URI: "test://l", Name: "l", Description: "d", MimeType: "text/plain"},
			`{"type":"resource_link","uri":"test://l","name":"l","description":"d","mimeType":"text/plain"}`},
		{"empty resource link", Content{Type: "resource_link"}, `{"type":"resource_link","uri":"","name":""}`},
		{"unknown type keeps what is set", Content{Type: "x-custom", Text: "t", URI: "test://u"},
			`{"type":"x-custom","text":"t","uri":"test://u"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != c.want {
				t.Fatalf("encoded %s\nwant    %s", b, c.want)
			}
			// Through a pointer and inside a slice too: the method has a
			// value receiver, so every path reaches it.
			if b, _ := json.Marshal([]*Content{&c.in}); string(b) != "["+c.want+"]" {
				t.Fatalf("via pointer: %s", b)
			}
		})
	}
}

// What a block encodes to decodes to the same block, for every field its
// variant owns.
func TestContentRoundTrip(t *testing.T) {
	for _, in := range []Content{
		TextContent("line\n\"quoted\" <tag> & \u2028 ünïcode"),
		ImageContent("AAEC", "image/png"),
		{Type: "resource", Resource: &ResourceContents{URI: "test://r", MimeType: "text/plain", Text: "body", Meta: json.RawMessage(`{"k":1}`)}},
		{Type: "resource_link", URI: "test://l", Name: "n", Description: "d", MimeType: "text/plain", Annotations: json.RawMessage(`{"priority":1}`)},
	} {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out Content
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("round trip of %s:\n got %+v\nwant %+v", b, out, in)
		}
	}
}

func TestContentBadAnnotationsIsAnError(t *testing.T) {
	if b, err := json.Marshal(Content{Type: "text", Annotations: json.RawMessage(`{broken`)}); err == nil {
		t.Fatalf("malformed annotations encoded as %s", b)
	}
}

// FuzzContentText checks the hand-written string encoder against
// encoding/json's: same bytes for any text, including invalid UTF-8,
// control characters and HTML-sensitive ones.
func FuzzContentText(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\/", "\x00\x01\x1f\x7f", "\n\r\t\b\f", "<script>&amp;</script>",
		"\u2028\u2029", "\xff\xfe bad", "caf\xc3", "ü€😀", strings.Repeat("é", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := json.Marshal(Content{Type: "text", Text: s})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}{"text", s})
		if string(got) != string(want) {
			t.Fatalf("text %q:\n got %s\nwant %s", s, got, want)
		}
		rc, _ := json.Marshal(ResourceContents{URI: s, Text: s})
		wantRC, _ := json.Marshal(struct {
			URI  string `json:"uri"`
			Text string `json:"text"`
		}{s, s})
		if string(rc) != string(wantRC) {
			t.Fatalf("resource %q:\n got %s\nwant %s", s, rc, wantRC)
		}
	})
}

// emptyContentTools answers one tool whose result has an empty text block
// and an embedded empty text resource.
type emptyContentTools struct{}

func (emptyContentTools) ListTools(context.Context) []Tool {
	return []Tool{{Name: "empty", InputSchema: objSchema}}
}

func (emptyContentTools) CallTool(context.Context, string, json.RawMessage) (*CallToolResult, error) {
	return &CallToolResult{Content: []Content{
		TextContent(""),
		{Type: "resource", Resource: &ResourceContents{URI: "test://empty", MimeType: "text/plain"}},
	}}, nil
}

// Over HTTP, an empty text block and an empty embedded resource in a tool
// result, and an empty resource in resources/read, keep their "text".
func TestEmptyTextOnTheWire(t *testing.T) {
	s, ts := newTestServer(t, emptyContentTools{}, HTTPOptions{})
	s.AddResource(Resource{URI: "test://empty", Name: "empty"}, staticText(""))
	c := newHTTPClient(t, ts.URL+"/mcp")
	c.initialize("2025-11-25")

	got := string(c.result("tools/call", map[string]any{"name": "empty", "arguments": map[string]any{}}))
	want := `{"content":[{"type":"text","text":""},{"type":"resource","resource":{"uri":"test://empty","mimeType":"text/plain","text":""}}]}`
	if got != want {
		t.Fatalf("tools/call result %s\nwant %s", got, want)
	}

	got = string(c.result("resources/read", map[string]any{"uri": "test://empty"}))
	want = `{"contents":[{"uri":"test://empty","mimeType":"text/plain","text":""}]}`
	if got != want {
		t.Fatalf("resources/read result %s\nwant %s", got, want)
	}

}
