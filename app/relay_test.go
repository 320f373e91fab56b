package app

import (
	"bytes"
	"context"
	"testing"
	"time"

	"remote-mcp-authkit/events"
	"remote-mcp-authkit/oauth"
)

// TestRelayLargerThanTheBus: a relayed message past events.MaxDataLen
// travels as a reference to the store and arrives whole at every
// subscriber; a small one is carried by the event itself.
func TestRelayLargerThanTheBus(t *testing.T) {
	st := oauth.NewMemoryStore()
	defer st.Close()
	bus := events.NewLocal()
	got := make(chan []byte, 4)
	var sizes []int
	for range 2 { // two replicas' subscribers
		bus.Subscribe(func(e events.Event) {
			sizes = append(sizes, len(e.Data))
			resolveRelayed(st, quietLogger(), e, func(key string, data []byte) {
				if key != "session-1" {
					t.Errorf("key %q", key)
				}
				got <- bytes.Clone(data)
			})
		})
	}
	large := bytes.Repeat([]byte("x"), 3*events.MaxDataLen)
	large[0], large[len(large)-1] = '{', '}'
	for _, msg := range [][]byte{[]byte(`{"small":true}`), large} {
		sizes = sizes[:0]
		if err := (busRelay{bus, st}).Send(context.Background(), "session-1", msg); err != nil {
			t.Fatal(err)
		}
		for _, n := range sizes {
			if n > events.MaxDataLen {
				t.Fatalf("an event of %d bytes on the bus", n)
			}
		}
		for range 2 {
			select {
			case b := <-got:
				if !bytes.Equal(b, msg) {
					t.Fatalf("delivered %d bytes, sent %d", len(b), len(msg))
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("a %d-byte message did not arrive", len(msg))
			}
		}
	}
	// Without a store (a bus alone) a large message is refused, as the
	// bus refuses it.
	if err := (busRelay{bus: bus}).Send(context.Background(), "session-1", large); err == nil {
		t.Fatal("a large message with no store was accepted")
	}
}
