package main

// The product's metrics (served at /metrics on the admin listener): what
// each layer reports, counted with the bounded labels internal/metrics
// requires. No user id, client id or token is ever a label value.

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"remote-mcp-authkit/audit"
	"remote-mcp-authkit/internal/metrics"
	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/tools"
)

// opsMetrics is every metric the product keeps.
type opsMetrics struct {
	reg *metrics.Registry

	httpDuration *metrics.HistogramVec // route, status
	mcpRequests  *metrics.CounterVec   // method, era, outcome
	toolCalls    *metrics.CounterVec   // tool, outcome
	toolDuration *metrics.HistogramVec // tool
	oauthEvents  *metrics.CounterVec   // event, grant_type
	rateLimited  *metrics.CounterVec   // limit, name
	upstreamReqs *metrics.CounterVec   // service, operation, outcome
	upstreamDur  *metrics.HistogramVec // service, operation
	storeErrors  *metrics.CounterVec   // op
	auditEvents  *metrics.CounterVec   // action
}

func newOpsMetrics() *opsMetrics {
	r := metrics.NewRegistry()
	m := &opsMetrics{reg: r}
	m.httpDuration = r.NewHistogramVec("http_request_duration_seconds",
		"HTTP requests on the public listener by route and status, and how long they took (streams: until they ended).",
		metrics.DurationBuckets, "route", "status")
	m.mcpRequests = r.NewCounterVec("mcp_requests_total",
		"MCP (JSON-RPC) requests answered, by method, protocol era and outcome (ok, cancelled, or the JSON-RPC error).",
		"method", "era", "outcome")
	m.toolCalls = r.NewCounterVec("mcp_tool_calls_total",
		"tools/call by tool and outcome (ok, error, invalid, refused, rate_limited).", "tool", "outcome")
	m.toolDuration = r.NewHistogramVec("mcp_tool_call_duration_seconds",
		"How long tools/call took, by tool (schema check and handler).", metrics.DurationBuckets, "tool")
	m.oauthEvents = r.NewCounterVec("oauth_events_total",
		"Authorization server events: client.registered, user.consented, user.signed_in (authorizations), token.issued (by grant_type), token.reused (refresh token reuse detected), grant.revoked, account.signed_in.",
		"event", "grant_type")
	m.rateLimited = r.NewCounterVec("ratelimit_refusals_total",
		"Requests refused by a rate limit: limit=tool (name: the tool) or limit=oauth (name: the endpoint).", "limit", "name")
	m.upstreamReqs = r.NewCounterVec("upstream_requests_total",
		"Calls to WorkOS and to the image service by operation and outcome (ok, client_error, server_error, rate_limited, timeout, error).",
		"service", "operation", "outcome")
	m.upstreamDur = r.NewHistogramVec("upstream_request_duration_seconds",
		"How long calls to WorkOS and to the image service took.", metrics.DurationBuckets, "service", "operation")
	m.storeErrors = r.NewCounterVec("store_errors_total",
		"OAuth store operations that failed (not counting records not found), by operation.", "op")
	m.auditEvents = r.NewCounterVec("audit_events_total", "Audit events recorded (logged), by action.", "action")
	r.NewGaugeFunc("go_goroutines", "Goroutines that currently exist.", nil, func() []metrics.Sample {
		return []metrics.Sample{{Value: float64(runtime.NumGoroutine())}}
	})
	return m
}

// watchMCP adds the gauges of what the MCP server holds open.
func (m *opsMetrics) watchMCP(s *mcp.Server) {
	m.reg.NewGaugeFunc("mcp_open", "What the MCP server holds open now: sessions (both transports), legacy_sessions (HTTP+SSE), streams (SSE connections), listeners (sessions with their standalone stream open).",
		[]string{"kind"}, func() []metrics.Sample {
			st := s.Stats()
			return []metrics.Sample{
				{Labels: []string{"sessions"}, Value: float64(st.Sessions)},
				{Labels: []string{"legacy_sessions"}, Value: float64(st.LegacySessions)},
				{Labels: []string{"streams"}, Value: float64(st.Streams)},
				{Labels: []string{"listeners"}, Value: float64(st.Listeners)},
			}
		})
}

