package oauth

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// rateLimiter is a token bucket per remote address: each address may spend
// burst requests at once and earns one back every interval. Idle buckets are
// dropped so an address sweep cannot grow memory without bound.
type rateLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	burst    int
	now      func() time.Time
	buckets  map[string]*bucket
	swept    time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(interval time.Duration, burst int, now func() time.Time) *rateLimiter {
	return &rateLimiter{interval: interval, burst: burst, now: now, buckets: map[string]*bucket{}}
}

// allow spends one token for key; when none is left it reports how long
// until one will be.
func (l *rateLimiter) allow(key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	full := time.Duration(l.burst) * l.interval
	if now.Sub(l.swept) > full {
		for k, b := range l.buckets {
			if now.Sub(b.last) > full {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: float64(l.burst), last: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(float64(l.burst), b.tokens+float64(now.Sub(b.last))/float64(l.interval))
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(l.interval))
}

// remoteAddr is the client's IP address without port. Forwarded headers are
// deliberately ignored: anyone can set them.
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// tooManyRequests answers 429 with Retry-After in whole seconds
// (RFC 6585 s4, RFC 9110 s10.2.3).
func tooManyRequests(w http.ResponseWriter, retry time.Duration) {
	secs := int(math.Ceil(retry.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSONError(w, &oauthError{http.StatusTooManyRequests, "too_many_requests", "too many registrations from this address; retry after " + strconv.Itoa(secs) + "s"})
}
