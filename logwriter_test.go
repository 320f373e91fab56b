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

// With nothing else writing, a record is out before Write returns: a test
// (or a person) reading the log after a response finds its line.
func TestLogWriterUncontendedIsSynchronous(t *testing.T) {
	var out bytes.Buffer
	w := newLogWriter(&out)
	defer w.Close()
	for i := range 100 {
		line := fmt.Sprintf("line %d\n", i)
		fmt.Fprint(w, line)
		if !strings.HasSuffix(out.String(), line) {
			t.Fatalf("after Write %d the output is %q", i, out.String())
		}
	}
}
