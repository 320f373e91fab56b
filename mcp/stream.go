package mcp

// Server-Sent Events (WHATWG HTML, "Server-sent events") as both transports
// use them, and the per-stream event log behind Streamable HTTP's
// resumability (transports, "Resumability and Redelivery").
//
// A stream is a logical sequence of server messages: the session's
// standalone stream, or the stream of one POSTed request. A connection (an
// sseWriter) is one HTTP response currently carrying a stream. Event ids are
// "<stream>-<seq>": unique within the session, and they name the stream
// they came from, so a GET with Last-Event-ID resumes that stream and
// replays only what that stream had not delivered.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bounds of the replay memory: each stream keeps at most this many recent
// events and bytes, and a session keeps at most maxFinishedStreams
// finished request streams for a client that comes back for their end.
const (
	maxReplayEvents    = 128
	maxReplayBytes     = 64 << 10 // the newest event is kept even when larger
	maxFinishedStreams = 8
	retryMillis        = 2000 // retry: advice before the server ends a connection
)

var errStreamBusy = errors.New("mcp: stream already has a connection")

// sseWriter writes SSE events on one connection: through its sink, the
// HTTP response (httpSink) or, once an idle stream is hijacked (idle.go),
// the bare connection (connSink). Writes are serialized by mu; each has a
// deadline of its own, so a stalled client is dropped without relying on
// http.Server.WriteTimeout (which would also cut healthy long streams).
type sseWriter struct {
	mu        sync.Mutex
	sink      sseSink
	timeout   time.Duration
	started   bool
	dead      bool
	gone      chan struct{}
	keepAlive time.Duration
	timer     *time.Timer
	stopWatch func() bool
	buf       []byte

	// The hand-off (handOff): a writer given a keeper is hijacked when it
	// starts, if the request allows it; the keeper then sends its
	// keep-alives, and release does what the returned handler would have
	// done at the end.
	keeper  *streamKeeper
	release func()
}

// sseSink is where a stream's bytes go.
type sseSink interface {
	// write sends b to the client now, within timeout.
	write(b []byte, timeout time.Duration) error
	// end lets go of the connection once the stream is dead.
	end()
}

// httpSink writes through net/http: the handler's goroutine stays until
// the stream ends.
type httpSink struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s *httpSink) write(b []byte, timeout time.Duration) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(timeout)) // ErrNotSupported on test recorders
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *httpSink) end() {}

var (
	sseHeaderValue  = []string{"text/event-stream"}
	noCacheValue    = []string{"no-cache"}
	noBufferValue   = []string{"no"}
	jsonHeaderValue = []string{"application/json"}
)

// newSSEWriter prepares an SSE response on w: it sets the headers, and
// start sends them.
func newSSEWriter(w http.ResponseWriter, opts *HTTPOptions) *sseWriter {
	sw := &sseWriter{sink: &httpSink{w: w, rc: http.NewResponseController(w)}, timeout: opts.writeTimeout(),
		gone: make(chan struct{}), keepAlive: opts.keepAlive()}
	h := w.Header()
	h["Content-Type"] = sseHeaderValue
	h["Cache-Control"] = noCacheValue
	h["X-Accel-Buffering"] = noBufferValue // nginx: do not buffer the stream
	return sw
}

// start sends the status line and headers and arms the keep-alive timer.
// The connection counts as gone as soon as r's context ends (the client
// went away), so a resumed stream can take over without waiting for a
// failed write.
func (sw *sseWriter) start(r *http.Request) error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.started {
		return nil
	}
	sw.started = true
	if ok, err := sw.hijackLocked(r); ok {
		return err
	}
	sw.sink.(*httpSink).w.WriteHeader(http.StatusOK)
	if err := sw.flushLocked(); err != nil {
		return err
	}
	sw.stopWatch = context.AfterFunc(r.Context(), sw.kill)
	sw.timer = time.AfterFunc(sw.keepAlive, sw.ping)
	return nil
}

