package oauth

import (
	"context"
	"errors"
	"time"
)

// Store keeps the authorization server's records: clients, pending
// authorizations, grants, codes and tokens. Values are opaque bytes (the
// server encodes them), and every key that derives from a secret (a token,
// a code, a client secret) is already a hash when it reaches the store, so a
// copied store yields nothing usable.
//
// Two implementations exist: MemoryStore for tests, and FileStore, an
// append-only log that survives kill -9, the default for real runs.
type Store interface {
	// Get returns the value stored under (kind, key), or ErrNotFound if it is
	// absent or expired.
	Get(ctx context.Context, kind, key string) ([]byte, error)
	// Put stores value under (kind, key) until expires (zero: never). When
	// Put returns nil the write is durable.
	Put(ctx context.Context, kind, key string, value []byte, expires time.Time) error
	// Delete removes (kind, key); deleting an absent key is not an error.
	Delete(ctx context.Context, kind, key string) error
	// Update atomically replaces the value under (kind, key) with what fn
	// returns. fn receives nil when the key is absent or expired; returning
	// a nil value deletes the key; returning an error aborts and is passed
	// through unchanged. Single-use codes and refresh rotation rely on this.
	Update(ctx context.Context, kind, key string, fn func(current []byte) (next []byte, expires time.Time, err error)) error
	// Ping reports whether the store can serve requests now (for a
	// readiness check): nil when it can, else why not. It must be cheap, as
	// a load balancer may call it every few seconds.
	Ping(ctx context.Context) error
	// Close flushes and releases the store.
	Close() error
}

// ErrNotFound is returned by Store.Get for an absent or expired record.
var ErrNotFound = errors.New("oauth: record not found")

// StoreCounter is what a Store may add so that the authorization server
// can cap what it keeps: Count reports how many records of kind the store
// holds. Records that expired less than a sweep ago (a minute for the two
// stores here) may still be counted. With a Store that lacks it,
// Config.MaxClients cannot be enforced and NewServer says so in the log.
type StoreCounter interface {
	Count(ctx context.Context, kind string) (int, error)
}
