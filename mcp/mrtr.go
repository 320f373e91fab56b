package mcp

// Multi round-trip requests (2026-07-28 basic/patterns/mrtr, SEP-2322): a
// modern server never sends the client a request of its own. A tools/call,
// prompts/get or resources/read that needs the client's input (an
// elicitation, a sampling, the roots) answers with an InputRequiredResult
// (resultType "input_required": inputRequests by key, and an opaque
// requestState); the client fulfils the requests and sends the original
// request again with inputResponses and the requestState echoed.
//
// Handlers see one API in both eras: Elicit, CreateMessage and ListRoots.
// In a legacy session they are server-to-client requests that wait for the
// answer (client_requests.go); in the modern era they return the answer of
// the retry when it carries one, and otherwise an *InputRequired error the
// handler returns as it is, which the server answers with the
// InputRequiredResult. A handler that wants its own keys, several requests
// at once, or state carried between rounds returns an *InputRequired itself
// and reads InputResponses and RequestState on the retry.
//
// The requestState is the client's to carry, not to read or change: the
// server seals it with HMAC-SHA256 under ServerOptions.StateKey, bound to
// the owner of the request (HTTPOptions.SessionOwner), the method and the
// tool, prompt or resource it names, and to an expiry. A state that fails
// any of these is refused with -32602 before the handler runs.

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"remote-mcp-authkit/internal/jsonscan"
)

// InputRequest is one request of an InputRequiredResult (schema:
// InputRequest): what the client would have been sent as a
// server-to-client request in a legacy session.
type InputRequest struct {
	Method string `json:"method"`
	Params any    `json:"params"`
}

// ElicitInput is the InputRequest of elicitation/create.
func ElicitInput(p *ElicitParams) InputRequest {
	return InputRequest{Method: "elicitation/create", Params: p}
}

// SamplingInput is the InputRequest of sampling/createMessage (deprecated
// by 2026-07-28, SEP-2577, and still served).
func SamplingInput(p *CreateMessageParams) InputRequest {
	return InputRequest{Method: "sampling/createMessage", Params: p}
}

// RootsInput is the InputRequest of roots/list (deprecated by 2026-07-28,
// SEP-2577, and still served).
func RootsInput() InputRequest { return InputRequest{Method: "roots/list", Params: struct{}{}} }

// InputRequired is the error a handler returns to answer a modern
// tools/call, prompts/get or resources/read with an InputRequiredResult.
// Requests are the input requests by key; State, when not nil, is the
// handler's own state for the retry, returned by RequestState then (sealed
// by the server: the client can neither read it usefully nor change it).
type InputRequired struct {
	Requests map[string]InputRequest
	State    []byte
}

// Error names the keys, for a log line if the error escapes a modern
// request.
func (e *InputRequired) Error() string {
	return "mcp: input required: " + strings.Join(slices.Sorted(maps.Keys(e.Requests)), ", ")
}

// errInputRequiredLegacy is what a legacy request gets when its handler
// returns *InputRequired: the legacy revisions have no such result.
var errInputRequiredLegacy = NewInternalError("internal error: an input_required result exists only in protocol version 2026-07-28")

// mrtrMethods are the requests that may answer input_required
// (basic/patterns/mrtr, "Supported Requests").
func mrtrMethod(method string) bool {
	return method == "tools/call" || method == "prompts/get" || method == "resources/read"
}

// inputCapability is the client capability an input request needs.
var inputCapability = map[string]string{
	"elicitation/create":     "elicitation",
	"sampling/createMessage": "sampling",
	"roots/list":             "roots",
}

// inputRequiredResult is InputRequiredResult; _meta is added by the
// modern envelope.
type inputRequiredResult struct {
	ResultType    string                  `json:"resultType"`
	InputRequests map[string]InputRequest `json:"inputRequests,omitempty"`
	RequestState  string                  `json:"requestState,omitempty"`
}

// maxRequestState bounds the requestState a client may send back.
const maxRequestState = 64 << 10

