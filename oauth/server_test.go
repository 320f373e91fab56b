package oauth

// Tests of what every endpoint shares (server.go): bounded body reads.

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// The HTTP server has no ReadTimeout (it would cut SSE streams), so the
// handlers must bound the time a body may take: a client that announced a
// body and then sent it a byte a minute held a goroutine and a connection
// at /token, /revoke, /register and the consent POST for ever.
func TestSlowBodyTimesOut(t *testing.T) {
	defer func(d time.Duration) { bodyReadTimeout = d }(bodyReadTimeout)
	bodyReadTimeout = 200 * time.Millisecond
	e := newEnv(t)
	for _, tc := range []struct{ path, ctype string }{
		{"/token", "application/x-www-form-urlencoded"},
		{"/revoke", "application/x-www-form-urlencoded"},
		{"/register", "application/json"},
		{"/authorize", "application/x-www-form-urlencoded"},
	} {
		conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 1000\r\n\r\ngrant_type=", tc.path, tc.ctype)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(conn) // a response, then the server closes; or our deadline
		conn.Close()
		if err != nil {
			t.Errorf("%s: a stalled body held the request open: %v (read %q)", tc.path, err, b)
		}
	}
}
