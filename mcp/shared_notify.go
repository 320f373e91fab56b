package mcp

// Messages for a shared session's standalone (GET) stream held by another
// process. A handler here may send a notification, a log message or a
// request to its session outside any request (Session.Notify, Log,
// Request), or a resource this copy subscribed to may change; the client's
// GET stream may be connected to another process. Such a message is
// relayed (HTTPOptions.Relay) to every process, and the one with the
// stream connected writes it; it is also kept here, for a GET that comes
// here next. What every process sends on its own, because each learns of
// the cause (tools/list_changed after a shared permission change,
// resources and prompts list_changed of a configuration every process
// shares), is not relayed: the process holding the stream sends it too.

import (
	"context"
	"encoding/json"
)

// localOnlyKey marks a context whose notifications stay in this process.
type localOnlyKey struct{}

// localOnly is the context of a notification every process sends on its
// own: relaying it would deliver it twice.
var localOnly = context.WithValue(context.Background(), localOnlyKey{}, true)

// connected reports whether a client connection is attached to st here.
func (st *stream) connected() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.w != nil
}

// sendStandalone sends b on the session's standalone stream, and, for a
// shared session whose stream is not connected here, to the process where
// it is.
func (s *Session) sendStandalone(ctx context.Context, b []byte) error {
	err := s.standalone.send(b)
	if s.relay == nil || s.dir == nil || s.listen != nil || ctx.Value(localOnlyKey{}) != nil || s.standalone.connected() {
		return err
	}
	msg, merr := json.Marshal(relayedResponse{Notify: b})
	if merr == nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dirTimeout)
		merr = s.relay.Send(rctx, s.id, msg)
		cancel()
	}
	if merr != nil {
		s.server.logger.Warn("mcp: relaying a message for a stream another process may hold", "err", merr)
	}
	return err
}

// deliverNotify writes a message relayed for a session's standalone
// stream, when the stream is connected here.
func (s *Server) deliverNotify(sess *Session, b []byte) {
	if sess.legacy || sess.listen != nil || !sess.standalone.connected() {
		return
	}
	_ = sess.standalone.send(b)
}

// relayResourceUpdated sends a resource's change to every process
// (ServerOptions.Relay), this one included, so that listeners and
// subscriptions wherever they are hear of it. An error (the relay refused
// it) leaves the caller to tell this process's own.
func (s *Server) relayResourceUpdated(uri string) error {
	b, err := json.Marshal(relayedResponse{Updated: uri})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), dirTimeout)
		err = s.opts.Relay.Send(ctx, "", b)
		cancel()
	}
	if err != nil {
		s.logger.Warn("mcp: relaying notifications/resources/updated to other processes", "err", err)
	}
	return err
}
