package store

// This file holds FileStore, the durable Store: an in-memory map that mirrors
// an append-only log file, so reads never touch the disk and every
// acknowledged write has been fsynced.
//
// # File format
//
// The file starts with the 8-byte magic "oauthkv1" (a name from when the
// engine lived in package oauth, kept so that every log written since
// opens), followed by records:
//
//	offset 0   uint32 little-endian  n, the payload length (1 .. fileMaxPayload)
//	offset 4   uint32 little-endian  CRC-32C (Castagnoli) of the payload
//	offset 8   uint32 little-endian  CRC-32C of bytes 0..7
//	offset 12  n bytes               payload
//
// The header has its own checksum so that a damaged length is known to be
// damaged: a length pointing past the end of the file then means a write cut
// short, never a bit flip that would make replay drop every later record.
//
// and the payload is
//
//	byte     op: 1 put, 2 delete; 3 put and 4 delete of a packed key
//	uvarint  len(kind), then kind
//	uvarint  len(key), then key
//	put only (ops 1 and 3):
//	varint   expiry, Unix nanoseconds (0: never; clamped to 1 .. MaxInt64)
//	uvarint  len(value), then value
//
// Replaying the records in order rebuilds the map; a later record for the
// same (kind, key) replaces an earlier one. A packed key (ops 3 and 4) is
// the 32 bytes of a key that is 64 lower-case hex digits, and stands for
// those digits (see storeKey): a log written before packing holds such keys
// in full under ops 1 and 2, replays to the same map, and is rewritten
// packed by the compaction that opening it then calls for. A log holding
// ops 3 and 4 does not open in a version older than packing.
//
// # Crashes
//
// A write appends one batch of records and fsyncs before any writer in the
// batch is told it succeeded (group commit: writers stage records and wait;
// one background goroutine writes whatever was staged since its last fsync
// and fsyncs once for all of it). A process killed mid-write leaves at most
// a torn last record: shorter than its header says, a header cut short (or
// half written, with nothing but zeros after it), or a record of full length
// whose end was never written (zeros from a 512-byte boundary inside it to
// the end of the file, blocks a crash left allocated but unwritten). On open
// such a tail is logged, cut off and forgotten: it was never acknowledged.
// Any other bad record, the last one included, may hold an acknowledged
// write, so it stops the open with an error naming the file, the offset and
// what to do, rather than silently dropping data.
//
// The log is streamed at start-up (never read whole), so opening holds the
// map and one read buffer.
//
// # Compaction
//
// Overwrites, deletions and expiries leave dead records behind. When the
// file grows past twice the live data plus fileCompactFloor (and on open, if
// it holds any dead record), a compactor goroutine writes path+".tmp": the
// live, unexpired records read from the map a chunk at a time while writes
// go on, then copies and fsyncs the log's tail, again as it grows, until
// less than fileMirrorTail is left. Then the new file mirrors the log: from
// that moment the flusher writes every batch to both files (the old log's
// offset x at the new file's x - base + prefix, base being where the log
// stood when compaction began) and acknowledges it only once both are
// fsynced, while the compactor copies the rest of the tail up to the
// mirror's start, fsyncs, renames the new file over the log and fsyncs the directory. Both
// files hold every acknowledged record all along, so a crash at any point
// leaves a whole log under the name, whichever it is; once the directory is
// synced the flusher drops the old file between two batches. No writer
// waits for the compactor's I/O: a write during the mirror costs a second
// write and fsync of its own batch, done beside the first. Expired records
// are swept from the map every memSweepEvery, written to or not, and the
// compaction that the smaller live size then calls for takes them off the
// disk.

import (
	"bufio"
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
	"runtime"
	"sync"
	"time"
)

const (
	fileMagic          = "oauthkv1"
	fileOpPut          = 1
	fileOpDelete       = 2
	fileOpPutPacked    = 3
	fileOpDeletePacked = 4
	fileRecordHeader   = 12
	// fileMaxPayload bounds a record's length field: the largest payload
	// the size limits allow. A larger length can only be corruption.
	fileMaxPayload = 1 + 3*binary.MaxVarintLen64 + binary.MaxVarintLen64 +
		MaxKindLen + MaxKeyLen + MaxValueLen
	// fileCompactFloor keeps a small store from compacting on every write.
	fileCompactFloor = 1 << 20
	// fileReadBuffer is how much of the log start-up reads at a time.
	fileReadBuffer = 256 << 10
	// fileSector is the smallest unit a disk writes: a crash can leave a
	// whole sector unwritten, never part of one.
	fileSector = 512
	// fileChunk is how many records compaction and sweeps handle per hold
	// of the lock, so that neither makes a reader or writer wait long.
	fileChunk = 512
	// fileSyncEvery is how much of a new file compaction writes between
	// fsyncs: a writer's fsync that has to wait for the disk to take the
	// compaction's dirty pages first waits for at most this much.
	fileSyncEvery = 1 << 20
	// fileMirrorTail is how much of the log's tail compaction may leave
	// to copy once the mirror is on. The first fsync of a mirrored batch
	// flushes it too (fsync takes a whole file), so it bounds what a
	// writer's fsync can find of the compaction's I/O in the new file.
	fileMirrorTail = 64 << 10
)

var fileCRC = crc32.MakeTable(crc32.Castagnoli)

// ErrFileInUse is returned by OpenFileStore when another FileStore, in this
// process or another, already has the file open.
var ErrFileInUse = errors.New("store: the file is in use")

