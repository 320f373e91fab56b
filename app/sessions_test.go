package app

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
	"remote-mcp-authkit/store"
)

// TestOwnerIndex: the directory bounds an owner's sessions across the
// replicas sharing its store: past the limit the least recently renewed
// session is pushed out (its record deleted), expired and dropped ones do
// not count, and owners are counted apart.
func TestOwnerIndex(t *testing.T) {
	st := oauth.NewMemoryStore()
	defer st.Close()
	a, b := sessionDirectory{st}, sessionDirectory{st} // two replicas
	ctx := context.Background()
	now := time.Now()
	save := func(d sessionDirectory, owner, id string, expires time.Time) []string {
		t.Helper()
		if err := d.Save(ctx, id, []byte(`{}`), time.Hour); err != nil {
			t.Fatal(err)
		}
		ended, err := d.Admit(ctx, owner, mcp.SessionDigest(id), expires, 2)
		if err != nil {
			t.Fatal(err)
		}
		return ended
	}
	if ended := save(a, "ada", "s1", now.Add(time.Minute)); ended != nil {
		t.Fatalf("first session pushed out %v", ended)
	}
	save(b, "ada", "s2", now.Add(2*time.Minute))
	save(a, "grace", "g1", now.Add(time.Minute))
	// s1 renewed on b: now s2 is the least recently renewed.
	if ended := save(b, "ada", "s1", now.Add(3*time.Minute)); ended != nil {
		t.Fatalf("a renewal pushed out %v", ended)
	}
	ended := save(a, "ada", "s3", now.Add(4*time.Minute))
	if !slices.Equal(ended, []string{mcp.SessionDigest("s2")}) {
		t.Fatalf("pushed out %v, want s2's digest", ended)
	}
	if _, err := st.Get(ctx, kindSession, sessionKey("s2")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the pushed-out session's record: %v", err)
	}
	for _, id := range []string{"s1", "s3"} {
		if rec, err := b.Load(ctx, id); err != nil || rec == nil {
			t.Fatalf("%s's record after the push: %v", id, err)
		}
	}
	// A dropped session frees its place.
	if err := b.Drop(ctx, "ada", mcp.SessionDigest("s1")); err != nil {
		t.Fatal(err)
	}
	if ended := save(a, "ada", "s4", now.Add(5*time.Minute)); ended != nil {
		t.Fatalf("after a drop, pushed out %v", ended)
	}
	// An expired one too.
	save(a, "grace", "g2", now.Add(-time.Second)) // already expired at the next admit
	if ended := save(b, "grace", "g3", now.Add(time.Minute)); ended != nil {
		t.Fatalf("an expired session counted: pushed out %v", ended)
	}
}
