package oauth

import (
	"remote-mcp-authkit/store"
)

// Store keeps the authorization server's records: clients, pending
// authorizations, grants, codes and tokens. It is package store's engine
// interface: values are opaque bytes (the server encodes them), and every
// key that derives from a secret (a token, a code, a client secret) is
// already a hash when it reaches the store, so a copied store yields
// nothing usable.
//
// Two implementations live here: MemoryStore for tests, and FileStore, an
// append-only log that survives kill -9, the default for real runs. The
// replicas module adds one on PostgreSQL.
type Store = store.Store

// StoreCounter is what a Store may add so that the authorization server
// can cap what it keeps (store.Counter). With a Store that lacks it,
// Config.MaxClients cannot be enforced and NewServer says so in the log.
type StoreCounter = store.Counter

// Size limits for one stored record: package store's.
const (
	MaxStoreKindLen  = store.MaxKindLen
	MaxStoreKeyLen   = store.MaxKeyLen
	MaxStoreValueLen = store.MaxValueLen
)

var (
	// ErrNotFound is returned by Store.Get for an absent or expired record.
	ErrNotFound = store.ErrNotFound
	// ErrStoreLimit is wrapped by the error a Store returns when a kind,
	// key or value breaks one of the size limits.
	ErrStoreLimit = store.ErrLimit
	// ErrStoreClosed is returned by every Store method called after Close.
	ErrStoreClosed = store.ErrClosed
)
