package jsonscan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// The ways a caller may read a document with a Cursor; each must reach the
// same verdict as encoding/json on every input.
var cursorReads = map[string]func(c *Cursor){
	// whole: the top value read at once.
	"whole": func(c *Cursor) { c.Value() },
	// deep: every object descended into, every other value read.
	"deep": readDeep,
	// shallow: the top object's members left alone (skipped).
	"shallow": func(c *Cursor) {
		if c.Kind() != Object {
			c.Value()
			return
		}
		for range c.Members() {
		}
	},
	// alternate: objects descended into at even levels only, the values
	// of odd levels left alone, as a decoder that wants some members does.
	"alternate": func(c *Cursor) { readAlternate(c, 0) },
}

func readDeep(c *Cursor) {
	if c.Kind() != Object {
		c.Value()
		return
	}
	for range c.Members() {
		readDeep(c)
	}
}

func readAlternate(c *Cursor, level int) {
	if c.Kind() != Object {
		c.Value()
		return
	}
	for range c.Members() {
		if level%2 == 0 {
			readAlternate(c, level+1)
		}
	}
}

// checkCursor holds every way of reading data with a Cursor to
// encoding/json's verdict, and the members a shallow read yields to
// Members'.
func checkCursor(t *testing.T, data []byte) {
	t.Helper()
	want := json.Valid(data)
	for name, read := range cursorReads {
		c := NewCursor(data)
		read(&c)
		if got := c.Done(); got != want {
			t.Fatalf("Cursor %s read of %q: Done %v, encoding/json says %v", name, data, got, want)
		}
	}
	if !want || KindOf(bytes.TrimSpace(data)) != Object {
		return
	}
	var names, values [][]byte
	c := NewCursor(data)
	for name := range c.Members() {
		names = append(names, name)
		values = append(values, c.Value())
	}
	i := 0
	for name, value := range Members(data) {
		if i >= len(names) || !bytes.Equal(names[i], name) || !bytes.Equal(values[i], value) {
			t.Fatalf("Cursor members of %q differ from Members at %d", data, i)
		}
		i++
	}
	if i != len(names) {
		t.Fatalf("Cursor yielded %d members of %q, Members %d", len(names), data, i)
	}
}

func TestCursorMatchesEncodingJSON(t *testing.T) {
	extra := []string{`{"a":{"b":{"c":[1,{"d":2}]}},"e":"f"}`, `{"a":{"b":1}`, `{"a":{"b":1}}}`, `{"a":{"b" 1}}`,
		`{"a":{}} `, ` {"a":{ }, "b" : { "c" : null } } x`, `{"a":{"b":{}},}`, `{"a"}`, `{"a":}`, `{"a":1 "b":2}`}
	for _, s := range append(seeds, extra...) {
		checkCursor(t, []byte(s))
	}
}

// TestCursorDepthLimit: a value inside objects the cursor opened has only
// the rest of encoding/json's nesting limit.
func TestCursorDepthLimit(t *testing.T) {
	for _, depth := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
		for _, inner := range []string{"[", `{"a":`} {
			closer := map[string]string{"[": "]", `{"a":`: "}"}[inner]
			// Three objects a decoder descends into, then the rest.
			doc := `{"a":{"b":{"c":` + strings.Repeat(inner, depth-3) + "1" + strings.Repeat(closer, depth-3) + "}}}"
			checkCursor(t, []byte(doc))
		}
	}
}

// TestCursorBreak: a loop broken off leaves the document unread, so the
// cursor cannot call it valid.
func TestCursorBreak(t *testing.T) {
	c := NewCursor([]byte(`{"a":1,"b":2}`))
	for range c.Members() {
		break
	}
	if c.Done() {
		t.Fatal("Done after a broken loop")
	}
}

// TestCursorSince: a value descended into is delimited by Offset and Since.
func TestCursorSince(t *testing.T) {
	c := NewCursor([]byte(`{"params": {"x":[1]} ,"y":2}`))
	var got []byte
	for name := range c.Members() {
		if Equal(name, "params") {
			at := c.Offset()
			for range c.Members() {
			}
			got = c.Since(at)
		}
	}
	if !c.Done() || string(got) != `{"x":[1]}` {
		t.Fatalf("Since = %q, Done %v", got, c.Done())
	}
}

func BenchmarkCursor(b *testing.B) {
	doc := []byte(`{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"noop","arguments":{"a":1},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"b","version":"1"}}}}`)
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		c := NewCursor(doc)
		readDeep(&c)
		if !c.Done() {
			b.Fatal("invalid")
		}
	}
}
