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

// errSlowReader ends a connection whose queue would pass
// HTTPOptions.MaxQueuedBytes.
var errSlowReader = errors.New("mcp: the stream's reader is too slow: its queue is full")

// sseWriter writes SSE events on one connection: through its sink, the
// HTTP response (httpSink) or, once an idle stream is hijacked (idle.go),
// the bare connection (connSink).
//
// Events are queued under mu and written without it: whoever finds the
// queue unclaimed (a sender, the keep-alive) writes it, batch after batch,
// while later senders only append and return. So a client that stops
// reading blocks one writer for at most the write timeout, and nothing
// that needs mu (another sender, a session's end, a GET probing the
// stream) waits for the socket. Each write sets its own deadline (through
// http.ResponseController, or on the hijacked net.Conn), so a stalled
// client is dropped without relying on http.Server.WriteTimeout (which
// would also cut healthy long streams). The queue is bounded (maxQueue):
// past it a connection is ended rather than let grow.
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
	buf       []byte // queued, not yet handed to the connection

	// The queue's writer (see above): writing while one is at work,
	// inWrite the bytes it took, unflushed when the response head is
	// still in net/http's buffer. closing ends the connection once the
	// queue is written. writers lets a handler wait until nothing uses
	// its ResponseWriter any more.
	writing   bool
	unflushed bool
	closing   bool
	inWrite   int
	maxQueue  int
	writers   sync.WaitGroup

	// The stream seqs of the last event queued and of the last one
	// written, so that the stream knows what its client may have missed
	// when the connection ends with events still queued.
	queuedSeq  uint64
	writtenSeq uint64

	// wrote tells the keeper the stream carried something since its last
	// ping.
	wrote bool

	// The hand-off (handOff): a writer given a keeper is hijacked when it
	// starts, if the request allows it; the keeper then sends its
	// keep-alives, and release does what the returned handler would have
	// done at the end.
	keeper  *streamKeeper
	release func()
}

// sseSink is where a stream's bytes go.
type sseSink interface {
	// write sends b (none: only what is buffered) to the client now,
	// within timeout.
	write(b []byte, timeout time.Duration) error
	// end lets go of the connection once the stream is dead; writing says
	// a write may be in flight, which must be cut short.
	end(writing bool)
}

// httpSink writes through net/http: the handler's goroutine stays until
// the stream ends.
type httpSink struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s *httpSink) write(b []byte, timeout time.Duration) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(timeout)) // ErrNotSupported on test recorders
	if len(b) > 0 {
		if _, err := s.w.Write(b); err != nil {
			return err
		}
	}
	return s.rc.Flush()
}

// end cuts short a write in flight; the ResponseWriter is otherwise left
// alone, as its handler may already have returned.
func (s *httpSink) end(writing bool) {
	if writing {
		_ = s.rc.SetWriteDeadline(time.Now())
	}
}

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
		gone: make(chan struct{}), keepAlive: opts.keepAlive(), maxQueue: opts.maxQueuedBytes()}
	h := w.Header()
	h["Content-Type"] = sseHeaderValue
	h["Cache-Control"] = noCacheValue
	h["X-Accel-Buffering"] = noBufferValue // nginx: do not buffer the stream
	return sw
}

// start queues the status line and headers and arms the keep-alive timer;
// flush sends them. The connection counts as gone as soon as r's context
// ends (the client went away), so a resumed stream can take over without
// waiting for a failed write.
func (sw *sseWriter) start(r *http.Request) error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.started {
		return nil
	}
	sw.started = true
	if sw.hijackLocked(r) {
		return nil
	}
	sw.sink.(*httpSink).w.WriteHeader(http.StatusOK)
	sw.unflushed = true
	sw.stopWatch = context.AfterFunc(r.Context(), sw.kill)
	sw.timer = time.AfterFunc(sw.keepAlive, sw.ping)
	return nil
}

// claimLocked makes the caller the queue's writer, if there is something
// to write and nobody writing it; the caller then runs drain, without mu.
func (sw *sseWriter) claimLocked() bool {
	if sw.dead || sw.writing || len(sw.buf) == 0 && !sw.unflushed {
		return false
	}
	sw.writing = true
	sw.writers.Add(1)
	return true
}

// flush writes the queue unless another goroutine is writing it already
// (which then writes what was queued meanwhile too). It returns the
// error of a write this call made.
func (sw *sseWriter) flush() error {
	if sw == nil {
		return nil
	}
	sw.mu.Lock()
	claimed := sw.claimLocked()
	sw.mu.Unlock()
	if !claimed {
		return nil
	}
	return sw.drain()
}

// flushAsync is flush on a goroutine of its own: at most one per
// connection, as only one writes at a time.
func (sw *sseWriter) flushAsync() {
	if sw == nil {
		return
	}
	sw.mu.Lock()
	claimed := sw.claimLocked()
	sw.mu.Unlock()
	if claimed {
		go func() { _ = sw.drain() }()
	}
}

