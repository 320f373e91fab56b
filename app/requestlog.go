package app

// One structured log line per HTTP request on the public listener, and the
// per-request HTTP metrics: route, status, duration, the MCP method and
// tool, the user, organization and client, and the W3C trace context, so a
// line can be joined to a client's trace. Never a token, a code or a
// secret: the line is built from named fields only, never from headers or
// bodies wholesale.

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
)

// reqRecord gathers what the layers below learn about a request; the
// middleware writes it out when the request ends. Under mu: an HTTP+SSE
// message is handled after its POST was answered, and a batch's requests
// concurrently, so the MCP layer may write while the line is written (the
// line then lacks what came late; a message's answer goes on its stream).
type reqRecord struct {
	mu          sync.Mutex
	mcpMethod   string
	mcpEra      string
	tool        string
	mcpError    int
	mcpCount    int // requests in the body (a batch holds several)
	traceparent string
	user, org   string
	client      string

	// holding: records logged with the request's context (its audit
	// events) wait in held, formatted, and go out with the request line
	// in one Write. Set for a POST, which ends when it is answered (a GET
	// may be a stream that lasts for hours), until the answer turns out to
	// be a stream (statusWriter.streaming). Lines logged after that, or
	// after the request ended (a task's, an HTTP+SSE message's), are
	// written at once.
	holding bool
	held    *[]byte // pooled (fastBufs); nil when none wait
}

// maxHeld bounds the bytes a request holds (a batch of tool calls): past
// it, what waits is written with the record that would not fit, and the
// request's later records are written at once.
const maxHeld = 16 << 10

// hold appends a record's line to those the request holds and reports
// true; or, when it holds none or cannot hold this one (the line needs
// the standard handler, or there is no room), it stops holding and hands
// what it held (nil if nothing) to the caller, to write before the record.
// The record's line is appended by line (a format of fastHandler's), on
// the held buffer.
func (rec *reqRecord) hold(h *fastHandler, line func([]byte) ([]byte, bool)) (*[]byte, bool) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !rec.holding {
		return nil, false
	}
	if rec.held == nil {
		rec.held = getBuf()
	}
	bp := rec.held
	n := len(*bp)
	b, ok := line(*bp)
	*bp = b[:n]
	if ok && len(b) <= maxHeld {
		*bp = b
		return nil, true
	}
	rec.holding, rec.held = false, nil
	if n == 0 {
		h.putBuf(bp, *bp)
		return nil, false
	}
	return bp, false
}

// takeHeld ends holding and returns what was held, nil if nothing.
func (rec *reqRecord) takeHeld() *[]byte {
	rec.mu.Lock()
	bp := rec.held
	rec.holding, rec.held = false, nil
	rec.mu.Unlock()
	return bp
}

type recordKey struct{}

func recordFrom(ctx context.Context) *reqRecord {
	r, _ := ctx.Value(recordKey{}).(*reqRecord)
	return r
}

// reqContext is a request's context with its record: it answers
// recordKey itself, which spares a context.WithValue per request.
// Everything else is the request's own context's.
type reqContext struct {
	context.Context
	rec reqRecord
}

func (c *reqContext) Value(key any) any {
	if _, ok := key.(recordKey); ok {
		return &c.rec
	}
	return c.Context.Value(key)
}

// observed is what observeHTTP allocates for a request, in one piece.
type observed struct {
	ctx reqContext
	sw  statusWriter
}

// statusWriter remembers the status a handler wrote. Unwrap lets
// http.ResponseController reach the connection underneath (the MCP
// transports flush and hijack through it).
type statusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
	// held, when set, is the request record whose held lines go out at
	// the first Flush or Hijack: a streamed answer (SSE) may last long,
	// and its lines must not wait for its end.
	held *reqRecord
	fh   *fastHandler
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// streaming ends holding: the answer is a stream.
func (w *statusWriter) streaming() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rec := w.held; rec != nil {
		w.held = nil
		if bp := rec.takeHeld(); bp != nil {
			w.fh.writeHeld(bp, *bp)
		}
	}
}

