package audit

// The WorkOS Audit Logs sink: POST /audit_logs/events through workos-go's
// auditlogs.Client.CreateEvent, one event per organization's log, from a
// bounded queue drained by a few workers, with retries that reuse the
// event's idempotency key.

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/workos/workos-go/v4/pkg/auditlogs"
	"github.com/workos/workos-go/v4/pkg/workos_errors"
)

// WorkOSConfig configures a WorkOS sink.
type WorkOSConfig struct {
	// APIKey is the WorkOS secret API key (WORKOS_CLIENT_SECRET).
	APIKey string
	// APIURL is the WorkOS API's base URL; "" means WorkOS itself. Tests
	// and the development sign-in point it at the AuthKit emulator.
	APIURL string
	// HTTPClient sends the requests; nil means one with a 10 s timeout.
	HTTPClient *http.Client
	// QueueSize bounds the events waiting to be sent; past it new events
	// are dropped (and counted and logged) rather than held: memory stays
	// bounded however long WorkOS is away. 0 means 10000.
	QueueSize int
	// Workers send concurrently; 0 means 2.
	Workers int
	// Attempts is how many times one event is tried before it is dropped
	// (network errors, 429 and 5xx are retried; other answers are not); 0
	// means 5.
	Attempts int
	// Backoff is the wait before the second attempt, doubled each time
	// after (with jitter), at most 30 s; 0 means 500 ms.
	Backoff time.Duration
	// Logger receives drops and failures (never event contents beyond the
	// action and ids). nil means slog.Default().
	Logger *slog.Logger
}

// WorkOS is a Sink sending events to WorkOS Audit Logs.
type WorkOS struct {
	cfg    WorkOSConfig
	client *auditlogs.Client
	queue  chan Event
	stop   chan struct{}
	wg     sync.WaitGroup
	closed atomic.Bool

	// Counters, read by the metrics: events sent, and events dropped by
	// reason.
	sent, droppedFull, droppedFailed, droppedRejected, skippedNoOrg atomic.Uint64
	lastDropLog                                                     atomic.Int64
}

// NewWorkOS starts a WorkOS sink's workers. Close stops them.
func NewWorkOS(cfg WorkOSConfig) *WorkOS {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 10000
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	c := &auditlogs.Client{APIKey: cfg.APIKey, HTTPClient: hc}
	if cfg.APIURL != "" {
		c.EventsEndpoint = strings.TrimSuffix(cfg.APIURL, "/") + "/audit_logs/events"
	}
	w := &WorkOS{cfg: cfg, client: c, queue: make(chan Event, cfg.QueueSize), stop: make(chan struct{})}
	for range cfg.Workers {
		w.wg.Add(1)
		go w.work()
	}
	return w
}

// WorkOSStats are a sink's counters since it started.
type WorkOSStats struct {
	Sent            uint64 // accepted by WorkOS
	DroppedFull     uint64 // the queue was full
	DroppedFailed   uint64 // every attempt failed (network, 429, 5xx)
	DroppedRejected uint64 // WorkOS refused it (4xx): an action not configured, a malformed event
	SkippedNoOrg    uint64 // no organization to log it in (logged only)
	Queued          int    // waiting now
}

// Stats returns the sink's counters.
func (w *WorkOS) Stats() WorkOSStats {
	return WorkOSStats{
		Sent: w.sent.Load(), DroppedFull: w.droppedFull.Load(), DroppedFailed: w.droppedFailed.Load(),
		DroppedRejected: w.droppedRejected.Load(), SkippedNoOrg: w.skippedNoOrg.Load(), Queued: len(w.queue),
	}
}

// Enqueue queues e for sending without blocking; when the queue is full, or
// the sink closed, e is dropped, counted and logged (at most once a second).
func (w *WorkOS) Enqueue(e Event) {
	if e.OrganizationID == "" {
		w.skippedNoOrg.Add(1)
		return
	}
	if w.closed.Load() {
		w.drop(&w.droppedFull, e, "sink closed")
		return
	}
	select {
	case w.queue <- e:
	default:
		w.drop(&w.droppedFull, e, "queue full")
	}
}

