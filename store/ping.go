package store

// Store health, for a readiness check (the product's /readyz): a store that
// cannot serve makes the process unready, so a load balancer sends its
// requests elsewhere.

import (
	"context"
	"fmt"
	"os"
)

// Ping reports whether the memory store can serve: it can unless closed.
func (s *MemoryStore) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	return nil
}

// Ping reports whether the file store can serve: it is open and its file
// is still where it was opened (a data directory unmounted or deleted under
// a running process fails here, before a write does).
func (s *FileStore) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if _, err := os.Stat(s.path); err != nil {
		return fmt.Errorf("store: its file: %w", err)
	}
	return nil
}
