// Package events carries what one server process must tell the others that
// share its store: a grant revoked, a grant's permissions changed, an access
// token dropped, a message for a stream or a task another process holds.
// With one process (the default) the bus is Local, an in-process fan-out;
// the replicas module implements Bus on PostgreSQL LISTEN/NOTIFY.
//
// Events carry identifiers, never secrets: a grant ID, the SHA-256 of an
// access token, a stream ID. A receiver that needs more reads the store,
// which stays the only source of truth; an event only tells it that what it
// cached may be stale.
package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Kind says what happened.
type Kind uint8

const (
	// GrantRevoked: the grant whose ID is Key was deleted from the store.
	// Every receiver refuses its access tokens from now on and ends what
	// they opened (MCP sessions and their streams).
	GrantRevoked Kind = 1
	// GrantChanged: the grant whose ID is Key now carries another identity
	// (role, organization, permissions), already stored. Receivers drop
	// what they cached of it and tell its live sessions that their tool
	// list changed.
	GrantChanged Kind = 2
	// TokenDropped: the access token whose hex SHA-256 is Key was deleted
	// from the store (rotated out); receivers forget it.
	TokenDropped Kind = 3
	// StreamMessage: Data is a message for the stream whose ID is Key; the
	// process holding that stream writes it, the others ignore it.
	StreamMessage Kind = 4
	// Resync is never published: a Bus delivers it to its own subscribers
	// when it may have missed events (a lost connection to the engine that
	// carries them). Receivers drop every cache that events keep fresh and
	// reload from the store.
	Resync Kind = 5
	// TaskMessage: Data is a message for the task whose ID is Key (a
	// cancellation, answers to its input requests); the process running
	// that task acts on it, the others ignore it.
	TaskMessage Kind = 6
)

// String names the kind, for logs.
func (k Kind) String() string {
	switch k {
	case GrantRevoked:
		return "grant-revoked"
	case GrantChanged:
		return "grant-changed"
	case TokenDropped:
		return "token-dropped"
	case StreamMessage:
		return "stream-message"
	case Resync:
		return "resync"
	case TaskMessage:
		return "task-message"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Size limits of one event. PostgreSQL's NOTIFY carries at most 8000 bytes;
// these leave room for framing.
const (
	MaxKeyLen  = 256
	MaxDataLen = 4096
)

// ErrTooLarge is wrapped by Publish's error for an event past the limits.
var ErrTooLarge = errors.New("events: event too large")

// Event is one thing that happened.
type Event struct {
	Kind Kind
	Key  string
	Data []byte
}

// Check enforces the size limits and refuses Resync, which only a Bus
// itself may deliver. Every Bus calls it in Publish.
func (e Event) Check() error {
	switch {
	case e.Kind == Resync:
		return errors.New("events: Resync is delivered by a Bus, never published")
	case e.Kind < GrantRevoked || e.Kind > TaskMessage:
		return fmt.Errorf("events: unknown kind %d", uint8(e.Kind))
	case len(e.Key) > MaxKeyLen:
		return fmt.Errorf("%w: key is %d bytes, the limit is %d", ErrTooLarge, len(e.Key), MaxKeyLen)
	case len(e.Data) > MaxDataLen:
		return fmt.Errorf("%w: data is %d bytes, the limit is %d", ErrTooLarge, len(e.Data), MaxDataLen)
	}
	return nil
}

// Bus is the seam between processes that share a store.
//
// The contract every implementation keeps:
//
//   - Publish delivers e to every subscriber of every process on the bus,
//     this process included. To this process's subscribers it delivers
//     synchronously, before Publish returns, so that what the publisher
//     does next already sees the effect (a revoked grant is refused by the
//     very next request here). To other processes it delivers promptly (the
//     PostgreSQL bus: one round trip) but asynchronously, and Publish
//     returning nil means only that the event was handed to the engine.
//   - Publish is called only after the change it announces is stored, so
//     a receiver that reads the store on delivery sees it.
//   - Delivery is at most once per subscriber. An event lost in transit is
//     made up for by Resync: a Bus that may have missed events (its
//     connection dropped) delivers Resync to its subscribers once it is
//     connected again, before any later event.
//   - Events from one publishing goroutine arrive in the order published;
//     nothing is promised between publishers.
//   - Publish and Subscribe may be called from any goroutine at any time.
//     Subscribers may be called concurrently with each other (from
//     different publishers, and from the bus's own receiving goroutine),
//     so they guard their own state; they must be quick and must not block
//     on the bus (no Publish from a subscriber).
type Bus interface {
	// Publish announces e. It fails only for an event past the size
	// limits, a closed bus, or an engine that cannot take it now (the
	// caller logs it: other processes then learn of the change when their
	// caches recheck the store).
	Publish(ctx context.Context, e Event) error
	// Subscribe calls fn with every event delivered from now on, until the
	// returned function is called. fn must not retain e.Data.
	Subscribe(fn func(Event)) (unsubscribe func())
}

// Local is the in-process Bus: Publish calls every subscriber in turn on
// the publishing goroutine. Its zero value is ready to use.
type Local struct {
	mu   sync.RWMutex
	next int
	subs map[int]func(Event)
}

// NewLocal returns an empty in-process bus.
func NewLocal() *Local { return &Local{} }

// Publish delivers e to every current subscriber, synchronously.
func (l *Local) Publish(ctx context.Context, e Event) error {
	if err := e.Check(); err != nil {
		return err
	}
	l.Deliver(e)
	return nil
}

// Deliver calls every subscriber with e, with no checks: a Bus built on
// Local uses it to hand on what arrived from other processes, and Resync.
func (l *Local) Deliver(e Event) {
	l.mu.RLock()
	fns := make([]func(Event), 0, len(l.subs))
	for _, fn := range l.subs {
		fns = append(fns, fn)
	}
	l.mu.RUnlock()
	// Outside the lock: a subscriber may unsubscribe itself.
	for _, fn := range fns {
		fn(e)
	}
}

// Subscribe registers fn until the returned function is called.
func (l *Local) Subscribe(fn func(Event)) (unsubscribe func()) {
	l.mu.Lock()
	if l.subs == nil {
		l.subs = map[int]func(Event){}
	}
	id := l.next
	l.next++
	l.subs[id] = fn
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		delete(l.subs, id)
		l.mu.Unlock()
	}
}
