package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fileTestOpen opens path with a clock, a captured log and the given
// adjustments to the configuration.
func fileTestOpen(t *testing.T, path string, now func() time.Time, log io.Writer, adjust ...Option) (*FileStore, error) {
	t.Helper()
	if log == nil {
		log = io.Discard
	}
	opts := []Option{
		WithLogger(slog.New(slog.NewTextHandler(log, nil))),
		func(c *config) {
			if now != nil {
				c.now = now
			}
		},
	}
	return OpenFileStore(path, append(opts, adjust...)...)
}

func fileTestMustOpen(t *testing.T, path string, adjust ...Option) *FileStore {
	t.Helper()
	s, err := fileTestOpen(t, path, nil, nil, adjust...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fileTestReopenQuietly closes s and opens path again, failing the test if
// the reopen logged anything (a repaired tail, a refused record): what a
// clean close left must open as it is. The new store closes with the test.
func fileTestReopenQuietly(t *testing.T, s *FileStore, path string) *FileStore {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	s, err := fileTestOpen(t, path, nil, &log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if log.Len() != 0 {
		t.Fatalf("reopen logged %q", log.String())
	}
	return s
}

func fileTestPut(t *testing.T, s Store, kind, key, value string) {
	t.Helper()
	if err := s.Put(context.Background(), kind, key, []byte(value), time.Time{}); err != nil {
		t.Fatalf("Put(%q, %q): %v", kind, key, err)
	}
}

func fileTestSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestFileStoreReopenSeesEverything(t *testing.T) {
	clock := newStoreTestClock()
	path := filepath.Join(t.TempDir(), "store")
	s, err := fileTestOpen(t, path, clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 200 {
		fileTestPut(t, s, "token", strconv.Itoa(i), strings.Repeat("v", i))
	}
	for i := 0; i < 200; i += 2 {
		if err := s.Delete(ctx, "token", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		err := s.Update(ctx, "grant", "g", func(cur []byte) ([]byte, time.Time, error) {
			return append(cur, 'x'), time.Time{}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "code", "short", []byte("c"), clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "code", "long", []byte("c"), clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	clock.Advance(30 * time.Minute)
	s, err = fileTestOpen(t, path, clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 200 {
		if i%2 == 0 {
			storeMustMiss(t, s, "token", strconv.Itoa(i))
		} else {
			storeMustGet(t, s, "token", strconv.Itoa(i), []byte(strings.Repeat("v", i)))
		}
	}
	storeMustGet(t, s, "grant", "g", []byte("xxxxx"))
	storeMustMiss(t, s, "code", "short")
	storeMustGet(t, s, "code", "long", []byte("c"))
	clock.Advance(30 * time.Minute)
	storeMustMiss(t, s, "code", "long")
}

// fileTestThreeRecords writes records a, b, c into a fresh file and returns
// its bytes and the offset where c's record starts.
func fileTestThreeRecords(t *testing.T) (data []byte, lastStart int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store")
	s := fileTestMustOpen(t, path)
	fileTestPut(t, s, "k", "a", "first value")
	fileTestPut(t, s, "k", "b", "second value")
	lastStart = s.size
	fileTestPut(t, s, "k", "c", "third value")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data, lastStart
}

// fileTestReopenAB opens data (written to a fresh file) and checks that a
// and b survived and c did not; it returns the log.
func fileTestReopenAB(t *testing.T, data []byte, wantSize int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	s, err := fileTestOpen(t, path, nil, &log)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	storeMustGet(t, s, "k", "a", []byte("first value"))
	storeMustGet(t, s, "k", "b", []byte("second value"))
	storeMustMiss(t, s, "k", "c")
	if got := fileTestSize(t, path); got != wantSize {
		t.Fatalf("after open the file is %d bytes, want %d (cut back to the last good record)", got, wantSize)
	}
	// The store goes on working and the next open is clean.
	fileTestPut(t, s, "k", "d", "fourth value")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var log2 bytes.Buffer
	s, err = fileTestOpen(t, path, nil, &log2)
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	defer s.Close()
	storeMustGet(t, s, "k", "d", []byte("fourth value"))
	storeMustGet(t, s, "k", "a", []byte("first value"))
	if log2.Len() != 0 {
		t.Fatalf("second open logged %q, want nothing", log2.String())
	}
	return log.String()
}

func TestFileStoreTornTail(t *testing.T) {
	data, lastStart := fileTestThreeRecords(t)
	for cut := lastStart; cut < int64(len(data)); cut++ {
		t.Run(fmt.Sprintf("cut at %d", cut), func(t *testing.T) {
			log := fileTestReopenAB(t, data[:cut], lastStart)
			if cut > lastStart && !strings.Contains(log, "torn last record") {
				t.Errorf("log %q does not report the torn record", log)
			}
		})
	}
	t.Run("zero-filled tail", func(t *testing.T) {
		// What some filesystems show after a crash that extended the file
		// but lost the data.
		zeroed := append(bytes.Clone(data[:lastStart]), make([]byte, 100)...)
		fileTestReopenAB(t, zeroed, lastStart)
	})
	t.Run("header half written, then zeros", func(t *testing.T) {
		bad := bytes.Clone(data)
		clear(bad[lastStart+5:])
		fileTestReopenAB(t, bad, lastStart)
	})
	t.Run("a long last record whose end was never written", func(t *testing.T) {
		// A crash after the file grew but before all its blocks were
		// written: a complete length, then zeros from a sector boundary.
		path := filepath.Join(t.TempDir(), "store")
		s := fileTestMustOpen(t, path)
		fileTestPut(t, s, "k", "a", "first value")
		fileTestPut(t, s, "k", "b", "second value")
		lastStart := s.size
		fileTestPut(t, s, "k", "c", strings.Repeat("x", 3000))
		s.Close()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		boundary := (lastStart + fileRecordHeader + 100 + fileSector - 1) / fileSector * fileSector
		clear(data[boundary:])
		log := fileTestReopenAB(t, data, lastStart)
		if !strings.Contains(log, "never written") {
			t.Errorf("log %q does not say why the record was dropped", log)
		}
	})
}

func TestFileStoreTornHeader(t *testing.T) {
	for n := range len(fileMagic) {
		path := filepath.Join(t.TempDir(), "store")
		if err := os.WriteFile(path, []byte(fileMagic[:n]), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := fileTestOpen(t, path, nil, nil)
		if err != nil {
			t.Fatalf("open of a %d-byte header: %v", n, err)
		}
		fileTestPut(t, s, "k", "a", "v")
		s.Close()
		s = fileTestMustOpen(t, path)
		storeMustGet(t, s, "k", "a", []byte("v"))
		s.Close()
	}
}

func TestFileStoreRefusesCorruption(t *testing.T) {
	data, lastStart := fileTestThreeRecords(t)
	second := int64(len(fileMagic)) + (lastStart-int64(len(fileMagic)))/2 // records a and b have equal size
	cases := []struct {
		name  string
		spoil func([]byte) []byte
		want  string
	}{
		{"bit flip in a middle record", func(b []byte) []byte { b[second+12] ^= 1; return b }, "checksum mismatch"},
		{"bit flip in the first record", func(b []byte) []byte { b[len(fileMagic)+9] ^= 1; return b }, "checksum mismatch"},
		// The last record is complete, so it may have been acknowledged: a
		// flipped bit in it is damage, not a crash (issue 11 item 15).
		{"bit flip in the last record", func(b []byte) []byte { b[len(b)-1] ^= 0x40; return b }, "checksum mismatch"},
		{"bit flip in the last record, zeros after it", func(b []byte) []byte {
			b = append(b, make([]byte, 50)...)
			b[len(b)-51] ^= 0x40
			return b
		}, "checksum mismatch"},
		{"last record zeroed short of a sector boundary", func(b []byte) []byte { clear(b[len(b)-4:]); return b }, "checksum mismatch"},
		{"wrong length in a middle record", func(b []byte) []byte { b[second] += 3; return b }, "corrupt record"},
		{"huge length in a middle record", func(b []byte) []byte { b[second+3] = 0x7f; return b }, "header checksum mismatch"},
		{"length past the end of the file in a middle record", func(b []byte) []byte {
			// Without the header checksum this would pass for a write cut
			// short, and replay would drop everything after it.
			binary.LittleEndian.PutUint32(b[second:], uint32(len(b)))
			return b
		}, "header checksum mismatch"},
		{"length out of range under a valid header checksum", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[second:], fileMaxPayload+1)
			binary.LittleEndian.PutUint32(b[second+8:], crc32.Checksum(b[second:second+8], fileCRC))
			return b
		}, "out of range"},
		{"zeroed header in a middle record", func(b []byte) []byte { clear(b[second : second+fileRecordHeader]); return b }, "header checksum mismatch"},
		{"not a store file", func(b []byte) []byte { return []byte("{\"json\": \"document\"}") }, "not a store file"},
		{"short file that is not a store file", func(b []byte) []byte { return []byte("xyz") }, "not a store file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store")
			spoilt := c.spoil(bytes.Clone(data))
			if err := os.WriteFile(path, spoilt, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := fileTestOpen(t, path, nil, nil)
			if err == nil {
				s.Close()
				t.Fatal("open succeeded, want an error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			// Nothing was thrown away, and the lock was released.
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, spoilt) {
				t.Fatal("a refused open changed the file")
			}
			if s, err := fileTestOpen(t, path, nil, nil); err == nil || errors.Is(err, ErrFileInUse) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("second open: %v, want the corruption error again", err)
			}
		})
	}
}

func TestFileStoreCompaction(t *testing.T) {
	clock := newStoreTestClock()
	path := filepath.Join(t.TempDir(), "store")
	floor := func(c *config) { c.compactFloor = 4096 }
	s, err := fileTestOpen(t, path, clock.Now, nil, floor)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	value := strings.Repeat("v", 100)
	if err := s.Put(ctx, "code", "expiring-key", []byte(value), clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	fileTestPut(t, s, "client", "kept", "client record")
	clock.Advance(time.Hour)
	// 2000 writes of ~130 bytes would be ~260 KB without compaction.
	// Compaction runs beside the writer, so a loaded machine may append a
	// few more records before it lands: after each write the file must
	// come back near the floor, not stay there at every instant.
	for i := range 2000 {
		fileTestPut(t, s, "token", "hot", value+strconv.Itoa(i))
		deadline := time.Now().Add(10 * time.Second)
		for size := fileTestSize(t, path); size > 3*4096; size = fileTestSize(t, path) {
			if time.Now().After(deadline) {
				t.Fatalf("after write %d the file stays at %d bytes, want compaction to bring it near the 4096-byte floor", i, size)
			}
			time.Sleep(time.Millisecond)
		}
	}
	storeMustGet(t, s, "token", "hot", []byte(value+"1999"))
	storeMustGet(t, s, "client", "kept", []byte("client record"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("expiring-key")) {
		t.Fatal("compaction kept an expired record")
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temp file left behind: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("compacted file mode %04o, want 0600", fi.Mode().Perm())
	}
	s = fileTestMustOpen(t, path)
	defer s.Close()
	storeMustGet(t, s, "token", "hot", []byte(value+"1999"))
	storeMustGet(t, s, "client", "kept", []byte("client record"))
}

// TestFileStoreCompactionFailure blocks the temp file's name with a
// directory: compaction fails, is logged, and the store goes on appending
// to its old file; once the name is free, compaction catches up.
func TestFileStoreCompactionFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	var log bytes.Buffer
	var logMu sync.Mutex
	s, err := fileTestOpen(t, path, nil, fileLockedWriter{&logMu, &log}, func(c *config) { c.compactFloor = 4096 })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.MkdirAll(filepath.Join(path+".tmp", "blocker"), 0o700); err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("v", 100)
	for i := range 1000 {
		fileTestPut(t, s, "token", "hot", value+strconv.Itoa(i))
	}
	logMu.Lock()
	logged := log.String()
	logMu.Unlock()
	if !strings.Contains(logged, "compaction failed") {
		t.Fatalf("log %q does not report the failed compaction", logged)
	}
	grown := fileTestSize(t, path)
	if grown < 50_000 {
		t.Fatalf("file is %d bytes; with compaction blocked it should have grown", grown)
	}
	storeMustGet(t, s, "token", "hot", []byte(value+"999"))

	if err := os.RemoveAll(path + ".tmp"); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		fileTestPut(t, s, "token", "hot", value+"again"+strconv.Itoa(i))
	}
	if now := fileTestSize(t, path); now >= grown {
		t.Fatalf("file is %d bytes, was %d: compaction did not resume", now, grown)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = fileTestMustOpen(t, path)
	defer s.Close()
	storeMustGet(t, s, "token", "hot", []byte(value+"again999"))
}

// fileLockedWriter lets a test read a log the flusher writes to.
type fileLockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l fileLockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestFileStoreCompactsOnOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	never := func(c *config) { c.compactFloor = 1 << 40 }
	s := fileTestMustOpen(t, path, never)
	for i := range 300 {
		fileTestPut(t, s, "token", "k"+strconv.Itoa(i%10), strconv.Itoa(i))
	}
	if err := s.Delete(context.Background(), "token", "k0"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := fileTestSize(t, path)
	// A crash during compaction leaves a temp file; open must ignore it.
	if err := os.WriteFile(path+".tmp", []byte("half a compaction"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = fileTestMustOpen(t, path)
	defer s.Close()
	after := fileTestSize(t, path)
	if want := int64(len(fileMagic)) + s.live; after != want || after >= before/10 {
		t.Fatalf("open left %d bytes (was %d), want exactly the %d live bytes", after, before, want)
	}
	storeMustMiss(t, s, "token", "k0")
	for i := 1; i < 10; i++ {
		storeMustGet(t, s, "token", "k"+strconv.Itoa(i), []byte(strconv.Itoa(290+i)))
	}
	if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file still there: %v", err)
	}
}

func TestFileStoreMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	s := fileTestMustOpen(t, path)
	fileTestPut(t, s, "k", "k", "v")
	s.Close()
	for _, p := range []string{path, path + ".lock"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	// A file someone loosened is tightened on open, and says so.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	s, err := fileTestOpen(t, path, nil, &log)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after open %04o, want 0600", fi.Mode().Perm())
	}
	if !strings.Contains(log.String(), "0644") {
		t.Errorf("log %q does not report the loose mode", log.String())
	}
}

func TestFileStoreOneOpenAtATime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	s := fileTestMustOpen(t, path)
	if s2, err := fileTestOpen(t, path, nil, nil); !errors.Is(err, ErrFileInUse) {
		if err == nil {
			s2.Close()
		}
		t.Fatalf("second open: %v, want ErrFileInUse", err)
	}
	s.Close()
	s = fileTestMustOpen(t, path)
	s.Close()
}

func TestFileStoreOpenErrors(t *testing.T) {
	if _, err := OpenFileStore(filepath.Join(t.TempDir(), "missing-dir", "store")); err == nil {
		t.Fatal("open in a missing directory succeeded")
	}
}

// fileFailing wraps the log file and fails writes (after writing half of
// the bytes, as a full disk does) or fsyncs while its switches are on.
type fileFailing struct {
	File
	failWrite, failSync, failTruncate atomic.Bool
}

var errFileTestDisk = syscall.ENOSPC

func (f *fileFailing) WriteAt(p []byte, off int64) (int, error) {
	if f.failWrite.Load() {
		n, _ := f.File.WriteAt(p[:len(p)/2], off)
		return n, errFileTestDisk
	}
	return f.File.WriteAt(p, off)
}

func (f *fileFailing) Sync() error {
	if f.failSync.Load() {
		return syscall.EIO
	}
	return f.File.Sync()
}

func (f *fileFailing) Truncate(n int64) error {
	if f.failTruncate.Load() {
		return syscall.EIO
	}
	return f.File.Truncate(n)
}

func TestFileStoreDiskFailure(t *testing.T) {
	for _, mode := range []string{"write", "sync", "write and truncate"} {
		t.Run(mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store")
			var ff *fileFailing
			wrap := func(c *config) {
				c.wrap = func(f File) File { ff = &fileFailing{File: f}; return ff }
			}
			s := fileTestMustOpen(t, path, wrap)
			ctx := context.Background()
			fileTestPut(t, s, "k", "a", "1")
			fileTestPut(t, s, "counter", "n", "5")
			switch mode {
			case "write":
				ff.failWrite.Store(true)
			case "sync":
				ff.failSync.Store(true)
			case "write and truncate":
				ff.failWrite.Store(true)
				ff.failTruncate.Store(true)
			}

			if err := s.Put(ctx, "k", "a", []byte("2"), time.Time{}); err == nil {
				t.Fatal("Put on a failing disk succeeded")
			} else if !strings.Contains(err.Error(), "nothing was stored") {
				t.Errorf("error %q does not say the write was lost", err)
			}
			// Larger than all later writes together, so that if its half-written
			// bytes were not cut off they would sit after good records.
			if err := s.Put(ctx, "k", "b", bytes.Repeat([]byte("x"), 10000), time.Time{}); err == nil {
				t.Fatal("Put of a new key on a failing disk succeeded")
			}
			if err := s.Delete(ctx, "k", "a"); err == nil {
				t.Fatal("Delete on a failing disk succeeded")
			}
			err := s.Update(ctx, "counter", "n", func(cur []byte) ([]byte, time.Time, error) {
				return []byte("6"), time.Time{}, nil
			})
			if err == nil {
				t.Fatal("Update on a failing disk succeeded")
			}
			// Still readable, and nothing changed.
			storeMustGet(t, s, "k", "a", []byte("1"))
			storeMustMiss(t, s, "k", "b")
			storeMustGet(t, s, "counter", "n", []byte("5"))

			// The disk recovers; writes work again.
			ff.failWrite.Store(false)
			ff.failSync.Store(false)
			ff.failTruncate.Store(false)
			fileTestPut(t, s, "k", "c", "3")
			err = s.Update(ctx, "counter", "n", func(cur []byte) ([]byte, time.Time, error) {
				if string(cur) != "5" {
					t.Errorf("Update after recovery saw %q, want 5", cur)
				}
				return []byte("6"), time.Time{}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// The half-written batches left nothing the next open trips on.
			s, err = fileTestOpen(t, path, nil, nil)
			if err != nil {
				t.Fatalf("reopen after disk errors: %v", err)
			}
			defer s.Close()
			storeMustGet(t, s, "k", "a", []byte("1"))
			storeMustMiss(t, s, "k", "b")
			storeMustGet(t, s, "k", "c", []byte("3"))
			storeMustGet(t, s, "counter", "n", []byte("6"))
		})
	}
}

// TestFileStoreCloseWhileWriting closes the store under concurrent writers:
// each write either succeeded and is in the file, or failed with
// ErrClosed.
func TestFileStoreCloseWhileWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	s := fileTestMustOpen(t, path)
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				err := s.Put(context.Background(), "k", key, []byte(key), time.Time{})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked = append(acked, key)
				mu.Unlock()
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s = fileTestMustOpen(t, path)
	defer s.Close()
	if len(acked) == 0 {
		t.Fatal("no write finished before Close")
	}
	for _, key := range acked {
		storeMustGet(t, s, "k", key, []byte(key))
	}
}

func BenchmarkFileStoreGet(b *testing.B) {
	s, err := OpenFileStore(filepath.Join(b.TempDir(), "store"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storeBenchGet(b, s)
}

// BenchmarkFileStorePut writes from parallel writers (GOMAXPROCS times
// -cpu, 64 per CPU here) to show group commit sharing fsyncs.
func BenchmarkFileStorePut(b *testing.B) {
	s, err := OpenFileStore(filepath.Join(b.TempDir(), "store"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetParallelism(64)
	storeBenchPut(b, s)
}

// BenchmarkFileStorePutSerial is one writer: one fsync per Put.
func BenchmarkFileStorePutSerial(b *testing.B) {
	s, err := OpenFileStore(filepath.Join(b.TempDir(), "store"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	value := bytes.Repeat([]byte("v"), 200)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Put(ctx, "token", strconv.Itoa(i), value, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}

// The kill test: a child process (this test binary, re-executed) writes
// through a FileStore and prints each write after it is acknowledged; the
// parent kills it with SIGKILL at a random moment, reopens the file and
// checks that everything acknowledged is there, intact.

const (
	fileCrashPathEnv  = "OAUTH_STORE_CRASH_PATH"
	fileCrashRoundEnv = "OAUTH_STORE_CRASH_ROUND"
)

// fileCrashValue is the value the child writes under key: a length that
// varies from key to key, bytes derived from the key, so a record swapped or
// torn shows.
func fileCrashValue(key string) []byte {
	var h uint32 = 2166136261
	for i := range len(key) {
		h = (h ^ uint32(key[i])) * 16777619
	}
	v := make([]byte, 16+h%1000)
	for i := range v {
		v[i] = key[i%len(key)] ^ byte(i)
	}
	return v
}

// TestFileStoreChildWriter is the child process of TestFileStoreSurvivesKill;
// run by itself it does nothing.
func TestFileStoreChildWriter(t *testing.T) {
	path := os.Getenv(fileCrashPathEnv)
	if path == "" {
		t.Skip("the child process of TestFileStoreSurvivesKill")
	}
	round := os.Getenv(fileCrashRoundEnv)
	// A low floor, so that compactions happen, and get killed, too.
	s, err := OpenFileStore(path, func(c *config) { c.compactFloor = 8 << 10 })
	if err != nil {
		fmt.Printf("open: %v\n", err)
		os.Exit(2)
	}
	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		fmt.Printf(format+"\n", args...) // one write(2) per line
		out.Unlock()
	}
	fail := func(err error) {
		say("error: %v", err)
		os.Exit(3)
	}
	ctx := context.Background()
	say("ready")
	for w := range 4 {
		go func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("r%s-w%d-%d", round, w, i)
				if err := s.Put(ctx, "crash", key, fileCrashValue(key), time.Time{}); err != nil {
					fail(err)
				}
				say("put %s", key)
				// Most keys are deleted again, so dead records pile up
				// and compactions run (and are killed) too.
				if i%10 != 0 {
					old := key
					say("deleting %s", old)
					if err := s.Delete(ctx, "crash", old); err != nil {
						fail(err)
					}
					say("del %s", old)
				}
			}
		}()
	}
	go func() {
		for {
			var n int
			err := s.Update(ctx, "crash", "counter", func(cur []byte) ([]byte, time.Time, error) {
				if cur != nil {
					var err error
					if n, err = strconv.Atoi(string(cur)); err != nil {
						return nil, time.Time{}, err
					}
				}
				n++
				return []byte(strconv.Itoa(n)), time.Time{}, nil
			})
			if err != nil {
				fail(err)
			}
			say("count %d", n)
		}
	}()
	select {} // until killed
}

func TestFileStoreSurvivesKill(t *testing.T) {
	if os.Getenv(fileCrashPathEnv) != "" {
		t.Skip("inside the child")
	}
	path := filepath.Join(t.TempDir(), "store")
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	// The state each acknowledged write left a key in. A key whose deletion
	// began but was not acknowledged may be either.
	const (
		fileCrashPresent = iota
		fileCrashMaybe
		fileCrashGone
	)
	state := map[string]int{}
	counter := 0 // the highest acknowledged counter value
	totalAcks := 0
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFileStoreChildWriter$")
		cmd.Env = append(os.Environ(), fileCrashPathEnv+"="+path, fileCrashRoundEnv+"="+strconv.Itoa(round))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		if !sc.Scan() || sc.Text() != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child did not start: %q; stderr: %s", round, sc.Text(), stderr.String())
		}
		lines := make(chan []string, 1)
		go func() {
			var ls []string
			for sc.Scan() {
				ls = append(ls, sc.Text())
			}
			lines <- ls
		}()
		time.Sleep(time.Duration(5+rng.IntN(46)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		acks := <-lines
		cmd.Wait()

		for _, l := range acks {
			verb, arg, _ := strings.Cut(l, " ")
			switch verb {
			case "put":
				state[arg] = fileCrashPresent
			case "deleting":
				state[arg] = fileCrashMaybe
			case "del":
				state[arg] = fileCrashGone
			case "count":
				n, err := strconv.Atoi(arg)
				if err != nil || n <= counter {
					t.Fatalf("round %d: bad counter line %q after %d", round, l, counter)
				}
				counter = n
			default:
				t.Fatalf("round %d: child said %q; stderr: %s", round, l, stderr.String())
			}
		}
		totalAcks += len(acks)

		var log bytes.Buffer
		s, err := fileTestOpen(t, path, nil, &log)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		for key, st := range state {
			switch st {
			case fileCrashPresent:
				storeMustGet(t, s, "crash", key, fileCrashValue(key))
			case fileCrashGone:
				storeMustMiss(t, s, "crash", key)
			case fileCrashMaybe:
				// Settle it, so later rounds know.
				if _, err := s.Get(context.Background(), "crash", key); err == nil {
					state[key] = fileCrashPresent
				} else {
					state[key] = fileCrashGone
				}
			}
		}
		// At most the one Update in flight at the kill went further.
		got, err := s.Get(context.Background(), "crash", "counter")
		if counter > 0 || err == nil {
			n, _ := strconv.Atoi(string(got))
			if err != nil || n < counter || n > counter+1 {
				t.Fatalf("round %d: counter is %q, %v; acknowledged %d", round, got, err, counter)
			}
			counter = n // the next child counts on from what is stored
		}
		// Writes done but not acknowledged may be there; nothing else may.
		for k, e := range s.m {
			if k.kind != "crash" || k.key == "counter" {
				continue
			}
			if !bytes.Equal(e.value, fileCrashValue(k.key)) {
				t.Fatalf("round %d: record %q holds bytes the child never wrote", round, k.key)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if totalAcks == 0 {
		t.Fatal("the child never acknowledged a write")
	}
	t.Logf("%d acknowledged writes over 20 kills, %d keys tracked, file %d bytes", totalAcks, len(state), fileTestSize(t, path))
}

// FuzzFileStoreReplay feeds replay arbitrary bytes after the magic: it must
// never panic, and whatever it accepts must be a prefix of whole records
// that replays to the same map again.
func FuzzFileStoreReplay(f *testing.F) {
	var valid []byte
	valid = fileAppendRecord(valid, storeKey{"client", "c1"}, []byte(`{"name":"x"}`), time.Time{}, false)
	valid = fileAppendRecord(valid, storeKey{"code", "k"}, []byte("v"), time.Unix(1e9, 0), false)
	valid = fileAppendRecord(valid, storeKey{"client", "c1"}, nil, time.Time{}, true)
	packed := storeKey{hexKeyMark + "access", string(make([]byte, 32))}
	valid = fileAppendRecord(valid, packed, []byte("a packed key"), time.Time{}, false)
	valid = fileAppendRecord(valid, packed, nil, time.Time{}, true)
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add([]byte{})
	f.Add(make([]byte, 40))
	newStore := func() *FileStore {
		return &FileStore{
			path:     "fuzz",
			m:        make(map[storeKey]memEntry),
			hexKinds: kindTable{},
			counts:   storeCounts{},
			cfg:      config{now: func() time.Time { return time.Unix(0, 0) }, logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		}
	}
	f.Fuzz(func(t *testing.T, records []byte) {
		data := append([]byte(fileMagic), records...)
		s := newStore()
		good, err := s.fileReplay(bytes.NewReader(records), int64(len(data)))
		if err != nil {
			return
		}
		if good < int64(len(fileMagic)) || good > int64(len(data)) {
			t.Fatalf("good prefix %d outside [%d, %d]", good, len(fileMagic), len(data))
		}
		again := newStore()
		good2, err := again.fileReplay(bytes.NewReader(data[len(fileMagic):good]), good)
		if err != nil || good2 != good {
			t.Fatalf("replaying the accepted prefix: %d, %v; want %d, nil", good2, err, good)
		}
		if len(again.m) != len(s.m) || again.live != s.live {
			t.Fatalf("the accepted prefix replays to %d records (%d bytes), first time %d (%d bytes)", len(again.m), again.live, len(s.m), s.live)
		}
	})
}

// TestFileStoreExpiredLeaveOnTheirOwn: records that expire leave memory and
// then the file with no write to prompt it, so an idle server's store
// shrinks back to what is live (issue 18 item 4).
func TestFileStoreExpiredLeaveOnTheirOwn(t *testing.T) {
	clock := newStoreTestClock()
	path := filepath.Join(t.TempDir(), "store")
	fast := func(c *config) { c.sweepEvery = 10 * time.Millisecond; c.compactFloor = 4096 }
	s, err := fileTestOpen(t, path, clock.Now, nil, fast)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	fileTestPut(t, s, "client", "kept", "a client that stays")
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Go(func() {
			for i := range 50 {
				key := fmt.Sprintf("%d-%d", w, i)
				for _, kind := range []string{"grant", "access", "refresh"} {
					if err := s.Put(ctx, kind, key, bytes.Repeat([]byte("v"), 200), clock.Now().Add(time.Hour)); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	full := fileTestSize(t, path)
	clock.Advance(2 * time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _ := s.Count(ctx, "grant")
		size := fileTestSize(t, path)
		if n == 0 && size < full/20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle store still holds %d expired grants in memory and %d bytes on disk (was %d)", n, size, full)
		}
		time.Sleep(5 * time.Millisecond)
	}
	storeMustGet(t, s, "client", "kept", []byte("a client that stays"))
	s.mu.RLock()
	left := len(s.m)
	s.mu.RUnlock()
	if left != 1 {
		t.Fatalf("memory holds %d records, want the 1 that has not expired", left)
	}
}

// TestFileStoreCompactionBesideWrites: a compaction runs beside the
// writers (a write completes while the compactor is held in the middle),
// and every write acknowledged before, during and after it is in the
// compacted file, in the order it was made, after a reopen.
func TestFileStoreCompactionBesideWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	held := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	hold := func(c *config) {
		c.compactFloor = 1 << 40 // only when asked
		c.midCompact = func() {
			once.Do(func() {
				close(held)
				<-release
			})
		}
	}
	s := fileTestMustOpen(t, path, hold)
	ctx := context.Background()
	for i := range 2000 {
		fileTestPut(t, s, "k", strconv.Itoa(i), "before")
	}
	compacted := make(chan struct{})
	go func() { s.Compact(); close(compacted) }()
	<-held
	// The compactor has written the map and waits: writes go on.
	for i := range 100 {
		fileTestPut(t, s, "k", strconv.Itoa(i), "during")
	}
	if err := s.Delete(ctx, "k", "100"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-compacted:
		t.Fatal("the compaction finished while held")
	default:
	}
	close(release)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				fileTestPut(t, s, "k", strconv.Itoa(200+w*50+i), "while it finishes")
			}
		})
	}
	<-compacted
	wg.Wait()
	fileTestPut(t, s, "k", "0", "after")
	s = fileTestReopenQuietly(t, s, path)
	storeMustGet(t, s, "k", "0", []byte("after"))
	for i := 1; i < 100; i++ {
		storeMustGet(t, s, "k", strconv.Itoa(i), []byte("during"))
	}
	storeMustMiss(t, s, "k", "100")
	for i := 200; i < 400; i++ {
		storeMustGet(t, s, "k", strconv.Itoa(i), []byte("while it finishes"))
	}
	for i := 400; i < 2000; i++ {
		storeMustGet(t, s, "k", strconv.Itoa(i), []byte("before"))
	}
}

// fileCompactSteps are compaction's I/O steps, in order, as the
// compactStep hook names them.
var fileCompactSteps = []string{"create", "write map", "sync part", "sync", "copy tail", "copy last tail", "sync last", "rename", "sync dir", "close"}

// TestFileStoreCompactionNeverBlocks holds a compaction at each of its I/O
// steps in turn (the new file's creation, writing the map, its periodic
// fsync, the tail copy, the final fsync, the rename, the directory fsync and
// the old file's close) and checks that a Put, an Update, a Delete and a Get
// all complete while it is held there: no reader or writer waits for any of
// compaction's I/O, whatever the store's size. The wait below is a deadlock
// guard, not a speed target. Every write is then found after a reopen.
func TestFileStoreCompactionNeverBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	var target atomic.Value // the step to hold at
	target.Store("")
	reached := make(chan string)
	release := make(chan struct{})
	var s *FileStore
	hook := func(c *config) {
		c.compactFloor = 1 << 40 // only when asked
		c.compactStep = func(step string) {
			if step == "sync" && target.Load() == "copy tail" {
				// A tail too long to leave to the mirror, so that the
				// compactor copies it first.
				if err := s.Put(context.Background(), "k", "long tail", make([]byte, 2*fileMirrorTail), time.Time{}); err != nil {
					t.Error(err)
				}
			}
			if target.CompareAndSwap(step, "") {
				reached <- step
				<-release
			}
		}
	}
	s = fileTestMustOpen(t, path, hook)
	ctx := context.Background()
	// More than fileSyncEvery of live data, so the map is fsynced part way.
	big := bytes.Repeat([]byte("b"), 64<<10)
	// Each round deletes one; the last is read throughout.
	n := fileSyncEvery/len(big) + len(fileCompactSteps) + 1
	last := strconv.Itoa(n - 1)
	for i := range n {
		if err := s.Put(ctx, "big", strconv.Itoa(i), big, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	const guard = 20 * time.Second
	for round, step := range fileCompactSteps {
		target.Store(step)
		compacted := make(chan struct{})
		go func() { s.Compact(); close(compacted) }()
		select {
		case got := <-reached:
			if got != step {
				t.Fatalf("held at %q, want %q", got, step)
			}
		case <-time.After(guard):
			t.Fatalf("compaction never reached step %q", step)
		}
		done := make(chan error, 1)
		go func() {
			key := "during " + step
			if err := s.Put(ctx, "k", key, []byte(step), time.Time{}); err != nil {
				done <- err
				return
			}
			if err := s.Update(ctx, "n", "rounds", func([]byte) ([]byte, time.Time, error) {
				return []byte(strconv.Itoa(round)), time.Time{}, nil
			}); err != nil {
				done <- err
				return
			}
			if err := s.Delete(ctx, "big", strconv.Itoa(round)); err != nil {
				done <- err
				return
			}
			v, err := s.Get(ctx, "k", key)
			if err == nil && string(v) != step {
				err = fmt.Errorf("Get returned %q, want %q", v, step)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("held at %q: %v", step, err)
			}
		case <-time.After(guard):
			close(release)
			t.Fatalf("a write or read waited for compaction's %q step", step)
		}
		// A read on its own too, in case the writes above hid it.
		read := make(chan error, 1)
		go func() { _, err := s.Get(ctx, "big", last); read <- err }()
		select {
		case err := <-read:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(guard):
			close(release)
			t.Fatalf("a read waited for compaction's %q step", step)
		}
		release <- struct{}{}
		<-compacted
	}
	s = fileTestReopenQuietly(t, s, path)
	storeMustGet(t, s, "k", "long tail", make([]byte, 2*fileMirrorTail))
	for round, step := range fileCompactSteps {
		storeMustGet(t, s, "k", "during "+step, []byte(step))
		storeMustMiss(t, s, "big", strconv.Itoa(round))
	}
	storeMustGet(t, s, "n", "rounds", []byte(strconv.Itoa(len(fileCompactSteps)-1)))
	storeMustGet(t, s, "big", last, big)
}

// TestFileStoreMirrorFailure: while a compaction mirrors writes into its new
// file, a write that fails on either file fails, is in neither (whichever
// becomes the log), and writes work again once the disk recovers.
func TestFileStoreMirrorFailure(t *testing.T) {
	for _, failing := range []string{"log", "new file"} {
		t.Run(failing, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store")
			var mu sync.Mutex
			var files []*fileFailing // the log, then the compaction's file
			held := make(chan struct{})
			release := make(chan struct{})
			var once sync.Once
			s := fileTestMustOpen(t, path, func(c *config) {
				c.compactFloor = 1 << 40
				c.wrap = func(f File) File {
					mu.Lock()
					defer mu.Unlock()
					ff := &fileFailing{File: f}
					files = append(files, ff)
					return ff
				}
				c.compactStep = func(step string) {
					if step == "copy last tail" {
						once.Do(func() { close(held); <-release })
					}
				}
			})
			ctx := context.Background()
			for i := range 200 {
				fileTestPut(t, s, "k", strconv.Itoa(i), "before")
			}
			compacted := make(chan struct{})
			go func() { s.Compact(); close(compacted) }()
			<-held
			mu.Lock()
			if len(files) != 2 {
				t.Fatalf("%d files wrapped, want the log and the compaction's", len(files))
			}
			bad := files[0]
			if failing == "new file" {
				bad = files[1]
			}
			mu.Unlock()
			fileTestPut(t, s, "k", "0", "mirrored")
			bad.failWrite.Store(true)
			if err := s.Put(ctx, "k", "lost", bytes.Repeat([]byte("x"), 5000), time.Time{}); err == nil {
				t.Fatal("a Put that failed on one file succeeded")
			}
			bad.failWrite.Store(false)
			storeMustMiss(t, s, "k", "lost")
			fileTestPut(t, s, "k", "1", "after the failure")
			close(release)
			<-compacted
			fileTestPut(t, s, "k", "2", "after the compaction")
			s = fileTestReopenQuietly(t, s, path)
			storeMustMiss(t, s, "k", "lost")
			storeMustGet(t, s, "k", "0", []byte("mirrored"))
			storeMustGet(t, s, "k", "1", []byte("after the failure"))
			storeMustGet(t, s, "k", "2", []byte("after the compaction"))
			for i := 3; i < 200; i++ {
				storeMustGet(t, s, "k", strconv.Itoa(i), []byte("before"))
			}
		})
	}
}

// TestFileStoreRangeStatsCompact: Range walks every live record once (and
// only live ones), in chunks that let fn write to the store, and stops when
// fn says so; Stats adds up to exactly what a compacted log holds; Compact
// leaves only live records; all three refuse a closed store.
func TestFileStoreRangeStatsCompact(t *testing.T) {
	clock := newStoreTestClock()
	path := filepath.Join(t.TempDir(), "store")
	s, err := fileTestOpen(t, path, clock.Now, nil, func(c *config) { c.compactFloor = 1 << 40 })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := map[string]string{}
	for i := range 3 * fileChunk {
		kind := []string{"grant", "access", "refresh"}[i%3]
		key, value := strconv.Itoa(i), strings.Repeat("v", i%50)
		fileTestPut(t, s, kind, key, value)
		want[kind+"/"+key] = value
	}
	for i := range 10 {
		if err := s.Put(ctx, "code", strconv.Itoa(i), []byte("soon gone"), clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "grant", "0"); err != nil {
		t.Fatal(err)
	}
	delete(want, "grant/0")

	// Stats against the compacted file, while every record is live.
	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	stats, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	var records int
	var file int64
	for _, v := range stats {
		records += v.Records
		file += v.FileBytes
	}
	if records != len(want)+10 || stats["code"].Records != 10 || stats["code"].ValueBytes != 10*int64(len("soon gone")) {
		t.Fatalf("Stats counts %d records (codes %+v), want %d", records, stats["code"], len(want)+10)
	}
	if size := fileTestSize(t, path); size != int64(len(fileMagic))+file {
		t.Fatalf("the compacted file is %d bytes, Stats says its records take %d (+%d magic)", size, file, len(fileMagic))
	}

	clock.Advance(time.Hour) // the codes expire
	got := map[string]string{}
	written := 0
	err = s.Range(func(kind, key string, value []byte, expires time.Time) bool {
		if _, dup := got[kind+"/"+key]; dup {
			t.Errorf("Range gave %s/%s twice", kind, key)
		}
		got[kind+"/"+key] = string(value)
		if written < 3 { // fn may write: Range holds no lock while it runs
			written++
			fileTestPut(t, s, "other", strconv.Itoa(written), "during Range")
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range got {
		if strings.HasPrefix(k, "other/") {
			delete(got, k) // written during the walk: may or may not be seen
		}
	}
	if len(got) != len(want) {
		t.Fatalf("Range gave %d records, want the %d live ones", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("Range gave %s = %q, want %q", k, got[k], v)
		}
	}
	calls := 0
	if err := s.Range(func(string, string, []byte, time.Time) bool { calls++; return false }); err != nil || calls != 1 {
		t.Fatalf("Range stopped after %d calls (%v), want 1", calls, err)
	}

	if err := s.Compact(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("soon gone")) {
		t.Fatal("Compact kept the expired codes")
	}
	s.Close()
	if err := s.Compact(); !errors.Is(err, ErrClosed) {
		t.Errorf("Compact after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Stats(); !errors.Is(err, ErrClosed) {
		t.Errorf("Stats after Close: %v, want ErrClosed", err)
	}
	if err := s.Range(func(string, string, []byte, time.Time) bool { return true }); !errors.Is(err, ErrClosed) {
		t.Errorf("Range after Close: %v, want ErrClosed", err)
	}
}

// TestFileStorePacksHexKeys: a log written before keys were packed (64 hex
// digits under ops 1 and 2) opens, reads the same, is held packed in
// memory (32 bytes a key) and is rewritten packed on open, 32 bytes less a
// record; Range gives the keys back as written.
func TestFileStorePacksHexKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	old := []byte(fileMagic)
	want := map[string]string{}
	for i := range 100 {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		key := hex.EncodeToString(sum[:])
		want[key] = "token " + strconv.Itoa(i)
		// An unmarked storeKey holding the digits: the old format, op 1.
		old = fileAppendRecord(old, storeKey{"access", key}, []byte(want[key]), time.Time{}, false)
	}
	gone := hex.EncodeToString(make([]byte, 32))
	old = fileAppendRecord(old, storeKey{"access", gone}, []byte("deleted"), time.Time{}, false)
	old = fileAppendRecord(old, storeKey{"access", gone}, nil, time.Time{}, true)
	old = fileAppendRecord(old, storeKey{"client", "mcp_client"}, []byte("not hex"), time.Time{}, false)
	if op := old[len(fileMagic)+fileRecordHeader]; op != fileOpPut {
		t.Fatalf("the old-format log was written with op %d", op)
	}
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	s, err := fileTestOpen(t, path, nil, &log)
	if err != nil {
		t.Fatal(err)
	}
	check := func(s *FileStore) {
		t.Helper()
		for key, v := range want {
			storeMustGet(t, s, "access", key, []byte(v))
		}
		storeMustMiss(t, s, "access", gone)
		storeMustGet(t, s, "client", "mcp_client", []byte("not hex"))
		s.mu.RLock()
		for k := range s.m {
			if k.plainKind() == "access" && (!k.packed() || len(k.key) != 32) {
				t.Errorf("an access key is held in %d bytes, packed %v", len(k.key), k.packed())
			}
		}
		s.mu.RUnlock()
		got := map[string]string{}
		s.Range(func(kind, key string, value []byte, _ time.Time) bool {
			if kind == "access" {
				got[key] = string(value)
			}
			return true
		})
		if len(got) != len(want) {
			t.Errorf("Range gave %d access records, want %d", len(got), len(want))
		}
		for key, v := range want {
			if got[key] != v {
				t.Errorf("Range gave %s = %q, want %q", key, got[key], v)
			}
		}
	}
	check(s)
	s.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// 100 keys 32 bytes shorter, and the deleted record gone.
	if len(raw) > len(old)-100*32-100 {
		t.Fatalf("the log is %d bytes after open, was %d: not rewritten with packed keys", len(raw), len(old))
	}
	for key := range want {
		if bytes.Contains(raw, []byte(key)) {
			t.Fatalf("the rewritten log still holds the digits of %s", key)
		}
	}
	s, err = fileTestOpen(t, path, nil, &log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check(s)
	if log.Len() != 0 {
		t.Errorf("opening logged %q", log.String())
	}
}
