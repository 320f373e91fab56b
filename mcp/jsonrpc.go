package mcp

// The JSON-RPC 2.0 codec (https://www.jsonrpc.org/specification), as MCP
// narrows it (basic/index, "Messages"): ids are strings or numbers, never
// null; params, when present, are an object.
//
// A message is decoded once, from bytes, into a small struct whose id and
// params stay json.RawMessage: the id is echoed back as the client wrote it
// (so a 20-digit integer id never passes through float64; the one rewrite is
// encoding/json's escaping of <, > and & inside a string id, which leaves
// the same string) and the params are only decoded by the handler that
// knows their shape.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"remote-mcp-authkit/internal/jsonscan"
)

// The error codes JSON-RPC 2.0 reserves (section 5.1, "Error object").
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
)

// JSONRPCError is a JSON-RPC error object (section 5.1). A MethodHandler
// returns one to choose the code the client sees; Session.Request returns one
// when the client answered a server-to-client request with an error.
type JSONRPCError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Error makes a JSONRPCError an error; the text names the code so that logs
// are useful without the data.
func (e *JSONRPCError) Error() string {
	return "jsonrpc error " + strconv.Itoa(e.Code) + ": " + e.Message
}

func newError(code int, format string, args []any) *JSONRPCError {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &JSONRPCError{Code: code, Message: msg}
}

// NewParseError returns a -32700 error: the body is not valid JSON.
func NewParseError(format string, args ...any) *JSONRPCError {
	return newError(CodeParseError, format, args)
}

// NewInvalidRequest returns a -32600 error: valid JSON, but not a valid
// request object, or a request the session cannot take now.
func NewInvalidRequest(format string, args ...any) *JSONRPCError {
	return newError(CodeInvalidRequest, format, args)
}

// NewMethodNotFound returns a -32601 error.
func NewMethodNotFound(format string, args ...any) *JSONRPCError {
	return newError(CodeMethodNotFound, format, args)
}

// NewInvalidParams returns a -32602 error. Name the offending field in the
// message ("params.name is required"): it is what a client author needs.
func NewInvalidParams(format string, args ...any) *JSONRPCError {
	return newError(CodeInvalidParams, format, args)
}

// NewInternalError returns a -32603 error. Its message reaches the client, so
// keep internals out of it and log them instead.
func NewInternalError(format string, args ...any) *JSONRPCError {
	return newError(CodeInternalError, format, args)
}

// message is one decoded JSON-RPC message: a request (Method and ID), a
// notification (Method, no ID) or a response (ID and Result or Error). ID,
// Params and Result are slices of the body they were read from.
type message struct {
	JSONRPC jsonrpcVersion
	ID      json.RawMessage
	Method  methodName
	Params  json.RawMessage
	Result  json.RawMessage
	Error   *JSONRPCError
}

func (m *message) isRequest() bool      { return m.Method != "" && m.ID != nil }
func (m *message) isNotification() bool { return m.Method != "" && m.ID == nil }
func (m *message) isResponse() bool     { return m.Method == "" }

// jsonrpcVersion records whether the "jsonrpc" member is exactly "2.0"
// (section 4). A wrong value is recorded, not refused on sight, so that
// validate reports it with the id already read.
type jsonrpcVersion bool

// methodName is a method name. The names this package and its callers use
// most are matched against constants, so that decoding them allocates
// nothing; other names are unquoted as usual.
type methodName string

var knownMethods = []string{"tools/call", "tools/list", "ping", "initialize", "notifications/initialized",
	"notifications/cancelled", "notifications/progress", "logging/setLevel", "resources/list",
	"resources/read", "resources/templates/list", "resources/subscribe", "resources/unsubscribe",
	"prompts/list", "prompts/get", "completion/complete",
	// 2026-07-28 only (server/discover, subscriptions/listen, and the
	// tasks extension's methods): a stateless client sends them often.
	"server/discover", "subscriptions/listen", "tasks/get", "tasks/update", "tasks/cancel"}

