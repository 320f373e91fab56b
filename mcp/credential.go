package mcp

// Sessions by credential. A session's owner (HTTPOptions.SessionOwner) is
// the user, and answers "may this request use this session?". A user may
// hold several credentials at once, one per client they signed in with,
// each revoked or refreshed on its own. The credential a session was opened
// with answers the other question: "which sessions does this credential's
// end, or this credential's change, concern?". Neither MCP nor its
// transports say anything about credentials; this is the hook an
// authorization layer needs so that revoking one credential (RFC 7009)
// ends the streams it opened, which would otherwise go on carrying
// messages to a client that may no longer make a single request, and
// touches nothing else. The same holds for tasks (tasks.go): the work a
// credential started in the background stops when it is revoked.

import (
	"context"
	"net/http"
	"time"
)

func (o *HTTPOptions) credential(r *http.Request) string {
	if o.SessionCredential == nil {
		return ""
	}
	return o.SessionCredential(r)
}

// Credential returns the credential given by HTTPOptions.SessionCredential
// for the request that created the session; "" when none was configured.
func (s *Session) Credential() string { return s.cred }

// CloseSessionsByCredential ends every session created with credential, on
// either transport, as DELETE would: open streams end, in-flight handlers
// are cancelled, and later requests naming those sessions get 404. Call it
// when the credential is revoked, so that a stream opened with it stops
// carrying messages at once rather than when it idles out. Sessions of the
// same owner opened with other credentials are untouched. The empty
// credential matches nothing.
func (s *Server) CloseSessionsByCredential(credential string) {
	if credential == "" {
		return
	}
	for _, sess := range s.Sessions() {
		if sess.cred == credential {
			sess.forget()
		}
	}
}

// NotifyToolListChangedByCredential sends notifications/tools/list_changed
// (server/tools, "List Changed Notification") to every initialized session
// created with credential. Call it when what that credential lets its user
// do has changed (a refresh brought new permissions): the user's sessions
// opened with other credentials still see the identity they had, and would
// only be sent a spurious notification. The empty credential matches
// nothing.
func (s *Server) NotifyToolListChangedByCredential(credential string) {
	if credential == "" {
		return
	}
	for _, sess := range s.Sessions() {
		if sess.cred == credential {
			s.notifyToolListChanged(sess)
		}
	}
}

// credentialOf is the credential of the request ctx belongs to: its
// session's, or for a modern request (which has none) what
// HTTPOptions.SessionCredential says of the HTTP request.
func credentialOf(ctx context.Context) string {
	rs := requestFromContext(ctx)
	switch {
	case rs == nil:
		return ""
	case rs.sess != nil:
		return rs.sess.cred
	}
	if x, ok := rs.out.(*modernExchange); ok && x.opts != nil {
		return x.opts.credential(x.r)
	}
	return ""
}

// CancelTasksByCredential cancels every task (io.modelcontextprotocol/tasks)
// created with credential and still running in this process, as
// tasks/cancel would: the work's context is cancelled, and the task, unless
// it had already ended, is cancelled with a status message saying why.
// Call it when the credential is revoked, beside CloseSessionsByCredential:
// the work a revoked credential started must not go on (a slow image
// generation, say, spending on behalf of a client that may no longer make
// a single request). Tasks the same owner created with other credentials
// are untouched; the empty credential matches nothing. Each process cancels
// the tasks it runs, so a deployment of many calls it in each.
func (s *Server) CancelTasksByCredential(credential string) {
	if credential == "" || s.tasks == nil {
		return
	}
	r := s.tasks
	var runs []*taskRun
	r.mu.Lock()
	for _, run := range r.runs {
		if run.cred == credential {
			runs = append(runs, run)
		}
	}
	r.mu.Unlock()
	for _, run := range runs {
		_, _ = r.store.Update(context.Background(), run.owner, run.id, func(t *Task) {
			if !t.Status.Terminal() {
				t.Status, t.StatusMessage, t.InputRequests = TaskCancelled, "cancelled: the authorization that created it was revoked", nil
				t.LastUpdatedAt = time.Now()
			}
		})
		run.cancel()
	}
}
