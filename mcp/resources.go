package mcp

// Resources: MCP 2025-11-25, server/resources.mdx. A server exposes data
// (files, records, anything with a URI) that a client reads into the
// model's context. This file holds the method logic for resources/list,
// resources/templates/list, resources/read, resources/subscribe and
// resources/unsubscribe, and the URI template matching (RFC 6570) behind
// templated resources.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Resource describes one directly listed resource (schema: Resource).
type Resource struct {
	URI         string `json:"uri"`
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	MimeType    string `json:"mimeType,omitempty"`
	// Size is the size of the raw content in bytes, before base64, if known;
	// clients use it to show sizes and estimate context window usage.
	Size int64 `json:"size,omitempty"`
	// Annotations as the schema defines them (audience, priority, lastModified).
	Annotations json.RawMessage `json:"annotations,omitempty"`
	Meta        json.RawMessage `json:"_meta,omitempty"`
}

// ResourceTemplate describes a family of resources whose URIs follow an
// RFC 6570 URI template (schema: ResourceTemplate), such as
// "file:///{path}". Variables are matched in their simple form, {name},
// which stops at '/', '?' and '#', and in their reserved form, {+name},
// which may span '/'.
type ResourceTemplate struct {
	URITemplate string          `json:"uriTemplate"`
	Name        string          `json:"name"`
	Title       string          `json:"title,omitempty"`
	Description string          `json:"description,omitempty"`
	MimeType    string          `json:"mimeType,omitempty"`
	Annotations json.RawMessage `json:"annotations,omitempty"`
	Meta        json.RawMessage `json:"_meta,omitempty"`
}

// ReadResourceFunc reads a resource. For a resource registered with
// AddResource, vars is nil; for one that matched a template, vars holds the
// template's variables, percent-decoded. Returning an error that wraps
// ErrResourceNotFound answers -32002 "Resource not found" (a template
// matched, but nothing exists under that name); a *JSONRPCError is answered
// as it is; any other error is logged and answers -32603 without its text.
type ReadResourceFunc func(ctx context.Context, uri string, vars map[string]string) ([]ResourceContents, error)

// ErrResourceNotFound is wrapped by a ReadResourceFunc for a URI that names
// nothing; the server answers it with -32002 in the legacy era and -32602
// in the modern one (resources, "Error Handling").
var ErrResourceNotFound = errors.New("resource not found")

// CodeResourceNotFound is the legacy era's JSON-RPC error code for a
// resource URI that names nothing (2025-11-25 server/resources, "Error
// Handling"). 2026-07-28 answers -32602 (Invalid params) instead and
// reserves -32002 (basic/index, "Error Codes"), which modern requests
// therefore never see.
const CodeResourceNotFound = -32002

// errorWithData attaches data, a JSON value, to a JSON-RPC error.
func errorWithData(e *JSONRPCError, data any) *JSONRPCError {
	e.Data, _ = json.Marshal(data) // the data here are maps of strings
	return e
}

// maxURIBytes bounds a URI in any request; resource URIs are identifiers,
// not payloads.
const maxURIBytes = 4096

// maxSubscriptionsPerSession bounds resources/subscribe, so that one client
// cannot grow the server's memory without limit.
const maxSubscriptionsPerSession = 1024

// updateNotifier is the part of a session the resource table needs: somewhere to
// send notifications/resources/updated. A *Session is one.
type updateNotifier interface {
	Notify(ctx context.Context, method string, params any) error
}

// resourceTable is a Server's resources: the directly listed ones in
// registration order, the templates, and each session's subscriptions.
type resourceTable struct {
	mu        sync.RWMutex
	resources []resourceEntry
	byURI     map[string]int // index into resources
	templates []templateEntry
	// subs maps a subscribed URI to the sessions subscribed to it;
	// perSession counts each session's subscriptions for the limit.
	subs       map[string]map[updateNotifier]struct{}
	perSession map[updateNotifier]int
	// watched holds the sessions whose end is being waited for, so that
	// their subscriptions are dropped then.
	watched map[updateNotifier]bool
}

type resourceEntry struct {
	Resource
	read ReadResourceFunc
}

type templateEntry struct {
	ResourceTemplate
	match *uriTemplate
	read  ReadResourceFunc
}

