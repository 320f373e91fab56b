package store

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// storeTestClock is a settable clock for expiry tests: storetest.Clock's
// twin, since this package's own tests cannot import storetest (it imports
// this package). The behaviour suite itself runs from behaviour_test.go, in
// package store_test.
type storeTestClock struct {
	mu sync.Mutex
	t  time.Time
}

func newStoreTestClock() *storeTestClock {
	return &storeTestClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *storeTestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *storeTestClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// storeMustGet fails the test unless (kind, key) holds want.
func storeMustGet(t *testing.T, s Store, kind, key string, want []byte) {
	t.Helper()
	got, err := s.Get(context.Background(), kind, key)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v, want %q", kind, key, err, want)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q, %q) = %q, want %q", kind, key, got, want)
	}
}

// storeMustMiss fails the test unless (kind, key) is absent.
func storeMustMiss(t *testing.T, s Store, kind, key string) {
	t.Helper()
	got, err := s.Get(context.Background(), kind, key)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(%q, %q) = %q, %v; want ErrNotFound", kind, key, got, err)
	}
}

func TestMemoryStoreSweepsExpired(t *testing.T) {
	clock := newStoreTestClock()
	s := NewMemoryStore()
	s.now = clock.Now
	ctx := context.Background()
	for i := range 100 {
		if err := s.Put(ctx, "code", strconv.Itoa(i), []byte("v"), clock.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "client", "kept", []byte("v"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n := s.memLen(); n != 101 {
		t.Fatalf("before the sweep the map holds %d records, want 101", n)
	}
	clock.Advance(memSweepEvery + time.Second)
	if err := s.Put(ctx, "client", "trigger", []byte("v"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n := s.memLen(); n != 2 {
		t.Fatalf("after the sweep the map holds %d records, want 2", n)
	}
	storeMustGet(t, s, "client", "kept", []byte("v"))
}

func BenchmarkMemoryStoreGet(b *testing.B) {
	s := NewMemoryStore()
	storeBenchGet(b, s)
}

func BenchmarkMemoryStorePut(b *testing.B) {
	s := NewMemoryStore()
	storeBenchPut(b, s)
}

// storeBenchGet reads 1000 keys of 200-byte values from parallel readers.
func storeBenchGet(b *testing.B, s Store) {
	ctx := context.Background()
	value := bytes.Repeat([]byte("v"), 200)
	for i := range 1000 {
		if err := s.Put(ctx, "token", "key-"+strconv.Itoa(i), value, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Get(ctx, "token", keys[i%len(keys)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// storeBenchPut writes 200-byte values under fresh keys from parallel
// writers; with FileStore it measures group commit.
func storeBenchPut(b *testing.B, s Store) {
	ctx := context.Background()
	value := bytes.Repeat([]byte("v"), 200)
	var mu sync.Mutex
	next := 0
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		w := next
		next++
		mu.Unlock()
		i := 0
		for pb.Next() {
			key := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
			if err := s.Put(ctx, "token", key, value, time.Time{}); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// TestStoreCount: both stores count their records per kind through
// overwrites, deletions, Update and expiry sweeps, and the file store's
// count survives a reopen.
func TestStoreCount(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, s Store, kind string, want int) {
		t.Helper()
		n, err := s.(Counter).Count(ctx, kind)
		if err != nil || n != want {
			t.Fatalf("Count(%q) = %d, %v; want %d", kind, n, err, want)
		}
	}
	run := func(t *testing.T, s Store, clock *storeTestClock, reopen func() Store) {
		for i := range 5 {
			fileTestPut(t, s, "client", strconv.Itoa(i), "v")
		}
		fileTestPut(t, s, "client", "0", "overwritten")
		fileTestPut(t, s, "grant", "g", "v")
		if err := s.Delete(ctx, "client", "1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "client", "absent"); err != nil {
			t.Fatal(err)
		}
		s.Update(ctx, "client", "2", func([]byte) ([]byte, time.Time, error) { return nil, time.Time{}, nil })
		s.Update(ctx, "client", "new", func([]byte) ([]byte, time.Time, error) { return []byte("v"), time.Time{}, nil })
		if err := s.Put(ctx, "client", "short", []byte("v"), clock.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		check(t, s, "client", 5)
		check(t, s, "grant", 1)
		check(t, s, "none", 0)
		clock.Advance(memSweepEvery + time.Second)
		fileTestPut(t, s, "other", "x", "a write starts the sweep")
		deadline := time.Now().Add(5 * time.Second)
		for n, _ := s.(Counter).Count(ctx, "client"); n != 4 && time.Now().Before(deadline); n, _ = s.(Counter).Count(ctx, "client") {
			time.Sleep(time.Millisecond) // the file store sweeps beside its writer
		}
		check(t, s, "client", 4)
		if reopen != nil {
			s = reopen()
			check(t, s, "client", 4)
			check(t, s, "grant", 1)
		}
		s.Close()
		if _, err := s.(Counter).Count(ctx, "client"); !errors.Is(err, ErrClosed) {
			t.Fatalf("Count after Close: %v", err)
		}
	}
	t.Run("memory", func(t *testing.T) {
		clock := newStoreTestClock()
		s := NewMemoryStore()
		s.now = clock.Now
		run(t, s, clock, nil)
	})
	t.Run("file", func(t *testing.T) {
		clock := newStoreTestClock()
		path := filepath.Join(t.TempDir(), "store")
		s, err := fileTestOpen(t, path, clock.Now, nil)
		if err != nil {
			t.Fatal(err)
		}
		run(t, s, clock, func() Store {
			s.Close()
			s, err := fileTestOpen(t, path, clock.Now, nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}