// flushLocked writes what buf holds; a failed write kills the writer.
func (sw *sseWriter) flushLocked() error {
	if err := sw.sink.write(sw.buf, sw.timeout); err != nil {
		sw.killLocked()
		return err
	}
	if cap(sw.buf) > 1<<10 {
		sw.buf = nil // an idle stream should not keep a large event's buffer
	} else {
		sw.buf = sw.buf[:0]
	}
	return nil
}

// event writes one event. id and data may be empty (a priming event has an
// id and empty data); retry > 0 adds the retry field.
func (sw *sseWriter) event(name, id string, data []byte, retry int) error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.eventLocked(name, id, data, retry)
}

var errStreamGone = errors.New("mcp: stream connection is gone")

func (sw *sseWriter) eventLocked(name, id string, data []byte, retry int) error {
	if sw.dead {
		return errStreamGone
	}
	b := sw.buf[:0]
	if name != "" {
		b = append(b, "event: "...)
		b = append(b, name...)
		b = append(b, '\n')
	}
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	if retry > 0 {
		b = append(b, "retry: "...)
		b = strconv.AppendInt(b, int64(retry), 10)
		b = append(b, '\n')
	}
	// json.Marshal output has no newlines, so one data line suffices.
	b = append(b, "data: "...)
	b = append(b, data...)
	b = append(b, "\n\n"...)
	sw.buf = b
	return sw.flushLocked()
}

// ping writes a comment line so that proxies keep an idle stream open.
func (sw *sseWriter) ping() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.dead {
		return
	}
	sw.buf = append(sw.buf[:0], ": keep-alive\n\n"...)
	if sw.flushLocked() == nil {
		sw.timer.Reset(sw.keepAlive)
	}
}

// holdOpen keeps a stream served by its handler's goroutine (the path for
// connections that cannot be hijacked) open until the connection fails, the
// session ends or the client goes away, then ends it.
func (sw *sseWriter) holdOpen(ctx context.Context, sess *Session) {
	select {
	case <-sw.gone:
	case <-sess.done:
	case <-ctx.Done():
	}
	sw.kill()
}

// kill marks the connection unusable; its handler returns, and nothing is
// written to it again (a ResponseWriter must not be used after ServeHTTP
// returns).
func (sw *sseWriter) kill() {
	sw.mu.Lock()
	sw.killLocked()
	sw.mu.Unlock()
}

func (sw *sseWriter) killLocked() {
	if sw.dead {
		return
	}
	sw.dead = true
	close(sw.gone)
	if sw.timer != nil {
		sw.timer.Stop()
	}
	if sw.stopWatch != nil {
		sw.stopWatch() // does not wait for the AfterFunc, so safe from within it
	}
	sw.sink.end()
	if _, hijacked := sw.sink.(*connSink); hijacked {
		sw.keeper.remove(sw)
		if sw.release != nil {
			// Not here: the caller may hold the stream's lock, which
			// release takes.
			sw.keeper.runRelease(sw.release)
		}
	}
}

type sseEvent struct {
	seq  uint64
	data []byte
}

// stream is one logical SSE stream of a session, with the log of its recent
// events when it is resumable.
type stream struct {
	sess      *Session
	id        int64
	idPrefix  string
	resumable bool

	mu        sync.Mutex
	seq       uint64
	delivered uint64 // highest seq written to a connection
	events    []sseEvent
	size      int
	w         *sseWriter
	finished  bool
}

func (s *Session) newStream(resumable bool) *stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextStream++
	st := &stream{sess: s, id: s.nextStream, resumable: resumable}
	st.idPrefix = strconv.FormatInt(st.id, 10) + "-"
	if resumable {
		s.streams[st.id] = st
	}
	return st
}

// streamByEventID finds the stream an event id came from, and the seq
// after which to replay.
func (s *Session) streamByEventID(eventID string) (*stream, uint64, bool) {
	sid, seq, ok := strings.Cut(eventID, "-")
	if !ok {
		return nil, 0, false
	}
	id, err1 := strconv.ParseInt(sid, 10, 64)
	n, err2 := strconv.ParseUint(seq, 10, 64)
	if err1 != nil || err2 != nil {
		return nil, 0, false
	}
	s.mu.Lock()
	st := s.streams[id]
	s.mu.Unlock()
	return st, n, st != nil
}