// decodeMethod reads the value of a "method" member. A value that is not a
// string becomes badMethod, which validate reports once the id is known.
func decodeMethod(v []byte) methodName {
	if jsonscan.KindOf(v) != jsonscan.String {
		return badMethod
	}
	inner := v[1 : len(v)-1]
	for _, k := range knownMethods {
		if string(inner) == k {
			return methodName(k)
		}
	}
	return methodName(unquote(v))
}

// unquote returns the text of the JSON string v, copied once.
func unquote(v []byte) string {
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	s, _ := jsonscan.Unquote(nil, v)
	return string(s)
}

// unquotedEquals reports whether unquote(v) == s, without the copy when v
// has no escapes.
func unquotedEquals(v []byte, s string) bool {
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner) == s
	}
	return unquote(v) == s
}

// badMethod marks a "method" member that is not a string.
const badMethod methodName = "\x00"

// nullID is the id of an error response to a message whose id could not be
// read (section 5: "If there was an error in detecting the id ... it MUST be
// Null").
var nullID = json.RawMessage("null")

// decodeMessage decodes and validates one JSON-RPC message object. On error
// the returned message still carries the id when it could be read, so the
// error response can echo it.
func decodeMessage(data []byte) (*message, *JSONRPCError) {
	return readMessage(data, new(message), nil)
}

// parseError is the -32700 error for a body that is not JSON. Its text is
// encoding/json's description of the first bad byte, which clients and logs
// have always seen; asking encoding/json only on this path keeps the common
// path to one scan.
func parseError(data []byte) *JSONRPCError {
	var v struct{}
	err := json.Unmarshal(data, &v)
	if err == nil { // jsonscan and encoding/json accept the same text, so never
		return NewParseError("parse error: invalid JSON")
	}
	return NewParseError("parse error: %v", err)
}

// readMessage decodes one message into m, checking that data is JSON in
// the same walk that reads its members (jsonscan.Cursor), so each byte is
// read once: invalid JSON anywhere is a parse error, whatever was read
// before it. When p is not nil, an object params is read into it in that
// walk too (the last params counting, as below; p is left empty when that
// one is not an object), so a caller that needs them does not walk them
// again. As with encoding/json, the last of repeated members wins, unknown
// members are ignored and a null message is an object with no members.
// Unlike encoding/json, member names match exactly (after unescaping):
// JSON-RPC names its members case-sensitively, so "METHOD" is an unknown
// member, not the method. It returns m, or nil when no id can be echoed.
// A p given must be empty (and its x, if set): it is cleared only for a
// repeated params member, so that a request's one params object costs no
// clearing of state that is already zero.
func readMessage(data []byte, m *message, p *requestParams) (*message, *JSONRPCError) {
	c := jsonscan.NewCursor(data)
	switch k := c.Kind(); k {
	case jsonscan.Object:
	case jsonscan.Null:
		if c.Value(); !c.Done() {
			return nil, parseError(data)
		}
		return m, m.validate()
	default:
		if c.Value(); !c.Done() {
			return nil, parseError(data)
		}
		return nil, NewInvalidRequest("invalid request: a JSON-RPC message must be a JSON object, got %s", kindName(k))
	}
	var method []byte         // decoded once, after the walk: only the last one counts
	var typeErr *JSONRPCError // the first member of the wrong type, as encoding/json reports it
	paramsRead := false       // p holds an earlier params member's
	var buf [maxEscapedName]byte
	for name := range c.Members() {
		switch string(memberName(buf[:0], name)) {
		case "jsonrpc":
			m.JSONRPC = string(c.Value()) == `"2.0"`
		case "id":
			m.ID = c.Value()
		case "method":
			method = c.Value()
		case "params":
			if p == nil {
				m.Params = c.Value()
				break
			}
			if paramsRead {
				p.reset() // the last params counts
			}
			paramsRead = true
			if c.Kind() != jsonscan.Object {
				m.Params = c.Value()
				break
			}
			at := c.Offset()
			p.readFrom(&c)
			m.Params = c.Since(at)
		case "result":
			m.Result = c.Value()
		case "error":
			if v := c.Value(); v != nil {
				if err := m.decodeError(v); err != nil && typeErr == nil {
					typeErr = err
				}
			}
		}
	}
	if !c.Done() {
		return nil, parseError(data)
	}
	if method != nil {
		m.Method = decodeMethod(method)
	}
	if typeErr != nil {
		if !validID(m.ID) {
			return nil, typeErr
		}
		return m, typeErr // keep the id, so the error response can name the request
	}
	err := m.validate()
	if err != nil && m.ID != nil && !validID(m.ID) {
		m.ID = nil // never echo an id MCP does not allow
	}
	return m, err
}

