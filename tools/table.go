package tools

// The permission-checked tool table (MCP 2025-11-25, "Server Features /
// Tools": tools/list and tools/call).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
)

// Handler runs a tool. id is the caller (never nil for a tool with
// Permissions or Organizations; it may be nil for an ungated tool called
// without authentication). args have been validated against the tool's
// InputSchema and carry its defaults. A returned error becomes an isError
// result whose text is the error's message, so the message must be written
// for the user and must not contain secrets; a *mcp.JSONRPCError is
// answered as that JSON-RPC error instead.
type Handler func(ctx context.Context, id *oauth.Identity, args json.RawMessage) (*mcp.CallToolResult, error)

// Tool is one row of a Table: what tools/list shows, who may use it, and the
// code that runs it.
type Tool struct {
	// Name is the tool's unique name: 1 to 128 characters from A-Z, a-z,
	// 0-9, '_', '-' and '.' (tools, "Tool Names").
	Name        string
	Title       string
	Description string
	// InputSchema describes the arguments; it must be of type object.
	// Arguments are validated against it before Handler runs.
	InputSchema *Schema
	// OutputSchema, when set, describes StructuredContent, which may be any
	// JSON value (MCP 2026-07-28, tools, "Structured Content"); a result
	// that does not conform is replaced by an isError result, because the
	// specification says servers MUST conform to it.
	OutputSchema *Schema
	Annotations  mcp.ToolAnnotations
	// TaskSupport is mcp.TaskOptional for a slow tool a modern client that
	// declared the tasks extension may run as a task it polls (SEP-2663),
	// mcp.TaskRequired for one that only runs so; "" or mcp.TaskForbidden
	// runs every call synchronously. Listed as execution.taskSupport.
	TaskSupport string
	// Permissions the caller must all hold (oauth.Identity.Permissions).
	Permissions []string
	// Organizations, when not empty, lists the organization ids whose
	// members may use the tool; empty means any organization, or none.
	Organizations []string
	// RateLimit is how often one user may call the tool (zero: no limit).
	// Declare it for tools that spend something scarce, such as an image
	// service's budget; the operator may change it (Table.SetRateLimit).
	RateLimit RateLimit
	Handler   Handler
}

// MaxArgumentBytes caps the JSON arguments of one call. The transport caps
// the whole request; this keeps a tool's own decoding small and says so in a
// message the model can act on.
const MaxArgumentBytes = 64 << 10

// Table is a fixed set of tools, served per caller. It implements
// mcp.ToolSet and is safe for concurrent use (it is never modified after
// NewTable).
type Table struct {
	tools    []entry
	byName   map[string]int
	log      *slog.Logger
	observer func(ctx context.Context, c CallInfo)
	now      func() time.Time
	shared   Limiter // nil: rate limits in this process only
}

// SetLimiter makes the table keep its tools' rate limits in l (a store
// shared by replicas) rather than in this process's memory; the in-process
// buckets remain the fallback when l fails. Call it before the table
// serves.
func (t *Table) SetLimiter(l Limiter) { t.shared = l }

func (t *Table) logger() *slog.Logger {
	if t.log == nil {
		return slog.Default()
	}
	return t.log
}

// SetLogger sets where each tool call is logged (who called which tool,
// and who acted as them in an impersonated session; never the arguments,
// which may hold secrets): at Info for a call in an impersonated session
// or a refused one, at Debug for the rest. The default is slog.Default().
// Call it before the table serves.
func (t *Table) SetLogger(l *slog.Logger) { t.log = l }

// logCall logs one tools/call: the audit trail of who did what. A call
// in an impersonated session, and a refused call, is logged at Info; any
// other call at Debug. Measured on tools/call add (bench/compare.sh), an
// Info line per call cost 15 to 35% of the throughput, so the ordinary
// call pays only the Enabled check.
func (t *Table) logCall(ctx context.Context, id *oauth.Identity, name string, refused error) {
	l := t.logger()
	imp := id.ImpersonatorEmail()
	level := slog.LevelDebug
	if imp != "" || refused != nil {
		level = slog.LevelInfo
	}
	if l.Enabled(ctx, level) {
		writeCallLine(ctx, l, level, id, imp, name, refused)
	}
}

