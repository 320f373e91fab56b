package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		floor, live uint64
		base, want  int
	}{
		{0, 1 * mib, 100, 100},         // off
		{16 * mib, 1 * mib, 100, 400},  // the minimum heap at 400 is the floor
		{16 * mib, 0, 100, 400},        // nothing live known yet
		{16 * mib, 4 * mib, 100, 300},  // goal 4 MiB * 4
		{16 * mib, 8 * mib, 100, 100},  // twice the live heap reaches the floor
		{16 * mib, 12 * mib, 100, 100}, // base already above it
		{16 * mib, 32 * mib, 100, 100}, // live above the floor
		{16 * mib, 4 * mib, 500, 500},  // the operator's GOGC is a minimum
		{64 * mib, 2 * mib, 100, 1600}, // bounded by the minimum heap
		{64 * mib, 32 * mib, 100, 100}, // twice live reaches it
		{64 * mib, 16 * mib, 100, 300},
	} {
		if got := percentFor(c.floor, c.live, c.base); got != c.want {
			t.Errorf("percentFor(%d, %d, %d) = %d, want %d", c.floor, c.live, c.base, got, c.want)
		}
	}
}

var sink []byte

// TestFloorRaisesGoal runs real collections: with a floor set, the
// runtime's own heap goal is at least the floor, and with it removed it
// falls back to the runtime's (the live heap of a test binary is a few MiB).
func TestFloorRaisesGoal(t *testing.T) {
	goal := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	// cycle runs collections until the finalizer has had its turn after
	// one of them (it runs on its own goroutine after the cycle ends).
	cycle := func() {
		for range 3 {
			runtime.GC()
			for range 100 {
				sink = make([]byte, 1024)
				runtime.Gosched()
			}
		}
	}
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	const floor = 256 << 20
	Set(floor)
	defer Set(0)
	var got uint64
	for range 20 {
		cycle()
		if got = goal(); got >= floor*9/10 {
			break
		}
	}
	if got < floor*9/10 {
		t.Fatalf("heap goal %d with a floor of %d", got, uint64(floor))
	}
	Set(0)
	for range 20 {
		cycle()
		if got = goal(); got < floor/4 {
			break
		}
	}
	if got >= floor/4 {
		t.Fatalf("heap goal %d after the floor was removed", got)
	}
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("GOGC %d after the floor was removed, want 100", p)
	}
}