// drain writes the queue, a batch at a time, until it is empty. mu is
// held only between writes.
func (sw *sseWriter) drain() error {
	defer sw.writers.Done()
	var err error
	sw.mu.Lock()
	for !sw.dead && (len(sw.buf) > 0 || sw.unflushed) {
		chunk, seq := sw.buf, sw.queuedSeq
		sw.buf, sw.unflushed, sw.inWrite = nil, false, len(chunk)
		sw.mu.Unlock()
		err = sw.write(chunk)
		sw.mu.Lock()
		sw.inWrite = 0
		if err != nil {
			sw.killLocked()
			break
		}
		sw.wrote = true
		sw.writtenSeq = seq
		// An idle stream should not keep a large event's buffer.
		if len(sw.buf) == 0 && cap(chunk) <= 1<<10 {
			sw.buf = chunk[:0]
		}
	}
	sw.writing = false
	if sw.closing && !sw.dead {
		sw.killLocked()
	}
	sw.mu.Unlock()
	return err
}

// write hands one batch to the connection, under a deadline.
func (sw *sseWriter) write(b []byte) error { return sw.sink.write(b, sw.timeout) }

// event queues one event and writes it (see flush). id and data may be
// empty (a priming event has an id and empty data); retry > 0 adds the
// retry field.
func (sw *sseWriter) event(name, id string, data []byte, retry int) error {
	sw.mu.Lock()
	err := sw.queueLocked(name, id, data, retry, true, 0)
	sw.mu.Unlock()
	if err != nil {
		return err
	}
	return sw.flush()
}

var errStreamGone = errors.New("mcp: stream connection is gone")

// queueLocked appends one event to the queue. An answer (bounded) is
// always queued: it belongs to a request admitted against the session's
// bounds (HTTPOptions.MaxRequestsPerSession and MaxQueuedBytes), or to a
// replay, which the replay log bounds. Any other message that would take
// a non-empty queue past maxQueue ends the connection instead: its reader
// is too slow, and the queue must not grow without end. seq is the
// event's seq on its stream, 0 for an event of no stream's (the endpoint
// event, a priming event).
func (sw *sseWriter) queueLocked(name, id string, data []byte, retry int, bounded bool, seq uint64) error {
	if sw.dead || sw.closing {
		return errStreamGone
	}
	queued := len(sw.buf) + sw.inWrite
	if !bounded && queued > 0 && queued+len(data) > sw.maxQueue {
		sw.killLocked()
		return errSlowReader
	}
	b := sw.buf
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
	if seq > 0 {
		sw.queuedSeq = seq
	}
	return nil
}

// written returns the seq of the last event of its stream that the
// connection carried.
func (sw *sseWriter) written() uint64 {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.writtenSeq
}

// queued returns the bytes waiting for the connection: queued, or taken
// by a write that has not returned.
func (sw *sseWriter) queued() int {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return len(sw.buf) + sw.inWrite
}

// ping writes a comment line so that proxies keep an idle stream open.
func (sw *sseWriter) ping() {
	sw.mu.Lock()
	if sw.dead || sw.closing {
		sw.mu.Unlock()
		return
	}
	if !sw.writing && len(sw.buf) == 0 {
		sw.buf = append(sw.buf, ": keep-alive\n\n"...)
	}
	claimed := sw.claimLocked()
	sw.mu.Unlock()
	if claimed && sw.drain() != nil {
		return
	}
	sw.mu.Lock()
	if !sw.dead {
		sw.timer.Reset(sw.keepAlive)
	}
	sw.mu.Unlock()
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
	sw.stop()
}

// stop ends the connection at once and waits until nothing writes to it,
// for a handler about to return: a ResponseWriter must not be used after
// ServeHTTP returns.
func (sw *sseWriter) stop() {
	sw.kill()
	sw.writers.Wait()
}

// end ends the connection once what is queued is written (a stream's
// last event, a priming event before closing for polling); nothing more
// can be queued. shut is end for the handler that owns the response: it
// also writes the queue and waits for that.
func (sw *sseWriter) end() {
	sw.mu.Lock()
	sw.closing = true
	if !sw.writing && len(sw.buf) == 0 && !sw.unflushed {
		sw.killLocked()
	}
	sw.mu.Unlock()
}

func (sw *sseWriter) shut() {
	sw.end()
	_ = sw.flush()
	sw.writers.Wait()
}

// kill marks the connection unusable and drops its queue; its handler
// returns, and nothing is written to it again. A write in progress is cut
// short (a hijacked connection is closed, a deadline in the past ends a
// ResponseWriter's), so kill never waits for a client that stopped
// reading.
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
	sw.buf = nil
	close(sw.gone)
	if sw.timer != nil {
		sw.timer.Stop()
	}
	if sw.stopWatch != nil {
		sw.stopWatch() // does not wait for the AfterFunc, so safe from within it
	}
	sw.sink.end(sw.writing)
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
	delivered uint64 // highest seq written by a connection no longer st.w (see fold)
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

