package oauth

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// rateLimiter is a token bucket per remote address: each address may spend
// burst requests at once and earns one back every interval. Idle buckets are
// dropped, and at most maxRateBuckets are kept, so an address sweep cannot
// grow memory without bound.
type rateLimiter struct {
	mu       sync.Mutex
	interval time.Duration
	burst    int
	now      func() time.Time
	buckets  map[string]*bucket
	swept    time.Time
}

// maxRateBuckets bounds a limiter's memory. When a sweep leaves more than
// this, random buckets go until a quarter is free: their addresses get a
// fresh burst, which only an attacker holding that many addresses can
// cause, and who could spend as much anyway.
const maxRateBuckets = 10000

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
		if len(l.buckets) >= maxRateBuckets {
			for k := range l.buckets {
				delete(l.buckets, k)
				if len(l.buckets) < maxRateBuckets*3/4 {
					break
				}
			}
		}
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

// rateKey is what a request is rate limited by: the client's IPv4 address,
// or the /64 prefix of its IPv6 address, since one host or network gets a
// whole /64 and may send from any address in it (RFC 7421 s1). Forwarded
// headers are deliberately ignored: anyone can set them.
func rateKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64)
		return p.String()
	}
	return ip.String()
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
