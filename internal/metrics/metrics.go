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
	"maps"
	"math"
	"math/rand/v2"
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

// seriesMap finds a family's series by label values. Every request counts
// several series, on every core at once, and new series are rare (label
// values come from bounded sets): so lookups read a map that is never
// written, with no lock (a read lock's shared counter, written by both
// cores, cost more than the count itself), and adding a series replaces
// the map with a copy that holds it.
//
// The series found last is kept beside the map: a family is mostly counted
// with the same labels over and over (route /mcp, status 200), and
// comparing four strings, which are mostly the same constants, is cheaper
// than hashing them.
type seriesMap[S any] struct {
	m    atomic.Pointer[map[key]*S]
	last atomic.Pointer[keyed[S]]
	mu   sync.Mutex // held while a series is added
}

// get returns k's series, made with mk on first use.
func (sm *seriesMap[S]) get(k key, mk func() *S) *S {
	if l := sm.last.Load(); l != nil && l.k == k {
		return l.s
	}
	if m := sm.m.Load(); m != nil {
		if s := (*m)[k]; s != nil {
			sm.last.Store(&keyed[S]{k, s})
			return s
		}
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	old := sm.m.Load()
	if old != nil {
		if s := (*old)[k]; s != nil {
			return s
		}
	}
	m := make(map[key]*S, 1)
	if old != nil {
		maps.Copy(m, *old)
	}
	s := mk()
	m[k] = s
	sm.m.Store(&m)
	return s
}

// find returns k's series, or nil when it does not exist.
func (sm *seriesMap[S]) find(k key) *S {
	if m := sm.m.Load(); m != nil {
		return (*m)[k]
	}
	return nil
}

// sorted returns the series in the order of their label values.
func (sm *seriesMap[S]) sorted() []keyed[S] {
	m := sm.m.Load()
	if m == nil {
		return nil
	}
	ks := make([]keyed[S], 0, len(*m))
	for k, s := range *m {
		ks = append(ks, keyed[S]{k, s})
	}
	slices.SortFunc(ks, func(a, b keyed[S]) int {
		for i := range a.k {
			if c := cmp.Compare(a.k[i], b.k[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	return ks
}

type keyed[S any] struct {
	k key
	s *S
}

// stripes is how many copies of its cells a series keeps. Two cores
// adding to one cache line take turns owning it, which costs each add
// several times what the add itself does; each add goes to a copy picked
// at random (math/rand/v2's generator has a state per thread, so picking
// shares nothing), so that two cores rarely write the same line, and a
// read sums the copies.
const stripes = 8

// cell is a counter alone on its cache line.
type cell struct {
	atomic.Uint64
	_ [56]byte
}

func stripe() int { return int(rand.Uint32() & (stripes - 1)) }

// counterSeries is one series of a CounterVec.
type counterSeries [stripes]cell

func (c *counterSeries) load() uint64 {
	var n uint64
	for i := range c {
		n += c[i].Load()
	}
	return n
}

// CounterVec is a counter with labels.
type CounterVec struct {
	n, help string
	labels  []string
	series  seriesMap[counterSeries]
}

// NewCounterVec registers a counter named name (ending in _total) with at
// most four labels.
func (r *Registry) NewCounterVec(name, help string, labelNames ...string) *CounterVec {
	if len(labelNames) > len(key{}) {
		panic("metrics: too many labels")
	}
	c := &CounterVec{n: name, help: help, labels: labelNames}
	r.add(c)
	return c
}

func (c *CounterVec) name() string { return c.n }

// Add adds n to the series with these label values.
func (c *CounterVec) Add(n uint64, values ...string) {
	s := c.series.get(makeKey(len(c.labels), values), func() *counterSeries { return new(counterSeries) })
	s[stripe()].Add(n)
}

// Inc adds one.
func (c *CounterVec) Inc(values ...string) { c.Add(1, values...) }

// Value returns a series' count (0 when it does not exist), for tests.
func (c *CounterVec) Value(values ...string) uint64 {
	if s := c.series.find(makeKey(len(c.labels), values)); s != nil {
		return s.load()
	}
	return 0
}

func (c *CounterVec) write(w *bufio.Writer) {
	header(w, c.n, c.help, "counter")
	for _, ks := range c.series.sorted() {
		w.WriteString(c.n)
		labels(w, c.labels, ks.k[:len(c.labels)], "", "")
		w.WriteByte(' ')
		w.WriteString(strconv.FormatUint(ks.s.load(), 10))
		w.WriteByte('\n')
	}
}

// HistogramVec is a histogram with labels and fixed buckets.
type HistogramVec struct {
	n, help string
	labels  []string
	buckets []float64 // upper bounds, ascending, without +Inf
	series  seriesMap[histSeries]
}

// histSeries is one series of a HistogramVec: stripes copies (see
// stripes) of its cells, each copy its buckets' counts (not cumulative,
// then +Inf) and the sum of its observations (float64 bits), padded to
// whole cache lines. A count is the buckets' total, so it needs no cell of
// its own.
type histSeries struct {
	cells  []atomic.Uint64
	stride int // cells per copy
}

func newHistSeries(buckets int) *histSeries {
	n := buckets + 2       // the buckets, +Inf and the sum
	stride := (n + 7) &^ 7 // whole 64-byte lines
	return &histSeries{cells: make([]atomic.Uint64, stride*stripes), stride: stride}
}

// DurationBuckets suit request latencies in seconds: 1 ms to 60 s.
var DurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// NewHistogramVec registers a histogram with the given bucket upper
// bounds (ascending) and at most four labels.
func (r *Registry) NewHistogramVec(name, help string, buckets []float64, labelNames ...string) *HistogramVec {
	if len(labelNames) > len(key{}) || !slices.IsSorted(buckets) {
		panic("metrics: bad histogram " + name)
	}
	h := &HistogramVec{n: name, help: help, labels: labelNames, buckets: buckets}
	r.add(h)
	return h
}

func (h *HistogramVec) name() string { return h.n }

// Observe records v in the series with these label values.
func (h *HistogramVec) Observe(v float64, values ...string) {
	s := h.series.get(makeKey(len(h.labels), values), func() *histSeries { return newHistSeries(len(h.buckets)) })
	i, _ := slices.BinarySearch(h.buckets, v)
	c := s.cells[stripe()*s.stride:]
	c[i].Add(1)
	sum := &c[len(h.buckets)+1]
	for {
		old := sum.Load()
		if sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			break
		}
	}
}

// totals returns a series' counts per bucket (then +Inf) and its sum,
// over its copies.
func (h *HistogramVec) totals(s *histSeries) (counts []uint64, sum float64) {
	nb := len(h.buckets) + 1
	counts = make([]uint64, nb)
	for st := range stripes {
		c := s.cells[st*s.stride:]
		for i := range counts {
			counts[i] += c[i].Load()
		}
		sum += math.Float64frombits(c[nb].Load())
	}
	return counts, sum
}

// Count returns how many observations a series holds, for tests.
func (h *HistogramVec) Count(values ...string) uint64 {
	s := h.series.find(makeKey(len(h.labels), values))
	if s == nil {
		return 0
	}
	counts, _ := h.totals(s)
	var n uint64
	for _, c := range counts {
		n += c
	}
	return n
}

func (h *HistogramVec) write(w *bufio.Writer) {
	header(w, h.n, h.help, "histogram")
	for _, ks := range h.series.sorted() {
		counts, sum := h.totals(ks.s)
		vals := ks.k[:len(h.labels)]
		// _count is written as the +Inf bucket's total, so buckets and
		// count agree even while observations arrive (the sum may lag
		// them by an observation).
		var cum uint64
		for i, ub := range h.buckets {
			cum += counts[i]
			w.WriteString(h.n)
			w.WriteString("_bucket")
			labels(w, h.labels, vals, "le", formatFloat(ub))
			w.WriteByte(' ')
			w.WriteString(strconv.FormatUint(cum, 10))
			w.WriteByte('\n')
		}
		cum += counts[len(h.buckets)]
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
		w.WriteString(formatFloat(sum))
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
