package app

// The log's writer: records are written in batches (group commit), so
// that a request's log line does not cost a write system call of its own
// under load. A record that arrives when the log has been quiet for a
// moment (busyGap) is written at once by its own caller, with whatever
// others add meanwhile, so at a person's or a test's pace every record is
// out before its Write returns. Records that arrive while the log is busy
// join a batch that a goroutine writes as soon as it runs; records that
// arrive during a caller's write join its next batch, or after two
// batches are handed to that goroutine, so no request waits long for
// other requests' lines.

import (
	"io"
	"sync"
	"time"
)

// busyGap: a record arriving within this of the last write waits for the
// batch writer instead of writing itself.
const busyGap = 200 * time.Microsecond

// batchLinger is how long the batch writer lets a busy log's records
// gather after each of its writes before it writes again or, when none
// came, goes idle: under load it wakes and writes at most about once per
// linger, instead of once for every few records (a goroutine wake-up and
// a system call each, which cost more than formatting the records). Four
// milliseconds make a busy log's writes some tens of kilobytes: a file's
// write(2) then costs about half the system time per byte that 12 KiB
// writes (one millisecond at 20,000 requests a second) do, and the writer
// wakes 250 times a second. A crash loses at most that much of the log.
const batchLinger = 4 * time.Millisecond

// maxLogPending bounds the bytes waiting to be written; past it, callers
// wait for the writer, so a slow log destination slows requests down
// rather than growing memory.
const maxLogPending = 1 << 20

// logWriter is an io.Writer for slog handlers, which call Write once per
// whole record.
type logWriter struct {
	out io.Writer

	mu      sync.Mutex
	drained *sync.Cond // signalled when a batch is taken
	buf     []byte
	spare   []byte
	writing bool // someone is draining buf: they will write what is added
	last    time.Time
	closed  bool
	kick    chan struct{} // capacity 1: the flusher should drain
	done    chan struct{} // closed when the flusher has exited
	stop    chan struct{}
}

func newLogWriter(out io.Writer) *logWriter {
	w := &logWriter{out: out, kick: make(chan struct{}, 1), done: make(chan struct{}), stop: make(chan struct{})}
	w.drained = sync.NewCond(&w.mu)
	go w.run()
	return w
}

// Write queues p (a whole record) and, when nobody is writing, writes it.
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	for len(w.buf) > 0 && len(w.buf)+len(p) > maxLogPending {
		w.drained.Wait()
	}
	w.buf = append(w.buf, p...)
	if w.writing {
		w.mu.Unlock()
		return len(p), nil
	}
	w.writing = true
	if now := time.Now(); now.Sub(w.last) < busyGap && !w.closed {
		// Busy: let the batch writer take this with what follows.
		w.mu.Unlock()
		select {
		case w.kick <- struct{}{}:
		default:
		}
		return len(p), nil
	}
	w.drain(2) // unlocks
	return len(p), nil
}

// drain writes batches until buf is empty, or, after rounds batches (0:
// no limit), hands the rest to the flusher; rounds -1 is the flusher's,
// which lingers after each batch (batchLinger). It is called with mu held
// and writing set, and returns with mu released.
func (w *logWriter) drain(rounds int) {
	for n := 1; ; n++ {
		batch := w.buf
		if len(batch) == 0 {
			w.writing = false
			w.drained.Broadcast() // Flush may wait for the writer to finish
			w.mu.Unlock()
			return
		}
		w.buf = w.spare[:0]
		w.drained.Broadcast()
		w.mu.Unlock()
		w.out.Write(batch)
		w.mu.Lock()
		w.last = time.Now()
		if cap(batch) <= 4*maxLogPending {
			w.spare = batch[:0]
		}
		if rounds < 0 && !w.closed {
			// writing stays set while the flusher lingers: records
			// arriving meanwhile join its next batch.
			w.mu.Unlock()
			time.Sleep(batchLinger)
			w.mu.Lock()
			continue
		}
		if rounds > 0 && n >= rounds && len(w.buf) > 0 && !w.closed {
			w.mu.Unlock() // writing stays set: the flusher takes over
			select {
			case w.kick <- struct{}{}:
			default:
			}
			return
		}
	}
}

func (w *logWriter) run() {
	defer close(w.done)
	for {
		select {
		case <-w.kick:
			w.mu.Lock()
			// Lingering is for a log kept busy: woken again within a
			// linger of its last write. A burst after a quiet moment is
			// written at once.
			if time.Since(w.last) < batchLinger {
				w.drain(-1)
			} else {
				w.drain(0)
			}
		case <-w.stop:
			return
		}
	}
}

// Flush returns once everything written before it is out.
func (w *logWriter) Flush() {
	w.mu.Lock()
	for w.writing {
		w.mu.Unlock()
		select {
		case w.kick <- struct{}{}:
		default:
		}
		w.mu.Lock()
		if w.writing {
			w.drained.Wait()
		}
	}
	w.writing = true
	w.drain(0)
}

// Close writes whatever waits and stops the flusher; later records are
// written by their callers.
func (w *logWriter) Close() error {
	w.Flush()
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	w.Flush()
	return nil
}
