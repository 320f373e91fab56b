package main

import (
	"fmt"
	"math"
	"time"
)

// slope is the least-squares fit y = a + b*x, returning b (units of y per
// unit of x); 0 for fewer than two distinct x.
func slope(x, y []float64) float64 {
	n := float64(len(x))
	if len(x) < 2 || len(x) != len(y) {
		return 0
	}
	var sx, sy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
	}
	mx, my := sx/n, sy/n
	var sxy, sxx float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
	}
	if sxx == 0 {
		return 0
	}
	return sxy / sxx
}

func mean(y []float64) float64 {
	if len(y) == 0 {
		return 0
	}
	s := 0.0
	for _, v := range y {
		s += v
	}
	return s / float64(len(y))
}

// limits are what the verdict tolerates.
type limits struct {
	heapPctPerMin    float64 // fitted heap slope, percent of the window's mean heap per minute
	goroutineRise    float64 // fitted goroutine rise over the window
	goroutineSlack   int64   // goroutines after the final close, above the start
	minWindowSamples int
}

// trend is the second-half analysis of a run.
type trend struct {
	Samples         int
	Minutes         float64 // the window's length
	HeapMean        float64 // bytes
	HeapSlope       float64 // bytes per minute
	HeapPctPerMin   float64
	GoroutineMean   float64
	GoroutineSlope  float64 // per minute
	GoroutineRise   float64 // slope times the window
	StartGoroutines int64
	EndGoroutines   int64
	StartFDs        int64
	EndFDs          int64
	Failures        []string
}

// analyse fits the samples taken in the second half of the run (from
// start+dur/2 on) and judges them, with the before and after samples taken
// with nothing open.
func analyse(samples []point, start time.Time, dur time.Duration, before, after point, lim limits) trend {
	var xs, heap, gor []float64
	half := start.Add(dur / 2)
	var first time.Time
	for _, p := range samples {
		if p.At.Before(half) || p.HeapAlloc < 0 || p.Goroutines < 0 {
			continue
		}
		if first.IsZero() {
			first = p.At
		}
		xs = append(xs, p.At.Sub(start).Minutes())
		heap = append(heap, float64(p.HeapAlloc))
		gor = append(gor, float64(p.Goroutines))
	}
	t := trend{Samples: len(xs), StartGoroutines: before.Goroutines, EndGoroutines: after.Goroutines,
		StartFDs: before.FDs, EndFDs: after.FDs}
	if len(xs) > 0 {
		t.Minutes = xs[len(xs)-1] - xs[0]
	}
	t.HeapMean, t.GoroutineMean = mean(heap), mean(gor)
	t.HeapSlope, t.GoroutineSlope = slope(xs, heap), slope(xs, gor)
	if t.HeapMean > 0 {
		t.HeapPctPerMin = 100 * t.HeapSlope / t.HeapMean
	}
	t.GoroutineRise = t.GoroutineSlope * t.Minutes
	if len(xs) < lim.minWindowSamples {
		t.Failures = append(t.Failures, fmt.Sprintf("only %d samples in the second half (want %d): run longer or sample more often", len(xs), lim.minWindowSamples))
	}
	if t.HeapPctPerMin > lim.heapPctPerMin {
		t.Failures = append(t.Failures, fmt.Sprintf("heap grows %.2f%% of its mean per minute (limit %.2f%%)", t.HeapPctPerMin, lim.heapPctPerMin))
	}
	if t.GoroutineRise > lim.goroutineRise {
		t.Failures = append(t.Failures, fmt.Sprintf("goroutines rise by %.1f over the second half (limit %.0f)", t.GoroutineRise, lim.goroutineRise))
	}
	switch {
	case before.Goroutines < 0 || after.Goroutines < 0:
		t.Failures = append(t.Failures, "goroutines could not be read before or after the run")
	case after.Goroutines > before.Goroutines+lim.goroutineSlack:
		t.Failures = append(t.Failures, fmt.Sprintf("goroutines after the final close: %d, at the start %d (slack %d)", after.Goroutines, before.Goroutines, lim.goroutineSlack))
	}
	if before.FDs >= 0 && after.FDs > before.FDs+lim.goroutineSlack {
		t.Failures = append(t.Failures, fmt.Sprintf("open fds after the final close: %d, at the start %d (slack %d)", after.FDs, before.FDs, lim.goroutineSlack))
	}
	if math.IsNaN(t.HeapPctPerMin) {
		t.Failures = append(t.Failures, "heap slope is not a number")
	}
	return t
}
