// Command benchtable turns the JSON reports that compare.sh collects into
// the comparison tables: per server the median throughput and p99 over the
// rounds and the ratio to the ceiling server; and, for the idle-streams
// test, memory per idle stream and what the server gave back after the
// streams closed.
//
//	benchtable -dir results/            # files NAME.ROUND.json
//	benchtable -idle -dir results/idle  # NAME.{base,loaded,base2,holder}.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"remote-mcp-authkit/bench/internal/load"
)

func main() {
	dir := flag.String("dir", "results", "directory of mcpload -json reports")
	idle := flag.Bool("idle", false, "print the idle-streams table instead")
	ceiling := flag.String("ceiling", "bare", "server whose throughput is 1.0")
	ours := flag.String("ours", "ours", "our server's name")
	versus := flag.String("versus", "mcpgo", "server to compare ours with")
	order := flag.String("order", "bare,ours,gosdk,mcpgo,ours-sse,gosdk-sse,mcpgo-sse", "row order (others follow)")
	flag.Parse()
	var err error
	if *idle {
		err = idleTable(*dir, strings.Split(*order, ","))
	} else {
		err = compareTable(*dir, strings.Split(*order, ","), *ceiling, *ours, *versus)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func read(path string) (*load.Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r load.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type row struct {
	name      string
	transport string
	rps, p99  []float64
	errors    int64
	requests  int64
}

func sortNames(names []string, order []string) {
	rank := func(n string) int {
		if i := slices.Index(order, n); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(names, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
}

func compareTable(dir string, order []string, ceiling, ours, versus string) error {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	rows := map[string]*row{}
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".json")
		name, _, ok := strings.Cut(base, ".")
		if !ok {
			continue
		}
		r, err := read(f)
		if err != nil {
			return err
		}
		rw := rows[name]
		if rw == nil {
			rw = &row{name: name, transport: r.Transport}
			rows[name] = rw
		}
		rw.rps = append(rw.rps, r.RPS)
		rw.p99 = append(rw.p99, r.Latency.P99)
		rw.requests += r.Requests
		rw.errors += r.Requests - r.OK
		for _, n := range r.SetupErrors {
			rw.errors += n
		}
	}
	if len(rows) == 0 {
		return fmt.Errorf("no NAME.ROUND.json reports in %s", dir)
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sortNames(names, order)
	var top float64
	if c := rows[ceiling]; c != nil {
		top = median(c.rps)
	}
	fmt.Printf("| server | transport | rounds | median req/s | median p99 ms | errors | vs %s |\n", ceiling)
	fmt.Println("|---|---|---:|---:|---:|---:|---:|")
	for _, n := range names {
		r := rows[n]
		ratio := "-"
		if top > 0 {
			ratio = fmt.Sprintf("%.2f", median(r.rps)/top)
		}
		fmt.Printf("| %s | %s | %d | %.0f | %.2f | %d/%d | %s |\n", n, r.transport, len(r.rps), median(r.rps), median(r.p99), r.errors, r.requests, ratio)
	}
	if o, v := rows[ours], rows[versus]; o != nil && v != nil && median(v.rps) > 0 && median(v.p99) > 0 {
		fmt.Printf("\n%s vs %s: throughput %.2fx, p99 %.2fx (below 1 is better)\n", ours, versus,
			median(o.rps)/median(v.rps), median(o.p99)/median(v.p99))
	}
	return nil
}

func idleTable(dir string, order []string) error {
	files, _ := filepath.Glob(filepath.Join(dir, "*.holder.json"))
	if len(files) == 0 {
		return fmt.Errorf("no NAME.holder.json reports in %s", dir)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".holder.json"))
	}
	sortNames(names, order)
	fmt.Println("| server | idle open | p99 ms before / with idle / after | req/s before / with / after | RSS KiB per stream | heap KiB per stream | goroutines before / idle / after | fds before / idle / after | live heap MiB before / after |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range names {
		h, err := read(filepath.Join(dir, n+".holder.json"))
		if err != nil {
			return err
		}
		base, _ := read(filepath.Join(dir, n+".base.json"))
		loaded, _ := read(filepath.Join(dir, n+".loaded.json"))
		base2, _ := read(filepath.Join(dir, n+".base2.json"))
		p99, rps := "-", "-"
		if base != nil && loaded != nil {
			p99 = fmt.Sprintf("%.2f / %.2f", base.Latency.P99, loaded.Latency.P99)
			rps = fmt.Sprintf("%.0f / %.0f", base.RPS, loaded.RPS)
			if base2 != nil {
				p99 += fmt.Sprintf(" / %.2f", base2.Latency.P99)
				rps += fmt.Sprintf(" / %.0f", base2.RPS)
			}
		}
		per := func(a, b int64, unit float64) string {
			if a < 0 || b < 0 || h.IdleOpen == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f", float64(b-a)/unit/float64(h.IdleOpen))
		}
		three := func(f func(load.Sample) int64) string {
			v := []int64{f(h.Before), f(h.Setup), f(h.After)}
			s := make([]string, 3)
			for i, x := range v {
				s[i] = "-"
				if x >= 0 {
					s[i] = fmt.Sprint(x)
				}
			}
			return strings.Join(s, " / ")
		}
		heap := "-"
		if h.Before.HeapAlloc >= 0 && h.After.HeapAlloc >= 0 {
			heap = fmt.Sprintf("%.1f / %.1f", float64(h.Before.HeapAlloc)/(1<<20), float64(h.After.HeapAlloc)/(1<<20))
		}
		fmt.Printf("| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s |\n", n, h.IdleOpen, h.IdleWanted, p99, rps,
			per(h.Before.RSSKiB, h.Setup.RSSKiB, 1), per(h.Before.HeapAlloc, h.Setup.HeapAlloc, 1024),
			three(func(s load.Sample) int64 { return s.Goroutines }), three(func(s load.Sample) int64 { return s.FDs }), heap)
		if len(h.SetupErrors) > 0 {
			fmt.Printf("|   %s setup errors: %v |\n", n, h.SetupErrors)
		}
	}
	return nil
}
