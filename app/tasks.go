package app

// The tasks of the tasks extension (mcp/tasks.go) in the shared store, so
// that every replica answers tasks/get for a task any of them started; the
// work runs on the replica that started it, and tasks/cancel and
// tasks/update received elsewhere reach it on the events bus.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"remote-mcp-authkit/events"
	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/store"
)

// Store kinds of the shared tasks.
const (
	// kindTask holds one task (mcp.Task as JSON) under the SHA-256 of its
	// id, until its TTL.
	kindTask = "mcp_task"
	// kindTaskOwner holds, under the SHA-256 of an owner, the expiry times
	// of that owner's tasks: what bounds an owner's live tasks across
	// replicas (TaskOptions.MaxPerOwner).
	kindTaskOwner = "mcp_task_owner"
)

// storeTasks is an mcp.TaskStore over a store.Store shared by replicas.
// Its atomicity is the store's: Create counts an owner's live tasks in one
// Update of the owner's record, and Update of a task is one Update of its
// record, which no two processes interleave.
type storeTasks struct {
	st  store.Store
	now func() time.Time // for tests
}

var _ mcp.TaskStore = storeTasks{}

func hashKey(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func (s storeTasks) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// Create implements mcp.TaskStore.
func (s storeTasks) Create(ctx context.Context, t *mcp.Task, maxPerOwner int) error {
	now, expires := s.clock(), t.CreatedAt.Add(t.TTL)
	err := s.st.Update(ctx, kindTaskOwner, hashKey(t.Owner), func(cur []byte) ([]byte, time.Time, error) {
		var live []int64 // expiry times, Unix nanoseconds
		if cur != nil {
			if err := json.Unmarshal(cur, &live); err != nil {
				live = nil // unreadable: start the count afresh rather than lock the owner out
			}
		}
		kept := live[:0]
		last := expires
		for _, e := range live {
			if at := time.Unix(0, e); at.After(now) {
				kept = append(kept, e)
				if at.After(last) {
					last = at
				}
			}
		}
		if len(kept) >= maxPerOwner {
			return nil, time.Time{}, mcp.ErrTooManyTasks
		}
		b, err := json.Marshal(append(kept, expires.UnixNano()))
		return b, last, err
	})
	if err != nil {
		return err
	}
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return s.st.Update(ctx, kindTask, hashKey(t.ID), func(cur []byte) ([]byte, time.Time, error) {
		if cur != nil {
			return nil, time.Time{}, errors.New("app: task id already in use")
		}
		return b, expires, nil
	})
}

// decode reads a stored task and checks it is owner's and live.
func (s storeTasks) decode(b []byte, owner string) (*mcp.Task, error) {
	var t mcp.Task
	if b == nil || json.Unmarshal(b, &t) != nil {
		return nil, mcp.ErrTaskNotFound
	}
	if subtle.ConstantTimeCompare([]byte(t.Owner), []byte(owner)) != 1 || s.clock().Sub(t.CreatedAt) >= t.TTL {
		return nil, mcp.ErrTaskNotFound
	}
	return &t, nil
}

// Get implements mcp.TaskStore.
func (s storeTasks) Get(ctx context.Context, owner, id string) (*mcp.Task, error) {
	b, err := s.st.Get(ctx, kindTask, hashKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, mcp.ErrTaskNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.decode(b, owner)
}

// Update implements mcp.TaskStore. fn runs on a fresh copy each time the
// store calls the update function, so a retried update applies it once.
func (s storeTasks) Update(ctx context.Context, owner, id string, fn func(*mcp.Task)) (*mcp.Task, error) {
	var out *mcp.Task
	err := s.st.Update(ctx, kindTask, hashKey(id), func(cur []byte) ([]byte, time.Time, error) {
		t, err := s.decode(cur, owner)
		if err != nil {
			return nil, time.Time{}, err
		}
		fn(t)
		b, err := json.Marshal(t)
		if err != nil {
			return nil, time.Time{}, err
		}
		out = t
		return b, t.CreatedAt.Add(t.TTL), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// busTaskRelay carries tasks/cancel and tasks/update answers to the
// replica running the task (mcp.TaskOptions.Relay) as an events
// TaskMessage keyed by the task id; the id alone grants nothing (the
// sender checked the caller owns the task). Answers past the bus's size
// go through the store (relay.go).
type busTaskRelay struct {
	bus events.Bus
	st  store.Store
}

// Send publishes msg for the replica running the task.
func (r busTaskRelay) Send(ctx context.Context, taskID string, msg []byte) error {
	return publishRelayed(ctx, r.bus, r.st, events.TaskMessage, taskID, msg)
}
