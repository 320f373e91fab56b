package mcp

// The decoder this package used before it read messages with jsonscan,
// kept as the reference the differential fuzz test (FuzzDecodeMessage)
// holds decodeBody to. It decodes with encoding/json into refMessage, whose
// hooks mirror the fields of message, and converts the result.

import (
	"bytes"
	"encoding/json"
	"errors"
)

type refMessage struct {
	JSONRPC refVersion      `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  refMethod       `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *JSONRPCError   `json:"error,omitempty"`
}

type refVersion bool

func (v *refVersion) UnmarshalJSON(b []byte) error {
	*v = string(b) == `"2.0"`
	return nil
}

type refMethod string

func (m *refMethod) UnmarshalJSON(b []byte) error {
	if len(b) > 2 && b[0] == '"' && b[len(b)-1] == '"' {
		inner := b[1 : len(b)-1]
		for _, k := range knownMethods {
			if string(inner) == k {
				*m = refMethod(k)
				return nil
			}
		}
	}
	var str string
	if len(b) == 0 || b[0] != '"' || json.Unmarshal(b, &str) != nil {
		*m = refMethod(badMethod)
		return nil
	}
	*m = refMethod(str)
	return nil
}

func (r *refMessage) message() *message {
	if r == nil {
		return nil
	}
	return &message{JSONRPC: jsonrpcVersion(r.JSONRPC), ID: r.ID, Method: methodName(r.Method),
		Params: r.Params, Result: r.Result, Error: r.Error}
}

func refDecodeMessage(data []byte) (*message, *JSONRPCError) {
	r := new(refMessage)
	if err := json.Unmarshal(data, r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return nil, NewInvalidRequest("invalid request: a JSON-RPC message must be a JSON object, got %s", te.Value)
			}
			if te.Field != "id" && validID(r.ID) {
				return r.message(), NewInvalidRequest("invalid request: field %q must not be %s", te.Field, te.Value)
			}
			return nil, NewInvalidRequest("invalid request: field %q must not be %s", te.Field, te.Value)
		}
		return nil, NewParseError("parse error: %v", err)
	}
	m := r.message()
	err := refValidate(m)
	if err != nil && m.ID != nil && !validID(m.ID) {
		m.ID = nil
	}
	return m, err
}

func refValidate(m *message) *JSONRPCError {
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
				m.Params = nil
			} else if m.Params[0] != '{' {
				return NewInvalidParams(`invalid params: field "params" must be a JSON object`)
			}
		}
		return nil
	}
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

func refDecodeBody(data []byte) (decodedBody, *message, *JSONRPCError) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		m, err := refDecodeMessage(data)
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
		d.msgs[i], d.errs[i] = refDecodeMessage(e)
	}
	return d, nil, nil
}

// refToolCall is how the server read tools/call params before readParams:
// DecodeParams into a struct, then the checks of callTool, and the progress
// token with a second json.Unmarshal when the params mention "_meta".
func refToolCall(params json.RawMessage) (name string, args, token json.RawMessage, err *JSONRPCError) {
	if len(params) > 0 && bytes.Contains(params, []byte(`"_meta"`)) {
		var p struct {
			Meta struct {
				ProgressToken json.RawMessage `json:"progressToken"`
			} `json:"_meta"`
		}
		if json.Unmarshal(params, &p) == nil && validID(p.Meta.ProgressToken) {
			token = p.Meta.ProgressToken
		}
	}
	var p struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if derr := DecodeParams(params, &p); derr != nil {
		rpcErr, _ := errors.AsType[*JSONRPCError](derr)
		return "", nil, token, rpcErr
	}
	if p.Name == "" {
		return "", nil, token, NewInvalidParams("invalid params: params.name is required")
	}
	if len(p.Arguments) > 0 && p.Arguments[0] != '{' && string(p.Arguments) != "null" {
		return "", nil, token, NewInvalidParams("invalid params: params.arguments must be an object")
	}
	return p.Name, p.Arguments, token, nil
}
