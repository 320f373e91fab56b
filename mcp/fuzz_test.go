package mcp

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecodeMessage checks that no body crashes the decoder, that every
// decoded message satisfies the invariants the server relies on, and that
// an id read from a body is echoed back unchanged. The seed corpus in
// testdata/fuzz/FuzzDecodeMessage runs with every plain `go test`.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}`))
	f.Add([]byte(`[{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":"a","result":{}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, single, err := decodeBody(data)
		check := func(m *message, err *JSONRPCError) {
			if err != nil {
				if err.Code != CodeParseError && err.Code != CodeInvalidRequest && err.Code != CodeInvalidParams {
					t.Fatalf("unexpected code %d", err.Code)
				}
				if m != nil && m.ID != nil && !validID(m.ID) {
					t.Fatalf("error keeps invalid id %q", m.ID)
				}
				if !json.Valid(encodeResponse(idOf(m), nil, err)) {
					t.Fatal("error response is not JSON")
				}
				return
			}
			if !m.JSONRPC {
				t.Fatal("accepted a message without jsonrpc 2.0")
			}
			if m.Method == badMethod {
				t.Fatal("accepted a non-string method")
			}
			if m.ID != nil {
				if !validID(m.ID) {
					t.Fatalf("accepted id %q", m.ID)
				}
				resp := encodeResponse(m.ID, nil, nil)
				var back struct {
					ID json.RawMessage `json:"id"`
				}
				if json.Unmarshal(resp, &back) != nil || !bytes.Equal(back.ID, m.ID) {
					t.Fatalf("id %q echoed as %q", m.ID, back.ID)
				}
			}
			if m.isResponse() && (m.ID == nil || (m.Result == nil) == (m.Error == nil)) {
				t.Fatalf("accepted a malformed response %+v", m)
			}
			if m.Method != "" && len(m.Params) > 0 && m.Params[0] != '{' {
				t.Fatalf("accepted params %q", m.Params)
			}
		}
		if !d.batch {
			check(single, err)
			return
		}
		for i := range d.msgs {
			check(d.msgs[i], d.errs[i])
		}
	})
}

func idOf(m *message) json.RawMessage {
	if m == nil {
		return nil
	}
	return m.ID
}
