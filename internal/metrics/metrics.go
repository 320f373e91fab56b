// Package metrics keeps the product's counters, gauges and histograms and
// writes them in the Prometheus text exposition format (version 0.0.4,
// "Exposition formats" in the Prometheus documentation), with the standard
// library only. It is small on purpose: what the product counts, no more.
//
// Label values must come from bounded sets (routes, methods, tool names,
// outcomes); never a user id, a token or anything a client chooses freely.
package metrics

import (
	"bufio"
	"cmp"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metric families in the order they were created.
type Registry struct {
	mu       sync.Mutex
	families []family
	names    map[string]bool
}

// family is one metric name: its HELP, TYPE and samples.
type family interface {
	name() string
	write(w *bufio.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

func (r *Registry) add(f family) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[f.name()] {
		panic("metrics: " + f.name() + " registered twice")
	}
	r.names[f.name()] = true
	r.families = append(r.families, f)
}

// Handler serves the registry in the text exposition format.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		bw := bufio.NewWriterSize(w, 16<<10)
		r.WriteTo(bw)
		bw.Flush()
	})
}

// WriteTo writes every family.
func (r *Registry) WriteTo(w *bufio.Writer) {
	r.mu.Lock()
	fams := slices.Clone(r.families)
	r.mu.Unlock()
	for _, f := range fams {
		f.write(w)
	}
}

func header(w *bufio.Writer, name, help, typ string) {
	w.WriteString("# HELP ")
	w.WriteString(name)
	w.WriteByte(' ')
	// HELP text escapes backslash and newline.
	w.WriteString(strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(help))
	w.WriteString("\n# TYPE ")
	w.WriteString(name)
	w.WriteByte(' ')
	w.WriteString(typ)
	w.WriteByte('\n')
}

// labels writes {k="v",...}; values escape backslash, quote and newline.
func labels(w *bufio.Writer, names, values []string, extraName, extraValue string) {
	if len(names) == 0 && extraName == "" {
		return
	}
	w.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(n)
		w.WriteString(`="`)
		w.WriteString(escapeValue(values[i]))
		w.WriteByte('"')
	}
	if extraName != "" {
		if len(names) > 0 {
			w.WriteByte(',')
		}
		w.WriteString(extraName)
		w.WriteString(`="`)
		w.WriteString(extraValue)
		w.WriteByte('"')
	}
	w.WriteByte('}')
}

var valueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeValue(v string) string {
	if !strings.ContainsAny(v, "\\\"\n") {
		return v
	}
	return valueEscaper.Replace(v)
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// key is up to four label values: a comparable map key with no allocation.
type key [4]string

func makeKey(n int, values []string) key {
	if len(values) != n {
		panic("metrics: wrong number of label values")
	}
	var k key
	copy(k[:], values)
	return k
}

// CounterVec is a counter with labels.
type CounterVec struct {
	n, help string
	labels  []string
	mu      sync.RWMutex
	series  map[key]*atomic.Uint64
}

// NewCounterVec registers a counter named name (ending in _total) with at
// most four labels.
func (r *Registry) NewCounterVec(name, help string, labelNames ...string) *CounterVec {
	if len(labelNames) > len(key{}) {
		panic("metrics: too many labels")
	}
	c := &CounterVec{n: name, help: help, labels: labelNames, series: map[key]*atomic.Uint64{}}
	r.add(c)
	return c
}

func (c *CounterVec) name() string { return c.n }

// Add adds n to the series with these label values.
func (c *CounterVec) Add(n uint64, values ...string) {
	k := makeKey(len(c.labels), values)
	c.mu.RLock()
	s := c.series[k]
	c.mu.RUnlock()
	if s == nil {
		c.mu.Lock()
		if s = c.series[k]; s == nil {
			s = new(atomic.Uint64)
			c.series[k] = s
		}
		c.mu.Unlock()
	}
	s.Add(n)
}

// Inc adds one.
func (c *CounterVec) Inc(values ...string) { c.Add(1, values...) }

// Value returns a series' count (0 when it does not exist), for tests.
func (c *CounterVec) Value(values ...string) uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if s := c.series[makeKey(len(c.labels), values)]; s != nil {
		return s.Load()
	}
	return 0
}