// requestStateTTL is how long a requestState stays valid: long enough for
// a person to answer an elicitation, short enough that an old one is no
// use.
const requestStateTTL = 30 * time.Minute

// mrtrInput is what a retry brought: the client's responses and the
// verified state.
type mrtrInput struct {
	responses map[string]json.RawMessage
	state     []byte

	mu   sync.Mutex
	next map[string]int // automatic keys handed out so far, by method
}

// readMRTR validates inputResponses and requestState of a modern request
// to a method that supports them (basic/patterns/mrtr, "Retrying the
// Request"): inputResponses an object of objects, requestState a string
// this server sealed for this owner, method and target.
func (s *Server) readMRTR(ctx context.Context, method string, rp *requestParams) (*mrtrInput, *JSONRPCError) {
	p := rp.x
	if p == nil || !p.hasInputResponses && !p.hasRequestState {
		return nil, nil // a first round: nothing to carry (modernPeerOf makes one when asked)
	}
	in := &mrtrInput{}
	if p.hasInputResponses {
		if jsonscan.KindOf(p.inputResponses) != jsonscan.Object {
			return nil, NewInvalidParams("invalid params: inputResponses must be an object of responses by key, not %s", kindName(jsonscan.KindOf(p.inputResponses)))
		}
		in.responses = make(map[string]json.RawMessage)
		var buf [maxEscapedName]byte
		for name, v := range jsonscan.Members(p.inputResponses) {
			key := string(memberName(buf[:0], name))
			if jsonscan.KindOf(v) != jsonscan.Object {
				return nil, NewInvalidParams("invalid params: inputResponses[%q] must be an object (the result of the input request), not %s", truncate(key, 64), kindName(jsonscan.KindOf(v)))
			}
			in.responses[key] = v
		}
	}
	if p.hasRequestState {
		if jsonscan.KindOf(p.requestState) != jsonscan.String || len(p.requestState) > maxRequestState {
			return nil, NewInvalidParams("invalid params: requestState must be the string the server sent (at most %d bytes)", maxRequestState)
		}
		state, err := s.openState(unquote(p.requestState), ownerOf(ctx), method, mrtrTarget(method, rp), time.Now())
		if err != nil {
			return nil, NewInvalidParams("invalid params: requestState %v; send the request again without inputResponses and requestState", err)
		}
		in.state = state
	}
	return in, nil
}

// mrtrTarget is what a request names: the tool, prompt or resource.
func mrtrTarget(method string, p *requestParams) string {
	if method == "resources/read" {
		if p.x == nil || p.x.uri == nil {
			return ""
		}
		return unquote(p.x.uri)
	}
	return unquote(p.name)
}

// answerInputRequired turns a handler's *InputRequired into the
// InputRequiredResult, after checking that the client declared what each
// request needs (-32021 otherwise: basic/patterns/mrtr, "Capabilities").
func (s *Server) answerInputRequired(ctx context.Context, method string, p *requestParams, ir *InputRequired) (any, *JSONRPCError) {
	if EraOf(ctx) != EraModern || !mrtrMethod(method) {
		return nil, errInputRequiredLegacy
	}
	if len(ir.Requests) == 0 && ir.State == nil {
		return nil, NewInternalError("internal error: an input_required result needs input requests or a state")
	}
	missing := map[string]any{}
	for _, r := range ir.Requests {
		c, known := inputCapability[r.Method]
		if !known {
			return nil, NewInternalError("internal error: %s is not an input request", r.Method)
		}
		if !ClientHasCapability(ctx, c) {
			missing[c] = struct{}{}
		}
	}
	if len(missing) > 0 {
		return nil, NewMissingRequiredClientCapability(missing)
	}
	res := &inputRequiredResult{ResultType: "input_required", InputRequests: ir.Requests}
	if ir.State != nil {
		res.RequestState = s.sealState(ir.State, ownerOf(ctx), method, mrtrTarget(method, p), time.Now().Add(requestStateTTL))
	}
	return res, nil
}

