package main

// The log's writer: records are gathered and written in batches by one
// goroutine (group commit), so that a request's log line costs a copy
// into memory, not a write system call of its own. Under light load a
// line is written at once (the writer wakes for it); under heavy load the
// lines of many requests share one write.

import (
	"io"
	"sync"
)

// maxLogPending bounds the bytes waiting to be written; past it a record
// is written by its own caller, so a slow log destination slows requests
// down rather than growing memory.
const maxLogPending = 1 << 20

// logWriter is an io.Writer for slog handlers, which call Write once per
// whole record.
type logWriter struct {
	out io.Writer

	outMu  sync.Mutex // held while a batch is taken and written: keeps records in order
	mu     sync.Mutex
	buf    []byte
	spare  []byte
	closed bool          // under mu: records are written by their callers
	kick   chan struct{} // capacity 1: there is something to write
	done   chan struct{} // closed when the flusher has exited
	stop   chan struct{}
}

func newLogWriter(out io.Writer) *logWriter {
	w := &logWriter{out: out, kick: make(chan struct{}, 1), done: make(chan struct{}), stop: make(chan struct{})}
	go w.run()
	return w
}

// Write queues p (a whole record) for writing.
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	full := w.closed || len(w.buf)+len(p) > maxLogPending
	if !full {
		w.buf = append(w.buf, p...)
	}
	w.mu.Unlock()
	if full {
		// Write what waits, then this record, in order.
		w.outMu.Lock()
		w.flushLocked()
		_, err := w.out.Write(p)
		w.outMu.Unlock()
		return len(p), err
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// flushLocked writes what waits; the caller holds outMu.
func (w *logWriter) flushLocked() {
	w.mu.Lock()
	batch := w.buf
	w.buf = w.spare[:0]
	w.mu.Unlock()
	if len(batch) > 0 {
		w.out.Write(batch)
	}
	if cap(batch) <= 4*maxLogPending {
		w.spare = batch[:0]
	} else {
		w.spare = nil
	}
}

func (w *logWriter) run() {
	defer close(w.done)
	for {
		select {
		case <-w.kick:
			w.outMu.Lock()
			w.flushLocked()
			w.outMu.Unlock()
		case <-w.stop:
			return
		}
	}
}

// Flush writes whatever waits, and returns once it is written.
func (w *logWriter) Flush() {
	w.outMu.Lock()
	w.flushLocked()
	w.outMu.Unlock()
}

// Close writes whatever waits and stops the flusher; later records are
// written by their callers.
func (w *logWriter) Close() error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	w.Flush()
	return nil
}
