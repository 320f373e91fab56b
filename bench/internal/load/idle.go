package load

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// IdleSet is a set of streams held open that wait for server messages: the
// standalone GET stream of a Streamable HTTP session (transports, "Listening
// for Messages from the Server"), or the GET /sse stream of the older
// transport. Each is a bare TCP connection the tool never reads after the
// response headers (and, for SSE, the endpoint event): no goroutine and no
// buffer per stream, so one process can hold tens of thousands. Whatever the
// server writes later waits in the kernel's socket buffers.
type IdleSet struct {
	mu       sync.Mutex
	conns    []net.Conn
	sessions []Session
	Errors   map[string]int64
}

// RaiseFileLimit lifts the soft RLIMIT_NOFILE to the hard limit and returns
// the limit now in force; each idle stream costs one descriptor here and one
// in the server.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	return lim.Cur, nil
}

// OpenIdle opens n idle streams with up to workers in parallel, stream i
// to target(i), giving up on any stream not open within its Timeout.
func OpenIdle(ctx context.Context, c *http.Client, target func(i int64) Target, n, workers int, seq *atomic.Int64) *IdleSet {
	set := &IdleSet{Errors: make(map[string]int64)}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n) && ctx.Err() == nil; i = next.Add(1) {
				t := target(i - 1)
				octx, cancel := context.WithTimeout(ctx, t.Timeout)
				conn, sess, err := openIdle(octx, c, t, seq)
				cancel()
				set.mu.Lock()
				if err != nil {
					set.Errors[Kind(err)]++
				} else {
					set.conns = append(set.conns, conn)
					if sess != nil {
						set.sessions = append(set.sessions, sess)
					}
				}
				set.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return set
}

// Open reports how many streams are open.
func (s *IdleSet) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Close closes every stream and, when deleteSessions is set, ends each
// Streamable HTTP session with DELETE as a well-behaved client does
// (transports, "Session Management", item 5).
func (s *IdleSet) Close(deleteSessions bool, workers int) {
	s.mu.Lock()
	conns, sessions := s.conns, s.sessions
	s.conns, s.sessions = nil, nil
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	if !deleteSessions {
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(sessions)); i = next.Add(1) - 1 {
				sessions[i].Close()
			}
		}()
	}
	wg.Wait()
}

func openIdle(ctx context.Context, c *http.Client, t Target, seq *atomic.Int64) (net.Conn, Session, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return nil, nil, err
	}
	hdr := http.Header{"Accept": {"text/event-stream"}}
	if t.Token != "" {
		hdr.Set("Authorization", "Bearer "+t.Token)
	}
	var sess Session
	if t.Transport != "sse" {
		s, err := openStreamable(ctx, c, t, seq)
		if err != nil {
			return nil, nil, err
		}
		sess = s
		st := s.(*streamable)
		if st.session != "" {
			hdr.Set("Mcp-Session-Id", st.session)
		}
		hdr.Set("Mcp-Protocol-Version", st.version)
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		if sess != nil {
			sess.Close()
		}
		return nil, nil, &Error{Kind: "transport", Err: err}
	}
	fail := func(err error) (net.Conn, Session, error) {
		conn.Close()
		if sess != nil {
			sess.Close()
		}
		return nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	hdr.Write(&b)
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return fail(&Error{Kind: "transport", Err: err})
	}
	br := bufio.NewReaderSize(conn, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return fail(&Error{Kind: "idle_no_headers", Err: err})
		}
		return fail(&Error{Kind: "transport", Err: err})
	}
	if resp.StatusCode != http.StatusOK {
		return fail(failf(fmt.Sprintf("idle_http_%d", resp.StatusCode), "GET stream: %s", resp.Status))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fail(failf("idle_bad_type", "GET stream has Content-Type %q", ct))
	}
	if t.Transport == "sse" {
		ev, err := readEvent(bufio.NewReaderSize(resp.Body, 512))
		if err != nil || ev.Name != "endpoint" {
			return fail(failf("idle_no_endpoint", "SSE stream sent no endpoint event: %v", err))
		}
	}
	conn.SetDeadline(time.Time{})
	return conn, sess, nil
}