// writeCallLine writes logCall's line. It is a function of its own, kept
// out of line, so that the attributes' array is on the stack only when a
// line is written: a tools/call's goroutine is deep enough that its
// frames decide whether the goroutine's stack must grow (a copy of the
// whole stack) after every garbage collection shrank it.
//
//go:noinline
func writeCallLine(ctx context.Context, l *slog.Logger, level slog.Level, id *oauth.Identity, imp, name string, refused error) {
	var buf [7]slog.Attr
	attrs := append(buf[:0], slog.String("tool", name))
	if id != nil {
		attrs = append(attrs, slog.String("user", id.Subject), slog.String("org", id.OrganizationID), slog.String("client_id", id.ClientID))
		if imp != "" {
			attrs = append(attrs, slog.String("impersonator", imp))
		}
	}
	if refused != nil {
		l.LogAttrs(ctx, level, "tools: call refused", append(attrs, slog.String("reason", refused.Error()))...)
		return
	}
	l.LogAttrs(ctx, level, "tools: call", attrs...)
}

type entry struct {
	Tool
	listed mcp.Tool // what tools/list shows, marshalled once
	// legacyOutput is false when OutputSchema describes something other
	// than an object: the legacy revisions allow only object
	// structuredContent (2025-11-25 schema: outputSchema type "object"), so
	// legacy callers see the tool without it, and its text content only.
	legacyOutput bool
	limiter      *callLimiter // nil: no limit
}

// CallInfo describes one tools/call the table answered, for metrics and
// the audit trail. It never holds the arguments, which may carry secrets.
type CallInfo struct {
	Tool     string
	Identity *oauth.Identity // nil for an unauthenticated caller
	// Outcome is one of the Outcome constants.
	Outcome  string
	Duration time.Duration
}

// Outcomes of a tools/call, as CallInfo reports them.
const (
	OutcomeOK          = "ok"           // the tool ran and succeeded
	OutcomeError       = "error"        // the tool ran and answered isError
	OutcomeInvalid     = "invalid"      // the arguments were refused before it ran
	OutcomeRefused     = "refused"      // the caller may not use the tool
	OutcomeRateLimited = "rate_limited" // the caller is past the tool's RateLimit
	OutcomeDeferred    = "deferred"     // answered input_required, or continued as a task (2026-07-28)
)

// SetObserver sets a function told of every call of a tool in the table
// (not of unknown names, which are the caller's words), after it is
// answered, on the caller's goroutine: keep it quick. Call it before the
// table serves.
func (t *Table) SetObserver(fn func(ctx context.Context, c CallInfo)) { t.observer = fn }

// allow spends one call of user's allowance of tool e: in the shared
// Limiter when there is one and it answers, else in this process.
func (t *Table) allow(ctx context.Context, e *entry, name, user string, now time.Time) (bool, time.Duration) {
	if t.shared != nil {
		ok, retry, err := t.shared.Allow(ctx, name, user, e.RateLimit, now)
		if err == nil {
			return ok, retry
		}
		t.logger().Warn("tools: the shared rate limit could not be checked; this process's own limit applies", "tool", name, "err", err)
	}
	return e.limiter.allow(user, now)
}

// SetRateLimit replaces the named tool's RateLimit (a zero one removes it),
// for an operator's configuration. Call it before the table serves.
func (t *Table) SetRateLimit(name string, l RateLimit) error {
	i, ok := t.byName[name]
	if !ok {
		return fmt.Errorf("tools: rate limit for %q: no such tool (the tools are %s)", name, strings.Join(t.Visible(&oauth.Identity{}), ", "))
	}
	t.tools[i].RateLimit = l
	t.tools[i].limiter = nil
	if !l.IsZero() {
		t.tools[i].limiter = newCallLimiter(l)
	}
	return nil
}

