package app

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/oauth"
)

// TestStoreTasks: the shared task store keeps mcp.TaskStore's contract,
// seen from two "replicas" (two storeTasks on one store).
func TestStoreTasks(t *testing.T) {
	now := time.Now()
	st := oauth.NewMemoryStore()
	defer st.Close()
	clock := func() time.Time { return now }
	a, b := storeTasks{st: st, now: clock}, storeTasks{st: st, now: clock}
	ctx := context.Background()
	mk := func(id, owner string) *mcp.Task {
		return &mcp.Task{ID: id, Owner: owner, Status: mcp.TaskWorking, CreatedAt: now, TTL: time.Minute}
	}
	if err := a.Create(ctx, mk("a", "ada"), 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Create(ctx, mk("b", "ada"), 1); !errors.Is(err, mcp.ErrTooManyTasks) {
		t.Fatalf("second of one, on the other replica: %v", err)
	}
	if err := b.Create(ctx, mk("a", "grace"), 1); err == nil {
		t.Fatal("an id in use was taken again")
	}
	got, err := b.Get(ctx, "ada", "a")
	if err != nil || got.Status != mcp.TaskWorking || got.Owner != "ada" {
		t.Fatalf("Get on the other replica: %+v %v", got, err)
	}
	if _, err := b.Get(ctx, "grace", "a"); !errors.Is(err, mcp.ErrTaskNotFound) {
		t.Fatalf("another owner's Get: %v", err)
	}
	if _, err := b.Update(ctx, "grace", "a", func(t *mcp.Task) { t.Status = mcp.TaskCancelled }); !errors.Is(err, mcp.ErrTaskNotFound) {
		t.Fatalf("another owner's Update: %v", err)
	}
	if _, err := a.Get(ctx, "ada", "nope"); !errors.Is(err, mcp.ErrTaskNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	// Updates from both replicas at once all land.
	var wg sync.WaitGroup
	for i := range 20 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			if _, err := s.Update(ctx, "ada", "a", func(t *mcp.Task) { t.StatusMessage += "x" }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	done, err := a.Update(ctx, "ada", "a", func(t *mcp.Task) {
		t.Status, t.Error = mcp.TaskFailed, &mcp.JSONRPCError{Code: -32603, Message: "boom"}
	})
	if err != nil || len(done.StatusMessage) != 20 {
		t.Fatalf("after concurrent updates: %q %v", done.StatusMessage, err)
	}
	if got, _ := b.Get(ctx, "ada", "a"); got.Status != mcp.TaskFailed || got.Error == nil || got.Error.Message != "boom" {
		t.Fatalf("failed task read back: %+v", got)
	}
	// Past its TTL the task is gone and no longer counts.
	now = now.Add(time.Minute)
	if _, err := b.Get(ctx, "ada", "a"); !errors.Is(err, mcp.ErrTaskNotFound) {
		t.Fatalf("expired: %v", err)
	}
	if err := b.Create(ctx, mk("c", "ada"), 1); err != nil {
		t.Fatalf("an expired task still counted: %v", err)
	}
}

// TestStoreTasksKeepLease: a task's lease (mcp.Task.LeaseUntil) survives
// the store's encoding, so another replica can tell its process died.
func TestStoreTasksKeepLease(t *testing.T) {
	st := oauth.NewMemoryStore()
	defer st.Close()
	s, ctx := storeTasks{st: st}, context.Background()
	now := time.Now()
	lease := now.Add(90 * time.Second).Round(0)
	if err := s.Create(ctx, &mcp.Task{ID: "a", Owner: "ada", Status: mcp.TaskWorking, CreatedAt: now, TTL: time.Minute, LeaseUntil: lease}, 1); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "ada", "a")
	if err != nil || !got.LeaseUntil.Equal(lease) {
		t.Fatalf("lease after Create: %v %v, want %v", got.LeaseUntil, err, lease)
	}
	renewed := lease.Add(30 * time.Second)
	if _, err := s.Update(ctx, "ada", "a", func(t *mcp.Task) { t.LeaseUntil = renewed }); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "ada", "a"); err != nil || !got.LeaseUntil.Equal(renewed) {
		t.Fatalf("lease after renewal: %v %v, want %v", got.LeaseUntil, err, renewed)
	}
}