func (w *WorkOS) drop(counter *atomic.Uint64, e Event, why string) {
	n := counter.Add(1)
	now := time.Now().Unix()
	if last := w.lastDropLog.Load(); now != last && w.lastDropLog.CompareAndSwap(last, now) {
		w.cfg.Logger.Warn("audit: event not sent to WorkOS", "reason", why, "action", e.Action, "id", e.ID, "org_id", e.OrganizationID, "dropped_for_this_reason", n)
	}
}

func (w *WorkOS) work() {
	defer w.wg.Done()
	for {
		select {
		case e := <-w.queue:
			w.send(e)
		case <-w.stop:
			// Drain what is queued, each tried once more at most, then
			// leave: Close bounds the wait.
			for {
				select {
				case e := <-w.queue:
					w.send(e)
				default:
					return
				}
			}
		}
	}
}

// send tries e up to Attempts times, with the same idempotency key each
// time (WorkOS then records it once however many answers were lost).
func (w *WorkOS) send(e Event) {
	opts := toWorkOS(e)
	wait := w.cfg.Backoff
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.client.CreateEvent(ctx, opts)
		cancel()
		if err == nil {
			w.sent.Add(1)
			return
		}
		code := statusOf(err)
		retryable := code == 0 || code == http.StatusTooManyRequests || code >= 500
		if !retryable {
			w.drop(&w.droppedRejected, e, "refused by WorkOS: "+err.Error())
			return
		}
		if attempt >= w.cfg.Attempts {
			w.drop(&w.droppedFailed, e, "failed after retries: "+err.Error())
			return
		}
		jittered := wait/2 + rand.N(wait)
		select {
		case <-time.After(jittered):
		case <-w.stop:
			if attempt >= 2 {
				w.drop(&w.droppedFailed, e, "shutting down: "+err.Error())
				return
			}
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// statusOf is the HTTP status of a WorkOS error answer, 0 when no answer
// came (a network error, a timeout).
func statusOf(err error) int {
	var v workos_errors.HTTPError
	if errors.As(err, &v) {
		return v.Code
	}
	var p *workos_errors.HTTPError
	if errors.As(err, &p) && p != nil {
		return p.Code
	}
	return 0
}

// Close stops taking events and sends what is queued until ctx ends;
// events still queued then are dropped (counted).
func (w *WorkOS) Close(ctx context.Context) error {
	if w.closed.Swap(true) {
		return nil
	}
	close(w.stop)
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// toWorkOS maps an event onto WorkOS's audit log event: the user is the
// actor (the impersonator in its metadata), the client and what was acted
// on are the targets, the request's address and user agent the context.
func toWorkOS(e Event) auditlogs.CreateEventOpts {
	actorMeta := map[string]any{}
	if e.Impersonator != "" {
		actorMeta["impersonator"] = e.Impersonator
	}
	ev := auditlogs.Event{
		Action:     e.Action,
		OccurredAt: e.OccurredAt,
		Actor:      auditlogs.Actor{ID: e.UserID, Name: e.UserEmail, Type: "user"},
		Context:    auditlogs.Context{Location: e.RemoteAddr, UserAgent: e.UserAgent},
		Metadata:   map[string]any{},
	}
	if ev.Context.Location == "" {
		ev.Context.Location = "0.0.0.0" // required by WorkOS; not from a request
	}
	if len(actorMeta) > 0 {
		ev.Actor.Metadata = actorMeta
	}
	if e.Tool != "" {
		ev.Targets = append(ev.Targets, auditlogs.Target{ID: e.Tool, Name: e.Tool, Type: "tool"})
	}
	if e.ClientID != "" {
		ev.Targets = append(ev.Targets, auditlogs.Target{ID: e.ClientID, Name: e.ClientName, Type: "mcp_client"})
	}
	if e.GrantID != "" {
		ev.Targets = append(ev.Targets, auditlogs.Target{ID: e.GrantID, Type: "grant"})
	}
	if len(ev.Targets) == 0 {
		ev.Targets = append(ev.Targets, auditlogs.Target{ID: e.UserID, Name: e.UserEmail, Type: "user"})
	}
	for k, v := range map[string]string{"outcome": e.Outcome, "grant_type": e.GrantType} {
		if v != "" {
			ev.Metadata[k] = v
		}
	}
	if len(ev.Metadata) == 0 {
		ev.Metadata = nil
	}
	return auditlogs.CreateEventOpts{OrganizationID: e.OrganizationID, Event: ev, IdempotencyKey: e.ID}
}
