// Package audit is the product's audit trail: who did what, through which
// client, in which organization. Every event is a distinct slog record
// (message "audit"); when the operator turns it on, it is also sent to
// WorkOS Audit Logs (the audit_logs/events API, through workos-go's
// auditlogs package) from a bounded queue, so that a slow or failing WorkOS
// never slows or fails the request that caused the event.
//
// Events never carry a token, a code, a secret or a tool's arguments.
package audit

import (
	"context"
	"crypto/rand"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Actions the product records. WorkOS Audit Logs accepts only actions
// configured in its dashboard (with a target type each), so README lists
// them; keep the two in step.
const (
	ActionSignedIn        = "user.signed_in"    // signed in with AuthKit to connect an MCP client (a grant is made)
	ActionConsented       = "user.consented"    // approved an MCP client on the consent page
	ActionTokenIssued     = "token.issued"      // tokens issued to a client (metadata grant_type)
	ActionTokenReused     = "token.reused"      // a spent refresh token came back; the grant was revoked
	ActionGrantRevoked    = "grant.revoked"     // a client's access ended (its tokens, sessions and streams)
	ActionToolCalled      = "tool.called"       // a tools/call (metadata tool, outcome)
	ActionAccountSignedIn = "account.signed_in" // signed in to the account page
)

// Event is one audit event. UserID and OrganizationID say who and where;
// an event without an organization is logged but cannot be sent to WorkOS,
// whose audit logs belong to organizations.
type Event struct {
	// ID identifies the event; it is the idempotency key of every attempt
	// to send it, so a retry after a lost answer never records it twice.
	// Record fills it in.
	ID         string
	Action     string
	OccurredAt time.Time // Record fills it in when zero

	UserID         string
	UserEmail      string
	OrganizationID string
	// Impersonator is who acted as the user in an impersonated session
	// (WorkOS impersonation), "" when nobody did: the audit trail must
	// name the person who acted.
	Impersonator string

	ClientID   string
	ClientName string // as the client declared it: self-asserted
	GrantID    string

	Tool      string // ActionToolCalled
	Outcome   string // ActionToolCalled: ok, error, invalid, refused, rate_limited
	GrantType string // ActionTokenIssued

	RemoteAddr string // the request's address
	UserAgent  string
}

// Sink receives events after they are logged. Enqueue must not block.
type Sink interface {
	Enqueue(e Event)
}

// Trail records audit events: a slog record each, then the sink, if any.
type Trail struct {
	log  *slog.Logger
	sink Sink
}

// New returns a Trail logging to log and, when sink is non-nil, handing
// each event to it.
func New(log *slog.Logger, sink Sink) *Trail {
	if log == nil {
		log = slog.Default()
	}
	return &Trail{log: log, sink: sink}
}

// idPrefix makes event ids unique across processes and restarts; a
// counter makes them unique within one, at no cost per event.
var (
	idPrefix  = "audit_" + rand.Text()[:16] + "_"
	idCounter atomic.Uint64
)

// NewID returns a fresh event id: the idempotency key of its sends. It is
// built in one piece (one allocation, not a number's and a concatenation's).
func NewID() string {
	var b [48]byte
	return string(strconv.AppendUint(append(b[:0], idPrefix...), idCounter.Add(1), 36))
}

// Field is one attribute of an event's record: a key, one of the fixed
// words this package writes (plain text: letters and underscores), and
// its value.
type Field struct{ Key, Value string }

// Fields appends e's attributes, in the order its record has them: action
// and id always, then those that are set.
func (e *Event) Fields(fs []Field) []Field {
	fs = append(fs, Field{"action", e.Action}, Field{"id", e.ID})
	for _, f := range [...]Field{{"user_id", e.UserID}, {"org_id", e.OrganizationID},
		{"impersonator", e.Impersonator}, {"client_id", e.ClientID}, {"grant_id", e.GrantID}, {"tool", e.Tool},
		{"outcome", e.Outcome}, {"grant_type", e.GrantType}, {"remote_addr", e.RemoteAddr}} {
		if f.Value != "" {
			fs = append(fs, f)
		}
	}
	return fs
}

// FieldHandler is a log handler that takes a record of string attributes
// whose keys are plain text (Field) as its parts. Every tools/call makes
// an audit record, so the product's handler writes these with no
// slog.Attr made and no key checked; any other handler gets slog's
// attributes.
type FieldHandler interface {
	HandleFields(ctx context.Context, t time.Time, level slog.Level, msg string, fields []Field) error
}

// Pooled: handed to a handler through an interface, a local array would
// be allocated for every event.
var (
	fieldPool = sync.Pool{New: func() any { s := make([]Field, 0, 11); return &s }}
	attrPool  = sync.Pool{New: func() any { s := make([]slog.Attr, 0, 11); return &s }}
)

// Record logs e as a distinct record (message "audit", level Info) and
// hands it to the sink. It never blocks on the network.
func (t *Trail) Record(ctx context.Context, e Event) {
	h := t.log.Handler()
	logged := h.Enabled(ctx, slog.LevelInfo)
	if !logged && t.sink == nil {
		return // nobody would see it: -log-level above info, no sink
	}
	if e.ID == "" {
		e.ID = NewID()
	}
	now := time.Now() // one clock reading for the event and its record
	if e.OccurredAt.IsZero() {
		e.OccurredAt = now.UTC()
	}
	if logged {
		fp := fieldPool.Get().(*[]Field)
		fields := e.Fields((*fp)[:0])
		if fh, ok := h.(FieldHandler); ok {
			fh.HandleFields(ctx, now, slog.LevelInfo, "audit", fields)
		} else {
			ap := attrPool.Get().(*[]slog.Attr)
			attrs := (*ap)[:0]
			for _, f := range fields {
				attrs = append(attrs, slog.String(f.Key, f.Value))
			}
			t.log.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
			*ap = attrs
			attrPool.Put(ap)
		}
		*fp = fields
		fieldPool.Put(fp)
	}
	if t.sink != nil {
		t.sink.Enqueue(e)
	}
}
