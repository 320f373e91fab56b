//go:build !unix

package store

// Where the file store does not run: Windows, Plan 9, js and wasip1. It
// needs three things these systems lack or give differently: flock(2), so
// that two processes never append to one log; rename(2) over a file that is
// still open, for compaction; and fsync of a directory, so that the rename
// survives a power cut. The package builds there (MemoryStore works), and
// OpenFileStore returns ErrFileUnsupported saying so.

import (
	"fmt"
	"os"
	"runtime"
)

const fileLockSupported = false

func fileLock(_ *os.File, path string) error {
	return fmt.Errorf("%w: cannot open %s on %s", ErrFileUnsupported, path, runtime.GOOS)
}

func fileUnlock(*os.File) {}