// ErrFileUnsupported is returned by OpenFileStore on systems where the
// file store cannot keep its promises (see lock_other.go): anything
// but Linux, macOS and the other Unix-like systems.
var ErrFileUnsupported = errors.New("store: the file store runs on Linux, macOS and other Unix-like systems only " +
	"(it needs flock, rename over an open file and directory fsync); use another Store here")

// File is what FileStore needs of its log file. *os.File satisfies it;
// WithFileWrap lets a test put a failing disk under it.
type File interface {
	ReadAt(p []byte, off int64) (int, error)
	WriteAt(p []byte, off int64) (int, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// Option configures OpenFileStore and NewMemoryStore.
type Option func(*config)

// WithLogger sets where FileStore reports what it repaired or could
// not do in the background: a torn tail cut off on open, a failed
// compaction. The default is slog.Default(). Keys and values are never
// logged. MemoryStore logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithClock sets the clock that decides expiry (default time.Now). A
// server run on a clock of its own (oauth.Config.Now, a test's) gives its
// store the same one, so that a record expires when the server thinks it
// does.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithFileWrap makes FileStore do its file I/O through wrap(f) for each
// file it writes (the log, and a compaction's new file): for tests that
// put a full or failing disk under the store and check what its users
// make of the errors. MemoryStore ignores it.
func WithFileWrap(wrap func(File) File) Option {
	return func(c *config) { c.wrap = wrap }
}

type config struct {
	logger       *slog.Logger
	now          func() time.Time  // expiry clock; WithClock
	compactFloor int64             // see fileCompactFloor; tests lower it
	sweepEvery   time.Duration     // see memSweepEvery; tests lower it
	wrap         func(File) File   // WithFileWrap
	midCompact   func()            // tests: runs in the compactor between the map and the tail
	compactStep  func(step string) // tests: runs before each of compaction's I/O steps
}

// newConfig applies opts to the defaults.
func newConfig(opts []Option) config {
	cfg := config{now: time.Now, compactFloor: fileCompactFloor, sweepEvery: memSweepEvery}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	return cfg
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
	done chan struct{} // closed when the batch is durable, or has failed
	err  error         // set before done is closed
}

func fileNewBatch() *fileBatch { return &fileBatch{done: make(chan struct{})} }

// FileStore is the durable Store for real runs: a map in memory mirroring an
// append-only log of checksummed records (the format is described at the
// top of file.go).
// Reads are map lookups under a read lock; writes wait for the fsync that
// covers them. One FileStore at a time may open a given path: a second open,
// from any process, fails with ErrFileInUse. Besides path it uses
// path+".lock" (the flock) and, during compaction, path+".tmp".
//
// A context is checked when a call starts, not while a write waits for its
// fsync: by then the record may already be on disk, and an error would
// wrongly say it is not.
type FileStore struct {
	path string
	cfg  config
	lock *os.File // holds the flock on path+".lock"

	mu sync.RWMutex
	// m holds only what is durable in the file. live is the size the
	// records in m take in a compacted file.
	m      map[storeKey]memEntry
	live   int64
	counts storeCounts
	// pending is what staged but not yet durable writes will make of a key;
	// Update reads through it so that writes in one batch chain correctly.
	pending map[storeKey]fileOp
	seq     uint64
	cur     *fileBatch // the batch being gathered
	// synced is the log's size as of the last batch applied: the
	// compactor copies the log up to it before it asks for the mirror.
	synced    int64
	closed    bool
	lastSweep time.Time
	sweeping  bool // a sweep goroutine runs
	// compactReq holds the callers of Compact waiting for the
	// next compaction to finish.
	compactReq []chan error
	// kinds interns the kinds read from the log (replay only).
	kinds map[string]string
	// hexKinds interns the marked kinds of packed keys (see storeKey).
	hexKinds kindTable

	kick        chan struct{} // tells the flusher there is a batch (capacity 1)
	flusherDone chan struct{} // closed when the flusher has exited
	background  sync.WaitGroup

	// Owned by the flusher goroutine (before it starts: OpenFileStore; after
	// it ends: Close).
	file       File
	size       int64              // bytes of good records in file
	dirty      bool               // a failed write may have left bytes after size
	compactAt  int64              // after a failed compaction, wait for the file to grow past this
	compacting chan fileCompacted // non-nil while a compactor runs; it sends its result here
	compactFor []chan error       // callers of Compact the running compaction will answer
	// mirror, while set, is the compaction's new file: every batch is
	// written to it too, at its offset in file plus mirrorDelta.
	mirror      File
	mirrorDelta int64
	mirrorDirty bool
	// mirrorReq carries the compactor's request to start the mirror.
	mirrorReq chan fileMirrorReq
}

var _ Store = (*FileStore)(nil)
var _ Counter = (*FileStore)(nil)

// OpenFileStore opens or creates the store file at path (mode 0600; its
// directory must exist), replays it into memory, cuts off a torn last record
// and compacts away dead records. It fails if the file holds a damaged record
// other than a torn last one (see the top of file.go), if it is not a
// store file, if another FileStore has it open, or, with ErrFileUnsupported,
// on a system other than Linux, macOS and the other Unix-like ones.
func OpenFileStore(path string, opts ...Option) (*FileStore, error) {
	cfg := newConfig(opts)
	s := &FileStore{
		path:        path,
		cfg:         cfg,
		m:           make(map[storeKey]memEntry),
		hexKinds:    kindTable{},
		counts:      storeCounts{},
		pending:     make(map[storeKey]fileOp),
		cur:         fileNewBatch(),
		kick:        make(chan struct{}, 1),
		flusherDone: make(chan struct{}),
		mirrorReq:   make(chan fileMirrorReq),
	}

	if !fileLockSupported {
		return nil, fileLock(nil, path)
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open store lock: %w", err)
	}
	if err := fileLock(lock, path); err != nil {
		lock.Close()
		return nil, err
	}
	s.lock = lock
	if err := s.fileOpen(); err != nil {
		s.fileUnlock()
		return nil, err
	}
	go s.fileFlusher()
	return s, nil
}

// fileOpen replays the log into s.m. The caller holds the flock.
func (s *FileStore) fileOpen() error {
	// A temp file is what a crash during compaction leaves; the rename
	// never happened, so the log itself is still whole.
	if err := os.Remove(s.path + ".tmp"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store: remove stale %s.tmp: %w", s.path, err)
	}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: open store: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: open store: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		// The records are hashes and sealed values, but still nobody
		// else's business.
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("store: %s has mode %04o and chmod 600 failed: %w", s.path, fi.Mode().Perm(), err)
		}
		s.cfg.logger.Warn("store file was readable by others; set its mode to 0600", "path", s.path, "was", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	// The log is streamed, never read whole: start-up holds the map and one
	// read buffer, not the file as well.
	r := bufio.NewReaderSize(f, fileReadBuffer)
	magic := make([]byte, len(fileMagic))
	n, err := io.ReadFull(r, magic)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("store: read store: %w", err)
	}
	magic = magic[:n]
	if n < len(fileMagic) {
		// Empty, or a crash while writing the magic of a new file.
		if !bytes.HasPrefix([]byte(fileMagic), magic) {
			return fmt.Errorf("store: %s is not a store file (no %q header)", s.path, fileMagic)
		}
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("store: init store: %w", err)
		}
		if _, err := f.WriteAt([]byte(fileMagic), 0); err != nil {
			return fmt.Errorf("store: init store: %w", err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("store: init store: %w", err)
		}
		if err := SyncDir(filepath.Dir(s.path)); err != nil {
			return fmt.Errorf("store: init store: %w", err)
		}
		s.size = int64(len(fileMagic))
	} else {
		if string(magic) != fileMagic {
			return fmt.Errorf("store: %s is not a store file (no %q header)", s.path, fileMagic)
		}
		good, err := s.fileReplay(r, fi.Size())
		if err != nil {
			return err
		}
		if good < fi.Size() {
			if err := f.Truncate(good); err != nil {
				return fmt.Errorf("store: cut torn tail of store: %w", err)
			}
			if err := f.Sync(); err != nil {
				return fmt.Errorf("store: cut torn tail of store: %w", err)
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
	s.synced = s.size
	if s.size > int64(len(fileMagic))+s.live {
		// Nothing else runs yet: compact in line, with nothing to mirror.
		size := s.size
		s.fileCompactFinish(s.fileCompactWrite(s.size, s.file, func(*os.File, int64) (int64, bool) { return size, true }))
	}
	return nil
}

// fileReplay applies the records that r holds after the magic (the file
// being size bytes long) to s.m, and returns the length of the good prefix.
// A torn last record is logged and excluded; any other bad record is an
// error.
//
// A torn record is one a crash cut short: shorter than its header says, a
// header cut short or half written with only zeros after it, or a complete
// length whose end was never written (zeros from a 512-byte boundary inside
// it to the end of the file, as a filesystem shows blocks it allocated but
// never wrote). A complete record with a bad checksum and any other bytes
// is corruption, even the last one: it may be an acknowledged write.
func (s *FileStore) fileReplay(r io.Reader, size int64) (int64, error) {
	now := s.cfg.now()
	off := int64(len(fileMagic))
	torn := func(why string) (int64, error) {
		s.cfg.logger.Warn("store: discarding torn last record (a write that was never acknowledged)",
			"path", s.path, "offset", off, "bytes", size-off, "reason", why)
		return off, nil
	}
	corrupt := func(format string, args ...any) (int64, error) {
		return 0, fmt.Errorf("store: %s: corrupt record at offset %d of a %d-byte file: %s; "+
			"this is not a write cut short by a crash, so the open is refused rather than dropping data "+
			"(restore a backup, or truncate the file to %d bytes to keep only the records before it)",
			s.path, off, size, fmt.Sprintf(format, args...), off)
	}
	readErr := func(err error) (int64, error) {
		return 0, fmt.Errorf("store: read store %s at offset %d: %w", s.path, off, err)
	}
	var hdr [fileRecordHeader]byte
	var payload []byte
	for {
		_, err := io.ReadFull(r, hdr[:])
		switch {
		case err == io.EOF:
			return off, nil
		case err == io.ErrUnexpectedEOF:
			return torn("record header cut short")
		case err != nil:
			return readErr(err)
		}
		if crc32.Checksum(hdr[:8], fileCRC) != binary.LittleEndian.Uint32(hdr[8:]) {
			// A header half written before a crash can be followed only
			// by zeros (the file was extended but the data not kept).
			zero, err := fileRestZero(r)
			if err != nil {
				return readErr(err)
			}
			if zero {
				return torn("header checksum mismatch at the end of the file")
			}
			return corrupt("header checksum mismatch")
		}
		ln := int(binary.LittleEndian.Uint32(hdr[:]))
		sum := binary.LittleEndian.Uint32(hdr[4:])
		if ln == 0 || ln > fileMaxPayload {
			return corrupt("length %d out of range", ln)
		}
		if cap(payload) < ln {
			payload = make([]byte, ln, max(ln, 2*cap(payload)))
		}
		payload = payload[:ln]
		if _, err := io.ReadFull(r, payload); err == io.ErrUnexpectedEOF || err == io.EOF {
			return torn("record cut short")
		} else if err != nil {
			return readErr(err)
		}
		if crc32.Checksum(payload, fileCRC) != sum {
			zero, err := fileRestZero(r)
			if err != nil {
				return readErr(err)
			}
			if zero && fileUnwrittenEnd(off, payload) {
				return torn("the end of the last record was never written")
			}
			return corrupt("checksum mismatch")
		}
		op, err := s.fileDecode(payload)
		if err != nil {
			return corrupt("%v", err)
		}
		if op.del || storeExpired(op.expires, now) {
			op.del = true
		} else {
			op.value = storeClone(op.value) // payload is reused for the next record
		}
		s.fileApply(op)
		off += int64(fileRecordHeader + ln)
	}
}

// fileUnwrittenEnd reports whether the record at off with this payload
// ends in zeros that begin at or before a 512-byte boundary of the file
// inside the record: blocks a crash left unwritten. A flipped bit cannot
// zero a whole aligned block.
func fileUnwrittenEnd(off int64, payload []byte) bool {
	z := len(payload)
	for z > 0 && payload[z-1] == 0 {
		z--
	}
	start := off + fileRecordHeader
	firstZero := start + int64(z)
	boundary := (firstZero + fileSector - 1) / fileSector * fileSector
	return boundary < start+int64(len(payload))
}

// fileRestZero reads r to its end and reports whether every byte was zero.
func fileRestZero(r io.Reader) (bool, error) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if !fileAllZero(buf[:n]) {
			return false, nil
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
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
	old, had := s.m[op.k]
	if had {
		s.live -= fileRecordLen(op.k, old.value, old.expiresAt())
	}
	s.counts.change(op.k.plainKind(), had, !op.del)
	if op.del {
		delete(s.m, op.k)
		return
	}
	s.m[op.k] = newMemEntry(op.value, op.expires)
	s.live += fileRecordLen(op.k, op.value, op.expires)
}

// Count reports how many records of kind the store holds, including any
// that expired since the last sweep (at most memSweepEvery ago).
func (s *FileStore) Count(ctx context.Context, kind string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.counts[kind], nil
}

// KindStats is what the records of one kind cost a FileStore.
type KindStats struct {
	Records    int   // how many it holds
	KeyBytes   int64 // the bytes of their keys as held (a packed key: 32)
	ValueBytes int64 // the bytes of their values
	FileBytes  int64 // what they take in a compacted log, framing included
}

// Stats reports, per kind, what the records held cost, for capacity
// planning: README Performance breaks a signed-in user's cost down with
// it. It walks the whole map under the read lock, so it is for occasional
// use, not for every request.
func (s *FileStore) Stats() (map[string]KindStats, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	by := make(map[string]KindStats, len(s.counts))
	for k, e := range s.m {
		kind := k.plainKind()
		v := by[kind]
		v.Records++
		v.KeyBytes += int64(len(k.key))
		v.ValueBytes += int64(len(e.value))
		v.FileBytes += fileRecordLen(k, e.value, e.expiresAt())
		by[kind] = v
	}
	return by, nil
}

// Range calls fn for every live record, in no particular order, until fn
// returns false: to copy a store into another engine (a single server's
// file into PostgreSQL, when it grows into replicas) or to sample it. It
// holds the read lock a chunk of records at a time, never while fn runs,
// so fn may use the store, and writes go on meanwhile: a record written
// during the walk may or may not be seen. fn must not keep value. After
// Close it returns ErrClosed.
func (s *FileStore) Range(fn func(kind, key string, value []byte, expires time.Time) bool) error {
	type kv struct {
		k storeKey
		e memEntry
	}
	chunk := make([]kv, 0, fileChunk)
	yield := func() bool {
		now := s.cfg.now()
		for _, r := range chunk {
			if r.e.expired(now) {
				continue
			}
			if kind, key := r.k.plain(); !fn(kind, key, r.e.value, r.e.expiresAt()) {
				return false
			}
		}
		chunk = chunk[:0]
		return true
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	for k, e := range s.m {
		chunk = append(chunk, kv{k, e})
		if len(chunk) < fileChunk {
			continue
		}
		s.mu.RUnlock()
		if !yield() {
			return nil
		}
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			return ErrClosed
		}
	}
	s.mu.RUnlock()
	yield()
	return nil
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
	dst = append(dst, make([]byte, fileRecordHeader)...)
	op := byte(fileOpPut)
	if del {
		op = fileOpDelete
	}
	if k.packed() {
		op += fileOpPutPacked - fileOpPut
	}
	dst = append(dst, op)
	kind := k.plainKind()
	dst = binary.AppendUvarint(dst, uint64(len(kind)))
	dst = append(dst, kind...)
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
	binary.LittleEndian.PutUint32(dst[start+8:], crc32.Checksum(dst[start:start+8], fileCRC))
	return dst
}

// fileRecordLen is len(fileAppendRecord(nil, k, value, expires, false)).
func fileRecordLen(k storeKey, value []byte, expires time.Time) int64 {
	var tmp [binary.MaxVarintLen64]byte
	n := fileRecordHeader + 1 +
		binary.PutUvarint(tmp[:], uint64(len(k.plainKind()))) + len(k.plainKind()) +
		binary.PutUvarint(tmp[:], uint64(len(k.key))) + len(k.key) +
		binary.PutVarint(tmp[:], fileExpiry(expires)) +
		binary.PutUvarint(tmp[:], uint64(len(value))) + len(value)
	return int64(n)
}

// fileDecode parses one payload. The returned value aliases p; the kind
// is interned, so that a million records of a few kinds hold a few
// strings, not a million.
func (s *FileStore) fileDecode(p []byte) (fileOp, error) {
	var op fileOp
	if len(p) < 1 {
		return op, errors.New("empty payload")
	}
	packed := false
	switch p[0] {
	case fileOpPut:
	case fileOpDelete:
		op.del = true
	case fileOpPutPacked:
		packed = true
	case fileOpDeletePacked:
		op.del, packed = true, true
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
	kind, err := field("kind", MaxKindLen)
	if err != nil {
		return op, err
	}
	key, err := field("key", MaxKeyLen)
	if err != nil {
		return op, err
	}
	k, ok := s.kinds[string(kind)]
	if !ok {
		if s.kinds == nil {
			s.kinds = make(map[string]string)
		}
		k = string(kind)
		s.kinds[k] = k
	}
	var raw [32]byte
	switch {
	case packed && len(key) != len(raw):
		return op, fmt.Errorf("packed key of %d bytes", len(key))
	case packed:
		op.k = storeKey{s.hexKinds.mark(k), string(key)}
	case hexLower(raw[:], key):
		// Written before packing: held packed from now on.
		op.k = storeKey{s.hexKinds.mark(k), string(raw[:])}
	default:
		op.k = storeKey{k, string(key)}
	}
	if !op.del {
		exp, w := binary.Varint(p)
		if w <= 0 || exp < 0 {
			return op, errors.New("bad expiry")
		}
		p = p[w:]
		if exp != 0 {
			op.expires = time.Unix(0, exp)
		}
		if op.value, err = field("value", MaxValueLen); err != nil {
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
	var e memEntry
	k, ok := s.hexKinds.mapKey(kind, key, false)
	if ok {
		e, ok = s.m[k]
	}
	closed := s.closed
	s.mu.RUnlock()
	return storeFound(e, ok, closed, s.cfg.now)
}

// Put stores a copy of value under (kind, key) until expires (zero: never)
// and returns once it is fsynced. A nil value is stored as an empty one.
func (s *FileStore) Put(ctx context.Context, kind, key string, value []byte, expires time.Time) error {
	if err := storeBegin(ctx, kind, key, value); err != nil {
		return err
	}
	v := make([]byte, len(value))
	copy(v, value)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	k, _ := s.hexKinds.mapKey(kind, key, true)
	b := s.fileStage(k, v, expires, false)
	s.mu.Unlock()
	return fileWait(b)
}

// Delete removes (kind, key) and returns once that is fsynced. Deleting a
// key the file does not hold writes nothing.
func (s *FileStore) Delete(ctx context.Context, kind, key string) error {
	if err := storeBegin(ctx, kind, key, nil); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	k, ok := s.hexKinds.mapKey(kind, key, false)
	if !ok || !s.fileHeld(k) {
		s.mu.Unlock()
		return nil
	}
	b := s.fileStage(k, nil, time.Time{}, true)
	s.mu.Unlock()
	return fileWait(b)
}

// Update runs fn under the store's write lock on the latest value,
// including writes staged but not yet fsynced, and returns once its result
// is fsynced. If the write fails, so does every write staged after it, since
// fn may have built on it. fn must not call the store.
func (s *FileStore) Update(ctx context.Context, kind, key string, fn func(current []byte) (next []byte, expires time.Time, err error)) error {
	if err := storeBegin(ctx, kind, key, nil); err != nil {
		return err
	}
	b, err := s.fileUpdateStage(kind, key, fn)
	if b == nil {
		return err
	}
	return fileWait(b)
}

// fileUpdateStage runs fn and stages its result, holding s.mu. It returns
// the batch to wait for, or nil and the result of the call.
func (s *FileStore) fileUpdateStage(kind, key string, fn func([]byte) ([]byte, time.Time, error)) (*fileBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	k, _ := s.hexKinds.mapKey(kind, key, true)
	now := s.cfg.now()
	var cur []byte
	if p, ok := s.pending[k]; ok {
		if !p.del && !storeExpired(p.expires, now) {
			cur = storeClone(p.value)
		}
	} else if e, ok := s.m[k]; ok && !e.expired(now) {
		cur = storeClone(e.value)
	}
	next, expires, err := storeRun(k, cur, fn)
	if err != nil {
		return nil, err
	}
	if next == nil {
		if !s.fileHeld(k) {
			return nil, nil
		}
		return s.fileStage(k, nil, time.Time{}, true), nil
	}
	return s.fileStage(k, next, expires, false), nil
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
	s.fileKick()
	return b
}

// fileKick wakes the flusher without blocking: a kick already pending will
// make it look at the current batch anyway.
func (s *FileStore) fileKick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// fileWait returns when b is durable, or with the reason it never will be.
func fileWait(b *fileBatch) error {
	<-b.done
	return b.err
}

// fileFlusher is the one goroutine that writes the log: each time it is
// kicked it writes every batch staged so far, so writers that arrive during
// an fsync share the next one. It also starts sweeps and compactions, which
// run beside it, and puts a finished compaction's file in place between two
// batches. It exits once the store is closed and nothing is left staged.
func (s *FileStore) fileFlusher() {
	defer close(s.flusherDone)
	// Expired records leave memory, and then the file, even when nothing
	// is written.
	tick := time.NewTicker(s.cfg.sweepEvery)
	defer tick.Stop()
	for {
		var done <-chan fileCompacted = s.compacting
		select {
		case <-s.kick:
		case <-tick.C:
			s.mu.Lock()
			s.fileMaybeSweep()
			s.mu.Unlock()
		case r := <-done:
			s.fileCompactFinish(r)
		case m := <-s.mirrorReq:
			s.fileMirrorStart(m)
		}
		for {
			// Between two batches, so that a steady stream of writes
			// neither holds a compactor back nor keeps the mirror on.
			select {
			case m := <-s.mirrorReq:
				s.fileMirrorStart(m)
			case r := <-s.compacting:
				s.fileCompactFinish(r)
			default:
			}
			if !s.fileFlushOne() {
				break
			}
		}
		s.mu.Lock()
		closed := s.closed && len(s.cur.ops) == 0
		req := s.compactReq
		s.compactReq = nil
		force := len(req) > 0
		due := s.size > s.compactAt && s.size > 2*s.live+s.cfg.compactFloor
		s.mu.Unlock()
		if closed {
			for s.compacting != nil {
				// A compactor not yet mirroring is told to stop; one
				// that is finishes (it may have renamed its file already).
				select {
				case r := <-s.compacting:
					s.fileCompactFinish(r)
				case m := <-s.mirrorReq:
					close(m.reply)
				}
			}
			for _, c := range append(s.compactFor, req...) {
				c <- ErrClosed
			}
			return
		}
		s.compactFor = append(s.compactFor, req...)
		if (force || due) && s.compacting == nil {
			s.fileCompactStart()
		}
	}
}

// Compact rewrites the log now with only the live records, rather than
// when it has grown to twice their size, and returns once the new file is
// in place: an operator may call it before a backup, and the scale
// benchmark times it. Reads and writes go on meanwhile, as during any
// compaction. A failed compaction is returned (and the store goes on
// appending to its old file); after Close it returns ErrClosed.
func (s *FileStore) Compact() error {
	done := make(chan error, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.compactReq = append(s.compactReq, done)
	s.mu.Unlock()
	s.fileKick()
	return <-done
}

// fileFlushOne writes and fsyncs the current batch and applies it to the
// map. It reports whether there was a batch.
func (s *FileStore) fileFlushOne() bool {
	s.mu.Lock()
	b := s.cur
	if len(b.ops) == 0 {
		s.mu.Unlock()
		return false
	}
	s.cur = fileNewBatch()
	s.mu.Unlock()

	err := s.fileWrite(b.buf)

	s.mu.Lock()
	if err != nil {
		b.err = fmt.Errorf("store: %s: write failed, nothing was stored: %w", s.path, err)
		// Writes staged meanwhile may have read what b was to write.
		if len(s.cur.ops) > 0 {
			s.cur.err = fmt.Errorf("store: %s: an earlier write failed, nothing was stored: %w", s.path, err)
			close(s.cur.done)
			s.cur = fileNewBatch()
		}
		clear(s.pending)
	} else {
		for _, op := range b.ops {
			s.fileApply(op)
			if p, ok := s.pending[op.k]; ok && p.seq == op.seq {
				delete(s.pending, op.k)
			}
		}
		s.synced = s.size
		s.fileMaybeSweep()
	}
	s.mu.Unlock()
	close(b.done)
	return true
}

// fileWrite appends buf at the end of the good records and fsyncs, in the
// mirror too while there is one (beside the log, so that the two fsyncs
// overlap). After a failure it cuts the file back (both, if either failed),
// so a half-written batch never sits before later records (where replay
// would call it corruption) and a batch reported lost never comes back.
// Only the flusher calls it.
func (s *FileStore) fileWrite(buf []byte) error {
	if s.mirror == nil {
		err := fileAppend(s.file, s.size, &s.dirty, buf)
		if err == nil {
			s.size += int64(len(buf))
		}
		return err
	}
	var mirrorErr error
	var wg sync.WaitGroup
	wg.Go(func() { mirrorErr = fileAppend(s.mirror, s.size+s.mirrorDelta, &s.mirrorDirty, buf) })
	err := fileAppend(s.file, s.size, &s.dirty, buf)
	wg.Wait()
	if err == nil && mirrorErr == nil {
		s.size += int64(len(buf))
		return nil
	}
	// Neither file may keep a batch its writers are told was lost.
	s.dirty, s.mirrorDirty = true, true
	fileRepair(s.file, s.size, &s.dirty)
	fileRepair(s.mirror, s.size+s.mirrorDelta, &s.mirrorDirty)
	if err == nil {
		err = fmt.Errorf("compaction's new file: %w", mirrorErr)
	}
	return err
}

// fileAppend writes buf at off in f and fsyncs, first cutting f back to off
// if an earlier write failed.
func fileAppend(f File, off int64, dirty *bool, buf []byte) error {
	if *dirty {
		if err := fileRepair(f, off, dirty); err != nil {
			return fmt.Errorf("cut back an earlier failed write: %w", err)
		}
	}
	if _, err := f.WriteAt(buf, off); err != nil {
		*dirty = true
		fileRepair(f, off, dirty)
		return err
	}
	if err := f.Sync(); err != nil {
		*dirty = true
		fileRepair(f, off, dirty)
		return err
	}
	return nil
}

// fileRepair cuts f back to size and clears dirty once that is durable.
func fileRepair(f File, size int64, dirty *bool) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	*dirty = false
	return nil
}

// fileMaybeSweep starts a sweep of expired records once per memSweepEvery.
// The caller holds s.mu.
func (s *FileStore) fileMaybeSweep() {
	now := s.cfg.now()
	if s.sweeping || s.closed || now.Sub(s.lastSweep) < s.cfg.sweepEvery {
		return
	}
	s.lastSweep = now
	s.sweeping = true
	s.background.Add(1)
	go s.fileSweep(now)
}

// fileSweep drops the records expired at now from the map, a chunk at a
// time so that no reader or writer waits for the whole map. Replay drops
// them too, so the file needs no record; the next compaction, which a
// smaller live size brings nearer, takes them off the disk.
func (s *FileStore) fileSweep(now time.Time) {
	defer s.background.Done()
	// Look under the read lock, which readers share; take the write lock
	// only to drop what was found.
	var expired []storeKey
	drop := func() {
		s.mu.Lock()
		for _, k := range expired {
			// It may have been written again since it was seen.
			if e, ok := s.m[k]; ok && e.expired(now) {
				s.fileApply(fileOp{k: k, del: true})
			}
		}
		s.mu.Unlock()
		expired = expired[:0]
	}
	s.mu.RLock()
	held := true
	i := 0
	for k, e := range s.m {
		// The map may change between chunks; Go's range over a map
		// allows that, and each entry is judged as it is when reached.
		if e.expired(now) {
			expired = append(expired, k)
		}
		if i++; i%fileChunk == 0 {
			closed := s.closed
			s.mu.RUnlock()
			held = false
			if closed {
				break
			}
			drop()
			s.mu.RLock()
			held = true
		}
	}
	if held {
		s.mu.RUnlock()
	}
	drop()
	s.mu.Lock()
	s.sweeping = false
	s.mu.Unlock()
	s.fileKick() // the flusher looks whether compaction is now due
}

// fileCompacted is what a compactor hands the flusher: the new file, now
// under the log's name (unless err is set), whose offsets are the old
// file's plus delta.
type fileCompacted struct {
	f     *os.File
	delta int64
	err   error
}

// fileMirrorReq asks the flusher to start writing every batch to f too, at
// the old file's offset plus prefix-base. The flusher answers with the old
// file's size at that moment, or closes reply if the store is closing.
type fileMirrorReq struct {
	f            *os.File
	prefix, base int64
	reply        chan int64
}

// fileCompactStart starts a compactor beside the flusher. Only the flusher
// calls it. Writes go on meanwhile and never wait for it: the tail it
// copies ends where the mirror began, so it cannot be outrun.
func (s *FileStore) fileCompactStart() {
	s.compacting = make(chan fileCompacted, 1)
	base, old := s.size, s.file
	mirror := func(f *os.File, prefix int64) (int64, bool) {
		reply := make(chan int64, 1)
		s.mirrorReq <- fileMirrorReq{f: f, prefix: prefix, base: base, reply: reply}
		start, ok := <-reply
		return start, ok
	}
	go func(c chan<- fileCompacted) { c <- s.fileCompactWrite(base, old, mirror) }(s.compacting)
}

// fileMirrorStart makes the flusher write every later batch to the
// compaction's new file as well. It does no I/O.
func (s *FileStore) fileMirrorStart(m fileMirrorReq) {
	s.mirror = m.f
	if s.cfg.wrap != nil {
		s.mirror = s.cfg.wrap(m.f)
	}
	s.mirrorDelta = m.prefix - m.base
	s.mirrorDirty = false
	m.reply <- s.size
}

// fileCompactStep runs the test hook before one of compaction's I/O steps.
func (s *FileStore) fileCompactStep(step string) {
	if s.cfg.compactStep != nil {
		s.cfg.compactStep(step)
	}
}

// fileCompactWrite writes path+".tmp": first every live record, read from
// the map a chunk at a time while writes go on, then, once mirror has made
// the flusher write every new batch to it too, a copy of old from base
// (where the log stood when compaction started) to where the mirror began.
// The map is not one consistent snapshot, but each record in it is at
// least as new as base, and every write since base is in the tail, which
// replay applies after them: the result reads as the log does. It then
// fsyncs the file, renames it over the log and fsyncs the directory: none
// of which any writer waits for.
func (s *FileStore) fileCompactWrite(base int64, old File, mirror func(f *os.File, prefix int64) (int64, bool)) fileCompacted {
	tmp := s.path + ".tmp"
	s.fileCompactStep("create")
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fileCompacted{err: err}
	}
	fail := func(err error) fileCompacted {
		f.Close()
		os.Remove(tmp)
		return fileCompacted{err: err}
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(fileMagic)
	// Under the read lock only copy a chunk of entries out (values are
	// never changed in place); encode and write them after letting go.
	type kv struct {
		k storeKey
		e memEntry
	}
	batch := make([]kv, 0, fileChunk)
	var chunk []byte
	unsynced := 0
	flush := func() {
		now := s.cfg.now()
		for _, r := range batch {
			if !r.e.expired(now) {
				chunk = fileAppendRecord(chunk, r.k, r.e.value, r.e.expiresAt(), false)
			}
		}
		w.Write(chunk)
		unsynced += len(chunk)
		chunk, batch = chunk[:0], batch[:0]
		// Sync as it goes, so that the disk never has the whole new file
		// to write at once while the writers' fsyncs queue behind it.
		if unsynced >= fileSyncEvery {
			unsynced = 0
			if w.Flush() == nil {
				s.fileCompactStep("sync part")
				f.Sync()
			}
		}
	}
	s.fileCompactStep("write map")
	s.mu.RLock()
	for k, e := range s.m {
		batch = append(batch, kv{k, e})
		if len(batch) == fileChunk {
			closed := s.closed
			s.mu.RUnlock()
			if closed {
				return fail(ErrClosed)
			}
			flush()
			// Compaction is background work: let any reader or writer
			// waiting for a processor run before the next chunk.
			runtime.Gosched()
			s.mu.RLock()
		}
	}
	s.mu.RUnlock()
	flush()
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	prefix := int64(len(fileMagic))
	if fi, err := f.Stat(); err == nil {
		prefix = fi.Size()
	} else {
		return fail(err)
	}
	if s.cfg.midCompact != nil {
		s.cfg.midCompact()
	}
	// Copy and fsync the tail, again while it grows, until what is left
	// is small: then the mirror's fsyncs find little of ours to flush.
	copied := base
	for round := 0; ; round++ {
		s.fileCompactStep("sync")
		if err := f.Sync(); err != nil {
			return fail(err)
		}
		s.mu.RLock()
		upTo := s.synced
		s.mu.RUnlock()
		if upTo-copied <= fileMirrorTail || round == 8 {
			break
		}
		s.fileCompactStep("copy tail")
		if _, err := fileCopy(old, f, prefix+copied-base, copied, upTo); err != nil {
			return fail(err)
		}
		copied = upTo
	}
	upTo, ok := mirror(f, prefix)
	if !ok {
		return fail(ErrClosed)
	}
	// From here a failure must also end the mirror: the result tells the
	// flusher, which closes its side.
	s.fileCompactStep("copy last tail")
	if _, err := fileCopy(old, f, prefix+copied-base, copied, upTo); err != nil {
		os.Remove(tmp)
		return fileCompacted{f: f, err: err}
	}
	s.fileCompactStep("sync last")
	if err := f.Sync(); err != nil {
		os.Remove(tmp)
		return fileCompacted{f: f, err: err}
	}
	s.fileCompactStep("rename")
	if err := os.Rename(tmp, s.path); err != nil {
		os.Remove(tmp)
		return fileCompacted{f: f, err: err}
	}
	// From here the new file is the store, whatever happens next.
	s.fileCompactStep("sync dir")
	if err := SyncDir(filepath.Dir(s.path)); err != nil {
		s.cfg.logger.Error("store: fsync of the directory after compaction failed", "path", s.path, "err", err)
	}
	return fileCompacted{f: f, delta: prefix - base}
}

// fileCopy copies src's bytes [from, to) to dst at off.
func fileCopy(src File, dst *os.File, off, from, to int64) (int64, error) {
	buf := make([]byte, max(min(to-from, 1<<20), 0))
	var n int64
	for from+n < to {
		chunk := buf[:min(int64(len(buf)), to-from-n)]
		if _, err := src.ReadAt(chunk, from+n); err != nil {
			return n, err
		}
		if _, err := dst.WriteAt(chunk, off+n); err != nil {
			return n, err
		}
		n += int64(len(chunk))
	}
	return n, nil
}

// fileCompactFinish takes a compactor's result between two batches: on
// success the new file, already renamed over the log, becomes the file,
// and the old one is closed in the background (closing the last handle of
// a large unlinked file frees its blocks, which takes time); on failure
// the mirror ends and the failure is logged. Either way it does no I/O
// that a writer waits for. Only the flusher (or OpenFileStore, before it
// starts) calls it.
func (s *FileStore) fileCompactFinish(r fileCompacted) {
	s.compacting = nil
	defer func() {
		err := r.err
		if err != nil && !errors.Is(err, ErrClosed) {
			err = fmt.Errorf("store: compaction of %s: %w", s.path, err)
		}
		for _, c := range s.compactFor {
			c <- err
		}
		s.compactFor = nil
	}()
	mirror := s.mirror
	s.mirror = nil
	if r.err != nil {
		if r.f != nil {
			s.fileCloseLater(r.f, "the failed compaction's file")
		}
		if !errors.Is(r.err, ErrClosed) { // a compactor stopped by Close
			s.cfg.logger.Error("store: compaction failed; still appending to the old file", "path", s.path, "err", r.err)
		}
		s.compactAt = 2 * s.size
		return
	}
	s.fileCloseLater(s.file, "the file compaction replaced")
	if mirror == nil { // compacted on open: nothing was mirrored
		mirror = r.f
		if s.cfg.wrap != nil {
			mirror = s.cfg.wrap(r.f)
		}
		s.mirrorDirty = false
	}
	s.file = mirror
	s.size += r.delta
	s.mu.Lock()
	s.synced = s.size
	s.mu.Unlock()
	s.dirty = s.mirrorDirty
	s.compactAt = 0
}

// fileCloseLater closes f off the flusher's path; Close waits for it.
func (s *FileStore) fileCloseLater(f File, what string) {
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		s.fileCompactStep("close")
		if err := f.Close(); err != nil {
			s.cfg.logger.Warn("store: closing "+what, "path", s.path, "err", err)
		}
	}()
}

// SyncDir makes a rename or a creation in dir durable (fsync of the
// directory, POSIX): the file store's log and compactions use it, and so
// does the server secret's file beside it.
func SyncDir(dir string) error {
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

// Close waits for writes already under way, stops the flusher, closes the
// file and releases the lock. Later calls return ErrClosed; a second
// Close returns nil.
func (s *FileStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.fileKick()
	<-s.flusherDone
	s.background.Wait()
	err := s.file.Close()
	s.mu.Lock()
	s.m = nil
	s.mu.Unlock()
	s.fileUnlock()
	if err != nil {
		return fmt.Errorf("store: close store: %w", err)
	}
	return nil
}

func (s *FileStore) fileUnlock() {
	fileUnlock(s.lock)
	s.lock.Close()
}