func newResourceTable() *resourceTable {
	return &resourceTable{
		byURI:      map[string]int{},
		subs:       map[string]map[updateNotifier]struct{}{},
		perSession: map[updateNotifier]int{},
		watched:    map[updateNotifier]bool{},
	}
}

// add registers or replaces a resource. It panics on a registration error,
// as http.ServeMux does for a bad pattern: these are programming mistakes,
// found the first time the program runs.
func (t *resourceTable) add(r Resource, read ReadResourceFunc) {
	if r.URI == "" || r.Name == "" || read == nil {
		panic("mcp: AddResource needs a URI, a Name and a ReadResourceFunc")
	}
	if _, err := url.Parse(r.URI); err != nil {
		panic(fmt.Sprintf("mcp: AddResource: bad URI %q: %v", r.URI, err))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if i, ok := t.byURI[r.URI]; ok {
		t.resources[i] = resourceEntry{r, read}
		return
	}
	t.byURI[r.URI] = len(t.resources)
	t.resources = append(t.resources, resourceEntry{r, read})
}

// remove drops a resource; it reports whether there was one.
func (t *resourceTable) remove(uri string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.byURI[uri]
	if !ok {
		return false
	}
	t.resources = slices.Delete(t.resources, i, i+1)
	delete(t.byURI, uri)
	for j := i; j < len(t.resources); j++ {
		t.byURI[t.resources[j].URI] = j
	}
	return true
}

func (t *resourceTable) addTemplate(rt ResourceTemplate, read ReadResourceFunc) {
	if rt.URITemplate == "" || rt.Name == "" || read == nil {
		panic("mcp: AddResourceTemplate needs a URITemplate, a Name and a ReadResourceFunc")
	}
	m, err := parseURITemplate(rt.URITemplate)
	if err != nil {
		panic("mcp: AddResourceTemplate: " + err.Error())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.templates {
		if t.templates[i].URITemplate == rt.URITemplate {
			t.templates[i] = templateEntry{rt, m, read}
			return
		}
	}
	t.templates = append(t.templates, templateEntry{rt, m, read})
}

// templateVariables returns the variable names of a registered template, or
// false when no template has exactly that text. Completion uses it to check
// a ref/resource reference.
func (t *resourceTable) templateVariables(uriTemplate string) ([]string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, e := range t.templates {
		if e.URITemplate == uriTemplate {
			return e.match.names, true
		}
	}
	return nil, false
}

// ListResourcesResult is the result of resources/list (schema:
// ListResourcesResult).
type ListResourcesResult struct {
	Resources  []Resource `json:"resources"`
	NextCursor string     `json:"nextCursor,omitempty"`
}

// ListResourceTemplatesResult is the result of resources/templates/list
// (schema: ListResourceTemplatesResult).
type ListResourceTemplatesResult struct {
	ResourceTemplates []ResourceTemplate `json:"resourceTemplates"`
	NextCursor        string             `json:"nextCursor,omitempty"`
}

// ReadResourceResult is the result of resources/read (schema:
// ReadResourceResult).
type ReadResourceResult struct {
	Contents []ResourceContents `json:"contents"`
}

// MarshalJSON writes contents as an array even when there are none, as
// the schema requires; each element encodes itself (ResourceContents).
func (r ReadResourceResult) MarshalJSON() ([]byte, error) {
	type plain ReadResourceResult // without this method
	if r.Contents == nil {
		r.Contents = []ResourceContents{}
	}
	return json.Marshal(plain(r))
}

func (t *resourceTable) list(params json.RawMessage, pageSize int) (any, error) {
	var p listParams
	if merr := DecodeParams(params, &p); merr != nil {
		return nil, merr
	}
	t.mu.RLock()
	all := make([]Resource, len(t.resources))
	for i, e := range t.resources {
		all[i] = e.Resource
	}
	t.mu.RUnlock()
	items, next, merr := listPage("resources", all, p.Cursor, pageSize)
	if merr != nil {
		return nil, merr
	}
	return &ListResourcesResult{Resources: items, NextCursor: next}, nil
}

func (t *resourceTable) listTemplates(params json.RawMessage, pageSize int) (any, error) {
	var p listParams
	if merr := DecodeParams(params, &p); merr != nil {
		return nil, merr
	}
	t.mu.RLock()
	all := make([]ResourceTemplate, len(t.templates))
	for i, e := range t.templates {
		all[i] = e.ResourceTemplate
	}
	t.mu.RUnlock()
	items, next, merr := listPage("templates", all, p.Cursor, pageSize)
	if merr != nil {
		return nil, merr
	}
	return &ListResourceTemplatesResult{ResourceTemplates: items, NextCursor: next}, nil
}

// uriParams are the params of resources/read, subscribe and unsubscribe.
type uriParams struct {
	URI string `json:"uri"`
}

func decodeURIParams(params json.RawMessage) (string, error) {
	var p uriParams
	if merr := DecodeParams(params, &p); merr != nil {
		return "", merr
	}
	switch {
	case p.URI == "":
		return "", NewInvalidParams("Missing required parameter: uri")
	case len(p.URI) > maxURIBytes:
		return "", NewInvalidParams("uri is longer than %d bytes", maxURIBytes)
	}
	return p.URI, nil
}

// resourceNotFound is the error of resources/read for an unknown URI, in
// the exact form server/resources, "Error Handling" shows for the era of
// the request: -32002 for legacy sessions, -32602 for 2026-07-28 (its
// changelog, minor change 6).
func resourceNotFound(ctx context.Context, uri string) *JSONRPCError {
	code := CodeResourceNotFound
	if EraOf(ctx) == EraModern {
		code = CodeInvalidParams
	}
	return errorWithData(&JSONRPCError{Code: code, Message: "Resource not found"}, map[string]string{"uri": uri})
}

// lookup finds what serves uri: a direct resource first, then the first
// template (in registration order) that matches.
func (t *resourceTable) lookup(uri string) (ReadResourceFunc, map[string]string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if i, ok := t.byURI[uri]; ok {
		return t.resources[i].read, nil, true
	}
	for _, e := range t.templates {
		if vars, ok := e.match.match(uri); ok {
			return e.read, vars, true
		}
	}
	return nil, nil, false
}

func (t *resourceTable) read(ctx context.Context, params json.RawMessage) (any, error) {
	uri, merr := decodeURIParams(params)
	if merr != nil {
		return nil, merr
	}
	read, vars, ok := t.lookup(uri)
	if !ok {
		return nil, resourceNotFound(ctx, uri)
	}
	contents, err := read(ctx, uri, vars)
	switch {
	case errors.Is(err, ErrResourceNotFound):
		return nil, resourceNotFound(ctx, uri)
	case err != nil:
		var rpcErr *JSONRPCError
		if errors.As(err, &rpcErr) {
			return nil, rpcErr
		}
		return nil, fmt.Errorf("reading %s: %w", uri, err) // logged; the client sees -32603
	}
	if contents == nil {
		contents = []ResourceContents{}
	}
	for i := range contents {
		if contents[i].URI == "" {
			contents[i].URI = uri
		}
	}
	return &ReadResourceResult{Contents: contents}, nil
}

// subscribe records that session wants notifications/resources/updated for
// a URI (resources, "Subscriptions"). Only a URI the server can read may be
// subscribed to, so a typo answers -32002 instead of silence forever.
func (t *resourceTable) subscribe(session updateNotifier, params json.RawMessage) (any, error) {
	uri, merr := decodeURIParams(params)
	if merr != nil {
		return nil, merr
	}
	if session == nil {
		return nil, NewInternalError("resources/subscribe needs a session")
	}
	if _, _, ok := t.lookup(uri); !ok {
		return nil, resourceNotFound(context.Background(), uri) // legacy only
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	set := t.subs[uri]
	if _, already := set[session]; already {
		return struct{}{}, nil
	}
	if t.perSession[session] >= maxSubscriptionsPerSession {
		return nil, NewInvalidParams("Too many subscriptions: at most %d per session", maxSubscriptionsPerSession)
	}
	if set == nil {
		set = map[updateNotifier]struct{}{}
		t.subs[uri] = set
	}
	set[session] = struct{}{}
	t.perSession[session]++
	return struct{}{}, nil
}

// unsubscribe removes a subscription; unsubscribing from something never
// subscribed to is not an error, since the end state is what was asked.
func (t *resourceTable) unsubscribe(session updateNotifier, params json.RawMessage) (any, error) {
	uri, merr := decodeURIParams(params)
	if merr != nil {
		return nil, merr
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropLocked(session, uri)
	return struct{}{}, nil
}

func (t *resourceTable) dropLocked(session updateNotifier, uri string) {
	set := t.subs[uri]
	if _, ok := set[session]; !ok {
		return
	}
	delete(set, session)
	if len(set) == 0 {
		delete(t.subs, uri)
	}
	if t.perSession[session]--; t.perSession[session] <= 0 {
		delete(t.perSession, session)
	}
}

// watch reports whether session is not yet watched for its end, and marks
// it watched: the caller then waits for the end and calls forget.
func (t *resourceTable) watch(session updateNotifier) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.watched[session] {
		return false
	}
	t.watched[session] = true
	return true
}

// forget drops every subscription of a session that has ended.
func (t *resourceTable) forget(session updateNotifier) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.watched, session)
	for uri := range t.subs {
		t.dropLocked(session, uri)
	}
}

// subscribers returns the sessions subscribed to uri.
func (t *resourceTable) subscribers(uri string) []updateNotifier {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]updateNotifier, 0, len(t.subs[uri]))
	for s := range t.subs[uri] {
		out = append(out, s)
	}
	return out
}