// stateMAC is HMAC-SHA256 under the server's state key over a label, the
// owner, method and target (each length-prefixed, so that no two
// different triples read the same) and the payload.
func (s *Server) stateMAC(payload []byte, owner, method, target string) []byte {
	m := hmac.New(sha256.New, s.stateKey)
	m.Write([]byte("MCP requestState v1\x00"))
	for _, f := range []string{owner, method, target} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	m.Write(payload)
	return m.Sum(nil)
}

// sealState returns the requestState carrying state: base64url of the
// expiry (8 bytes, Unix seconds) and state, a dot, base64url of the MAC.
func (s *Server) sealState(state []byte, owner, method, target string, expires time.Time) string {
	payload := binary.BigEndian.AppendUint64(nil, uint64(expires.Unix()))
	payload = append(payload, state...)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(s.stateMAC(payload, owner, method, target))
}

// errStateTampered and errStateExpired say why a requestState is refused.
var (
	errStateTampered = errors.New("failed its integrity check (it was changed, or was issued for another user or request)")
	errStateExpired  = errors.New("has expired")
)

// openState verifies a requestState and returns the state it carries.
func (s *Server) openState(v, owner, method, target string, now time.Time) ([]byte, error) {
	p64, m64, ok := strings.Cut(v, ".")
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if !ok || err1 != nil || err2 != nil || len(payload) < 8 || !hmac.Equal(mac, s.stateMAC(payload, owner, method, target)) {
		return nil, errStateTampered
	}
	if now.Unix() > int64(binary.BigEndian.Uint64(payload)) {
		return nil, errStateExpired
	}
	return payload[8:], nil
}

// newStateKey is the key of a server given none: random, so the states
// it seals are good for this process only.
func newStateKey() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(err)
	}
	return k
}

func mrtrFromContext(ctx context.Context) *mrtrInput {
	if rs := requestFromContext(ctx); rs != nil {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		return rs.mrtr
	}
	return nil
}

// InputResponses returns the responses, by key, that the retry of a modern
// request in ctx carries (inputResponses), or nil.
func InputResponses(ctx context.Context) map[string]json.RawMessage {
	if in := mrtrFromContext(ctx); in != nil {
		return in.responses
	}
	return nil
}

// RequestState returns the state a handler put in its *InputRequired, as
// the retry of the request in ctx brought it back, verified; nil on a first
// round.
func RequestState(ctx context.Context) []byte {
	if in := mrtrFromContext(ctx); in != nil {
		return in.state
	}
	return nil
}

// modernPeer makes Elicit, CreateMessage and ListRoots work in a modern
// request: the n-th request of a method has the key "<method>-<n>"; a
// retry's response under that key is the answer, and without one the
// request becomes an *InputRequired.
type modernPeer struct {
	ctx context.Context
	in  *mrtrInput
}

func (m modernPeer) ClientCapabilities() json.RawMessage { return ClientCapabilitiesFromContext(m.ctx) }

func (m modernPeer) Request(_ context.Context, method string, params any) (json.RawMessage, error) {
	m.in.mu.Lock()
	if m.in.next == nil {
		m.in.next = make(map[string]int)
	}
	m.in.next[method]++
	key := fmt.Sprintf("%s-%d", strings.ReplaceAll(method, "/", "-"), m.in.next[method])
	m.in.mu.Unlock()
	if r, ok := m.in.responses[key]; ok {
		return r, nil
	}
	return nil, &InputRequired{Requests: map[string]InputRequest{key: {Method: method, Params: params}}}
}

// modernPeerOf returns the peer of a modern request that may answer
// input_required, or nil.
func modernPeerOf(ctx context.Context) clientPeer {
	rs := requestFromContext(ctx)
	if rs == nil || !rs.mrtrOK {
		return nil
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.mrtr == nil {
		rs.mrtr = &mrtrInput{} // a first round
	}
	return modernPeer{ctx: ctx, in: rs.mrtr}
}
