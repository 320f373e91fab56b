// Package pg implements the server's two seams on PostgreSQL, so that any
// number of processes can share one database: Store (package store's
// interface: records, atomic updates, expiry) and Bus (package events:
// revocations, permission changes and dropped tokens, over LISTEN/NOTIFY).
//
// # Schema
//
// Open creates what it needs on first start and applies later versions in
// order, recording each in pg_mcp_migrations. It holds a session advisory
// lock while it does, so processes starting at the same moment migrate
// once, one after the other. A database migrated by a newer version than
// this one is refused rather than written in a form it does not know.
//
// Records live in pg_mcp_records(kind, key, value, expires): kind and key
// are bytea because they are arbitrary bytes to the Store (PostgreSQL's text
// cannot hold a zero byte); expires is Unix nanoseconds, 0 for never.
// Expiry is decided by the reading process's clock, like the single-process
// stores'; replicas need their clocks in step (NTP), to well within the
// shortest lifetime stored (authorization codes: 60s).
package pg

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"remote-mcp-authkit/store"
)

// migrations are applied in order; migration i brings the schema to
// version i+1. Never edit one that has shipped: append another.
var migrations = []string{
	`CREATE TABLE pg_mcp_records (
		kind    bytea  NOT NULL,
		key     bytea  NOT NULL,
		value   bytea  NOT NULL,
		expires bigint NOT NULL DEFAULT 0,
		PRIMARY KEY (kind, key)
	);
	CREATE INDEX pg_mcp_records_expires ON pg_mcp_records (expires) WHERE expires <> 0;`,
}

// migrateLock is the advisory lock (two-key form, so no collision with the
// single-key locks Update takes) held while migrating.
const migrateLockClass, migrateLockObj = 0x6d6370, 1

// sweepEvery is how often expired records are deleted. Reads already hide
// them; deleting only returns their space.
const sweepEvery = time.Minute

// Option configures Open.
type Option func(*config)

type config struct {
	logger *slog.Logger
	now    func() time.Time
}

// WithLogger sets where Store reports background failures (a failed sweep).
// Default slog.Default(). Keys and values are never logged.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the expiry clock. Default time.Now; tests move it.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Store is a store.Store on PostgreSQL. Every method may be called from any
// goroutine of any process sharing the database.
type Store struct {
	pool   *pgxpool.Pool
	cfg    config
	closed atomic.Bool
	stop   chan struct{}
	done   sync.WaitGroup
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Counter = (*Store)(nil)
)

// Open connects to the database named by connString (a PostgreSQL URL or
// key=value string; pgxpool's pool_* parameters apply) and migrates its
// schema. It fails when the database cannot be reached now; the caller
// decides whether to retry.
func Open(ctx context.Context, connString string, opts ...Option) (*Store, error) {
	cfg := config{logger: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	pool, err := pgxpool.New(ctx, connString)
	if err != nil {
		return nil, fmt.Errorf("pg: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, cfg: cfg, stop: make(chan struct{})}
	s.done.Add(1)
	go s.sweeper()
	return s, nil
}

// migrate brings the schema to the latest version under the advisory lock.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pg: connecting: %w", err)
	}
	defer conn.Release()
	// A session lock: released by the unlock below or, if this process
	// dies here, by the server when the connection drops.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, migrateLockClass, migrateLockObj); err != nil {
		return fmt.Errorf("pg: taking the migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, migrateLockClass, migrateLockObj)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS pg_mcp_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("pg: creating the migrations table: %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM pg_mcp_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("pg: reading the schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("pg: the database schema is at version %d, newer than this program knows (%d); run the newer version", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO pg_mcp_migrations (version) VALUES ($1)`, v)
			return err
		})
		if err != nil {
			return fmt.Errorf("pg: applying schema version %d: %w", v, err)
		}
	}
	return nil
}

// SchemaVersion reports the schema version the database is at.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM pg_mcp_migrations`).Scan(&v)
	return v, err
}

// begin is the first step of every call: refuse after Close or with a
// cancelled context.
func (s *Store) begin(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// expiry encodes an expiry as stored: Unix nanoseconds, 0 for never, and
// at least 1 for a time at or before 1970.
func expiry(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixNano(), 1)
}

