package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A store answers Ping while it can serve, and says why not once it cannot:
// closed, or (the file store) its file gone from under it.
func TestStorePing(t *testing.T) {
	ctx := context.Background()
	mem := NewMemoryStore()
	if err := mem.Ping(ctx); err != nil {
		t.Fatalf("memory store, open: %v", err)
	}
	mem.Close()
	if err := mem.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("memory store, closed: %v, want ErrClosed", err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "oauth.log")
	fs, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Ping(ctx); err != nil {
		t.Fatalf("file store, open: %v", err)
	}
	if err := os.Rename(path, path+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := fs.Ping(ctx); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file store, file moved away: %v, want a not-exist error", err)
	}
	if err := os.Rename(path+".moved", path); err != nil {
		t.Fatal(err)
	}
	if err := fs.Ping(ctx); err != nil {
		t.Fatalf("file store, file back: %v", err)
	}
	fs.Close()
	if err := fs.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("file store, closed: %v, want ErrClosed", err)
	}
}
