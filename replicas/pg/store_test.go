package pg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"remote-mcp-authkit/store"
	"remote-mcp-authkit/store/storetest"
)

// testURL returns DATABASE_URL, the PostgreSQL the tests run against (the
// CI script starts a private cluster and sets it), or skips.
func testURL(t testing.TB) string {
	u := os.Getenv("DATABASE_URL")
	if u == "" {
		t.Skip("DATABASE_URL is not set; .ci/replicas.sh starts a PostgreSQL and sets it")
	}
	return u
}

// freshSchema creates an empty schema, dropped when the test ends, and
// returns a connection string whose search_path is it: each test gets a
// database of its own inside the shared one.
func freshSchema(t testing.TB) string {
	base := testURL(t)
	var b [6]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" {
		return fmt.Sprintf("%s search_path=%s", base, name)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// The PostgreSQL store keeps every promise the memory and file stores do.
func TestStoreBehaviour(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		s, err := Open(context.Background(), freshSchema(t), WithClock(now))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Processes starting at the same moment on an empty database migrate it
// once: every Open succeeds and one version row per migration exists.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	cs := freshSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	stores := make(chan *Store, 6)
	for range 6 {
		wg.Go(func() {
			s, err := Open(context.Background(), cs)
			if err != nil {
				errs <- err
				return
			}
			stores <- s
		})
	}
	wg.Wait()
	close(errs)
	close(stores)
	for err := range errs {
		t.Errorf("Open: %v", err)
	}
	var one *Store
	for s := range stores {
		one = s
		t.Cleanup(func() { s.Close() })
	}
	if one == nil {
		t.Fatal("no store opened")
	}
	var rows, maxV int
	if err := one.pool.QueryRow(context.Background(), `SELECT count(*), max(version) FROM pg_mcp_migrations`).Scan(&rows, &maxV); err != nil {
		t.Fatal(err)
	}
	if rows != len(migrations) || maxV != len(migrations) {
		t.Fatalf("migrations table: %d rows, version %d; want %d and %d", rows, maxV, len(migrations), len(migrations))
	}
}

// A database migrated by a newer program is refused, not written.
func TestNewerSchemaRefused(t *testing.T) {
	cs := freshSchema(t)
	s, err := Open(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(context.Background(), `INSERT INTO pg_mcp_migrations (version) VALUES ($1)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(context.Background(), cs); err == nil {
		t.Fatal("Open of a newer schema succeeded")
	}
}

// Two processes' stores on one database: Update of a missing key from
// both at once runs fn on "absent" exactly once, as a single-use code's
// redemption needs.
func TestUpdateAcrossStores(t *testing.T) {
	cs := freshSchema(t)
	a, err := Open(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	for round := range 20 {
		key := fmt.Sprint("code", round)
		if err := a.Put(ctx, "code", key, []byte("unredeemed"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		won := 0
		var wg sync.WaitGroup
		for _, s := range []*Store{a, b, a, b} {
			wg.Go(func() {
				err := s.Update(ctx, "code", key, func(cur []byte) ([]byte, time.Time, error) {
					if cur != nil {
						mu.Lock()
						won++
						mu.Unlock()
					}
					return nil, time.Time{}, nil // take it
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("round %d: %d redemptions of one code", round, won)
		}
	}
}