// RateLimits returns every tool's limit, for the operator's start-up log.
func (t *Table) RateLimits() map[string]RateLimit {
	out := make(map[string]RateLimit, len(t.tools))
	for i := range t.tools {
		out[t.tools[i].Name] = t.tools[i].RateLimit
	}
	return out
}

var _ mcp.ToolSet = (*Table)(nil)

// NewTable checks the tools and builds a table serving them in the given
// order. It refuses duplicate or malformed names, a missing handler, and
// schemas the validator could not enforce.
func NewTable(tools ...Tool) (*Table, error) {
	t := &Table{byName: make(map[string]int, len(tools)), now: time.Now}
	for _, tool := range tools {
		if err := checkName(tool.Name); err != nil {
			return nil, err
		}
		if _, dup := t.byName[tool.Name]; dup {
			return nil, fmt.Errorf("tools: tool %q is declared twice", tool.Name)
		}
		if tool.Handler == nil {
			return nil, fmt.Errorf("tools: tool %q has no handler", tool.Name)
		}
		if tool.InputSchema == nil || tool.InputSchema.Type != "object" {
			return nil, fmt.Errorf("tools: tool %q: inputSchema must be of type object", tool.Name)
		}
		if err := tool.InputSchema.check("inputSchema"); err != nil {
			return nil, fmt.Errorf("tools: tool %q: %v", tool.Name, err)
		}
		listed := mcp.Tool{Name: tool.Name, Title: tool.Title, Description: tool.Description}
		var err error
		if listed.InputSchema, err = json.Marshal(tool.InputSchema); err != nil {
			return nil, fmt.Errorf("tools: tool %q: inputSchema: %v", tool.Name, err)
		}
		if tool.OutputSchema != nil {
			// Any JSON value since MCP 2026-07-28 ("Structured Content").
			if err := tool.OutputSchema.check("outputSchema"); err != nil {
				return nil, fmt.Errorf("tools: tool %q: %v", tool.Name, err)
			}
			if listed.OutputSchema, err = json.Marshal(tool.OutputSchema); err != nil {
				return nil, fmt.Errorf("tools: tool %q: outputSchema: %v", tool.Name, err)
			}
		}
		switch tool.TaskSupport {
		case "", mcp.TaskForbidden:
		case mcp.TaskOptional, mcp.TaskRequired:
			listed.Execution = &mcp.ToolExecution{TaskSupport: tool.TaskSupport}
		default:
			return nil, fmt.Errorf("tools: tool %q: TaskSupport %q is not forbidden, optional or required", tool.Name, tool.TaskSupport)
		}
		if tool.Annotations != (mcp.ToolAnnotations{}) {
			a := tool.Annotations
			listed.Annotations = &a
		}
		for _, p := range tool.Permissions {
			if p == BaselineScope || p == oauth.ScopeOfflineAccess || !validScopeToken(p) {
				return nil, fmt.Errorf("tools: tool %q: permission %q cannot name a scope of its own (it must be a scope token other than %q and %q)", tool.Name, p, BaselineScope, oauth.ScopeOfflineAccess)
			}
		}
		tool.Permissions = slices.Clone(tool.Permissions)
		tool.Organizations = slices.Clone(tool.Organizations)
		e := entry{Tool: tool, listed: listed}
		if !tool.RateLimit.IsZero() {
			e.limiter = newCallLimiter(tool.RateLimit)
		}
		t.byName[tool.Name] = len(t.tools)
		e.legacyOutput = tool.OutputSchema == nil || tool.OutputSchema.Type == "object"
		t.tools = append(t.tools, e)
	}
	return t, nil
}

func checkName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("tools: tool name %q must be 1 to 128 characters", name)
	}
	for _, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
		if !ok {
			return fmt.Errorf("tools: tool name %q: character %q is not allowed (A-Z, a-z, 0-9, _, -, .)", name, c)
		}
	}
	return nil
}

