package mcp

// Idle server-to-client streams without a goroutine.
//
// A GET stream (Streamable HTTP's standalone stream, HTTP+SSE's one
// stream) may stay open for hours with nothing to carry. Served the
// ordinary net/http way, each costs its handler goroutine blocked in a
// select, net/http's connection goroutine and its background reader, and
// the connection's bufio reader and writer: some 28 KiB per stream before
// any MCP state, which is most of a server's memory when thousands of
// clients listen. So an HTTP/1.x GET stream is hijacked once it is
// validated: the response head is written by hand (a close-delimited body,
// RFC 9112 section 6.3 item 8, so no chunked framing is needed), net/http's
// buffers are dropped, and the handler returns. What remains is an
// sseWriter holding the net.Conn; whoever sends queues under its mutex and
// writes without it, with a per-write deadline (stream.go), and one
// keep-alive goroutine per handler
// (a streamKeeper) pings all idle streams.
//
// With no reader per connection, a client that went away is noticed by the
// keeper's sweep, one non-blocking read per stream every second
// (peerGone), by a failed write, or at once when the client reconnects,
// since a GET finding its stream taken probes the connection holding it
// (sseWriter.alive). HTTP/2 requests and ResponseWriters that cannot be
// hijacked keep the goroutine path.

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// probeWait is how long alive waits for a read on a connection held by a
// stream: a closed or reset connection answers at once, a live one times
// out.
const probeWait = time.Millisecond

// hijackLocked takes the connection from net/http, if the request allows
// it, and queues the status line and headers of the SSE response; it
// reports whether the stream now runs on the bare connection. It is called
// with sw.mu held, from start.
func (sw *sseWriter) hijackLocked(r *http.Request) bool {
	hs, ok := sw.sink.(*httpSink)
	if sw.keeper == nil || r.ProtoMajor != 1 || !ok {
		return false
	}
	conn, brw, err := hs.rc.Hijack()
	if err != nil {
		return false // HTTP/2, a test recorder: keep the goroutine path
	}
	_ = brw.Flush() // nothing was written through w, but leave no byte behind
	h := hs.w.Header()
	for _, k := range []string{"Connection", "Content-Length", "Transfer-Encoding", "Keep-Alive"} {
		delete(h, k)
	}
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	_ = h.Write(&head) // the handler's and middleware's headers: CORS, Mcp-Session-Id
	head.WriteString("Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n")
	// The body ends when the connection closes (RFC 9112 section 6.3 item 8).
	head.WriteString("Connection: close\r\n\r\n")
	sw.sink = &connSink{conn: conn} // net/http's response and buffers go
	sw.buf = append(head.Bytes(), sw.buf...)
	sw.keeper.add(sw)
	return true
}

// alive reports whether the connection can still carry the stream. A
// hijacked connection has no reader to notice a close, so it is probed: a
// read that times out means the client is still there; EOF or a reset
// means it left, and the writer is killed so a new GET can take over.
func (sw *sseWriter) alive() bool {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.dead {
		return false
	}
	cs, ok := sw.sink.(*connSink)
	if !ok {
		return true // net/http's background reader ends r's context on a close
	}
	if cs.probe() {
		return true
	}
	sw.killLocked()
	return false
}

// connSink writes on a hijacked connection. Each write sets a deadline and
// clears it after: an idle stream holds no runtime timer (a pending
// deadline on each of 10,000 streams would grow the runtime's per-P timer
// heaps, which never shrink, by some 160 KiB for good).
type connSink struct {
	conn net.Conn
}

func (s *connSink) write(b []byte, timeout time.Duration) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(timeout))
	_, err := s.conn.Write(b)
	_ = s.conn.SetWriteDeadline(time.Time{})
	return err
}

// end closes the connection, which also ends a write in flight.
func (s *connSink) end(bool) { _ = s.conn.Close() }

// probe reports whether the client still holds the connection: a read that
// times out means it does; EOF or a reset means it left.
func (s *connSink) probe() bool {
	if gone, ok := peerGone(s.conn); ok {
		return !gone
	}
	// A deadline already past would fail the read without looking at the
	// socket, hence a short one in the future.
	_ = s.conn.SetReadDeadline(time.Now().Add(probeWait))
	var b [1]byte
	_, err := s.conn.Read(b[:])
	_ = s.conn.SetReadDeadline(time.Time{})
	var ne net.Error
	return err == nil || errors.As(err, &ne) && ne.Timeout()
}

// handOff lets the writer outlive its HTTP handler: when start hijacks the
// connection, the handler returns, and release runs (once, on a goroutine
// of its own) when the connection ends.
func (sw *sseWriter) handOff(k *streamKeeper, release func()) {
	sw.keeper, sw.release = k, release
}

// isHijacked reports whether the handler must leave the stream to release.
func (sw *sseWriter) isHijacked() bool {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	_, ok := sw.sink.(*connSink)
	return ok
}

// killIfEnded closes a hijacked stream whose session ended while it was
// being attached. Session.close closes done before it detaches the
// session's streams, so a stream attached too late for that detach finds
// done closed here; no stream outlives its session unseen.
func (sw *sseWriter) killIfEnded(sess *Session) {
	select {
	case <-sess.done:
		sw.kill()
	default:
	}
}

