package load

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one load run.
type Config struct {
	Target
	Sessions    int           // sessions initialized before the load; at least 1 when Concurrency > 0
	Concurrency int           // workers calling tools/call; 0 only holds idle streams for Duration
	Duration    time.Duration // measured phase (or the hold, with Concurrency 0)
	Warmup      time.Duration // unmeasured phase before it
	Idle        int           // idle streams held open through the run
	IdleDelete  bool          // DELETE idle streams' sessions when done
	Probe       *Probe        // may be nil
	SampleEvery time.Duration // probe interval during the measured phase
	Settle      time.Duration // wait after disconnecting before the "after" sample
	ReadyFile   string        // written once sessions and idle streams are open
	Tool        string        // tool to call with {"a","b"}; "add"
	// Rate, when above 0, makes the load open-loop: the workers together
	// start Rate calls a second on a fixed schedule, whatever the answers'
	// pace, and each call's latency is counted from when the schedule
	// meant it to start, so a server that stalls is charged for the calls
	// it held back (no coordinated omission). 0: each worker calls again
	// as soon as it is answered (closed loop), as wrk does.
	Rate float64
	// Tokens, when set, replace Target.Token: session i and idle stream i
	// use Tokens[i % len(Tokens)], spreading them over several users, for
	// servers that bound the sessions of one user.
	Tokens []string
	Logf   func(format string, a ...any)
}

// Latency summarises the measured calls, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// Report is the outcome of Run, printed as text or JSON.
type Report struct {
	URL         string           `json:"url"`
	Transport   string           `json:"transport"`
	Sessions    int              `json:"sessions"`
	Concurrency int              `json:"concurrency"`
	IdleWanted  int              `json:"idle_wanted"`
	IdleOpen    int              `json:"idle_open"`
	SetupErrors map[string]int64 `json:"setup_errors"`
	Seconds     float64          `json:"seconds"`
	Requests    int64            `json:"requests"`
	OK          int64            `json:"ok"`
	Errors      map[string]int64 `json:"errors"`
	RPS         float64          `json:"rps"`
	Latency     Latency          `json:"latency"`
	Before      Sample           `json:"before"`
	Setup       Sample           `json:"setup"`
	Peak        Sample           `json:"peak"`
	After       Sample           `json:"after"`
	// FirstError is one example message per kind, to say what went wrong.
	FirstError map[string]string `json:"first_error,omitempty"`
}

