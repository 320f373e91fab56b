package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"remote-mcp-authkit/store"
)

// pingStore is a memory store whose reachability the test decides, as a
// store on the network would be.
type pingStore struct {
	*store.MemoryStore
	down atomic.Bool
}

func (p *pingStore) Ping(ctx context.Context) error {
	if p.down.Load() {
		return errors.New("connection refused")
	}
	return nil
}

const testSecret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // base64 of 32 bytes

// start runs the server with opts until the test ends and returns its
// base URL.
func start(t *testing.T, env map[string]string, opts Options, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	opts.Ready = ready
	done := make(chan error, 1)
	var logs syncBuffer
	go func() {
		done <- Run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, &logs, opts)
	}()
	select {
	case addr := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
		return "http://" + addr
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	return ""
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// /healthz answers while the process serves; /readyz follows the store's
// reachability both ways, with no restart.
func TestHealthAndReadiness(t *testing.T) {
	st := &pingStore{MemoryStore: store.NewMemoryStore()}
	defer st.Close()
	base := start(t, map[string]string{"SERVER_SECRET": testSecret}, Options{Store: st})
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, base+"/readyz"); code != 200 || body != "ok\n" {
		t.Fatalf("/readyz with the store up: %d %q", code, body)
	}
	st.down.Store(true)
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "store unavailable") {
		t.Fatalf("/readyz with the store down: %d %q", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz with the store down: %d, want 200 (alive)", code)
	}
	st.down.Store(false)
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz after the store came back: %d", code)
	}
}

// The single-process binary is ready with its own stores too.
func TestReadinessMemoryStore(t *testing.T) {
	base := start(t, nil, Options{}, "-memory")
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz: %d", code)
	}
}

// A shared store without SERVER_SECRET is refused at start: each process
// would make up its own secret and refuse the others' tokens.
func TestSharedStoreNeedsSecret(t *testing.T) {
	st := store.NewMemoryStore()
	defer st.Close()
	err := Run(context.Background(), []string{"-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard, Options{Store: st})
	if err == nil || !strings.Contains(err.Error(), "SERVER_SECRET is required") {
		t.Fatalf("Run without SERVER_SECRET: %v", err)
	}
}
