package tools

// Rate limits per user and per tool: a tool row declares how often one
// caller may run it (Tool.RateLimit), the operator may change that
// (Table.SetRateLimit, ParseRateLimits), and a call past it is answered with
// an isError result saying when to retry, which a model can act on (tools,
// "Error Handling": execution errors are results the model sees).
//
// Limits are kept in this process's memory unless the table is given a
// Limiter (Table.SetLimiter): behind several replicas, one over their shared
// store makes a limit hold across all of them.

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"remote-mcp-authkit/mcp"
)

// RateLimit is how often one user may call a tool: Calls calls per Per, as
// a token bucket holding Calls tokens that refills one every Per/Calls. So
// a user may spend the whole allowance at once, then one call every
// Per/Calls. The zero value means no limit.
type RateLimit struct {
	Calls int
	Per   time.Duration
}

// IsZero reports whether the limit is off.
func (l RateLimit) IsZero() bool { return l.Calls <= 0 || l.Per <= 0 }

// String writes the limit as ParseRateLimits reads it, e.g. "5/1m0s".
func (l RateLimit) String() string {
	if l.IsZero() {
		return "off"
	}
	return strconv.Itoa(l.Calls) + "/" + l.Per.String()
}

// ParseRateLimits reads an operator's limits: comma-separated
// tool=calls/duration pairs, or tool=off, e.g. "generateImage=10/1m,add=off".
// The duration is Go's (30s, 1m, 1h). Tool names are checked by
// Table.SetRateLimit.
func ParseRateLimits(s string) (map[string]RateLimit, error) {
	out := map[string]RateLimit{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, spec, ok := strings.Cut(part, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("rate limit %q: want tool=calls/duration or tool=off", part)
		}
		if spec == "off" || spec == "0" {
			out[name] = RateLimit{}
			continue
		}
		n, per, ok := strings.Cut(spec, "/")
		calls, err := strconv.Atoi(n)
		if !ok || err != nil || calls < 1 || calls > 1e6 {
			return nil, fmt.Errorf("rate limit %q: calls must be a whole number from 1 to 1000000 before the /", part)
		}
		d, err := time.ParseDuration(per)
		if err != nil || d < time.Second || d > 24*time.Hour {
			return nil, fmt.Errorf("rate limit %q: the period after the / must be a duration from 1s to 24h (e.g. 1m)", part)
		}
		out[name] = RateLimit{Calls: calls, Per: d}
	}
	return out, nil
}

// maxLimitBuckets bounds one tool's limiter: past it, buckets that are
// full again go first, then arbitrary ones (whose users get a fresh
// allowance early, which only someone holding that many accounts causes).
const maxLimitBuckets = 100000

// callLimiter is a token bucket per user for one tool.
type callLimiter struct {
	limit   RateLimit
	mu      sync.Mutex
	buckets map[string]*Bucket
	swept   time.Time
}

// Bucket is one user's token bucket for one RateLimit: the state a
// Limiter keeps per (tool, user).
type Bucket struct {
	Tokens float64   `json:"t"`
	Last   time.Time `json:"l"`
}

// Spend refills b for the time since b.Last and takes one call from it
// when one is there; else it reports how long until one is. A nil b (a
// user unseen for a period) starts full.
func (l RateLimit) Spend(b *Bucket, now time.Time) (ok bool, retry time.Duration) {
	full := float64(l.Calls)
	interval := l.Per / time.Duration(l.Calls)
	if b.Last.IsZero() {
		b.Tokens = full
	} else {
		b.Tokens = math.Min(full, b.Tokens+float64(now.Sub(b.Last))/float64(interval))
	}
	b.Last = now
	if b.Tokens >= 1 {
		b.Tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.Tokens) * float64(interval))
}

// Limiter keeps the allowance of rate-limited tools somewhere other than
// this process's memory (Table.SetLimiter): a store shared by replicas, so
// that a user's limit holds across all of them. Allow spends one call of
// user's allowance of tool under l at now; ok false says none is left and
// retry how long until one is. An error means it could not decide (its
// store is unreachable): the table then decides with its in-process
// buckets, so the limit still holds per process. Allow is called
// concurrently.
type Limiter interface {
	Allow(ctx context.Context, tool, user string, l RateLimit, now time.Time) (ok bool, retry time.Duration, err error)
}

func newCallLimiter(l RateLimit) *callLimiter {
	return &callLimiter{limit: l, buckets: map[string]*Bucket{}}
}

// allow spends one call of user's allowance at now; when none is left it
// returns how long until one is.
func (c *callLimiter) allow(user string, now time.Time) (bool, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A bucket untouched for Per is full again: forgetting it changes
	// nothing, so the map holds only users active within one period.
	if now.Sub(c.swept) > c.limit.Per || len(c.buckets) >= maxLimitBuckets {
		for k, b := range c.buckets {
			if now.Sub(b.Last) >= c.limit.Per {
				delete(c.buckets, k)
			}
		}
		for k := range c.buckets {
			if len(c.buckets) < maxLimitBuckets*3/4 {
				break
			}
			delete(c.buckets, k)
		}
		c.swept = now
	}
	b := c.buckets[user]
	if b == nil {
		b = &Bucket{}
		c.buckets[user] = b
	}
	return c.limit.Spend(b, now)
}

// rateLimitedResult is the answer to a call past its limit: an isError
// result that says which limit, and when to retry, in seconds and as a
// time, so a model can wait or tell the person.
func rateLimitedResult(name string, l RateLimit, retry time.Duration, now time.Time) *mcp.CallToolResult {
	secs := int(math.Ceil(retry.Seconds()))
	if secs < 1 {
		secs = 1
	}
	at := now.Add(time.Duration(secs) * time.Second).UTC().Format(time.RFC3339)
	text := fmt.Sprintf("rate limited: %s may be called %d times per %s by each user; retry after %d seconds (at %s)",
		name, l.Calls, l.Per, secs, at)
	return ErrorResult(text)
}
