package store

// This file holds MemoryStore, the Store for tests and single-process runs
// that may forget everything on exit, and the rules both engines here share:
// size limits, expiry, and the error a closed store returns.

import (
	"context"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// storeBegin is the first step of every Store write: a cancelled context
// stops it before any work, then the record must fit the size limits.
func storeBegin(ctx context.Context, kind, key string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return Check(kind, key, value)
}

// storeFound is the end of both stores' Get, given what the map lookup
// found (e, ok) and whether the store was closed, all read under the lock.
func storeFound(e memEntry, ok, closed bool, now func() time.Time) ([]byte, error) {
	if closed {
		return nil, ErrClosed
	}
	// Most records never expire; only read the clock for those that do.
	if !ok || (e.exp != 0 && e.expired(now())) {
		return nil, ErrNotFound
	}
	return storeClone(e.value), nil
}

// storeRun is the middle of both stores' Update: it calls fn on cur (a
// copy, nil if absent) and returns a checked copy of what fn wants stored,
// or nil for a deletion.
func storeRun(k storeKey, cur []byte, fn func([]byte) ([]byte, time.Time, error)) ([]byte, time.Time, error) {
	next, expires, err := fn(cur)
	if err != nil || next == nil {
		return nil, time.Time{}, err
	}
	if err := Check(k.plainKind(), k.key, next); err != nil {
		return nil, time.Time{}, err
	}
	return storeClone(next), expires, nil
}

// storeKey is the map key of both stores: kind and key kept apart, so that
// no choice of separator can make two records collide. A key that is 64
// lower-case hex digits (a SHA-256 written in hex, as the authorization
// server's token and code keys are) is held as its 32 bytes, and its kind
// then carries hexKeyMark (see kindTable.mapKey): 32 bytes less per such
// record in memory and on disk.
type storeKey struct{ kind, key string }

// hexKeyMark starts the kind of a record whose key is held packed. It makes
// the kind longer than MaxKindLen, so no kind a caller can use meets it,
// and a packed key never meets a caller's 32-byte key.
var hexKeyMark = strings.Repeat("\xff", MaxKindLen+1)

// packed reports whether k's key is held as the bytes of hex digits.
func (k storeKey) packed() bool { return len(k.kind) > MaxKindLen }

// plainKind is the kind as the caller wrote it.
func (k storeKey) plainKind() string {
	if k.packed() {
		return k.kind[len(hexKeyMark):]
	}
	return k.kind
}

// plain returns the kind and key as the caller wrote them.
func (k storeKey) plain() (kind, key string) {
	if k.packed() {
		return k.kind[len(hexKeyMark):], hex.EncodeToString([]byte(k.key))
	}
	return k.kind, k.key
}

// kindTable interns the marked kinds of packed keys: hexKeyMark+kind, made
// once per kind, so that a lookup neither allocates nor builds a string.
// Lookups (add false) may run under a read lock; adding needs the write
// lock.
type kindTable map[string]string

// mapKey returns the map key of (kind, key): packed when key is 64
// lower-case hex digits. With add false and a kind that never held a packed
// key, it returns false: no record can be under that key.
func (t kindTable) mapKey(kind, key string, add bool) (storeKey, bool) {
	var raw [32]byte
	if !hexLower(raw[:], key) {
		return storeKey{kind, key}, true
	}
	mk, ok := t[kind]
	if !ok {
		if !add {
			return storeKey{}, false
		}
		mk = t.mark(kind)
	}
	return storeKey{mk, string(raw[:])}, true
}

// mark returns hexKeyMark+kind, interned. The caller holds the write lock.
func (t kindTable) mark(kind string) string {
	mk, ok := t[kind]
	if !ok {
		mk = hexKeyMark + kind
		t[kind] = mk
	}
	return mk
}

// hexLower decodes s into dst (32 bytes) if s is 64 lower-case hex digits,
// the only spelling that hex.EncodeToString gives back, and reports whether
// it was.
func hexLower[S string | []byte](dst []byte, s S) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := hexDigit(s[2*i])
		lo, ok2 := hexDigit(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// storeExpired reports whether a record with the given expiry is gone at
// now. The zero time means the record never expires.
func storeExpired(expires, now time.Time) bool {
	return !expires.IsZero() && !now.Before(expires)
}

// storeClone copies b so that neither the caller nor the store can change
// the other's bytes later. It keeps "empty" distinct from "absent": a
// non-nil empty slice stays non-nil.
func storeClone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// memSweepEvery is how often a write sweeps expired records out of a
// MemoryStore. Reads already hide expired records; sweeping only returns
// their memory, so it can be rare.
const memSweepEvery = time.Minute

// memEntry is one stored value and its expiry. The expiry is kept as
// fileExpiry encodes it (Unix nanoseconds, 0: never), not as a time.Time:
// 16 bytes less per record, and nothing for the collector to follow.
type memEntry struct {
	value []byte
	exp   int64
}

func newMemEntry(value []byte, expires time.Time) memEntry {
	return memEntry{value: value, exp: fileExpiry(expires)}
}

// expired is storeExpired for an entry.
func (e memEntry) expired(now time.Time) bool {
	return e.exp != 0 && now.UnixNano() >= e.exp
}

// expiresAt is the expiry as a time (zero: never).
func (e memEntry) expiresAt() time.Time {
	if e.exp == 0 {
		return time.Time{}
	}
	return time.Unix(0, e.exp)
}

// MemoryStore is a Store kept in a map under a read-write mutex. Nothing
// survives the process; use FileStore for real runs. Values are copied in
// and out, so callers can never change stored bytes.
//
// The zero value is not usable; call NewMemoryStore.
type MemoryStore struct {
	// now is the clock used for expiry; tests replace it.
	now func() time.Time

	mu        sync.RWMutex
	m         map[storeKey]memEntry
	kinds     kindTable
	counts    storeCounts
	lastSweep time.Time
	closed    bool
}

var _ Store = (*MemoryStore)(nil)
var _ Counter = (*MemoryStore)(nil)

// storeCounts is how many records of each kind a map holds, kept up to
// date by the one place that changes the map.
type storeCounts map[string]int

// change records that kind went from had to has a record for one key.
func (c storeCounts) change(kind string, had, has bool) {
	switch {
	case has && !had:
		c[kind]++
	case had && !has:
		if c[kind]--; c[kind] == 0 {
			delete(c, kind)
		}
	}
}

// NewMemoryStore returns an empty MemoryStore. Of the options only
// WithClock applies.
func NewMemoryStore(opts ...Option) *MemoryStore {
	return &MemoryStore{now: newConfig(opts).now, m: make(map[storeKey]memEntry), kinds: kindTable{}, counts: storeCounts{}}
}

// Get returns a copy of the value under (kind, key), or ErrNotFound.
func (s *MemoryStore) Get(ctx context.Context, kind, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var e memEntry
	k, ok := s.kinds.mapKey(kind, key, false)
	if ok {
		e, ok = s.m[k]
	}
	closed := s.closed
	s.mu.RUnlock()
	return storeFound(e, ok, closed, s.now)
}

// Put stores a copy of value under (kind, key) until expires (zero: never).
// A nil value is stored as an empty one; use Delete to remove a key.
func (s *MemoryStore) Put(ctx context.Context, kind, key string, value []byte, expires time.Time) error {
	if err := storeBegin(ctx, kind, key, value); err != nil {
		return err
	}
	v := make([]byte, len(value))
	copy(v, value)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	k, _ := s.kinds.mapKey(kind, key, true)
	s.memSet(k, newMemEntry(v, expires))
	s.memMaybeSweep()
	return nil
}

// Delete removes (kind, key); an absent key is not an error.
func (s *MemoryStore) Delete(ctx context.Context, kind, key string) error {
	if err := storeBegin(ctx, kind, key, nil); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if k, ok := s.kinds.mapKey(kind, key, false); ok {
		s.memDelete(k)
	}
	return nil
}

// Update runs fn under the store's write lock, so no other write can come
// between its read and its write. fn must not call the store.
func (s *MemoryStore) Update(ctx context.Context, kind, key string, fn func(current []byte) (next []byte, expires time.Time, err error)) error {
	if err := storeBegin(ctx, kind, key, nil); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	k, _ := s.kinds.mapKey(kind, key, true)
	var cur []byte
	if e, ok := s.m[k]; ok && !e.expired(s.now()) {
		cur = storeClone(e.value)
	}
	next, expires, err := storeRun(k, cur, fn)
	if err != nil {
		return err
	}
	if next == nil {
		s.memDelete(k)
		return nil
	}
	s.memSet(k, newMemEntry(next, expires))
	s.memMaybeSweep()
	return nil
}

// Close releases the map; later calls return ErrClosed.
func (s *MemoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.m = nil
	return nil
}

func (s *MemoryStore) memSet(k storeKey, e memEntry) {
	_, had := s.m[k]
	s.m[k] = e
	s.counts.change(k.plainKind(), had, true)
}

func (s *MemoryStore) memDelete(k storeKey) {
	_, had := s.m[k]
	delete(s.m, k)
	s.counts.change(k.plainKind(), had, false)
}

// Count reports how many records of kind the store holds, including any
// that expired since the last sweep (at most memSweepEvery ago, on a write).
func (s *MemoryStore) Count(ctx context.Context, kind string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.counts[kind], nil
}

// memMaybeSweep drops expired records once per memSweepEvery. The caller
// holds s.mu for writing.
func (s *MemoryStore) memMaybeSweep() {
	now := s.now()
	if now.Sub(s.lastSweep) < memSweepEvery {
		return
	}
	s.lastSweep = now
	for k, e := range s.m {
		if e.expired(now) {
			s.memDelete(k)
		}
	}
}

// memLen reports how many records the map holds, expired or not (tests use
// it to see sweeping).
func (s *MemoryStore) memLen() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}