// decodeError decodes the value of an "error" member (section 5.1) with
// encoding/json: responses are rare, and its field names and type errors
// are then those the JSONRPCError type declares. A repeated member decodes
// over the previous one and null clears it, as a pointer field would.
func (m *message) decodeError(v []byte) *JSONRPCError {
	err := json.Unmarshal(v, &m.Error)
	if err == nil {
		return nil
	}
	field, value := "error", "invalid JSON"
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			field += "." + te.Field
		}
		value = te.Value
	}
	return NewInvalidRequest("invalid request: field %q must not be %s", field, truncate(value, maxEchoedName))
}

// maxEscapedName bounds the member names worth unescaping: the longest name
// this package reads (MetaClientCapabilities) written entirely as \uXXXX
// escapes.
const maxEscapedName = 6 * len(MetaClientCapabilities)

// memberName returns the text of the quoted member name, for comparison
// with the names a decoder knows. A name without escapes is its own text
// (bytes of a name that are not ASCII cannot spell an ASCII name); an
// escaped one is unquoted into buf, and one too long to be a known name
// returns nil.
func memberName(buf, name []byte) []byte {
	inner := name[1 : len(name)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner
	}
	if len(inner) > maxEscapedName {
		return nil
	}
	u, _ := jsonscan.Unquote(buf, name)
	return u
}

// trimLeadingSpace drops the whitespace RFC 8259 allows before a value
// (section 2: space, tab, LF, CR).
func trimLeadingSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// kindName names a kind as encoding/json's type errors do.
func kindName(k jsonscan.Kind) string {
	switch k {
	case jsonscan.Object:
		return "object"
	case jsonscan.Array:
		return "array"
	case jsonscan.String:
		return "string"
	case jsonscan.Number:
		return "number"
	case jsonscan.True, jsonscan.False:
		return "bool"
	}
	return "null"
}

// validID reports whether id is a string or a number, the two forms MCP
// allows (basic/index, "Requests": "Unlike base JSON-RPC, the ID MUST NOT be
// null").
func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return false
	}
	c := id[0]
	// A string id is echoed as written, so it must be valid UTF-8 for the
	// response to be JSON text at all (RFC 8259 s8.1).
	return (c == '"' && utf8.Valid(id)) || c == '-' || (c >= '0' && c <= '9')
}

func (m *message) validate() *JSONRPCError {
	if !m.JSONRPC {
		return NewInvalidRequest(`invalid request: field "jsonrpc" must be "2.0"`)
	}
	if m.ID != nil && !validID(m.ID) {
		id := m.ID
		m.ID = nil
		return NewInvalidRequest("invalid request: field \"id\" must be a string or a number, got %s", truncate(id, 32))
	}
	if m.Method == badMethod {
		return NewInvalidRequest(`invalid request: field "method" must be a string`)
	}
	if m.Method != "" {
		if m.Result != nil || m.Error != nil {
			return NewInvalidRequest(`invalid request: a request or notification must not carry "result" or "error"`)
		}
		if len(m.Params) > 0 {
			if bytes.Equal(m.Params, nullID) {
				m.Params = nil // treat an explicit null like absent params
			} else if m.Params[0] != '{' {
				return NewInvalidParams(`invalid params: field "params" must be a JSON object`)
			}
		}
		return nil
	}
	// A response (section 5): exactly one of result and error, and an id.
	switch {
	case m.Result == nil && m.Error == nil:
		return NewInvalidRequest(`invalid request: message has no "method", "result" or "error"`)
	case m.Result != nil && m.Error != nil:
		return NewInvalidRequest(`invalid request: a response must not carry both "result" and "error"`)
	case m.ID == nil:
		return NewInvalidRequest(`invalid request: a response must carry the "id" of its request`)
	}
	return nil
}

