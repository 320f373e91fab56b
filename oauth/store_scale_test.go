package oauth

// BenchmarkFileStoreScale measures what the file store costs per grant at
// scale (issue: many users on one machine): bytes on disk, memory, start-up
// and how long a compaction makes a reader or writer wait. It is a
// benchmark, not a test, and prints its figures; README "Performance" quotes
// them with the command:
//
//	go test -run '^$' -bench FileStoreScale -benchtime 1x ./oauth -store.grants 100000

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
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
	scaleGrants = flag.Int("store.grants", 10000, "how many grants BenchmarkFileStoreScale stores")
	scaleDir    = flag.String("store.dir", "", "where BenchmarkFileStoreScale keeps its oauth.log (default: a temporary directory)")
)

// scaleProvider is never called: the benchmark hands createGrant the
// upstream session a sign-in would have produced.
type scaleProvider struct{}

func (scaleProvider) AuthorizationURL(string, string, string) (string, error) { return "", nil }
func (scaleProvider) Exchange(context.Context, string, string) (*UpstreamSession, error) {
	return nil, ErrUpstreamUnavailable
}
func (scaleProvider) Refresh(context.Context, *UpstreamSession) (*UpstreamSession, error) {
	return nil, ErrUpstreamUnavailable
}
func (scaleProvider) Revoke(context.Context, *UpstreamSession) error { return nil }

