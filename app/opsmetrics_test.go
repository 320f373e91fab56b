package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/store"
)

// The metering wrapper counts the store's failures, not its answers (a
// record not found, an Update its function aborted), and keeps what the
// store can do beyond the interface (StoreCounter, for Config.MaxClients).
func TestMeteredStore(t *testing.T) {
	m := newOpsMetrics()
	inner := store.NewMemoryStore()
	s := meteredStore{Store: inner, m: m}
	ctx := context.Background()
	if _, err := s.Get(ctx, "client", "nope"); !errors.Is(err, oauth.ErrNotFound) {
		t.Fatal(err)
	}
	abort := errors.New("abort")
	if err := s.Update(ctx, "client", "k", func([]byte) ([]byte, time.Time, error) { return nil, time.Time{}, abort }); err != abort {
		t.Fatal(err)
	}
	s.Put(ctx, "client", "a", []byte("x"), time.Time{})
	if n, err := s.Count(ctx, "client"); err != nil || n != 1 {
		t.Fatalf("Count through the wrapper: %d %v", n, err)
	}
	if v := m.storeErrors.Value("get") + m.storeErrors.Value("update"); v != 0 {
		t.Fatalf("answers counted as failures: %d", v)
	}
	inner.Close()
	if err := s.Put(ctx, "client", "b", []byte("x"), time.Time{}); err == nil {
		t.Fatal("put into a closed store")
	}
	s.Ping(ctx)
	if m.storeErrors.Value("put") != 1 || m.storeErrors.Value("ping") != 1 {
		t.Fatalf("failures not counted: put %d ping %d", m.storeErrors.Value("put"), m.storeErrors.Value("ping"))
	}
}
