package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"remote-mcp-authkit/bench/internal/load"
)

func TestMedian(t *testing.T) {
	cases := []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}}
	for _, c := range cases {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func write(t *testing.T, dir, name string, r load.Report) {
	b, _ := json.Marshal(r)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// capture runs f with stdout redirected and returns what it printed.
func capture(t *testing.T, f func() error) string {
	r, w, _ := os.Pipe()
	old := os.Stdout
	os.Stdout = w
	err := f()
	os.Stdout = old
	w.Close()
	out, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestCompareTable(t *testing.T) {
	dir := t.TempDir()
	for i, rps := range []float64{1000, 3000, 2000} { // median 2000
		write(t, dir, "bare."+string(rune('1'+i))+".json", load.Report{Transport: "streamable", RPS: rps, Requests: 10, OK: 10, Latency: load.Latency{P99: float64(i + 1)}})
	}
	for i, rps := range []float64{1000, 500, 1500} { // median 1000
		write(t, dir, "ours."+string(rune('1'+i))+".json", load.Report{Transport: "streamable", RPS: rps, Requests: 10, OK: 9, Latency: load.Latency{P99: 4}})
	}
	write(t, dir, "mcpgo.1.json", load.Report{Transport: "streamable", RPS: 500, Requests: 5, OK: 5, Latency: load.Latency{P99: 8}})
	out := capture(t, func() error { return compareTable(dir, []string{"bare", "ours", "mcpgo"}, "bare", "ours", "mcpgo") })
	for _, want := range []string{
		"| bare | streamable | 3 | 2000 | 2.00 | 0/30 | 1.00 |",
		"| ours | streamable | 3 | 1000 | 4.00 | 3/30 | 0.50 |",
		"| mcpgo | streamable | 1 | 500 | 8.00 | 0/5 | 0.25 |",
		"ours vs mcpgo: throughput 2.00x, p99 0.50x",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "| bare") > strings.Index(out, "| ours") {
		t.Errorf("rows not in the given order:\n%s", out)
	}
}

func TestIdleTable(t *testing.T) {
	dir := t.TempDir()
	s := func(rss, heap, g, fds int64) load.Sample {
		return load.Sample{RSSKiB: rss, HeapAlloc: heap, Goroutines: g, FDs: fds}
	}
	write(t, dir, "ours.holder.json", load.Report{IdleWanted: 100, IdleOpen: 100,
		Before: s(1000, 1<<20, 7, 10), Setup: s(4000, 1<<20+100*2048, 207, 110), After: s(1100, 1<<20, 7, 10)})
	write(t, dir, "ours.base.json", load.Report{RPS: 900, Latency: load.Latency{P99: 1}})
	write(t, dir, "ours.loaded.json", load.Report{RPS: 800, Latency: load.Latency{P99: 2}})
	out := capture(t, func() error { return idleTable(dir, nil) })
	want := "| ours | 100/100 | 1.00 / 2.00 | 900 / 800 | 30.0 | 2.0 | 7 / 207 / 7 | 10 / 110 / 10 | 1.0 / 1.0 |"
	if !strings.Contains(out, want) {
		t.Errorf("idle table lacks\n%s\n in:\n%s", want, out)
	}
}