// resourceUpdatedParams are the params of notifications/resources/updated.
type resourceUpdatedParams struct {
	URI string `json:"uri"`
}

// notifyUpdated sends notifications/resources/updated to every session
// subscribed to uri, and only to those. A session whose Notify fails has
// gone away: its subscriptions are dropped. It returns how many sessions
// were told.
func (t *resourceTable) notifyUpdated(ctx context.Context, uri string) int {
	n := 0
	for _, s := range t.subscribers(uri) {
		if err := s.Notify(ctx, "notifications/resources/updated", resourceUpdatedParams{URI: uri}); err != nil {
			t.forget(s)
			continue
		}
		n++
	}
	return n
}

// uriTemplate is a compiled RFC 6570 template, used in reverse: to decide
// whether a URI is an expansion of the template and, if so, to recover the
// variables' values.
type uriTemplate struct {
	re    *regexp.Regexp
	names []string
}

// templateExpr matches one expression: {name} or {+name}.
var templateExpr = regexp.MustCompile(`\{([+]?)([A-Za-z0-9_]+)\}`)

// parseURITemplate compiles the subset of RFC 6570 that resource templates
// use: literal text with simple string expansions {var} (section 3.2.2:
// the value is percent-encoded, so it cannot contain '/', '?' or '#') and
// reserved expansions {+var} (section 3.2.3: reserved characters pass
// through, so a path may span '/'). Other operators are refused rather than
// matched wrongly.
func parseURITemplate(tmpl string) (*uriTemplate, error) {
	var re strings.Builder
	re.WriteString("^")
	var names []string
	last := 0
	for _, m := range templateExpr.FindAllStringSubmatchIndex(tmpl, -1) {
		lit := tmpl[last:m[0]]
		if strings.ContainsAny(lit, "{}") {
			return nil, fmt.Errorf("unsupported expression in URI template %q (only {name} and {+name})", tmpl)
		}
		re.WriteString(regexp.QuoteMeta(lit))
		name := tmpl[m[4]:m[5]]
		if slices.Contains(names, name) {
			return nil, fmt.Errorf("variable %q repeats in URI template %q", name, tmpl)
		}
		names = append(names, name)
		if tmpl[m[2]:m[3]] == "+" {
			re.WriteString(`([^?#]*)`)
		} else {
			re.WriteString(`([^/?#]+)`)
		}
		last = m[1]
	}
	lit := tmpl[last:]
	if strings.ContainsAny(lit, "{}") {
		return nil, fmt.Errorf("unsupported expression in URI template %q (only {name} and {+name})", tmpl)
	}
	re.WriteString(regexp.QuoteMeta(lit))
	re.WriteString("$")
	return &uriTemplate{re: regexp.MustCompile(re.String()), names: names}, nil
}

