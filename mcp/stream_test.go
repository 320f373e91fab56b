package mcp

import (
	"bytes"
	"fmt"
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
