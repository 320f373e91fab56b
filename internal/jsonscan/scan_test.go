package jsonscan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// The reference for every function here is encoding/json: the tests and
// the fuzz target check that both read the same bytes the same way.

var seeds = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `-1E-2`, `true`, `false`, `null`, ` {"a" : [1, 2, {"b":null}] } `,
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}`,
	`{"a":1,"a":2}`, `{"\u0061":"\ud83d\ude00"}`, `"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, "\"\xff\xfe\"",
	"\"a\xc3\x28b\"", `"\/\b\f\n\r\t\"\\"`,
	// invalid
	``, ` `, `{`, `}`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{1:2}`, `01`, `1.`, `.5`, `1e`, `-`, `+1`, `tru`, `nul`, `"\x"`,
	`"\u12"`, "\"a\x01\"", `"abc`, `[1 2]`, `{"a":1}{`, `1 2`, `[`, `{"a"`, `{"a":`, `NaN`, `"\u00zz"`,
}

func FuzzValid(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want := json.Valid(data)
		if got := Valid(data); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", data, got, want)
		}
		checkCursor(t, data)
		if !want {
			// Iterating invalid input must stop, never panic.
			for range Members(data) {
			}
			for range Elements(data) {
			}
			return
		}
		checkMembers(t, data)
		checkElements(t, data)
		var s string
		if KindOf(bytes.TrimSpace(data)) == String && json.Unmarshal(data, &s) == nil {
			got, ok := Unquote(nil, bytes.TrimSpace(data))
			if !ok || string(got) != s {
				t.Fatalf("Unquote(%q) = %q, %v; encoding/json says %q", data, got, ok, s)
			}
			if !Equal(bytes.TrimSpace(data), s) {
				t.Fatalf("Equal(%q, %q) = false", data, s)
			}
		}
	})
}

// checkMembers compares Members with json.Unmarshal into a map of raw
// values: same names, and for a repeated name the last value.
func checkMembers(t *testing.T, data []byte) {
	var want map[string]json.RawMessage
	if json.Unmarshal(data, &want) != nil || want == nil {
		return
	}
	got := map[string]json.RawMessage{}
	for name, value := range Members(data) {
		key, ok := Unquote(nil, name)
		if !ok {
			t.Fatalf("Members(%q) yielded a name Unquote refuses: %q", data, name)
		}
		got[string(key)] = value
	}
	if len(got) != len(want) {
		t.Fatalf("Members(%q): %d names, encoding/json %d", data, len(got), len(want))
	}
	for k, v := range want {
		if !bytes.Equal(got[k], v) {
			t.Fatalf("Members(%q)[%q] = %q, encoding/json %q", data, k, got[k], v)
		}
	}
}

func checkElements(t *testing.T, data []byte) {
	var want []json.RawMessage
	if json.Unmarshal(data, &want) != nil || want == nil {
		return
	}
	var got []json.RawMessage
	for v := range Elements(data) {
		got = append(got, v)
	}
	if len(got) != len(want) {
		t.Fatalf("Elements(%q): %d elements, encoding/json %d", data, len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("Elements(%q)[%d] = %q, encoding/json %q", data, i, got[i], want[i])
		}
	}
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, s := range seeds {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, encoding/json %v", s, got, want)
		}
	}
}

// TestDepthLimit: encoding/json refuses nesting past 10000 levels; so must
// Valid, or a document one accepts would be one the other refuses.
func TestDepthLimit(t *testing.T) {
	for _, depth := range []int{maxDepth, maxDepth + 1} {
		doc := []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth))
		if got, want := Valid(doc), json.Valid(doc); got != want {
			t.Errorf("depth %d: Valid %v, encoding/json %v", depth, got, want)
		}
	}
	if !Valid([]byte(strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth))) {
		t.Error("objects nested to the limit refused")
	}
}

func TestMembersDuplicatesAndEscapes(t *testing.T) {
	doc := []byte(`{"id":13, "\u0069d" : 14 ,"method":"ping"}`)
	var names, values []string
	for n, v := range Members(doc) {
		names = append(names, string(n))
		values = append(values, string(v))
	}
	if strings.Join(names, ",") != `"id","\u0069d","method"` || strings.Join(values, ",") != `13,14,"ping"` {
		t.Fatalf("names %q values %q", names, values)
	}
	if !Equal([]byte(`"\u0069d"`), "id") || Equal([]byte(`"ID"`), "id") || Equal([]byte(`"id"`), "i") {
		t.Error("Equal: escapes decode, case and length matter")
	}
	// Stopping early is honoured.
	n := 0
	for range Members(doc) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("break: %d iterations", n)
	}
}

func TestKindOf(t *testing.T) {
	for v, want := range map[string]Kind{`{}`: Object, `[1]`: Array, `"x"`: String, `-1`: Number, `7`: Number,
		`true`: True, `false`: False, `null`: Null, ``: Invalid, `x`: Invalid} {
		if got := KindOf([]byte(v)); got != want {
			t.Errorf("KindOf(%q) = %q, want %q", v, got, want)
		}
	}
}

// BenchmarkValid compares one pass over a tools/call body with
// encoding/json's Valid over the same bytes, the baseline in the same run.
func BenchmarkValid(b *testing.B) {
	body := []byte(seeds[11])
	b.Run("jsonscan", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !json.Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
}

// BenchmarkMembers walks the message envelope, the work that replaces a
// json.Unmarshal into a struct.
func BenchmarkMembers(b *testing.B) {
	body := []byte(seeds[11])
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for name := range Members(body) {
			if Equal(name, "params") {
				n++
			}
		}
		if n != 1 {
			b.Fatal("no params")
		}
	}
}

// Strings are scanned eight bytes at a time (skipPlain): every byte that
// matters, or almost does, at every offset of a word and across words,
// must be read as encoding/json reads it.
func TestValidStringWordBoundaries(t *testing.T) {
	for _, c := range []byte{'"', '\\', 0x00, 0x01, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff} {
		for n := 0; n <= 24; n++ {
			for at := 0; at < n; at++ {
				s := []byte(strings.Repeat("a", n))
				s[at] = c
				for _, doc := range [][]byte{append(append([]byte(`"`), s...), '"'), append(append([]byte(`{"k`), s...), `":1}`...)} {
					if got, want := Valid(doc), json.Valid(doc); got != want {
						t.Fatalf("Valid(%q) = %v, json.Valid %v", doc, got, want)
					}
				}
			}
		}
	}
}