func sortedKeys[V any](m map[key]V) []key {
	ks := make([]key, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b key) int {
		for i := range a {
			if c := cmp.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	return ks
}

func (c *CounterVec) write(w *bufio.Writer) {
	header(w, c.n, c.help, "counter")
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, k := range sortedKeys(c.series) {
		w.WriteString(c.n)
		labels(w, c.labels, k[:len(c.labels)], "", "")
		w.WriteByte(' ')
		w.WriteString(strconv.FormatUint(c.series[k].Load(), 10))
		w.WriteByte('\n')
	}
}

// HistogramVec is a histogram with labels and fixed buckets.
type HistogramVec struct {
	n, help string
	labels  []string
	buckets []float64 // upper bounds, ascending, without +Inf
	mu      sync.RWMutex
	series  map[key]*histSeries
}

type histSeries struct {
	counts []atomic.Uint64 // per bucket (not cumulative), then +Inf
	sum    atomic.Uint64   // float64 bits
	count  atomic.Uint64
}

// DurationBuckets suit request latencies in seconds: 1 ms to 60 s.
var DurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// NewHistogramVec registers a histogram with the given bucket upper
// bounds (ascending) and at most four labels.
func (r *Registry) NewHistogramVec(name, help string, buckets []float64, labelNames ...string) *HistogramVec {
	if len(labelNames) > len(key{}) || !slices.IsSorted(buckets) {
		panic("metrics: bad histogram " + name)
	}
	h := &HistogramVec{n: name, help: help, labels: labelNames, buckets: buckets, series: map[key]*histSeries{}}
	r.add(h)
	return h
}

func (h *HistogramVec) name() string { return h.n }

// Observe records v in the series with these label values.
func (h *HistogramVec) Observe(v float64, values ...string) {
	k := makeKey(len(h.labels), values)
	h.mu.RLock()
	s := h.series[k]
	h.mu.RUnlock()
	if s == nil {
		h.mu.Lock()
		if s = h.series[k]; s == nil {
			s = &histSeries{counts: make([]atomic.Uint64, len(h.buckets)+1)}
			h.series[k] = s
		}
		h.mu.Unlock()
	}
	i, _ := slices.BinarySearch(h.buckets, v)
	s.counts[i].Add(1)
	for {
		old := s.sum.Load()
		if s.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
	s.count.Add(1)
}

// Count returns how many observations a series holds, for tests.
func (h *HistogramVec) Count(values ...string) uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if s := h.series[makeKey(len(h.labels), values)]; s != nil {
		return s.count.Load()
	}
	return 0
}

func (h *HistogramVec) write(w *bufio.Writer) {
	header(w, h.n, h.help, "histogram")
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, k := range sortedKeys(h.series) {
		s := h.series[k]
		vals := k[:len(h.labels)]
		// _count is written as the +Inf bucket's total, so buckets and
		// count agree even while observations arrive (the sum may lag
		// them by an observation).
		var cum uint64
		for i, ub := range h.buckets {
			cum += s.counts[i].Load()
			w.WriteString(h.n)
			w.WriteString("_bucket")
			labels(w, h.labels, vals, "le", formatFloat(ub))
			w.WriteByte(' ')
			w.WriteString(strconv.FormatUint(cum, 10))
			w.WriteByte('\n')
		}
		cum += s.counts[len(h.buckets)].Load()
		w.WriteString(h.n)
		w.WriteString("_bucket")
		labels(w, h.labels, vals, "le", "+Inf")
		w.WriteByte(' ')
		w.WriteString(strconv.FormatUint(cum, 10))
		w.WriteByte('\n')
		w.WriteString(h.n)
		w.WriteString("_sum")
		labels(w, h.labels, vals, "", "")
		w.WriteByte(' ')
		w.WriteString(formatFloat(math.Float64frombits(s.sum.Load())))
		w.WriteByte('\n')
		w.WriteString(h.n)
		w.WriteString("_count")
		labels(w, h.labels, vals, "", "")
		w.WriteByte(' ')
		// _count equals the +Inf bucket by definition.
		w.WriteString(strconv.FormatUint(cum, 10))
		w.WriteByte('\n')
	}
}

// Sample is one value of a function-backed family, with its label values.
type Sample struct {
	Labels []string
	Value  float64
}

// funcFamily is a gauge or counter read from a function at each scrape.
type funcFamily struct {
	n, help, typ string
	labels       []string
	fn           func() []Sample
}

func (f *funcFamily) name() string { return f.n }

func (f *funcFamily) write(w *bufio.Writer) {
	header(w, f.n, f.help, f.typ)
	for _, s := range f.fn() {
		w.WriteString(f.n)
		labels(w, f.labels, s.Labels, "", "")
		w.WriteByte(' ')
		w.WriteString(formatFloat(s.Value))
		w.WriteByte('\n')
	}
}

// NewGaugeFunc registers a gauge whose samples fn returns at each scrape.
func (r *Registry) NewGaugeFunc(name, help string, labelNames []string, fn func() []Sample) {
	r.add(&funcFamily{n: name, help: help, typ: "gauge", labels: labelNames, fn: fn})
}

// NewCounterFunc registers a counter whose samples fn returns at each
// scrape (fn's values must never decrease).
func (r *Registry) NewCounterFunc(name, help string, labelNames []string, fn func() []Sample) {
	r.add(&funcFamily{n: name, help: help, typ: "counter", labels: labelNames, fn: fn})
}