// Run performs one load run. It stops early, still cleaning up and
// sampling, when ctx is cancelled.
func Run(ctx context.Context, cfg Config) *Report {
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if cfg.Tool == "" {
		cfg.Tool = "add"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Concurrency > 0 && cfg.Sessions < 1 {
		cfg.Sessions = cfg.Concurrency
	}
	rep := &Report{URL: cfg.URL, Transport: cfg.Transport, Concurrency: cfg.Concurrency, IdleWanted: cfg.Idle,
		SetupErrors: map[string]int64{}, Errors: map[string]int64{}, FirstError: map[string]string{}}
	rep.Before = cfg.Probe.Take(true)

	conns := cfg.Concurrency + 16
	if cfg.Transport == "sse" {
		conns += cfg.Sessions
	}
	client := NewHTTPClient(conns)
	defer client.CloseIdleConnections()
	var seq atomic.Int64
	setupWorkers := min(64, max(cfg.Concurrency, 8))

	// Sessions for the load.
	sessions := make([]Session, 0, cfg.Sessions)
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for range setupWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(cfg.Sessions) && ctx.Err() == nil; i = next.Add(1) {
				sctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
				s, err := Open(sctx, client, cfg.target(i-1), &seq)
				cancel()
				mu.Lock()
				if err != nil {
					rep.SetupErrors[Kind(err)]++
					if _, ok := rep.FirstError["setup_"+Kind(err)]; !ok {
						rep.FirstError["setup_"+Kind(err)] = err.Error()
					}
				} else {
					sessions = append(sessions, s)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rep.Sessions = len(sessions)
	logf("sessions open: %d of %d", len(sessions), cfg.Sessions)

	var idle *IdleSet
	if cfg.Idle > 0 {
		idle = OpenIdle(ctx, client, cfg.target, cfg.Idle, setupWorkers, &seq)
		rep.IdleOpen = idle.Open()
		for k, v := range idle.Errors {
			rep.SetupErrors[k] += v
		}
		logf("idle streams open: %d of %d", rep.IdleOpen, cfg.Idle)
	}
	rep.Setup = cfg.Probe.Take(true)
	if cfg.ReadyFile != "" {
		os.WriteFile(cfg.ReadyFile, []byte(strconv.Itoa(rep.IdleOpen)+"\n"), 0o644)
	}

	if cfg.Concurrency > 0 && len(sessions) > 0 {
		if cfg.Warmup > 0 && ctx.Err() == nil {
			logf("warm-up %s", cfg.Warmup)
			work(ctx, cfg, sessions, &seq, cfg.Warmup, nil)
		}
		logf("measuring %s", cfg.Duration)
		during, stop := sample(cfg.Probe, cfg.SampleEvery)
		work(ctx, cfg, sessions, &seq, cfg.Duration, rep)
		rep.Peak = Peak(stop(during))
	} else if cfg.Concurrency == 0 {
		logf("holding for %s", cfg.Duration)
		during, stop := sample(cfg.Probe, cfg.SampleEvery)
		select {
		case <-ctx.Done():
		case <-time.After(cfg.Duration):
		}
		rep.Peak = Peak(stop(during))
	}

	// Disconnect everything, then see what the server gives back.
	var cw sync.WaitGroup
	for i := range sessions {
		cw.Add(1)
		go func() { defer cw.Done(); sessions[i].Close() }()
		if i%64 == 63 {
			cw.Wait()
		}
	}
	cw.Wait()
	if idle != nil {
		idle.Close(cfg.IdleDelete, setupWorkers)
	}
	client.CloseIdleConnections()
	if cfg.Settle > 0 {
		time.Sleep(cfg.Settle)
	}
	rep.After = cfg.Probe.Take(true)
	return rep
}

// target returns the target of session or idle stream i.
func (cfg *Config) target(i int64) Target {
	t := cfg.Target
	if len(cfg.Tokens) > 0 {
		t.Token = cfg.Tokens[i%int64(len(cfg.Tokens))]
	}
	return t
}

// sample probes every interval until the returned stop is called.
func sample(p *Probe, every time.Duration) (*[]Sample, func(*[]Sample) []Sample) {
	out := &[]Sample{}
	if p == nil || (p.PID <= 0 && p.Debug == "") {
		return out, func(*[]Sample) []Sample { return nil }
	}
	if every <= 0 {
		every = time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				*out = append(*out, p.Take(false))
			}
		}
	}()
	return out, func(s *[]Sample) []Sample { close(done); wg.Wait(); return *s }
}

// work runs cfg.Concurrency workers for d; with rep non-nil it records.
func work(ctx context.Context, cfg Config, sessions []Session, seq *atomic.Int64, d time.Duration, rep *Report) {
	type tally struct {
		lat    []time.Duration
		errs   map[string]int64
		first  map[string]string
		failed int64
	}
	tallies := make([]tally, cfg.Concurrency)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := &tallies[w]
			t.lat = make([]time.Duration, 0, 4096)
			t.errs = map[string]int64{}
			t.first = map[string]string{}
			s := sessions[w%len(sessions)]
			body := make([]byte, 0, 256)
			// Open loop: worker w's calls are due every period, offset
			// so the workers' calls interleave evenly.
			var period time.Duration
			var due time.Time
			if cfg.Rate > 0 {
				period = time.Duration(float64(cfg.Concurrency) / cfg.Rate * float64(time.Second))
				due = start.Add(period * time.Duration(w) / time.Duration(cfg.Concurrency))
			}
			for i := int64(0); ctx.Err() == nil && time.Now().Before(deadline); i++ {
				a, b := int64(w)*1_000_003+i, i%997
				id := seq.Add(1)
				body = appendCall(body[:0], id, cfg.Tool, a, b)
				if period > 0 {
					if !due.Before(deadline) {
						break
					}
					time.Sleep(time.Until(due)) // returns at once when behind
				}
				rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
				t0 := time.Now()
				if period > 0 {
					t0, due = due, due.Add(period)
				}
				res, err := s.Call(rctx, id, body)
				if err == nil {
					err = verifySum(res, a+b)
				}
				el := time.Since(t0)
				cancel()
				if err != nil {
					k := Kind(err)
					t.errs[k]++
					if _, ok := t.first[k]; !ok {
						t.first[k] = err.Error()
					}
					t.failed++
					if k == "transport" || k == "stream_closed" {
						time.Sleep(10 * time.Millisecond) // don't spin on a dead server
					}
					continue
				}
				t.lat = append(t.lat, el)
			}
		}()
	}
	wg.Wait()
	if rep == nil {
		return
	}
	rep.Seconds = time.Since(start).Seconds()
	var all []time.Duration
	for _, t := range tallies {
		all = append(all, t.lat...)
		for k, v := range t.errs {
			rep.Errors[k] += v
		}
		for k, v := range t.first {
			if _, ok := rep.FirstError[k]; !ok {
				rep.FirstError[k] = v
			}
		}
		rep.Requests += int64(len(t.lat)) + t.failed
	}
	rep.OK = int64(len(all))
	rep.RPS = float64(rep.OK) / rep.Seconds
	rep.Latency = Summarize(all)
}

