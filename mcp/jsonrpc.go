package mcp

// The JSON-RPC 2.0 codec (https://www.jsonrpc.org/specification), as MCP
// narrows it (basic/index, "Messages"): ids are strings or numbers, never
// null; params, when present, are an object.
//
// A message is decoded once, from bytes, into a small struct whose id and
// params stay json.RawMessage: the id is echoed back byte for byte (so a
// 20-digit integer id never passes through float64) and the params are only
// decoded by the handler that knows their shape.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
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
// notification (Method, no ID) or a response (ID and Result or Error).
type message struct {
	JSONRPC jsonrpcVersion  `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  methodName      `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *JSONRPCError   `json:"error,omitempty"`
}

func (m *message) isRequest() bool      { return m.Method != "" && m.ID != nil }
func (m *message) isNotification() bool { return m.Method != "" && m.ID == nil }
func (m *message) isResponse() bool     { return m.Method == "" }

// jsonrpcVersion records whether the "jsonrpc" member is exactly "2.0"
// (section 4) without allocating a string for it.
type jsonrpcVersion bool

// An error from UnmarshalJSON would abort decoding before the id is read,
// so a wrong value is recorded here and reported by validate.
func (v *jsonrpcVersion) UnmarshalJSON(b []byte) error {
	*v = string(b) == `"2.0"`
	return nil
}

// methodName is a method name. The names this package and its callers use
// most are matched against constants, so that decoding them allocates
// nothing; other names are unquoted as usual.
type methodName string

var knownMethods = []string{"tools/call", "tools/list", "ping", "initialize", "notifications/initialized",
	"notifications/cancelled", "notifications/progress", "logging/setLevel", "resources/list",
	"resources/read", "resources/templates/list", "resources/subscribe", "resources/unsubscribe",
	"prompts/list", "prompts/get", "completion/complete"}

func (m *methodName) UnmarshalJSON(b []byte) error {
	if len(b) > 2 && b[0] == '"' && b[len(b)-1] == '"' {
		inner := b[1 : len(b)-1]
		for _, k := range knownMethods {
			if string(inner) == k {
				*m = methodName(k)
				return nil
			}
		}
	}
	var str string
	if len(b) == 0 || b[0] != '"' || json.Unmarshal(b, &str) != nil {
		*m = badMethod // reported by validate, after the id has been read
		return nil
	}
	*m = methodName(str)
	return nil
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
	m := new(message)
	if err := json.Unmarshal(data, m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return nil, NewInvalidRequest("invalid request: a JSON-RPC message must be a JSON object, got %s", te.Value)
			}
			if te.Field != "id" && validID(m.ID) {
				// Keep the id, so the error response can name the request.
				return m, NewInvalidRequest("invalid request: field %q must not be %s", te.Field, te.Value)
			}
			return nil, NewInvalidRequest("invalid request: field %q must not be %s", te.Field, te.Value)
		}
		return nil, NewParseError("parse error: %v", err)
	}
	err := m.validate()
	if err != nil && m.ID != nil && !validID(m.ID) {
		m.ID = nil // never echo an id MCP does not allow
	}
	return m, err
}

// validID reports whether id is a string or a number, the two forms MCP
// allows (basic/index, "Requests": "Unlike base JSON-RPC, the ID MUST NOT be
// null").
func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return false
	}
	c := id[0]
	// A string id is echoed byte for byte, so it must be valid UTF-8 for
	// the response to be JSON text at all (RFC 8259 s8.1).
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

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

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
// on its own, as section 6 shows.
func decodeBody(data []byte) (decodedBody, *message, *JSONRPCError) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		m, err := decodeMessage(data)
		return decodedBody{}, m, err
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(data, &elems); err != nil {
		return decodedBody{}, nil, NewParseError("parse error: %v", err)
	}
	if len(elems) == 0 {
		return decodedBody{}, nil, NewInvalidRequest("invalid request: empty batch")
	}
	if len(elems) > maxBatch {
		return decodedBody{}, nil, NewInvalidRequest("invalid request: a batch may hold at most %d messages, this one has %d", maxBatch, len(elems))
	}
	d := decodedBody{batch: true, msgs: make([]*message, len(elems)), errs: make([]*JSONRPCError, len(elems))}
	for i, e := range elems {
		d.msgs[i], d.errs[i] = decodeMessage(e)
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
