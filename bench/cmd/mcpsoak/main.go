// Command mcpsoak runs a long mixed load against the product and checks
// that it neither fails nor grows: several users sign in through several
// clients, then workers open and close Streamable HTTP sessions (DELETE),
// call add and whoami and list tools (verifying every answer), open and
// close GET streams, open, use and close HTTP+SSE sessions, while every
// client refreshes its tokens every few seconds (rotation; the new access
// token is used from then on). Every 10 s it samples the server after a
// forced GC (goroutines and live heap from the diagnostics listener, RSS
// and open fds from /proc). At the end it prints requests and errors by
// kind, the samples, a least-squares trend of goroutines and heap over the
// second half, and a verdict; it exits 1 on any error or upward trend.
//
//	mcpsoak -base http://127.0.0.1:18800 -debug http://127.0.0.1:18801 -pid PID -d 10m
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"remote-mcp-authkit/bench/internal/load"
	"remote-mcp-authkit/bench/internal/signin"
)

type config struct {
	base, debug   string
	pid           int
	dur, every    time.Duration
	refreshEvery  time.Duration
	timeout       time.Duration
	think         time.Duration
	settle        time.Duration
	workers       int
	clients       int // per user, for /mcp; each user also gets one for /sse
	maxOpen       int // Streamable HTTP sessions a worker holds at once
	users         []string
	lim           limits
	printErrorsTo io.Writer
}

func main() {
	var cfg config
	flag.StringVar(&cfg.base, "base", "http://127.0.0.1:8788", "the product's base URL (loopback)")
	flag.StringVar(&cfg.debug, "debug", "", "the product's diagnostics base URL: GET /debug/vars, POST /debug/gc (required)")
	flag.IntVar(&cfg.pid, "pid", 0, "the product's process id, for RSS and fds from /proc")
	flag.DurationVar(&cfg.dur, "d", 10*time.Minute, "how long the mixed load runs")
	flag.DurationVar(&cfg.every, "every", 10*time.Second, "sampling interval")
	flag.DurationVar(&cfg.refreshEvery, "refresh", 5*time.Second, "token refresh interval per client")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "per-step timeout")
	flag.DurationVar(&cfg.think, "think", 10*time.Millisecond, "a worker pauses up to this long between steps")
	flag.DurationVar(&cfg.settle, "settle", 3*time.Second, "wait after the final close before the last sample")
	flag.IntVar(&cfg.workers, "workers", 4, "concurrent workers")
	flag.IntVar(&cfg.clients, "clients", 2, "signed-in clients per user for /mcp (each user also gets one for /sse)")
	flag.IntVar(&cfg.maxOpen, "sessions", 4, "Streamable HTTP sessions each worker holds open at most")
	users := flag.String("users", "ada@example.com,grace@example.com", "accounts to sign in as (comma-separated)")
	flag.Float64Var(&cfg.lim.heapPctPerMin, "max-heap-slope", 1, "largest tolerated heap slope over the second half, percent of its mean per minute")
	flag.Float64Var(&cfg.lim.goroutineRise, "max-goroutine-rise", 20, "largest tolerated fitted goroutine rise over the second half")
	flag.Int64Var(&cfg.lim.goroutineSlack, "slack", 10, "goroutines (and fds) tolerated above the start after the final close")
	flag.IntVar(&cfg.lim.minWindowSamples, "min-samples", 3, "fewest samples the second half must hold for a verdict")
	flag.Parse()
	for _, u := range strings.Split(*users, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.users = append(cfg.users, u)
		}
	}
	if err := loopbackOnly(cfg.base, cfg.debug); err != nil {
		fmt.Fprintln(os.Stderr, "mcpsoak:", err)
		os.Exit(2)
	}
	cfg.printErrorsTo = os.Stderr
	// Bound the process whatever happens.
	time.AfterFunc(cfg.dur+5*time.Minute, func() { fmt.Fprintln(os.Stderr, "mcpsoak: overall time limit reached"); os.Exit(3) })
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcpsoak:", err)
		os.Exit(1)
	}
	rep.print(os.Stdout, cfg)
	if !rep.ok() {
		os.Exit(1)
	}
}

