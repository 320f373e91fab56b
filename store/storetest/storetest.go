// Package storetest is the behaviour suite every store.Store engine must
// pass, in the spirit of net/http/httptest: the memory and file engines run
// it in package store, the PostgreSQL engine in the replicas module.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"remote-mcp-authkit/store"
)

// Clock is a settable clock for expiry tests. An engine under test reads
// the time from Clock.Now instead of the system's.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock set to a fixed instant.
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Factory opens an empty store whose expiry clock is now. Each call must
// give a store with no records, even when the engine is shared (a fresh
// schema or table per call).
type Factory func(t *testing.T, now func() time.Time) store.Store

func mustGet(t *testing.T, s store.Store, kind, key string, want []byte) {
	t.Helper()
	got, err := s.Get(context.Background(), kind, key)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v, want %q", kind, key, err, want)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q, %q) = %q, want %q", kind, key, got, want)
	}
}

func mustMiss(t *testing.T, s store.Store, kind, key string) {
	t.Helper()
	got, err := s.Get(context.Background(), kind, key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q, %q) = %q, %v; want ErrNotFound", kind, key, got, err)
	}
}

// Run runs the whole suite, one subtest per promise of store.Store, each
// against a store open returns.
func Run(t *testing.T, open Factory) {
	for _, c := range behaviour {
		t.Run(c.name, func(t *testing.T) {
			clock := NewClock()
			s := open(t, clock.Now)
			defer s.Close()
			c.run(t, s, clock)
		})
	}
}

