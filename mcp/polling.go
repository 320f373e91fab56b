package mcp

// SSE polling on Streamable HTTP (2025-11-25 basic/transports, "Sending
// Messages to the Server" 6 and "Resumability and Redelivery"): once the
// server has sent an event with an id on a request's stream, it MAY close
// the connection without ending the stream; the client reconnects with GET
// and Last-Event-ID, gets the events it missed replayed, and then the rest
// of the stream live, up to the request's response.
//
// The stream side (event log, replay, a GET taking over a stream) lives in
// stream.go. What this file adds is the ability to end a POST's HTTP
// response while its request is still running: with HTTPOptions.Polling,
// on sessions that negotiated 2025-11-25, the request runs in a goroutine of its own and the POST
// handler merely waits, so CloseSSEStream can release the handler (which
// then returns and ends the response) while the request goes on writing
// to its stream.

import (
	"context"
	"errors"
)

// pollingVersion is the first protocol version whose clients expect a
// server to close a request's connection and know to reconnect: the one
// that introduced priming events.
const pollingVersion = "2025-11-25"

// primed reports whether the session's client expects each stream to open
// with a priming event, and so can resume one whose connection the server
// closed.
func (s *Session) primed() bool { return s.ProtocolVersion() >= pollingVersion }

// ErrStreamNotClosable is returned by CloseSSEStream when the request's
// stream cannot be resumed by the client: the request did not come through
// Streamable HTTP as a single POSTed request, HTTPOptions.Polling is off,
// its session negotiated a
// protocol version before 2025-11-25 (whose clients are not primed to
// reconnect), or its response is already being written.
var ErrStreamNotClosable = errors.New("mcp: this request's SSE stream cannot be closed for polling")

// CloseSSEStream closes the HTTP connection carrying the stream of the
// request ctx belongs to, without ending the stream (transports, "the
// server MAY close the connection (without terminating the SSE stream)").
// Call it from a handler that will run for a while, so no connection is
// held open meanwhile. The stream's first event was a priming event with
// an id and a retry field, so the client reconnects with GET and
// Last-Event-ID after the retry delay; then it gets what the handler sent
// in between, and the rest of the stream, response included, live. Calling
// it again closes the resumed connection the same way.
func CloseSSEStream(ctx context.Context) error {
	rs := requestFromContext(ctx)
	if rs == nil {
		return ErrNoSession
	}
	x, ok := rs.out.(*postExchange)
	if !ok {
		return ErrStreamNotClosable
	}
	return x.closeConnection()
}

// startAsync reports whether the request should run apart from its HTTP
// handler, so that it can close the handler's response (and registers it
// with the server's workers, for Shutdown to wait for).
func (x *postExchange) startAsync() bool {
	if !x.h.opts.Polling || !x.sess.primed() || !x.h.s.addWorker() {
		return false
	}
	x.async = true
	x.release.Add(1)
	return true
}

// run serves the request in its own goroutine.
func (x *postExchange) run(base context.Context, m *message) {
	defer x.h.s.wg.Done()
	x.finish(x.serve(base, m))
}

// serve runs the request, turning a panic that escaped the method layer's
// own recovery (a result whose encoding panics) into -32603: net/http
// would have caught it on the handler's goroutine, but on this one it
// would end the program, and the waiting handler must still be released.
func (x *postExchange) serve(base context.Context, m *message) (resp []byte) {
	defer func() {
		if p := recover(); p != nil {
			x.h.s.logger.Error("mcp: panic while serving a request", "session", x.sess.id, "panic", p)
			resp = encodeResponse(m.ID, nil, NewInternalError("internal error while handling %s", m.Method))
		}
	}()
	return x.h.s.handleRequest(base, x.sess, m, x)
}

// closeConnection ends the POST's response, opening its stream first if
// nothing was streamed yet (opening it sends the priming event the client
// needs to resume), and releases the handler. Once detached, it closes
// whichever connection resumed the stream.
func (x *postExchange) closeConnection() error {
	x.mu.Lock()
	if !x.async || x.done {
		x.mu.Unlock()
		return ErrStreamNotClosable
	}
	if x.detached {
		st := x.st
		x.mu.Unlock()
		st.close()
		return nil
	}
	if x.st == nil {
		x.openStreamLocked()
	}
	x.detached = true
	x.st.detachIf(x.sw)
	sw := x.sw
	x.mu.Unlock()
	// What was queued (the priming event the client resumes from) is
	// written first; from then on nothing writes to x.w.
	sw.shut()
	x.sess.streamClosed()
	x.release.Done()
	return nil
}
