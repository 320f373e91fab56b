package oauth

import (
	"log/slog"

	"remote-mcp-authkit/store"
)

// Store keeps the authorization server's records: clients, pending
// authorizations, grants, codes and tokens. It is package store's engine
// interface: values are opaque bytes (the server encodes them, records.go),
// and every key that derives from a secret (a token, a code, a client
// secret) is already a hash when it reaches the store, so a copied store
// yields nothing usable.
//
// The engines live in package store (a map for tests, and the durable
// file the default for real runs), and the replicas module adds one on
// PostgreSQL: none of them knows anything of OAuth.
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

// The names below are package store's engines under the names they had
// while they lived in this package, so that code written against those
// keeps building. New code uses package store directly.
type (
	// MemoryStore is store.MemoryStore.
	MemoryStore = store.MemoryStore
	// FileStore is store.FileStore.
	FileStore = store.FileStore
	// FileStoreOption is store.Option.
	FileStoreOption = store.Option
)

// ErrStoreInUse is store.ErrFileInUse: another FileStore has the file open.
var ErrStoreInUse = store.ErrFileInUse

// NewMemoryStore returns store.NewMemoryStore().
func NewMemoryStore() *MemoryStore { return store.NewMemoryStore() }

// OpenFileStore is store.OpenFileStore.
func OpenFileStore(path string, opts ...FileStoreOption) (*FileStore, error) {
	return store.OpenFileStore(path, opts...)
}

// WithFileStoreLogger is store.WithLogger.
func WithFileStoreLogger(l *slog.Logger) FileStoreOption { return store.WithLogger(l) }
