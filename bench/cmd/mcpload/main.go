// Command mcpload measures an MCP server: it initializes sessions over
// Streamable HTTP or HTTP+SSE, calls tools/call "add" from concurrent
// workers for a fixed time, verifies every sum, and reports throughput,
// latency percentiles, errors by kind, and the server's memory, goroutines
// and file descriptors before, during and after the run. It can also hold
// thousands of idle streams open (alone, with -c 0, or under load).
//
//	mcpload -url http://127.0.0.1:8790/mcp -c 50 -d 10s
//	mcpload -url http://127.0.0.1:8788/sse -transport sse -token T -c 50 -d 10s
//	mcpload -url http://127.0.0.1:8788/mcp -signin http://127.0.0.1:8788 -c 50 -d 10s
//	mcpload -url ... -idle 10000 -c 0 -d 60s -pid 1234 -debug http://127.0.0.1:6061 -ready-file /tmp/ready
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"remote-mcp-authkit/bench/internal/load"
	"remote-mcp-authkit/bench/internal/signin"
)

func main() {
	var cfg load.Config
	flag.StringVar(&cfg.URL, "url", "http://127.0.0.1:8788/mcp", "MCP endpoint: .../mcp for streamable, .../sse for sse")
	flag.StringVar(&cfg.Transport, "transport", "streamable", "streamable or sse")
	flag.StringVar(&cfg.Token, "token", "", "bearer access token")
	tokensFile := flag.String("tokens-file", "", "file of bearer tokens, one a line, spread over the sessions and idle streams")
	flag.StringVar(&cfg.ProtocolVersion, "protocol", "2025-06-18", "protocol version requested in initialize")
	flag.StringVar(&cfg.Tool, "tool", "add", "tool called with {a, b}; its text result must state a+b")
	flag.IntVar(&cfg.Sessions, "sessions", 0, "sessions to initialize (0: one per worker)")
	flag.IntVar(&cfg.Concurrency, "c", 50, "concurrent workers (0: only hold idle streams for -d)")
	flag.DurationVar(&cfg.Duration, "d", 10*time.Second, "measured duration (or hold time with -c 0)")
	flag.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "unmeasured warm-up before the measured phase")
	flag.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "per-request timeout")
	flag.Float64Var(&cfg.Rate, "rate", 0, "open loop: start this many calls a second in all, on a fixed schedule, latency counted from each call's scheduled start (0: closed loop, each worker calls again when answered)")
	flag.IntVar(&cfg.Idle, "idle", 0, "idle streams to hold open (GET streams waiting for server messages)")
	flag.BoolVar(&cfg.IdleDelete, "idle-delete", true, "DELETE the idle streams' sessions when done")
	flag.DurationVar(&cfg.SampleEvery, "sample", time.Second, "server sampling interval during the run")
	flag.DurationVar(&cfg.Settle, "settle", 2*time.Second, "wait after disconnecting before the final sample")
	flag.StringVar(&cfg.ReadyFile, "ready-file", "", "file written once sessions and idle streams are open")
	pid := flag.Int("pid", 0, "server process id: sample VmRSS and open fds from /proc")
	debug := flag.String("debug", "", "server diagnostics base URL: GET /debug/vars (goroutines, memstats), POST /debug/gc")
	signinBase := flag.String("signin", "", "server base URL: obtain a token for -url through the server's OAuth flow (and sign-in page)")
	email := flag.String("email", "ada@example.com", "account to choose on the sign-in page with -signin; a comma-separated list signs in each and spreads sessions over them")
	printToken := flag.Bool("print-token", false, "with -signin: print the access token(s), one a line, and exit")
	jsonOut := flag.Bool("json", false, "print the report as JSON on stdout")
	quiet := flag.Bool("q", false, "no progress lines on stderr")
	flag.Parse()

	// Bound the whole process, so a forgotten run ends itself.
	limit := cfg.Warmup + cfg.Duration + 5*time.Minute
	time.AfterFunc(limit, func() { fmt.Fprintln(os.Stderr, "mcpload: overall time limit reached"); os.Exit(3) })

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !*quiet {
		cfg.Logf = func(format string, a ...any) {
			fmt.Fprintf(os.Stderr, "mcpload: "+format+"\n", a...)
		}
	}
	urlSet := false
	flag.Visit(func(f *flag.Flag) { urlSet = urlSet || f.Name == "url" })
	if *signinBase != "" && !urlSet {
		cfg.URL = strings.TrimRight(*signinBase, "/") + "/mcp"
	}
	if *signinBase != "" {
		toks, err := signInAll(ctx, *signinBase, cfg.URL, strings.Split(*email, ","))
		if err != nil {
			fmt.Fprintln(os.Stderr, "mcpload: sign-in:", err)
			os.Exit(1)
		}
		if *printToken {
			fmt.Println(strings.Join(toks, "\n"))
			return
		}
		cfg.Token, cfg.Tokens = toks[0], toks
	}
	if *tokensFile != "" {
		b, err := os.ReadFile(*tokensFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mcpload:", err)
			os.Exit(2)
		}
		cfg.Tokens = strings.Fields(string(b))
		if len(cfg.Tokens) == 0 {
			fmt.Fprintln(os.Stderr, "mcpload: no tokens in", *tokensFile)
			os.Exit(2)
		}
	}
	if *pid > 0 || *debug != "" {
		cfg.Probe = &load.Probe{PID: *pid, Debug: *debug}
	}
	if cfg.Idle > 0 {
		if n, err := load.RaiseFileLimit(); err != nil {
			fmt.Fprintln(os.Stderr, "mcpload: raising the file limit:", err)
		} else if n < uint64(cfg.Idle+cfg.Concurrency+64) {
			fmt.Fprintf(os.Stderr, "mcpload: file limit %d is too low for %d idle streams\n", n, cfg.Idle)
		}
	}
	rep := load.Run(ctx, cfg)
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	} else {
		printText(os.Stdout, rep)
	}
	if cfg.Concurrency > 0 && rep.OK == 0 {
		os.Exit(1)
	}
}