func (st *stream) eventID(seq uint64) string {
	if !st.resumable {
		return ""
	}
	return st.idPrefix + strconv.FormatUint(seq, 10)
}

func (st *stream) name() string {
	if st.sess.legacy {
		return "message"
	}
	return ""
}

// send appends a message to the stream and writes it to the connection
// when one is attached. Without a connection a resumable stream keeps the
// message for the next one; the legacy stream has nowhere to keep it.
func (st *stream) send(msg []byte) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sendLocked(msg)
}

func (st *stream) sendLocked(msg []byte) error {
	if st.finished {
		return errStreamGone
	}
	st.seq++
	if st.resumable {
		st.record(sseEvent{seq: st.seq, data: msg})
	}
	if st.w != nil {
		if err := st.w.event(st.name(), st.eventID(st.seq), msg, 0); err == nil {
			st.delivered = st.seq
			return nil
		}
		st.w = nil
	}
	if !st.resumable {
		return errStreamGone
	}
	return nil
}

func (st *stream) record(ev sseEvent) {
	st.events = append(st.events, ev)
	st.size += len(ev.data)
	drop := 0
	for drop < len(st.events)-1 && (len(st.events)-drop > maxReplayEvents || st.size > maxReplayBytes) {
		st.size -= len(st.events[drop].data)
		drop++
	}
	if drop > 0 {
		st.events = append(st.events[:0], st.events[drop:]...)
	}
}

// attach makes sw the stream's connection. It replays the events after
// seq `after` (or, when resume is false, those no connection has carried
// yet), and primes the client with an event id when prime is set
// (2025-11-25 transports, "Sending Messages to the Server" 6).
func (st *stream) attach(r *http.Request, sw *sseWriter, after uint64, resume, prime bool) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.w != nil && st.w.alive() {
		return errStreamBusy
	}
	if !resume {
		after = st.delivered
	}
	if err := sw.start(r); err != nil {
		return err
	}
	if prime && st.resumable {
		if err := sw.event("", st.eventID(after), nil, retryMillis); err != nil {
			return err
		}
	}
	for _, ev := range st.events {
		if ev.seq <= after {
			continue
		}
		if err := sw.event(st.name(), st.eventID(ev.seq), ev.data, 0); err != nil {
			return err
		}
		st.delivered = max(st.delivered, ev.seq)
	}
	if st.finished {
		sw.kill() // nothing more will come: let the handler return
		return nil
	}
	st.w = sw
	return nil
}

// detachIf drops sw as the stream's connection if it still is.
func (st *stream) detachIf(sw *sseWriter) {
	st.mu.Lock()
	if st.w == sw {
		st.w = nil
	}
	st.mu.Unlock()
}

// detach ends the current connection (session end, Shutdown).
func (st *stream) detach() {
	st.mu.Lock()
	w := st.w
	st.w = nil
	st.mu.Unlock()
	if w != nil {
		w.kill()
	}
}

// finish sends the request's response (if any) as the stream's last event
// and ends the stream: a POST stream ends after its response (transports:
// "the server SHOULD terminate the SSE stream").
func (st *stream) finish(resp []byte) {
	st.mu.Lock()
	if resp != nil {
		_ = st.sendLocked(resp)
	}
	st.finished = true
	w := st.w
	st.w = nil
	st.mu.Unlock()
	if w != nil {
		w.kill()
	}
	st.sess.retire(st)
}

// retire keeps a finished stream for late resumption, within bounds. A
// stream whose every event reached the client has nothing to replay and is
// dropped at once.
func (s *Session) retire(st *stream) {
	st.mu.Lock()
	complete := st.delivered == st.seq
	st.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if complete {
		delete(s.streams, st.id)
		return
	}
	s.order = append(s.order, st.id)
	for len(s.order) > maxFinishedStreams {
		delete(s.streams, s.order[0])
		s.order = s.order[1:]
	}
}
