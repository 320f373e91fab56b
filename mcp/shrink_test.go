package mcp

import (
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"
)

func sameMap[K comparable, V any](a, b map[K]V) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

func TestShrunk(t *testing.T) {
	for _, tc := range []struct {
		name        string
		peak, left  int
		wantRebuilt bool
	}{
		{"large map emptied", 10000, 0, true},
		{"large map below a quarter", 10000, 2499, true},
		{"large map at a quarter", 10000, 2500, false},
		{"large map barely shrunk", 10000, 9000, false},
		{"small map emptied", shrinkMinPeak - 1, 0, false},
		{"smallest shrinkable map emptied", shrinkMinPeak, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := map[int]int{}
			var p mapPeak
			for i := range tc.peak {
				m[i] = i
				p.grew(len(m))
			}
			for i := tc.left; i < tc.peak; i++ {
				delete(m, i)
			}
			got := shrunk(m, &p)
			if rebuilt := !sameMap(got, m); rebuilt != tc.wantRebuilt {
				t.Fatalf("rebuilt = %v, want %v", rebuilt, tc.wantRebuilt)
			}
			if len(got) != tc.left {
				t.Fatalf("%d entries left, want %d", len(got), tc.left)
			}
			for i := range tc.left {
				if got[i] != i {
					t.Fatalf("entry %d = %d after shrunk, want %d", i, got[i], i)
				}
			}
			wantPeak := tc.peak
			if tc.wantRebuilt {
				wantPeak = tc.left
			}
			if int(p) != wantPeak {
				t.Fatalf("high-water mark %d, want %d", p, wantPeak)
			}
		})
	}
}

// The point of shrunk: the emptied table is garbage once the map is
// replaced. A map that held 100,000 entries of 64 bytes has a table of
// several MiB; after shrunk and a GC most of that must be gone.
func TestShrunkReleasesTable(t *testing.T) {
	m := map[int64][64]byte{}
	var p mapPeak
	for i := range int64(100_000) {
		m[i] = [64]byte{}
		p.grew(len(m))
	}
	for i := int64(10); i < 100_000; i++ {
		delete(m, i)
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	m = shrunk(m, &p)
	after := heap()
	runtime.KeepAlive(m)
	// The table is some 9 MiB; demand a third of the lower bound of
	// 100,000 x 72 bytes, far above anything else the test allocates.
	if before < after || before-after < 100_000*72/3 {
		t.Fatalf("live heap %d before shrunk, %d after: the emptied table was not released", before, after)
	}
}

// Sessions that come and go in a crowd leave the server's tables at the
// size of what is left, not of the crowd.
func TestSessionTablesShrink(t *testing.T) {
	s := NewServer(ServerOptions{Logger: quietLogger()})
	const crowd, stay = 3000, 10
	var all []*Session
	for i := range crowd {
		sess := s.newSession(newSessionID(), fmt.Sprintf("user-%d", i%(crowd/2)), false, time.Hour)
		if err := s.addSession(sess, 100); err != nil {
			t.Fatal(err)
		}
		all = append(all, sess)
	}
	if s.sessionsPeak != crowd || s.ownersPeak != crowd/2 {
		t.Fatalf("high-water marks %d sessions, %d owners; want %d, %d", s.sessionsPeak, s.ownersPeak, crowd, crowd/2)
	}
	for _, sess := range all[stay:] {
		sess.close()
	}
	if s.sessionsPeak >= crowd/4 || s.ownersPeak >= crowd/2/4 {
		t.Fatalf("after %d of %d sessions ended the high-water marks are still %d sessions, %d owners: the tables were not rebuilt",
			crowd-stay, crowd, s.sessionsPeak, s.ownersPeak)
	}
	// What is left is intact after the rebuilds.
	if n := len(s.Sessions()); n != stay {
		t.Fatalf("%d sessions left, want %d", n, stay)
	}
	for _, sess := range all[:stay] {
		if s.session(sess.id) != sess {
			t.Fatalf("session %s lost in a rebuild", sess.id)
		}
		if _, ok := s.byOwner[sess.owner][sess]; !ok {
			t.Fatalf("session %s lost from its owner's index in a rebuild", sess.id)
		}
	}
	for _, sess := range all[:stay] {
		sess.close()
	}
	if len(s.sessions) != 0 || len(s.byOwner) != 0 {
		t.Fatalf("%d sessions and %d owners left behind", len(s.sessions), len(s.byOwner))
	}
}

// A keeper's stream set is rebuilt once the crowd of streams has left.
func TestStreamKeeperSetShrinks(t *testing.T) {
	k := newStreamKeeper(time.Hour)
	const crowd = 2000
	var sws []*sseWriter
	for range crowd {
		sw := &sseWriter{}
		sws = append(sws, sw)
		k.add(sw)
	}
	for _, sw := range sws[1:] {
		k.remove(sw)
	}
	k.mu.Lock()
	peak, n := k.peak, len(k.streams)
	_, kept := k.streams[sws[0]]
	k.mu.Unlock()
	if peak >= crowd/4 || n != 1 || !kept {
		t.Fatalf("after %d of %d streams left: high-water mark %d, %d streams, first kept %v", crowd-1, crowd, peak, n, kept)
	}
	k.remove(sws[0]) // the last one leaving ends the keeper's goroutine
}