// loopbackOnly refuses to soak anything but this machine.
func loopbackOnly(urls ...string) error {
	for _, u := range urls {
		if u == "" {
			continue
		}
		host := strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
		host, _, _ = strings.Cut(host, "/")
		h, _, err := net.SplitHostPort(host)
		if err != nil {
			h = host
		}
		ip := net.ParseIP(h)
		if h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("%s is not a loopback address", u)
		}
	}
	return nil
}

// point is one sample of the server with what the soak had open then.
type point struct {
	load.Sample
	Sessions int64 // Streamable HTTP sessions open
	Legacy   int64 // HTTP+SSE sessions open
	Requests int64 // steps so far
}

// report is the outcome of a run.
type report struct {
	start, end    time.Time
	dur           time.Duration
	creds         []*cred
	reqs, errs    map[string]int64
	before, after point
	settled       time.Duration
	samples       []point
	trend         trend
}

func (r *report) ok() bool {
	n := int64(0)
	for _, v := range r.errs {
		n += v
	}
	return n == 0 && len(r.trend.Failures) == 0
}

// counters are the steps and failures by kind, safe for the workers.
type counters struct {
	mu      sync.Mutex
	reqs    map[string]int64
	errs    map[string]int64
	printed int
	out     io.Writer
	total   atomic.Int64
	open    atomic.Int64
	legacy  atomic.Int64
}

// done counts one step of kind op, and its failure if err is not nil.
func (c *counters) done(op string, err error) {
	c.total.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs[op]++
	if err == nil {
		return
	}
	k := op + " " + errKind(err)
	c.errs[k]++
	if c.printed < 50 && c.out != nil {
		c.printed++
		fmt.Fprintf(c.out, "mcpsoak: %s %s: %v\n", time.Now().UTC().Format("15:04:05.000"), op, err)
	}
}

