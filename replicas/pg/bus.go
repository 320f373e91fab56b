package pg

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"remote-mcp-authkit/events"
)

// DefaultChannel is the NOTIFY channel every process of one deployment
// shares.
const DefaultChannel = "pg_mcp_events"

// Bus is an events.Bus on PostgreSQL LISTEN/NOTIFY. Publish delivers to this
// process's subscribers at once and sends one NOTIFY (through the pool);
// one dedicated connection LISTENs and hands on what other processes sent.
//
// When that connection drops, subscribers get events.Resync at once (events
// may be lost from now on, so caches must not trust themselves) and again
// once it listens anew (events may have been lost meanwhile). It reconnects
// by itself, backing off to reconnectMax between attempts.
//
// A payload is "origin kind key data", the last two in base64: an origin
// (random per Bus) lets the listener skip what this process sent, and
// base64 keeps the payload valid text whatever the bytes.
type Bus struct {
	local   events.Local
	pool    *pgxpool.Pool
	connStr string
	channel string
	origin  string
	log     *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	listening chan struct{} // closed while a LISTEN is in effect; replaced on loss

	idle time.Duration // see idleCheck; tests shorten it
}

// idleCheck is how long the listener waits for a notification before it
// checks the connection with a round trip, and that round trip's bound. A
// connection cut without a FIN or RST (a network partition, a balancer in
// between dropping it) otherwise looks idle for as long as TCP keepalive
// takes to notice, and every event sent meanwhile would be lost unseen.
const (
	idleCheck   = 15 * time.Second
	pingTimeout = 5 * time.Second
)

// reconnectMin and reconnectMax bound the wait between attempts to listen
// again.
const (
	reconnectMin = 100 * time.Millisecond
	reconnectMax = 2 * time.Second
)

var _ events.Bus = (*Bus)(nil)

// BusOption configures NewBus.
type BusOption func(*Bus)

// WithChannel sets the NOTIFY channel (default DefaultChannel): processes
// see each other's events only on the same channel. Tests use one each.
func WithChannel(name string) BusOption { return func(b *Bus) { b.channel = name } }

// WithBusLogger sets where the bus reports a lost connection. Default
// slog.Default().
func WithBusLogger(l *slog.Logger) BusOption { return func(b *Bus) { b.log = l } }

// NewBus starts a bus that publishes through pool and listens on a
// connection of its own to connString (the same database). It returns at
// once; the listener connects in the background (WaitListening waits).
func NewBus(pool *pgxpool.Pool, connString string, opts ...BusOption) *Bus {
	var o [8]byte
	rand.Read(o[:])
	b := &Bus{pool: pool, connStr: connString, channel: DefaultChannel, origin: hex.EncodeToString(o[:]),
		log: slog.Default(), done: make(chan struct{}), listening: make(chan struct{}), idle: idleCheck}
	for _, opt := range opts {
		opt(b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go b.listen(ctx)
	return b
}

// Publish implements events.Bus.
func (b *Bus) Publish(ctx context.Context, e events.Event) error {
	if err := e.Check(); err != nil {
		return err
	}
	b.local.Deliver(e)
	payload := b.origin + " " + strconv.Itoa(int(e.Kind)) + " " +
		base64.RawStdEncoding.EncodeToString([]byte(e.Key)) + " " + base64.RawStdEncoding.EncodeToString(e.Data)
	if _, err := b.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, b.channel, payload); err != nil {
		return fmt.Errorf("pg: notify: %w", err)
	}
	return nil
}

// Subscribe implements events.Bus.
func (b *Bus) Subscribe(fn func(events.Event)) (unsubscribe func()) { return b.local.Subscribe(fn) }

// WaitListening blocks until the listener's LISTEN is in effect (events
// other processes publish from then on arrive), or ctx ends.
func (b *Bus) WaitListening(ctx context.Context) error {
	b.mu.Lock()
	ch := b.listening
	b.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the listener.
func (b *Bus) Close() error {
	b.cancel()
	<-b.done
	return nil
}

func (b *Bus) listen(ctx context.Context) {
	defer close(b.done)
	wait := reconnectMin
	lost := false
	for ctx.Err() == nil {
		err := b.listenOnce(ctx, func() {
			wait = reconnectMin
			// Whatever was sent before LISTEN took effect is not coming.
			// Resync first, so that it precedes every later event and
			// WaitListening returns after it.
			b.local.Deliver(events.Event{Kind: events.Resync})
			b.mu.Lock()
			close(b.listening)
			b.mu.Unlock()
		})
		if ctx.Err() != nil {
			return
		}
		b.mu.Lock()
		select {
		case <-b.listening:
			b.listening = make(chan struct{})
			lost = true
		default:
		}
		b.mu.Unlock()
		if lost {
			// From now until LISTEN is back, events are lost: caches must
			// go to the store instead of trusting themselves.
			b.log.Warn("pg: lost the events connection; reconnecting", "err", err)
			b.local.Deliver(events.Event{Kind: events.Resync})
			lost = false
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, reconnectMax)
	}
}

// listenOnce connects, LISTENs, calls up and hands on notifications until
// the connection fails or ctx ends.
func (b *Bus) listenOnce(ctx context.Context, up func()) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.Connect(cctx, b.connStr)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{b.channel}.Sanitize()); err != nil {
		return err
	}
	up()
	for {
		wctx, cancel := context.WithTimeout(ctx, b.idle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			// Quiet for a while: is the server still there? A timed-out
			// wait leaves the connection usable.
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			_, err = conn.Exec(pctx, "SELECT 1")
			cancel()
			if err != nil {
				return fmt.Errorf("pg: the events connection did not answer: %w", err)
			}
			continue
		}
		if err != nil {
			return err
		}
		if e, ok := b.decode(n.Payload); ok {
			b.local.Deliver(e)
		}
	}
}

// decode reads a payload, refusing what this process sent (delivered
// already) and anything malformed.
func (b *Bus) decode(p string) (events.Event, bool) {
	f := strings.Split(p, " ")
	if len(f) != 4 || f[0] == b.origin {
		return events.Event{}, false
	}
	k, err1 := strconv.Atoi(f[1])
	key, err2 := base64.RawStdEncoding.DecodeString(f[2])
	data, err3 := base64.RawStdEncoding.DecodeString(f[3])
	if err := errors.Join(err1, err2, err3); err != nil || k < 0 || k > 255 {
		return events.Event{}, false
	}
	e := events.Event{Kind: events.Kind(k), Key: string(key)}
	if len(data) > 0 {
		e.Data = data
	}
	if e.Check() != nil {
		return events.Event{}, false
	}
	return e, true
}
