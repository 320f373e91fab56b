// Package gcfloor keeps the garbage collector's heap goal from falling
// below a floor while the live heap is small.
//
// The runtime sets the next collection's heap goal at the live heap times
// (1 + GOGC/100), and never below 4 MiB. This server's live heap is about
// 1 MiB when it is not holding many streams, and a loaded tools/call path
// allocates a few KiB per request, so at the default GOGC it collects more
// than a hundred times a second under load, and each collection's fixed
// cost (its phases, scanning every goroutine's stack, sweeping) is paid
// that often: a fifth of the server's CPU per request, measured under wrk.
// A larger GOGC would collect less often but multiply the goal of a large
// heap too (10,000 idle streams hold some 20 MiB live). The floor does
// neither: after each collection GOGC is set so that the goal is at least
// the floor, and stays at the operator's GOGC once twice the live heap is
// above the floor. GOMEMLIMIT still bounds the heap: the runtime collects
// earlier whenever the limit is nearer than the goal.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

var (
	mu      sync.Mutex
	floor   uint64 // bytes; 0: off
	base    int    // GOGC when the floor was first set
	current int    // the GOGC this package last set
	armed   bool
	sample  = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
)

// sentinel is allocated and dropped so that its finalizer runs after the
// next collection: the runtime has no other notice of a finished cycle.
type sentinel struct{ _ [16]byte }

// Set makes bytes the least heap goal from the next collection on; 0 puts
// GOGC back to what it was when Set was first called. It leaves a
// collector turned off (GOGC=off) alone.
func Set(bytes uint64) {
	mu.Lock()
	defer mu.Unlock()
	if !armed {
		// Read GOGC without setting it: SetGCPercent reports the old
		// value only by replacing it, which would turn a collector that
		// is off on for a moment.
		gogc := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(gogc)
		base = int(int64(gogc[0].Value.Uint64())) // off is -1
		current = base
		if base < 0 {
			return
		}
		armed = true
		arm()
	}
	floor = bytes
	adjustLocked()
}

func arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		mu.Lock()
		adjustLocked()
		mu.Unlock()
		arm()
	})
}

// adjustLocked sets GOGC for the live heap the last collection found.
func adjustLocked() {
	metrics.Read(sample)
	want := percentFor(floor, sample[0].Value.Uint64(), base)
	if want != current {
		debug.SetGCPercent(want)
		current = want
	}
}

// runtimeMinimumHeap is the runtime's least heap goal at GOGC=100; it
// scales with GOGC (a GOGC of 400 makes it 16 MiB), and it is the goal
// before the first collection, when nothing live is known yet.
const runtimeMinimumHeap = 4 << 20

// percentFor is the GOGC that makes the goal at least floor, and never
// less than base. The goal is the larger of the live heap times (1 +
// GOGC/100) and the runtime's minimum heap scaled by GOGC/100, so the
// percent is bounded by the one whose minimum heap is the floor: a larger
// one would put the goal of a tiny or unknown live heap far above the
// floor.
func percentFor(floor, live uint64, base int) int {
	if floor == 0 || live >= floor {
		return base
	}
	p := floor * 100 / runtimeMinimumHeap
	if live > 0 {
		p = min(p, (floor-live)*100/live)
	}
	return max(int(p), base)
}
