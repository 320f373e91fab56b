package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowWriter is a log destination that takes its time, as a pipe to a busy
// collector does.
type slowWriter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

// Records from many goroutines arrive whole, each goroutine's in order,
// in far fewer writes than records; nothing is lost at Close, and a record
// after Close is still written.
func TestLogWriterBatches(t *testing.T) {
	out := &slowWriter{}
	w := newLogWriter(out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				fmt.Fprintf(w, "g%d line %d\n", g, i)
			}
		}()
	}
	wg.Wait()
	w.Close()
	fmt.Fprintf(w, "after close\n")
	lines := strings.Split(strings.TrimSpace(out.b.String()), "\n")
	if len(lines) != 8*500+1 || lines[len(lines)-1] != "after close" {
		t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
	next := map[string]int{}
	for _, l := range lines[:len(lines)-1] {
		var g string
		var i int
		if _, err := fmt.Sscanf(l, "%s line %d", &g, &i); err != nil || next[g] != i {
			t.Fatalf("line %q out of order or torn (want %s line %d)", l, g, next[g])
		}
		next[g]++
	}
	if out.writes > 4000/4 {
		t.Fatalf("%d writes for 4000 records: not batched", out.writes)
	}
}

// At a person's pace, a record is out before Write returns: someone
// reading the log after a response finds its line. A burst is written by
// the batch writer, in fewer writes than records.
func TestLogWriterUncontendedIsSynchronous(t *testing.T) {
	out := &slowWriter{}
	w := newLogWriter(out)
	defer w.Close()
	for i := range 20 {
		time.Sleep(2 * busyGap)
		line := fmt.Sprintf("line %d\n", i)
		fmt.Fprint(w, line)
		out.mu.Lock()
		got := out.b.String()
		out.mu.Unlock()
		if !strings.HasSuffix(got, line) {
			t.Fatalf("after Write %d the output is %q", i, got)
		}
	}
	out.mu.Lock()
	before := out.writes
	out.mu.Unlock()
	for i := range 200 {
		fmt.Fprintf(w, "burst %d\n", i)
	}
	w.Flush()
	out.mu.Lock()
	defer out.mu.Unlock()
	if n := out.writes - before; n > 50 || !strings.HasSuffix(out.b.String(), "burst 199\n") {
		t.Fatalf("a burst of 200 records took %d writes", n)
	}
}