// Summarize returns nearest-rank percentiles of lat (sorted in place).
func Summarize(lat []time.Duration) Latency {
	if len(lat) == 0 {
		return Latency{}
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p/100*float64(len(lat)))) - 1
		return lat[max(0, min(i, len(lat)-1))]
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return Latency{P50: ms(rank(50)), P90: ms(rank(90)), P99: ms(rank(99)), Max: ms(lat[len(lat)-1]),
		Mean: ms(sum / time.Duration(len(lat)))}
}

func appendCall(b []byte, id int64, tool string, a, x int64) []byte {
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"method":"tools/call","params":{"name":`...)
	b = strconv.AppendQuote(b, tool)
	b = append(b, `,"arguments":{"a":`...)
	b = strconv.AppendInt(b, a, 10)
	b = append(b, `,"b":`...)
	b = strconv.AppendInt(b, x, 10)
	return append(b, `}}}`...)
}

// verifySum checks a CallToolResult whose first text block states want:
// either the bare number or a sentence ending in it ("2 + 3 = 5").
func verifySum(res json.RawMessage, want int64) error {
	var r struct {
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		IsError bool `json:"isError"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return failf("bad_response", "tools/call result: %v", err)
	}
	if len(r.Content) == 0 || r.Content[0].Type != "text" {
		return failf("bad_result", "no text content in %.200s", res)
	}
	if r.IsError {
		return failf("tool_error", "%.200s", r.Content[0].Text)
	}
	if !SumMatches(r.Content[0].Text, want) {
		return failf("bad_result", "text %.100q does not state %d", r.Content[0].Text, want)
	}
	return nil
}

// SumMatches reports whether text is the number want, or ends with it
// (after "=" or a space), allowing a trailing period.
func SumMatches(text string, want int64) bool {
	t := strings.TrimRight(strings.TrimSpace(text), ".")
	if i := strings.LastIndexAny(t, " ="); i >= 0 {
		t = t[i+1:]
	}
	f, err := strconv.ParseFloat(t, 64)
	return err == nil && f == float64(want)
}