// AccessError says why a caller may not use a tool. The server answers it
// as it answers an unknown tool, JSON-RPC -32602 (tools, "Error Handling"),
// but with this message, which names what is missing so that the person can
// ask for it: see As. It does not wrap mcp.ErrUnknownTool, whose answer is a
// generic text.
type AccessError struct {
	Tool string
	// NotSignedIn is set when the request carried no identity.
	NotSignedIn bool
	// MissingPermissions are the required permissions the caller lacks.
	MissingPermissions []string
	// Organization is the caller's organization id when the tool is limited
	// to other organizations ("" when the caller has none).
	Organization      string
	WrongOrganization bool
}

// Error says which tool is refused and what the caller lacks.
func (e *AccessError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tool %q is not available to this caller: ", e.Tool)
	switch {
	case e.NotSignedIn:
		b.WriteString("it requires a signed-in user")
	case len(e.MissingPermissions) > 0:
		q := make([]string, len(e.MissingPermissions))
		for i, p := range e.MissingPermissions {
			q[i] = fmt.Sprintf("%q", p)
		}
		if len(q) == 1 {
			fmt.Fprintf(&b, "it requires the %s permission, which this account does not have", q[0])
		} else {
			fmt.Fprintf(&b, "it requires the permissions %s, which this account does not have", strings.Join(q, ", "))
		}
	case e.WrongOrganization && e.Organization == "":
		b.WriteString("it is limited to certain organizations, and this account belongs to none")
	case e.WrongOrganization:
		fmt.Fprintf(&b, "it is limited to certain organizations, and this account's organization %q is not one of them", e.Organization)
	}
	return b.String()
}

// As lets errors.As turn the refusal into the JSON-RPC error the server
// sends: -32602 with the refusal as its message and, as data, the tool and
// what is missing, for clients that want to show it their own way.
func (e *AccessError) As(target any) bool {
	p, ok := target.(**mcp.JSONRPCError)
	if !ok {
		return false
	}
	je := mcp.NewInvalidParams("invalid params: %s", e.Error())
	je.Data, _ = json.Marshal(struct {
		Tool               string   `json:"tool"`
		MissingPermissions []string `json:"missingPermissions,omitempty"`
		NotSignedIn        bool     `json:"notSignedIn,omitempty"`
		WrongOrganization  bool     `json:"wrongOrganization,omitempty"`
	}{e.Tool, e.MissingPermissions, e.NotSignedIn, e.WrongOrganization})
	*p = je
	return true
}

// access returns nil when id may use tool, else the *AccessError (the
// person may not) or the *ScopeError (the person may, the token may not).
func access(tool *Tool, id *oauth.Identity) error {
	if err := permitted(tool, id); err != nil {
		return err
	}
	if id == nil || id.Scopes == nil {
		return nil // not limited by scopes
	}
	var missing []string
	for _, sc := range tool.scopes() {
		if !id.HasScope(sc) {
			missing = append(missing, sc)
		}
	}
	if len(missing) > 0 {
		return &ScopeError{Tool: tool.Name, MissingScopes: missing, id: id}
	}
	return nil
}

