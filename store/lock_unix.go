//go:build unix

package store

// The file store's exclusive open on Unix-like systems (Linux, macOS, the
// BSDs): flock(2) on path+".lock", released by the kernel when the process
// dies, so a crash never leaves the store locked.

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// fileLockSupported reports whether OpenFileStore works on this system;
// see lock_other.go for where it does not.
const fileLockSupported = true

func fileLock(f *os.File, path string) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s is open in another FileStore (this or another process)", ErrFileInUse, path)
		}
		return fmt.Errorf("store: lock store %s: %w", path, err)
	}
	return nil
}

func fileUnlock(f *os.File) {
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