// watchAudit adds the WorkOS audit sink's counters.
func (m *opsMetrics) watchAudit(w *audit.WorkOS) {
	m.reg.NewCounterFunc("audit_workos_events_total",
		"Audit events sent to WorkOS Audit Logs, or not: sent, dropped_queue_full, dropped_failed (every retry failed), dropped_rejected (refused, 4xx), skipped_no_organization.",
		[]string{"result"}, func() []metrics.Sample {
			st := w.Stats()
			return []metrics.Sample{
				{Labels: []string{"sent"}, Value: float64(st.Sent)},
				{Labels: []string{"dropped_queue_full"}, Value: float64(st.DroppedFull)},
				{Labels: []string{"dropped_failed"}, Value: float64(st.DroppedFailed)},
				{Labels: []string{"dropped_rejected"}, Value: float64(st.DroppedRejected)},
				{Labels: []string{"skipped_no_organization"}, Value: float64(st.SkippedNoOrg)},
			}
		})
	m.reg.NewGaugeFunc("audit_workos_queue", "Audit events waiting to be sent to WorkOS.", nil, func() []metrics.Sample {
		return []metrics.Sample{{Value: float64(w.Stats().Queued)}}
	})
}

// mcpMethods are the methods labelled by name; any other is "other", so a
// client cannot grow the label set.
var mcpMethods = map[string]bool{
	"initialize": true, "ping": true, "tools/list": true, "tools/call": true, "logging/setLevel": true,
	"resources/list": true, "resources/read": true, "resources/templates/list": true,
	"resources/subscribe": true, "resources/unsubscribe": true, "prompts/list": true, "prompts/get": true,
	"completion/complete": true, "server/discover": true, "subscriptions/listen": true,
	"tasks/get": true, "tasks/update": true, "tasks/cancel": true, "tasks/list": true, "tasks/result": true,
}

// rpcOutcome names a JSON-RPC outcome for a label.
func rpcOutcome(r mcp.RequestInfo) string {
	switch {
	case r.Cancelled:
		return "cancelled"
	case r.ErrorCode == 0:
		return "ok"
	case r.ErrorCode == -32700:
		return "parse_error"
	case r.ErrorCode == -32600:
		return "invalid_request"
	case r.ErrorCode == -32601:
		return "method_not_found"
	case r.ErrorCode == -32602:
		return "invalid_params"
	case r.ErrorCode == -32603:
		return "internal_error"
	}
	return "error"
}

func (m *opsMetrics) mcpRequest(r mcp.RequestInfo) {
	method := r.Method
	if !mcpMethods[method] {
		method = "other"
	}
	m.mcpRequests.Inc(method, r.Era, rpcOutcome(r))
}

func (m *opsMetrics) toolCall(c tools.CallInfo) {
	// c.Tool is a name from the table (the table reports no unknown
	// names), so the label set is bounded by the table.
	m.toolCalls.Inc(c.Tool, c.Outcome)
	m.toolDuration.Observe(c.Duration.Seconds(), c.Tool)
	if c.Outcome == tools.OutcomeRateLimited {
		m.rateLimited.Inc("tool", c.Tool)
	}
}

func (m *opsMetrics) oauthEvent(e oauth.Event) {
	if e.Kind == oauth.EventRateLimited {
		m.rateLimited.Inc("oauth", e.Endpoint)
		return
	}
	m.oauthEvents.Inc(e.Kind, e.GrantType)
}

// upstreamOutcome names how an upstream call ended.
func upstreamOutcome(status int, err error) string {
	switch {
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timeout")):
		return "timeout"
	case err != nil:
		return "error"
	case status == http.StatusTooManyRequests:
		return "rate_limited"
	case status >= 500:
		return "server_error"
	case status >= 400:
		return "client_error"
	}
	return "ok"
}

