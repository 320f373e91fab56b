package store_test

// The behaviour suite (package storetest) against the two engines here. It
// runs from package store_test because storetest imports package store.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"remote-mcp-authkit/store"
	"remote-mcp-authkit/store/storetest"
)

func TestMemoryStoreBehaviour(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return store.NewMemoryStore(store.WithClock(now))
	})
}

// fileOpen opens a FileStore at path on the given clock, logging nowhere.
func fileOpen(t *testing.T, path string, now func() time.Time) *store.FileStore {
	t.Helper()
	s, err := store.OpenFileStore(path, store.WithClock(now), store.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFileStoreBehaviour(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return fileOpen(t, filepath.Join(t.TempDir(), "store"), now)
	})
}

// TestFileStoreBehaviourAfterReopen runs the shared table on a store that
// is closed and reopened before every read, so what the table checks is
// what the file says, not only what the map says.
func TestFileStoreBehaviourAfterReopen(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return &fileReopener{t: t, path: filepath.Join(t.TempDir(), "store"), now: now}
	})
}

// fileReopener is a Store that reopens its FileStore before each Get. It
// serializes calls, since a reopen must not close the store under another.
type fileReopener struct {
	mu     sync.Mutex
	t      *testing.T
	path   string
	now    func() time.Time
	s      *store.FileStore
	closed bool
}

func (r *fileReopener) store() *store.FileStore {
	if r.s == nil {
		r.s = fileOpen(r.t, r.path, r.now)
	}
	return r.s
}

func (r *fileReopener) Get(ctx context.Context, kind, key string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, store.ErrClosed
	}
	if r.s != nil {
		if err := r.s.Close(); err != nil {
			r.t.Fatalf("close before reopen: %v", err)
		}
		r.s = nil
	}
	return r.store().Get(ctx, kind, key)
}

func (r *fileReopener) Put(ctx context.Context, kind, key string, value []byte, expires time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return store.ErrClosed
	}
	return r.store().Put(ctx, kind, key, value, expires)
}

func (r *fileReopener) Delete(ctx context.Context, kind, key string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return store.ErrClosed
	}
	return r.store().Delete(ctx, kind, key)
}

func (r *fileReopener) Ping(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return store.ErrClosed
	}
	return r.store().Ping(ctx)
}

func (r *fileReopener) Update(ctx context.Context, kind, key string, fn func([]byte) ([]byte, time.Time, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return store.ErrClosed
	}
	return r.store().Update(ctx, kind, key, fn)
}

func (r *fileReopener) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.s == nil {
		return nil
	}
	err := r.s.Close()
	r.s = nil
	return err
}

func ExampleOpenFileStore() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	s, err := store.OpenFileStore(filepath.Join(dir, "state.log"))
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	// Put returns once the record is on disk.
	s.Put(ctx, "code", "hash-of-the-code", []byte(`{"grant":"g1"}`), time.Now().Add(time.Minute))
	// Redeeming a single-use code: read and delete in one step, so a
	// second redemption finds nothing.
	var redeemed []byte
	s.Update(ctx, "code", "hash-of-the-code", func(cur []byte) ([]byte, time.Time, error) {
		redeemed = cur
		return nil, time.Time{}, nil
	})
	_, err = s.Get(ctx, "code", "hash-of-the-code")
	fmt.Printf("%s %v\n", redeemed, errors.Is(err, store.ErrNotFound))
	s.Close()
	// Output: {"grant":"g1"} true
}
