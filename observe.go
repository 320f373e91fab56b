package main

// What the operator sees of the product at work: audit events (package
// audit) from the authorization server's events and the tool table's
// calls. Metrics and the request log hook in here too.

import (
	"context"

	"remote-mcp-authkit/audit"
	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/tools"
)

// auditActions maps the authorization server's events onto audit actions;
// the events not listed (registrations, rate limit refusals) are counted
// in the metrics, not audited: nobody is signed in yet.
var auditActions = map[string]string{
	oauth.EventConsented:       audit.ActionConsented,
	oauth.EventSignedIn:        audit.ActionSignedIn,
	oauth.EventTokenIssued:     audit.ActionTokenIssued,
	oauth.EventRefreshReused:   audit.ActionTokenReused,
	oauth.EventGrantRevoked:    audit.ActionGrantRevoked,
	oauth.EventAccountSignedIn: audit.ActionAccountSignedIn,
}

// impersonator names who acted as the user in an impersonated upstream
// session (WorkOS impersonation), "" when nobody did.
func impersonator(id *oauth.Identity) string { return id.ImpersonatorEmail() }

// auditOAuth records an authorization server event in the audit trail.
func auditOAuth(ctx context.Context, trail *audit.Trail, om *opsMetrics, e oauth.Event) {
	action, ok := auditActions[e.Kind]
	if !ok {
		return
	}
	om.auditEvents.Inc(action)
	ev := audit.Event{Action: action, ClientID: e.ClientID, ClientName: e.ClientName, GrantID: e.GrantID,
		GrantType: e.GrantType, RemoteAddr: e.RemoteAddr, UserAgent: e.UserAgent}
	if id := e.Identity; id != nil {
		ev.UserID, ev.UserEmail, ev.OrganizationID, ev.Impersonator = id.Subject, id.Email, id.OrganizationID, impersonator(id)
	}
	trail.Record(ctx, ev)
}

// auditToolCall records a tools/call in the audit trail: who, in which
// organization, through which client, which tool and how it ended; never
// its arguments.
func auditToolCall(ctx context.Context, trail *audit.Trail, om *opsMetrics, c tools.CallInfo) {
	om.auditEvents.Inc(audit.ActionToolCalled)
	ev := audit.Event{Action: audit.ActionToolCalled, Tool: c.Tool, Outcome: c.Outcome}
	if id := c.Identity; id != nil {
		ev.UserID, ev.UserEmail, ev.OrganizationID, ev.Impersonator = id.Subject, id.Email, id.OrganizationID, impersonator(id)
		ev.ClientID, ev.GrantID = id.ClientID, id.GrantID
	}
	trail.Record(ctx, ev)
}