// permitted returns nil when id's permissions and organization allow tool,
// else the *AccessError.
func permitted(tool *Tool, id *oauth.Identity) error {
	if len(tool.Permissions) == 0 && len(tool.Organizations) == 0 {
		return nil
	}
	if id == nil {
		return &AccessError{Tool: tool.Name, NotSignedIn: true}
	}
	var missing []string
	for _, p := range tool.Permissions {
		if !id.HasPermission(p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return &AccessError{Tool: tool.Name, MissingPermissions: missing}
	}
	if len(tool.Organizations) > 0 && (id.OrganizationID == "" || !slices.Contains(tool.Organizations, id.OrganizationID)) {
		return &AccessError{Tool: tool.Name, WrongOrganization: true, Organization: id.OrganizationID}
	}
	return nil
}

// Visible returns the names of the tools id may see, in table order. A nil
// identity sees only the tools with neither Permissions nor Organizations.
func (t *Table) Visible(id *oauth.Identity) []string {
	var names []string
	for i := range t.tools {
		if access(&t.tools[i].Tool, id) == nil {
			names = append(names, t.tools[i].Name)
		}
	}
	return names
}

// Allowed returns nil when id may call the named tool, an *AccessError when
// the person may not, a *ScopeError when the person may but the token's
// scopes do not cover it, and an error wrapping mcp.ErrUnknownTool when there
// is no such tool.
func (t *Table) Allowed(id *oauth.Identity, name string) error {
	_, err := t.allowed(id, name)
	return err
}

// allowed is Allowed that also returns the tool, found once.
func (t *Table) allowed(id *oauth.Identity, name string) (*Tool, error) {
	i, ok := t.byName[name]
	if !ok {
		// The name is the client's, of any length up to the body's; a
		// registered name has at most 128 bytes, so that much is quoted.
		if len(name) > 128 {
			name = strings.ToValidUTF8(name[:128], "") + "..."
		}
		return nil, fmt.Errorf("%w %q", mcp.ErrUnknownTool, name)
	}
	tool := &t.tools[i].Tool
	return tool, access(tool, id)
}

// ListTools answers tools/list for the identity in ctx. It is computed on
// every call, so a permission granted or taken away shows at the next list.
func (t *Table) ListTools(ctx context.Context) []mcp.Tool {
	id := oauth.IdentityFromContext(ctx)
	legacy := mcp.SessionFromContext(ctx) != nil // a legacy request: those have a session
	out := make([]mcp.Tool, 0, len(t.tools))
	for i := range t.tools {
		if access(&t.tools[i].Tool, id) == nil {
			out = append(out, t.tools[i].listed)
			if legacy && !t.tools[i].legacyOutput {
				out[len(out)-1].OutputSchema = nil
			}
		}
	}
	return out
}

// LookupTool implements mcp.ToolLookup: the tool as ListTools would show
// it to the caller in ctx, found without listing the others.
func (t *Table) LookupTool(ctx context.Context, name string) (mcp.Tool, bool) {
	i, ok := t.byName[name]
	if !ok || access(&t.tools[i].Tool, oauth.IdentityFromContext(ctx)) != nil {
		return mcp.Tool{}, false
	}
	tool := t.tools[i].listed
	if !t.tools[i].legacyOutput && mcp.SessionFromContext(ctx) != nil {
		tool.OutputSchema = nil
	}
	return tool, true
}

var _ mcp.ToolLookup = (*Table)(nil)

// TaskSupport implements mcp.TaskSupporter: the tool's TaskSupport, or
// mcp.TaskForbidden for a tool the caller in ctx may not call (CallTool
// then refuses it at once, not in a task) or the table does not have.
func (t *Table) TaskSupport(ctx context.Context, name string) string {
	tool, err := t.allowed(oauth.IdentityFromContext(ctx), name)
	if err != nil || tool.TaskSupport == "" {
		return mcp.TaskForbidden
	}
	return tool.TaskSupport
}

var _ mcp.TaskSupporter = (*Table)(nil)

// CallTool answers tools/call for the identity in ctx: it checks access
// again, then the size and the schema of the arguments, then the caller's
// rate limit for the tool, then runs the handler. Only a refused tool
// (*AccessError, *ScopeError) or an unknown one (wrapping
// mcp.ErrUnknownTool) is an error; everything else, including the
// handler's own failures and a call past its rate limit, is a result with
// IsError set, so that the model sees it.
func (t *Table) CallTool(ctx context.Context, name string, arguments json.RawMessage) (*mcp.CallToolResult, error) {
	if t.observer == nil {
		res, _, err := t.callTool(ctx, name, arguments)
		return res, err
	}
	start := time.Now()
	res, outcome, err := t.callTool(ctx, name, arguments)
	if outcome != "" {
		t.observer(ctx, CallInfo{Tool: name, Identity: oauth.IdentityFromContext(ctx), Outcome: outcome, Duration: time.Since(start)})
	}
	return res, err
}

// callTool is CallTool, also saying how the call ended ("" for an unknown
// tool).
func (t *Table) callTool(ctx context.Context, name string, arguments json.RawMessage) (*mcp.CallToolResult, string, error) {
	id := oauth.IdentityFromContext(ctx)
	i, ok := t.byName[name]
	if !ok {
		_, err := t.allowed(id, name) // the unknown tool's error, its name bounded
		return nil, "", err
	}
	e := &t.tools[i]
	tool := &e.Tool
	if err := access(tool, id); err != nil {
		t.logCall(ctx, id, name, err)
		return nil, OutcomeRefused, err
	}
	t.logCall(ctx, id, name, nil)
	if len(arguments) > MaxArgumentBytes {
		return argumentsTooLong(len(arguments)), OutcomeInvalid, nil
	}
	args, err := tool.InputSchema.Validate(arguments)
	if err != nil {
		return ErrorResult(err.Error()), OutcomeInvalid, nil
	}
	if e.limiter != nil {
		user := ""
		if id != nil {
			user = id.Subject
		}
		now := t.now()
		if ok, retry := t.allow(ctx, e, name, user, now); !ok {
			return rateLimitedResult(name, tool.RateLimit, retry, now), OutcomeRateLimited, nil
		}
	}
	res, err := tool.Handler(ctx, id, args)
	var ir *mcp.InputRequired
	var cat *mcp.ContinueAsTask
	if errors.As(err, &ir) || errors.As(err, &cat) {
		return nil, OutcomeDeferred, err // the server answers input_required or a task (2026-07-28 basic/patterns/mrtr, SEP-2663)
	}
	if err != nil {
		// A JSON-RPC error is the protocol's answer, not the tool's
		// failure (2026-07-28: MissingRequiredClientCapability, -32021).
		if rpcErr, ok := errors.AsType[*mcp.JSONRPCError](err); ok {
			return nil, OutcomeError, rpcErr
		}
		return ErrorResult(err.Error()), OutcomeError, nil
	}
	if res == nil {
		return noResult(name), OutcomeError, nil
	}
	if tool.OutputSchema != nil && !res.IsError {
		return structuredResult(ctx, e, name, res)
	}
	if res.IsError {
		return res, OutcomeError, nil
	}
	return res, OutcomeOK, nil
}

// The paths below are functions of their own, out of line, to keep
// callTool's frame small: a tools/call's goroutine is deep, and the
// frames on its path decide whether its stack must grow (a copy of the
// whole stack) after every garbage collection shrank it.

//go:noinline
func argumentsTooLong(n int) *mcp.CallToolResult {
	return ErrorResult(fmt.Sprintf("invalid arguments: they are %d bytes long; the limit is %d", n, MaxArgumentBytes))
}

//go:noinline
func noResult(name string) *mcp.CallToolResult {
	return ErrorResult(fmt.Sprintf("tool %q returned no result", name))
}

// structuredResult checks a result's structured content against the
// tool's outputSchema, and drops it for a legacy client when it is not an
// object.
//
//go:noinline
func structuredResult(ctx context.Context, e *entry, name string, res *mcp.CallToolResult) (*mcp.CallToolResult, string, error) {
	if err := checkOutput(e.OutputSchema, res.StructuredContent); err != nil {
		return ErrorResult(fmt.Sprintf("tool %q produced a result that does not match its outputSchema: %v", name, err)), OutcomeError, nil
	}
	if !e.legacyOutput && mcp.SessionFromContext(ctx) != nil {
		// A legacy client may only be sent object structured content;
		// the text blocks carry the same value (tools, "Structured
		// Content": servers SHOULD also serialize it as text).
		c := *res
		c.StructuredContent = nil
		res = &c
	}
	return res, OutcomeOK, nil
}

func checkOutput(s *Schema, structured any) error {
	if structured == nil {
		return errors.New("structuredContent is missing")
	}
	b, err := json.Marshal(structured)
	if err != nil {
		return err
	}
	_, err = s.Validate(b)
	if ve, ok := err.(ValidationError); ok {
		return errors.New(ve.list())
	}
	return err
}

// ErrorResult is a tool result reporting a failure to the model (tools,
// "Error Handling": tool execution errors are results with isError true).
func ErrorResult(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent(text)}, IsError: true}
}

