package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHostileImpersonatedSession: a user the development sign-in marks as
// impersonated (as WorkOS does when a dashboard administrator impersonates)
// is shown as such by whoami, and the sign-in's and each tool call's log
// lines name the impersonator.
func TestHostileImpersonatedSession(t *testing.T) {
	t.Parallel()
	users := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(users, []byte(`[
		{"email": "ada@example.com", "organization_id": "org_acme", "role": "admin",
		 "impersonator": "support@example.com", "impersonation_reason": "ticket 42"},
		{"email": "grace@example.com", "organization_id": "org_acme"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, serverConfig{env: map[string]string{"DEV_USERS_FILE": users}})
	_, access, _ := s.tokens("ada@example.com")
	sid := s.initialize(access)
	st, _, body := s.do(s.mcpReq(access, sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`))
	if st != http.StatusOK {
		t.Fatalf("whoami: %d %s", st, body)
	}
	r := hxDecodeRPC(t, body)
	var res struct {
		StructuredContent struct {
			User struct {
				Email string `json:"email"`
			} `json:"user"`
			Impersonator *struct {
				Email  string `json:"email"`
				Reason string `json:"reason"`
			} `json:"impersonator"`
		} `json:"structuredContent"`
	}
	if r.Error != nil || json.Unmarshal(r.Result, &res) != nil {
		t.Fatalf("whoami: %s", body)
	}
	sc := res.StructuredContent
	if sc.User.Email != "ada@example.com" || sc.Impersonator == nil || sc.Impersonator.Email != "support@example.com" || sc.Impersonator.Reason != "ticket 42" {
		t.Fatalf("whoami does not show who acts as whom: %s", body)
	}
	// A busy log is written in batches, so a line may follow its response
	// by a millisecond.
	var log string
	var signIn, call bool
	for deadline := time.Now().Add(5 * time.Second); !(signIn && call) && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		log = s.logs.String()
		for line := range strings.SplitSeq(log, "\n") {
			signIn = signIn || (strings.Contains(line, "signed in") && strings.Contains(line, "impersonator=support@example.com"))
			call = call || (strings.Contains(line, "tools: call") && strings.Contains(line, "tool=whoami") && strings.Contains(line, "impersonator=support@example.com"))
		}
	}
	if !signIn || !call {
		t.Errorf("log lines name the impersonator: sign-in %v, tool call %v\n%s", signIn, call, log)
	}
	// Grace's session is a plain one.
	_, access, _ = s.tokens("grace@example.com")
	sid = s.initialize(access)
	_, _, body = s.do(s.mcpReq(access, sid, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`))
	if strings.Contains(body, "impersonator") {
		t.Errorf("whoami of a plain session mentions an impersonator: %s", body)
	}
}