// scaleUpstream is shaped like a real AuthKit session: an RS256 access
// token JWT of about 1 KB carrying the user's claims, and a refresh token.
func scaleUpstream(i int) *UpstreamSession {
	part := func(n int) string {
		b := make([]byte, n)
		rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"sso_oidc_key_pair_01HQ3Z7A8B9C0D1E2F3G4H5J6K","typ":"JWT"}`))
	claims := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil,
		`{"iss":"https://api.workos.com/user_management/client_01HQ3Z7A8B9C0D1E2F3G4H5J6K","sub":"user_%026d","sid":"session_%023d","jti":"%s","org_id":"org_01HQ3Z7A8B9C0D1E2F3G4H5J6K","role":"member","permissions":["tools:read","tools:write","images:generate"],"exp":1767225600,"iat":1767225300}`,
		i, i, part(19)))
	jwt := header + "." + claims + "." + part(256) // RS256 signature: 256 bytes
	id := Identity{
		Subject: fmt.Sprintf("user_%026d", i), Email: fmt.Sprintf("person%d@example.com", i), Name: fmt.Sprintf("Person %d", i),
		OrganizationID: "org_01HQ3Z7A8B9C0D1E2F3G4H5J6K", Organization: "Example Corp", Role: "member",
		Permissions: []string{"tools:read", "tools:write", "images:generate"}, SessionID: fmt.Sprintf("session_%023d", i),
	}
	return &UpstreamSession{Identity: id, AccessToken: jwt, RefreshToken: part(19)}
}

// scaleSignIn stores what one real sign-in stores, through the server's own
// code: a registration, the pending and upstream authorization requests
// (written, then taken), the grant, the code and its redemption into an
// access and a refresh token.
func scaleSignIn(ctx context.Context, s *Server, i int) error {
	body := `{"client_name":"Claude Code (mcp)","redirect_uris":["http://localhost:` + strconv.Itoa(30000+i%30000) +
		`/callback"],"grant_types":["authorization_code","refresh_token"],"response_types":["code"],"token_endpoint_auth_method":"none"}`
	req := httptest.NewRequest("POST", "/register", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1234", i>>16&255, i>>8&255, i&255)
	rec := httptest.NewRecorder()
	s.handleRegister(rec, req)
	if rec.Code != http.StatusCreated {
		return fmt.Errorf("register: %d %s", rec.Code, rec.Body)
	}
	var clientID string
	if _, after, ok := strings.Cut(rec.Body.String(), `"client_id":"`); ok {
		clientID, _, _ = strings.Cut(after, `"`)
	}
	verifier := newToken("")
	ar := authRequest{ClientID: clientID, ClientName: "Claude Code (mcp)", RedirectURI: "http://localhost:33418/callback",
		ResolvedURI: "http://localhost:33418/callback", State: newToken(""), CodeChallenge: s256(verifier), Resource: s.cfg.Resources[0]}
	pending := hashToken(newToken(""))
	if err := s.putJSON(ctx, kindPending, pending, &ar, s.now().Add(pendingTTL)); err != nil {
		return err
	}
	if _, err := s.takeBytes(ctx, kindPending, pending); err != nil {
		return err
	}
	up := hashToken(newToken(""))
	urec := upstreamRecord{Request: ar, Verifier: s.keys.seal([]byte(newToken("")), "upstream:"+up)}
	if err := s.putJSON(ctx, kindUpstream, up, &urec, s.now().Add(pendingTTL)); err != nil {
		return err
	}
	if _, err := s.takeBytes(ctx, kindUpstream, up); err != nil {
		return err
	}
	g, err := s.createGrant(ctx, &ar, scaleUpstream(i))
	if err != nil {
		return err
	}
	code, err := s.issueCode(ctx, &ar, g.ID)
	if err != nil {
		return err
	}
	form := url.Values{"code": {code}, "code_verifier": {verifier}, "redirect_uri": {ar.RedirectURI}}
	if _, e := s.exchangeCode(ctx, &Client{ClientID: clientID, TokenEndpointAuthMethod: "none"}, form); e != nil {
		return e
	}
	return nil
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

// scaleCPU is the CPU time the process has used (user and system, from
// /proc/self/stat; 0 where there is none): on a shared machine a start-up's
// CPU time says more than its wall time.
func scaleCPU() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	_, after, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(after)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
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

// scalePeak samples the heap every millisecond until stop is called and
// returns the highest value seen. It reads runtime/metrics, which, unlike
// ReadMemStats, does not stop the world.
func scalePeak() (stop func() int64) {
	var peak atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := int64(sample[0].Value.Uint64()); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 { close(done); <-finished; return peak.Load() }
}

func BenchmarkFileStoreScale(b *testing.B) {
	n := *scaleGrants
	dir := *scaleDir
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, "oauth.log")
	os.Remove(path)
	ctx := context.Background()
	// The clock moves past the codes' lifetime after the fill: what is
	// measured is what stays, a grant with its current tokens and client.
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	newServer := func(st Store) *Server {
		s, err := NewServer(Config{Issuer: "http://127.0.0.1:8788", Resources: []string{"http://127.0.0.1:8788/mcp"},
			Store: st, Provider: scaleProvider{}, Secret: []byte(strings.Repeat("k", 32)),
			RegistrationBurst: 1 << 30, MaxClients: 1 << 30, Logger: slog.New(slog.DiscardHandler), Now: now})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	quiet := []store.Option{store.WithLogger(slog.New(slog.DiscardHandler)), store.WithClock(now)}
	// The base of the fill; the restart below measures against its own.
	fillBaseHeap, fillBaseRSS := scaleSettled()

	// Fill, from many goroutines so that group commit shares the fsyncs.
	fs, err := store.OpenFileStore(path, quiet...)
	if err != nil {
		b.Fatal(err)
	}
	srv := newServer(fs)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var fillErr atomic.Value
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := scaleSignIn(ctx, srv, i); err != nil {
					fillErr.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := fillErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	fill := time.Since(start)
	runHeap, runRSS := scaleSettled()
	written := fileSizeOf(b, path)
	if err := fs.Close(); err != nil {
		b.Fatal(err)
	}
	fs, srv = nil, nil
	skew.Store(int64(codeReplayKeep + 2*time.Minute))

	// First open: replays the log as written and compacts it.
	start = time.Now()
	cpu0 := scaleCPU()
	fs, err = store.OpenFileStore(path, quiet...)
	if err != nil {
		b.Fatal(err)
	}
	firstOpen := time.Since(start)
	firstCPU := scaleCPU() - cpu0
	if err := fs.Close(); err != nil {
		b.Fatal(err)
	}
	fs = nil
	compacted := fileSizeOf(b, path)

	// Second open, of the compacted log: the start-up of a restart.
	baseHeap, baseRSS := scaleSettled()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM where Linux allows it
	stop := scalePeak()
	start = time.Now()
	cpu0 = scaleCPU()
	fs, err = store.OpenFileStore(path, quiet...)
	if err != nil {
		b.Fatal(err)
	}
	open := time.Since(start)
	openCPU := scaleCPU() - cpu0
	peak := stop()
	hwm := scaleProc("VmHWM")
	heap, rss := scaleSettled()
	breakdown := scaleBreakdown(b, fs, n)

	// Compaction under load: readers and a writer time every call while
	// the store rewrites itself.
	maxRead, maxWrite, compaction, idleRead, idleWrite := scaleCompactionPause(b, fs)
	if err := fs.Close(); err != nil {
		b.Fatal(err)
	}

	perGrant := func(v int64) float64 { return float64(v) / float64(n) }
	b.ReportMetric(perGrant(written), "disk-written-B/grant")
	b.ReportMetric(perGrant(compacted), "disk-compacted-B/grant")
	b.ReportMetric(perGrant(heap-baseHeap), "heap-B/grant")
	b.ReportMetric(perGrant(rss-baseRSS), "rss-B/grant")
	b.ReportMetric(open.Seconds(), "startup-s")
	b.ReportMetric(float64(maxRead.Microseconds())/1000, "max-read-ms")
	b.ReportMetric(float64(maxWrite.Microseconds())/1000, "max-write-ms")
	b.ReportMetric(float64(idleRead.Microseconds())/1000, "idle-max-read-ms")
	b.ReportMetric(float64(idleWrite.Microseconds())/1000, "idle-max-write-ms")
	fmt.Fprintf(os.Stderr, "store scale: %d grants, filled in %v (%.0f sign-ins/s)\n", n, fill.Round(time.Millisecond), float64(n)/fill.Seconds())
	fmt.Fprintf(os.Stderr, "  disk: %.0f B/grant as written (%d MB), %.0f B/grant compacted (%d MB)\n",
		perGrant(written), written>>20, perGrant(compacted), compacted>>20)
	fmt.Fprintf(os.Stderr, "  memory while running (after the fill): heap %.0f B/grant, RSS %.0f B/grant\n",
		perGrant(runHeap-fillBaseHeap), perGrant(runRSS-fillBaseRSS))
	fmt.Fprintf(os.Stderr, "  memory after a restart: heap %.0f B/grant, RSS %.0f B/grant (settled heap %d MB)\n",
		perGrant(heap-baseHeap), perGrant(rss-baseRSS), (heap-baseHeap)>>20)
	fmt.Fprintf(os.Stderr, "  start-up: %v as written (with compaction; CPU %v), %v compacted (CPU %v); peak heap %d MB = %.2fx settled, peak RSS %d MB\n",
		firstOpen.Round(time.Millisecond), firstCPU, open.Round(time.Millisecond), openCPU, (peak-baseHeap)>>20,
		float64(peak-baseHeap)/float64(max(heap-baseHeap, 1)), hwm>>20)
	fmt.Fprint(os.Stderr, breakdown)
	fmt.Fprintf(os.Stderr, "  3 compactions, the longest took %v; longest wait during them: read %v, write %v (3 windows as long without compaction: read %v, write %v)\n",
		compaction.Round(time.Millisecond), maxRead.Round(time.Microsecond), maxWrite.Round(time.Microsecond),
		idleRead.Round(time.Microsecond), idleWrite.Round(time.Microsecond))
}

// scaleBreakdown says where the bytes go: per kind of record, how many
// there are per grant and their average key and value sizes.
func scaleBreakdown(b *testing.B, s *store.FileStore, n int) string {
	by, err := s.Stats()
	if err != nil {
		b.Fatal(err)
	}
	var kinds []string
	for kind := range by {
		kinds = append(kinds, kind)
	}
	slices.Sort(kinds)
	var out strings.Builder
	for _, kind := range kinds {
		v := by[kind]
		count := int64(v.Records)
		fmt.Fprintf(&out, "    %-8s %.2f/grant, key %d B, value %d B, record %d B on disk: %.0f B/grant\n", kind,
			float64(count)/float64(n), v.KeyBytes/count, v.ValueBytes/count, v.FileBytes/count, float64(v.FileBytes)/float64(n))
	}
	return out.String()
}

func fileSizeOf(b *testing.B, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// scaleCompactionPause runs two readers and a writer against s and
// alternates windows without compaction and forced compactions, each idle
// window as long as the compaction before it (the first 2 s), three of
// each. It returns the longest single read and write seen during the
// compactions and during the windows without one (on a shared machine the
// wait a compaction adds is the difference), and the longest compaction.
func scaleCompactionPause(b *testing.B, s *store.FileStore) (maxRead, maxWrite, took, idleRead, idleWrite time.Duration) {
	ctx := context.Background()
	type key struct{ kind, key string }
	var keys []key
	s.Range(func(kind, k string, _ []byte, _ time.Time) bool {
		keys = append(keys, key{kind, k})
		return len(keys) < 10000
	})
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mr, mw atomic.Int64
	record := func(m *atomic.Int64, d time.Duration) {
		for {
			cur := m.Load()
			if int64(d) <= cur || m.CompareAndSwap(cur, int64(d)) {
				return
			}
		}
	}
	for w := range 2 {
		wg.Go(func() {
			for i := w; !stop.Load(); i++ {
				k := keys[i%len(keys)]
				t := time.Now()
				s.Get(ctx, k.kind, k.key)
				record(&mr, time.Since(t))
			}
		})
	}
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			t := time.Now()
			if err := s.Put(ctx, "bench", strconv.Itoa(i%100), []byte("a write during compaction"), time.Time{}); err != nil {
				b.Error(err)
				return
			}
			record(&mw, time.Since(t))
		}
	})
	time.Sleep(200 * time.Millisecond) // warm up
	window := 2 * time.Second
	for range 3 {
		mr.Store(0)
		mw.Store(0)
		time.Sleep(window) // the same load with no compaction, to compare
		idleRead, idleWrite = max(idleRead, time.Duration(mr.Swap(0))), max(idleWrite, time.Duration(mw.Swap(0)))
		start := time.Now()
		if err := s.Compact(); err != nil {
			b.Fatal(err)
		}
		window = time.Since(start)
		took = max(took, window)
		time.Sleep(100 * time.Millisecond) // the old file's close runs after: count it in
		maxRead, maxWrite = max(maxRead, time.Duration(mr.Load())), max(maxWrite, time.Duration(mw.Load()))
	}
	stop.Store(true)
	wg.Wait()
	return maxRead, maxWrite, took, idleRead, idleWrite
}
