package mcp

import (
	"testing"
	"unicode/utf8"
)

// An id that is a string with invalid UTF-8 cannot be echoed: the response
// would not be JSON text (RFC 8259 s8.1). It is refused as an invalid
// request with a null id, and the error response is valid UTF-8.
func TestHostileInvalidUTF8ID(t *testing.T) {
	for _, body := range []string{
		"{\"jsonrpc\":\"2.0\",\"id\":\"a\xffb\",\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":\"\xc3\x28\",\"method\":\"tools/call\",\"params\":7}",
	} {
		m, err := decodeMessage([]byte(body))
		if err == nil || err.Code != CodeInvalidRequest {
			t.Fatalf("%q: error %v, want %d", body, err, CodeInvalidRequest)
		}
		var id []byte
		if m != nil {
			id = m.ID
		}
		out := encodeResponse(id, nil, err)
		if !utf8.Valid(out) || string(id) != "" {
			t.Errorf("%q: response %q (id %q) is not valid UTF-8 with a null id", body, out, id)
		}
	}
	// Valid UTF-8 beyond ASCII is still echoed exactly.
	m, err := decodeMessage([]byte(`{"jsonrpc":"2.0","id":"é✓","method":"ping"}`))
	if err != nil || string(m.ID) != `"é✓"` {
		t.Errorf("UTF-8 id: %v %q", err, m.ID)
	}
}