// BaselineScope is the OAuth scope of the tools anyone signed in may use
// (those without Permissions). Every permission a tool requires is a scope
// of the same name besides (Table.Scopes).
const BaselineScope = "tools:basic"

// scopes are the OAuth scopes a token needs to use the tool: one per
// required permission, or the baseline for a tool that needs none.
func (t *Tool) scopes() []string {
	if len(t.Permissions) == 0 {
		return []string{BaselineScope}
	}
	return t.Permissions
}

// Scopes derives the OAuth scopes of the table's tools, for
// oauth.Config.Scopes: the baseline (if any tool needs no permission),
// then one per permission a tool requires, in table order, each described
// by the tools it opens. A new gated tool brings its scope with it.
func (t *Table) Scopes() []oauth.Scope {
	var order []string
	users := map[string][]string{}
	for i := range t.tools {
		tool := &t.tools[i].Tool
		title := tool.Title
		if title == "" {
			title = tool.Name
		}
		for _, sc := range tool.scopes() {
			if _, ok := users[sc]; !ok {
				order = append(order, sc)
			}
			users[sc] = append(users[sc], title)
		}
	}
	slices.SortStableFunc(order, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == BaselineScope:
			return -1
		case b == BaselineScope:
			return 1
		}
		return 0
	})
	out := make([]oauth.Scope, 0, len(order))
	for _, sc := range order {
		s := oauth.Scope{Name: sc}
		if sc == BaselineScope {
			s.Description = "Use the basic tools: " + strings.Join(users[sc], ", ") + "."
		} else {
			s.Permission = sc
			s.Description = "Use the tools that need your " + sc + " permission: " + strings.Join(users[sc], ", ") + "."
		}
		out = append(out, s)
	}
	return out
}

