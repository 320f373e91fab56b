package pg

// BenchmarkStoreScale gives the file store's per-grant figures (issue: many
// users on one machine, item 5) for the PostgreSQL store, with the same
// records: it copies every live record of a file store that the oauth
// package's BenchmarkFileStoreScale filled through the server's own code,
// then measures the table on disk, this process's memory, start-up, and
// how long a reader and a writer wait while VACUUM runs, against windows
// as long without. It is a benchmark, not a test, and prints its figures;
// README "Performance" quotes them with the commands:
//
//	go test -run '^$' -bench FileStoreScale -benchtime 1x ./oauth -store.grants 100000 -store.dir /tmp/scale
//	cd replicas && DATABASE_URL=... go test -run '^$' -bench StoreScale -benchtime 1x ./pg \
//	    -store.log /tmp/scale/oauth.log -store.grants 100000

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"remote-mcp-authkit/store"
)

var (
	scaleLog    = flag.String("store.log", "", "the oauth.log of a file store filled by oauth's BenchmarkFileStoreScale (-store.dir) that BenchmarkStoreScale copies into PostgreSQL")
	scaleGrants = flag.Int("store.grants", 0, "how many grants the -store.log holds (what BenchmarkStoreScale divides by)")
)

// scaleRecord is one record copied from the file store.
type scaleRecord struct {
	kind, key string
	value     []byte
	expires   time.Time
}

// scaleProc reads a field of /proc/self/status in bytes (0 where there is
// no /proc).
func scaleProc(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// scaleSettled is the live heap and RSS after a full collection with the
// freed memory given back.
func scaleSettled() (heap, rss int64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc), scaleProc("VmRSS")
}