func run(ctx context.Context, cfg config) (*report, error) {
	if cfg.debug == "" {
		return nil, fmt.Errorf("-debug is required: the soak judges the server by its goroutines and heap")
	}
	base := strings.TrimRight(cfg.base, "/")
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        4 * cfg.workers,
		MaxIdleConnsPerHost: 4 * cfg.workers,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	c := &client{hc: hc, timeout: cfg.timeout}
	probe := &load.Probe{PID: cfg.pid, Debug: strings.TrimRight(cfg.debug, "/")}
	cnt := &counters{reqs: map[string]int64{}, errs: map[string]int64{}, out: cfg.printErrorsTo}

	// Sign in: every user through every client, as the browser would.
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tokURL, err := c.tokenEndpoint(sctx, base)
	if err != nil {
		return nil, err
	}
	c.tokenURL = tokURL
	var mcpCreds, sseCreds []*cred
	for _, email := range cfg.users {
		for i := range cfg.clients + 1 {
			res := base + "/mcp"
			if i == cfg.clients {
				res = base + "/sse"
			}
			tok, err := signin.SignIn(sctx, signin.Options{BaseURL: base, Resource: res, Email: email,
				ClientName: fmt.Sprintf("mcpsoak %d", i), HTTPClient: &http.Client{Transport: tr, Timeout: cfg.timeout}})
			if err != nil {
				return nil, fmt.Errorf("sign-in as %s for %s: %w", email, res, err)
			}
			if tok.RefreshToken == "" {
				return nil, fmt.Errorf("sign-in as %s: the token response has no refresh_token", email)
			}
			cr := &cred{email: email, resource: res, clientID: tok.ClientID, access: tok.AccessToken, refresh: tok.RefreshToken}
			// whoami once, to learn the permissions tools/list must reflect.
			if i == cfg.clients {
				l, err := c.openLegacy(cr, res)
				if err != nil {
					return nil, fmt.Errorf("first /sse session as %s: %w", email, err)
				}
				out, err := c.callLegacy(l, "tools/call", map[string]any{"name": "whoami", "arguments": map[string]any{}})
				if err == nil {
					var w *whoami
					if w, err = checkWhoami(out, email, nil); err == nil {
						cr.perms = w.Permissions
					}
				}
				if e := c.endLegacy(l); err == nil {
					err = e
				}
				if err != nil {
					return nil, fmt.Errorf("whoami over /sse as %s: %w", email, err)
				}
				sseCreds = append(sseCreds, cr)
			} else {
				s, err := c.open(cr, res, "2025-11-25")
				if err != nil {
					return nil, fmt.Errorf("first session as %s: %w", email, err)
				}
				out, err := c.call(s, "tools/call", map[string]any{"name": "whoami", "arguments": map[string]any{}})
				if err == nil {
					var w *whoami
					if w, err = checkWhoami(out, email, nil); err == nil {
						cr.perms = w.Permissions
					}
				}
				if e := c.end(s); err == nil {
					err = e
				}
				if err != nil {
					return nil, fmt.Errorf("whoami as %s: %w", email, err)
				}
				mcpCreds = append(mcpCreds, cr)
			}
			if cr.perms == nil {
				cr.perms = []string{}
			}
		}
	}
	allCreds := append(slices.Clone(mcpCreds), sseCreds...)

	quiet := func() point {
		tr.CloseIdleConnections()
		time.Sleep(cfg.settle)
		return point{Sample: probe.Take(true)}
	}
	rep := &report{dur: cfg.dur, creds: allCreds}
	rep.before = quiet()

	rep.start = time.Now()
	runCtx, stopRun := context.WithTimeout(ctx, cfg.dur)
	defer stopRun()
	var wg sync.WaitGroup

	// Refreshers: one per client, staggered.
	for i, cr := range allCreds {
		wg.Go(func() {
			off := time.Duration(i) * cfg.refreshEvery / time.Duration(len(allCreds))
			select {
			case <-runCtx.Done():
				return
			case <-time.After(off):
			}
			t := time.NewTicker(cfg.refreshEvery)
			defer t.Stop()
			for {
				cnt.done("refresh", c.refresh(cr))
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	// The sampler.
	var samples []point
	var smu sync.Mutex
	wg.Go(func() {
		t := time.NewTicker(cfg.every)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			p := point{Sample: probe.Take(true), Sessions: cnt.open.Load(), Legacy: cnt.legacy.Load(), Requests: cnt.total.Load()}
			smu.Lock()
			samples = append(samples, p)
			smu.Unlock()
		}
	})
	for w := range cfg.workers {
		wg.Go(func() {
			wk := &worker{c: c, cnt: cnt, cfg: cfg, rng: rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano()))),
				mcp: mcpCreds, sse: sseCreds, mcpURL: base + "/mcp", sseURL: base + "/sse"}
			wk.loop(runCtx)
		})
	}
	wg.Wait()
	rep.end = time.Now()
	// The final close is done by the workers; then nothing is open, and
	// the server must be back where it started.
	t0 := time.Now()
	rep.after = quiet()
	for rep.after.Goroutines > rep.before.Goroutines+cfg.lim.goroutineSlack && time.Since(t0) < 30*time.Second {
		rep.after = quiet()
	}
	rep.settled = time.Since(t0)
	rep.samples = samples
	rep.reqs, rep.errs = cnt.reqs, cnt.errs
	rep.trend = analyse(samples, rep.start, cfg.dur, rep.before, rep.after, cfg.lim)
	return rep, nil
}

// worker runs the mix until ctx ends, then closes everything it holds.
type worker struct {
	c              *client
	cnt            *counters
	cfg            config
	rng            *rand.Rand
	mcp, sse       []*cred
	mcpURL, sseURL string
	open           []*session
	leg            *legacy
}

var versions = []string{"2025-11-25", "2025-06-18", "2025-03-26"}

