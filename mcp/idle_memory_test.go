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
		sw := &sseWriter{conn: c, hijacked: true, started: true, gone: make(chan struct{})}
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
