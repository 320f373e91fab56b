package oauth

// This file holds FileStore, the durable Store: an in-memory map that mirrors
// an append-only log file, so reads never touch the disk and every
// acknowledged write has been fsynced.
//
// # File format
//
// The file starts with the 8-byte magic "oauthkv1", followed by records:
//
//	offset 0  uint32 little-endian  n, the payload length (1 .. fileMaxPayload)
//	offset 4  uint32 little-endian  CRC-32C (Castagnoli) of the payload
//	offset 8  n bytes               payload
//
// and the payload is
//
//	byte     op: 1 put, 2 delete
//	uvarint  len(kind), then kind
//	uvarint  len(key), then key
//	put only:
//	varint   expiry, Unix nanoseconds (0: never; clamped to 1 .. MaxInt64)
//	uvarint  len(value), then value
//
// Replaying the records in order rebuilds the map; a later record for the
// same (kind, key) replaces an earlier one.
//
// # Crashes
//
// A write appends one batch of records and fsyncs before any writer in the
// batch is told it succeeded (group commit: writers that arrive while a batch
// is being written form the next batch and share its fsync). A process
// killed mid-write leaves at most a torn last record: cut short, with a bad
// checksum, or followed only by zeros. On open such a tail is logged, cut off
// and forgotten: it was never acknowledged. A bad record with good records
// after it is not a crash artefact, so it stops the open with an error rather
// than silently dropping data.
//
// # Compaction
//
// Overwrites, deletions and expiries leave dead records behind. When the
// file grows past twice the live data plus fileCompactFloor (and on open, if
// it holds any dead record), the live, unexpired records are written to
// path+".tmp", fsynced, renamed over the file and the directory is fsynced,
// so a crash at any point leaves either the old file or the new one whole.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

const (
	fileMagic        = "oauthkv1"
	fileOpPut        = 1
	fileOpDelete     = 2
	fileRecordHeader = 8
	// fileMaxPayload bounds a record's length field: the largest payload
	// the size limits allow. A larger length can only be corruption.
	fileMaxPayload = 1 + 3*binary.MaxVarintLen64 + binary.MaxVarintLen64 +
		MaxStoreKindLen + MaxStoreKeyLen + MaxStoreValueLen
	// fileCompactFloor keeps a small store from compacting on every write.
	fileCompactFloor = 1 << 20
)

var fileCRC = crc32.MakeTable(crc32.Castagnoli)

// ErrStoreInUse is returned by OpenFileStore when another FileStore, in this
// process or another, already has the file open.
var ErrStoreInUse = errors.New("oauth: store file is in use")

// storeFile is what FileStore needs of its log file. *os.File satisfies it;
// tests wrap it to inject disk errors.
type storeFile interface {
	WriteAt(p []byte, off int64) (int, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// FileStoreOption configures OpenFileStore.
type FileStoreOption func(*fileConfig)

// WithFileStoreLogger sets where FileStore reports what it repaired or could
// not do in the background: a torn tail cut off on open, a failed
// compaction. The default is slog.Default(). Keys and values are never
// logged.
func WithFileStoreLogger(l *slog.Logger) FileStoreOption {
	return func(c *fileConfig) { c.logger = l }
}

type fileConfig struct {
	logger       *slog.Logger
	now          func() time.Time          // expiry clock; tests replace it
	compactFloor int64                     // see fileCompactFloor; tests lower it
	wrap         func(storeFile) storeFile // tests inject failures here
}

// fileOp is one staged write: a put, or a deletion when del is set.
type fileOp struct {
	k       storeKey
	value   []byte
	expires time.Time
	del     bool
	seq     uint64
}

// fileBatch is the records that one write and one fsync make durable.
type fileBatch struct {
	buf  []byte
	ops  []fileOp
	done bool
	err  error
}

// FileStore is the durable Store for real runs (see the file format above).
// Reads are map lookups under a read lock; writes wait for the fsync that
// covers them. One FileStore at a time may open a given path: a second open,
// from any process, fails with ErrStoreInUse.
type FileStore struct {
	path string
	cfg  fileConfig
	lock *os.File // holds the flock on path+".lock"

	mu sync.RWMutex
	// cond is signalled (on mu) when a batch finishes or the flusher role
	// becomes free.
	cond *sync.Cond
	// m holds only what is durable in the file. live is the size the
	// records in m take in a compacted file.
	m    map[storeKey]memEntry
	live int64
	// pending is what staged but not yet durable writes will make of a key;
	// Update reads through it so that writes in one batch chain correctly.
	pending   map[storeKey]fileOp
	seq       uint64
	cur       *fileBatch // the batch being gathered
	flushing  bool       // someone is writing a batch or compacting
	closed    bool
	lastSweep time.Time

	// Owned by whoever set flushing (or by OpenFileStore and Close).
	file      storeFile
	size      int64 // bytes of good records in file
	dirty     bool  // a failed write may have left bytes after size
	compactAt int64 // after a failed compaction, wait for the file to grow past this
}

var _ Store = (*FileStore)(nil)

// OpenFileStore opens or creates the store file at path (mode 0600; its
// directory must exist), replays it into memory, cuts off a torn last record
// and compacts away dead records. It fails if the file holds a corrupt record
// that is not the last one, if it is not a store file, or if another
// FileStore has it open.
func OpenFileStore(path string, opts ...FileStoreOption) (*FileStore, error) {
	cfg := fileConfig{now: time.Now, compactFloor: fileCompactFloor}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	s := &FileStore{
		path:    path,
		cfg:     cfg,
		m:       make(map[storeKey]memEntry),
		pending: make(map[storeKey]fileOp),
		cur:     &fileBatch{},
	}
	s.cond = sync.NewCond(&s.mu)

	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("oauth: open store lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is open in another FileStore (this or another process)", ErrStoreInUse, path)
		}
		return nil, fmt.Errorf("oauth: lock store %s: %w", path, err)
	}
	s.lock = lock
	if err := s.fileOpen(); err != nil {
		s.fileUnlock()
		return nil, err
	}
	return s, nil
}