func BenchmarkStoreScale(b *testing.B) {
	if *scaleLog == "" || *scaleGrants <= 0 {
		b.Skip("needs -store.log (the oauth.log of oauth's BenchmarkFileStoreScale -store.dir) and -store.grants")
	}
	cs := freshSchema(b)
	ctx := context.Background()
	n := *scaleGrants

	// The records, read once from the file store and dropped after the
	// copy, so that they do not count in this process's memory below.
	var recs []scaleRecord
	fs, err := store.OpenFileStore(*scaleLog)
	if err != nil {
		b.Fatal(err)
	}
	err = fs.Range(func(kind, key string, value []byte, expires time.Time) bool {
		if kind != "bench" { // what the file benchmark wrote during its compactions
			recs = append(recs, scaleRecord{kind, key, slices.Clone(value), expires})
		}
		return true
	})
	if err != nil {
		b.Fatal(err)
	}
	fs.Close()
	slices.SortFunc(recs, func(a, b scaleRecord) int { return strings.Compare(a.kind+a.key, b.kind+b.key) })

	s, err := Open(ctx, cs)
	if err != nil {
		b.Fatal(err)
	}
	// Copy from as many writers as the pool has connections and more,
	// as a server under sign-ins would write.
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var copyErr atomic.Value
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(recs) {
					return
				}
				r := recs[i]
				if err := s.Put(ctx, r.kind, r.key, r.value, r.expires); err != nil {
					copyErr.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := copyErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	fill := time.Since(start)
	keys := make([]scaleRecord, 0, 10000)
	for i := 0; i < len(recs) && len(keys) < cap(keys); i += max(len(recs)/cap(keys), 1) {
		keys = append(keys, scaleRecord{kind: recs[i].kind, key: recs[i].key})
	}
	total := len(recs)
	recs = nil
	if _, err := s.pool.Exec(ctx, `VACUUM (ANALYZE) pg_mcp_records`); err != nil {
		b.Fatal(err)
	}
	var tableB, heapB, indexB, toastB int64
	err = s.pool.QueryRow(ctx, `SELECT pg_total_relation_size('pg_mcp_records'), pg_relation_size('pg_mcp_records'),
		pg_indexes_size('pg_mcp_records'), coalesce(pg_total_relation_size(nullif(reltoastrelid, 0)), 0)
		FROM pg_class WHERE oid = 'pg_mcp_records'::regclass`).Scan(&tableB, &heapB, &indexB, &toastB)
	if err != nil {
		b.Fatal(err)
	}
	breakdown, err := scaleBreakdown(ctx, s, n)
	if err != nil {
		b.Fatal(err)
	}
	s.Close()

	// Start-up of a replica's store on the full table: connect, check the
	// schema version, answer a first read. Memory is measured around it.
	baseHeap, baseRSS := scaleSettled()
	start = time.Now()
	s, err = Open(ctx, cs)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Get(ctx, keys[0].kind, keys[0].key); err != nil {
		b.Fatal(err)
	}
	open := time.Since(start)
	defer s.Close()
	// Every sampled record read once: a replica keeps none of them.
	for _, k := range keys {
		if _, err := s.Get(ctx, k.kind, k.key); err != nil {
			b.Fatal(err)
		}
	}
	heap, rss := scaleSettled()

	maxRead, maxWrite, p99Read, p99Write, vacuum, idleRead, idleWrite, idleP99Read, idleP99Write := scalePauses(b, s, keys)

	perGrant := func(v int64) float64 { return float64(v) / float64(n) }
	b.ReportMetric(perGrant(tableB), "disk-B/grant")
	b.ReportMetric(perGrant(heap-baseHeap), "heap-B/grant")
	b.ReportMetric(perGrant(rss-baseRSS), "rss-B/grant")
	b.ReportMetric(open.Seconds(), "startup-s")
	b.ReportMetric(float64(maxRead.Microseconds())/1000, "max-read-ms")
	b.ReportMetric(float64(maxWrite.Microseconds())/1000, "max-write-ms")
	fmt.Fprintf(os.Stderr, "pg store scale: %d grants, %d records copied in %v (%.0f Put/s from 32 writers)\n",
		n, total, fill.Round(time.Millisecond), float64(total)/fill.Seconds())
	fmt.Fprintf(os.Stderr, "  disk after VACUUM: %.0f B/grant (%d MB): heap %.0f, indexes %.0f, TOAST %.0f B/grant\n",
		perGrant(tableB), tableB>>20, perGrant(heapB), perGrant(indexB), perGrant(toastB))
	fmt.Fprint(os.Stderr, breakdown)
	fmt.Fprintf(os.Stderr, "  memory of this process with the store open and %d records read: heap %+.1f B/grant, RSS %+.1f B/grant (heap %+d KB, RSS %+d KB)\n",
		len(keys), perGrant(heap-baseHeap), perGrant(rss-baseRSS), (heap-baseHeap)>>10, (rss-baseRSS)>>10)
	fmt.Fprintf(os.Stderr, "  start-up (connect, schema check, first read): %v\n", open.Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "  3 VACUUMs, the longest took %v; longest wait during them: read %v, write %v, p99 read %v, write %v\n"+
		"    (3 windows as long without: read %v, write %v, p99 read %v, write %v)\n",
		vacuum.Round(time.Millisecond), maxRead.Round(time.Microsecond), maxWrite.Round(time.Microsecond),
		p99Read.Round(time.Microsecond), p99Write.Round(time.Microsecond),
		idleRead.Round(time.Microsecond), idleWrite.Round(time.Microsecond),
		idleP99Read.Round(time.Microsecond), idleP99Write.Round(time.Microsecond))
}

// scaleBreakdown says where the bytes go: per kind, how many records per
// grant, their average key and value sizes and the row as stored (tuple
// header included, values compressed or moved to TOAST as PostgreSQL
// decided).
func scaleBreakdown(ctx context.Context, s *Store, n int) (string, error) {
	rows, err := s.pool.Query(ctx, `SELECT convert_from(kind, 'UTF8'), count(*), avg(octet_length(key))::bigint,
		avg(octet_length(value))::bigint, avg(pg_column_size(r.*))::bigint, sum(pg_column_size(r.*))
		FROM pg_mcp_records r GROUP BY kind ORDER BY 1`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var out strings.Builder
	for rows.Next() {
		var kind string
		var count, key, value, row, sum int64
		if err := rows.Scan(&kind, &count, &key, &value, &row, &sum); err != nil {
			return "", err
		}
		fmt.Fprintf(&out, "    %-8s %.2f/grant, key %d B, value %d B, row %d B: %.0f B/grant\n", kind,
			float64(count)/float64(n), key, value, row, float64(sum)/float64(n))
	}
	return out.String(), rows.Err()
}

// scalePauses runs two readers and a writer against s and alternates
// windows without maintenance and a VACUUM of the records table (what
// takes the place of the file store's compaction: the sweeper's deletions
// and every overwrite leave dead rows that it reclaims), three of each,
// each idle window as long as the VACUUM before it (the first 2 s). It
// returns the longest and the 99th percentile wait of each kind during the
// VACUUMs, the longest VACUUM, and the same waits in the idle windows.
func scalePauses(b *testing.B, s *Store, keys []scaleRecord) (maxRead, maxWrite, p99Read, p99Write, took, idleRead, idleWrite, idleP99Read, idleP99Write time.Duration) {
	ctx := context.Background()
	var mu sync.Mutex
	var reads, writes []time.Duration
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := w; !stop.Load(); i++ {
				k := keys[i%len(keys)]
				t := time.Now()
				s.Get(ctx, k.kind, k.key)
				d := time.Since(t)
				mu.Lock()
				reads = append(reads, d)
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			t := time.Now()
			if err := s.Put(ctx, "bench", strconv.Itoa(i%100), []byte("a write during VACUUM"), time.Time{}); err != nil {
				b.Error(err)
				return
			}
			d := time.Since(t)
			mu.Lock()
			writes = append(writes, d)
			mu.Unlock()
		}
	})
	take := func() (r, w []time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		r, w = reads, writes
		reads, writes = nil, nil
		return r, w
	}
	var busyR, busyW, idleR, idleW []time.Duration
	time.Sleep(200 * time.Millisecond) // warm up
	take()
	window := 2 * time.Second
	for range 3 {
		time.Sleep(window)
		r, w := take()
		idleR, idleW = append(idleR, r...), append(idleW, w...)
		start := time.Now()
		// Every page, not only those changed since the last one: the
		// longest a VACUUM of this table takes.
		if _, err := s.pool.Exec(ctx, `VACUUM (ANALYZE, DISABLE_PAGE_SKIPPING) pg_mcp_records`); err != nil {
			b.Fatal(err)
		}
		window = max(time.Since(start), 500*time.Millisecond)
		took = max(took, time.Since(start))
		time.Sleep(100 * time.Millisecond)
		r, w = take()
		busyR, busyW = append(busyR, r...), append(busyW, w...)
	}
	stop.Store(true)
	wg.Wait()
	stat := func(ds []time.Duration) (maxD, p99 time.Duration) {
		if len(ds) == 0 {
			return 0, 0
		}
		slices.Sort(ds)
		return ds[len(ds)-1], ds[len(ds)*99/100]
	}
	maxRead, p99Read = stat(busyR)
	maxWrite, p99Write = stat(busyW)
	idleRead, idleP99Read = stat(idleR)
	idleWrite, idleP99Write = stat(idleW)
	return
}
