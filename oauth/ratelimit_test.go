package oauth

// Tests of the per-key rate limiter (ratelimit.go).

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

// The per-address rate limiters must not let an attacker grow memory
// without bound: a sweep only drops buckets idle for burst*interval, so
// fresh source addresses (an IPv6 /64 holds 2^64 of them) each added one
// until then. And an IPv6 client picks any address of its /64 at will, so
// counting per address limited nothing.
func TestRateLimiterBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newRateLimiter(time.Second, 60, func() time.Time { return now })
	for i := range 3 * maxRateBuckets {
		l.allow(fmt.Sprintf("198.51.%d.%d", i/256, i%256))
	}
	if n := len(l.buckets); n > maxRateBuckets {
		t.Errorf("rate limiter holds %d buckets, more than %d", n, maxRateBuckets)
	}

	key := func(addr string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		return rateKey(r)
	}
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"[2001:db8:1:2::1]:1000", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:2000", true},
		{"[2001:db8:1:2::1]:1000", "[2001:db8:1:3::1]:1000", false},
		{"192.0.2.1:1000", "192.0.2.1:2000", true},
		{"192.0.2.1:1000", "192.0.2.2:1000", false},
		{"[::ffff:192.0.2.1]:1000", "192.0.2.1:1", true},
		{"[::ffff:192.0.2.1]:1000", "[::ffff:192.0.2.2]:1", false},
	} {
		if got := key(tc.a) == key(tc.b); got != tc.same {
			t.Errorf("rateKey(%s)=%q, rateKey(%s)=%q: same=%v, want %v", tc.a, key(tc.a), tc.b, key(tc.b), got, tc.same)
		}
	}
}
