package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"remote-mcp-authkit/events"
	"remote-mcp-authkit/store"
)

// kindSession is the store kind of shared MCP session records.
const kindSession = "mcp_session"

// sessionDirectory keeps mcp's shared session records in the store, so
// that replicas sharing it serve each other's Streamable HTTP sessions
// (mcp.HTTPOptions.Sessions). A session id lets its owner's requests use
// the session, so it is stored only as its SHA-256, as tokens are.
type sessionDirectory struct{ st store.Store }

func sessionKey(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// Save stores the record until the idle timeout; renewals extend it.
func (d sessionDirectory) Save(ctx context.Context, id string, rec []byte, ttl time.Duration) error {
	return d.st.Put(ctx, kindSession, sessionKey(id), rec, time.Now().Add(ttl))
}

// Load returns the record, nil when there is none.
func (d sessionDirectory) Load(ctx context.Context, id string) ([]byte, error) {
	b, err := d.st.Get(ctx, kindSession, sessionKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return b, err
}

// Delete removes the record.
func (d sessionDirectory) Delete(ctx context.Context, id string) error {
	return d.st.Delete(ctx, kindSession, sessionKey(id))
}

// busRelay sends a client's response to a server-to-client request to the
// other replicas (mcp.HTTPOptions.Relay) as an events.StreamMessage keyed
// by the session id; the replica whose handler waits takes it. The session
// id alone grants nothing (a request must also carry its owner's token).
type busRelay struct{ bus events.Bus }

// Send publishes msg for the replica holding the session.
func (r busRelay) Send(ctx context.Context, sessionID string, msg []byte) error {
	return r.bus.Publish(ctx, events.Event{Kind: events.StreamMessage, Key: sessionID, Data: msg})
}