// validScopeToken reports whether s can be a scope (RFC 6749 s3.3:
// 1*( %x21 / %x23-5B / %x5D-7E )).
func validScopeToken(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// ScopeError says that the person may use a tool but the request's token
// does not carry the scopes it needs: MCP 2026-07-28 "Runtime Insufficient
// Scope Errors". Over Streamable HTTP the answer is 403 with a
// WWW-Authenticate insufficient_scope challenge naming the scopes to ask
// for, so that the client steps up (re-authorizes with them, and the
// person approves them on the consent page); the body, and the whole
// answer where no status can be sent, is JSON-RPC -32602 naming them.
type ScopeError struct {
	Tool          string
	MissingScopes []string
	id            *oauth.Identity
}

// Error names the tool and the scopes the token lacks.
func (e *ScopeError) Error() string {
	return fmt.Sprintf("tool %q needs the OAuth scope %s, which this access token does not carry; authorize again asking for it",
		e.Tool, strings.Join(e.MissingScopes, " "))
}

// As lets errors.As turn the refusal into the answer the server sends: an
// *mcp.HTTPError (403 with the challenge) or its *mcp.JSONRPCError.
func (e *ScopeError) As(target any) bool {
	rpc := func() *mcp.JSONRPCError {
		je := mcp.NewInvalidParams("invalid params: %s", e.Error())
		je.Data, _ = json.Marshal(struct {
			Tool          string   `json:"tool"`
			MissingScopes []string `json:"missingScopes"`
		}{e.Tool, e.MissingScopes})
		return je
	}
	switch p := target.(type) {
	case **mcp.HTTPError:
		desc := "tool " + e.Tool + " needs the scope " + strings.Join(e.MissingScopes, " ")
		*p = &mcp.HTTPError{Status: http.StatusForbidden, RPC: rpc(),
			Header: http.Header{"Www-Authenticate": {oauth.InsufficientScopeChallenge(e.id, e.MissingScopes, desc)}}}
		return true
	case **mcp.JSONRPCError:
		*p = rpc()
		return true
	}
	return false
}
