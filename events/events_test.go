package events

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestLocalDeliversSynchronouslyToEverySubscriber(t *testing.T) {
	var l Local
	var a, b []Event
	unA := l.Subscribe(func(e Event) { a = append(a, e) })
	l.Subscribe(func(e Event) { b = append(b, e) })
	ev := Event{Kind: GrantRevoked, Key: "g1"}
	if err := l.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	// Synchronous: seen before Publish returned.
	if len(a) != 1 || len(b) != 1 || a[0].Key != "g1" || b[0].Kind != GrantRevoked {
		t.Fatalf("after Publish: a=%v b=%v", a, b)
	}
	unA()
	if err := l.Publish(context.Background(), Event{Kind: TokenDropped, Key: "h"}); err != nil {
		t.Fatal(err)
	}
	if len(a) != 1 || len(b) != 2 {
		t.Fatalf("after unsubscribe: a=%d b=%d events, want 1 and 2", len(a), len(b))
	}
}

func TestPublishRefusesBadEvents(t *testing.T) {
	var l Local
	called := false
	l.Subscribe(func(Event) { called = true })
	for _, c := range []struct {
		name string
		e    Event
		want error
	}{
		{"resync", Event{Kind: Resync}, nil},
		{"unknown kind", Event{Kind: 99}, nil},
		{"zero kind", Event{}, nil},
		{"kind past the last", Event{Kind: TaskMessage + 1}, nil},
		{"long key", Event{Kind: GrantRevoked, Key: strings.Repeat("k", MaxKeyLen+1)}, ErrTooLarge},
		{"long data", Event{Kind: StreamMessage, Data: make([]byte, MaxDataLen+1)}, ErrTooLarge},
	} {
		err := l.Publish(context.Background(), c.e)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: Publish = %v, want an error (%v)", c.name, err, c.want)
		}
	}
	if called {
		t.Error("a refused event reached a subscriber")
	}
}

func TestLocalConcurrentPublishSubscribe(t *testing.T) {
	var l Local
	var mu sync.Mutex
	n := 0
	l.Subscribe(func(Event) { mu.Lock(); n++; mu.Unlock() })
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				un := l.Subscribe(func(Event) {})
				l.Publish(context.Background(), Event{Kind: GrantChanged, Key: "g"})
				un()
			}
		})
	}
	wg.Wait()
	if n != 800 {
		t.Fatalf("the steady subscriber saw %d events, want 800", n)
	}
}