func (w *worker) loop(ctx context.Context) {
	for ctx.Err() == nil {
		r := w.rng.IntN(100)
		switch {
		case r < 12 || len(w.open) == 0:
			if len(w.open) >= w.cfg.maxOpen {
				w.closeAt(0)
			}
			w.openOne()
		case r < 22:
			w.closeAt(w.rng.IntN(len(w.open)))
		case r < 47:
			w.add()
		case r < 57:
			w.whoami()
		case r < 65:
			w.list()
		case r < 72:
			w.get()
		case r < 88:
			w.legacyStep()
		default:
			s := w.pick()
			_, err := w.c.call(s, "ping", nil)
			w.cnt.done("ping", err)
		}
		if w.cfg.think > 0 {
			time.Sleep(time.Duration(w.rng.Int64N(int64(w.cfg.think))))
		}
	}
	for len(w.open) > 0 {
		w.closeAt(0)
	}
	if w.leg != nil {
		w.cnt.done("sse close", w.c.endLegacy(w.leg))
		w.leg = nil
		w.cnt.legacy.Add(-1)
	}
}

func (w *worker) pick() *session { return w.open[w.rng.IntN(len(w.open))] }

func (w *worker) openOne() {
	cr := w.mcp[w.rng.IntN(len(w.mcp))]
	s, err := w.c.open(cr, w.mcpURL, versions[w.rng.IntN(len(versions))])
	w.cnt.done("initialize", err)
	if err == nil {
		w.open = append(w.open, s)
		w.cnt.open.Add(1)
	}
}

func (w *worker) closeAt(i int) {
	s := w.open[i]
	w.open = slices.Delete(w.open, i, i+1)
	w.cnt.open.Add(-1)
	w.cnt.done("delete", w.c.end(s))
}

func (w *worker) add() {
	s := w.pick()
	a, b := w.rng.Int64N(1_000_000), w.rng.Int64N(1_000_000)
	res, err := w.c.call(s, "tools/call", map[string]any{"name": "add", "arguments": map[string]any{"a": a, "b": b}})
	if err == nil {
		err = checkAdd(res, a+b)
	}
	w.cnt.done("tools/call add", err)
}

func (w *worker) whoami() {
	s := w.pick()
	res, err := w.c.call(s, "tools/call", map[string]any{"name": "whoami", "arguments": map[string]any{}})
	if err == nil {
		_, err = checkWhoami(res, s.cr.email, s.cr.perms)
	}
	w.cnt.done("tools/call whoami", err)
}

func (w *worker) list() {
	s := w.pick()
	res, err := w.c.call(s, "tools/list", nil)
	if err == nil {
		err = checkTools(res, s.cr.hasPerm("image_generation"))
	}
	w.cnt.done("tools/list", err)
}

// get opens a GET stream on a session whose last one closed a while ago:
// the server learns of a closed stream asynchronously, and a GET while
// it still counts the old one open is answered 409 by design.
func (w *worker) get() {
	var s *session
	for _, i := range w.rng.Perm(len(w.open)) {
		if time.Since(w.open[i].lastGet) > time.Second {
			s = w.open[i]
			break
		}
	}
	if s == nil {
		return
	}
	hold := time.Duration(50+w.rng.IntN(450)) * time.Millisecond
	w.cnt.done("GET stream", w.c.getStream(s, hold))
}

func (w *worker) legacyStep() {
	switch {
	case w.leg == nil:
		cr := w.sse[w.rng.IntN(len(w.sse))]
		l, err := w.c.openLegacy(cr, w.sseURL)
		w.cnt.done("sse open", err)
		if err == nil {
			w.leg = l
			w.cnt.legacy.Add(1)
		}
	case w.rng.IntN(4) == 0:
		w.cnt.done("sse close", w.c.endLegacy(w.leg))
		w.leg = nil
		w.cnt.legacy.Add(-1)
	case w.rng.IntN(2) == 0:
		a, b := w.rng.Int64N(1_000_000), w.rng.Int64N(1_000_000)
		res, err := w.c.callLegacy(w.leg, "tools/call", map[string]any{"name": "add", "arguments": map[string]any{"a": a, "b": b}})
		if err == nil {
			err = checkAdd(res, a+b)
		}
		w.cnt.done("sse tools/call add", err)
		w.dropBrokenLegacy(err)
	default:
		res, err := w.c.callLegacy(w.leg, "tools/call", map[string]any{"name": "whoami", "arguments": map[string]any{}})
		if err == nil {
			_, err = checkWhoami(res, w.leg.cr.email, w.leg.cr.perms)
		}
		w.cnt.done("sse tools/call whoami", err)
		w.dropBrokenLegacy(err)
	}
}

