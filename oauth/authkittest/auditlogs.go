package authkittest

// WorkOS Audit Logs, emulated: POST /audit_logs/events as workos-go's
// auditlogs.Client.CreateEvent sends it (API key as bearer token, an
// optional Idempotency-Key), checked as WorkOS checks it, and kept so that
// a developer (GET /audit_logs/events, a JSON list) and a test
// (Server.AuditEvents) can see what the server sent.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxAuditEvents bounds what the emulator keeps: the oldest go first.
const maxAuditEvents = 1000

// AuditEvent is one audit log event as the emulator received it.
type AuditEvent struct {
	OrganizationID string          `json:"organization_id"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	Event          json.RawMessage `json:"event"`
	ReceivedAt     time.Time       `json:"received_at"`
}

// auditLog is the events received, with the body each idempotency key was
// first used with.
type auditLog struct {
	mu     sync.Mutex
	events []AuditEvent
	keys   map[string][]byte
	calls  int // POSTs answered 201, replays included
}

// AuditEvents returns the audit events received so far, oldest first; an
// event sent again with the same idempotency key appears once.
func (s *Server) AuditEvents() []AuditEvent {
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	return append([]AuditEvent(nil), s.audit.events...)
}

// AuditCalls returns how many audit event requests were accepted, replays
// of an idempotency key included.
func (s *Server) AuditCalls() int {
	s.audit.mu.Lock()
	defer s.audit.mu.Unlock()
	return s.audit.calls
}

// createAuditEvent serves POST /audit_logs/events.
func (s *Server) createAuditEvent(w http.ResponseWriter, r *http.Request) {
	s.count("audit_logs")
	raw, ok := readBody(w, r)
	if !ok || s.applyFault(w, r) {
		return
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !equalSecret(key, s.cfg.apiKey) {
		apiError(w, http.StatusUnauthorized, "unauthorized", "Unauthorized")
		return
	}
	var body struct {
		OrganizationID string `json:"organization_id"`
		Event          struct {
			Action     string `json:"action"`
			OccurredAt string `json:"occurred_at"`
			Actor      struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"actor"`
			Targets []struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"targets"`
			Context struct {
				Location string `json:"location"`
			} `json:"context"`
		} `json:"event"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		apiError(w, http.StatusBadRequest, "invalid_request", "The body is not JSON.")
		return
	}
	ev := body.Event
	var missing []string
	need := func(ok bool, field string) {
		if !ok {
			missing = append(missing, field)
		}
	}
	need(body.OrganizationID != "", "organization_id")
	need(ev.Action != "", "event.action")
	_, terr := time.Parse(time.RFC3339, ev.OccurredAt)
	need(terr == nil, "event.occurred_at")
	need(ev.Actor.ID != "" && ev.Actor.Type != "", "event.actor")
	need(len(ev.Targets) > 0, "event.targets")
	for _, t := range ev.Targets {
		need(t.ID != "" && t.Type != "", "event.targets[].id and type")
	}
	need(ev.Context.Location != "", "event.context.location")
	if len(missing) > 0 {
		apiError(w, http.StatusUnprocessableEntity, "invalid_audit_log", "Invalid Audit Log event: "+strings.Join(missing, ", ")+" missing or invalid.")
		return
	}
	idem := r.Header.Get("Idempotency-Key")
	a := &s.audit
	a.mu.Lock()
	defer a.mu.Unlock()
	if idem != "" {
		if first, seen := a.keys[idem]; seen {
			if !bytes.Equal(first, raw) {
				apiError(w, http.StatusBadRequest, "idempotency_key_reused", "This idempotency key was used with another event.")
				return
			}
			a.calls++
			writeJSON(w, http.StatusCreated, map[string]bool{"success": true})
			return
		}
	}
	var full struct {
		Event json.RawMessage `json:"event"`
	}
	json.Unmarshal(raw, &full)
	if len(a.events) >= maxAuditEvents {
		old := a.events[0]
		delete(a.keys, old.IdempotencyKey)
		a.events = append(a.events[:0:0], a.events[1:]...)
	}
	a.events = append(a.events, AuditEvent{OrganizationID: body.OrganizationID, IdempotencyKey: idem, Event: full.Event, ReceivedAt: s.cfg.now()})
	if idem != "" {
		if a.keys == nil {
			a.keys = map[string][]byte{}
		}
		a.keys[idem] = raw
	}
	a.calls++
	writeJSON(w, http.StatusCreated, map[string]bool{"success": true})
}

// listAuditEvents serves GET /audit_logs/events, the emulator's own page
// (WorkOS has no such endpoint): what it received, newest last. It is
// development data of demo users, served where the emulator is.
func (s *Server) listAuditEvents(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": s.AuditEvents()})
}