// keepAliveTick is the keeper's visit. A connection the client closed is
// ended, which is how a departure is noticed without a reader goroutine.
// When ping is set, a stream that carried nothing since the previous
// pinging visit gets a comment line, written on the keeper's worker
// without the stream's lock. A stream whose lock is held, or whose queue
// is being written, is busy, which is as good as either.
func (sw *sseWriter) keepAliveTick(ping bool) {
	if !sw.mu.TryLock() {
		return
	}
	if sw.dead || sw.writing {
		sw.mu.Unlock()
		return
	}
	if gone, _ := peerGone(sw.sink.(*connSink).conn); gone { // the keeper holds hijacked streams only
		sw.killLocked()
		sw.mu.Unlock()
		return
	}
	if !ping || sw.closing {
		sw.mu.Unlock()
		return
	}
	if sw.wrote {
		sw.wrote = false
		sw.mu.Unlock()
		return
	}
	if len(sw.buf) == 0 {
		sw.buf = append(sw.buf, ": keep-alive\n\n"...)
	}
	claimed := sw.claimLocked()
	sw.mu.Unlock()
	if claimed {
		_ = sw.drain()
		sw.mu.Lock()
		sw.wrote = false
		sw.mu.Unlock()
	}
}

// streamKeeper watches a handler's hijacked streams from one goroutine,
// which runs only while there are streams (the last one leaving wakes it to
// exit). Every sweepEvery (or interval/2 if shorter) it ends the streams
// whose client left, in place of net/http's per-connection reader; every
// interval/2 it pings the streams silent since its previous ping, so no
// stream is silent for longer than interval.
type streamKeeper struct {
	interval time.Duration

	mu      sync.Mutex
	streams map[*sseWriter]struct{}
	peak    mapPeak // of streams: rebuilt once most have left (shrink.go)
	running bool
	stop    chan struct{} // closed by closeAll: the server is shutting down
	empty   chan struct{} // signalled when the last stream leaves

	releases  []func() // of ended streams, waiting for runReleases
	releasing bool     // a runReleases goroutine is on its way
}

func newStreamKeeper(interval time.Duration) *streamKeeper {
	return &streamKeeper{interval: interval, streams: make(map[*sseWriter]struct{}),
		stop: make(chan struct{}), empty: make(chan struct{}, 1)}
}

func (k *streamKeeper) add(sw *sseWriter) {
	k.mu.Lock()
	k.streams[sw] = struct{}{}
	k.peak.grew(len(k.streams))
	if !k.running {
		k.running = true
		go k.run()
	}
	k.mu.Unlock()
}

func (k *streamKeeper) remove(sw *sseWriter) {
	k.mu.Lock()
	delete(k.streams, sw)
	k.streams = shrunk(k.streams, &k.peak)
	if len(k.streams) == 0 && k.running {
		select {
		case k.empty <- struct{}{}:
		default:
		}
	}
	k.mu.Unlock()
}

func (k *streamKeeper) snapshot() []*sseWriter {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]*sseWriter, 0, len(k.streams))
	for sw := range k.streams {
		out = append(out, sw)
	}
	return out
}

// runRelease runs a hijacked stream's release once the connection has
// ended, on the keeper's one release goroutine rather than on a goroutine
// of its own: when thousands of clients leave at once (a proxy restarts,
// a network drops) a goroutine each would be thousands at a time, and the
// runtime keeps every goroutine descriptor it ever made, some 480 bytes
// each, for reuse and never frees them. Releases only take locks and
// never wait for a stream, so running them in turn is quick.
func (k *streamKeeper) runRelease(release func()) {
	k.mu.Lock()
	k.releases = append(k.releases, release)
	start := !k.releasing
	k.releasing = true
	k.mu.Unlock()
	if start {
		go k.runReleases()
	}
}

func (k *streamKeeper) runReleases() {
	for {
		k.mu.Lock()
		batch := k.releases
		k.releases = nil // a burst's slice goes with its batch
		if len(batch) == 0 {
			k.releasing = false
			k.mu.Unlock()
			return
		}
		k.mu.Unlock()
		for _, release := range batch {
			release()
		}
	}
}

// keeperWorkers bounds the goroutines of one visit: a client that stopped
// reading holds a worker for up to the write timeout, and the others go on.
const keeperWorkers = 8

// sweepEvery bounds how long a departed client's connection, and with a
// legacy stream its session, outlives it. A sweep costs one non-blocking
// read per stream.
const sweepEvery = time.Second

func (k *streamKeeper) run() {
	period := min(sweepEvery, k.interval/2)
	pingEvery := max(1, int((k.interval/2)/period)) // sweeps per ping
	t := time.NewTicker(period)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-t.C:
			if k.exitIfEmpty() {
				return
			}
			k.visit(n%pingEvery == 0)
		case <-k.empty:
			if k.exitIfEmpty() {
				return
			}
		case <-k.stop: // closeAll ends the streams: no more keep-alives
			k.mu.Lock()
			k.running = false
			k.mu.Unlock()
			return
		}
	}
}

// exitIfEmpty reports whether the goroutine should end, no stream being
// left; add starts a new one for the next stream.
func (k *streamKeeper) exitIfEmpty() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.streams) > 0 {
		return false
	}
	k.running = false
	return true
}

// visit gives every stream its keepAliveTick.
func (k *streamKeeper) visit(ping bool) {
	streams := k.snapshot()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(keeperWorkers, 1+len(streams)/256) {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(streams)); i = next.Add(1) - 1 {
				streams[i].keepAliveTick(ping)
			}
		})
	}
	wg.Wait()
}

// closeAll ends every hijacked stream (Shutdown: http.Server does not
// track hijacked connections, so nothing else would close them).
func (k *streamKeeper) closeAll() {
	k.mu.Lock()
	select {
	case <-k.stop:
	default:
		close(k.stop)
	}
	k.mu.Unlock()
	for _, sw := range k.snapshot() {
		sw.kill()
	}
}