// workosOperation names a WorkOS API call by its path, from a fixed set.
func workosOperation(path string) string {
	switch {
	case strings.HasSuffix(path, "/user_management/authenticate"):
		return "authenticate"
	case strings.HasSuffix(path, "/user_management/sessions/revoke"):
		return "revoke_session"
	case strings.Contains(path, "/sso/jwks/"):
		return "jwks"
	case strings.Contains(path, "/organizations/"):
		return "get_organization"
	case strings.HasSuffix(path, "/audit_logs/events"):
		return "create_audit_event"
	}
	return "other"
}

// meteredTransport counts and times every request to WorkOS.
type meteredTransport struct {
	next http.RoundTripper
	m    *opsMetrics
}

func (t *meteredTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	op := workosOperation(r.URL.Path)
	res, err := t.next.RoundTrip(r)
	status := 0
	if res != nil {
		status = res.StatusCode
	}
	t.m.upstreamReqs.Inc("workos", op, upstreamOutcome(status, err))
	t.m.upstreamDur.Observe(time.Since(start).Seconds(), "workos", op)
	return res, err
}

// meterWorkOS returns hc (nil: a default client) with its transport
// counted.
func (m *opsMetrics) meterWorkOS(hc *http.Client) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		c.Timeout = 10 * time.Second // authkit.Config.Timeout's default
	}
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = &meteredTransport{next: next, m: m}
	return &c
}

// imageCall counts and times a call to the image service
// (tools.ObserveImages).
func (m *opsMetrics) imageCall(outcome string, d time.Duration) {
	m.upstreamReqs.Inc("image", "generate", outcome)
	m.upstreamDur.Observe(d.Seconds(), "image", "generate")
}

// meteredStore counts the store's failures (a record not found is an
// answer, not a failure).
type meteredStore struct {
	oauth.Store
	m *opsMetrics
}

func (s meteredStore) count(op string, err error) error {
	if err != nil && !errors.Is(err, oauth.ErrNotFound) && !errors.Is(err, context.Canceled) {
		s.m.storeErrors.Inc(op)
	}
	return err
}

func (s meteredStore) Get(ctx context.Context, kind, key string) ([]byte, error) {
	b, err := s.Store.Get(ctx, kind, key)
	return b, s.count("get", err)
}

func (s meteredStore) Put(ctx context.Context, kind, key string, value []byte, expires time.Time) error {
	return s.count("put", s.Store.Put(ctx, kind, key, value, expires))
}

func (s meteredStore) Delete(ctx context.Context, kind, key string) error {
	return s.count("delete", s.Store.Delete(ctx, kind, key))
}

func (s meteredStore) Update(ctx context.Context, kind, key string, fn func([]byte) ([]byte, time.Time, error)) error {
	// An error fn returns is the caller's decision, not the store's
	// failure; only count what the store itself reports.
	var fnErr error
	err := s.Store.Update(ctx, kind, key, func(cur []byte) ([]byte, time.Time, error) {
		next, exp, err := fn(cur)
		fnErr = err
		return next, exp, err
	})
	if err != nil && err == fnErr {
		return err
	}
	return s.count("update", err)
}

func (s meteredStore) Ping(ctx context.Context) error {
	return s.count("ping", s.Store.Ping(ctx))
}

// errCannotCount is Count's answer over a store without one.
var errCannotCount = errors.New("the store cannot count its records")

// Count forwards oauth.StoreCounter, which the authorization server looks
// for to enforce Config.MaxClients: both stores of this product have it.
func (s meteredStore) Count(ctx context.Context, kind string) (int, error) {
	c, ok := s.Store.(oauth.StoreCounter)
	if !ok {
		return 0, errCannotCount
	}
	n, err := c.Count(ctx, kind)
	return n, s.count("count", err)
}

var _ oauth.StoreCounter = meteredStore{}

// statusLabels are the status codes as label values, made once.
var statusLabels = func() (s [600]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return "other"
}
