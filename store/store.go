// Package store defines the key-value engine the authorization server keeps
// its records in, and nothing of OAuth: kinds, keys and values are opaque
// strings and bytes to it. Package oauth encodes its records into values and
// hashes every secret-derived key before a record reaches a Store.
//
// Two engines live here, for one process: MemoryStore, a map, and FileStore,
// an append-only log that survives kill -9 (the default for real runs).
// Other engines (PostgreSQL, in the replicas module of this repository)
// implement the same interface, and all of them pass the same behaviour
// suite, package storetest.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store keeps opaque records under (kind, key), each with an optional
// expiry. Every method may be called from many goroutines at once, and, for
// an engine shared between processes, from many processes at once: the
// promises below then hold across all of them.
type Store interface {
	// Get returns the value stored under (kind, key), or ErrNotFound if it is
	// absent or expired. The returned slice is the caller's.
	Get(ctx context.Context, kind, key string) ([]byte, error)
	// Put stores value under (kind, key) until expires (zero: never). When
	// Put returns nil the write is durable and visible to every later Get,
	// in this process or another sharing the engine.
	Put(ctx context.Context, kind, key string, value []byte, expires time.Time) error
	// Delete removes (kind, key); deleting an absent key is not an error.
	Delete(ctx context.Context, kind, key string) error
	// Update atomically replaces the value under (kind, key) with what fn
	// returns. fn receives nil when the key is absent or expired; returning
	// a nil value deletes the key; returning an error aborts and is passed
	// through unchanged. fn may be called more than once (an engine may
	// retry after a conflict) and must have no effect but its result.
	// Two Updates of one key never interleave, whichever processes run
	// them: single-use codes and refresh rotation rely on this.
	Update(ctx context.Context, kind, key string, fn func(current []byte) (next []byte, expires time.Time, err error)) error
	// Ping reports whether the store can serve requests now, for a
	// readiness check (/readyz): nil when it can, else why not. An engine
	// shared over a network makes one round trip to it. It must be cheap,
	// as a load balancer may call it every few seconds.
	Ping(ctx context.Context) error
	// Close flushes and releases the store. Every call after it returns
	// ErrClosed.
	Close() error
}

// Counter is what a Store may add so that its user can cap what it keeps:
// Count reports how many records of kind the store holds. Records that
// expired less than a sweep ago (a minute for the engines here) may still
// be counted.
type Counter interface {
	Count(ctx context.Context, kind string) (int, error)
}

// Size limits for one stored record. Records are small (a grant, a hashed
// token's metadata); a record near these limits is a bug or an attack, and
// the file engine's replay relies on the length limit to tell a corrupt
// length field from a real one.
const (
	MaxKindLen  = 64      // bytes in a kind ("client", "grant", ...)
	MaxKeyLen   = 1 << 10 // bytes in a key
	MaxValueLen = 1 << 20 // bytes in a value
)

var (
	// ErrNotFound is returned by Store.Get for an absent or expired record.
	ErrNotFound = errors.New("store: record not found")
	// ErrLimit is wrapped by the error a Store returns when a kind, key or
	// value breaks one of the size limits above; the message names which.
	ErrLimit = errors.New("store: size limit")
	// ErrClosed is returned by every Store method called after Close.
	ErrClosed = errors.New("store: closed")
)

// Check enforces the size limits on one record; every engine calls it
// before it writes. A nil value passes (a deletion or an absent value).
func Check(kind, key string, value []byte) error {
	switch {
	case kind == "":
		return fmt.Errorf("%w: kind is empty", ErrLimit)
	case len(kind) > MaxKindLen:
		return fmt.Errorf("%w: kind is %d bytes, the limit is %d", ErrLimit, len(kind), MaxKindLen)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: key is %d bytes, the limit is %d", ErrLimit, len(key), MaxKeyLen)
	case len(value) > MaxValueLen:
		return fmt.Errorf("%w: value is %d bytes, the limit is %d", ErrLimit, len(value), MaxValueLen)
	}
	return nil
}
