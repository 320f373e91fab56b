package app

// Per-user limits across replicas: the tools' rate limits kept in the
// shared store, so that a user's allowance is one across the cluster.

import (
	"context"
	"encoding/json"
	"time"

	"remote-mcp-authkit/store"
	"remote-mcp-authkit/tools"
)

// kindRateLimit holds one user's token bucket for one tool (tools.Bucket
// as JSON) under the SHA-256 of the tool and the user; a bucket untouched
// for the limit's period is full again, so it expires then.
const kindRateLimit = "tool_rate"

// storeLimiter is a tools.Limiter over the shared store: one atomic
// Update per rate-limited call (the store serializes updates of one key
// across processes), paid only by tools that have a limit.
type storeLimiter struct{ st store.Store }

var _ tools.Limiter = storeLimiter{}

// Allow implements tools.Limiter.
func (s storeLimiter) Allow(ctx context.Context, tool, user string, l tools.RateLimit, now time.Time) (ok bool, retry time.Duration, err error) {
	err = s.st.Update(ctx, kindRateLimit, hashKey(tool+"\x00"+user), func(cur []byte) ([]byte, time.Time, error) {
		var b tools.Bucket
		if cur != nil && json.Unmarshal(cur, &b) != nil {
			b = tools.Bucket{} // unreadable: a full bucket
		}
		ok, retry = l.Spend(&b, now)
		next, err := json.Marshal(b)
		return next, now.Add(l.Per), err
	})
	return ok, retry, err
}