// signInAll signs in as each of emails: the first registers a client, the
// others reuse it, four at a time, each within two minutes (the server's
// rate limits may hold them back).
func signInAll(ctx context.Context, base, resource string, emails []string) ([]string, error) {
	toks := make([]string, len(emails))
	errs := make([]error, len(emails))
	first, err := signInOne(ctx, signin.Options{BaseURL: base, Resource: resource, Email: strings.TrimSpace(emails[0])})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", emails[0], err)
	}
	toks[0] = first.AccessToken
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, e := range emails[1:] {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			tok, err := signInOne(ctx, signin.Options{BaseURL: base, Resource: resource, Email: strings.TrimSpace(e), ClientID: first.ClientID})
			if err != nil {
				errs[i+1] = fmt.Errorf("%s: %w", e, err)
				return
			}
			toks[i+1] = tok.AccessToken
		}()
	}
	wg.Wait()
	return toks, errors.Join(errs...)
}

func signInOne(ctx context.Context, o signin.Options) (*signin.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return signin.SignIn(ctx, o)
}

func printText(w io.Writer, r *load.Report) {
	fmt.Fprintf(w, "%s %s  sessions %d  workers %d  idle %d/%d\n", r.Transport, r.URL, r.Sessions, r.Concurrency, r.IdleOpen, r.IdleWanted)
	if len(r.SetupErrors) > 0 {
		fmt.Fprintf(w, "setup errors: %s\n", kinds(r.SetupErrors))
	}
	if r.Concurrency > 0 {
		fmt.Fprintf(w, "requests %d in %.1fs  ok %d  errors %d %s\n", r.Requests, r.Seconds, r.OK, r.Requests-r.OK, kinds(r.Errors))
		fmt.Fprintf(w, "throughput %.0f req/s\n", r.RPS)
		l := r.Latency
		fmt.Fprintf(w, "latency ms  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  mean %.3f\n", l.P50, l.P90, l.P99, l.Max, l.Mean)
	}
	for k, v := range r.FirstError {
		fmt.Fprintf(w, "first %s: %s\n", k, v)
	}
	if r.Before.RSSKiB < 0 && r.Before.Goroutines < 0 {
		return
	}
	fmt.Fprintf(w, "%-12s %10s %10s %10s %10s\n", "server", "before", "setup", "peak", "after")
	row := func(name string, f func(load.Sample) float64) {
		fmt.Fprintf(w, "%-12s", name)
		for _, s := range []load.Sample{r.Before, r.Setup, r.Peak, r.After} {
			if v := f(s); v < 0 {
				fmt.Fprintf(w, " %10s", "-")
			} else {
				fmt.Fprintf(w, " %10.1f", v)
			}
		}
		fmt.Fprintln(w)
	}
	mib := func(kib int64) float64 {
		if kib < 0 {
			return -1
		}
		return float64(kib) / 1024
	}
	row("rss MiB", func(s load.Sample) float64 { return mib(s.RSSKiB) })
	row("heap MiB", func(s load.Sample) float64 {
		if s.HeapAlloc < 0 {
			return -1
		}
		return float64(s.HeapAlloc) / (1 << 20)
	})
	row("goroutines", func(s load.Sample) float64 { return float64(s.Goroutines) })
	row("fds", func(s load.Sample) float64 { return float64(s.FDs) })
	row("threads", func(s load.Sample) float64 { return float64(s.Threads) })
}

func kinds(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf(" %s=%d", k, m[k])
	}
	return s
}
