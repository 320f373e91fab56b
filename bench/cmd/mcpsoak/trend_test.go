package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"remote-mcp-authkit/bench/internal/load"
)

func TestSlope(t *testing.T) {
	for _, tc := range []struct {
		name string
		x, y []float64
		want float64
	}{
		{"rising line", []float64{0, 1, 2, 3}, []float64{5, 7, 9, 11}, 2},
		{"falling line", []float64{1, 2, 3}, []float64{3, 2, 1}, -1},
		{"flat", []float64{0, 1, 2}, []float64{4, 4, 4}, 0},
		{"noise around a line", []float64{0, 1, 2, 3}, []float64{1, 2, 2, 3}, 0.6},
		{"one point", []float64{1}, []float64{1}, 0},
		{"one x", []float64{2, 2}, []float64{1, 5}, 0},
		{"mismatched", []float64{0, 1}, []float64{1}, 0},
	} {
		if got := slope(tc.x, tc.y); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: slope = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// series builds samples every 10 s for 10 minutes with heap(t) and
// goroutines(t), t in minutes.
func series(start time.Time, heap func(float64) float64, gor func(float64) float64) []point {
	var ps []point
	for s := 10; s <= 600; s += 10 {
		m := float64(s) / 60
		ps = append(ps, point{Sample: load.Sample{At: start.Add(time.Duration(s) * time.Second),
			HeapAlloc: int64(heap(m)), Goroutines: int64(gor(m)), FDs: 20}})
	}
	return ps
}

func TestAnalyse(t *testing.T) {
	start := time.Unix(1_000_000, 0)
	lim := limits{heapPctPerMin: 1, goroutineRise: 20, goroutineSlack: 10, minWindowSamples: 3}
	idle := point{Sample: load.Sample{Goroutines: 8, FDs: 13}}
	flatHeap := func(m float64) float64 { return 1 << 20 }
	flatGor := func(m float64) float64 { return 30 }
	for _, tc := range []struct {
		name    string
		heap    func(float64) float64
		gor     func(float64) float64
		after   point
		dur     time.Duration
		failure string // "" for a pass
	}{
		{"flat", flatHeap, flatGor, idle, 10 * time.Minute, ""},
		{"heap rising in the first half only", func(m float64) float64 { return float64(1<<20) * min(m, 5) }, flatGor, idle, 10 * time.Minute, ""},
		{"heap rising 2% a minute", func(m float64) float64 { return float64(1<<20) * (1 + 0.02*m) }, flatGor, idle, 10 * time.Minute, "heap grows"},
		{"heap rising 0.5% a minute", func(m float64) float64 { return float64(1<<20) * (1 + 0.005*m) }, flatGor, idle, 10 * time.Minute, ""},
		{"goroutines leaking 10 a minute", flatHeap, func(m float64) float64 { return 30 + 10*m }, idle, 10 * time.Minute, "goroutines rise"},
		{"goroutines left after close", flatHeap, flatGor, point{Sample: load.Sample{Goroutines: 40, FDs: 13}}, 10 * time.Minute, "after the final close: 40"},
		{"fds left after close", flatHeap, flatGor, point{Sample: load.Sample{Goroutines: 8, FDs: 60}}, 10 * time.Minute, "open fds"},
		{"goroutines unreadable", flatHeap, flatGor, point{Sample: load.Sample{Goroutines: -1, FDs: 13}}, 10 * time.Minute, "could not be read"},
		{"too short a window", flatHeap, flatGor, idle, 1164 * time.Second, "only 2 samples"},
	} {
		tr := analyse(series(start, tc.heap, tc.gor), start, tc.dur, idle, tc.after, lim)
		got := strings.Join(tr.Failures, "; ")
		if tc.failure == "" && got != "" {
			t.Errorf("%s: failures %q, want none", tc.name, got)
		}
		if tc.failure != "" && !strings.Contains(got, tc.failure) {
			t.Errorf("%s: failures %q, want one containing %q", tc.name, got, tc.failure)
		}
	}
	// The window is the second half: 31 samples from 5:00 to 10:00.
	tr := analyse(series(start, flatHeap, func(m float64) float64 { return 30 + 10*m }), start, 10*time.Minute, idle, idle, lim)
	if tr.Samples != 31 || math.Abs(tr.Minutes-5) > 0.001 || math.Abs(tr.GoroutineSlope-10) > 0.1 {
		t.Errorf("window: %d samples over %.4f min, goroutine slope %.2f; want 31, 5, 10", tr.Samples, tr.Minutes, tr.GoroutineSlope)
	}
}