// Flush and Hijack are here as well as through Unwrap, for code that
// asserts the interfaces directly.
func (w *statusWriter) Flush() {
	w.streaming()
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.streaming()
	w.hijacked = true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// routes are the route labels: each endpoint the product serves, so the
// label set is fixed whatever paths clients ask for.
var routes = []string{"/mcp", "/sse/message", "/sse", "/register", "/authorize", "/callback", "/token", "/revoke",
	"/account/revoke", "/account/signout", "/account", "/healthz", "/readyz"}

// routeOf names the route of a path under basePath.
func routeOf(basePath, path string) string {
	p, ok := strings.CutPrefix(path, basePath)
	if !ok && basePath != "" && !strings.HasPrefix(path, "/.well-known/") {
		return "other"
	}
	if ok && basePath != "" && strings.HasPrefix(path, "/.well-known/") {
		p = path
	}
	for _, r := range routes {
		if p == r {
			return r
		}
	}
	switch {
	case strings.HasPrefix(p, "/.well-known/oauth-protected-resource"):
		return "/.well-known/oauth-protected-resource"
	case strings.HasPrefix(p, "/.well-known/oauth-authorization-server"), strings.HasSuffix(p, "/.well-known/oauth-authorization-server"):
		return "/.well-known/oauth-authorization-server"
	case strings.HasPrefix(p, emulatorPrefix+"/"):
		return emulatorPrefix
	}
	return "other"
}

// validTraceparent reports whether v is a W3C trace context traceparent
// of version 00 (Trace Context s3.2): 00-<32 hex>-<16 hex>-<2 hex>, ids
// not all zero. Anything else is not logged: the header is the client's
// text.
func validTraceparent(v string) bool {
	if len(v) != 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' || v[:2] != "00" {
		return false
	}
	for i, c := range []byte(v) {
		if i == 2 || i == 35 || i == 52 {
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return v[3:35] != "00000000000000000000000000000000" && v[36:52] != "0000000000000000"
}

// observeHTTP is the outermost middleware of the public listener: HTTP
// metrics for every request, and the request log line.
func observeHTTP(m *opsMetrics, logger *slog.Logger, basePath string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		o := &observed{sw: statusWriter{ResponseWriter: w}}
		o.ctx.Context = r.Context()
		rec := &o.ctx.rec
		if tp := r.Header.Get("Traceparent"); tp != "" && validTraceparent(tp) {
			rec.traceparent = tp
		}
		logged := logger.Enabled(r.Context(), slog.LevelInfo)
		fh, _ := logger.Handler().(*fastHandler)
		if logged && fh != nil && r.Method == http.MethodPost {
			rec.holding = true
			o.sw.held, o.sw.fh = rec, fh
			// A handler that panics still gets its held lines (audit
			// events among them) out.
			defer func() {
				if bp := rec.takeHeld(); bp != nil {
					fh.writeHeld(bp, *bp)
				}
			}()
		}
		next.ServeHTTP(&o.sw, r.WithContext(&o.ctx))
		end := time.Now() // one clock reading for the duration and the line
		d := end.Sub(start)
		status := o.sw.status
		if status == 0 {
			status = http.StatusOK // net/http sends 200 for a handler that wrote nothing
		}
		route := routeOf(basePath, r.URL.Path)
		m.httpDuration.Observe(d.Seconds(), route, statusLabel(status))
		if !logged {
			return
		}
		rec.mu.Lock()
		if fh != nil {
			// The line is appended to what the request held (its audit
			// events), and all go out in one Write.
			bp := rec.held
			rec.holding, rec.held = false, nil
			if bp == nil {
				bp = getBuf()
			}
			n := len(*bp)
			b, ok := fh.appendRequestLine(*bp, end, rec, route, r.Method, status, d)
			if ok {
				rec.mu.Unlock()
				fh.end(bp, b)
				return
			}
			*bp = b[:n]
			rec.held = bp // the slow path writes them before its line
		}
		logRequestSlowly(r.Context(), logger, fh, rec, end, route, r.Method, status, d)
	})
}

// logRequestSlowly writes the request line through slog's attributes,
// after what the request held: for a line the hand-made one cannot write
// (a value that needs quoting), or a handler other than the product's.
// rec.mu is held, and unlocked here. It is kept out of line so that the
// attributes' array is on the stack only when this path is taken: every
// request passes through observeHTTP's frame, and the frames on a
// request's path decide whether its goroutine's stack must grow (a copy
// of the whole stack) after every garbage collection shrank it.
//
//go:noinline
func logRequestSlowly(ctx context.Context, logger *slog.Logger, fh *fastHandler, rec *reqRecord, end time.Time, route, method string, status int, d time.Duration) {
	var buf [14]slog.Attr
	attrs := requestAttrs(buf[:0], rec, route, method, status, d)
	var bp *[]byte
	if fh != nil {
		bp, rec.held = rec.held, nil
	}
	rec.mu.Unlock()
	if fh != nil {
		fh.write(ctx, bp, end, slog.LevelInfo, "request", attrs)
		return
	}
	logRecord(ctx, logger, slog.LevelInfo, "request", attrs...)
}

