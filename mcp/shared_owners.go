package mcp

// The bound on one owner's sessions (HTTPOptions.MaxSessionsPerOwner)
// across every process sharing a SessionDirectory that is also an
// OwnerIndex: the index counts the owner's sessions wherever they were
// opened, and a session pushed out by a new one ends on every process.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// OwnerIndex is what a SessionDirectory adds so that the bound on one
// owner's sessions holds across the processes sharing it. Sessions are
// named by their digest (the hex SHA-256 of the session id), never the id.
type OwnerIndex interface {
	// Admit records session digest as owner's until expires (renewing it
	// when it is there already). When owner then holds more than limit
	// unexpired sessions, the ones with the earliest expiry (the least
	// recently renewed) are removed from the index and from the directory,
	// and their digests returned, for the caller to end them everywhere.
	// It is atomic with respect to other Admits and Drops of one owner,
	// in any process.
	Admit(ctx context.Context, owner, digest string, expires time.Time, limit int) (ended []string, err error)
	// Drop removes digest from owner's sessions; an absent one is not an
	// error.
	Drop(ctx context.Context, owner, digest string) error
}

// SessionDigest names a session in an OwnerIndex and in the events that
// end it: the hex SHA-256 of its id, which alone lets nobody resume it.
func SessionDigest(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// endedSession is a relayed order to end an owner's session wherever a
// process holds a copy (relayedResponse.End): the index has pushed it out.
type endedSession struct {
	Owner  string `json:"o"`
	Digest string `json:"d"`
}

// admit counts sess in its owner's sessions across processes, until
// expires, and ends those it pushes out. A failure is logged: the bound then
// holds per process only, as without an index.
func (s *Server) admit(ctx context.Context, sess *Session, expires time.Time, limit int) {
	idx, ok := sess.dir.(OwnerIndex)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dirTimeout)
	defer cancel()
	ended, err := idx.Admit(ctx, sess.owner, SessionDigest(sess.id), expires, limit)
	if err != nil {
		s.logger.Warn("mcp: counting a shared session of its owner", "err", err)
		return
	}
	for _, d := range ended {
		s.logger.Info("mcp: session limit reached, ending the least recently renewed session of its owner", "session_digest", d[:16])
		b, err := json.Marshal(relayedResponse{End: &endedSession{Owner: sess.owner, Digest: d}})
		if err == nil && sess.relay != nil {
			// To every process, this one included: the relay is the bus.
			err = sess.relay.Send(ctx, "", b)
		} else if err == nil {
			s.endSession(endedSession{Owner: sess.owner, Digest: d})
		}
		if err != nil {
			s.logger.Warn("mcp: ending a session past its owner's limit on other processes", "err", err)
			s.endSession(endedSession{Owner: sess.owner, Digest: d})
		}
	}
}

// dropOwned removes an ended session from its owner's index, beside the
// caller.
func (s *Session) dropOwned(ctx context.Context) {
	idx, ok := s.dir.(OwnerIndex)
	if !ok {
		return
	}
	if err := idx.Drop(ctx, s.owner, SessionDigest(s.id)); err != nil {
		s.server.logger.Warn("mcp: dropping a shared session from its owner's index", "err", err)
	}
}

// endSession closes the copy held here, if any, of the owner's session
// named by e.Digest. Only that owner's sessions are hashed.
func (s *Server) endSession(e endedSession) {
	var found *Session
	s.mu.RLock()
	for sess := range s.byOwner[e.Owner] {
		if SessionDigest(sess.id) == e.Digest {
			found = sess
			break
		}
	}
	s.mu.RUnlock()
	if found != nil {
		found.close()
	}
}

// localMaxSessions is the bound addSession applies to an owner's sessions
// in this process. With an OwnerIndex the index decides which session a
// new one pushes out, across processes; the local bound is one more, a
// backstop for when the index cannot answer, so that it never picks
// another victim than the index does.
func (o *HTTPOptions) localMaxSessions() int {
	if _, ok := o.Sessions.(OwnerIndex); ok {
		return o.maxSessions() + 1
	}
	return o.maxSessions()
}

// forgetEverywhere ends a session on its client's DELETE: here, its
// record, and the copies other processes adopted, which would otherwise
// serve until their idle timeout.
func (s *Session) forgetEverywhere(ctx context.Context) {
	s.forget()
	if s.dir == nil || s.relay == nil {
		return
	}
	b, err := json.Marshal(relayedResponse{End: &endedSession{Owner: s.owner, Digest: SessionDigest(s.id)}})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dirTimeout)
		err = s.relay.Send(ctx, "", b)
		cancel()
	}
	if err != nil {
		s.server.logger.Warn("mcp: ending a deleted session's copies on other processes", "err", err)
	}
}
