package mcp

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"remote-mcp-authkit/internal/jsonscan"
)

// FuzzDecodeMessage checks that no body crashes the decoder, that every
// decoded message satisfies the invariants the server relies on, that an id
// read from a body is echoed back as the same id (a number byte for byte), and that decodeBody reads every
// body as the encoding/json decoder it replaced (refDecodeBody) did: the same
// messages, error codes and error texts. The seed corpus in
// testdata/fuzz/FuzzDecodeMessage runs with every plain `go test`.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}`,
		`[{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":"a","result":{}}]`,
		`{"jsonrpc":"2.0","id":1,"id":"two","method":"ping","method":"tools/list","params":null}`,
		`{"jsonrpc":"2.0","id":2,"error":{"code":"x","message":5},"error":{"code":1.5}}`,
		`{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"a"},"error":null,"result":[]}`,
		`{"jsonrpc":"2.0","id":4,"error":[1],"id":null}`, `null`, `[null,[],"x",true,{}]`, ` [ ] `, `{"jsonrpc":"2.0"} x`,
		`{"\u006asonrpc":"2.0","\u0069d":5,"m\u0065thod":"p\u0069ng","params":{}}`,
		`{"jsonrpc":"2.0","id":6,"method":"","result":{}}`, `{"jsonrpc":"2.0","id":7,"method":"x/\u00e9","params":"\u0000"}`,
		"{\"jsonrpc\":\"2.0\",\"id\":\"\xff\",\"method\":\"ping\"}", `{"jsonrpc":"2.0","METHOD":"ping","Id":1}`,
		`{"jsonrpc":"2.0","id":"a<b>&c\u2028","method":"ping"}`, `{"jsonrpc":"2.0","id":-1.5e+300,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"a","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"progressToken":"t"},"uri":"x"},"params":{"taskId":"t","_meta":null}}`,
		`{"jsonrpc":"2.0","id":9,"method":"x","params":{"_meta":{"a":[}}}`, `{"jsonrpc":"2.0","id":10,"method":"x","params":{"_meta":{}},"params":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, single, err := decodeBody(data)
		if !caseVariantNames(data) {
			rd, rsingle, rerr := refDecodeBody(data)
			if d.batch != rd.batch || len(d.msgs) != len(rd.msgs) {
				t.Fatalf("%q: batch %v of %d, reference %v of %d", data, d.batch, len(d.msgs), rd.batch, len(rd.msgs))
			}
			sameDecoding(t, data, single, err, rsingle, rerr)
			for i := range d.msgs {
				sameDecoding(t, data, d.msgs[i], d.errs[i], rd.msgs[i], rd.errs[i])
			}
		}
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
				if json.Unmarshal(resp, &back) != nil || !sameID(back.ID, m.ID) {
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
			sameOneWalk(t, data, single, err)
			return
		}
		for i := range d.msgs {
			check(d.msgs[i], d.errs[i])
		}
	})
}

// sameOneWalk fails unless readMessage with params (a modern request's
// one walk) reads data as decodeBody and then readParams do: the same
// message and error, and the params of the last params member. A batch
// never takes that walk (postModernBody).
func sameOneWalk(t *testing.T, data []byte, m *message, err *JSONRPCError) {
	t.Helper()
	if jsonscan.KindOf(trimLeadingSpace(data)) == jsonscan.Array {
		return
	}
	var p, rp requestParams
	var px, rpx modernParams
	p.x, rp.x = &px, &rpx
	om, oerr := readMessage(data, new(message), &p)
	sameDecoding(t, data, om, oerr, m, err)
	if m == nil || err != nil {
		return
	}
	rp.read(m.Params)
	if !reflect.DeepEqual(p, rp) && !(reflect.DeepEqual(px, rpx) && sameParams(p, rp)) {
		t.Fatalf("%q: params read in one walk %+v %+v, by readParams %+v %+v", data, p, px, rp, rpx)
	}
}

// sameParams compares requestParams but for the x pointer.
func sameParams(a, b requestParams) bool {
	a.x, b.x = nil, nil
	return reflect.DeepEqual(a, b)
}

func idOf(m *message) json.RawMessage {
	if m == nil {
		return nil
	}
	return m.ID
}

// sameDecoding fails unless a message and its error are those the
// reference decoder produced.
func sameDecoding(t *testing.T, data []byte, m *message, err *JSONRPCError, rm *message, rerr *JSONRPCError) {
	t.Helper()
	if !reflect.DeepEqual(err, rerr) {
		t.Fatalf("%q: error %+v, reference %+v", data, err, rerr)
	}
	if (m == nil) != (rm == nil) {
		t.Fatalf("%q: message %+v, reference %+v", data, m, rm)
	}
	if m == nil {
		return
	}
	same := func(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
	if m.JSONRPC != rm.JSONRPC || m.Method != rm.Method || !same(m.ID, rm.ID) || !same(m.Params, rm.Params) ||
		!same(m.Result, rm.Result) || !reflect.DeepEqual(m.Error, rm.Error) {
		t.Fatalf("%q: message %+v, reference %+v", data, m, rm)
	}
}

// caseVariantNames reports whether a message of the body (or of a batch
// element) has a member whose name matches one of message's names only
// case-insensitively. encoding/json took "METHOD" for "method"; the
// decoder, as JSON-RPC 2.0 reads names, does not: the one place the two
// are meant to differ.
func caseVariantNames(data []byte) bool {
	if !jsonscan.Valid(data) {
		return false
	}
	check := func(obj []byte) bool {
		for name := range jsonscan.Members(obj) {
			u, _ := jsonscan.Unquote(nil, name)
			for _, k := range []string{"jsonrpc", "id", "method", "params", "result", "error"} {
				if string(u) != k && strings.EqualFold(string(u), k) {
					return true
				}
			}
		}
		return false
	}
	if check(data) {
		return true
	}
	for e := range jsonscan.Elements(data) {
		if check(e) {
			return true
		}
	}
	return false
}

// FuzzReadParams holds readParams and toolCall to the encoding/json code
// they replaced (refToolCall), for params objects whose member names are
// spelled exactly as the schema spells them: encoding/json also matched
// case variants, and found _meta only when it was spelled without escapes.
func FuzzReadParams(f *testing.F) {
	for _, s := range []string{
		`{"name":"add","arguments":{"a":2,"b":3}}`, `{}`, `{"name":""}`, `{"name":null,"arguments":null}`,
		`{"name":5}`, `{"name":"x","name":[1]}`, `{"name":{},"name":"y"}`, `{"name":"x","name":null}`,
		`{"name":"a\u00e9\ud800","arguments":[1]}`, "{\"name\":\"\xff\"}", `{"name":"x","arguments":"s"}`,
		`{"name":"x","_meta":{"progressToken":"p"}}`, `{"_meta":{"progressToken":1},"_meta":{}}`,
		`{"_meta":{"progressToken":1},"_meta":5}`, `{"_meta":{"progressToken":1},"_meta":null}`,
		`{"_meta":{"progressToken":1,"progressToken":null}}`, `{"_meta":{"progressToken":{}}}`,
		`{"arguments":{"_meta":{"progressToken":1}}}`, `{"_META":{"progressToken":1},"NAME":"x"}`,
		`{"_meta":{"traceparent":"00-ab-cd-01"}}`, `{"_meta":{"traceparent":"a\"b","traceparent":"c"},"_meta":{"traceparent":"d"}}`,
		`{"_meta":{"traceparent":5},"_meta":{"tr\u0061ceparent":"e"}}`, `{"_meta":{"traceparent":null}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		if !jsonscan.Valid(params) || jsonscan.KindOf(params) != jsonscan.Object || variantParamNames(params) {
			return
		}
		p := readParams(params)
		name, args, err := p.toolCall()
		rname, rargs, rtoken, rerr := refToolCall(params)
		if !reflect.DeepEqual(err, rerr) || name != rname || !bytes.Equal(args, rargs) || !bytes.Equal(p.progressToken, rtoken) ||
			(p.progressToken == nil) != (rtoken == nil) {
			t.Fatalf("%q: %q %q %q %+v, reference %q %q %q %+v", params, name, args, p.progressToken, err, rname, rargs, rtoken, rerr)
		}
		var trace string
		if p.x != nil && p.x.traceparent != nil {
			trace = string(p.x.traceparent[1 : len(p.x.traceparent)-1])
		}
		if ref := refMetaTraceparent(params); trace != ref {
			t.Fatalf("%q: traceparent %q, reference %q", params, trace, ref)
		}
	})
}