// fileOpen replays the log into s.m. The caller holds the flock.
func (s *FileStore) fileOpen() error {
	// A temp file is what a crash during compaction leaves; the rename
	// never happened, so the log itself is still whole.
	if err := os.Remove(s.path + ".tmp"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("oauth: remove stale %s.tmp: %w", s.path, err)
	}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("oauth: open store: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("oauth: open store: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		// The records are hashes and sealed values, but still nobody
		// else's business.
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("oauth: store %s has mode %04o and chmod 600 failed: %w", s.path, fi.Mode().Perm(), err)
		}
		s.cfg.logger.Warn("store file was readable by others; set its mode to 0600", "path", s.path, "was", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("oauth: read store: %w", err)
	}

	if len(data) < len(fileMagic) {
		// Empty, or a crash while writing the magic of a new file.
		if !bytes.HasPrefix([]byte(fileMagic), data) {
			return fmt.Errorf("oauth: %s is not a store file (no %q header)", s.path, fileMagic)
		}
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("oauth: init store: %w", err)
		}
		if _, err := f.WriteAt([]byte(fileMagic), 0); err != nil {
			return fmt.Errorf("oauth: init store: %w", err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("oauth: init store: %w", err)
		}
		if err := fileSyncDir(filepath.Dir(s.path)); err != nil {
			return fmt.Errorf("oauth: init store: %w", err)
		}
		s.size = int64(len(fileMagic))
	} else {
		if string(data[:len(fileMagic)]) != fileMagic {
			return fmt.Errorf("oauth: %s is not a store file (no %q header)", s.path, fileMagic)
		}
		good, err := s.fileReplay(data)
		if err != nil {
			return err
		}
		if good < int64(len(data)) {
			if err := f.Truncate(good); err != nil {
				return fmt.Errorf("oauth: cut torn tail of store: %w", err)
			}
			if err := f.Sync(); err != nil {
				return fmt.Errorf("oauth: cut torn tail of store: %w", err)
			}
		}
		s.size = good
	}

	s.file = f
	if s.cfg.wrap != nil {
		s.file = s.cfg.wrap(f)
	}
	ok = true
	s.lastSweep = s.cfg.now()
	if s.size > int64(len(fileMagic))+s.live {
		s.mu.Lock()
		s.flushing = true
		s.fileCompact()
		s.flushing = false
		s.mu.Unlock()
	}
	return nil
}

