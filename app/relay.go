package app

// Messages between replicas larger than an event carries
// (events.MaxDataLen, bounded by PostgreSQL's NOTIFY): the payload goes
// into the shared store under a fresh key for a short while, and the event
// carries a reference to it, which each receiver reads back. The event
// stays the signal; the store is where the bytes are, as for everything
// else the replicas share.

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"remote-mcp-authkit/events"
	"remote-mcp-authkit/store"
)

// kindRelayPayload holds the payload of one large relayed message.
const kindRelayPayload = "relay_payload"

// relayPayloadTTL is how long a large payload stays readable: every
// replica reads it within a round trip of the event, so a minute covers a
// slow one; the store sweeps it after.
const relayPayloadTTL = time.Minute

// relayRef starts an event's Data that refers to a stored payload. The
// relayed messages are JSON, which never starts with a NUL byte.
var relayRef = []byte("\x00ref:")

// publishRelayed publishes a relayed message, through the store when it is
// too large for the bus.
func publishRelayed(ctx context.Context, bus events.Bus, st store.Store, kind events.Kind, key string, data []byte) error {
	if len(data) <= events.MaxDataLen || st == nil {
		return bus.Publish(ctx, events.Event{Kind: kind, Key: key, Data: data})
	}
	id := rand.Text()
	if err := st.Put(ctx, kindRelayPayload, id, data, time.Now().Add(relayPayloadTTL)); err != nil {
		return err
	}
	return bus.Publish(ctx, events.Event{Kind: kind, Key: key, Data: append(bytes.Clone(relayRef), id...)})
}

// resolveRelayed calls deliver with the message e carries: at once for one
// carried whole, else once its payload is read back from the store, beside
// the caller (a bus subscriber must not wait on the store). deliver must
// not retain data.
func resolveRelayed(st store.Store, logger *slog.Logger, e events.Event, deliver func(key string, data []byte)) {
	id, ok := bytes.CutPrefix(e.Data, relayRef)
	if !ok || st == nil {
		deliver(e.Key, e.Data)
		return
	}
	key, ref := e.Key, string(id) // e.Data is not ours to keep
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		data, err := st.Get(ctx, kindRelayPayload, ref)
		if err != nil {
			logger.Warn("relayed message: reading its payload from the store", "kind", e.Kind.String(), "err", err)
			return
		}
		deliver(key, data)
	}()
}