func (s *Store) live(exp int64) bool {
	return exp == 0 || s.cfg.now().UnixNano() < exp
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, kind, key string) ([]byte, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if store.Check(kind, key, nil) != nil {
		return nil, store.ErrNotFound // no record can have this name
	}
	var v []byte
	var exp int64
	err := s.pool.QueryRow(ctx, `SELECT value, expires FROM pg_mcp_records WHERE kind = $1 AND key = $2`,
		[]byte(kind), []byte(key)).Scan(&v, &exp)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !s.live(exp)) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pg: get: %w", err)
	}
	if v == nil {
		v = []byte{} // stored empty, which is not absent
	}
	return v, nil
}

const upsert = `INSERT INTO pg_mcp_records (kind, key, value, expires) VALUES ($1, $2, $3, $4)
	ON CONFLICT (kind, key) DO UPDATE SET value = EXCLUDED.value, expires = EXCLUDED.expires`

// Put implements store.Store. The write is committed (and so durable, as
// the server's synchronous_commit setting makes it) when Put returns nil.
func (s *Store) Put(ctx context.Context, kind, key string, value []byte, expires time.Time) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.Check(kind, key, value); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	if _, err := s.pool.Exec(ctx, upsert, []byte(kind), []byte(key), value, expiry(expires)); err != nil {
		return fmt.Errorf("pg: put: %w", err)
	}
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, kind, key string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.Check(kind, key, nil); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM pg_mcp_records WHERE kind = $1 AND key = $2`, []byte(kind), []byte(key)); err != nil {
		return fmt.Errorf("pg: delete: %w", err)
	}
	return nil
}

// lockKey is the advisory lock Update holds for (kind, key): a row lock
// (SELECT ... FOR UPDATE) cannot serialise two Updates of a key that does
// not exist yet, and a single-use code's redemption is exactly that race
// when the code was already taken. Two keys sharing a hash only wait for
// each other.
func lockKey(kind, key string) int64 {
	h := fnv.New64a()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return int64(h.Sum64())
}

// Update implements store.Store: one transaction holding the key's advisory
// lock, so Updates of one key never interleave in any process.
func (s *Store) Update(ctx context.Context, kind, key string, fn func(current []byte) (next []byte, expires time.Time, err error)) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	if err := store.Check(kind, key, nil); err != nil {
		return err
	}
	k, kk := []byte(kind), []byte(key)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(kind, key)); err != nil {
			return fmt.Errorf("pg: update: %w", err)
		}
		var cur []byte
		var exp int64
		found := true
		switch err := tx.QueryRow(ctx, `SELECT value, expires FROM pg_mcp_records WHERE kind = $1 AND key = $2 FOR UPDATE`, k, kk).Scan(&cur, &exp); {
		case errors.Is(err, pgx.ErrNoRows):
			found, cur = false, nil
		case err != nil:
			return fmt.Errorf("pg: update: %w", err)
		case !s.live(exp):
			cur = nil // expired: fn sees it absent; a deletion still removes the row
		case cur == nil:
			cur = []byte{}
		}
		next, expires, err := fn(cur)
		if err != nil {
			return err
		}
		if next == nil {
			if !found {
				return nil
			}
			_, err = tx.Exec(ctx, `DELETE FROM pg_mcp_records WHERE kind = $1 AND key = $2`, k, kk)
		} else {
			if err := store.Check(kind, key, next); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, upsert, k, kk, next, expiry(expires))
		}
		if err != nil {
			return fmt.Errorf("pg: update: %w", err)
		}
		return nil
	})
}

// Count implements store.Counter: live records of kind.
func (s *Store) Count(ctx context.Context, kind string) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_mcp_records WHERE kind = $1 AND (expires = 0 OR expires > $2)`,
		[]byte(kind), s.cfg.now().UnixNano()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pg: count: %w", err)
	}
	return n, nil
}

// Ping implements store.Store's Ping: one round trip on a pooled connection.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	return s.pool.Ping(ctx)
}

// Pool is the connection pool, for a Bus sharing it.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// sweeper deletes expired records every sweepEvery. Every process sweeps;
// the deletes are idempotent, and a failed one is retried next time.
func (s *Store) sweeper() {
	defer s.done.Done()
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := s.pool.Exec(ctx, `DELETE FROM pg_mcp_records WHERE expires <> 0 AND expires <= $1`, s.cfg.now().UnixNano())
		cancel()
		if err != nil {
			s.cfg.logger.Warn("pg: sweeping expired records", "err", err)
		}
	}
}

// Close implements store.Store: it stops the sweeper and closes the pool.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	s.done.Wait()
	s.pool.Close()
	return nil
}