// fileReplay applies the records in data (which starts with the magic) to
// s.m and returns the length of the good prefix. A torn last record is
// logged and excluded; a bad record before the end is an error.
func (s *FileStore) fileReplay(data []byte) (int64, error) {
	now := s.cfg.now()
	off := len(fileMagic)
	torn := func(why string) (int64, error) {
		s.cfg.logger.Warn("store: discarding torn last record (a write that was never acknowledged)",
			"path", s.path, "offset", off, "bytes", len(data)-off, "reason", why)
		return int64(off), nil
	}
	corrupt := func(format string, args ...any) (int64, error) {
		return 0, fmt.Errorf("oauth: store %s: corrupt record at offset %d of %d with good records after it: %s; "+
			"refusing to start rather than lose them (restore a backup, or truncate the file to %d bytes to keep only what precedes it)",
			s.path, off, len(data), fmt.Sprintf(format, args...), off)
	}
	for off < len(data) {
		rest := data[off:]
		if len(rest) < fileRecordHeader {
			return torn("record header cut short")
		}
		n := int(binary.LittleEndian.Uint32(rest))
		sum := binary.LittleEndian.Uint32(rest[4:])
		if n == 0 || n > fileMaxPayload {
			if fileAllZero(rest) {
				return torn("zero-filled tail")
			}
			return corrupt("length %d out of range", n)
		}
		if len(rest) < fileRecordHeader+n {
			return torn("record cut short")
		}
		payload := rest[fileRecordHeader : fileRecordHeader+n]
		if crc32.Checksum(payload, fileCRC) != sum {
			if len(rest) == fileRecordHeader+n || fileAllZero(rest[fileRecordHeader+n:]) {
				return torn("checksum mismatch in the last record")
			}
			return corrupt("checksum mismatch")
		}
		op, err := fileDecode(payload)
		if err != nil {
			return corrupt("%v", err)
		}
		if op.del || storeExpired(op.expires, now) {
			op.del = true
		} else {
			op.value = storeClone(op.value) // do not pin the whole file in memory
		}
		s.fileApply(op)
		off += fileRecordHeader + n
	}
	return int64(off), nil
}

func fileAllZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// fileApply makes op part of s.m. The caller holds s.mu for writing (or is
// OpenFileStore).
func (s *FileStore) fileApply(op fileOp) {
	if old, ok := s.m[op.k]; ok {
		s.live -= fileRecordLen(op.k, old.value, old.expires)
	}
	if op.del {
		delete(s.m, op.k)
		return
	}
	s.m[op.k] = memEntry{value: op.value, expires: op.expires}
	s.live += fileRecordLen(op.k, op.value, op.expires)
}

// fileExpiry encodes an expiry for the log (see the format above).
func fileExpiry(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Unix() >= math.MaxInt64/1_000_000_000-1:
		return math.MaxInt64
	case t.UnixNano() < 1:
		return 1
	}
	return t.UnixNano()
}

// fileAppendRecord appends one framed record to dst.
func fileAppendRecord(dst []byte, k storeKey, value []byte, expires time.Time, del bool) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	if del {
		dst = append(dst, fileOpDelete)
	} else {
		dst = append(dst, fileOpPut)
	}
	dst = binary.AppendUvarint(dst, uint64(len(k.kind)))
	dst = append(dst, k.kind...)
	dst = binary.AppendUvarint(dst, uint64(len(k.key)))
	dst = append(dst, k.key...)
	if !del {
		dst = binary.AppendVarint(dst, fileExpiry(expires))
		dst = binary.AppendUvarint(dst, uint64(len(value)))
		dst = append(dst, value...)
	}
	payload := dst[start+fileRecordHeader:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, fileCRC))
	return dst
}

// fileRecordLen is len(fileAppendRecord(nil, k, value, expires, false)).
func fileRecordLen(k storeKey, value []byte, expires time.Time) int64 {
	var tmp [binary.MaxVarintLen64]byte
	n := fileRecordHeader + 1 +
		binary.PutUvarint(tmp[:], uint64(len(k.kind))) + len(k.kind) +
		binary.PutUvarint(tmp[:], uint64(len(k.key))) + len(k.key) +
		binary.PutVarint(tmp[:], fileExpiry(expires)) +
		binary.PutUvarint(tmp[:], uint64(len(value))) + len(value)
	return int64(n)
}

// fileDecode parses one payload. The returned value aliases p.
func fileDecode(p []byte) (fileOp, error) {
	var op fileOp
	if len(p) < 1 {
		return op, errors.New("empty payload")
	}
	switch p[0] {
	case fileOpPut:
	case fileOpDelete:
		op.del = true
	default:
		return op, fmt.Errorf("unknown op %d", p[0])
	}
	p = p[1:]
	field := func(what string, limit int) ([]byte, error) {
		n, w := binary.Uvarint(p)
		if w <= 0 || n > uint64(limit) || n > uint64(len(p)-w) {
			return nil, fmt.Errorf("bad %s length", what)
		}
		b := p[w : w+int(n) : w+int(n)]
		p = p[w+int(n):]
		return b, nil
	}
	kind, err := field("kind", MaxStoreKindLen)
	if err != nil {
		return op, err
	}
	key, err := field("key", MaxStoreKeyLen)
	if err != nil {
		return op, err
	}
	op.k = storeKey{string(kind), string(key)}
	if !op.del {
		exp, w := binary.Varint(p)
		if w <= 0 || exp < 0 {
			return op, errors.New("bad expiry")
		}
		p = p[w:]
		if exp != 0 {
			op.expires = time.Unix(0, exp)
		}
		if op.value, err = field("value", MaxStoreValueLen); err != nil {
			return op, err
		}
	}
	if len(p) != 0 {
		return op, fmt.Errorf("%d trailing bytes", len(p))
	}
	return op, nil
}