// appendRequestLine appends the request line: what h's standard handler
// writes for requestAttrs's attributes (TestRequestLineMatchesSlog holds
// the two together), without making them; false when a value needs what
// only the standard handler writes. rec.mu is held.
func (h *fastHandler) appendRequestLine(b []byte, t time.Time, rec *reqRecord, route, method string, status int, d time.Duration) ([]byte, bool) {
	if !fastTime(t) {
		return b, false
	}
	b = h.begin(b, t, slog.LevelInfo, "request")
	b = h.kvPlain(b, "route", route) // a label of routes: plain
	b, ok := h.kv(b, "method", method, true)
	b = strconv.AppendInt(h.key(b, "status"), int64(status), 10)
	b = h.duration(h.key(b, "duration"), d)
	if rec.mcpMethod != "" {
		b, ok = h.kv(b, "mcp_method", rec.mcpMethod, ok)
		b, ok = h.kv(b, "mcp_era", rec.mcpEra, ok)
		if rec.mcpCount > 1 {
			b = strconv.AppendInt(h.key(b, "mcp_batch"), int64(rec.mcpCount), 10)
		}
		if rec.mcpError != 0 {
			b = strconv.AppendInt(h.key(b, "mcp_error"), int64(rec.mcpError), 10)
		}
	}
	if rec.tool != "" {
		b, ok = h.kv(b, "tool", rec.tool, ok)
	}
	if rec.user != "" {
		b, ok = h.kv(b, "user_id", rec.user, ok)
		if rec.org != "" {
			b, ok = h.kv(b, "org_id", rec.org, ok)
		}
		b, ok = h.kv(b, "client_id", rec.client, ok)
	}
	if rec.traceparent != "" {
		b = h.kvPlain(b, "traceparent", rec.traceparent) // validTraceparent: hex digits and '-'
	}
	return h.finish(b), ok
}

// requestAttrs appends the request line's attributes to attrs; rec.mu is
// held. README's "Request log" lists them.
func requestAttrs(attrs []slog.Attr, rec *reqRecord, route, method string, status int, d time.Duration) []slog.Attr {
	attrs = append(attrs,
		slog.String("route", route), slog.String("method", method), slog.Int("status", status),
		slog.Duration("duration", d))
	if rec.mcpMethod != "" {
		attrs = append(attrs, slog.String("mcp_method", rec.mcpMethod), slog.String("mcp_era", rec.mcpEra))
		if rec.mcpCount > 1 {
			attrs = append(attrs, slog.Int("mcp_batch", rec.mcpCount))
		}
		if rec.mcpError != 0 {
			attrs = append(attrs, slog.Int("mcp_error", rec.mcpError))
		}
	}
	if rec.tool != "" {
		attrs = append(attrs, slog.String("tool", rec.tool))
	}
	if rec.user != "" {
		attrs = append(attrs, slog.String("user_id", rec.user))
		if rec.org != "" {
			attrs = append(attrs, slog.String("org_id", rec.org))
		}
		attrs = append(attrs, slog.String("client_id", rec.client))
	}
	if rec.traceparent != "" {
		attrs = append(attrs, slog.String("traceparent", rec.traceparent))
	}
	return attrs
}

// tagIdentity copies the authenticated identity into the request's record;
// it sits inside the bearer check, where the identity is known.
func tagIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec := recordFrom(r.Context()); rec != nil {
			if id := oauth.IdentityFromContext(r.Context()); id != nil {
				rec.mu.Lock()
				rec.user, rec.org, rec.client = id.Subject, id.OrganizationID, id.ClientID
				rec.mu.Unlock()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// maxLoggedTool bounds a tool name in the log: the name is the client's
// text until the table finds it.
const maxLoggedTool = 128

// recordMCP notes an answered MCP request in the request's record.
func recordMCP(ctx context.Context, info mcp.RequestInfo) {
	rec := recordFrom(ctx)
	if rec == nil {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.mcpCount++
	if rec.mcpCount > 1 {
		return // a batch: the first request names the line
	}
	rec.mcpMethod, rec.mcpEra, rec.mcpError = info.Method, info.Era, info.ErrorCode
	// The 2026-07-28 era carries the trace context in _meta; the HTTP
	// header, when the client sent one too, stays the line's.
	if rec.traceparent == "" && validTraceparent(info.TraceParent) {
		rec.traceparent = info.TraceParent
	}
	if len(rec.mcpMethod) > maxLoggedTool {
		rec.mcpMethod = rec.mcpMethod[:maxLoggedTool]
	}
	if info.Tool != "" {
		rec.tool = info.Tool
		if len(rec.tool) > maxLoggedTool {
			rec.tool = rec.tool[:maxLoggedTool]
		}
	}
}
