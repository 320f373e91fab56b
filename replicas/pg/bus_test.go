package pg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"remote-mcp-authkit/events"
)

// recorder collects delivered events for a test to wait on.
type recorder chan events.Event

func (r recorder) fn(e events.Event) { r <- e }

func (r recorder) next(t *testing.T, want events.Kind) events.Event {
	t.Helper()
	for {
		select {
		case e := <-r:
			if e.Kind == want {
				return e
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %v event within 10s", want)
		}
	}
}

func (r recorder) none(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case e := <-r:
		t.Fatalf("unexpected event %v %q", e.Kind, e.Key)
	case <-time.After(within):
	}
}

func testBus(t *testing.T, channel string) *Bus {
	t.Helper()
	u := testURL(t)
	pool, err := pgxpool.New(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	b := NewBus(pool, u, WithChannel(channel))
	t.Cleanup(func() { b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.WaitListening(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

func testChannel() string {
	var b [6]byte
	rand.Read(b[:])
	return "test_" + hex.EncodeToString(b[:])
}

// An event published in one process reaches the other's subscribers, and
// the publisher's own subscribers exactly once, before Publish returns.
func TestBusAcrossProcesses(t *testing.T) {
	ch := testChannel()
	a, b := testBus(t, ch), testBus(t, ch)
	ra, rb := make(recorder, 16), make(recorder, 16)
	a.Subscribe(ra.fn)
	b.Subscribe(rb.fn)
	data := []byte{0, 1, 2, ' ', 255}
	if err := a.Publish(context.Background(), events.Event{Kind: events.StreamMessage, Key: "stream 1", Data: data}); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-ra:
		if e.Kind != events.StreamMessage || e.Key != "stream 1" || string(e.Data) != string(data) {
			t.Fatalf("publisher's own subscriber got %+v", e)
		}
	default:
		t.Fatal("the publisher's own subscriber was not called before Publish returned")
	}
	e := rb.next(t, events.StreamMessage)
	if e.Key != "stream 1" || string(e.Data) != string(data) {
		t.Fatalf("other process got %+v", e)
	}
	if err := a.Publish(context.Background(), events.Event{Kind: events.GrantRevoked, Key: "g1"}); err != nil {
		t.Fatal(err)
	}
	if e := rb.next(t, events.GrantRevoked); e.Key != "g1" {
		t.Fatalf("other process got %+v", e)
	}
	<-ra                             // the revocation, delivered locally
	ra.none(t, 300*time.Millisecond) // and not a second time from NOTIFY
	// Another channel hears nothing.
	other := testBus(t, testChannel())
	ro := make(recorder, 4)
	other.Subscribe(ro.fn)
	a.Publish(context.Background(), events.Event{Kind: events.GrantChanged, Key: "g2"})
	rb.next(t, events.GrantChanged)
	ro.none(t, 300*time.Millisecond)
}

// The listener's connection killed (as a PostgreSQL restart or a network
// cut would): subscribers get Resync at once and again when it listens
// anew, and events flow again with no restart.
func TestBusReconnects(t *testing.T) {
	ch := testChannel()
	a, b := testBus(t, ch), testBus(t, ch)
	rb := make(recorder, 64)
	b.Subscribe(rb.fn)
	ctx := context.Background()
	tag, err := a.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()`,
		`LISTEN "`+ch+`"`)
	if err != nil {
		t.Fatal(err)
	}
	if tag.RowsAffected() != 2 {
		t.Fatalf("terminated %d listeners, want 2", tag.RowsAffected())
	}
	rb.next(t, events.Resync) // lost
	rb.next(t, events.Resync) // listening again
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.WaitListening(wctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, events.Event{Kind: events.GrantRevoked, Key: "after"}); err != nil {
		t.Fatal(err)
	}
	if e := rb.next(t, events.GrantRevoked); e.Key != "after" {
		t.Fatalf("after reconnect: %+v", e)
	}
}

// blackhole is a TCP proxy to PostgreSQL that can stop forwarding without
// closing anything, as a network partition does.
type blackhole struct {
	ln     net.Listener
	target string
	cut    atomic.Bool
}

func (p *blackhole) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pipe := func(dst, src net.Conn) {
			buf := make([]byte, 32<<10)
			for {
				n, err := src.Read(buf)
				if err != nil {
					return
				}
				if p.cut.Load() {
					continue // swallowed: the peer never hears of it
				}
				if _, err := dst.Write(buf[:n]); err != nil {
					return
				}
			}
		}
		go pipe(s, c)
		go pipe(c, s)
	}
}

// A listener whose connection goes silent (no FIN, no RST) notices within
// its idle check, tells its subscribers (Resync) and listens again once
// the path is back.
func TestBusNoticesSilentConnection(t *testing.T) {
	base := testURL(t)
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		t.Skip("DATABASE_URL is not a URL with a host")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &blackhole{ln: ln, target: u.Host}
	go p.serve()
	viaProxy := *u
	viaProxy.Host = ln.Addr().String()
	q := viaProxy.Query()
	q.Set("connect_timeout", "1")
	viaProxy.RawQuery = q.Encode()

	pool, err := pgxpool.New(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	b := NewBus(pool, viaProxy.String(), WithChannel(testChannel()))
	b.idle = 200 * time.Millisecond
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.WaitListening(ctx); err != nil {
		t.Fatal(err)
	}
	rb := make(recorder, 16)
	b.Subscribe(rb.fn)
	p.cut.Store(true)
	rb.next(t, events.Resync) // noticed: idle check, then a ping that never returns
	p.cut.Store(false)
	rb.next(t, events.Resync) // listening again
}