// Get returns a copy of the value under (kind, key), or ErrNotFound. It
// sees only durable writes.
func (s *FileStore) Get(ctx context.Context, kind, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	e, ok := s.m[storeKey{kind, key}]
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return nil, ErrStoreClosed
	}
	if !ok || storeExpired(e.expires, s.cfg.now()) {
		return nil, ErrNotFound
	}
	return storeClone(e.value), nil
}

// Put stores a copy of value under (kind, key) until expires (zero: never)
// and returns once it is fsynced. A nil value is stored as an empty one.
func (s *FileStore) Put(ctx context.Context, kind, key string, value []byte, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storeCheck(kind, key, value); err != nil {
		return err
	}
	v := make([]byte, len(value))
	copy(v, value)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStoreClosed
	}
	return s.fileCommit(s.fileStage(storeKey{kind, key}, v, expires, false))
}

// Delete removes (kind, key) and returns once that is fsynced. Deleting a
// key the file does not hold writes nothing.
func (s *FileStore) Delete(ctx context.Context, kind, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storeCheck(kind, key, nil); err != nil {
		return err
	}
	k := storeKey{kind, key}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStoreClosed
	}
	if !s.fileHeld(k) {
		return nil
	}
	return s.fileCommit(s.fileStage(k, nil, time.Time{}, true))
}

// Update runs fn under the store's write lock on the latest value,
// including writes staged but not yet fsynced, and returns once its result
// is fsynced. If the write fails, so does every write staged after it, since
// fn may have built on it. fn must not call the store.
func (s *FileStore) Update(ctx context.Context, kind, key string, fn func(current []byte) (next []byte, expires time.Time, err error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storeCheck(kind, key, nil); err != nil {
		return err
	}
	k := storeKey{kind, key}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrStoreClosed
	}
	now := s.cfg.now()
	var cur []byte
	if p, ok := s.pending[k]; ok {
		if !p.del && !storeExpired(p.expires, now) {
			cur = storeClone(p.value)
		}
	} else if e, ok := s.m[k]; ok && !storeExpired(e.expires, now) {
		cur = storeClone(e.value)
	}
	next, expires, err := fn(cur)
	if err != nil {
		return err
	}
	if next == nil {
		if !s.fileHeld(k) {
			return nil
		}
		return s.fileCommit(s.fileStage(k, nil, time.Time{}, true))
	}
	if err := storeCheck(kind, key, next); err != nil {
		return err
	}
	return s.fileCommit(s.fileStage(k, storeClone(next), expires, false))
}

// fileHeld reports whether the file holds, or is about to hold, a record
// for k, so that deleting k must write something.
func (s *FileStore) fileHeld(k storeKey) bool {
	if _, ok := s.pending[k]; ok {
		return true
	}
	_, ok := s.m[k]
	return ok
}

// fileStage adds one write to the batch being gathered. The caller holds
// s.mu and has copied value.
func (s *FileStore) fileStage(k storeKey, value []byte, expires time.Time, del bool) *fileBatch {
	s.seq++
	op := fileOp{k: k, value: value, expires: expires, del: del, seq: s.seq}
	b := s.cur
	b.buf = fileAppendRecord(b.buf, k, value, expires, del)
	b.ops = append(b.ops, op)
	s.pending[k] = op
	return b
}

// fileCommit waits, holding s.mu, until b is durable or has failed. If no
// one is writing, this writer writes the current batch itself (with every
// record others staged into it), so one fsync covers many writers.
func (s *FileStore) fileCommit(b *fileBatch) error {
	for !b.done {
		if s.flushing {
			s.cond.Wait()
			continue
		}
		s.fileFlush()
	}
	return b.err
}