// truncate returns the first n bytes of b (fewer, so as not to cut a
// UTF-8 sequence), and "..." when there were more, for quoting a client's
// input in an error: an error never echoes more of it than that.
func truncate[T ~string | ~[]byte](b T, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "..."
}

// maxEchoedName bounds how much of a name a client sent (a tool, method,
// prompt or argument name, a URI) an error quotes: 128 bytes, the longest
// tool name the specification recommends (server/tools, "Tool Names").
const maxEchoedName = 128

// decodedBody is the content of one HTTP body: a single message or a batch
// (section 6). For a batch, errs[i] is the validation error of msgs[i].
type decodedBody struct {
	batch bool
	msgs  []*message
	errs  []*JSONRPCError
}

// A single message is returned on its own, not in decodedBody, sparing two
// slices per request on the hot path.

// maxBatch bounds a batch. The body limit alone does not: 4 MiB of
// 48-byte tools/list requests is 89,000 requests whose answers fill
// hundreds of megabytes. Section 6 sets no limit; clients batch a few.
const maxBatch = 100

// decodeBody decodes one HTTP body. A body that is not JSON at all is a
// parse error for the whole body; inside a batch each element is validated
// on its own, as section 6 shows. A single message is checked for validity
// in the walk that reads it (readMessage); a batch is scanned for validity
// once, and its messages are then read in place.
func decodeBody(data []byte) (decodedBody, *message, *JSONRPCError) {
	trimmed := trimLeadingSpace(data)
	if jsonscan.KindOf(trimmed) != jsonscan.Array {
		m, err := readMessage(data, new(message), nil)
		return decodedBody{}, m, err
	}
	if !jsonscan.Valid(data) {
		return decodedBody{}, nil, parseError(data)
	}
	n := 0
	for range jsonscan.Elements(trimmed) {
		n++
	}
	if n == 0 {
		return decodedBody{}, nil, NewInvalidRequest("invalid request: empty batch")
	}
	if n > maxBatch {
		return decodedBody{}, nil, NewInvalidRequest("invalid request: a batch may hold at most %d messages, this one has %d", maxBatch, n)
	}
	d := decodedBody{batch: true, msgs: make([]*message, 0, n), errs: make([]*JSONRPCError, 0, n)}
	for e := range jsonscan.Elements(trimmed) {
		m, err := readMessage(e, new(message), nil)
		d.msgs = append(d.msgs, m)
		d.errs = append(d.errs, err)
	}
	return d, nil, nil
}

// Outgoing messages. Each is written with one json.Marshal call, except
// the common responses, which response_json.go appends by hand.

type wireResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *JSONRPCError   `json:"error,omitempty"`
}

type wireRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  any             `json:"params,omitempty"`
}

// emptyResult is the result of requests that return nothing (ping,
// logging/setLevel): schema EmptyResult, an object.
var emptyResult = struct{}{}

// encodeResponse encodes a response with either a result or an error.
// The common results are appended by hand (response_json.go) into a buffer
// of their own, which the caller may keep (a resumable stream replays it);
// json.Marshal writes the others, and the same bytes for the common ones.
func encodeResponse(id json.RawMessage, result any, rpcErr *JSONRPCError) []byte {
	if id == nil {
		id = nullID
	}
	if rpcErr == nil && result == nil {
		result = emptyResult
	}
	if b, ok := appendResponse(make([]byte, 0, responseSize(id, result, rpcErr)), id, result, rpcErr); ok {
		return b
	}
	b, err := json.Marshal(&wireResponse{JSONRPC: "2.0", ID: id, Result: result, Error: rpcErr})
	if err != nil {
		b, _ = json.Marshal(&wireResponse{JSONRPC: "2.0", ID: id,
			Error: NewInternalError("internal error: result could not be encoded")})
	}
	return b
}

// encodeNotification encodes a notification; params may be nil.
func encodeNotification(method string, params any) ([]byte, error) {
	return json.Marshal(&wireRequest{JSONRPC: "2.0", Method: method, Params: params})
}