// dropBrokenLegacy forgets a session whose stream failed (already counted).
func (w *worker) dropBrokenLegacy(err error) {
	if k := errKind(err); err != nil && (k == "stream" || k == "timeout" || k == "transport") {
		w.leg.close()
		w.leg = nil
		w.cnt.legacy.Add(-1)
	}
}

func (r *report) print(out io.Writer, cfg config) {
	fmt.Fprintf(out, "mcpsoak: %s of mixed load, %d workers, %d clients (%s), refresh every %s\n",
		r.end.Sub(r.start).Round(time.Second), cfg.workers, len(r.creds), strings.Join(cfg.users, ", "), cfg.refreshEvery)
	for _, cr := range r.creds {
		fmt.Fprintf(out, "  client %s for %s as %s: %d refreshes\n", cr.clientID, cr.resource, cr.email, cr.gen)
	}
	fmt.Fprintln(out, "\nrequests by kind (a step may be several HTTP requests: initialize = initialize + initialized; delete = DELETE + a 404 check)")
	total := int64(0)
	for _, k := range sortedKeys(r.reqs) {
		fmt.Fprintf(out, "  %-24s %9d\n", k, r.reqs[k])
		total += r.reqs[k]
	}
	fmt.Fprintf(out, "  %-24s %9d  (%.0f/s)\n", "total", total, float64(total)/r.end.Sub(r.start).Seconds())
	errs := int64(0)
	for _, v := range r.errs {
		errs += v
	}
	fmt.Fprintf(out, "\nerrors: %d\n", errs)
	for _, k := range sortedKeys(r.errs) {
		fmt.Fprintf(out, "  %-40s %9d\n", k, r.errs[k])
	}
	fmt.Fprintln(out, "\nsamples (after forced GC; sessions = what the soak held open at the time)")
	fmt.Fprintf(out, "  %8s %10s %10s %9s %6s %8s %6s %9s\n", "t", "goroutines", "heap KiB", "RSS KiB", "fds", "sessions", "sse", "steps")
	row := func(label string, p point) {
		fmt.Fprintf(out, "  %8s %10d %10d %9d %6d %8d %6d %9d\n", label, p.Goroutines, p.HeapAlloc/1024, p.RSSKiB, p.FDs, p.Sessions, p.Legacy, p.Requests)
	}
	row("start", r.before)
	for _, p := range r.samples {
		row(fmt.Sprintf("%.0fs", p.At.Sub(r.start).Seconds()), p)
	}
	row("end", r.after)
	t := r.trend
	fmt.Fprintf(out, "\ntrend over the second half (%d samples, %.1f min):\n", t.Samples, t.Minutes)
	fmt.Fprintf(out, "  heap:       mean %.0f KiB, slope %+.1f KiB/min = %+.2f%% of mean per minute (limit %.2f%%)\n",
		t.HeapMean/1024, t.HeapSlope/1024, t.HeapPctPerMin, cfg.lim.heapPctPerMin)
	fmt.Fprintf(out, "  goroutines: mean %.1f, slope %+.2f/min, fitted rise %+.1f (limit %.0f)\n",
		t.GoroutineMean, t.GoroutineSlope, t.GoroutineRise, cfg.lim.goroutineRise)
	fmt.Fprintf(out, "  after the final close (%s to settle): goroutines %d (start %d), fds %d (start %d), slack %d\n",
		r.settled.Round(100*time.Millisecond), t.EndGoroutines, t.StartGoroutines, t.EndFDs, t.StartFDs, cfg.lim.goroutineSlack)
	verdict := "PASS"
	if !r.ok() {
		verdict = "FAIL"
	}
	fmt.Fprintf(out, "\nverdict: %s", verdict)
	if errs > 0 {
		fmt.Fprintf(out, "; %d errors", errs)
	}
	for _, f := range t.Failures {
		fmt.Fprintf(out, "; %s", f)
	}
	fmt.Fprintln(out)
}

func sortedKeys(m map[string]int64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