// match reports whether uri is an expansion of the template and returns the
// variables, percent-decoded.
func (u *uriTemplate) match(uri string) (map[string]string, bool) {
	m := u.re.FindStringSubmatch(uri)
	if m == nil {
		return nil, false
	}
	vars := make(map[string]string, len(u.names))
	for i, name := range u.names {
		v, err := url.PathUnescape(m[i+1])
		if err != nil {
			return nil, false
		}
		vars[name] = v
	}
	return vars, true
}

// serverFeatures is what resources, prompts and completion add to a Server
// (its features field): their tables, created on first registration, when
// their methods are added to the method table and their capabilities
// declared (so a server declares only what it serves). They live and die
// with their Server.
type serverFeatures struct {
	mu         sync.Mutex
	resources  *resourceTable
	prompts    *promptTable
	completion CompleteFunc
}

// notifyListChanged sends a list_changed notification (resources and
// prompts, "List Changed Notification") to every initialized session.
func notifyListChanged(s *Server, method string) {
	for _, sess := range s.Sessions() {
		if sess.ProtocolVersion() != "" {
			_ = sess.Notify(localOnly, method, nil) // a closed session needs no news; every process sends its own
		}
	}
}

// resourceTableOf returns s's resource table, creating it on first use:
// then the resources capability is declared, which lets the resources
// methods of the index (protocol.go) be served with both of its features, subscribe and
// listChanged (resources, "Capabilities").
func resourceTableOf(s *Server) *resourceTable {
	f := s.features
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.resources != nil {
		return f.resources
	}
	t := newResourceTable()
	f.resources = t
	s.AddCapability("resources", map[string]bool{"subscribe": true, "listChanged": true})
	return t
}

