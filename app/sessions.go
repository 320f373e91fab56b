package app

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"remote-mcp-authkit/events"
	"remote-mcp-authkit/mcp"
	"remote-mcp-authkit/store"
)

// kindSession is the store kind of shared MCP session records.
const kindSession = "mcp_session"

// sessionDirectory keeps mcp's shared session records in the store, so
// that replicas sharing it serve each other's Streamable HTTP sessions
// (mcp.HTTPOptions.Sessions). A session id lets its owner's requests use
// the session, so it is stored only as its SHA-256, as tokens are.
type sessionDirectory struct{ st store.Store }

// sessionKey is the record's key: the session's digest, by which the
// owner index (Admit) deletes the records of the sessions it pushes out.
func sessionKey(id string) string { return mcp.SessionDigest(id) }

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

// busRelay sends what mcp relays between processes (a client's response
// to a server-to-client request, a message for an HTTP+SSE or GET stream,
// a session pushed out, a resource change; mcp.HTTPOptions.Relay and
// mcp.ServerOptions.Relay) to the other replicas as an events
// StreamMessage keyed by the session id (empty for what concerns every
// session); the replica holding the session takes it. The session id alone
// grants nothing (a request must also carry its owner's token). A message
// past the bus's size goes through the store (relay.go).
type busRelay struct {
	bus events.Bus
	st  store.Store
}

// Send publishes msg for the replica holding the session.
func (r busRelay) Send(ctx context.Context, sessionID string, msg []byte) error {
	return publishRelayed(ctx, r.bus, r.st, events.StreamMessage, sessionID, msg)
}

// kindOwnerSessions holds, under the SHA-256 of an owner, the digests of
// the owner's shared sessions and when each expires unless renewed: what
// bounds an owner's sessions across replicas (mcp.OwnerIndex).
const kindOwnerSessions = "mcp_owner_sessions"

var _ mcp.OwnerIndex = sessionDirectory{}

// Admit implements mcp.OwnerIndex in one Update of the owner's record, so
// that replicas admitting sessions of one owner at once count each other's.
// The records of the sessions it pushes out are deleted, so no replica
// adopts them again.
func (d sessionDirectory) Admit(ctx context.Context, owner, digest string, expires time.Time, limit int) ([]string, error) {
	var ended []string
	now := time.Now()
	err := d.st.Update(ctx, kindOwnerSessions, hashKey(owner), func(cur []byte) ([]byte, time.Time, error) {
		ended = ended[:0] // the store may call this more than once
		live := map[string]int64{}
		if cur != nil {
			if err := json.Unmarshal(cur, &live); err != nil {
				live = map[string]int64{} // unreadable: count afresh rather than lock the owner out
			}
		}
		for k, at := range live {
			if !time.Unix(0, at).After(now) {
				delete(live, k)
			}
		}
		live[digest] = expires.UnixNano()
		for len(live) > limit {
			oldest, at := "", int64(0)
			for k, e := range live {
				if k != digest && (oldest == "" || e < at || (e == at && k < oldest)) {
					oldest, at = k, e
				}
			}
			if oldest == "" {
				break
			}
			delete(live, oldest)
			ended = append(ended, oldest)
		}
		b, err := json.Marshal(live)
		return b, latest(live), err
	})
	if err != nil {
		return nil, err
	}
	for _, k := range ended {
		// sessionKey(id) is the digest: the record is deleted by it.
		if err := d.st.Delete(ctx, kindSession, k); err != nil {
			return ended, err
		}
	}
	return ended, nil
}

// Drop implements mcp.OwnerIndex.
func (d sessionDirectory) Drop(ctx context.Context, owner, digest string) error {
	return d.st.Update(ctx, kindOwnerSessions, hashKey(owner), func(cur []byte) ([]byte, time.Time, error) {
		live := map[string]int64{}
		if cur == nil || json.Unmarshal(cur, &live) != nil {
			return nil, time.Time{}, nil
		}
		if _, ok := live[digest]; !ok {
			return cur, latest(live), nil
		}
		delete(live, digest)
		if len(live) == 0 {
			return nil, time.Time{}, nil
		}
		b, err := json.Marshal(live)
		return b, latest(live), err
	})
}

// latest is the last expiry among an owner's sessions: when the owner's
// record may go.
func latest(live map[string]int64) time.Time {
	var last time.Time
	for _, at := range live {
		if t := time.Unix(0, at); t.After(last) {
			last = t
		}
	}
	return last
}