// behaviour is the contract of store.Store, run against every
// implementation.
var behaviour = []struct {
	name string
	run  func(t *testing.T, s store.Store, clock *Clock)
}{
	{"get absent", func(t *testing.T, s store.Store, _ *Clock) {
		mustMiss(t, s, "grant", "nope")
	}},
	{"put then get, overwrite", func(t *testing.T, s store.Store, _ *Clock) {
		ctx := context.Background()
		if err := s.Put(ctx, "grant", "g1", []byte("one"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "grant", "g1", []byte("one"))
		if err := s.Put(ctx, "grant", "g1", []byte("two"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "grant", "g1", []byte("two"))
	}},
	{"kinds are separate namespaces", func(t *testing.T, s store.Store, _ *Clock) {
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
		mustGet(t, s, "client", "x", []byte("c"))
		mustGet(t, s, "code", "x", []byte("k"))
		mustGet(t, s, "a", "b\x00c", []byte("1"))
		mustGet(t, s, "a\x00b", "c", []byte("2"))
		mustMiss(t, s, "token", "x")
	}},
	{"empty value is stored, not absent", func(t *testing.T, s store.Store, _ *Clock) {
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
	{"a hex key, its bytes and other spellings are different keys", func(t *testing.T, s store.Store, clock *Clock) {
		// An engine may hold a key of 64 lower-case hex digits (a SHA-256
		// in hex) as its 32 bytes; that must never make it meet a key that
		// is those bytes, or the same digits spelt otherwise.
		ctx := context.Background()
		sum := sha256.Sum256([]byte("a token"))
		hexKey := hex.EncodeToString(sum[:])
		keys := map[string]string{
			hexKey:                               "hex",
			string(sum[:]):                       "bytes",
			strings.ToUpper(hexKey):              "upper",
			hexKey[:63]:                          "short",
			hexKey + "0":                         "long",
			hexKey[:62] + "g0":                   "not hex",
			hex.EncodeToString(make([]byte, 32)): "zeros",
		}
		for key, v := range keys {
			if err := s.Put(ctx, "token", key, []byte(v), clock.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		// The same hex key under another kind, and under a kind that is
		// never given a hex key.
		if err := s.Put(ctx, "other", hexKey, []byte("other kind"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		mustMiss(t, s, "never", hexKey)
		for key, v := range keys {
			mustGet(t, s, "token", key, []byte(v))
		}
		mustGet(t, s, "other", hexKey, []byte("other kind"))
		if err := s.Delete(ctx, "token", hexKey); err != nil {
			t.Fatal(err)
		}
		mustMiss(t, s, "token", hexKey)
		mustGet(t, s, "token", string(sum[:]), []byte("bytes"))
		mustGet(t, s, "other", hexKey, []byte("other kind"))
		err := s.Update(ctx, "token", hexKey, func(cur []byte) ([]byte, time.Time, error) {
			if cur != nil {
				t.Errorf("Update of the deleted hex key saw %q", cur)
			}
			return []byte("again"), time.Time{}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "token", hexKey, []byte("again"))
		mustGet(t, s, "token", strings.ToUpper(hexKey), []byte("upper"))
	}},
	{"empty key is a key", func(t *testing.T, s store.Store, _ *Clock) {
		if err := s.Put(context.Background(), "k", "", []byte("v"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "k", "", []byte("v"))
	}},
	{"values are copied in and out", func(t *testing.T, s store.Store, _ *Clock) {
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
		mustGet(t, s, "k", "v", []byte("original"))

		next := []byte("updated")
		err = s.Update(ctx, "k", "v", func([]byte) ([]byte, time.Time, error) { return next, time.Time{}, nil })
		if err != nil {
			t.Fatal(err)
		}
		next[0] = 'Q'
		mustGet(t, s, "k", "v", []byte("updated"))
	}},
	{"delete present and absent", func(t *testing.T, s store.Store, _ *Clock) {
		ctx := context.Background()
		if err := s.Put(ctx, "k", "a", []byte("1"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "k", "a"); err != nil {
			t.Fatal(err)
		}
		mustMiss(t, s, "k", "a")
		if err := s.Delete(ctx, "k", "never-there"); err != nil {
			t.Fatalf("Delete of an absent key: %v", err)
		}
	}},
	{"expiry", func(t *testing.T, s store.Store, clock *Clock) {
		ctx := context.Background()
		if err := s.Put(ctx, "code", "c", []byte("v"), clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "client", "forever", []byte("f"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute - time.Nanosecond)
		mustGet(t, s, "code", "c", []byte("v"))
		clock.Advance(time.Nanosecond) // expires is the first instant it is gone
		mustMiss(t, s, "code", "c")
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
		mustGet(t, s, "client", "forever", []byte("f"))
		// A put over an expired record brings the key back.
		if err := s.Put(ctx, "code", "c", []byte("again"), clock.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "code", "c", []byte("again"))
	}},
	{"update semantics", func(t *testing.T, s store.Store, clock *Clock) {
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
		mustGet(t, s, "grant", "u", []byte("first"))

		err = s.Update(ctx, "grant", "u", func(cur []byte) ([]byte, time.Time, error) {
			if string(cur) != "first" {
				t.Errorf("fn got %q, want %q", cur, "first")
			}
			return append(cur, "+second"...), clock.Now().Add(2 * time.Hour), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "grant", "u", []byte("first+second"))
		clock.Advance(90 * time.Minute) // the second expiry replaced the first
		mustGet(t, s, "grant", "u", []byte("first+second"))

		// An error aborts and comes back unchanged, not wrapped.
		errUsed := errors.New("code already used")
		err = s.Update(ctx, "grant", "u", func([]byte) ([]byte, time.Time, error) {
			return []byte("must not be stored"), time.Time{}, errUsed
		})
		if err != errUsed {
			t.Fatalf("Update error = %v, want exactly %v", err, errUsed)
		}
		mustGet(t, s, "grant", "u", []byte("first+second"))

		// A nil next value deletes.
		err = s.Update(ctx, "grant", "u", func([]byte) ([]byte, time.Time, error) { return nil, time.Time{}, nil })
		if err != nil {
			t.Fatal(err)
		}
		mustMiss(t, s, "grant", "u")
		// And on an absent key it is a no-op.
		err = s.Update(ctx, "grant", "u", func([]byte) ([]byte, time.Time, error) { return nil, time.Time{}, nil })
		if err != nil {
			t.Fatal(err)
		}
		mustMiss(t, s, "grant", "u")
	}},
	{"size limits", func(t *testing.T, s store.Store, _ *Clock) {
		ctx := context.Background()
		big := make([]byte, store.MaxValueLen+1)
		for _, c := range []struct {
			what, kind, key string
			value           []byte
		}{
			{"empty kind", "", "k", []byte("v")},
			{"kind", strings.Repeat("k", store.MaxKindLen+1), "k", []byte("v")},
			{"key", "k", strings.Repeat("x", store.MaxKeyLen+1), []byte("v")},
			{"value", "k", "k", big},
		} {
			err := s.Put(ctx, c.kind, c.key, c.value, time.Time{})
			if !errors.Is(err, store.ErrLimit) {
				t.Errorf("Put with oversized %s: %v, want store.ErrLimit", c.what, err)
			}
			if c.what == "value" {
				continue
			}
			if _, err := s.Get(ctx, c.kind, c.key); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get with oversized %s: %v, want store.ErrNotFound", c.what, err)
			}
			if err := s.Delete(ctx, c.kind, c.key); !errors.Is(err, store.ErrLimit) {
				t.Errorf("Delete with oversized %s: %v, want store.ErrLimit", c.what, err)
			}
			if err := s.Update(ctx, c.kind, c.key, func([]byte) ([]byte, time.Time, error) {
				t.Errorf("Update with oversized %s called fn", c.what)
				return nil, time.Time{}, nil
			}); !errors.Is(err, store.ErrLimit) {
				t.Errorf("Update with oversized %s: %v, want store.ErrLimit", c.what, err)
			}
		}
		// Exactly at the limits is fine.
		kind := strings.Repeat("k", store.MaxKindLen)
		key := strings.Repeat("x", store.MaxKeyLen)
		max := bytes.Repeat([]byte{7}, store.MaxValueLen)
		if err := s.Put(ctx, kind, key, max, time.Time{}); err != nil {
			t.Fatalf("Put at the limits: %v", err)
		}
		mustGet(t, s, kind, key, max)
		// Update may not grow a value past the limit either.
		err := s.Update(ctx, kind, key, func(cur []byte) ([]byte, time.Time, error) { return append(cur, 1), time.Time{}, nil })
		if !errors.Is(err, store.ErrLimit) {
			t.Fatalf("Update past the value limit: %v, want store.ErrLimit", err)
		}
		mustGet(t, s, kind, key, max)
		if !strings.Contains(err.Error(), strconv.Itoa(store.MaxValueLen)) {
			t.Errorf("limit error %q does not name the limit", err)
		}
	}},
	{"cancelled context", func(t *testing.T, s store.Store, _ *Clock) {
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
		mustMiss(t, s, "k", "k")
	}},
	{"update is atomic under concurrency", func(t *testing.T, s store.Store, _ *Clock) {
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
					} else if !errors.Is(err, store.ErrNotFound) {
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
		mustGet(t, s, "counter", "n", []byte(strconv.Itoa(goroutines*perGoroutine)))
	}},
	{"closed store refuses calls", func(t *testing.T, s store.Store, _ *Clock) {
		ctx := context.Background()
		if err := s.Put(ctx, "k", "k", []byte("v"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "k", "k"); !errors.Is(err, store.ErrClosed) {
			t.Errorf("Get after Close: %v", err)
		}
		if err := s.Put(ctx, "k", "k", []byte("v"), time.Time{}); !errors.Is(err, store.ErrClosed) {
			t.Errorf("Put after Close: %v", err)
		}
		if err := s.Delete(ctx, "k", "k"); !errors.Is(err, store.ErrClosed) {
			t.Errorf("Delete after Close: %v", err)
		}
		if err := s.Update(ctx, "k", "k", func([]byte) ([]byte, time.Time, error) { return nil, time.Time{}, nil }); !errors.Is(err, store.ErrClosed) {
			t.Errorf("Update after Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}},
}