// AddResource serves a resource in resources/list and resources/read,
// replacing any resource with the same URI. The first call declares the
// resources capability; later calls tell connected clients that the list
// changed. It panics when r has no URI or Name, or read is nil.
func (s *Server) AddResource(r Resource, read ReadResourceFunc) {
	resourceTableOf(s).add(r, read)
	notifyListChanged(s, "notifications/resources/list_changed")
}

// AddResourceTemplate serves every URI that matches t.URITemplate through
// read, and lists t in resources/templates/list. A URI registered with
// AddResource takes precedence over a template that also matches it. It
// panics on a template this package cannot match (see ResourceTemplate).
func (s *Server) AddResourceTemplate(t ResourceTemplate, read ReadResourceFunc) {
	resourceTableOf(s).addTemplate(t, read)
	notifyListChanged(s, "notifications/resources/list_changed")
}

// RemoveResource stops serving a resource added with AddResource and tells
// connected clients that the list changed.
func (s *Server) RemoveResource(uri string) {
	if resourceTableOf(s).remove(uri) {
		notifyListChanged(s, "notifications/resources/list_changed")
	}
}

// NotifyResourceUpdated tells the sessions that subscribed to uri with
// resources/subscribe, and only those, that it changed
// (notifications/resources/updated); they may then read it again.
func (s *Server) NotifyResourceUpdated(uri string) {
	if s.opts.Relay != nil {
		if s.relayResourceUpdated(uri) == nil {
			return // delivered here too, by the relay
		}
	}
	s.resourceUpdated(uri)
}

// resourceUpdated tells this process's subscribers that uri changed.
func (s *Server) resourceUpdated(uri string) {
	f := s.features
	f.mu.Lock()
	t := f.resources
	f.mu.Unlock()
	if t != nil {
		t.notifyUpdated(context.Background(), uri)
		s.notifyListeners("notifications/resources/updated", resourceUpdatedParams{URI: uri})
	}
}

// subscribeResource answers resources/subscribe (legacy era; 2026-07-28
// replaced it with subscriptions/listen). Subscriptions end with their
// session.
func subscribeResource(t *resourceTable, _ *Server, ctx context.Context, params json.RawMessage) (any, error) {
	sess := SessionFromContext(ctx)
	if sess == nil {
		return nil, NewInternalError("resources/subscribe needs a session")
	}
	res, err := t.subscribe(sess, params)
	if err == nil && t.watch(sess) {
		go func() {
			<-sess.Done()
			t.forget(sess)
		}()
	}
	return res, err
}

// unsubscribeResource answers resources/unsubscribe (legacy era).
func unsubscribeResource(t *resourceTable, _ *Server, ctx context.Context, params json.RawMessage) (any, error) {
	sess := SessionFromContext(ctx)
	if sess == nil {
		return struct{}{}, nil
	}
	return t.unsubscribe(sess, params)
}
