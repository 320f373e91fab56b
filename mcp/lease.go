package mcp

// Leases on what a process holds for the others sharing its directory and
// task store: an HTTP+SSE session's record (and its entry in the owner
// index), and each shared task it runs. A process killed without cleanup
// cannot delete them; with a lease they stop counting once it runs out,
// so a message POSTed for a dead stream gets 404 (the client reconnects),
// a dead stream no longer counts against its owner's session limit, and a
// task whose process died reads failed instead of working until its TTL.
// One sweep per server renews everything it holds, not a timer per item.

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"
)

// defaultLease is ServerOptions.Lease's default: three renewals a lease,
// so two can fail (a slow store) before anything lapses.
const defaultLease = 90 * time.Second

// leases is a server's renewal sweep, started by the first thing leased.
type leases struct {
	start, stop sync.Once
	done        chan struct{}
	// paused stops renewals without cleanup: what a killed process looks
	// like to the others (tests).
	paused atomic.Bool
}

// lease is the server's lease duration.
func (s *Server) lease() time.Duration {
	if s.opts.Lease > 0 {
		return s.opts.Lease
	}
	return defaultLease
}

// startLeases makes sure the renewal sweep runs.
func (s *Server) startLeases() {
	s.leases.start.Do(func() {
		every := s.lease() / 3
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-s.leases.done:
					return
				case <-t.C:
				}
				if !s.leases.paused.Load() {
					s.renewLeases()
				}
			}
		}()
	})
}

// stopLeases ends the sweep (Shutdown).
func (s *Server) stopLeases() { s.leases.stop.Do(func() { close(s.leases.done) }) }

// renewLeases renews every lease this server holds, one store write per
// HTTP+SSE session (its record) plus one owner index update, and one per
// running shared task. The store interfaces have no batched write; the
// sweep runs in one goroutine, so it costs one round trip at a time.
func (s *Server) renewLeases() {
	ctx, cancel := context.WithTimeout(context.Background(), s.lease()/3)
	defer cancel()
	var held []*Session
	s.mu.RLock()
	for _, sess := range s.sessions {
		if sess.sseOpts != nil {
			held = append(held, sess)
		}
	}
	s.mu.RUnlock()
	for _, sess := range held {
		if ctx.Err() != nil {
			break
		}
		s.saveSSE(ctx, sess, sess.sseOpts)
	}
	if s.tasks != nil {
		s.tasks.renew(ctx)
	}
}

// saveSSE records (or renews) an HTTP+SSE session's record for a lease,
// and its place in its owner's sessions across processes. It reports
// whether the record was saved.
func (s *Server) saveSSE(ctx context.Context, sess *Session, opts *HTTPOptions) bool {
	b, err := json.Marshal(sessionRecord{SSE: true, Owner: sess.owner, Credential: sess.cred})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dirTimeout)
		err = opts.Sessions.Save(ctx, sess.id, b, s.lease())
		cancel()
	}
	if err != nil {
		s.logger.Warn("mcp: saving a shared session record", "err", err)
		return false
	}
	if s.session(sess.id) != sess {
		// Closed meanwhile: its record was deleted, maybe before this
		// Save wrote it again.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dirTimeout)
		_ = opts.Sessions.Delete(ctx, sess.id)
		cancel()
		return false
	}
	if sess.dir != nil {
		s.admit(ctx, sess, time.Now().Add(s.lease()), opts.maxSessions())
	}
	return true
}
