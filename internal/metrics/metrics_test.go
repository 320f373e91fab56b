package metrics

import (
	"bufio"
	"bytes"
	"strings"
	"sync"
	"testing"
)

func render(r *Registry) string {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	r.WriteTo(w)
	w.Flush()
	return b.String()
}

// The exposition of each kind, byte for byte: HELP and TYPE, sorted
// series, escaped label values, cumulative buckets with +Inf, _sum and
// _count.
func TestExposition(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("things_total", "Things.\nDone", "kind", "outcome")
	c.Inc("b", "ok")
	c.Add(2, "a", `say "hi"\`)
	h := r.NewHistogramVec("wait_seconds", "Waits.", []float64{0.25, 1}, "route")
	// Values whose sums are exact in binary: a series adds its copies'
	// sums in an order that is not the observations'.
	h.Observe(0.125, "/x")
	h.Observe(0.25, "/x")
	h.Observe(5, "/x")
	r.NewGaugeFunc("open", "Open things.", nil, func() []Sample { return []Sample{{Value: 3}} })
	r.NewCounterFunc("sent_total", "Sent.", []string{"result"}, func() []Sample {
		return []Sample{{Labels: []string{"ok"}, Value: 7}}
	})
	want := `# HELP things_total Things.\nDone
# TYPE things_total counter
things_total{kind="a",outcome="say \"hi\"\\"} 2
things_total{kind="b",outcome="ok"} 1
# HELP wait_seconds Waits.
# TYPE wait_seconds histogram
wait_seconds_bucket{route="/x",le="0.25"} 2
wait_seconds_bucket{route="/x",le="1"} 2
wait_seconds_bucket{route="/x",le="+Inf"} 3
wait_seconds_sum{route="/x"} 5.375
wait_seconds_count{route="/x"} 3
# HELP open Open things.
# TYPE open gauge
open 3
# HELP sent_total Sent.
# TYPE sent_total counter
sent_total{result="ok"} 7
`
	if got := render(r); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if c.Value("b", "ok") != 1 || h.Count("/x") != 3 {
		t.Fatal("Value or Count")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a second registration of one name did not panic")
		}
	}()
	r.NewCounterVec("things_total", "again")
}

// Observing and counting allocate nothing once a series exists: the hot
// path's cost.
func TestNoAllocations(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("c_total", "c", "a", "b")
	h := r.NewHistogramVec("h_seconds", "h", DurationBuckets, "a", "b")
	c.Inc("x", "y")
	h.Observe(1, "x", "y")
	if n := testing.AllocsPerRun(100, func() { c.Inc("x", "y"); h.Observe(0.003, "x", "y") }); n != 0 {
		t.Fatalf("%v allocations per count and observation", n)
	}
}

func BenchmarkObserve(b *testing.B) {
	r := NewRegistry()
	h := r.NewHistogramVec("h_seconds", "h", DurationBuckets, "route", "status")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Observe(0.0012, "/mcp", "200")
		}
	})
}

// Counts from many goroutines at once, on series made while others count,
// all arrive: each series' copies sum to exactly what was added.
func TestConcurrentCounts(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("c_total", "c", "k")
	h := r.NewHistogramVec("h_seconds", "h", []float64{1}, "k")
	const workers, each = 8, 5000
	keys := []string{"a", "b", "c", "d"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				k := keys[(w+i)%len(keys)]
				c.Add(2, k)
				h.Observe(0.5, k)
			}
		})
	}
	wg.Wait()
	var total, observed uint64
	for _, k := range keys {
		total += c.Value(k)
		observed += h.Count(k)
	}
	if total != 2*workers*each || observed != workers*each {
		t.Fatalf("counted %d and observed %d, want %d and %d", total, observed, 2*workers*each, workers*each)
	}
	if !strings.Contains(render(r), `h_seconds_sum{k="a"} 5000`) {
		t.Fatalf("sum of a's observations:\n%s", render(r))
	}
}