// fileFlush writes and fsyncs the current batch, then applies it to the map.
// The caller holds s.mu, which is released during the disk I/O, and nobody
// is flushing.
func (s *FileStore) fileFlush() {
	s.flushing = true
	b := s.cur
	s.cur = &fileBatch{}
	s.mu.Unlock()
	err := s.fileWrite(b.buf)
	s.mu.Lock()
	if err != nil {
		b.err = fmt.Errorf("oauth: store %s: write failed, nothing was stored: %w", s.path, err)
		// Writes staged meanwhile may have read what b was to write.
		if len(s.cur.ops) > 0 {
			s.cur.err = fmt.Errorf("oauth: store %s: an earlier write failed, nothing was stored: %w", s.path, err)
			s.cur.done = true
			s.cur = &fileBatch{}
		}
		clear(s.pending)
		b.done = true
	} else {
		for _, op := range b.ops {
			s.fileApply(op)
			if p, ok := s.pending[op.k]; ok && p.seq == op.seq {
				delete(s.pending, op.k)
			}
		}
		b.done = true
		s.cond.Broadcast() // b's writers need not wait for a compaction
		s.fileMaybeSweep()
		if s.size > s.compactAt && s.size > 2*s.live+s.cfg.compactFloor {
			s.fileCompact()
		}
	}
	s.flushing = false
	s.cond.Broadcast()
}

// fileWrite appends buf at the end of the good records and fsyncs. After a
// failure it cuts the file back, so a half-written batch never sits before
// later records (where replay would call it corruption). The caller holds
// the flusher role.
func (s *FileStore) fileWrite(buf []byte) error {
	if s.dirty {
		if err := s.fileRepair(); err != nil {
			return fmt.Errorf("cut back an earlier failed write: %w", err)
		}
	}
	if _, err := s.file.WriteAt(buf, s.size); err != nil {
		s.dirty = true
		s.fileRepair()
		return err
	}
	if err := s.file.Sync(); err != nil {
		s.dirty = true
		s.fileRepair()
		return err
	}
	s.size += int64(len(buf))
	return nil
}

func (s *FileStore) fileRepair() error {
	if err := s.file.Truncate(s.size); err != nil {
		return err
	}
	if err := s.file.Sync(); err != nil {
		return err
	}
	s.dirty = false
	return nil
}

// fileMaybeSweep drops expired records from the map once per
// memSweepEvery; replay would drop them too, so the file needs no record.
// The caller holds s.mu.
func (s *FileStore) fileMaybeSweep() {
	now := s.cfg.now()
	if now.Sub(s.lastSweep) < memSweepEvery {
		return
	}
	s.lastSweep = now
	s.fileSweep(now)
}

func (s *FileStore) fileSweep(now time.Time) {
	for k, e := range s.m {
		if storeExpired(e.expires, now) {
			s.fileApply(fileOp{k: k, del: true})
		}
	}
}

// fileCompact rewrites the file with only the live records (see the header
// comment). The caller holds s.mu, which is released during the disk I/O,
// and the flusher role, so the map cannot change meanwhile. A failure is
// logged and leaves the old file in use.
func (s *FileStore) fileCompact() {
	s.fileSweep(s.cfg.now())
	buf := make([]byte, 0, int64(len(fileMagic))+s.live)
	buf = append(buf, fileMagic...)
	for k, e := range s.m {
		buf = fileAppendRecord(buf, k, e.value, e.expires, false)
	}
	s.mu.Unlock()
	f, err := s.fileWriteCompacted(buf)
	s.mu.Lock()
	if err != nil {
		s.cfg.logger.Error("store: compaction failed; still appending to the old file", "path", s.path, "err", err)
		s.compactAt = 2 * s.size
		return
	}
	if err := s.file.Close(); err != nil {
		s.cfg.logger.Warn("store: closing the file compaction replaced", "path", s.path, "err", err)
	}
	s.file = f
	s.size = int64(len(buf))
	s.dirty = false
	s.compactAt = 0
}

func (s *FileStore) fileWriteCompacted(buf []byte) (storeFile, error) {
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err = f.Write(buf); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	// From here the new file is the store, whatever happens next.
	if err := fileSyncDir(filepath.Dir(s.path)); err != nil {
		s.cfg.logger.Error("store: fsync of the directory after compaction failed", "path", s.path, "err", err)
	}
	if s.cfg.wrap != nil {
		return s.cfg.wrap(f), nil
	}
	return f, nil
}

// fileSyncDir makes a rename or a creation in dir durable.
func fileSyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close writes what is staged, closes the file and releases the lock.
// Later calls return ErrStoreClosed; a second Close returns nil.
func (s *FileStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for s.flushing || len(s.cur.ops) > 0 {
		if s.flushing {
			s.cond.Wait()
			continue
		}
		s.fileFlush()
	}
	err := s.file.Close()
	s.m = nil
	s.mu.Unlock()
	s.fileUnlock()
	if err != nil {
		return fmt.Errorf("oauth: close store: %w", err)
	}
	return nil
}

func (s *FileStore) fileUnlock() {
	syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
	s.lock.Close()
}
