package mcp

// Custom headers from tool parameters (2026-07-28
// basic/transports/streamable-http, "Custom Headers from Tool Parameters",
// SEP-2243): a property of a tool's inputSchema marked "x-mcp-header":
// "Region" is mirrored by the client into an Mcp-Param-Region header, and
// a server that reads the body MUST reject a call whose header is missing
// while the argument is present, malformed, or different from the body
// (HeaderMismatch, -32020, HTTP 400).

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strconv"

	"remote-mcp-authkit/internal/jsonscan"
)

// headerParam is one annotated property: the chain of properties keys that
// reaches it from the schema root, its header name and its JSON type.
type headerParam struct {
	path   []string
	header string
	typ    string
}

// maxHeaderParams bounds what one schema may annotate, and maxHeaderDepth
// how deep the properties chain may go.
const (
	maxHeaderParams = 32
	maxHeaderDepth  = 8
)

// headerParams returns the annotated properties of a schema, walking only
// properties chains ("statically reachable"). Most schemas mention no
// x-mcp-header, which one byte search settles.
func headerParams(schema json.RawMessage) []headerParam {
	if !bytes.Contains(schema, []byte(`x-mcp-header`)) {
		return nil
	}
	var out []headerParam
	var walk func(obj []byte, path []string)
	walk = func(obj []byte, path []string) {
		if len(path) > maxHeaderDepth || len(out) >= maxHeaderParams {
			return
		}
		for name, value := range jsonscan.Members(obj) {
			if !jsonscan.Equal(name, "properties") || jsonscan.KindOf(value) != jsonscan.Object {
				continue
			}
			for prop, sub := range jsonscan.Members(value) {
				if jsonscan.KindOf(sub) != jsonscan.Object {
					continue
				}
				p := append(path[:len(path):len(path)], unquote(prop))
				hp := headerParam{path: p}
				for k, v := range jsonscan.Members(sub) {
					switch {
					case jsonscan.Equal(k, "x-mcp-header") && jsonscan.KindOf(v) == jsonscan.String:
						hp.header = unquote(v)
					case jsonscan.Equal(k, "type") && jsonscan.KindOf(v) == jsonscan.String:
						hp.typ = unquote(v)
					}
				}
				if hp.header != "" && len(out) < maxHeaderParams {
					out = append(out, hp)
				}
				walk(sub, p)
			}
		}
	}
	walk(schema, nil)
	return out
}

// argumentAt returns the value at path in the arguments object, or nil.
func argumentAt(args []byte, path []string) []byte {
	cur := args
	for _, key := range path {
		var next []byte
		for name, value := range jsonscan.Members(cur) {
			if jsonscan.Equal(name, key) {
				next = value
			}
		}
		if next == nil {
			return nil
		}
		cur = next
	}
	return cur
}

// checkParamHeaders applies "Server Behavior for Custom Headers" to a
// modern tools/call: for each annotated parameter whose value is present
// (and not null) in the arguments, the Mcp-Param-{Name} header must be
// present, well formed, and equal to it (integers compared as numbers).
// The tool is looked up once per call, as the caller in ctx sees it, and
// what its listing says of task support is left in p for taskDecision.
func (s *Server) checkParamHeaders(ctx context.Context, r *http.Request, p *requestParams) *JSONRPCError {
	if s.opts.Tools == nil {
		return nil
	}
	name, args := p.toolName(), p.arguments
	var tool *Tool
	if l, ok := s.opts.Tools.(ToolLookup); ok {
		if t, found := l.LookupTool(ctx, name); found {
			tool = &t
		}
	} else {
		tools := s.opts.Tools.ListTools(ctx)
		for i := range tools {
			if tools[i].Name == name {
				tool = &tools[i]
				break
			}
		}
	}
	if tool == nil {
		return nil // CallTool answers for an unknown tool
	}
	p.ext().listing = listingOf(tool)
	for _, hp := range headerParams(tool.InputSchema) {
		v := argumentAt(args, hp.path)
		if v == nil || jsonscan.KindOf(v) == jsonscan.Null {
			continue // "Server MUST NOT expect the header"
		}
		key := headerMcpParam + hp.header
		raw := r.Header.Values(key)
		if len(raw) == 0 {
			return NewHeaderMismatch("Header mismatch: the %s header is required: arguments carry %s", key, truncate(joinPath(hp.path), 64))
		}
		got, ok := decodeHeaderValue(raw[0])
		if !ok {
			return NewHeaderMismatch("Header mismatch: the %s header value is malformed (invalid characters or Base64)", key)
		}
		if !headerMatches(got, v) {
			return NewHeaderMismatch("Header mismatch: %s header value %q does not match the body value %s", key, truncate(got, 64), truncate(string(v), 64))
		}
	}
	return nil
}

// headerMatches compares a decoded header value with a JSON argument:
// strings exactly, booleans as "true"/"false", numbers numerically ("42.0"
// equals 42, as "Server Validation" recommends).
func headerMatches(header string, v []byte) bool {
	switch jsonscan.KindOf(v) {
	case jsonscan.String:
		return unquote(v) == header
	case jsonscan.True:
		return header == "true"
	case jsonscan.False:
		return header == "false"
	case jsonscan.Number:
		a, err1 := strconv.ParseFloat(header, 64)
		b, err2 := strconv.ParseFloat(string(v), 64)
		return err1 == nil && err2 == nil && !math.IsNaN(a) && a == b
	}
	return false
}

func joinPath(path []string) string {
	b := []byte("arguments")
	for _, p := range path {
		b = append(b, '.')
		b = append(b, p...)
	}
	return string(b)
}