// refMetaTraceparent is how RequestInfo.TraceParent was read before the
// params walk found it (a walk of its own): params._meta.traceparent when
// it is a string without escapes, at most 128 bytes quoted, else "".
func refMetaTraceparent(params json.RawMessage) string {
	var buf [maxEscapedName]byte
	for name, value := range jsonscan.Members(params) {
		if string(memberName(buf[:0], name)) != "_meta" || jsonscan.KindOf(value) != jsonscan.Object {
			continue
		}
		for name, value := range jsonscan.Members(value) {
			if string(memberName(buf[:0], name)) == "traceparent" && jsonscan.KindOf(value) == jsonscan.String &&
				len(value) >= 2 && len(value) <= 128 && !strings.Contains(string(value), `\`) {
				return string(value[1 : len(value)-1])
			}
		}
	}
	return ""
}

// variantParamNames reports whether params, or a _meta object in them, has
// a member name that is a known name spelled another way: in another case,
// or with escapes.
func variantParamNames(params []byte) bool {
	variant := func(obj []byte, known ...string) bool {
		for name := range jsonscan.Members(obj) {
			u, _ := jsonscan.Unquote(nil, name)
			for _, k := range known {
				if strings.EqualFold(string(u), k) && string(name) != `"`+k+`"` {
					return true
				}
			}
		}
		return false
	}
	if variant(params, "name", "arguments", "_meta") {
		return true
	}
	for name, value := range jsonscan.Members(params) {
		if u, _ := jsonscan.Unquote(nil, name); strings.EqualFold(string(u), "_meta") && variant(value, "progressToken") {
			return true
		}
	}
	return false
}

// sameID reports whether an echoed id is the id a request carried: a number
// byte for byte (it never passes through float64), a string as the same
// string (json.Marshal writes "<" in one as "\u003c").
func sameID(echoed, sent json.RawMessage) bool {
	if bytes.Equal(echoed, sent) {
		return true
	}
	if len(sent) == 0 || sent[0] != '"' {
		return false
	}
	var a, b string
	return json.Unmarshal(echoed, &a) == nil && json.Unmarshal(sent, &b) == nil && a == b
}
