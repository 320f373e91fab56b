package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"remote-mcp-authkit/oauth/authkittest"
)

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sinkFor(t *testing.T, emu *authkittest.Server, mod func(*WorkOSConfig)) *WorkOS {
	cfg := WorkOSConfig{APIKey: emu.APIKey(), APIURL: emu.URL, Backoff: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}
	if mod != nil {
		mod(&cfg)
	}
	w := NewWorkOS(cfg)
	t.Cleanup(func() { w.Close(context.Background()) })
	return w
}

func toolEvent() Event {
	return Event{Action: ActionToolCalled, UserID: "user_1", UserEmail: "ada@example.com", OrganizationID: "org_1",
		Impersonator: "admin@example.com", ClientID: "client_1", ClientName: "Claude", Tool: "generateImage",
		Outcome: "ok", RemoteAddr: "127.0.0.1", UserAgent: "test"}
}

// A recorded event is a distinct slog record and reaches the emulator
// through workos-go as WorkOS would receive it, with its idempotency key.
func TestTrailToEmulator(t *testing.T) {
	emu := authkittest.NewServer()
	defer emu.Close()
	var logs bytes.Buffer
	sink := sinkFor(t, emu, nil)
	trail := New(slog.New(slog.NewJSONHandler(&logs, nil)), sink)
	trail.Record(context.Background(), toolEvent())
	noOrg := toolEvent()
	noOrg.OrganizationID = ""
	trail.Record(context.Background(), noOrg)
	waitFor(t, "the event at the emulator", func() bool { return len(emu.AuditEvents()) == 1 })
	got := emu.AuditEvents()[0]
	if got.OrganizationID != "org_1" || !strings.HasPrefix(got.IdempotencyKey, "audit_") {
		t.Fatalf("received %+v", got)
	}
	var ev struct {
		Action string
		Actor  struct {
			ID, Name, Type string
			Metadata       map[string]string
		}
		Targets  []struct{ ID, Name, Type string }
		Context  struct{ Location, User_agent string }
		Metadata map[string]string
	}
	if err := json.Unmarshal(got.Event, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Action != "tool.called" || ev.Actor.ID != "user_1" || ev.Actor.Type != "user" || ev.Actor.Metadata["impersonator"] != "admin@example.com" ||
		len(ev.Targets) != 2 || ev.Targets[0].Type != "tool" || ev.Targets[0].ID != "generateImage" || ev.Targets[1].Type != "mcp_client" ||
		ev.Context.Location != "127.0.0.1" || ev.Metadata["outcome"] != "ok" {
		t.Fatalf("event as received: %s", got.Event)
	}
	// The emulator has the event before the sink counts its answer.
	waitFor(t, "the send counted", func() bool { return sink.Stats().Sent == 1 })
	if st := sink.Stats(); st.Sent != 1 || st.SkippedNoOrg != 1 {
		t.Fatalf("stats %+v", st)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"msg":"audit"`) || !strings.Contains(lines[0], `"action":"tool.called"`) ||
		!strings.Contains(lines[0], `"impersonator":"admin@example.com"`) || !strings.Contains(lines[1], `"user_id":"user_1"`) {
		t.Fatalf("log:\n%s", logs.String())
	}
}

// WorkOS down: the event is retried with its idempotency key until it is
// accepted, and recorded once; an event sent twice is recorded once.
func TestWorkOSRetriesOnce(t *testing.T) {
	emu := authkittest.NewServer()
	defer emu.Close()
	sink := sinkFor(t, emu, func(c *WorkOSConfig) { c.Attempts = 50; c.Workers = 1 })
	emu.SetFault(authkittest.Fault{Status: 503})
	e := toolEvent()
	e.ID, e.OccurredAt = "audit_fixed", time.Now().UTC()
	sink.Enqueue(e)
	waitFor(t, "three failed attempts", func() bool { return emu.Requests()["audit_logs"] >= 3 })
	emu.SetFault(authkittest.Fault{})
	waitFor(t, "the event at the emulator", func() bool { return len(emu.AuditEvents()) == 1 })
	sink.Enqueue(e) // a second send of the same event (as after a lost answer)
	waitFor(t, "the second send", func() bool { return emu.AuditCalls() == 2 })
	// The emulator counts the call before the sink has read its answer.
	waitFor(t, "the second send counted", func() bool { return sink.Stats().Sent == 2 })
	if n := len(emu.AuditEvents()); n != 1 {
		t.Fatalf("recorded %d times", n)
	}
	if st := sink.Stats(); st.Sent != 2 || st.DroppedFailed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A refused event (4xx) is not retried; after every attempt fails the event
// is dropped and counted; a full queue drops at once, without blocking.
func TestWorkOSDrops(t *testing.T) {
	emu := authkittest.NewServer()
	defer emu.Close()
	sink := sinkFor(t, emu, func(c *WorkOSConfig) { c.Attempts = 2; c.Workers = 1; c.QueueSize = 1 })
	bad := toolEvent()
	bad.UserID = "" // WorkOS requires an actor
	sink.Enqueue(bad)
	waitFor(t, "the refusal", func() bool { return sink.Stats().DroppedRejected == 1 })
	if n := emu.Requests()["audit_logs"]; n != 1 {
		t.Fatalf("a refused event was sent %d times", n)
	}

	emu.SetFault(authkittest.Fault{Status: 500})
	sink.Enqueue(toolEvent())
	waitFor(t, "the failure", func() bool { return sink.Stats().DroppedFailed == 1 })

	emu.SetFault(authkittest.Fault{Delay: 300 * time.Millisecond})
	start := time.Now()
	for range 20 {
		sink.Enqueue(toolEvent())
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("enqueueing into a full queue blocked for %v", d)
	}
	if st := sink.Stats(); st.DroppedFull < 15 {
		t.Fatalf("stats %+v: want most of 20 dropped with a queue of 1 and one slow worker", st)
	}
}
