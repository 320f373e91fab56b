package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

// Probe samples the server under test: resident memory and open file
// descriptors from /proc/PID (when PID > 0), and goroutines and heap from the
// server's loopback diagnostics listener (when Debug is set), which serves
// expvar JSON at GET /debug/vars with "goroutines" (int) and "memstats"
// (runtime.MemStats), and runs a collection on POST /debug/gc.
type Probe struct {
	PID   int
	Debug string // base URL, e.g. http://127.0.0.1:6061
	c     *http.Client
}

// Sample is one observation; -1 marks a value that could not be read.
type Sample struct {
	At         time.Time `json:"at"`
	RSSKiB     int64     `json:"rss_kib"`
	FDs        int64     `json:"fds"`
	Threads    int64     `json:"threads"`
	Goroutines int64     `json:"goroutines"`
	HeapAlloc  int64     `json:"heap_alloc"` // bytes; the live heap when sampled after GC
	AfterGC    bool      `json:"after_gc"`
}

// Take samples now; with gc it first asks the server to collect, so that
// HeapAlloc is the live heap.
func (p *Probe) Take(gc bool) Sample {
	s := Sample{At: time.Now(), RSSKiB: -1, FDs: -1, Threads: -1, Goroutines: -1, HeapAlloc: -1}
	if p == nil {
		return s
	}
	if p.PID > 0 {
		s.RSSKiB, s.Threads = procStatus(p.PID)
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.PID)); err == nil {
			s.FDs = int64(len(ents))
		}
	}
	if p.Debug != "" {
		if p.c == nil {
			p.c = &http.Client{Timeout: 10 * time.Second}
		}
		if gc {
			// Twice: objects with cleanups or finalizers (every closed
			// connection's file) are freed only by the cycle after the one
			// that found them unreachable.
			for range 2 {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.Debug+"/debug/gc", nil)
				if resp, err := p.c.Do(req); err == nil {
					drain(resp.Body)
					s.AfterGC = resp.StatusCode < 300
				}
				cancel()
			}
			if p.PID > 0 { // GC returns memory; read RSS again
				s.RSSKiB, s.Threads = procStatus(p.PID)
			}
		}
		if resp, err := p.c.Get(p.Debug + "/debug/vars"); err == nil {
			var v struct {
				Goroutines *int64 `json:"goroutines"`
				Memstats   *struct {
					HeapAlloc int64 `json:"HeapAlloc"`
				} `json:"memstats"`
			}
			if json.NewDecoder(resp.Body).Decode(&v) == nil {
				if v.Goroutines != nil {
					s.Goroutines = *v.Goroutines
				}
				if v.Memstats != nil {
					s.HeapAlloc = v.Memstats.HeapAlloc
				}
			}
			drain(resp.Body)
		}
	}
	return s
}

// procStatus reads VmRSS (KiB) and Threads from /proc/PID/status.
func procStatus(pid int) (rss, threads int64) {
	rss, threads = -1, -1
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			continue
		}
		switch string(k) {
		case "VmRSS":
			rss = n
		case "Threads":
			threads = n
		}
	}
	return
}

// Peak returns the element-wise maximum of samples.
func Peak(samples []Sample) Sample {
	p := Sample{RSSKiB: -1, FDs: -1, Threads: -1, Goroutines: -1, HeapAlloc: -1}
	for _, s := range samples {
		p.At = s.At
		p.RSSKiB = max(p.RSSKiB, s.RSSKiB)
		p.FDs = max(p.FDs, s.FDs)
		p.Threads = max(p.Threads, s.Threads)
		p.Goroutines = max(p.Goroutines, s.Goroutines)
		p.HeapAlloc = max(p.HeapAlloc, s.HeapAlloc)
	}
	return p
}
