package mcp

import (
	"net"
	"runtime"
	"sync"
	"testing"
	"time"
)

// When a crowd of hijacked streams ends at once, their releases run on
// the keeper's one release goroutine, not on a goroutine each: the runtime
// never frees a goroutine descriptor, so a burst of 1,000 goroutines would
// stay in the live heap for good.
func TestKeeperReleasesWithoutGoroutineEach(t *testing.T) {
	k := newStreamKeeper(time.Hour)
	const crowd = 1000
	gate := make(chan struct{})
	var released sync.WaitGroup
	var sws []*sseWriter
	for range crowd {
		c, peer := net.Pipe()
		defer peer.Close()
		sw := &sseWriter{sink: &connSink{conn: c}, started: true, gone: make(chan struct{})}
		released.Add(1)
		sw.handOff(k, func() { <-gate; released.Done() })
		k.add(sw)
		sws = append(sws, sw)
	}
	base := runtime.NumGoroutine()
	for _, sw := range sws {
		sw.kill()
	}
	// Every release now waits at the gate: one goroutine for all of them,
	// or one each.
	n := runtime.NumGoroutine()
	close(gate)
	released.Wait()
	if n > base+crowd/10 {
		t.Fatalf("%d goroutines while %d releases were pending (%d before): a goroutine per release", n, crowd, base)
	}
}

// deadlineConn records the write deadlines set on it.
type deadlineConn struct {
	net.Conn
	mu            sync.Mutex
	writeDeadline time.Time
	sets          int
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.writeDeadline, c.sets = t, c.sets+1
	c.mu.Unlock()
	return nil
}

func (c *deadlineConn) Write(b []byte) (int, error) { return len(b), nil }

// A hijacked stream bounds each write with a deadline and clears it once
// the write is done, so that an idle stream holds no runtime timer.
func TestHijackedWriteClearsDeadline(t *testing.T) {
	c := &deadlineConn{}
	sw := &sseWriter{sink: &connSink{conn: c}, started: true, timeout: time.Minute, gone: make(chan struct{})}
	if err := sw.event("message", "", []byte(`{}`), 0); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sets < 2 || !c.writeDeadline.IsZero() {
		t.Fatalf("after a write: %d deadlines set, the last %v; want one for the write, then none", c.sets, c.writeDeadline)
	}
}
