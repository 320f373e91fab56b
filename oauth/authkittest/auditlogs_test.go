package authkittest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/workos/workos-go/v4/pkg/auditlogs"

	"remote-mcp-authkit/oauth/authkittest"
)

// The emulator takes workos-go's CreateEvent as WorkOS does: the API key,
// the required fields, one record per idempotency key, a key reused with
// another event refused; and it lists what it received.
func TestAuditLogsEndpoint(t *testing.T) {
	emu := authkittest.NewServer()
	defer emu.Close()
	ctx := context.Background()
	client := func(key string) *auditlogs.Client {
		return &auditlogs.Client{APIKey: key, EventsEndpoint: emu.URL + "/audit_logs/events"}
	}
	ev := auditlogs.CreateEventOpts{OrganizationID: "org_1", IdempotencyKey: "k1", Event: auditlogs.Event{
		Action: "tool.called", OccurredAt: time.Now(), Actor: auditlogs.Actor{ID: "user_1", Type: "user"},
		Targets: []auditlogs.Target{{ID: "add", Type: "tool"}}, Context: auditlogs.Context{Location: "127.0.0.1"},
	}}
	if err := client("sk_wrong").CreateEvent(ctx, ev); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong key: %v", err)
	}
	if err := client(emu.APIKey()).CreateEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := client(emu.APIKey()).CreateEvent(ctx, ev); err != nil {
		t.Fatalf("the same event again: %v", err)
	}
	other := ev
	other.Event.Action = "grant.revoked"
	if err := client(emu.APIKey()).CreateEvent(ctx, other); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("idempotency key reused with another event: %v", err)
	}
	noTargets := ev
	noTargets.IdempotencyKey, noTargets.Event.Targets = "k2", nil
	if err := client(emu.APIKey()).CreateEvent(ctx, noTargets); err == nil || !strings.Contains(err.Error(), "422") {
		t.Fatalf("no targets: %v", err)
	}
	got := emu.AuditEvents()
	if len(got) != 1 || got[0].IdempotencyKey != "k1" || !strings.Contains(string(got[0].Event), `"action":"tool.called"`) {
		t.Fatalf("received %+v", got)
	}
	res, err := http.Get(emu.URL + "/audit_logs/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list struct {
		Data []authkittest.AuditEvent `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil || len(list.Data) != 1 || list.Data[0].OrganizationID != "org_1" {
		t.Fatalf("GET /audit_logs/events: %v %+v", err, list)
	}
}
