package mcp

import (
	"fmt"
	"testing"
	"time"
)

// The per-owner index behind addSession: the limit counts only the owner's
// sessions, the one evicted is that owner's least recently active, and a
// closed session leaves no trace in the index.
func TestSessionOwnerIndex(t *testing.T) {
	s := NewServer(ServerOptions{Logger: quietLogger()})
	const limit = 3
	var base = time.Now().UnixNano()
	add := func(owner string, active int64) *Session {
		t.Helper()
		sess := s.newSession(newSessionID(), owner, false, time.Hour)
		sess.lastActive.Store(base + active)
		if err := s.addSession(sess, limit); err != nil {
			t.Fatal(err)
		}
		return sess
	}
	// Many other owners must not count against alice's limit.
	for i := range 50 {
		add(fmt.Sprintf("user-%d", i), int64(i))
	}
	a1 := add("alice", 300)
	a2 := add("alice", 100) // least recently active, though not the first added
	a3 := add("alice", 200)
	for _, sess := range []*Session{a1, a2, a3} {
		if s.session(sess.id) == nil {
			t.Fatalf("alice's session %s ended below the limit", sess.id)
		}
	}
	a4 := add("alice", 400)
	if s.session(a2.id) != nil {
		t.Fatal("the least recently active of alice's sessions should have ended")
	}
	for _, sess := range []*Session{a1, a3, a4} {
		if s.session(sess.id) == nil {
			t.Fatalf("session %s ended, but it was not the least recently active", sess.id)
		}
	}
	if n := len(s.byOwner["alice"]); n != limit {
		t.Fatalf("index holds %d of alice's sessions, want %d", n, limit)
	}
	if n := len(s.Sessions()); n != 50+limit {
		t.Fatalf("%d sessions, want %d", n, 50+limit)
	}
	for _, sess := range s.Sessions() {
		sess.close()
	}
	if len(s.byOwner) != 0 || len(s.sessions) != 0 {
		t.Fatalf("closed sessions left %d owners and %d sessions behind", len(s.byOwner), len(s.sessions))
	}
}

// Admitting a session must not cost more as the server holds more sessions
// of other owners (compare ns/op across the sub-benchmarks).
func BenchmarkAddSession(b *testing.B) {
	for _, held := range []int{100, 10000} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			s := NewServer(ServerOptions{Logger: quietLogger()})
			for i := range held {
				if err := s.addSession(s.newSession(newSessionID(), fmt.Sprintf("u%d", i%1000), false, time.Hour), 1<<30); err != nil {
					b.Fatal(err)
				}
			}
			sessions := make([]*Session, b.N)
			for i := range sessions {
				sessions[i] = s.newSession(newSessionID(), "bench", false, time.Hour)
			}
			b.ResetTimer()
			for i := range b.N {
				_ = s.addSession(sessions[i], 1<<30)
			}
			b.StopTimer()
			for _, sess := range s.Sessions() {
				sess.close()
			}
		})
	}
}

// One sweep ends the sessions idle past their timeout, and only those: a
// session with an open stream or a recent request stays. The sweep stops
// once no session is left.
func TestSweepIdle(t *testing.T) {
	s := NewServer(ServerOptions{Logger: quietLogger()})
	add := func(idleFor time.Duration) *Session {
		t.Helper()
		sess := s.newSession(newSessionID(), "o", false, time.Hour)
		if err := s.addSession(sess, 100); err != nil {
			t.Fatal(err)
		}
		sess.lastActive.Store(time.Now().Add(-idleFor).UnixNano())
		return sess
	}
	idle := add(2 * time.Hour)
	streaming := add(2 * time.Hour)
	streaming.streamOpened()
	recent := add(time.Minute)
	s.sweepIdle()
	if s.session(idle.id) != nil {
		t.Fatal("a session idle past its timeout was not ended")
	}
	if s.session(streaming.id) == nil || s.session(recent.id) == nil {
		t.Fatal("the sweep ended a session with an open stream or a recent request")
	}
	s.mu.RLock()
	running := s.sweep.running
	s.mu.RUnlock()
	if !running {
		t.Fatal("the sweep stopped with sessions left")
	}
	streaming.close()
	recent.close()
	s.sweepIdle()
	s.mu.RLock()
	running = s.sweep.running
	s.mu.RUnlock()
	if running {
		t.Fatal("the sweep goes on with no session left")
	}
	again := add(2 * time.Hour)
	s.mu.RLock()
	running = s.sweep.running
	s.mu.RUnlock()
	if !running {
		t.Fatal("a new session did not restart the sweep")
	}
	again.close()
}