// send appends a message to the stream and has it written to the
// connection when one is attached, by a goroutine of its own if nobody is
// writing yet: the sender (a notification from anywhere, even another
// user's request) does not wait for this client. Without a connection a
// resumable stream keeps the message for the next one; the legacy stream
// has nowhere to keep it.
func (st *stream) send(msg []byte) error {
	w, err := st.queue(msg, false)
	w.flushAsync()
	return err
}

// reply is send for the answer to a request admitted against the
// session's bounds, which the connection's queue takes whatever its
// length (sseWriter.queueLocked). The request's goroutine writes it if
// nobody is writing yet, so the request holds its slot until then.
func (st *stream) reply(msg []byte) error {
	w, err := st.queue(msg, true)
	_ = w.flush()
	return err
}

// queue appends a message to the stream and to its connection's queue,
// and returns the connection for the caller to flush once it holds no
// lock.
func (st *stream) queue(msg []byte, bounded bool) (*sseWriter, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sendLocked(msg, bounded)
}

func (st *stream) sendLocked(msg []byte, bounded bool) (*sseWriter, error) {
	if st.finished {
		return nil, errStreamGone
	}
	st.seq++
	if st.resumable {
		st.record(sseEvent{seq: st.seq, data: msg})
	}
	if w := st.w; w != nil {
		w.mu.Lock()
		err := w.queueLocked(st.name(), st.eventID(st.seq), msg, 0, bounded, st.seq)
		w.mu.Unlock()
		if err == nil {
			return w, nil
		}
		st.dropLocked()
	}
	if !st.resumable {
		return nil, errStreamGone
	}
	return nil, nil
}

// dropLocked lets go of the stream's connection, keeping what it
// delivered.
func (st *stream) dropLocked() {
	if st.w != nil {
		st.delivered = max(st.delivered, st.w.written())
		st.w = nil
	}
}

// deliveredLocked is the highest seq a connection carried to the client.
func (st *stream) deliveredLocked() uint64 {
	if st.w != nil {
		return max(st.delivered, st.w.written())
	}
	return st.delivered
}

// queued returns the bytes waiting for the stream's connection.
func (st *stream) queued() int {
	st.mu.Lock()
	w := st.w
	st.mu.Unlock()
	if w == nil {
		return 0
	}
	return w.queued()
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
// (2025-11-25 transports, "Sending Messages to the Server" 6). What it
// sends is queued; the caller writes it with sw.flush once it holds no
// lock.
func (st *stream) attach(r *http.Request, sw *sseWriter, after uint64, resume, prime bool) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.w != nil && st.w.alive() {
		return errStreamBusy
	}
	st.dropLocked()
	if !resume {
		after = st.delivered
	}
	if err := sw.start(r); err != nil {
		return err
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if prime && st.resumable {
		if err := sw.queueLocked("", st.eventID(after), nil, retryMillis, true, 0); err != nil {
			return err
		}
	}
	// The replay is bounded by the log (maxReplayBytes and the newest
	// event), so it is queued whatever its size.
	for _, ev := range st.events {
		if ev.seq <= after {
			continue
		}
		if err := sw.queueLocked(st.name(), st.eventID(ev.seq), ev.data, 0, true, ev.seq); err != nil {
			return err
		}
	}
	if st.finished {
		// Nothing more will come: end once the replay is written, so the
		// handler returns.
		sw.closing = true
		return nil
	}
	st.w = sw
	return nil
}

// detachIf drops sw as the stream's connection if it still is.
func (st *stream) detachIf(sw *sseWriter) {
	st.mu.Lock()
	if st.w == sw {
		st.dropLocked()
	}
	st.mu.Unlock()
}

// detach ends the current connection (session end, Shutdown).
func (st *stream) detach() {
	st.mu.Lock()
	w := st.w
	st.dropLocked()
	st.mu.Unlock()
	if w != nil {
		w.kill()
	}
}

// close ends the current connection once what was queued for it is
// written (CloseSSEStream: the client is to resume from the last event it
// saw, so the events sent before the close must reach it first). Unlike
// detach, it does not drop the queue; a client that stopped reading is
// still cut off by the write deadline.
func (st *stream) close() {
	st.mu.Lock()
	w := st.w
	st.dropLocked()
	st.mu.Unlock()
	if w != nil {
		w.end()
		w.flushAsync()
	}
}

// finish sends the request's response (if any) as the stream's last event
// and ends the stream: a POST stream ends after its response (transports:
// "the server SHOULD terminate the SSE stream"). Its connection ends once
// the response is written.
func (st *stream) finish(resp []byte) {
	st.mu.Lock()
	if resp != nil {
		_, _ = st.sendLocked(resp, true)
	}
	st.finished = true
	w := st.w
	st.mu.Unlock()
	if w != nil {
		w.end()
		_ = w.flush()
	}
	st.mu.Lock()
	if st.w == w {
		st.dropLocked() // after the flush, to count what it wrote
	}
	st.mu.Unlock()
	st.sess.retire(st)
}

// retire keeps a finished stream for late resumption, within bounds. A
// stream whose every event reached the client has nothing to replay and is
// dropped at once.
func (s *Session) retire(st *stream) {
	st.mu.Lock()
	complete := st.deliveredLocked() == st.seq
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
