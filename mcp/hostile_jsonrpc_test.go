package mcp

import (
	"strings"
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

// A batch is bounded in count, not only in bytes: past maxBatch it is
// refused whole, before any element is decoded or run.
func TestHostileBatchLimit(t *testing.T) {
	batch := func(n int) []byte {
		return []byte("[" + strings.TrimSuffix(strings.Repeat(`{"jsonrpc":"2.0","id":1,"method":"ping"},`, n), ",") + "]")
	}
	if d, _, err := decodeBody(batch(maxBatch)); err != nil || len(d.msgs) != maxBatch {
		t.Fatalf("batch of %d: %v", maxBatch, err)
	}
	if _, _, err := decodeBody(batch(maxBatch + 1)); err == nil || err.Code != CodeInvalidRequest {
		t.Fatalf("batch of %d: %v, want %d", maxBatch+1, err, CodeInvalidRequest)
	}
}
