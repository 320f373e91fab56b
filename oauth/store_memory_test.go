package oauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// storeTestClock is a settable clock for expiry tests.
type storeTestClock struct {
	mu sync.Mutex
	t  time.Time
}

func newStoreTestClock() *storeTestClock {
	return &storeTestClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *storeTestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *storeTestClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// storeFactory opens an empty store whose expiry clock is now.
type storeFactory func(t *testing.T, now func() time.Time) Store

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

// storeBehaviour is the contract of Store (store.go), run against every
// implementation.
var storeBehaviour = []struct {
	name string
	run  func(t *testing.T, s Store, clock *storeTestClock)
}{
	{"get absent", func(t *testing.T, s Store, _ *storeTestClock) {
		storeMustMiss(t, s, "grant", "nope")
	}},
	{"put then get, overwrite", func(t *testing.T, s Store, _ *storeTestClock) {
		ctx := context.Background()
		if err := s.Put(ctx, "grant", "g1", []byte("one"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		storeMustGet(t, s, "grant", "g1", []byte("one"))
		if err := s.Put(ctx, "grant", "g1", []byte("two"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		storeMustGet(t, s, "grant", "g1", []byte("two"))
	}},
	{"kinds are separate namespaces", func(t *testing.T, s Store, _ *storeTestClock) {
		ctx := context.Background()
		if err := s.Put(ctx, "client", "x", []byte("c"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "code", "x", []byte("k"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		// A separator-joined key would make these two collide.
		if err := s.Put(ctx, "a", "b\x00c", []byte("1"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "a\x00b", "c", []byte("2"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		storeMustGet(t, s, "client", "x", []byte("c"))
		storeMustGet(t, s, "code", "x", []byte("k"))
		storeMustGet(t, s, "a", "b\x00c", []byte("1"))
		storeMustGet(t, s, "a\x00b", "c", []byte("2"))
		storeMustMiss(t, s, "token", "x")
	}},
	{"empty value is stored, not absent", func(t *testing.T, s Store, _ *storeTestClock) {
		ctx := context.Background()
		if err := s.Put(ctx, "k", "empty", []byte{}, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "k", "nil", nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"empty", "nil"} {
			got, err := s.Get(ctx, "k", key)
			if err != nil || got == nil || len(got) != 0 {
				t.Fatalf("Get(%q) = %#v, %v; want a non-nil empty value", key, got, err)
			}
		}
		var seen []byte
		err := s.Update(ctx, "k", "empty", func(cur []byte) ([]byte, time.Time, error) {
			seen = cur
			return cur, time.Time{}, nil
		})
		if err != nil || seen == nil {
			t.Fatalf("Update saw %#v, %v; want a non-nil empty current value", seen, err)
		}
	}},
	{"empty key is a key", func(t *testing.T, s Store, _ *storeTestClock) {
		if err := s.Put(context.Background(), "k", "", []byte("v"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		storeMustGet(t, s, "k", "", []byte("v"))
	}},
	{"values are copied in and out", func(t *testing.T, s Store, _ *storeTestClock) {
		ctx := context.Background()
		in := []byte("original")
		if err := s.Put(ctx, "k", "v", in, time.Time{}); err != nil {
			t.Fatal(err)
		}
		in[0] = 'X'
		out, err := s.Get(ctx, "k", "v")
		if err != nil {
			t.Fatal(err)
		}
		out[1] = 'Y'
		err = s.Update(ctx, "k", "v", func(cur []byte) ([]byte, time.Time, error) {
			cur[2] = 'Z' // mutating what fn received must not reach the store
			return nil, time.Time{}, errors.New("abort")
		})
		if err == nil {
			t.Fatal("Update: want the abort error")
		}
		storeMustGet(t, s, "k", "v", []byte("original"))

		next := []byte("updated")
		err = s.Update(ctx, "k", "v", func([]byte) ([]byte, time.Time, error) { return next, time.Time{}, nil })
		if err != nil {
			t.Fatal(err)
		}
		next[0] = 'Q'
		storeMustGet(t, s, "k", "v", []byte("updated"))
	}},
	{"delete present and absent", func(t *testing.T, s Store, _ *storeTestClock) {
		ctx := context.Background()
		if err := s.Put(ctx, "k", "a", []byte("1"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "k", "a"); err != nil {
			t.Fatal(err)
		}
		storeMustMiss(t, s, "k", "a")
		if err := s.Delete(ctx, "k", "never-there"); err != nil {
			t.Fatalf("Delete of an absent key: %v", err)
		}
	}},
	{"expiry", func(t *testing.T, s Store, clock *storeTestClock) {
		ctx := context.Background()
		if err := s.Put(ctx, "code", "c", []byte("v"), clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "client", "forever", []byte("f"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute - time.Nanosecond)
		storeMustGet(t, s, "code", "c", []byte("v"))
		clock.Advance(time.Nanosecond) // expires is the first instant it is gone
		storeMustMiss(t, s, "code", "c")
		err := s.Update(ctx, "code", "c", func(cur []byte) ([]byte, time.Time, error) {
			if cur != nil {
				t.Errorf("Update of an expired key got %q, want nil", cur)
			}
			return nil, time.Time{}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(100 * 365 * 24 * time.Hour)
		storeMustGet(t, s, "client", "forever", []byte("f"))
		// A put over an expired record brings the key back.
		if err := s.Put(ctx, "code", "c", []byte("again"), clock.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		storeMustGet(t, s, "code", "c", []byte("again"))
	}},
	{"update semantics", func(t *testing.T, s Store, clock *storeTestClock) {
		ctx := context.Background()
		calls := 0
		err := s.Update(ctx, "grant", "u", func(cur []byte) ([]byte, time.Time, error) {
			calls++
			if cur != nil {
				t.Errorf("absent key: fn got %q, want nil", cur)
			}
			return []byte("first"), clock.Now().Add(time.Hour), nil
		})
		if err != nil || calls != 1 {
			t.Fatalf("Update: %v after %d calls", err, calls)
		}
		storeMustGet(t, s, "grant", "u", []byte("first"))

		err = s.Update(ctx, "grant", "u", func(cur []byte) ([]byte, time.Time, error) {
			if string(cur) != "first" {
				t.Errorf("fn got %q, want %q", cur, "first")
			}
			return append(cur, "+second"...), clock.Now().Add(2 * time.Hour), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		storeMustGet(t, s, "grant", "u", []byte("first+second"))
		clock.Advance(90 * time.Minute) // the second expiry replaced the first
		storeMustGet(t, s, "grant", "u", []byte("first+second"))

		// An error aborts and comes back unchanged, not wrapped.
		errUsed := errors.New("code already used")
		err = s.Update(ctx, "grant", "u", func([]byte) ([]byte, time.Time, error) {
			return []byte("must not be stored"), time.Time{}, errUsed
		})
		if err != errUsed {
			t.Fatalf("Update error = %v, want exactly %v", err, errUsed)
		}
		storeMustGet(t, s, "grant", "u", []byte("first+second"))

		// A nil next value deletes.
		err = s.Update(ctx, "grant", "u", func([]byte) ([]byte, time.Time, error) { return nil, time.Time{}, nil })
		if err != nil {
			t.Fatal(err)
		}
		storeMustMiss(t, s, "grant", "u")
		// And on an absent key it is a no-op.
		err = s.Update(ctx, "grant", "u", func([]byte) ([]byte, time.Time, error) { return nil, time.Time{}, nil })
		if err != nil {
			t.Fatal(err)
		}
		storeMustMiss(t, s, "grant", "u")
	}},
	{"size limits", func(t *testing.T, s Store, _ *storeTestClock) {
		ctx := context.Background()
		big := make([]byte, MaxStoreValueLen+1)
		for _, c := range []struct {
			what, kind, key string
			value           []byte
		}{
			{"empty kind", "", "k", []byte("v")},
			{"kind", strings.Repeat("k", MaxStoreKindLen+1), "k", []byte("v")},
			{"key", "k", strings.Repeat("x", MaxStoreKeyLen+1), []byte("v")},
			{"value", "k", "k", big},
		} {
			err := s.Put(ctx, c.kind, c.key, c.value, time.Time{})
			if !errors.Is(err, ErrStoreLimit) {
				t.Errorf("Put with oversized %s: %v, want ErrStoreLimit", c.what, err)
			}
			if c.what == "value" {
				continue
			}
			if _, err := s.Get(ctx, c.kind, c.key); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get with oversized %s: %v, want ErrNotFound", c.what, err)
			}
			if err := s.Delete(ctx, c.kind, c.key); !errors.Is(err, ErrStoreLimit) {
				t.Errorf("Delete with oversized %s: %v, want ErrStoreLimit", c.what, err)
			}
			if err := s.Update(ctx, c.kind, c.key, func([]byte) ([]byte, time.Time, error) {
				t.Errorf("Update with oversized %s called fn", c.what)
				return nil, time.Time{}, nil
			}); !errors.Is(err, ErrStoreLimit) {
				t.Errorf("Update with oversized %s: %v, want ErrStoreLimit", c.what, err)
			}
		}
		// Exactly at the limits is fine.
		kind := strings.Repeat("k", MaxStoreKindLen)
		key := strings.Repeat("x", MaxStoreKeyLen)
		max := bytes.Repeat([]byte{7}, MaxStoreValueLen)
		if err := s.Put(ctx, kind, key, max, time.Time{}); err != nil {
			t.Fatalf("Put at the limits: %v", err)
		}
		storeMustGet(t, s, kind, key, max)
		// Update may not grow a value past the limit either.
		err := s.Update(ctx, kind, key, func(cur []byte) ([]byte, time.Time, error) { return append(cur, 1), time.Time{}, nil })
		if !errors.Is(err, ErrStoreLimit) {
			t.Fatalf("Update past the value limit: %v, want ErrStoreLimit", err)
		}
		storeMustGet(t, s, kind, key, max)
		if !strings.Contains(err.Error(), strconv.Itoa(MaxStoreValueLen)) {
			t.Errorf("limit error %q does not name the limit", err)
		}
	}},
	{"cancelled context", func(t *testing.T, s Store, _ *storeTestClock) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Put(ctx, "k", "k", []byte("v"), time.Time{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Put: %v", err)
		}
		if _, err := s.Get(ctx, "k", "k"); !errors.Is(err, context.Canceled) {
			t.Errorf("Get: %v", err)
		}
		if err := s.Delete(ctx, "k", "k"); !errors.Is(err, context.Canceled) {
			t.Errorf("Delete: %v", err)
		}
		if err := s.Update(ctx, "k", "k", func([]byte) ([]byte, time.Time, error) { return []byte("x"), time.Time{}, nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("Update: %v", err)
		}
		storeMustMiss(t, s, "k", "k")
	}},
	{"update is atomic under concurrency", func(t *testing.T, s Store, _ *storeTestClock) {
		const goroutines, perGoroutine = 50, 20
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for range goroutines {
			wg.Go(func() {
				for range perGoroutine {
					err := s.Update(ctx, "counter", "n", func(cur []byte) ([]byte, time.Time, error) {
						n := 0
						if cur != nil {
							var err error
							if n, err = strconv.Atoi(string(cur)); err != nil {
								return nil, time.Time{}, err
							}
						}
						return []byte(strconv.Itoa(n + 1)), time.Time{}, nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		// Readers run alongside; each must see a whole number.
		stop := make(chan struct{})
		var readers sync.WaitGroup
		for range 4 {
			readers.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					// Paced, not spinning: readers at full speed would only
					// measure the scheduler (and starve writers of the CPU).
					time.Sleep(50 * time.Microsecond)
					v, err := s.Get(ctx, "counter", "n")
					if err == nil {
						if _, err := strconv.Atoi(string(v)); err != nil {
							errs <- fmt.Errorf("reader saw %q", v)
							return
						}
					} else if !errors.Is(err, ErrNotFound) {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(stop)
		readers.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		storeMustGet(t, s, "counter", "n", []byte(strconv.Itoa(goroutines*perGoroutine)))
	}},
	{"closed store refuses calls", func(t *testing.T, s Store, _ *storeTestClock) {
		ctx := context.Background()
		if err := s.Put(ctx, "k", "k", []byte("v"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "k", "k"); !errors.Is(err, ErrStoreClosed) {
			t.Errorf("Get after Close: %v", err)
		}
		if err := s.Put(ctx, "k", "k", []byte("v"), time.Time{}); !errors.Is(err, ErrStoreClosed) {
			t.Errorf("Put after Close: %v", err)
		}
		if err := s.Delete(ctx, "k", "k"); !errors.Is(err, ErrStoreClosed) {
			t.Errorf("Delete after Close: %v", err)
		}
		if err := s.Update(ctx, "k", "k", func([]byte) ([]byte, time.Time, error) { return nil, time.Time{}, nil }); !errors.Is(err, ErrStoreClosed) {
			t.Errorf("Update after Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}},
}

// storeRunBehaviour runs the shared table against stores made by open.
func storeRunBehaviour(t *testing.T, open storeFactory) {
	for _, c := range storeBehaviour {
		t.Run(c.name, func(t *testing.T) {
			clock := newStoreTestClock()
			s := open(t, clock.Now)
			defer s.Close()
			c.run(t, s, clock)
		})
	}
}

func TestMemoryStoreBehaviour(t *testing.T) {
	storeRunBehaviour(t, func(t *testing.T, now func() time.Time) Store {
		s := NewMemoryStore()
		s.now = now
		return s
	})
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
		n, err := s.(StoreCounter).Count(ctx, kind)
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
		for n, _ := s.(StoreCounter).Count(ctx, "client"); n != 4 && time.Now().Before(deadline); n, _ = s.(StoreCounter).Count(ctx, "client") {
			time.Sleep(time.Millisecond) // the file store sweeps beside its writer
		}
		check(t, s, "client", 4)
		if reopen != nil {
			s = reopen()
			check(t, s, "client", 4)
			check(t, s, "grant", 1)
		}
		s.Close()
		if _, err := s.(StoreCounter).Count(ctx, "client"); !errors.Is(err, ErrStoreClosed) {
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
