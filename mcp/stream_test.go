package mcp

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestReplayMemoryIsBounded(t *testing.T) {
	s := NewServer(ServerOptions{Logger: quietLogger()})
	sess := s.newSession("s", "", false, time.Hour)
	defer sess.close()
	st := sess.standalone
	for i := range 3 * maxReplayEvents {
		if err := st.send(fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(st.events) != maxReplayEvents || st.events[len(st.events)-1].seq != uint64(3*maxReplayEvents) {
		t.Fatalf("kept %d events, last seq %d", len(st.events), st.events[len(st.events)-1].seq)
	}
	big := bytes.Repeat([]byte("x"), maxReplayBytes/3)
	for range 5 {
		_ = st.send(big)
	}
	if st.size > maxReplayBytes {
		t.Fatalf("kept %d bytes", st.size)
	}
	huge := bytes.Repeat([]byte("y"), 2*maxReplayBytes)
	_ = st.send(huge)
	if len(st.events) != 1 || len(st.events[0].data) != len(huge) {
		t.Fatal("the newest event must survive even when larger than the bound")
	}

	// Finished request streams: only undelivered ones are kept, at most
	// maxFinishedStreams of them.
	for range 2 * maxFinishedStreams {
		rs := sess.newStream(true)
		_ = rs.send([]byte(`{}`)) // no connection: undelivered
		rs.finish([]byte(`{"r":1}`))
	}
	sess.mu.Lock()
	n := len(sess.streams)
	sess.mu.Unlock()
	if n != maxFinishedStreams+1 { // plus the standalone stream
		t.Fatalf("%d streams kept", n)
	}
}

func TestEventIDs(t *testing.T) {
	s := NewServer(ServerOptions{Logger: quietLogger()})
	sess := s.newSession("s", "", false, time.Hour)
	defer sess.close()
	a, b := sess.newStream(true), sess.newStream(true)
	_ = a.send([]byte(`1`))
	_ = b.send([]byte(`2`))
	if a.eventID(1) == b.eventID(1) {
		t.Fatal("event ids must be unique across the session's streams")
	}
	for _, tc := range []struct {
		id   string
		want *stream
		seq  uint64
	}{
		{a.eventID(1), a, 1}, {b.eventID(7), b, 7}, {"99-1", nil, 0}, {"garbage", nil, 0}, {"1-x", nil, 0},
	} {
		got, seq, ok := sess.streamByEventID(tc.id)
		if got != tc.want || ok != (tc.want != nil) || (ok && seq != tc.seq) {
			t.Errorf("%q: got %v %d %v", tc.id, got, seq, ok)
		}
	}
}

// A socket write blocked by a client that never reads does not hold the
// locks other operations need: another message is queued, a POST is
// answered, and the session ends (cutting the blocked write short), each
// at once rather than after the write timeout.
func TestHostileBlockedWriteHoldsNoLock(t *testing.T) {
	s, ts := newTestServer(t, newTestTools(), HTTPOptions{WriteTimeout: time.Hour, MaxQueuedBytes: 64 << 20})
	sess, url, _ := legacyFlood(t, s, ts)
	big := strings.Repeat("b", 32<<20) // far more than the socket buffers take
	sw := sess.standalone.w
	if err := sess.Notify(context.Background(), "test/big", map[string]string{"data": big}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the big write to start", func() bool {
		if !sw.mu.TryLock() {
			return true // held by a writer, were writes made under it
		}
		defer sw.mu.Unlock()
		return sw.inWrite > len(big)
	})
	within := func(what string, f func()) {
		t.Helper()
		ok := make(chan struct{})
		go func() { f(); close(ok) }()
		select {
		case <-ok:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s waited for the blocked write", what)
		}
	}
	within("another notification", func() {
		if err := sess.Notify(context.Background(), "test/small", nil); err != nil {
			t.Errorf("notify: %v", err)
		}
	})
	within("a POSTed request", func() {
		if resp, body := postRaw(t, url, `{"jsonrpc":"2.0","id":7,"method":"ping"}`); resp.StatusCode != http.StatusAccepted {
			t.Errorf("ping: %d %s", resp.StatusCode, body)
		}
	})
	waitFor(t, "the ping's answer to be queued", func() bool { return sess.admitted.Load() == 0 })
	within("the session's end", sess.Close)
	within("the blocked write", sw.writers.Wait)
}
